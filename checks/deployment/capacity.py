"""``deployment.capacity``: do the replicas the planned deployment needs fit the free room of the
nodes its instance type selects?

- **Replicas**: v1 ``numReplicas``, or ``autoScaler.maxReplicas`` (default 10) when autoscaling;
  v2 ``instance_count`` (scale type ``default``), or ``scale_settings.max_instances`` (default
  1) for ``target_utilization``; or, given ``--set target_rps=`` and ``--set
  request_time_ms=``, seed 000's formula ``ceil(targetRps * reqTime / targetUtilization /
  maxReqPerContainer)`` with the plan's target utilization and concurrency (defaults 70 % and
  1; "Deploy a model to an Azure Kubernetes Service cluster with v1", "Autoscaling",
  https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service).
- **One replica** requests the v2 deployment's ``resources`` when given (they win over the
  instance type's, as the instance-type page says: "If you don't define the resources section,
  the system uses the instance type"), else its instance type's (``defaultinstancetype`` when
  none is named); v1 its ``containerResourceRequirements``. Requests default to limits.
  The platform adds to every replica pod (DESIGN.md: count them):
  the identity sidecar, 10m cpu / 100Mi memory requests ("online-deployment/identity-sidecar",
  "Recommended resource planning",
  https://learn.microsoft.com/azure/machine-learning/reference-kubernetes#recommended-resource-planning),
  and the storage initializer init container, 100m / 500Mi (observed, not documented: a model
  pod spec quoted in Azure/MachineLearningNotebooks#1900 and "at least 500 MB is always
  requested ... because of the storageinitializer init container", Azure/azure-cli#27672). A
  pod reserves the larger of its init container and the sum of its containers.
- **The router**: azureml-fe runs 3 replicas (1 with ``inferenceRouterHA=False``) of 900m cpu /
  800Mi memory requests each (same table), on separate nodes. When they already run, their
  pods are among the node's pods; otherwise their room is set aside first, on the eligible
  nodes with the most free room (where the scheduler's default scoring would put them).
- **Free room** of a node: allocatable minus the requests of the pods already on it (usage.py),
  and its free pod slots. Replicas are identical, so the count that fits is the sum over the
  selected nodes of what each holds: exact, no packing heuristic.

The message says how many replicas fit and what would make the rest fit: nodes of which size
(and labels), fewer replicas, or smaller requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from preflight.api import Check, Context, Finding, KubeError
from preflight.checks._shared.instance_types import (
    InstanceType,
    contradictions,
    matching,
    resolve,
    validate_file,
)
from preflight.checks._shared.nodes import (
    GPU_RESOURCE,
    TOLERATIONS_HELP,
    TOLERATIONS_PARAM,
    NodeState,
    NodeSurvey,
    kube_error,
    survey,
)
from preflight.checks._shared.plan import DOCS_RESOURCES, Plan
from preflight.checks._shared.planfiles import amount_text
from preflight.checks.deployment.config import (
    NO_DEPLOYMENT,
    known_instance_types,
    load_plan,
)
from preflight.checks.deployment.issues import ROUTER_DOCS
from preflight.checks.deployment.plan_file import DeploymentPlan, validate
from preflight.checks.deployment.usage import Usage, gather

MIB = 1024**2
#: per replica, what the platform adds (see the module docstring for the sources)
IDENTITY_SIDECAR = (0.010, 100 * MIB)
STORAGE_INITIALIZER = (0.100, 500 * MIB)
#: one azureml-fe replica's requests, and how many run
ROUTER = (0.900, 800 * MIB)
ROUTER_HA, ROUTER_SINGLE = 3, 1
RPS_PARAM, TIME_PARAM = "target_rps", "request_time_ms"
NAMES_SHOWN = 5
DETAIL_NODES = 20
EPSILON = 1e-9


def _positive_number(text: str) -> None:
    """``--set target_rps`` / ``request_time_ms``: a positive number (exit 2 otherwise)."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError("expected a positive number") from None
    if value <= 0:
        raise ValueError("expected a positive number")


@dataclass(frozen=True)
class Replica:
    """What one replica pod reserves (cores, bytes, GPUs), and what it is made of."""

    cpu: float
    memory: float
    gpu: float
    model: tuple[float, float, float]
    resources_from: str

    def text(self) -> str:
        parts = [
            f"cpu {amount_text('cpu', self.cpu)}",
            f"memory {amount_text('memory', self.memory)}",
        ]
        if self.gpu:
            parts.append(f"{GPU_RESOURCE} {self.gpu:g}")
        return " / ".join(parts)


@dataclass(frozen=True)
class Need:
    """How many replicas must fit: ``count`` (and the least, ``floor``, for an autoscaler)."""

    count: int
    floor: int
    source: str
    formula: dict[str, Any] | None = None


class DeploymentCapacity(Check):
    id = "deployment.capacity"
    title = "The planned deployment's replicas fit the free room of the selected nodes"
    category = "deployment"
    needs = ("kube",)
    docs = DOCS_RESOURCES
    parameters = {
        RPS_PARAM: "requests per second the deployment must serve (with request_time_ms: the "
        "replicas from the documented formula)",
        TIME_PARAM: "time one request takes, in milliseconds (with target_rps)",
        TOLERATIONS_PARAM: TOLERATIONS_HELP,
    }
    validators = {RPS_PARAM: _positive_number, TIME_PARAM: _positive_number}
    input_validators = {"deployment": validate, "instance_types": validate_file}

    def run(self, ctx: Context) -> list[Finding]:
        plan = load_plan(ctx)
        rps, seconds = ctx.param(RPS_PARAM), ctx.param(TIME_PARAM)
        target = plan.name if plan else "deployment"
        if bool(rps) != bool(seconds):
            missing = TIME_PARAM if rps else RPS_PARAM
            return [
                Finding.skipped(
                    target,
                    f"--set {RPS_PARAM} and --set {TIME_PARAM} go together; {missing} is missing",
                    f"pass --set {missing}=... too, or neither",
                )
            ]
        if plan is None and not rps:
            return [
                Finding.skipped(
                    None,
                    "no planned deployment given",
                    NO_DEPLOYMENT
                    + f", or --set {RPS_PARAM}=N --set {TIME_PARAM}=MS for the default instance "
                    "type",
                )
            ]
        known, _, read_details = known_instance_types(ctx)
        instance_type: InstanceType | None = None
        if plan is None or plan.version == "v2":
            wanted = plan.instance_type if plan else None
            instance_type = resolve(wanted, known)
            if instance_type is None:
                return [
                    Finding.skipped(
                        target,
                        f"cannot size: instance type {wanted!r} is not defined (see "
                        "deployment.config)",
                        f"create InstanceType {wanted} or pass it with --instance-types FILE",
                        **read_details,
                    )
                ]
        try:
            nodes = survey(ctx)
        except KubeError as exc:
            return [self._unreadable(target, exc)]
        try:
            usage = gather(ctx)
        except KubeError as exc:
            if exc.kind == "forbidden":  # lacks a grant: say which (a skip, not an error)
                return [
                    Finding.skipped(
                        target,
                        "cannot size the deployment: listing the pods of every namespace is "
                        f"not allowed ({exc.message})",
                        "apply deploy/rbac-capacity.yaml (list pods, cluster-wide) beside "
                        "deploy/rbac.yaml, or run with credentials that may list pods",
                        kind=exc.kind,
                    )
                ]
            return [self._unreadable(target, exc)]
        need = needed(plan, rps, seconds)
        replica = per_replica(plan, instance_type)
        extension = Plan(ctx.extension_settings)
        return [judge(target, plan, need, replica, instance_type, nodes, usage, extension)]

    @staticmethod
    def _unreadable(target: str | None, exc: KubeError) -> Finding:
        """The nodes or pods could not be read: no conclusion about the deployment."""
        failure = kube_error(exc)
        assert failure is not None
        kind, message, remedy = failure
        return Finding.errored(
            target, f"cannot read the cluster's nodes and pods: {message}", remedy, kind=kind
        )


def needed(plan: DeploymentPlan | None, rps: str | None, seconds: str | None) -> Need:
    """The replica count to fit (see the module docstring)."""
    if rps and seconds:
        utilization = Fraction(str(plan.target_utilization if plan else 70)) / 100
        concurrency = plan.max_concurrent if plan else 1
        exact = Fraction(rps) * Fraction(seconds) / 1000 / utilization / concurrency
        count = max(1, math.ceil(exact))
        formula = {
            "target_rps": rps,
            "request_time_ms": seconds,
            "target_utilization": float(utilization),
            "max_concurrent_requests": concurrency,
            "exact": round(float(exact), 3),
            "formula": "ceil(target_rps * request_time_s / target_utilization / "
            "max_concurrent_requests) (seed 000)",
        }
        if plan is not None:
            formula["plan_replicas"] = plan.replicas
            formula["plan_replicas_from"] = plan.replicas_from
        return Need(count, count, f"--set {RPS_PARAM}/{TIME_PARAM} (formula)", formula)
    assert plan is not None
    floor = min(plan.minimum, plan.replicas) if plan.autoscale else plan.replicas
    return Need(max(0, plan.replicas), max(0, floor), plan.replicas_from)


def per_replica(plan: DeploymentPlan | None, instance_type: InstanceType | None) -> Replica:
    """One replica pod's requests, with the platform's additions."""
    if plan is not None and plan.resources_from and (plan.requests or plan.limits):
        requests = {r: plan.requests.get(r, plan.limits.get(r, 0.0)) for r in ("cpu", "memory")}
        gpu = plan.limits.get(GPU_RESOURCE, plan.requests.get(GPU_RESOURCE, 0.0))
        source = plan.resources_from
        if instance_type is not None:
            source += f" (they win over instance type {instance_type.name}'s)"
    elif instance_type is not None:
        requests = {r: instance_type.request(r) for r in ("cpu", "memory")}
        gpu = (
            instance_type.limits.get(GPU_RESOURCE) or instance_type.requests.get(GPU_RESOURCE) or 0
        )
        source = f"instance type {instance_type.name} ({instance_type.source})"
    else:  # pragma: no cover - a v1 plan always has requests
        requests, gpu, source = {"cpu": 0.1, "memory": 0.5e9}, 0.0, "v1 defaults"
    cpu = max(requests["cpu"] + IDENTITY_SIDECAR[0], STORAGE_INITIALIZER[0])
    memory = max(requests["memory"] + IDENTITY_SIDECAR[1], STORAGE_INITIALIZER[1])
    return Replica(
        cpu, memory, float(gpu), (requests["cpu"], requests["memory"], float(gpu)), source
    )


@dataclass
class _Room:
    node: NodeState
    cpu: float
    memory: float
    gpu: float
    pods: float

    def holds(self, replica: Replica) -> int:
        counts = [self.pods]
        for free, want in ((self.cpu, replica.cpu), (self.memory, replica.memory)):
            if want > 0:
                counts.append(free / want)
        if replica.gpu > 0:
            counts.append(self.gpu / replica.gpu)
        return max(0, int(math.floor(min(counts) + EPSILON)))


def free_room(node: NodeState, usage: Usage) -> _Room:
    cpu, memory, gpu, pods = usage.of(node.name)
    return _Room(
        node,
        max(0.0, node.cpu_allocatable - cpu),
        max(0.0, node.memory_allocatable - memory),
        max(0.0, node.gpu_allocatable - gpu),
        max(0.0, node.pods_allocatable - pods),
    )


def reserve_router(rooms: dict[str, _Room], usage: Usage, ha: bool) -> dict[str, Any]:
    """Set aside azureml-fe's room when it does not run yet (most free room first, one replica
    per node); what was done, for the details."""
    if usage.routers:
        return {"running": usage.routers[:10], "counted": "among the pods already on the nodes"}
    wanted = ROUTER_HA if ha else ROUTER_SINGLE
    ordered = sorted(rooms.values(), key=lambda r: (-r.cpu, -r.memory, r.node.name))
    placed: list[str] = []
    for room in ordered:
        if len(placed) == wanted:
            break
        if (
            room.cpu + EPSILON >= ROUTER[0]
            and room.memory + EPSILON >= ROUTER[1]
            and room.pods >= 1
        ):
            room.cpu -= ROUTER[0]
            room.memory -= ROUTER[1]
            room.pods -= 1
            placed.append(room.node.name)
    return {
        "running": [],
        "reserved": placed,
        "replicas": wanted,
        "requests_each": "cpu 900m / memory 800Mi",
        "unplaced": wanted - len(placed),
    }


def judge(
    target: str,
    plan: DeploymentPlan | None,
    need: Need,
    replica: Replica,
    instance_type: InstanceType | None,
    nodes: NodeSurvey,
    usage: Usage,
    extension: Plan,
) -> Finding:
    """The finding for what was read (no API calls: tests and the benchmark drive it)."""
    selector = dict(instance_type.node_selector) if instance_type else {}
    rooms = {n.name: free_room(n, usage) for n in nodes.eligible}
    router = reserve_router(rooms, usage, extension.flag("inferenceRouterHA"))
    clash = contradictions(extension.node_selector, selector)
    chosen = [] if clash else matching(nodes, selector)
    fits = [(rooms[n.name], rooms[n.name].holds(replica)) for n in chosen]
    total = sum(count for _, count in fits)
    details: dict[str, Any] = {
        "replicas_needed": need.count,
        "replicas_from": need.source,
        "replicas_fitting": total,
        "replica_requests": replica.text(),
        "resources_from": replica.resources_from,
        "model_container_requests": {
            "cpu": amount_text("cpu", replica.model[0]),
            "memory": amount_text("memory", replica.model[1]),
            GPU_RESOURCE: replica.model[2],
        },
        "platform_per_replica": {
            "identity-sidecar": "cpu 10m / memory 100Mi (reference-kubernetes, documented)",
            "storage-initializer (init)": "cpu 100m / memory 500Mi (observed in issues, "
            "not documented)",
        },
        "instance_type": instance_type.name if instance_type else None,
        "node_selector": selector,
        "extension_node_selector": extension.node_selector,
        "nodes_eligible": len(nodes.eligible),
        "nodes_selected": len(chosen),
        "router": router,
        "pods_counted": usage.pods,
        "pods_unscheduled": usage.unscheduled,
        "nodes": [
            {
                "node": room.node.name,
                "free_cpu": amount_text("cpu", room.cpu),
                "free_memory": amount_text("memory", room.memory),
                "free_gpu": room.gpu,
                "free_pods": room.pods,
                "replicas": count,
            }
            for room, count in sorted(fits, key=lambda f: -f[1])[:DETAIL_NODES]
        ],
    }
    if need.formula:
        details["formula"] = need.formula
    where = _where(instance_type, selector, len(chosen))
    if need.count == 0:
        return Finding.passed(target, f"{need.source} is 0: no replica to place", **details)
    if not chosen:
        why = (
            "its nodeSelector contradicts the extension's ("
            + ", ".join(f"{k}={v[1]} vs {v[0]}" for k, v in clash.items())
            + ")"
            if clash
            else "no eligible node matches it"
        )
        return Finding.failed(
            target,
            f"none of the {need.count} replicas can be placed: {_where(instance_type, selector)} "
            f"selects no eligible node ({why})",
            "see extension.instance-types for the labels to add or the selector to change",
            DOCS_RESOURCES,
            **details,
        )
    below = _plan_below(plan, need, details)
    if total >= need.count:
        text = (
            f"all {need.count} replicas ({need.source}) fit on {where}: free room for {total} "
            f"replicas of {replica.text()} each (incl. the platform's identity sidecar and "
            "model initializer)"
        )
        if below:
            return Finding.warned(target, text + "; " + below[0], below[1], ROUTER_DOCS, **details)
        return Finding.passed(target, text, **details)
    return _short(target, plan, need, replica, total, fits, where, details, below)


def _plan_below(
    plan: DeploymentPlan | None, need: Need, details: dict[str, Any]
) -> tuple[str, str] | None:
    """With the formula: the plan's own replica count (or autoscaler maximum) below what the
    load needs, which no node can fix."""
    if not need.formula or plan is None or plan.replicas >= need.count:
        return None
    details["plan_below_load"] = True
    return (
        f"but the plan's {plan.replicas_from} is {plan.replicas}, below the {need.count} the "
        "load needs",
        f"raise {plan.replicas_from.split(' ')[0]} to at least {need.count}",
    )


def _where(instance_type: InstanceType | None, selector: dict[str, str], count: int = -1) -> str:
    """``the 3 eligible node(s) instance type gpu (pool=gpu) selects`` (or, with no count,
    ``instance type gpu (pool=gpu)``)."""
    if instance_type is None:
        return f"the {count} eligible node(s)" if count >= 0 else "the extension's eligible nodes"
    labels = " ".join(f"{k}={v}" for k, v in selector.items()) or "no nodeSelector"
    named = f"instance type {instance_type.name} ({labels})"
    return f"the {count} eligible node(s) {named} selects" if count >= 0 else named


def _short(
    target: str,
    plan: DeploymentPlan | None,
    need: Need,
    replica: Replica,
    total: int,
    fits: list[tuple[_Room, int]],
    where: str,
    details: dict[str, Any],
    below: tuple[str, str] | None,
) -> Finding:
    """Not every replica fits: how many do, and what would make the rest fit."""
    model, per_node = max(
        ((room.node, _empty(room.node).holds(replica)) for room, _ in fits),
        key=lambda m: (m[1], m[0].cpu_allocatable, m[0].memory_allocatable),
    )
    rest = need.count - total
    labels = " ".join(f"{k}={v}" for k, v in details["node_selector"].items())
    fixes: list[str] = []
    if per_node == 0:
        short = [
            f"{name} {amount_text(name, want)} > {amount_text(name, have)}"
            for name, want, have in (
                ("cpu", replica.cpu, model.cpu_allocatable),
                ("memory", replica.memory, model.memory_allocatable),
            )
            if want > have
        ]
        if replica.gpu > model.gpu_allocatable:
            short.append(f"{GPU_RESOURCE} {replica.gpu:g} > {model.gpu_allocatable:g}")
        fixes.append(
            f"one replica ({replica.text()}) needs more than the largest selected node "
            f"{model.name} can allocate ({'; '.join(short)}): lower the deployment's requests "
            "or add larger nodes"
        )
        details["largest_node_holds"] = 0
    else:
        add = math.ceil(rest / per_node)
        gpus = f", {model.gpu_allocatable:g} {GPU_RESOURCE}" if replica.gpu else ""
        fixes.append(
            f"add {add} node(s) like {model.name} ({model.size_text()}{gpus}, {per_node} "
            "replicas each when empty)" + (f" labelled {labels}" if labels else "")
        )
        details["nodes_to_add"] = add
        details["largest_node_holds"] = per_node
    if total > 0:
        fixes.append(f"or lower the replicas to {total} ({_field(plan, need)})")
    fixes.append("or free room on the selected nodes (see details.nodes)")
    status_fail = total < need.floor
    count_text = (
        f"{total} of the {need.count} replicas ({need.source}) fit on {where} "
        f"({replica.text()} each, incl. the platform's identity sidecar and model "
        f"initializer); the other {rest} would stay Pending"
    )
    if below:
        count_text += "; " + below[0]
        fixes.insert(0, below[1])
    if status_fail:
        return Finding.failed(target, count_text, "; ".join(fixes), DOCS_RESOURCES, **details)
    return Finding.warned(
        target,
        count_text + f", so the autoscaler cannot reach {need.count} (its minimum "
        f"{need.floor} fits)",
        "; ".join(fixes),
        ROUTER_DOCS,
        **details,
    )


def _empty(node: NodeState) -> _Room:
    """The room of ``node`` with nothing on it (what one more node like it would add)."""
    return _Room(
        node,
        node.cpu_allocatable,
        node.memory_allocatable,
        node.gpu_allocatable,
        node.pods_allocatable,
    )


def _field(plan: DeploymentPlan | None, need: Need) -> str:
    if need.formula:
        return f"a lower --set {RPS_PARAM}, or faster requests"
    return need.source.split(" ")[0]


CHECKS = [DeploymentCapacity()]
