"""``azure.region``: the cloud and the regions of the cluster and the workspace offer Kubernetes
compute for Azure ML, as the documents of that cloud say (the table and its sources are data, in
region_data.py), and whether the workspace is in the cluster's region, with what a difference
costs.

- Cluster region: the cluster resource's ``location`` (checks/_shared/cluster_resource.py, ARM or
  the offline ``aks_json``). Workspace region: the workspace's ``location`` from ARM
  (workspace.py). ``--set region`` alone (nothing read from Azure) is judged too, but a region
  only the cloud's ``*`` row covers is then not confirmed (a warn): a region name typed by hand
  proves nothing, a cluster resource that exists there does.
- Where the documents disagree (Azure China today: the cloud-parity page says no, docs.azure.cn
  documents the extension) the finding cites both and warns; a region no row covers warns
  naming it; neither passes.
- A workspace in another region than the cluster is allowed (Azure/AML-Kubernetes README:
  "Share the same Kubernetes cluster in multiple AzureML Workspaces across region"), but costs:
  token authentication of online endpoints calls the workspace's region (down there, no tokens)
  and slows with distance (Azure ML v1 AKS page), and the firewall must allow the workspace
  region's hosts while the extension's own data plane uses the cluster's region
  (how-to-access-azureml-behind-firewall: "Replace <region> with the region of your
  workspace"): a warn that says so.
"""

from __future__ import annotations

import asyncio
from typing import Any

from preflight.api import Check, Context, Finding, Status
from preflight.checks._shared.cluster_resource import PARAMETERS, VALIDATORS, read_cluster
from preflight.checks._shared.plan import cluster_type_of
from preflight.checks.azure.cluster_parameters import CLUSTER_PARAMETERS
from preflight.checks.azure.region_data import (
    CONFLICT,
    MISMATCH_SOURCES,
    PARITY,
    SUPPORTED,
    UNSUPPORTED,
    Source,
    lookup,
)
from preflight.checks.azure.subscription import validate_workspace_id
from preflight.checks.azure.workspace import read_workspace

DOCS = PARITY


def _sources(sources: tuple[Source, ...]) -> list[dict[str, str]]:
    return [{"title": s.title, "url": s.url, "date": s.date, "says": s.says} for s in sources]


class AzureRegion(Check):
    id = "azure.region"
    title = "Cloud and region offer Kubernetes compute; workspace and cluster regions"
    category = "azure"
    docs = DOCS
    parameters = {**CLUSTER_PARAMETERS, "workspace_id": PARAMETERS["workspace_id"]}
    validators = {**VALIDATORS, "workspace_id": validate_workspace_id}

    async def run(self, ctx: Context) -> list[Finding]:
        read, workspace = await asyncio.gather(read_cluster(ctx), read_workspace(ctx))
        kind, _ = cluster_type_of(ctx)
        cluster = read.cluster
        cluster_region = cluster.location if cluster is not None else ""
        cluster_name = cluster.name if cluster is not None else ""
        workspace_region = workspace.location
        param_region = (ctx.param("region") or "").strip().lower()
        findings: list[Finding] = []
        if workspace.problem is not None:
            problem = workspace.problem
            findings.append(
                Finding(
                    Status.WARN if problem.status == Status.FAIL else problem.status,
                    "workspace",
                    f"cannot read the workspace's region: {problem.message}",
                    problem.remediation,
                    problem.docs,
                    details=dict(problem.details),
                )
            )
        judged: dict[str, list[str]] = {}
        if cluster_region:
            judged.setdefault(cluster_region, []).append(f"cluster {cluster_name}")
        if workspace_region:
            judged.setdefault(workspace_region, []).append(f"workspace {workspace.name}")
        for region, roles in judged.items():
            findings.append(_support(ctx, region, roles, kind, confirmed=True))
        if not judged and param_region:
            findings.append(_support(ctx, param_region, ["--set region"], kind, confirmed=False))
        if not judged and not param_region:
            findings.append(_nothing_known(read, workspace.skipped))
        if cluster_region and workspace_region:
            findings.append(_match(cluster_name, cluster_region, workspace.name, workspace_region))
        if param_region and judged:
            stale = _param_region(param_region, cluster_region, workspace_region)
            if stale is not None:
                findings.append(stale)
        return findings


def _support(ctx: Context, region: str, roles: list[str], kind: str, *, confirmed: bool) -> Finding:
    cloud = ctx.profile.cloud
    row = lookup(cloud, region, kind)
    who = " and ".join(roles)
    details: dict[str, Any] = {"cloud": cloud, "region": region, "of": roles, "cluster_type": kind}
    if row is None:
        return Finding.warned(
            region,
            f"preflight has no data on whether {cloud} region {region} ({who}) offers Kubernetes "
            "compute for Azure ML",
            f"check the Azure ML cloud-parity page and your cloud's Azure ML documentation for "
            f"{region}, and ask Microsoft (or 21Vianet) support before relying on it",
            DOCS,
            **details,
        )
    details["sources"] = _sources(row.sources)
    details["row"] = {"regions": list(row.regions), "status": row.status}
    first = row.sources[0]
    if row.status == UNSUPPORTED:
        return Finding.failed(
            region,
            f"{cloud} region {region} ({who}) does not offer Kubernetes compute for Azure ML: "
            f'{first.title} ({first.date}) says "{first.says}"',
            "use a cluster and workspace in a region and cloud where the documents list "
            "Kubernetes compute (public Azure), or have Microsoft confirm support for this "
            "region in writing",
            first.url,
            **details,
        )
    if row.status == CONFLICT:
        said = "; ".join(f'{s.title} ({s.date}): "{s.says}"' for s in row.sources)
        return Finding.warned(
            region,
            f"the documents disagree on Kubernetes compute for Azure ML in {cloud} region "
            f"{region} ({who}): {said}",
            "confirm with Microsoft or 21Vianet support that the Azure ML extension and "
            "Kubernetes compute are offered in this region before installing",
            first.url,
            **details,
        )
    assert row.status == SUPPORTED
    if "*" in row.regions and not confirmed:
        return Finding.warned(
            region,
            f"{region} (from --set region) is not confirmed: {cloud} offers Kubernetes compute "
            "for Azure ML wherever AKS or Arc-enabled Kubernetes runs, but no cluster resource "
            "or workspace was read to show that this region is one",
            "name the cluster (--set subscription_id/resource_group/cluster_name, or --set "
            "aks_json=FILE) or the workspace (--set workspace_id) so their locations are read",
            first.url,
            **details,
        )
    return Finding.passed(
        region,
        f"{cloud} region {region} ({who}) offers Kubernetes compute for Azure ML "
        f"({first.title}, {first.date})",
        **details,
    )


def _nothing_known(read: Any, workspace_skipped: str) -> Finding:
    problem = read.problem
    if problem is not None and (
        problem.status != Status.SKIP or problem.details.get("missing") == "arm"
    ):
        # the cluster is named but could not be read: say why, as the other Azure checks do
        finding: Finding = read.failure("region", "the cluster's region")
        return finding
    reasons = []
    if read.problem is not None:
        reasons.append(f"cluster: {read.problem.message}")
    if workspace_skipped:
        reasons.append(f"workspace: {workspace_skipped}")
    return Finding.skipped(
        "region",
        "skipped: no region known (" + "; ".join(reasons) + ")",
        "name the cluster (--set subscription_id/resource_group/cluster_name, or --set "
        "aks_json=FILE), the workspace (--set workspace_id) or at least --set region",
        reasons=reasons,
    )


def _match(cluster: str, cluster_region: str, workspace: str, workspace_region: str) -> Finding:
    details: dict[str, Any] = {
        "cluster_region": cluster_region,
        "workspace_region": workspace_region,
        "sources": _sources(MISMATCH_SOURCES),
    }
    if cluster_region == workspace_region:
        return Finding.passed(
            "workspace/cluster",
            f"workspace {workspace} and cluster {cluster} are both in {cluster_region}",
            **details,
        )
    v1, readme, firewall = MISMATCH_SOURCES
    return Finding.warned(
        "workspace/cluster",
        f"workspace {workspace} is in {workspace_region}, cluster {cluster} in {cluster_region}: "
        "allowed, but online endpoints fetch their tokens from the workspace's region (if it is "
        "down, token authentication stops; farther is slower), and the firewall must allow the "
        f"workspace region's hosts ({workspace_region}.api.azureml.ms, "
        f"{workspace_region}.experiments.azureml.net) besides the cluster region's",
        f"prefer a workspace in {cluster_region} (or a cluster in {workspace_region}); otherwise "
        f"allow both regions' hosts and run the egress checks with --set region={workspace_region}"
        f" (the workspace hosts) and again with --set region={cluster_region}",
        v1.url,
        **details,
    )


def _param_region(param: str, cluster_region: str, workspace_region: str) -> Finding | None:
    """``--set region`` fills the profile's regional host names: say when it is not the region
    those hosts belong to."""
    expected = workspace_region or cluster_region
    if param == expected or param in (cluster_region, workspace_region):
        return None
    whose = "workspace" if workspace_region else "cluster"
    return Finding.warned(
        "--set region",
        f"--set region={param}, but the {whose} is in {expected}: the profile's regional hosts "
        f"were checked for {param}",
        f"run again with --set region={expected}",
        MISMATCH_SOURCES[2].url,
        region=param,
        cluster_region=cluster_region or None,
        workspace_region=workspace_region or None,
    )


CHECKS = [AzureRegion()]
