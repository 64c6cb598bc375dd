"""The Azure ML extension's limitations that no Kubernetes API call can see, read from the cluster
resource in Azure Resource Manager (seeds 002/003, "Limitations"; reference/endpoints.md):

- ``azure.cluster``: the resource exists and is usable (provisioning and power state, Arc
  connectivity), its Kubernetes version, its node pools (VM sizes, counts, GPU sizes) cross-checked
  with the Kubernetes nodes when the cluster is reachable too;
- ``azure.identity``: a managed identity, not a service principal (and no Entra pod identity);
- ``azure.local-accounts``: local accounts not disabled;
- ``azure.authorized-ip-ranges``: authorized IP ranges of the API server, when set, admit the Azure
  ML control plane of the cluster's region and of its pair (the ``AzureMachineLearning`` service
  tags, from the Service Tags file the user downloads);
- ``azure.subscription``: the cluster in the workspace's subscription (else Azure Arc).

The cluster resource is read once per run (``azure_common.read_cluster``), from ARM in the
profile's cloud or, with ``--set aks_json=FILE``, from the output of ``az aks show -o json`` so a
CI job without Azure credentials can still gate on identity, local accounts and IP ranges.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.api import (
    Check,
    Context,
    Finding,
    KubeError,
    parse_resource_id,
    run_in_daemon_thread,
    split_host_port,
)
from preflight.checks._shared.cluster_resource import (
    DOCS_ARC_CONNECT,
    DOCS_LIMITATIONS,
    DOCS_LOCAL_ACCOUNTS,
    DOCS_MANAGED_IDENTITY,
    DOCS_POD_IDENTITY,
    PARAMETERS,
    VALIDATORS,
    ClusterInfo,
    read_cluster,
)
from preflight.checks._shared.json_files import read_json
from preflight.checks._shared.kube_version import DOCS_VERSIONS, parse_version

NODES_PATH = "/api/v1/nodes"
POOL_LABELS = ("kubernetes.azure.com/agentpool", "agentpool")
INSTANCE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
#: Azure N-series VM sizes carry NVIDIA (NC, ND, NG, NV) or AMD (NG, NVv4) GPUs
GPU_SIZE = re.compile(r"^standard_n[cdgv]", re.IGNORECASE)
DOCS_AKS_START = "https://learn.microsoft.com/azure/aks/start-stop-cluster"
DOCS_ARC_TROUBLESHOOT = (
    "https://learn.microsoft.com/azure/azure-arc/kubernetes/diagnose-connection-issues"
)
CROSS_SUBSCRIPTION = "cross-subscription attach needs Azure Arc"


def _params(*names: str) -> dict[str, str]:
    return {name: PARAMETERS[name] for name in names}


CLUSTER_PARAMETERS = _params(
    "subscription_id", "resource_group", "cluster_name", "cluster_type", "aks_json"
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


def _ready(node: Mapping[str, Any]) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


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
        entry.ready += _ready(node)
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


# -- azure.identity --------------------------------------------------------------------------

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


class AzureIdentity(Check):
    id = "azure.identity"
    title = "Cluster uses a managed identity, not a service principal"
    category = "azure"
    docs = DOCS_MANAGED_IDENTITY
    parameters = CLUSTER_PARAMETERS
    validators = VALIDATORS

    async def run(self, ctx: Context) -> list[Finding]:
        read = await read_cluster(ctx)
        if read.cluster is None:
            return [read.failure("identity", "the cluster's identity")]
        info = read.cluster
        if info.kind == "arc":
            return [_arc_identity(info)]
        return [_aks_identity(info), *_pod_identity(info)]


def _identity_kinds(identity: Mapping[str, Any]) -> list[str]:
    text = str(identity.get("type") or "")
    return [part.strip() for part in text.split(",") if part.strip()]


def _aks_identity(info: ClusterInfo) -> Finding:
    identity = info.identity
    kinds = _identity_kinds(identity)
    managed = [k for k in kinds if k.lower() in ("systemassigned", "userassigned")]
    client_id = str((info.props.get("servicePrincipalProfile") or {}).get("clientId") or "")
    user_ids = sorted((identity.get("userAssignedIdentities") or {}).keys())
    details = {
        **info.details(),
        "identity_type": identity.get("type"),
        "service_principal_client_id": client_id or None,
        "user_assigned_identities": user_ids,
        "principal_id": identity.get("principalId"),
    }
    group, name = info.resource_group, info.name
    if managed and client_id.lower() in ("", "msi"):
        kind = " and ".join(
            "system-assigned" if k.lower() == "systemassigned" else "user-assigned" for k in managed
        )
        return Finding.passed(
            "identity",
            f"{name} uses a {kind} managed identity"
            + (f" ({', '.join(u.rsplit('/', 1)[-1] for u in user_ids)})" if user_ids else ""),
            **details,
        )
    if managed:
        return Finding.failed(
            "identity",
            f"{name} has a managed identity, but servicePrincipalProfile.clientId is still the "
            f"service principal {client_id}: a cluster converted from a service principal keeps "
            "using it until its node pools are recreated, which the Azure ML extension does "
            "not support",
            "delete and recreate every node pool (az aks nodepool add / az aks nodepool delete; "
            "updating them is not enough) before installing the extension",
            DOCS_LIMITATIONS,
            **details,
        )
    if client_id and client_id.lower() != "msi":
        shown = client_id if _GUID.match(client_id) else "a service principal"
        return Finding.failed(
            "identity",
            f"{name} uses a service principal ({shown}), which the Azure ML extension does not "
            "support: the cluster must use a managed identity",
            f"switch to a managed identity: az aks update -g {group} -n {name} "
            "--enable-managed-identity, then delete and recreate all node pools before "
            "installing the extension",
            DOCS_MANAGED_IDENTITY,
            **details,
        )
    return Finding.warned(
        "identity",
        f"cannot tell how {name} authenticates: no managed identity and no service principal "
        "in the cluster resource",
        f'check `az aks show -g {group} -n {name} --query "{{identity: identity.type, '
        'clientId: servicePrincipalProfile.clientId}"`: the Azure ML extension needs a '
        "managed identity",
        DOCS_MANAGED_IDENTITY,
        **details,
    )


def _pod_identity(info: ClusterInfo) -> list[Finding]:
    profile = info.props.get("podIdentityProfile") or {}
    if not isinstance(profile, dict) or not profile.get("enabled"):
        return []
    return [
        Finding.failed(
            "podIdentityProfile",
            f"{info.name} has Microsoft Entra pod identity enabled (a deprecated preview), which "
            "Azure Machine Learning does not support",
            f"disable it (az aks update -g {info.resource_group} -n {info.name} "
            "--disable-pod-identity) and move workloads to workload identity",
            DOCS_POD_IDENTITY,
            **info.details(),
        )
    ]


def _arc_identity(info: ClusterInfo) -> Finding:
    kinds = _identity_kinds(info.identity)
    details = {**info.details(), "identity_type": info.identity.get("type")}
    if any(k.lower() == "systemassigned" for k in kinds):
        return Finding.passed(
            "identity",
            f"{info.name} has its system-assigned identity (the managed-identity rule is about "
            "AKS; an Arc-enabled cluster always gets one)",
            **details,
        )
    return Finding.warned(
        "identity",
        f"Arc-enabled cluster {info.name} shows no system-assigned identity",
        "reconnect the cluster (`az connectedk8s connect`), which creates it",
        DOCS_ARC_CONNECT,
        **details,
    )


# -- azure.local-accounts --------------------------------------------------------------------


class AzureLocalAccounts(Check):
    id = "azure.local-accounts"
    title = "Local accounts not disabled"
    category = "azure"
    docs = DOCS_LOCAL_ACCOUNTS
    parameters = CLUSTER_PARAMETERS
    validators = VALIDATORS

    async def run(self, ctx: Context) -> list[Finding]:
        read = await read_cluster(ctx)
        if read.cluster is None:
            return [read.failure("disableLocalAccounts", "local accounts")]
        info = read.cluster
        if info.kind == "arc":
            return [
                Finding.skipped(
                    "disableLocalAccounts",
                    "not applicable: local accounts are an AKS setting; an Arc-enabled cluster "
                    "has none to check",
                    "nothing to do for cluster_type=arc",
                    **info.details(),
                )
            ]
        disabled = info.props.get("disableLocalAccounts")
        details = {**info.details(), "disable_local_accounts": disabled}
        if disabled is True:
            return [
                Finding.failed(
                    "disableLocalAccounts",
                    f"{info.name} has local accounts disabled, which the Azure ML extension does "
                    "not support",
                    f"enable them: az aks update -g {info.resource_group} -n {info.name} "
                    "--enable-local-accounts",
                    DOCS_LOCAL_ACCOUNTS,
                    **details,
                )
            ]
        return [
            Finding.passed(
                "disableLocalAccounts",
                f"{info.name} keeps local accounts enabled"
                + (" (the default)" if disabled is None else ""),
                **details,
            )
        ]


# -- azure.subscription ----------------------------------------------------------------------


WORKSPACE_TYPE = "Microsoft.MachineLearningServices/workspaces"


def validate_workspace_id(value: str) -> None:
    """``--set workspace_id`` must be a workspace's full resource id (exit 2 otherwise)."""
    parts = parse_resource_id(value)
    kind = f"{parts.get('provider', '')}/{parts.get('type', '')}".lower()
    if not parts.get("subscription_id") or kind != WORKSPACE_TYPE.lower():
        raise ValueError(
            "not a workspace resource id: expected /subscriptions/<sub>/resourceGroups/<rg>/"
            "providers/Microsoft.MachineLearningServices/workspaces/<name> (`az ml workspace "
            "show --query id`)"
        )


class AzureSubscription(Check):
    id = "azure.subscription"
    title = "Cluster and workspace share a subscription (else Azure Arc)"
    category = "azure"
    docs = DOCS_LIMITATIONS
    parameters = {**CLUSTER_PARAMETERS, "workspace_id": PARAMETERS["workspace_id"]}
    validators = {**VALIDATORS, "workspace_id": validate_workspace_id}

    def run(self, ctx: Context) -> list[Finding]:
        workspace_id = ctx.param("workspace_id")
        if not workspace_id:
            return [
                Finding.skipped(
                    "workspace_id",
                    "skipped: no workspace named",
                    "add --set workspace_id=/subscriptions/<sub>/resourceGroups/<rg>/providers/"
                    "Microsoft.MachineLearningServices/workspaces/<name> (`az ml workspace show "
                    "--query id`)",
                )
            ]
        workspace = parse_resource_id(workspace_id)
        ws_sub = workspace.get("subscription_id", "")
        cluster_sub, where = _cluster_subscription(ctx)
        kind = "arc" if (ctx.param("cluster_type") or "").strip().lower() == "arc" else "aks"
        details = {
            "workspace_id": workspace_id,
            "workspace_subscription": ws_sub,
            "cluster_subscription": cluster_sub or None,
            "cluster_subscription_from": where or None,
            "cluster_type": kind,
        }
        if not cluster_sub:
            return [
                Finding.skipped(
                    "subscription_id",
                    "skipped: the cluster's subscription is not known (workspace in "
                    f"{ws_sub}; preflight does not assume the cluster is there too)",
                    "add --set subscription_id=<cluster's subscription> (or --set aks_json=FILE "
                    "from `az aks show -o json`)",
                    **details,
                )
            ]
        if cluster_sub.lower() == ws_sub.lower():
            noun = "Arc-enabled cluster" if kind == "arc" else "AKS cluster"
            return [
                Finding.passed(
                    "subscription_id",
                    f"the {noun} and the workspace are both in subscription {ws_sub}",
                    **details,
                )
            ]
        if kind == "aks":
            return [
                Finding.failed(
                    "subscription_id",
                    f"the AKS cluster is in subscription {cluster_sub}, the workspace in {ws_sub}: "
                    f"Azure ML does not attach an AKS cluster across subscriptions "
                    f"({CROSS_SUBSCRIPTION})",
                    f"connect the cluster to Azure Arc in the workspace's subscription (`az "
                    f"connectedk8s connect --subscription {ws_sub} -g <rg> -n <name>`) and "
                    "install the extension on, and attach, the Arc-enabled cluster "
                    "(--set cluster_type=arc); or use a workspace in subscription "
                    f"{cluster_sub}",
                    DOCS_LIMITATIONS,
                    **details,
                )
            ]
        # Seed 002/003: "connect it to Azure-Arc and specify in the same subscription as your
        # Azure Machine Learning workspace": the Arc resource itself belongs in that subscription.
        return [
            Finding.failed(
                "subscription_id",
                f"the Arc-enabled cluster resource is in subscription {cluster_sub}, the "
                f"workspace in {ws_sub}: Azure ML attaches Arc-enabled clusters from the "
                "workspace's own subscription",
                f"connect the cluster to Azure Arc again in subscription {ws_sub} (`az "
                f"connectedk8s connect --subscription {ws_sub} -g <rg> -n <name>`), or use a "
                f"workspace in subscription {cluster_sub}",
                DOCS_ARC_CONNECT,
                **details,
            )
        ]


def _cluster_subscription(ctx: Context) -> tuple[str, str]:
    """The cluster's subscription: --set subscription_id, else the aks_json file's id."""
    value = ctx.param("subscription_id")
    if value:
        return value, "--set subscription_id"
    path = ctx.param("aks_json")
    if path:
        try:
            document = read_json(path)
        except (OSError, ValueError):
            return "", ""
        if isinstance(document, dict):
            sub = parse_resource_id(str(document.get("id") or "")).get("subscription_id", "")
            if sub:
                return sub, f"aks_json {path}"
    return "", ""


CHECKS = [
    AzureCluster(),
    AzureIdentity(),
    AzureLocalAccounts(),
    AzureSubscription(),
]
