"""``azure.cluster``: the cluster resource in Azure Resource Manager exists and is usable, which no
Kubernetes API call can tell: its provisioning and power state (AKS) or its Arc connectivity, its
Kubernetes version against the API server's (or, without cluster access, against the profile's
window), whether the kubeconfig's API server is this cluster's, and its node pools (VM sizes,
counts, GPU sizes) cross-checked with the Kubernetes nodes when the cluster is reachable too.
The extension's limitations it stands for:
https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension#limitations

The cluster resource is read once per run (checks/_shared/cluster_resource.py), from ARM in the
profile's cloud or, with ``--set aks_json=FILE``, from the output of ``az aks show -o json``.
The other checks of the resource (identity, local accounts, subscription, authorized IP ranges,
outbound) have a module each beside this one.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from preflight.api import (
    Check,
    Context,
    Finding,
    KubeError,
    run_in_daemon_thread,
    split_host_port,
)
from preflight.checks._shared.cluster_resource import (
    DOCS_ARC_CONNECT,
    DOCS_LIMITATIONS,
    VALIDATORS,
    ClusterInfo,
    read_cluster,
)
from preflight.checks._shared.kube_reads import is_ready
from preflight.checks._shared.kube_version import DOCS_VERSIONS, parse_version
from preflight.checks._shared.nodes import NODES_PATH
from preflight.checks.azure.cluster_parameters import CLUSTER_PARAMETERS

POOL_LABELS = ("kubernetes.azure.com/agentpool", "agentpool")
INSTANCE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
#: Azure N-series VM sizes carry NVIDIA (NC, ND, NG, NV) or AMD (NG, NVv4) GPUs
GPU_SIZE = re.compile(r"^standard_n[cdgv]", re.IGNORECASE)
DOCS_AKS_START = "https://learn.microsoft.com/azure/aks/start-stop-cluster"
DOCS_ARC_TROUBLESHOOT = (
    "https://learn.microsoft.com/azure/azure-arc/kubernetes/diagnose-connection-issues"
)


def _target(ctx: Context) -> str:
    return ctx.param("cluster_name") or "cluster"


def is_gpu_size(vm_size: str | None) -> bool:
    """``Standard_NC24ads_A100_v4`` -> True, ``Standard_D4s_v3`` -> False."""
    return bool(vm_size and GPU_SIZE.match(vm_size.strip()))


# -- the Kubernetes side of the cross-checks -------------------------------------------------


@dataclass
class KubeView:
    """What the Kubernetes API says, when the run has a reachable cluster (else why not)."""

    available: bool
    reason: str = ""
    context: str = ""
    version: str = ""
    nodes: list[dict[str, Any]] | None = None
    nodes_error: str = ""


async def kube_view(ctx: Context) -> KubeView:
    """The cluster's version and nodes, when a kubeconfig is given and the cluster answers.
    Shared by the checks of one run (the Kubernetes client caches its calls)."""
    missing = await run_in_daemon_thread(ctx.missing_need, "kube")
    if missing is not None:
        return KubeView(False, missing[0])
    reach = await run_in_daemon_thread(ctx.kube.reachability)
    view = KubeView(True, context=reach.context, version=reach.version.get("gitVersion") or "")
    try:
        view.nodes = await run_in_daemon_thread(ctx.kube.list, NODES_PATH)
    except KubeError as exc:
        view.nodes_error = exc.message
    return view


@dataclass
class PoolNodes:
    """Kubernetes nodes of one agent pool (by label)."""

    total: int = 0
    ready: int = 0
    instance_types: Counter[str] = field(default_factory=Counter)


def nodes_by_pool(nodes: list[dict[str, Any]]) -> dict[str, PoolNodes]:
    """Nodes grouped by their AKS agent-pool label (nodes without one are left out)."""
    pools: dict[str, PoolNodes] = defaultdict(PoolNodes)
    for node in nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        pool = next((labels[k] for k in POOL_LABELS if labels.get(k)), None)
        if pool is None:
            continue
        entry = pools[pool]
        entry.total += 1
        entry.ready += is_ready(node)
        instance = next((labels[k] for k in INSTANCE_LABELS if labels.get(k)), None)
        if instance:
            entry.instance_types[instance] += 1
    return dict(pools)


# -- azure.cluster ---------------------------------------------------------------------------


class AzureCluster(Check):
    id = "azure.cluster"
    title = "Cluster resource in Azure: state, version, node pools, Arc connectivity"
    category = "azure"
    docs = DOCS_LIMITATIONS
    parameters = CLUSTER_PARAMETERS
    validators = VALIDATORS

    async def run(self, ctx: Context) -> list[Finding]:
        # the Kubernetes side is looked at while ARM answers (both are cached for the run)
        read, view = await asyncio.gather(read_cluster(ctx), kube_view(ctx))
        findings = list(read.notes)
        if read.cluster is None:
            problem = read.problem
            assert problem is not None
            findings.append(
                Finding(
                    problem.status,
                    _target(ctx),
                    problem.message,
                    problem.remediation,
                    problem.docs,
                    details=problem.details,
                )
            )
            return findings
        info = read.cluster
        if info.kind == "aks":
            findings.append(_aks_state(info))
            findings.append(_version(ctx, info, view))
            findings.extend(_api_server(ctx, info))
            findings.extend(_pools(info, view))
        else:
            findings.extend(_arc_state(info))
            findings.append(_version(ctx, info, view))
        return findings


def _aks_state(info: ClusterInfo) -> Finding:
    props = info.props
    state = str(props.get("provisioningState") or "")
    power = str((props.get("powerState") or {}).get("code") or "")
    version = props.get("currentKubernetesVersion") or props.get("kubernetesVersion") or "?"
    pools = props.get("agentPoolProfiles") or []
    details = {
        **info.details(),
        "location": info.location,
        "provisioning_state": state or None,
        "power_state": power or None,
        "kubernetes_version": version,
        "fqdn": props.get("fqdn"),
        "private_fqdn": props.get("privateFQDN"),
        "node_resource_group": props.get("nodeResourceGroup"),
        "resource_id": info.resource_id,
    }
    where = f"AKS cluster {info.name} ({info.location or 'unknown region'})"
    group, name = info.resource_group, info.name
    if power.lower() == "stopped":
        return Finding.failed(
            info.name,
            f"{where} is stopped: nothing can be installed on it",
            f"start it: az aks start -g {group} -n {name}",
            DOCS_AKS_START,
            **details,
        )
    if state.lower() == "failed":
        return Finding.failed(
            info.name,
            f"{where} is in provisioning state Failed: extension installs on it fail too",
            f"reconcile it with `az aks update -g {group} -n {name}` and read the activity log "
            "for the operation that failed",
            DOCS_LIMITATIONS,
            **details,
        )
    if state and state.lower() != "succeeded":
        return Finding.warned(
            info.name,
            f"{where} is {state}: an extension install waits for, or fails during, this operation",
            f"wait until `az aks show -g {group} -n {name} --query provisioningState` says "
            "Succeeded",
            DOCS_LIMITATIONS,
            **details,
        )
    return Finding.passed(
        info.name,
        f"{where}: provisioning {state or 'state not given'}, power {power or 'not given'}, "
        f"Kubernetes {version}, {len(pools)} node pool(s)",
        **details,
    )


def _arc_state(info: ClusterInfo) -> list[Finding]:
    props = info.props
    status = str(props.get("connectivityStatus") or "")
    state = str(props.get("provisioningState") or "")
    agent = props.get("agentVersion") or "unknown"
    distribution = props.get("distribution") or "unknown distribution"
    details = {
        **info.details(),
        "location": info.location,
        "connectivity_status": status or None,
        "provisioning_state": state or None,
        "agent_version": props.get("agentVersion"),
        "distribution": props.get("distribution"),
        "distribution_version": props.get("distributionVersion"),
        "infrastructure": props.get("infrastructure"),
        "kubernetes_version": props.get("kubernetesVersion"),
        "total_node_count": props.get("totalNodeCount"),
        "last_connectivity_time": props.get("lastConnectivityTime"),
        "resource_id": info.resource_id,
    }
    where = f"Arc-enabled cluster {info.name} ({distribution}, agents {agent})"
    findings: list[Finding] = []
    lowered = status.lower()
    if lowered == "connected":
        findings.append(
            Finding.passed(
                info.name,
                f"{where} is Connected to Azure ({props.get('totalNodeCount', '?')} node(s) "
                "reported)",
                **details,
            )
        )
    elif lowered in ("offline", "expired"):
        why = (
            "its agents have not reached Azure since "
            f"{props.get('lastConnectivityTime') or 'an unknown time'}"
            if lowered == "offline"
            else "its managed-identity certificate expired (agents offline too long)"
        )
        remedy = (
            "check the azure-arc agents (`kubectl get pods -n azure-arc`) and their outbound "
            "access to the Arc hosts (dns.resolve / egress.https with --set cluster_type=arc)"
            if lowered == "offline"
            else f"reconnect the cluster: `az connectedk8s delete -g {info.resource_group} -n "
            f"{info.name}` then `az connectedk8s connect -g {info.resource_group} -n {info.name}`"
        )
        findings.append(
            Finding.failed(
                info.name,
                f"{where} is {status}: {why}; Azure cannot install or run the Azure ML extension "
                "on it",
                remedy,
                DOCS_ARC_TROUBLESHOOT,
                **details,
            )
        )
    else:
        findings.append(
            Finding.warned(
                info.name,
                f"{where} has connectivity status {status or '(none)'}, not Connected",
                "wait for Connected (`az connectedk8s show -g "
                f"{info.resource_group} -n {info.name} --query connectivityStatus`); if it "
                "stays, check the azure-arc agents",
                DOCS_ARC_TROUBLESHOOT,
                **details,
            )
        )
    if state and state.lower() != "succeeded":
        findings.append(
            Finding.warned(
                f"{info.name}/provisioningState",
                f"{where} is in provisioning state {state}",
                "wait until it is Succeeded, or reconnect the cluster if it is Failed",
                DOCS_ARC_CONNECT,
                **details,
            )
        )
    return findings


def _version(ctx: Context, info: ClusterInfo, view: KubeView) -> Finding:
    props = info.props
    text = str(props.get("currentKubernetesVersion") or props.get("kubernetesVersion") or "")
    target = "kubernetesVersion"
    details: dict[str, Any] = {**info.details(), "arm_version": text or None}
    arm = parse_version({"gitVersion": text})
    if arm is None:
        return Finding.warned(
            target,
            f"Azure gives no readable Kubernetes version for {info.name} ({text!r})",
            "check `az aks show --query currentKubernetesVersion` (AKS) or "
            "`az connectedk8s show --query kubernetesVersion` (Arc)",
            DOCS_VERSIONS,
            **details,
        )
    if view.available and view.version:
        api = parse_version({"gitVersion": view.version})
        details.update(api_server_version=view.version, context=view.context)
        if api is not None and api[:2] == arm[:2]:
            return Finding.passed(
                target,
                f"Azure and the API server agree: Kubernetes {text} ({view.version})",
                **details,
            )
        return Finding.warned(
            target,
            f"Azure says {info.name} runs Kubernetes {text}, but the API server of context "
            f"{view.context or '(current)'} says {view.version}: is the kubeconfig for another "
            "cluster, or an upgrade under way?",
            "check the kubeconfig's context (`kubectl config current-context`); for AKS get "
            f"credentials with `az aks get-credentials -g {info.resource_group} -n {info.name}`",
            DOCS_VERSIONS,
            **details,
        )
    # no cluster access: judge the version from Azure, so an offline run still gates on it
    window = ctx.profile.kubernetes
    low, high = window.get("min_minor"), window.get("max_minor")
    span = f"1.{low}–1.{high}" if low and high else "the profile's window"
    details.update(min_minor=low, max_minor=high, compared_with_api_server=False)
    major, minor, _ = arm
    if major != 1 or (low is not None and minor < low):
        return Finding.failed(
            target,
            f"Azure says {info.name} runs Kubernetes {text}, older than the supported window "
            f"{span} (N-2, following the AKS support policy)",
            f"upgrade the cluster to 1.{low} or newer before installing the extension"
            + (
                f" (az aks upgrade -g {info.resource_group} -n {info.name} --kubernetes-version "
                "...)"
                if info.kind == "aks"
                else ""
            ),
            DOCS_VERSIONS,
            **details,
        )
    if high is not None and minor > high:
        return Finding.warned(
            target,
            f"Azure says {info.name} runs Kubernetes {text}, newer than {ctx.profile.name} "
            f"knows ({span})",
            "check the Azure ML extension's release notes for support of this version",
            DOCS_VERSIONS,
            **details,
        )
    return Finding.passed(target, f"Kubernetes {text} (from Azure) is inside {span}", **details)


def _api_server(ctx: Context, info: ClusterInfo) -> list[Finding]:
    """Is the kubeconfig's API server this AKS cluster's? (catches a run against the wrong
    kubeconfig context, which would make every Kubernetes-side check speak of another cluster)."""
    host, _ = split_host_port((ctx.param("api_server") or "").strip().lower())
    host = host.rstrip(".")
    props = info.props
    names = {
        str(props.get(key)).lower().rstrip(".")
        for key in ("fqdn", "privateFQDN", "azurePortalFQDN")
        if props.get(key)
    }
    if not host or not names:
        return []
    source = ctx.options.param_sources.get("api_server", "--set")
    details = {
        **info.details(),
        "api_server": host,
        "source": source,
        "cluster_fqdns": sorted(names),
    }
    if host in names:
        return [Finding.passed(host, f"the API server ({source}) is {info.name}'s own", **details)]
    return [
        Finding.warned(
            host,
            f"the API server {host} ({source}) is not one of {info.name}'s "
            f"({', '.join(sorted(names))}): the Kubernetes checks may be looking at another "
            "cluster",
            f"use a kubeconfig for {info.name} (`az aks get-credentials -g "
            f"{info.resource_group} -n {info.name}`) or --context; a custom DNS name for the "
            "API server is fine, then ignore this",
            DOCS_LIMITATIONS,
            **details,
        )
    ]


def _pools(info: ClusterInfo, view: KubeView) -> list[Finding]:
    pools = [p for p in info.props.get("agentPoolProfiles") or [] if isinstance(p, dict)]
    kube_pools = nodes_by_pool(view.nodes) if view.nodes is not None else None
    findings: list[Finding] = []
    if not pools:
        findings.append(
            Finding.warned(
                f"{info.name}/agentPoolProfiles",
                f"Azure lists no node pools for {info.name}",
                f"check `az aks nodepool list -g {info.resource_group} --cluster-name {info.name}`",
                DOCS_LIMITATIONS,
                **info.details(),
            )
        )
    for pool in pools:
        findings.append(_pool(info, pool, kube_pools, view))
    if kube_pools is not None:
        known = {str(p.get("name")) for p in pools}
        for name, nodes in sorted(kube_pools.items()):
            if name in known:
                continue
            findings.append(
                Finding.warned(
                    f"agentpool/{name}",
                    f"{nodes.total} Kubernetes node(s) ({nodes.ready} Ready) carry agent pool "
                    f"label {name}, but {info.name} has no such node pool in Azure: is the "
                    "kubeconfig for another cluster?",
                    "check `kubectl config current-context` and `az aks nodepool list -g "
                    f"{info.resource_group} --cluster-name {info.name}`",
                    DOCS_LIMITATIONS,
                    **info.details(),
                    pool=name,
                    kube_nodes=nodes.total,
                    kube_ready=nodes.ready,
                    kube_instance_types=dict(nodes.instance_types),
                )
            )
    return findings


def _pool(
    info: ClusterInfo,
    pool: dict[str, Any],
    kube_pools: dict[str, PoolNodes] | None,
    view: KubeView,
) -> Finding:
    name = str(pool.get("name") or "?")
    size = str(pool.get("vmSize") or "")
    count = pool.get("count")
    count = count if isinstance(count, int) else 0
    power = str((pool.get("powerState") or {}).get("code") or "")
    os_type = str(pool.get("osType") or "Linux")
    mode = str(pool.get("mode") or "User")
    gpu = is_gpu_size(size)
    details: dict[str, Any] = {
        **info.details(),
        "pool": name,
        "vm_size": size or None,
        "count": count,
        "mode": mode,
        "os_type": os_type,
        "power_state": power or None,
        "gpu": gpu,
        "enable_auto_scaling": bool(pool.get("enableAutoScaling")),
        "min_count": pool.get("minCount"),
        "max_count": pool.get("maxCount"),
        "orchestrator_version": pool.get("currentOrchestratorVersion")
        or pool.get("orchestratorVersion"),
    }
    if pool.get("gpuInstanceProfile"):
        details["gpu_instance_profile"] = pool.get("gpuInstanceProfile")
    scaling = (
        f", autoscaling {pool.get('minCount')}–{pool.get('maxCount')}"
        if pool.get("enableAutoScaling")
        else ""
    )
    text = (
        f"{count} × {size or 'unknown size'} ({mode}, {os_type}"
        f"{', GPU size' if gpu else ''}{scaling})"
    )
    if os_type.lower() == "windows":
        text += "; the extension runs on Linux nodes only"
    target = f"agentpool/{name}"
    group = info.resource_group
    if power.lower() == "stopped":
        return Finding.warned(
            target,
            f"node pool {name} ({text}) is stopped: its nodes take no pods",
            f"start it if the extension should use it: az aks nodepool start -g {group} "
            f"--cluster-name {info.name} -n {name}",
            DOCS_AKS_START,
            **details,
        )
    if kube_pools is None:
        note = (
            " (not compared with Kubernetes: "
            + (view.nodes_error or view.reason or "no node list")
            + ")"
        )
        return Finding.passed(target, f"node pool {name}: {text}{note}", **details)
    nodes = kube_pools.get(name, PoolNodes())
    details.update(
        kube_nodes=nodes.total,
        kube_ready=nodes.ready,
        kube_instance_types=dict(nodes.instance_types),
    )
    if count > 0 and nodes.ready == 0:
        return Finding.warned(
            target,
            f"node pool {name} has {count} node(s) of {size} in Azure, but no Ready node in "
            f"Kubernetes carries its label ({nodes.total} node(s) found): is the kubeconfig "
            "for this cluster, are the nodes healthy?",
            f"check `kubectl get nodes -l kubernetes.azure.com/agentpool={name}` and "
            f"`az aks nodepool show -g {group} --cluster-name {info.name} -n {name}`",
            DOCS_LIMITATIONS,
            **details,
        )
    other = [t for t in nodes.instance_types if t.lower() != size.lower()]
    if size and other:
        return Finding.warned(
            target,
            f"node pool {name} is {size} in Azure, but its Kubernetes nodes report instance "
            f"type {', '.join(sorted(other))}: is the kubeconfig for this cluster?",
            "check `kubectl get nodes -L node.kubernetes.io/instance-type` against "
            f"`az aks nodepool list -g {group} --cluster-name {info.name} -o table`",
            DOCS_LIMITATIONS,
            **details,
        )
    return Finding.passed(
        target, f"node pool {name}: {text}; {nodes.ready} Ready in Kubernetes", **details
    )


CHECKS = [AzureCluster()]
