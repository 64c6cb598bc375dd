"""``azure.monitoring``: whether Azure Monitor collects from the cluster (Container Insights:
AKS ``addonProfiles.omsagent`` or Arc's ``microsoft.azuremonitor.containers`` extension; managed
Prometheus: ``azureMonitorProfile.metrics``), and, when it does, which hosts that adds to the
run's egress checks.

What is read and how is in checks/_shared/monitoring.py; the hosts come from the profile's
``host_sets`` (AKS outbound-rules-control-egress.md, section "Azure Monitor - Managed
Prometheus, Container Insights, ...", ms.date 2026-06-18) through checks/_shared/cluster_hosts.py,
which ``dns.resolve`` and ``egress.https`` read too. Monitoring on is not a problem for Azure ML;
what this check guards against is a firewall that lets the extension through but not the
monitoring agents the same cluster runs. A field it cannot read is a warn naming it.
"""

from __future__ import annotations

from typing import Any

from preflight.api import Check, Context, Finding, Host
from preflight.checks._shared.cluster_hosts import hosts_for
from preflight.checks._shared.cluster_resource import VALIDATORS, read_cluster
from preflight.checks._shared.monitoring import (
    DOCS_CONTAINER_INSIGHTS,
    DOCS_MONITOR_EGRESS,
    Monitoring,
    monitoring,
)
from preflight.checks.azure.cluster_parameters import CLUSTER_PARAMETERS

TARGET = "monitoring"


def _host_details(hosts: list[Host]) -> list[dict[str, Any]]:
    return [
        {
            "host": h.target,
            "port": h.port,
            "rule": h.rendered_rule,
            "missing": list(h.missing),
            "purpose": h.spec.purpose,
        }
        for h in hosts
    ]


class AzureMonitoring(Check):
    id = "azure.monitoring"
    title = "Azure Monitor on the cluster, and the hosts it needs"
    category = "azure"
    docs = DOCS_CONTAINER_INSIGHTS
    parameters = CLUSTER_PARAMETERS
    validators = VALIDATORS

    async def run(self, ctx: Context) -> list[Finding]:
        read = await read_cluster(ctx)
        if read.cluster is None:
            return [read.failure(TARGET, "the cluster's Azure Monitor settings")]
        state = await monitoring(ctx)
        details: dict[str, Any] = {**read.cluster.details(), "cluster_region": state.cluster_region}
        if not state.known:
            return [
                Finding.warned(
                    TARGET,
                    f"cannot tell whether Azure Monitor collects from {read.cluster.name}: "
                    f"{state.why}",
                    state.settle or "run preflight again with Reader on the cluster",
                    DOCS_CONTAINER_INSIGHTS,
                    **details,
                )
            ]
        findings = [
            Finding.warned(
                TARGET,
                f"cannot read part of {read.cluster.name}'s Azure Monitor settings: {problem}",
                "check the cluster's monitoring settings (`az aks show --query "
                '"{addons: addonProfiles, monitor: azureMonitorProfile}"`, or `az k8s-extension '
                "list` on Arc); preflight does not assume monitoring is off",
                DOCS_CONTAINER_INSIGHTS,
                **details,
            )
            for problem in state.problems
        ]
        findings.append(_verdict(ctx, state, details))
        return findings


def _verdict(ctx: Context, state: Monitoring, details: dict[str, Any]) -> Finding:
    details = {
        **details,
        "container_insights": state.container_insights,
        "managed_prometheus": state.prometheus,
        "source": state.source or None,
        "log_analytics_workspace": state.workspace_resource_id or None,
        "log_analytics_workspace_id": state.workspace_customer_id or None,
    }
    name = state.cluster
    if not state.on:
        if state.problems:
            return Finding.warned(
                TARGET,
                f"no Azure Monitor collection found on {name}, but not every setting could be read",
                "see the other azure.monitoring findings",
                DOCS_CONTAINER_INSIGHTS,
                **details,
            )
        return Finding.passed(
            TARGET,
            f"{name} has neither Container Insights nor managed Prometheus on: no Azure Monitor "
            "hosts join the egress checks",
            **details,
        )
    hosts, sets = hosts_for(ctx, state)
    details["host_sets"] = list(sets)
    details["hosts"] = _host_details(hosts)
    what = " and ".join(
        w
        for w, on in (
            ("Container Insights", state.container_insights),
            ("managed Prometheus", state.prometheus),
        )
        if on
    )
    if not sets:
        return Finding.warned(
            TARGET,
            f"{name} has {what} on, but the profile {ctx.profile.name} lists no hosts for it "
            "(host_sets), so its egress is not checked",
            "add the Azure Monitor hosts of your cloud to the profile's host_sets "
            "(container_insights, managed_prometheus), as the built-in profiles do",
            DOCS_MONITOR_EGRESS,
            **details,
        )
    if state.container_insights and not state.workspace_resource_id:
        return Finding.warned(
            TARGET,
            f"{name} has Container Insights on ({state.source}) but names no Log Analytics "
            "workspace (logAnalyticsWorkspaceResourceID), so its ingestion hosts cannot be named",
            "check the add-on (`az aks addon show --addon monitoring`), or give the workspace's "
            "GUID with --set log_analytics_workspace_id=<customerId>",
            DOCS_CONTAINER_INSIGHTS,
            **details,
        )
    if state.container_insights and not state.workspace_customer_id:
        return Finding.warned(
            TARGET,
            f"{name} sends Container Insights data to {state.workspace_resource_id}, whose GUID "
            f"could not be read ({state.workspace_problem}): its ingestion hosts "
            "(<GUID>.ods.opinsights..., <GUID>.oms.opinsights...) are not checked",
            "grant Reader on the Log Analytics workspace, or give its GUID with --set "
            "log_analytics_workspace_id=<customerId> (`az monitor log-analytics workspace show "
            "--ids <id> --query customerId`)",
            DOCS_MONITOR_EGRESS,
            **details,
        )
    shown = ", ".join(h.target for h in hosts)
    return Finding.passed(
        TARGET,
        f"{name} has {what} on ({state.source or 'azureMonitorProfile'}): dns.resolve and "
        f"egress.https check its {len(hosts)} hosts too ({shown})",
        **details,
    )


CHECKS = [AzureMonitoring()]
