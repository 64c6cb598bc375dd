"""What the checks that go to Azure Resource Manager share (the ``azure`` family, and the
extension's resource in ``extension.installed``): their ``--set`` parameters, the one read of the
cluster resource per run (AKS ``managedClusters``, Arc ``connectedClusters``, or the offline
``aks_json`` file), and how an Azure Resource Manager error becomes a finding. No checks here.

The cluster resource is read once, whatever number of checks look at it: the first check to ask
starts an asyncio task kept on the run's context, the others await the same task (shielded, so the
deadline ending one check does not cancel the read for the rest). ARM calls of different checks
(cluster, providers) run concurrently because the runner runs the checks concurrently.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from preflight.api import (
    ArmError,
    Context,
    Fact,
    Finding,
    ShapeError,
    Status,
    jsonshape,
    parse_resource_id,
    pem_certificates,
    run_in_daemon_thread,
)
from preflight.checks._shared.json_files import read_json
from preflight.checks._shared.plan import cluster_type_of

AKS_API = "2024-09-01"  # Microsoft.ContainerService/managedClusters, GA
ARC_API = "2024-01-01"  # Microsoft.Kubernetes/connectedClusters, GA
PROVIDERS_API = "2021-04-01"  # Microsoft.Resources providers

AKS_TYPE = "Microsoft.ContainerService/managedClusters"
ARC_TYPE = "Microsoft.Kubernetes/connectedClusters"

DOCS_LIMITATIONS = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension"
    "#limitations"
)
DOCS_MANAGED_IDENTITY = "https://learn.microsoft.com/azure/aks/use-managed-identity"
DOCS_LOCAL_ACCOUNTS = (
    "https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad"
    "#disable-local-accounts"
)
DOCS_AUTHORIZED_RANGES = "https://learn.microsoft.com/azure/aks/api-server-authorized-ip-ranges"
DOCS_ARC_CONNECT = (
    "https://learn.microsoft.com/azure/azure-arc/kubernetes/quickstart-connect-cluster"
)
DOCS_POD_IDENTITY = "https://learn.microsoft.com/azure/aks/use-azure-ad-pod-identity"
DOCS_RBAC = "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles#reader"
DOCS_CLI_CLOUDS = "https://learn.microsoft.com/cli/azure/manage-clouds-azure-cli"

PARAMETERS = {
    "subscription_id": "subscription of the AKS or Arc-enabled cluster resource",
    "resource_group": "resource group of the cluster",
    "cluster_name": "name of the AKS or Arc-enabled cluster resource",
    "cluster_type": "aks (managedClusters, the default) or arc (connectedClusters)",
    "workspace_id": (
        "full ARM resource id of the Azure ML workspace (/subscriptions/<sub>/resourceGroups/"
        "<rg>/providers/Microsoft.MachineLearningServices/workspaces/<name>)"
    ),
    "aks_json": (
        "file holding the output of `az aks show -o json`: read instead of calling Azure "
        "Resource Manager (CI without Azure credentials)"
    ),
    "service_tags": (
        "the Azure IP Ranges and Service Tags JSON file of the profile's cloud, to compare the "
        "API server's authorized IP ranges with the AzureMachineLearning prefixes"
    ),
}
CLUSTER_PARAMS = ("subscription_id", "resource_group", "cluster_name")


def parameters_named(*names: str) -> dict[str, str]:
    """The ``parameters`` a check declares, with the help texts above: ``parameters_named(
    "subscription_id", "cluster_type")``, in the order given."""
    return {name: PARAMETERS[name] for name in names}


# -- the shapes of the cluster resource (what the checks read of it; preflight.jsonshape) ------

_S, _I, _B = jsonshape.STR, jsonshape.INT, jsonshape.BOOL
_POWER = jsonshape.Obj({"code": _S})
AGENT_POOL = jsonshape.Obj(
    {
        "name": _S,
        "vmSize": _S,
        "count": _I,
        "minCount": _I,
        "maxCount": _I,
        "enableAutoScaling": _B,
        "powerState": _POWER,
        "osType": _S,
        "mode": _S,
        "orchestratorVersion": _S,
        "currentOrchestratorVersion": _S,
        "gpuInstanceProfile": _S,
        "nodeLabels": jsonshape.Obj(values=_S),
        "nodeTaints": jsonshape.Arr(_S),
    }
)
#: ``properties`` of a managedClusters resource (or the flattened ``az aks show`` document)
AKS_PROPERTIES = jsonshape.Obj(
    {
        "provisioningState": _S,
        "powerState": _POWER,
        "kubernetesVersion": _S,
        "currentKubernetesVersion": _S,
        "fqdn": _S,
        "privateFQDN": _S,
        "azurePortalFQDN": _S,
        "nodeResourceGroup": _S,
        "disableLocalAccounts": _B,
        "agentPoolProfiles": jsonshape.Arr(AGENT_POOL),
        "servicePrincipalProfile": jsonshape.Obj({"clientId": _S}),
        "apiServerAccessProfile": jsonshape.Obj(
            {"authorizedIPRanges": jsonshape.Arr(_S), "enablePrivateCluster": _B}
        ),
        "podIdentityProfile": jsonshape.Obj({"enabled": _B}),
        "httpProxyConfig": jsonshape.Obj(
            {"httpProxy": _S, "httpsProxy": _S, "noProxy": jsonshape.Arr(_S), "trustedCa": _S}
        ),
        "networkProfile": jsonshape.Obj(
            {
                "networkPlugin": _S,
                "networkPolicy": _S,
                "outboundType": _S,
                "podCidr": _S,
                "serviceCidr": _S,
                "loadBalancerSku": _S,
            }
        ),
    }
)
#: ``properties`` of a connectedClusters (Arc) resource
ARC_PROPERTIES = jsonshape.Obj(
    {
        "provisioningState": _S,
        "connectivityStatus": _S,
        "agentVersion": _S,
        "distribution": _S,
        "distributionVersion": _S,
        "infrastructure": _S,
        "kubernetesVersion": _S,
        "totalNodeCount": _I,
        "lastConnectivityTime": _S,
    }
)
_RESOURCE = {
    "id": _S,
    "name": _S,
    "type": _S,
    "location": _S,
    "resourceGroup": _S,
    "identity": jsonshape.Obj(
        {
            "type": _S,
            "principalId": _S,
            "tenantId": _S,
            "userAssignedIdentities": jsonshape.Obj(values=jsonshape.Obj()),
        }
    ),
}
AKS_RESOURCE = jsonshape.Obj({**_RESOURCE, "properties": AKS_PROPERTIES})
ARC_RESOURCE = jsonshape.Obj({**_RESOURCE, "properties": ARC_PROPERTIES})


# -- the offline aks_json file ---------------------------------------------------------------


def cluster_document(document: Any) -> dict[str, Any]:
    """Check that ``document`` is one AKS cluster as ``az aks show -o json`` prints it (or the
    raw ARM shape with ``properties``). Raises ValueError with what is wrong."""
    if isinstance(document, list):
        raise ValueError(
            "a JSON list: expected one cluster, the output of `az aks show -o json` (not "
            "`az aks list`)"
        )
    if not isinstance(document, dict):
        raise ValueError("expected a JSON object, the output of `az aks show -o json`")
    props = document.get("properties") if isinstance(document.get("properties"), dict) else None
    body = props if props is not None else document
    kind = str(document.get("type") or "")
    if kind and kind.lower() != AKS_TYPE.lower():
        raise ValueError(f"a {kind} resource, not an AKS cluster ({AKS_TYPE})")
    if "agentPoolProfiles" not in body and not kind:
        raise ValueError(
            "not an AKS cluster (no agentPoolProfiles): expected the output of "
            "`az aks show -o json`"
        )
    _expect(document, "identity", dict)
    _expect(body, "agentPoolProfiles", list)
    _expect(body, "servicePrincipalProfile", dict)
    _expect(body, "apiServerAccessProfile", dict)
    _expect(body, "disableLocalAccounts", bool)
    try:  # the rest of what the checks read, as ARM would send it
        jsonshape.check(document, jsonshape.Obj(_RESOURCE), "")
        jsonshape.check(body, AKS_PROPERTIES, "")
    except ShapeError as exc:
        raise ValueError(exc.statement) from None
    access = body.get("apiServerAccessProfile") or {}
    ranges = access.get("authorizedIPRanges")
    if ranges is not None:
        if not isinstance(ranges, list):
            raise ValueError("apiServerAccessProfile.authorizedIPRanges is not a list")
        for index, entry in enumerate(ranges):
            try:
                ipaddress.ip_network(str(entry).strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"apiServerAccessProfile.authorizedIPRanges[{index}]: {entry!r} is not an "
                    "IP address or CIDR range"
                ) from None
    for index, pool in enumerate(body.get("agentPoolProfiles") or []):
        if not isinstance(pool, dict):
            raise ValueError(f"agentPoolProfiles[{index}] is not an object")
    return document


def _expect(body: dict[str, Any], key: str, kind: type) -> None:
    value = body.get(key)
    if value is not None and not isinstance(value, kind):
        names = {dict: "an object", list: "a list", bool: "true or false"}
        raise ValueError(f"{key} is {type(value).__name__}, expected {names.get(kind, kind)}")


def validate_aks_json(path: str) -> None:
    """Start-up validation of ``--set aks_json=PATH`` (ValueError / OSError: exit 2)."""
    cluster_document(read_json(path))


VALIDATORS: dict[str, Callable[[str], object]] = {"aks_json": validate_aks_json}


# -- the cluster resource --------------------------------------------------------------------


@dataclass
class ClusterInfo:
    """The cluster resource as ARM (or ``az aks show``) describes it."""

    kind: str  # aks | arc
    source: str  # arm | aks_json
    document: dict[str, Any]
    subscription_id: str
    resource_group: str
    name: str
    path: str = ""  # the aks_json file, when read offline

    @property
    def props(self) -> dict[str, Any]:
        """``properties`` of the ARM shape, or the flattened ``az aks show`` document."""
        props = self.document.get("properties")
        return props if isinstance(props, dict) else self.document

    @property
    def identity(self) -> dict[str, Any]:
        identity = self.document.get("identity")
        return identity if isinstance(identity, dict) else {}

    @property
    def location(self) -> str:
        return "".join(str(self.document.get("location") or "").split()).lower()

    @property
    def resource_id(self) -> str:
        provider = AKS_TYPE if self.kind == "aks" else ARC_TYPE
        return str(
            self.document.get("id")
            or f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{provider}/{self.name}"
        )

    def get(self, *keys: str) -> Any:
        """A nested property: ``get("apiServerAccessProfile", "authorizedIPRanges")``."""
        value: Any = self.props
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "cluster": self.name,
            "resource_group": self.resource_group,
            "subscription_id": self.subscription_id,
            "cluster_type": self.kind,
            "source": self.source,
        }
        if self.path:
            details["aks_json"] = self.path
        return details


@dataclass
class Problem:
    """Why the cluster resource could not be read, as a finding's parts."""

    status: Status
    message: str
    remediation: str
    docs: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClusterRead:
    """The run's one read of the cluster resource: the cluster, or why there is none."""

    cluster: ClusterInfo | None
    problem: Problem | None = None
    notes: list[Finding] = field(default_factory=list)  # for azure.cluster (odd parameters)

    def failure(self, target: str | None, what: str) -> Finding:
        """The finding a check that needed the cluster reports instead of its conclusion: a
        skip stays a skip (nothing to check with), anything else is an error of this check (it
        could not conclude) that points at ``azure.cluster``, which reports the cause itself."""
        problem = self.problem
        assert problem is not None
        details = {**problem.details, "see": "azure.cluster"}
        if problem.status == Status.SKIP:
            return Finding(
                Status.SKIP, target, problem.message, problem.remediation, details=details
            )
        return Finding(
            Status.ERROR,
            target,
            f"cannot check {what}: {problem.message} (see azure.cluster)",
            problem.remediation,
            problem.docs,
            details=details,
        )


async def arm_missing(ctx: Context) -> tuple[str, str] | None:
    """Whether ARM can be called: None, or (reason, how to supply credentials). The token is
    acquired once (blocking: the Azure CLI or IMDS), off the event loop."""
    return await ctx.fact_async(ARM_MISSING)


async def arm_skip(ctx: Context, target: str | None = None) -> Finding | None:
    """The skip of a check that cannot call ARM (no credentials), worded as the engine words a
    missing need; None when ARM can be called.

    The Azure checks do not declare ``needs = ("arm",)`` because a missing ``--set`` parameter
    must be reported before missing credentials (the parameter is the cheaper fix, and offline
    ``aks_json`` runs need no token at all); they ask here, after their parameter checks."""
    missing = await arm_missing(ctx)
    if missing is None:
        return None
    reason, how = missing
    return Finding(Status.SKIP, target, f"skipped: {reason}", how, details={"missing": "arm"})


async def _arm_missing(ctx: Context) -> tuple[str, str] | None:
    result: tuple[str, str] | None = await run_in_daemon_thread(ctx.missing_need, "arm")
    return result


#: whether ARM can be called (the token is acquired once per run, off the event loop)
ARM_MISSING: Fact[tuple[str, str] | None] = Fact("Azure credentials", _arm_missing)


def read_cluster(ctx: Context) -> Awaitable[ClusterRead]:
    """The run's cluster read (started by the first caller)."""
    return ctx.fact_async(CLUSTER_READ)


def missing_parameters_text(missing: list[str]) -> str:
    return " ".join(f"--set {name}=<{name.replace('_', '-')}>" for name in missing)


async def _read(ctx: Context) -> ClusterRead:
    kind, odd_type = cluster_type_of(ctx)
    notes = [odd_type] if odd_type is not None else []
    aks_json = ctx.param("aks_json")
    if aks_json and kind == "arc":
        notes.append(
            Finding.warned(
                "aks_json",
                "--set aks_json is for AKS clusters and is ignored with cluster_type=arc: the "
                "Arc-enabled cluster is read from Azure Resource Manager",
                "drop --set aks_json, or drop --set cluster_type=arc if the cluster is on AKS",
                path=aks_json,
            )
        )
    elif aks_json:
        return _offline(ctx, aks_json, notes)
    params = {name: ctx.param(name) for name in CLUSTER_PARAMS}
    missing = [name for name, value in params.items() if not value]
    if missing:
        return ClusterRead(None, _missing(ctx, missing, kind), notes)
    need = await arm_missing(ctx)
    if need is not None:
        reason, how = need
        offline = " (or read `az aks show -o json` from a file: --set aks_json=PATH)"
        return ClusterRead(
            None,
            Problem(
                Status.SKIP,
                f"skipped: {reason}",
                how + (offline if kind == "aks" else ""),
                details={"missing": "arm"},
            ),
            notes,
        )
    sub, group, name = (str(params[k]) for k in CLUSTER_PARAMS)
    provider = AKS_TYPE if kind == "aks" else ARC_TYPE
    path = (
        f"/subscriptions/{quote(sub, safe='')}/resourceGroups/{quote(group, safe='')}"
        f"/providers/{provider}/{quote(name, safe='')}"
    )
    shape = AKS_RESOURCE if kind == "aks" else ARC_RESOURCE
    try:
        document = await ctx.arm.get(path, AKS_API if kind == "aks" else ARC_API, shape)
    except ArmError as exc:
        return ClusterRead(None, cluster_problem(ctx, exc, kind, sub, group, name), notes)
    return ClusterRead(ClusterInfo(kind, "arm", document, sub, group, name), None, notes)


def _missing(ctx: Context, missing: list[str], kind: str) -> Problem:
    names = ", ".join(missing)
    how = f"add {missing_parameters_text(missing)}"
    if kind == "aks":
        how += ", or read the cluster offline with --set aks_json=<file from `az aks show -o json`>"
    workspace = parse_resource_id(ctx.param("workspace_id") or "")
    if "subscription_id" in missing and workspace.get("subscription_id"):
        how += (
            f" (the workspace is in subscription {workspace['subscription_id']}; preflight does "
            "not assume the cluster is too: add --set subscription_id if it is)"
        )
    return Problem(
        Status.SKIP,
        f"skipped: no cluster resource named ({names} not set)",
        how,
        details={"missing_parameters": missing},
    )


def _offline(ctx: Context, path: str, notes: list[Finding]) -> ClusterRead:
    try:
        document = cluster_document(read_json(path))
    except (OSError, ValueError) as exc:  # validated at start-up; changed since?
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return ClusterRead(
            None,
            Problem(
                Status.ERROR,
                f"cannot read --set aks_json={path}: {reason}",
                "write the file again with `az aks show -g <rg> -n <name> -o json > FILE`",
                details={"aks_json": path},
            ),
            notes,
        )
    parts = parse_resource_id(str(document.get("id") or ""))
    sub = parts.get("subscription_id") or ctx.param("subscription_id") or ""
    group = (
        parts.get("resource_group")
        or str(document.get("resourceGroup") or "")
        or ctx.param("resource_group")
        or ""
    )
    name = str(document.get("name") or parts.get("name") or ctx.param("cluster_name") or "")
    return ClusterRead(
        ClusterInfo("aks", "aks_json", document, sub, group, name, path), None, notes
    )


# -- ARM errors as findings ------------------------------------------------------------------


def token_source(ctx: Context) -> str:
    token = ctx.arm.token()
    return token.source if token is not None else "none"


def arm_error_problem(
    ctx: Context,
    exc: ArmError,
    *,
    what: str,
    permission: str,
    notfound: tuple[str, str] | None = None,
) -> Problem:
    """An ARM failure reading ``what``: 403 and 404 are conclusions (fail), everything else
    means the check could not conclude (error). Messages carry ARM's own text (never the
    token: ARM does not echo it, and the report's redaction masks bearer tokens anyway)."""
    endpoint = ctx.profile.endpoints.get("arm", "")
    audience = ctx.profile.audiences.get("arm", "")
    cloud = ctx.profile.cloud
    details: dict[str, Any] = {
        "kind": exc.kind,
        "phase": getattr(exc, "phase", None),
        "status": exc.status,
        "code": exc.code,
        "arm_message": exc.message,
        "arm_endpoint": endpoint,
        "token_source": token_source(ctx),
    }
    if exc.kind == "audience":
        return Problem(
            Status.ERROR,
            f"Azure Resource Manager of {cloud} ({endpoint}, profile {ctx.profile.name}) "
            "rejected the token's audience: the token is for another cloud",
            f"get a token for {audience}: `az cloud set --name {cloud}` then `az login`, or set "
            f"AZURE_ACCESS_TOKEN from `az account get-access-token --resource {audience}` "
            "signed in to that cloud",
            DOCS_CLI_CLOUDS,
            details={**details, "profile_cloud": cloud, "audience": audience},
        )
    if exc.kind == "auth":
        return Problem(
            Status.ERROR,
            f"Azure Resource Manager ({endpoint}) rejected the token: {exc.message}",
            "sign in again (`az login`), or refresh AZURE_ACCESS_TOKEN (tokens last about an hour)",
            details=details,
        )
    if exc.kind == "forbidden":
        return Problem(
            Status.FAIL,
            f"not allowed to read {what}: {exc.message}",
            f"grant the identity preflight signs in as {permission}, or run preflight as one "
            "that has it",
            DOCS_RBAC,
            details={**details, "permission": permission},
        )
    if exc.kind == "notfound" and notfound is not None:
        message, remediation = notfound
        return Problem(Status.FAIL, message, remediation, details=details)
    if exc.kind == "throttled":
        return Problem(
            Status.ERROR,
            f"Azure Resource Manager kept throttling the read of {what} (429) until the run's "
            "deadline",
            "run preflight again in a few minutes, or raise --deadline so that it can wait out "
            "Retry-After",
            details=details,
        )
    if exc.kind == "server":
        return Problem(
            Status.ERROR,
            f"Azure Resource Manager failed reading {what}: {exc.message}",
            "run preflight again later; if it persists, check the Azure status page of your cloud",
            details=details,
        )
    if exc.kind == "malformed":
        return Problem(
            Status.ERROR,
            f"Azure Resource Manager ({endpoint}) gave an answer preflight cannot read for "
            f"{what}: {exc.message}",
            "check that the ARM endpoint of the profile is Azure Resource Manager itself (a proxy "
            "or TLS-inspecting device that rewrites answers gives this), then run preflight again",
            details=details,
        )
    if exc.kind in ("timeout", "network", "tls"):
        return Problem(
            Status.ERROR,
            f"cannot reach Azure Resource Manager ({endpoint}) to read {what}: {exc.message}",
            "check that this machine reaches the ARM endpoint (a proxy: --proxy or "
            "HTTPS_PROXY; TLS inspection: --ca-bundle), or read the cluster offline with "
            "--set aks_json=PATH",
            details=details,
        )
    return Problem(
        Status.ERROR,
        f"Azure Resource Manager answered an error reading {what}: {exc.message}",
        "check the subscription, resource group and cluster name; run preflight again",
        details=details,
    )


def cluster_problem(
    ctx: Context, exc: ArmError, kind: str, sub: str, group: str, name: str
) -> Problem:
    noun = "AKS cluster" if kind == "aks" else "Arc-enabled cluster"
    if kind == "aks":
        listing = f"az aks list --subscription {sub} -o table"
        permission = (
            f"Reader (Microsoft.ContainerService/managedClusters/read) on the cluster {name}, "
            f"resource group {group} or subscription {sub}"
        )
    else:
        listing = f"az connectedk8s list --subscription {sub} -o table"
        permission = (
            f"Reader (Microsoft.Kubernetes/connectedClusters/read) on the cluster {name}, "
            f"resource group {group} or subscription {sub}"
        )
    code = exc.code.lower()
    if code in ("subscriptionnotfound", "invalidsubscriptionid"):
        message = f"subscription {sub} not found (or not visible to the signed-in identity)"
        hint = "check --set subscription_id (`az account list -o table`)"
    elif code == "resourcegroupnotfound":
        message = f"resource group {group} not found in subscription {sub}"
        hint = f"check --set resource_group (`az group list --subscription {sub} -o table`)"
    else:
        message = f"{noun} {name} not found in {sub}/{group}"
        hint = f"check --set cluster_name and resource_group: `{listing}` lists the clusters"
        if kind == "aks":
            hint += " (an Arc-enabled cluster? add --set cluster_type=arc)"
    return arm_error_problem(
        ctx,
        exc,
        what=f"the {noun} {name}",
        permission=permission,
        notfound=(message, hint),
    )


# -- the cluster's own egress: its proxy and the CAs it trusts ----------------------------------


@dataclass
class ClusterTrust:
    """What the cluster's nodes trust beyond the public CAs (AKS ``httpProxyConfig.trustedCa``),
    or why that is not known (``known`` False, ``why`` says what would settle it)."""

    known: bool
    certificates: tuple[bytes, ...] = ()
    why: str = ""
    source: str = ""


async def cluster_trust(ctx: Context) -> ClusterTrust:
    """The cluster's extra trusted CAs, read once per run from the cluster resource."""
    return await ctx.fact_async(CLUSTER_TRUST)


async def _cluster_trust(ctx: Context) -> ClusterTrust:
    kind, _ = cluster_type_of(ctx)
    settle = (
        "name the cluster (--set subscription_id/resource_group/cluster_name, or offline "
        "--set aks_json=FILE) so preflight can read its httpProxyConfig.trustedCa"
    )
    if kind == "arc":
        return ClusterTrust(
            False,
            why="an Arc-enabled cluster keeps its proxy certificate in the cluster, not in ARM: "
            "make sure it was given to `az connectedk8s connect --proxy-cert` (or "
            "`az connectedk8s update --proxy-cert`)",
        )
    if not ctx.param("aks_json") and not all(ctx.param(n) for n in CLUSTER_PARAMS):
        return ClusterTrust(False, why=settle)
    read = await read_cluster(ctx)
    if read.cluster is None:
        problem = read.problem.message if read.problem else "unknown"
        return ClusterTrust(False, why=f"the cluster resource could not be read ({problem})")
    config = read.cluster.get("httpProxyConfig")
    trusted = config.get("trustedCa") if isinstance(config, dict) else None
    source = f"{read.cluster.name}: httpProxyConfig.trustedCa ({read.cluster.source})"
    if not trusted:
        return ClusterTrust(True, (), source=f"{read.cluster.name}: no httpProxyConfig.trustedCa")
    try:
        pem = base64.b64decode(str(trusted), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        pem = str(trusted)
    if "BEGIN CERTIFICATE" not in pem:
        pem = str(trusted)
    return ClusterTrust(True, tuple(pem_certificates(pem)), source=source)


#: the cluster resource, read once per run (ARM, or the offline aks_json file)
CLUSTER_READ: Fact[ClusterRead] = Fact("the cluster resource", _read)
#: the CAs the cluster's nodes trust beyond the public ones
CLUSTER_TRUST: Fact[ClusterTrust] = Fact("the cluster's trusted CAs", _cluster_trust)
