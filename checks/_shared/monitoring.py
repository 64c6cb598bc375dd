"""Whether Azure Monitor collects from the cluster, as Azure Resource Manager says: Container
Insights and managed Prometheus. Shared by ``azure.monitoring`` (which reports it) and, through
cluster_hosts.py, by ``dns.resolve`` and ``egress.https`` (whose hosts grow by the profile's
``host_sets`` for Azure Monitor when it is on). No checks here.

Where it is written (research notes 19, section 5):

- AKS: ``properties.addonProfiles.omsagent`` ``{"enabled": true, "config":
  {"logAnalyticsWorkspaceResourceID": ...}}`` (the key spelled with a capital ``ID``; seen in
  MicrosoftDocs/azure-aks-docs ``create-postgresql-ha.md``, 2026-02-11), and managed Prometheus in
  ``properties.azureMonitorProfile.metrics.enabled`` (Azure/prometheus-collector's Bicep
  template). Newer API versions may also carry ``azureMonitorProfile.containerInsights``; read
  when present.
- Azure Arc: Container Insights is the cluster extension of type
  ``microsoft.azuremonitor.containers`` with ``configurationSettings.
  logAnalyticsWorkspaceResourceID`` (MicrosoftDocs/azure-management-docs ``extensions.md``).
- The Log Analytics workspace's GUID (``properties.customerId``, api-version 2022-10-01 of
  Microsoft.OperationalInsights/workspaces) names the concrete ingestion hosts
  (``<guid>.ods.opinsights.azure.com``).

A field of a shape we do not know is a problem named in ``problems`` (the check warns), never a
guess that monitoring is off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from preflight.api import ArmError, Context, Fact, ShapeError, jsonshape
from preflight.checks._shared.cluster_resource import (
    CLUSTER_PARAMS,
    ClusterInfo,
    arm_error_problem,
    arm_missing,
    read_cluster,
)

EXTENSIONS_API = "2023-05-01"  # Microsoft.KubernetesConfiguration/extensions, GA
WORKSPACES_API = "2022-10-01"  # Microsoft.OperationalInsights/workspaces, GA
MONITOR_EXTENSION_TYPE = "microsoft.azuremonitor.containers"
WORKSPACE_KEY = "logAnalyticsWorkspaceResourceID"
DOCS_CONTAINER_INSIGHTS = (
    "https://learn.microsoft.com/azure/azure-monitor/containers/kubernetes-monitoring-enable"
)
DOCS_MONITOR_EGRESS = "https://learn.microsoft.com/azure/aks/outbound-rules-control-egress"

_S, _B = jsonshape.STR, jsonshape.BOOL
_ADDON = jsonshape.Obj({"enabled": _B, "config": jsonshape.Obj(values=jsonshape.SCALAR)})
_MONITOR_PROFILE = jsonshape.Obj(
    {
        "metrics": jsonshape.Obj({"enabled": _B}),
        "containerInsights": jsonshape.Obj({"enabled": _B, "logAnalyticsWorkspaceResourceId": _S}),
    }
)
_EXTENSION = jsonshape.Obj(
    {
        "name": _S,
        "properties": jsonshape.Obj(
            {
                "extensionType": _S,
                "provisioningState": _S,
                "configurationSettings": jsonshape.Obj(values=jsonshape.SCALAR),
            }
        ),
    }
)
_WORKSPACE = jsonshape.Obj({"properties": jsonshape.Obj({"customerId": _S})})


@dataclass
class Monitoring:
    """What the cluster resource says about Azure Monitor, or why it is not known."""

    known: bool
    why: str = ""  # not known: what stood in the way
    settle: str = ""  # not known: what would settle it
    container_insights: bool = False
    prometheus: bool = False
    source: str = ""  # where it was read: "addonProfiles.omsagent", "extension ci (Arc)"
    cluster: str = ""
    cluster_region: str = ""
    workspace_resource_id: str = ""  # the Log Analytics workspace
    workspace_customer_id: str = ""  # its GUID, naming the ingestion hosts
    workspace_problem: str = ""  # why the GUID is not known
    problems: list[str] = field(default_factory=list)  # fields that could not be read

    @property
    def on(self) -> bool:
        return self.container_insights or self.prometheus


async def monitoring(ctx: Context) -> Monitoring:
    """The run's one reading of the cluster's Azure Monitor configuration."""
    return await ctx.fact_async(MONITORING)


def cluster_named(ctx: Context) -> bool:
    """Whether the run names a cluster resource (ARM parameters, or an offline aks_json)."""
    return bool(ctx.param("aks_json")) or all(ctx.param(name) for name in CLUSTER_PARAMS)


async def _gather(ctx: Context) -> Monitoring:
    if not cluster_named(ctx):
        return Monitoring(
            False,
            "no cluster resource is named",
            "name the cluster (--set subscription_id=... resource_group=... cluster_name=..., or "
            "offline --set aks_json=FILE) so preflight can read its Azure Monitor settings",
        )
    read = await read_cluster(ctx)
    if read.cluster is None:
        problem = read.problem.message if read.problem is not None else "unknown"
        how = read.problem.remediation if read.problem is not None else ""
        return Monitoring(False, f"the cluster resource could not be read ({problem})", how)
    info = read.cluster
    state = Monitoring(True, cluster=info.name, cluster_region=info.location)
    if info.kind == "arc":
        await _arc(ctx, info, state)
    else:
        _aks(info, state)
    if state.known and state.container_insights and state.workspace_resource_id:
        await _customer_id(ctx, state)
    return state


def _aks(info: ClusterInfo, state: Monitoring) -> None:
    addons = info.props.get("addonProfiles")
    if addons is not None and not isinstance(addons, dict):
        state.problems.append(f"addonProfiles is {jsonshape.describe(addons)}, not an object")
        return
    key = next((k for k in (addons or {}) if str(k).lower() == "omsagent"), None)
    if key is not None:
        addon = (addons or {})[key]
        try:
            jsonshape.check(addon, _ADDON, "", at=f"addonProfiles.{key}")
        except ShapeError as exc:
            state.problems.append(exc.statement)
        else:
            if addon.get("enabled") is True:
                state.container_insights = True
                state.source = f"addonProfiles.{key}"
                config = addon.get("config") or {}
                state.workspace_resource_id = str(_get_ci(config, WORKSPACE_KEY) or "")
    profile = info.props.get("azureMonitorProfile")
    if profile is None:
        return
    try:
        jsonshape.check(profile, _MONITOR_PROFILE, "", at="azureMonitorProfile")
    except ShapeError as exc:
        state.problems.append(exc.statement)
        return
    if ((profile.get("metrics") or {}).get("enabled")) is True:
        state.prometheus = True
    insights = profile.get("containerInsights") or {}
    if insights.get("enabled") is True:
        state.container_insights = True
        state.source = state.source or "azureMonitorProfile.containerInsights"
        state.workspace_resource_id = state.workspace_resource_id or str(
            insights.get("logAnalyticsWorkspaceResourceId") or ""
        )


async def _arc(ctx: Context, info: ClusterInfo, state: Monitoring) -> None:
    path = f"{info.resource_id}/providers/Microsoft.KubernetesConfiguration/extensions"
    try:
        items = await ctx.arm.list(path, EXTENSIONS_API, item_shape=_EXTENSION)
    except ArmError as exc:
        problem = arm_error_problem(
            ctx,
            exc,
            what=f"the extensions of {info.name}",
            permission=f"Reader (Microsoft.KubernetesConfiguration/extensions/read) on {info.name}",
        )
        state.known = False
        state.why = f"the cluster's extensions could not be listed ({problem.message})"
        state.settle = problem.remediation
        return
    for item in items:
        props = item.get("properties") or {}
        if str(props.get("extensionType") or "").lower() != MONITOR_EXTENSION_TYPE:
            continue
        if str(props.get("provisioningState") or "").lower() in ("failed", "deleting"):
            state.problems.append(
                f"extension {item.get('name')} ({MONITOR_EXTENSION_TYPE}) is "
                f"{props.get('provisioningState')}"
            )
            continue
        state.container_insights = True
        state.source = f"extension {item.get('name')} ({MONITOR_EXTENSION_TYPE})"
        settings = props.get("configurationSettings") or {}
        state.workspace_resource_id = str(_get_ci(settings, WORKSPACE_KEY) or "")
        return


def _get_ci(mapping: dict[str, Any], key: str) -> Any:
    """``mapping[key]`` with the key matched case-insensitively (``...ResourceId`` is seen too)."""
    return next((v for k, v in mapping.items() if str(k).lower() == key.lower()), None)


async def _customer_id(ctx: Context, state: Monitoring) -> None:
    workspace = state.workspace_resource_id
    if not workspace.lower().startswith("/subscriptions/"):
        state.workspace_problem = f"{WORKSPACE_KEY} {workspace!r} is not an ARM resource id"
        return
    missing = await arm_missing(ctx)
    if missing is not None:
        state.workspace_problem = f"the Log Analytics workspace was not read: {missing[0]}"
        return
    try:
        document = await ctx.arm.get(quote(workspace, safe="/"), WORKSPACES_API, _WORKSPACE)
    except ArmError as exc:
        problem = arm_error_problem(
            ctx,
            exc,
            what=f"the Log Analytics workspace {workspace}",
            permission="Reader (Microsoft.OperationalInsights/workspaces/read) on the workspace",
        )
        state.workspace_problem = problem.message
        return
    customer = str((document.get("properties") or {}).get("customerId") or "")
    if not customer:
        state.workspace_problem = f"the Log Analytics workspace {workspace} has no customerId"
    state.workspace_customer_id = customer.lower()


#: the cluster's Azure Monitor configuration, read once per run
MONITORING: Fact[Monitoring] = Fact("the cluster's Azure Monitor configuration", _gather)
