"""``azure.authorized-ip-ranges``: when the AKS API server limits its callers to authorized IP
ranges, those ranges admit the Azure ML control plane of the cluster's region and of its paired
region. The extension's limitations
(https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension#limitations):
"Without access to the API server, the machine learning pods can't be deployed. Use the IP ranges
for both the paired regions".

The control plane's addresses are the ``AzureMachineLearning.<Region>`` service tags of the
"Azure IP Ranges and Service Tags" file of the profile's cloud, which the user downloads and
passes with ``--set service_tags=FILE`` (validated at start-up: a malformed file is exit 2).
Without the file the finding is a warning that names the exact download and what to compare.
The pair table and the CIDR arithmetic live in service_tags.py.
"""

from __future__ import annotations

from typing import Any

from preflight.api import Check, Context, Finding
from preflight.checks._shared.cluster_resource import (
    DOCS_AUTHORIZED_RANGES,
    PARAMETERS,
    VALIDATORS,
    ClusterInfo,
    read_cluster,
)
from preflight.checks.azure import service_tags as ranges
from preflight.checks.azure.cluster_parameters import CLUSTER_PARAMETERS

# -- azure.authorized-ip-ranges --------------------------------------------------------------

RANGES_TARGET = "apiServerAccessProfile.authorizedIPRanges"


class AzureAuthorizedIpRanges(Check):
    id = "azure.authorized-ip-ranges"
    title = "API server authorized IP ranges admit the Azure ML control plane"
    category = "azure"
    docs = DOCS_AUTHORIZED_RANGES
    parameters = {
        **CLUSTER_PARAMETERS,
        "service_tags": PARAMETERS["service_tags"],
        "region": "Azure region of the cluster (read from the cluster resource when it has one)",
    }
    validators = {**VALIDATORS, "service_tags": ranges.validate_service_tags}

    async def run(self, ctx: Context) -> list[Finding]:
        read = await read_cluster(ctx)
        if read.cluster is None:
            return [read.failure(RANGES_TARGET, "the authorized IP ranges")]
        info = read.cluster
        if info.kind == "arc":
            return [
                Finding.skipped(
                    RANGES_TARGET,
                    "not applicable: authorized IP ranges are an AKS setting; an Arc-enabled "
                    "cluster's agents connect out to Azure",
                    "nothing to do for cluster_type=arc",
                    **info.details(),
                )
            ]
        return authorized_ranges(ctx, info)


def authorized_ranges(ctx: Context, info: ClusterInfo) -> list[Finding]:
    access = info.props.get("apiServerAccessProfile") or {}
    entries = [str(e).strip() for e in access.get("authorizedIPRanges") or []]
    details: dict[str, Any] = {**info.details(), "authorized_ip_ranges": entries}
    if access.get("enablePrivateCluster"):
        return [
            Finding.passed(
                RANGES_TARGET,
                f"{info.name} is a private cluster: its API server has no public endpoint, so "
                "there are no authorized IP ranges to keep the Azure ML control plane out",
                **details,
                private_cluster=True,
                private_fqdn=info.props.get("privateFQDN"),
            )
        ]
    if not entries:
        return [
            Finding.passed(
                RANGES_TARGET,
                f"{info.name} sets no authorized IP ranges: its API server accepts the Azure ML "
                "control plane from any address",
                **details,
            )
        ]
    parsed: list[ranges.IPNetwork] = []
    invalid: list[str] = []
    for entry in entries:
        try:
            parsed.append(ranges.parse_range(entry))
        except ValueError:
            invalid.append(entry)
    cloud = ctx.profile.cloud
    region_name = info.location or ranges.normalize_region(ctx.param("region"))
    region = ranges.find_region(cloud, region_name)
    pair = ranges.pair_of(cloud, region_name)
    details.update(region=region_name or None, paired_region=pair.name if pair else None)
    findings: list[Finding] = []
    if invalid:
        findings.append(
            Finding.warned(
                RANGES_TARGET,
                f"{len(invalid)} authorized IP range(s) of {info.name} are not IP ranges: "
                f"{', '.join(invalid)}",
                "fix them with az aks update --api-server-authorized-ip-ranges",
                DOCS_AUTHORIZED_RANGES,
                **details,
                invalid=invalid,
            )
        )
    if not region_name:
        findings.append(
            Finding.warned(
                RANGES_TARGET,
                f"authorized IP ranges are set on {info.name}, but its region is unknown, so "
                "preflight cannot tell which AzureMachineLearning ranges they must admit",
                "add --set region=<region of the cluster>",
                DOCS_AUTHORIZED_RANGES,
                **details,
            )
        )
        return findings
    path = ctx.param("service_tags")
    if not path:
        findings.append(_no_service_tags(ctx, info, region_name, region, pair, details))
        return findings
    try:
        tags = ranges.load_service_tags(path)
    except (OSError, ValueError) as exc:  # validated at start-up: changed since?
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        findings.append(
            Finding.errored(
                "service_tags",
                f"cannot read --set service_tags={path}: {reason}",
                f"download {ranges.download_text(cloud)} again and pass it with --set service_tags",
                **details,
            )
        )
        return findings
    details.update(service_tags=path, service_tags_change_number=tags.change_number)
    if not ranges.file_cloud_matches(cloud, tags.cloud):
        findings.append(
            Finding.errored(
                "service_tags",
                f"--set service_tags={path} is the Service Tags file of cloud {tags.cloud}, but "
                f"this run is for {cloud} (profile {ctx.profile.name}): its prefixes would say "
                "nothing about this cluster",
                f"download {ranges.download_text(cloud)} and pass it with --set service_tags",
                **details,
                file_cloud=tags.cloud,
            )
        )
        return findings
    v6_in_use = any(n.version == 6 for n in parsed)
    # (region, name, role, why the region is not certainly the one to admit)
    wanted: list[tuple[ranges.Region | None, str, str, str]] = [
        (region, region_name, "the cluster's region", "")
    ]
    if pair is not None:
        doubt = region.uncertain if region is not None else ""
        wanted.append((pair, pair.name, f"the paired region of {region_name}", doubt))
    for wanted_region, name, role, doubt in wanted:
        findings.append(
            _coverage_finding(
                ctx, info, tags, wanted_region, name, role, doubt, parsed, v6_in_use, details
            )
        )
    if pair is None:
        findings.append(_no_pair(cloud, region_name, region, details))
    return findings


def _tag_name(region: ranges.Region | None, name: str) -> str:
    return region.tag if region is not None else f"{ranges.SERVICE}.<{name}>"


def _no_service_tags(
    ctx: Context,
    info: ClusterInfo,
    region_name: str,
    region: ranges.Region | None,
    pair: ranges.Region | None,
    details: dict[str, Any],
) -> Finding:
    cloud = ctx.profile.cloud
    names = [_tag_name(region, region_name)]
    if pair is not None:
        names.append(pair.tag)
    regions = f"{region_name} and its pair {pair.name}" if pair else region_name
    link = ranges.download_link(cloud)
    return Finding.warned(
        RANGES_TARGET,
        f"{info.name} limits its API server to {len(details['authorized_ip_ranges'])} authorized "
        f"IP range(s); the Azure ML control plane of {regions} must be among them, or the "
        "machine learning pods can't be deployed. Without the Service Tags file preflight "
        "cannot compare",
        f"download {ranges.download_text(cloud)} and re-run with --set service_tags=FILE; or "
        f"compare by hand: every IPv4 prefix of {' and '.join(names)} must fall inside the "
        "ranges (add the missing ones with az aks update --api-server-authorized-ip-ranges)",
        link,
        **details,
        service_tags_download=link,
        tags=names,
    )


def _no_pair(
    cloud: str, region_name: str, region: ranges.Region | None, details: dict[str, Any]
) -> Finding:
    if region is not None and region.pair is None:
        return Finding.passed(
            "paired region",
            f"{region_name} has no paired region ({region.source}): only its own Azure ML "
            "ranges apply",
            **details,
        )
    return Finding.warned(
        "paired region",
        f"preflight does not know the paired region of {region_name} in {cloud}: the Azure ML "
        "control plane is deployed across paired regions, so the pair's AzureMachineLearning "
        "ranges must be admitted too",
        f"look the pair up ({ranges.DOCS_PAIRS}, or `az account list-locations --query "
        f"\"[?name=='{region_name}'].metadata.pairedRegion\"`) and check its "
        "AzureMachineLearning.<Region> prefixes against the authorized ranges",
        ranges.DOCS_PAIRS,
        **details,
    )


def _coverage_finding(
    ctx: Context,
    info: ClusterInfo,
    tags: ranges.ServiceTags,
    region: ranges.Region | None,
    name: str,
    role: str,
    uncertain: str,
    parsed: list[ranges.IPNetwork],
    v6_in_use: bool,
    base: dict[str, Any],
) -> Finding:
    target = _tag_name(region, name)
    details: dict[str, Any] = {**base, "tag_region": name, "role": role}
    if region is not None:
        details["pair_source"] = region.source
    tag = tags.regional(region if region is not None else name)
    fallback = tag is None
    if tag is None:
        tag = tags.global_tag()
    if tag is None:
        return Finding.warned(
            target,
            f"the Service Tags file has no {target} tag (nor the global {ranges.SERVICE} tag), "
            f"so the ranges for {role} ({name}) cannot be checked",
            f"download the current {ranges.download_text(ctx.profile.cloud)}",
            ranges.download_link(ctx.profile.cloud),
            **details,
        )
    # AKS matches a caller's address against the ranges of its own IP version; IPv6 prefixes
    # only matter when the ranges admit IPv6 at all (the API server is reached over IPv4 else).
    required = tag.version(4) + (tag.version(6) if v6_in_use else [])
    result = ranges.coverage(required, parsed)
    details.update(
        tag=tag.name,
        prefixes=len(required),
        ipv6_prefixes_considered=v6_in_use,
        missing_prefixes=result.missing,
        partially_covered=result.partial,
    )
    if fallback:
        details["regional_tag_missing"] = True
    if uncertain:
        details["pair_uncertain"] = uncertain
    if result.complete:
        text = (
            f"the authorized IP ranges admit all {len(required)} prefix(es) of {tag.name} "
            f"({name}, {role})"
        )
        if fallback:
            text += f"; the file has no regional {target} tag, so the global tag was used"
        return Finding.passed(target, text, **details)
    missing = result.missing
    cmd_ranges = ",".join(ranges.minimal([*[str(n) for n in parsed], *missing]))
    remedy = (
        f"add the missing prefixes of {tag.name} to the API server's authorized ranges: "
        f"az aks update -g {info.resource_group} -n {info.name} "
        f"--api-server-authorized-ip-ranges {cmd_ranges}"
    )
    message = (
        f"the authorized IP ranges of {info.name} leave out {len(missing)} of "
        f"{len(required)} prefix(es) of {tag.name} ({name}, {role}), e.g. "
        f"{ranges.summarize_prefixes(missing)}: without access to the API server the Azure "
        "ML control plane cannot deploy the machine learning pods"
    )
    if fallback:
        return Finding.warned(
            target,
            f"the Service Tags file has no regional {target} tag; compared with the global "
            f"{tag.name} tag instead, {len(missing)} of its {len(required)} prefix(es) are "
            "outside the authorized ranges (some may belong to other regions)",
            f"check {target}'s prefixes in a current file; {remedy}",
            DOCS_AUTHORIZED_RANGES,
            **details,
        )
    if uncertain:
        return Finding.warned(
            target,
            f"{message} (the pair is uncertain: {uncertain})",
            remedy,
            DOCS_AUTHORIZED_RANGES,
            **details,
        )
    return Finding.failed(target, message, remedy, DOCS_AUTHORIZED_RANGES, **details)


CHECKS = [AzureAuthorizedIpRanges()]
