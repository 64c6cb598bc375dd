"""The hosts the cluster's own Azure configuration adds to the run's egress checks. No checks here.

A profile lists what every cluster needs under ``hosts``; what only some clusters need lives in
named ``host_sets`` (profiles/*.yaml) that a run checks only when the cluster resource says so:

- ``container_insights``: when Container Insights is on (``addonProfiles.omsagent``, or Arc's
  ``microsoft.azuremonitor.containers`` extension);
- ``managed_prometheus``: when ``azureMonitorProfile.metrics`` is on.

The facts come from monitoring.py. ``dns.resolve`` and ``egress.https`` (checks/connectivity) and
``azure.monitoring`` (checks/azure) read them here, so neither family imports the other. The
placeholders the sets use are filled from what was read: ``{cluster_region}`` (the cluster
resource's location) and ``{log_analytics_workspace_id}`` (the workspace's ``customerId``); a
``--set`` of the same name stands in when Azure could not be asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from preflight.api import Context, Fact, Finding, Host, Status
from preflight.checks._shared.monitoring import (
    DOCS_MONITOR_EGRESS,
    Monitoring,
    cluster_named,
    monitoring,
)

CONTAINER_INSIGHTS = "container_insights"
MANAGED_PROMETHEUS = "managed_prometheus"
SETS = (CONTAINER_INSIGHTS, MANAGED_PROMETHEUS)


@dataclass
class ClusterHosts:
    """The extra hosts of this run, and whether the cluster's configuration could be read."""

    known: bool
    hosts: list[Host] = field(default_factory=list)
    sets: tuple[str, ...] = ()  # the host sets that joined the run
    why: str = ""  # not known: why
    settle: str = ""  # not known: what would settle it
    #: the cluster is named but its configuration could not be read: the egress checks say so
    unknown_for_named_cluster: bool = False

    def note(self, check: str) -> Finding | None:
        """What ``check`` reports about hosts it could not know, if anything."""
        if self.known or not self.unknown_for_named_cluster:
            return None
        return Finding(
            Status.SKIP,
            "host_sets",
            "not checked: the hosts the cluster's Azure Monitor may need (Container Insights, "
            f"managed Prometheus) are not known: {self.why}",
            self.settle or "let preflight read the cluster resource",
            DOCS_MONITOR_EGRESS,
            details={"host_sets": list(SETS), "checked_by": check},
        )


async def cluster_hosts(ctx: Context) -> ClusterHosts:
    """The run's extra hosts (read once per run)."""
    return await ctx.fact_async(CLUSTER_HOSTS)


def hosts_for(ctx: Context, state: Monitoring) -> tuple[list[Host], tuple[str, ...]]:
    """The hosts of the sets ``state`` switches on, without repeats (a host in two sets once)."""
    values = {
        "cluster_region": state.cluster_region,
        "log_analytics_workspace_id": state.workspace_customer_id,
    }
    wanted = []
    if state.container_insights:
        wanted.append(CONTAINER_INSIGHTS)
    if state.prometheus:
        wanted.append(MANAGED_PROMETHEUS)
    hosts: list[Host] = []
    seen: set[tuple[str, int]] = set()
    used: list[str] = []
    for name in wanted:
        found = ctx.host_set(name, values)
        if found:
            used.append(name)
        for host in found:
            key = (host.target, host.port)
            if key not in seen:
                seen.add(key)
                hosts.append(host)
    return hosts, tuple(used)


async def _gather(ctx: Context) -> ClusterHosts:
    if not any(ctx.profile.host_sets.get(name) for name in SETS):
        return ClusterHosts(True)  # the profile has none: nothing could join
    state = await monitoring(ctx)
    if not state.known:
        return ClusterHosts(
            False,
            why=state.why,
            settle=state.settle,
            unknown_for_named_cluster=cluster_named(ctx),
        )
    hosts, used = hosts_for(ctx, state)
    profile_hosts = {(h.target, h.port) for h in ctx.hosts()}
    hosts = [h for h in hosts if (h.target, h.port) not in profile_hosts]
    return ClusterHosts(True, hosts, used)


#: the hosts the cluster's Azure configuration adds to this run
CLUSTER_HOSTS: Fact[ClusterHosts] = Fact("the hosts the cluster's configuration adds", _gather)
