"""``connectivity.in-cluster``: DNS and HTTPS to the profile's hosts as every node pool sees
them, from the probe pods of checks/_shared/probe_fleet.py (``preflight run --in-cluster``).

A laptop's network is not the nodes' network: a firewall rule or a custom DNS zone can be right
for a jump box and wrong for a node pool (a GPU pool in another subnet, behind another route
table). One finding per host, per probe check, per pool; ``details.vantage`` is ``in-cluster``.
"""

from __future__ import annotations

from preflight.api import Check, Context, Finding
from preflight.checks._shared.probe_fleet import (
    ENABLE,
    IN_CLUSTER_DOCS,
    PARAMETERS,
    PROBE_FLEET,
    probe_finding,
    validate_max_pods,
    validate_nameserver,
    validate_probe_per,
)


class InClusterConnectivity(Check):
    id = "connectivity.in-cluster"
    title = "DNS and HTTPS from every node pool"
    category = "connectivity"
    needs = ("kube",)
    docs = IN_CLUSTER_DOCS
    parameters = PARAMETERS
    validators = {
        "probe_per": validate_probe_per,
        "probe_nameserver": validate_nameserver,
        "probe_max_pods": validate_max_pods,
    }

    def run(self, ctx: Context) -> list[Finding]:
        if not ctx.in_cluster:
            return [
                Finding.skipped(
                    None,
                    "skipped: probing from inside the cluster was not asked for",
                    ENABLE,
                )
            ]
        result = ctx.fact(PROBE_FLEET)
        if result.failure is not None:
            return [result.failure]
        findings: list[Finding] = []
        hosts = {h.fqdn: h for h in ctx.hosts() if h.fqdn}
        for skipped in result.skipped:
            findings.append(
                Finding.skipped(
                    f"pool {skipped.pool}",
                    skipped.reason,
                    "probe the pool once a node is Ready and schedulable (kubectl get nodes)",
                    node_pool=skipped.pool,
                    vantage="in-cluster",
                    pod_outcome="no usable node",
                )
            )
        for run in result.runs:
            if run.problem is not None:
                findings.append(run.problem)
                continue
            findings += [probe_finding(hosts, run, line) for line in run.lines]
            if run.cut_short is not None:
                findings.append(run.cut_short)
        return findings or [
            Finding.skipped(None, "no probe ran", "check that the cluster has Ready nodes")
        ]


CHECKS = [InClusterConnectivity()]
