"""``azure.outbound``: how the cluster reaches the internet, and whether this run's path is its.

A local run proves the path from where it runs (README.md, "What proves a path"). The
cluster resource says how the nodes egress: ``networkProfile.outboundType`` (a load balancer or
NAT gateway, or ``userDefinedRouting`` through a firewall, or ``none``), an HTTP proxy
(``httpProxyConfig``), a private API server. When that path is not this run's, the egress
findings do not speak for the cluster, and this check says what to run instead.

With a proxy it also checks ``noProxy``: the entries in-cluster traffic needs (the AKS HTTP proxy
page, https://learn.microsoft.com/azure/aks/http-proxy): ``localhost``, ``127.0.0.1``, ``.svc``,
``.cluster.local``, the service CIDR, the API server FQDN and ``169.254.169.254`` (IMDS). AKS
adds some itself (the read-only ``effectiveNoProxy``: the API server, loopback, IMDS, the
cluster's CIDRs; not ``.svc`` or ``.cluster.local``), so both lists count. CIDR entries are
honoured by Go programs only for literal IP destinations and ignored by Python and curl (same
page: "Curl and Python don't support CIDR in no_proxy"); the extension's training identity
sidecar is a Python (Flask) server on 127.0.0.1:12342 (Azure/AML-Kubernetes
docs/troubleshooting.md), so in-cluster names must be listed as names, not only as CIDRs.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

from preflight.api import Check, Context, Finding, redact_url
from preflight.checks._shared.cluster_resource import VALIDATORS, ClusterInfo, read_cluster
from preflight.checks.azure.cluster_parameters import CLUSTER_PARAMETERS

DOCS_PROXY = "https://learn.microsoft.com/azure/aks/http-proxy"
DOCS_OUTBOUND = "https://learn.microsoft.com/azure/aks/egress-outboundtype"
DOCS_PRIVATE = "https://learn.microsoft.com/azure/aks/private-clusters"
#: outbound types through which the nodes reach the internet by Azure's own SNAT
_AZURE_SNAT = {"loadbalancer", "managednatgateway", "userassignednatgateway", "managednatgatewayv2"}
IMDS = "169.254.169.254"


class AzureOutbound(Check):
    id = "azure.outbound"
    title = "The cluster's egress path, and whether this run measured it"
    category = "azure"
    docs = DOCS_OUTBOUND
    parameters = CLUSTER_PARAMETERS
    validators = VALIDATORS

    async def run(self, ctx: Context) -> list[Finding]:
        read = await read_cluster(ctx)
        if read.cluster is None:
            return [read.failure("outbound", "the cluster's egress path")]
        info = read.cluster
        if info.kind == "arc":
            return [
                Finding.skipped(
                    info.name,
                    "an Arc-enabled cluster's egress (its proxy, --proxy-skip-range and "
                    "--proxy-cert) lives in the cluster, not in Azure Resource Manager",
                    "run with --in-cluster so the probes leave from the nodes, through whatever "
                    "proxy the cluster uses",
                    **info.details(),
                )
            ]
        findings = [_path(ctx, info)]
        proxy = _proxy_config(info)
        if proxy is not None:
            findings.append(_no_proxy(info, proxy))
        return findings


def _proxy_config(info: ClusterInfo) -> dict[str, Any] | None:
    config = info.get("httpProxyConfig")
    if not isinstance(config, dict):
        return None
    if str(config.get("enabled", True)).lower() == "false":
        return None
    if not (config.get("httpsProxy") or config.get("httpProxy")):
        return None
    return config


def _endpoint(url: str | None) -> str:
    """``http://user:pw@proxy.corp:3128/`` -> ``proxy.corp:3128`` (what identifies a proxy)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
        return f"{(parts.hostname or '').lower()}:{parts.port or 80}"
    except ValueError:
        return url


def _path(ctx: Context, info: ClusterInfo) -> Finding:
    network = info.get("networkProfile")
    network = network if isinstance(network, dict) else {}
    outbound = str(network.get("outboundType") or "loadBalancer")
    access = info.get("apiServerAccessProfile")
    access = access if isinstance(access, dict) else {}
    private = access.get("enablePrivateCluster") is True
    proxy = _proxy_config(info)
    cluster_proxy = str((proxy or {}).get("httpsProxy") or (proxy or {}).get("httpProxy") or "")
    local = ctx.proxies.https or ctx.proxies.http
    local_shown = local.display if local is not None else "direct (no proxy)"
    details: dict[str, Any] = {
        **info.details(),
        "outbound_type": outbound,
        "private_cluster": private,
        "cluster_proxy": redact_url(cluster_proxy) if cluster_proxy else None,
        "local_path": local_shown,
        "in_cluster_probes": ctx.in_cluster,
    }
    differences: list[str] = []
    if proxy is not None and (
        local is None or _endpoint(local.display) != _endpoint(cluster_proxy)
    ):
        differences.append(
            f"the nodes and pods go through the proxy {redact_url(cluster_proxy)} "
            f"(httpProxyConfig) while this run went {local_shown}"
        )
    lowered = outbound.lower()
    if lowered == "userdefinedrouting":
        differences.append(
            "outboundType is userDefinedRouting: the nodes egress through the next hop of "
            "their subnet's route table (usually Azure Firewall or an appliance), whose rules "
            "are not this machine's"
        )
    elif lowered in ("none", "block"):
        differences.append(
            f"outboundType is {outbound}: the nodes have no outbound internet path; every "
            "host must be reached through private endpoints or a proxy"
        )
    if private:
        fqdn = info.get("privateFQDN") or info.get("fqdn")
        differences.append(
            f"the API server is private ({fqdn}): it resolves and answers only inside the "
            "virtual network (or through its private DNS zone)"
        )
    if lowered not in _AZURE_SNAT and lowered not in ("userdefinedrouting", "none", "block"):
        details["note"] = f"outboundType {outbound!r} is not one preflight knows"
    if not differences:
        return Finding.passed(
            info.name,
            f"the nodes egress by {outbound} without a proxy, as this run did ({local_shown}): "
            "the local egress findings speak for the cluster too, firewall rules aside",
            **details,
        )
    details["differences"] = differences
    if ctx.in_cluster:
        return Finding.passed(
            info.name,
            "the cluster's path differs from this machine's ("
            + "; ".join(differences)
            + "), and this run also probed from the nodes (connectivity.in-cluster)",
            **details,
        )
    instead = "run again with --in-cluster: its probe pods leave from the nodes"
    if proxy is not None:
        instead += " and use the proxy AKS injects into pods"
        instead += (
            f", or pass --proxy {redact_url(cluster_proxy)} from a machine in the same network"
        )
    return Finding.warned(
        info.name,
        "this run's path is not the cluster's: " + "; ".join(differences),
        instead,
        DOCS_PROXY if proxy is not None else DOCS_OUTBOUND,
        **details,
    )


# -- noProxy coverage ------------------------------------------------------------------------------


def _entries(values: Any) -> list[str]:
    if isinstance(values, str):
        values = values.split(",")
    if not isinstance(values, list):
        return []
    return [str(v).strip() for v in values if str(v).strip()]


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def covers(entries: list[str], needed: str) -> bool:
    """Whether a NO_PROXY list keeps ``needed`` (a name, a suffix like ``.svc``, an address or a
    CIDR) away from the proxy, as Go's httpproxy reads it: ``svc`` or ``.svc`` covers every
    name under it; an address or CIDR is covered by a CIDR containing it."""
    wanted_net = _network(needed)
    for raw in entries:
        entry = raw.lower().strip()
        if entry == "*":
            return True
        if wanted_net is not None:
            net = _network(entry)
            if (
                net is not None and net.version == wanted_net.version and wanted_net.subnet_of(net)  # type: ignore[arg-type]
            ):
                return True
            continue
        name = needed.lower().lstrip(".")
        suffix = entry.lstrip("*").lstrip(".")
        if not suffix:
            continue
        if name == suffix or name.endswith("." + suffix):
            return True
    return False


def _no_proxy(info: ClusterInfo, proxy: dict[str, Any]) -> Finding:
    network = info.get("networkProfile")
    network = network if isinstance(network, dict) else {}
    service_cidrs = _entries(network.get("serviceCidrs")) or _entries(network.get("serviceCidr"))
    if not service_cidrs:
        service_cidrs = ["10.0.0.0/16"]  # AKS's documented default
    fqdns = [str(f) for f in (info.get("fqdn"), info.get("privateFQDN")) if f]
    needed = ["localhost", "127.0.0.1", ".svc", ".cluster.local", *service_cidrs, *fqdns, IMDS]
    configured = _entries(proxy.get("noProxy"))
    effective = _entries(proxy.get("effectiveNoProxy"))
    considered = configured + [e for e in effective if e not in configured]
    missing = [n for n in needed if not covers(considered, n)]
    details: dict[str, Any] = {
        **info.details(),
        "no_proxy": configured,
        "effective_no_proxy": effective,
        "needed": needed,
        "missing": missing,
    }
    cidr_only = [n for n in (".svc", ".cluster.local") if n in missing]
    if not missing:
        return Finding.passed(
            "httpProxyConfig.noProxy",
            f"noProxy keeps in-cluster traffic off the proxy ({', '.join(needed)} covered)",
            **details,
        )
    fixed = {
        "httpProxy": proxy.get("httpProxy") or "",
        "httpsProxy": proxy.get("httpsProxy") or "",
        "noProxy": configured + missing,
    }
    if proxy.get("trustedCa"):
        fixed["trustedCa"] = "<keep the current trustedCa>"
    shown = {
        k: (redact_url(v) if k.endswith("Proxy") and isinstance(v, str) else v)
        for k, v in fixed.items()
    }
    note = ""
    if cidr_only:
        note = (
            f"; {' and '.join(cidr_only)} must be listed as names: the service CIDR alone is "
            "ignored by Python programs and curl, and Go honours it only for IP destinations"
        )
    return Finding.warned(
        "httpProxyConfig.noProxy",
        f"noProxy of {info.name} lacks {', '.join(missing)}: in-cluster calls to those would go "
        f"to the proxy and fail or leak{note}",
        "write this to proxy.json and run "
        f"`az aks update -g {info.resource_group} -n {info.name} --http-proxy-config proxy.json` "
        f"(AKS reimages the node pools): {json.dumps(shown, separators=(',', ':'))}",
        DOCS_PROXY,
        **details,
    )


CHECKS = [AzureOutbound()]
