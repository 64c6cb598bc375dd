"""``nodes.capacity``: do the eligible nodes meet the minimum for the planned workload?

Minimums (docs/reference/endpoints.md, "Azure ML extension facts", from the extension's
reference pages):

- production: 4 vCPU and 14 GB memory in the cluster;
- smallest node sizes: test inference-only or training-only 1 node of 2 vCPU / 7 GiB; test both
  1 node of 4 vCPU / 14 GiB; production inference 3 nodes of 4 vCPU / 14 GiB; production training
  1 node of 8 vCPU / 28 GiB;
- ``inferenceRouterHA`` (default True) runs 3 azureml-fe replicas on separate nodes and needs
  3 eligible nodes (the install's health check reports E40002 INSUFFICIENT_NODE otherwise).

Units, decided here: the node sizes are VM sizes (2/7, 4/14 and 8/28 are exactly
Standard_DS2_v2, DS3_v2 and DS4_v2), so each node's *capacity* is compared with them. Capacity is
what the kernel sees, a little below the VM's memory (a 7 GiB VM reports about 6.8 GiB), so a
node's memory counts when it reaches 95% of the documented GiB. Allocatable is capacity minus the
kubelet's reservations (a 16 GiB D4s_v3 keeps 12.5-14.8 GiB allocatable), so comparing it with a
VM size would fail every node of exactly that size. The cluster-wide production minimum is
compared with the *allocatable* total of the eligible nodes (that is what pods can use), in
decimal GB as the docs write it (14 GB = 13.04 GiB); a cluster whose capacity meets it but whose
allocatable does not is a warning, not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preflight.api import Check, Context, Finding
from preflight.checks._shared.nodes import (
    GB,
    GIB,
    TOLERATIONS_HELP,
    TOLERATIONS_PARAM,
    NodeState,
    NodeSurvey,
    format_cpu,
    format_gib,
    kube_error,
    survey,
)
from preflight.checks._shared.plan import DOCS_RESOURCES, DOCS_SETTINGS, Plan

TARGET = "cluster"
PURPOSE_PARAM = "purpose"
PURPOSES = ("production", "test")
HA_NODES = 3
HEALTH_E40002 = "E40002 INSUFFICIENT_NODE"
#: a node's memory capacity counts as a VM size when it reaches this share of it (see above)
CAPACITY_SLACK = 0.95
PRODUCTION_CPU = 4.0
PRODUCTION_MEMORY_GB = 14.0
NAMES_IN_MESSAGE = 5


@dataclass(frozen=True)
class SizeRule:
    """``nodes`` eligible nodes of at least ``cpu`` vCPU / ``memory_gib`` GiB (VM size)."""

    workload: str  # "inference", "training", "training and inference", "training or inference"
    cpu: float
    memory_gib: float
    nodes: int
    vm_example: str

    def fits(self, node: NodeState) -> bool:
        return (
            node.cpu_capacity >= self.cpu
            and node.memory_capacity >= self.memory_gib * GIB * CAPACITY_SLACK
        )

    @property
    def size(self) -> str:
        return f"{format_cpu(self.cpu)} vCPU / {self.memory_gib:g} GiB"


def size_rules(purpose: str, training: bool, inference: bool, ha: bool) -> list[SizeRule]:
    """The documented smallest node sizes for the planned workload (none known: the smallest)."""
    if purpose == "test":
        if training and inference:
            return [SizeRule("training and inference", 4, 14, 1, "Standard_DS3_v2")]
        workload = "training" if training else "inference" if inference else "training or inference"
        return [SizeRule(workload, 2, 7, 1, "Standard_DS2_v2")]
    rules = []
    if inference:
        # the 3 nodes carry the 3 router replicas; with inferenceRouterHA=False one suffices
        rules.append(SizeRule("inference", 4, 14, HA_NODES if ha else 1, "Standard_DS3_v2"))
    if training:
        rules.append(SizeRule("training", 8, 28, 1, "Standard_DS4_v2"))
    return rules


def purpose_of(ctx: Context) -> tuple[str, Finding | None]:
    """``--set purpose=test|production`` (default production), and a warning for a typo."""
    raw = ctx.param(PURPOSE_PARAM)
    if raw is None:
        return "production", None
    value = raw.strip().lower()
    if value in PURPOSES:
        return value, None
    return "production", Finding.warned(
        PURPOSE_PARAM,
        f"--set purpose={raw} is neither test nor production: production sizing assumed",
        "pass --set purpose=test for a test or proof-of-concept cluster, or "
        "--set purpose=production",
        DOCS_RESOURCES,
        value=raw,
    )


def remedies_for(codes: set[str]) -> str:
    """What to do about excluded nodes, for the reasons present."""
    steps = []
    if "not-ready" in codes:
        steps.append("bring NotReady nodes back (kubectl describe node NODE)")
    if "unschedulable" in codes:
        steps.append("uncordon nodes meant for workloads (kubectl uncordon NODE)")
    if "taint" in codes:
        steps.append(
            "remove taints the extension should ignore (kubectl taint node NODE KEY-), or, if "
            "you add tolerations to the extension's pods yourself, declare them with "
            f"--set {TOLERATIONS_PARAM}=key[=value][:Effect]"
        )
    if "os" in codes or "arch" in codes:
        steps.append("add a Linux amd64 node pool (the extension's images are linux/amd64)")
    if "node-selector" in codes:
        steps.append(
            "label the nodes the extension should use (kubectl label node NODE key=value) or "
            "fix nodeSelector.* in the planned settings"
        )
    if "resources" in codes:
        steps.append("check the kubelet of nodes reporting no allocatable resources")
    return "; ".join(steps) or "add nodes"


class NodesCapacity(Check):
    id = "nodes.capacity"
    title = "Eligible nodes meet the minimum for the planned workload"
    category = "cluster"
    needs = ("kube",)
    docs = DOCS_RESOURCES
    parameters = {
        PURPOSE_PARAM: "test or production (default): which documented cluster minimum applies",
        TOLERATIONS_PARAM: TOLERATIONS_HELP,
    }

    def run(self, ctx: Context) -> list[Finding]:
        plan = Plan(ctx.extension_settings)
        purpose, purpose_warning = purpose_of(ctx)
        findings = [purpose_warning] if purpose_warning else []
        try:
            nodes = survey(ctx)
        except Exception as exc:
            failure = kube_error(exc)
            if failure is None:
                raise  # a bug: the runner reports it
            kind, message, remedy = failure
            # the check cannot conclude about capacity: error, with what to do
            return findings + [
                Finding.errored(
                    TARGET, f"cannot list the cluster's nodes: {message}", remedy, kind=kind
                )
            ]
        if nodes.bad_tolerations:
            findings.append(
                Finding.warned(
                    TOLERATIONS_PARAM,
                    "--set extension_tolerations: not understood and ignored: "
                    + ", ".join(nodes.bad_tolerations),
                    "write each toleration as key[=value][:Effect] (Effect: NoSchedule, "
                    "PreferNoSchedule or NoExecute), comma-separated, e.g. "
                    "dedicated=ml:NoSchedule,CriticalAddonsOnly",
                    ignored=list(nodes.bad_tolerations),
                )
            )
        return findings + self.judge(nodes, plan, purpose, ctx.param(PURPOSE_PARAM) is None)

    def judge(
        self, nodes: NodeSurvey, plan: Plan, purpose: str, purpose_defaulted: bool
    ) -> list[Finding]:
        """The findings for surveyed nodes and a plan: what the rules conclude, nothing
        gathered (tests drive it with built surveys)."""
        known = plan.given and (plan.training or plan.inference)
        scope = _Scope(plan, purpose, known, purpose_defaulted)
        findings = [self._eligibility(nodes, scope)]
        if not nodes.eligible:
            return findings  # every other rule would only repeat "found 0"
        if not known or plan.inference:
            findings.append(self._router_ha(nodes, scope))
        for rule in size_rules(purpose, plan.training, plan.inference, scope.ha):
            findings.append(self._node_size(nodes, scope, rule))
        if purpose == "production":
            findings.append(self._cluster_total(nodes, scope))
        return findings

    # -- concerns --------------------------------------------------------------------------

    def _eligibility(self, nodes: NodeSurvey, scope: _Scope) -> Finding:
        cpu, memory = nodes.allocatable()
        details: dict[str, Any] = {
            "concern": "eligibility",
            "nodes_total": len(nodes.nodes),
            "nodes_eligible": len(nodes.eligible),
            "nodes_excluded": len(nodes.excluded),
            "excluded": nodes.by_reason(),
            "allocatable_cpu": round(cpu, 3),
            "allocatable_memory_gib": round(memory / GIB, 2),
            **nodes.settings_details(),
            **scope.details(),
        }
        rule = "Ready, schedulable, no untolerated NoSchedule/NoExecute taint, linux/amd64"
        if nodes.selector:
            rule += ", " + " ".join(f"{k}={v}" for k, v in nodes.selector.items())
        if not nodes.nodes:
            return Finding.failed(
                TARGET,
                "the cluster has no nodes: the extension's pods cannot run anywhere",
                "add a Linux amd64 node pool (az aks nodepool add ...) before installing",
                DOCS_RESOURCES,
                **details,
            )
        if not nodes.eligible:
            codes = {r.code for n in nodes.excluded for r in n.exclusions}
            return Finding.failed(
                TARGET,
                f"none of the {len(nodes.nodes)} nodes can run the extension's pods ({rule}): "
                + nodes.exclusion_summary(NAMES_IN_MESSAGE),
                remedies_for(codes),
                DOCS_SETTINGS if "node-selector" in codes else DOCS_RESOURCES,
                **details,
            )
        message = (
            f"{len(nodes.eligible)} of {len(nodes.nodes)} nodes are eligible ({rule}), with "
            f"{format_cpu(cpu)} vCPU / {format_gib(memory)} allocatable"
        )
        excluded = nodes.exclusion_summary(NAMES_IN_MESSAGE)
        return Finding.passed(TARGET, message + (f"; {excluded}" if excluded else ""), **details)

    def _router_ha(self, nodes: NodeSurvey, scope: _Scope) -> Finding:
        count = len(nodes.eligible)
        details: dict[str, Any] = {
            "concern": "router-ha",
            "inferenceRouterHA": "True" if scope.ha else "False",
            "nodes_eligible": count,
            "nodes_needed": HA_NODES if scope.ha else 1,
            **scope.details(),
        }
        if not scope.ha:
            extra = (
                f" ({count} eligible nodes would allow inferenceRouterHA=True, 3 replicas)"
                if count >= HA_NODES
                else ""
            )
            return Finding.passed(
                TARGET,
                f"inferenceRouterHA=False: one azureml-fe router replica fits on {count} eligible "
                f"node(s){extra}",
                **details,
            )
        if count >= HA_NODES:
            return Finding.passed(
                TARGET,
                f"inferenceRouterHA=True: 3 azureml-fe router replicas fit on {count} eligible "
                "nodes",
                **details,
            )
        excluded = nodes.exclusion_summary(NAMES_IN_MESSAGE)
        default = "" if scope.plan.explicit("inferenceRouterHA") else "it defaults to True; "
        message = (
            f"needs 3 eligible nodes for inferenceRouterHA=True, found {count}: "
            f"set inferenceRouterHA=False or add a node ({default}3 azureml-fe router replicas "
            "must run on separate nodes; the extension's install health check reports "
            f"{HEALTH_E40002})" + (f"; {excluded}" if excluded else "")
        )
        remedy = (
            f"add {HA_NODES - count} eligible node(s), or install with inferenceRouterHA=False "
            "(one router replica, no high availability)"
        )
        details.update(health_check=HEALTH_E40002, recommend={"inferenceRouterHA": "False"})
        if scope.known:
            return Finding.failed(TARGET, message, remedy, DOCS_SETTINGS, **details)
        # no planned settings: inference may not be planned at all, so only a warning
        return Finding.warned(
            TARGET,
            "if you enable inference: " + message,
            remedy + "; pass --extension-config with your planned settings for a firm answer",
            DOCS_SETTINGS,
            **details,
        )

    def _node_size(self, nodes: NodeSurvey, scope: _Scope, rule: SizeRule) -> Finding:
        fitting = [n for n in nodes.eligible if rule.fits(n)]
        needed = rule.nodes
        if needed > len(nodes.eligible):
            # too few nodes altogether is the router-HA finding's point: here, their size
            needed = len(nodes.eligible)
        smaller = [n for n in nodes.eligible if not rule.fits(n)]
        details: dict[str, Any] = {
            "concern": "node-size",
            "workload": rule.workload,
            "min_cpu": rule.cpu,
            "min_memory_gib": rule.memory_gib,
            "nodes_needed": rule.nodes,
            "nodes_meeting": len(fitting),
            "meeting": [n.name for n in fitting[:50]],
            "smaller": [
                {
                    "node": n.name,
                    "cpu": round(n.cpu_capacity, 3),
                    "memory_gib": round(n.memory_capacity / GIB, 2),
                }
                for n in smaller[:50]
            ],
            "smaller_count": len(smaller),
            "compared": "node capacity against the VM size (memory within 5%)",
            **scope.details(),
        }
        what = f"{scope.purpose} {rule.workload}"
        count = "1 node" if rule.nodes == 1 else f"{rule.nodes} nodes"
        if len(fitting) >= needed:
            named = ", ".join(n.name for n in fitting[:NAMES_IN_MESSAGE])
            more = f" and {len(fitting) - NAMES_IN_MESSAGE} more" if len(fitting) > 5 else ""
            fewer = (
                "; the node count itself is the inferenceRouterHA finding's point"
                if needed < rule.nodes
                else ""
            )
            return Finding.passed(
                TARGET,
                f"{what} needs {count} of at least {rule.size}{scope.assumed}: "
                f"{len(fitting)} eligible node(s) qualify ({named}{more}){fewer}",
                **details,
            )
        shown = ", ".join(f"{n.name} ({n.size_text()})" for n in smaller[:NAMES_IN_MESSAGE])
        more = f" and {len(smaller) - NAMES_IN_MESSAGE} more" if len(smaller) > 5 else ""
        lacking = needed - len(fitting)
        remedy = (
            f"add {lacking} node(s) of at least {rule.size} (e.g. {rule.vm_example}) to a "
            "Linux amd64 pool the extension can use"
        )
        if scope.purpose == "production" and scope.purpose_defaulted:
            remedy += "; for a test or proof-of-concept cluster pass --set purpose=test"
        return Finding.failed(
            TARGET,
            f"{what} needs {count} of at least {rule.size}{scope.assumed}, found "
            f"{len(fitting)} among {len(nodes.eligible)} eligible node(s); too small: "
            f"{shown}{more}",
            remedy,
            DOCS_RESOURCES,
            **details,
        )

    def _cluster_total(self, nodes: NodeSurvey, scope: _Scope) -> Finding:
        cpu, memory = nodes.allocatable()
        cap_cpu, cap_memory = nodes.capacity()
        details: dict[str, Any] = {
            "concern": "cluster-total",
            "allocatable_cpu": round(cpu, 3),
            "allocatable_memory_gb": round(memory / GB, 2),
            "capacity_cpu": round(cap_cpu, 3),
            "capacity_memory_gb": round(cap_memory / GB, 2),
            "min_cpu": PRODUCTION_CPU,
            "min_memory_gb": PRODUCTION_MEMORY_GB,
            **scope.details(),
        }
        minimum = f"{format_cpu(PRODUCTION_CPU)} vCPU / {PRODUCTION_MEMORY_GB:g} GB"
        have = f"{format_cpu(cpu)} vCPU / {memory / GB:.1f} GB ({format_gib(memory)})"
        if cpu >= PRODUCTION_CPU and memory >= PRODUCTION_MEMORY_GB * GB:
            return Finding.passed(
                TARGET,
                f"the {len(nodes.eligible)} eligible node(s) offer {have} allocatable, above the "
                f"production minimum of {minimum}{scope.assumed}",
                **details,
            )
        remedy = "add nodes or use a larger VM size for the node pool"
        if scope.purpose_defaulted:
            remedy += "; for a test or proof-of-concept cluster pass --set purpose=test"
        if cap_cpu >= PRODUCTION_CPU and cap_memory >= PRODUCTION_MEMORY_GB * GB:
            return Finding.warned(
                TARGET,
                f"the eligible nodes' capacity meets the production minimum of {minimum}, but "
                f"after the kubelet's reservations only {have} is allocatable to pods, and the "
                f"extension's own components take part of it{scope.assumed}",
                remedy,
                DOCS_RESOURCES,
                **details,
            )
        return Finding.failed(
            TARGET,
            f"the {len(nodes.eligible)} eligible node(s) offer {have} allocatable, below the "
            f"production minimum of {minimum} in the cluster{scope.assumed}",
            remedy,
            DOCS_RESOURCES,
            **details,
        )


@dataclass(frozen=True)
class _Scope:
    """What the sizing rules assume about the plan, said once for every finding."""

    plan: Plan
    purpose: str
    known: bool  # the planned settings name the workload
    purpose_defaulted: bool

    @property
    def ha(self) -> bool:
        return self.plan.flag("inferenceRouterHA")

    @property
    def assumed(self) -> str:
        """' (production sizing assumed: ...)' when the purpose was not given."""
        if not self.purpose_defaulted:
            return ""
        return " (production sizing assumed; --set purpose=test for a test cluster)"

    def details(self) -> dict[str, Any]:
        workload = [
            w
            for w, on in (("training", self.plan.training), ("inference", self.plan.inference))
            if on
        ]
        return {
            "sizing": self.purpose,
            "sizing_source": "default" if self.purpose_defaulted else "--set purpose",
            "planned_workload": " and ".join(workload) if self.known else "not given",
        }


CHECKS = [NodesCapacity()]
