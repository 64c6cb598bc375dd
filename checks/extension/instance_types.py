"""``extension.instance-types``: can every InstanceType schedule on this cluster?

One finding per instance type, targeted by its name: those in the cluster (when the
``instancetypes.amlarc.azureml.com`` CRD exists) and those planned in ``--instance-types
FILE`` (a planned one replaces the cluster's of the same name), plus ``defaultinstancetype``
as the docs define it when neither holds one (a workload naming no instance type gets it).

Rules, each from its source (checks/_shared/instance_types.py cites them in full):

- cpu and memory requests and limits are given and not zero; a GPU count only in ``limits`` and
  whole (the rules table of https://learn.microsoft.com/azure/machine-learning/how-to-manage-kubernetes-instance-types);
- requests <= limits, and a GPU request equal to its limit (Kubernetes refuses the pod otherwise:
  https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/);
- its ``nodeSelector`` does not contradict the extension's (planned ``nodeSelector.*`` of
  ``--extension-config``) and selects at least one eligible node, eligibility as
  ``nodes.capacity`` judges it (checks/_shared/nodes.py: Ready, schedulable, tolerated taints,
  linux/amd64, the extension's nodeSelector);
- its requests (cpu, memory, ``nvidia.com/gpu``) fit one matching node's allocatable (else
  ``fail``: the pods stay Pending); its cpu and memory limits too (else ``warn``: the pod
  schedules but can never use what the limit allows; DESIGN.md "Planned workloads").

An InstanceType read from the cluster that cannot be read (a quantity Kubernetes would refuse,
a field of the wrong type) is a ``fail`` naming it, never exit 2; the planned file was judged
before the run (``input_validators``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from preflight.api import Check, Context, Finding
from preflight.checks._shared.instance_types import (
    CLUSTER_INSTANCE_TYPES,
    CRD_NAME,
    DEFAULT_NAME,
    DEFAULT_TEXT,
    DOCS,
    DOCS_CREATE,
    DOCS_DEFAULT,
    JUDGED,
    ClusterInstanceTypes,
    InstanceType,
    allocatable,
    combined,
    contradictions,
    default_instance_type,
    matching,
    planned,
    selects,
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
from preflight.checks._shared.plan import Plan
from preflight.checks._shared.planfiles import amount_text

NAMES_SHOWN = 5
DETAIL_NAMES = 20
#: what the docs' prose still says of the default (stale; see _shared/instance_types.py)
DEFAULT_CONFLICT = (
    "the page's prose says the default is limited to 2 CPU cores and 8 GB of memory, text from "
    "its 11/09/2022 version; its YAML (2Gi) is current since extension 1.1.19/1.1.23 (release "
    "notes: 'Update default instance type to use 2Gi memory limit'); extensions before 1.1.19 "
    "used requests 100m / 500MB and limits 2 / 8Gi"
)


class InstanceTypes(Check):
    id = "extension.instance-types"
    title = "Every InstanceType can schedule on eligible nodes"
    category = "extension"
    needs = ("kube",)
    docs = DOCS
    parameters = {TOLERATIONS_PARAM: TOLERATIONS_HELP}
    input_validators = {"instance_types": validate_file}

    def run(self, ctx: Context) -> list[Finding]:
        planned_items = planned(ctx)
        try:
            nodes = survey(ctx)
        except Exception as exc:
            failure = kube_error(exc)
            if failure is None:
                raise  # a bug: the runner reports it
            kind, message, remedy = failure
            return [
                Finding.errored(
                    CRD_NAME, f"cannot list the cluster's nodes: {message}", remedy, kind=kind
                )
            ]
        cluster = ctx.fact(CLUSTER_INSTANCE_TYPES)
        return judge_all(cluster, planned_items, nodes, Plan(ctx.extension_settings).node_selector)


def judge_all(
    cluster: ClusterInstanceTypes,
    planned_items: list[InstanceType],
    nodes: NodeSurvey,
    extension_selector: dict[str, str],
) -> list[Finding]:
    """The findings for what was read: one per instance type (and a warning when the cluster's
    could not be read)."""
    findings: list[Finding] = []
    if cluster.error is not None:
        findings.append(
            Finding.warned(
                CRD_NAME,
                f"could not read the cluster's InstanceTypes ({cluster.failed_read}): "
                f"{cluster.error.message}",
                f"preflight needs: {cluster.permission}. {cluster.error.remediation()}",
                DOCS,
                **cluster.details(),
            )
        )
    items = combined(cluster.items, planned_items)
    cluster_names = {item.name for item in cluster.items}
    if cluster.error is None and not any(item.name == DEFAULT_NAME for item in items):
        items.append(default_instance_type())
    for item in items:
        finding = judge(item, nodes, extension_selector)
        finding.details.update(cluster.details())
        if item.source != "cluster" and item.name in cluster_names:
            finding.details["replaces"] = "the cluster's InstanceType of the same name"
        findings.append(finding)
    return findings


def judge(item: InstanceType, nodes: NodeSurvey, extension_selector: dict[str, str]) -> Finding:
    """One instance type against the surveyed nodes."""
    problems: list[tuple[str, str]] = []  # (what is wrong, what to change)
    warnings: list[tuple[str, str]] = []
    details: dict[str, Any] = {
        **item.describe(),
        "extension_node_selector": dict(extension_selector),
        "nodes_eligible": len(nodes.eligible),
    }
    if item.implied:
        details["documented_default"] = DEFAULT_TEXT
        details["docs_conflict"] = DEFAULT_CONFLICT
    for problem in item.problems:
        problems.append(
            (
                f"the object in the cluster cannot be read: {problem}",
                f"fix it (kubectl edit instancetype {item.name}) or re-apply it from a file "
                "that preflight --instance-types accepts",
            )
        )
    problems += _required(item)
    problems += _gpu(item)
    problems += _ordered(item)
    clash = contradictions(extension_selector, item.node_selector)
    for key, (theirs, ours) in clash.items():
        problems.append(
            (
                f"spec.nodeSelector {key}={ours} contradicts the extension's nodeSelector "
                f"{key}={theirs}: no node the extension may use carries both",
                f"set spec.nodeSelector.{key} to {theirs} (or remove it), or change "
                f"nodeSelector.{key} in the extension's settings",
            )
        )
    chosen = matching(nodes, item.node_selector)
    details["nodes_matching"] = len(chosen)
    details["matching"] = [n.name for n in chosen[:DETAIL_NAMES]]
    if not chosen and not clash:
        problems.append(_no_node(item, nodes, details))
    fit_text = ""
    if chosen:
        fit_problems, fit_warnings, fit_text = _fit(item, chosen, details)
        problems += fit_problems
        warnings += fit_warnings
    prefix = _prefix(item)
    if problems:
        return Finding.failed(
            item.name,
            prefix + "; ".join(text for text, _ in problems + warnings),
            "; ".join(dict.fromkeys(fix for _, fix in problems + warnings)),
            DOCS_DEFAULT if item.implied else DOCS_CREATE,
            **details,
        )
    if warnings:
        return Finding.warned(
            item.name,
            prefix + "; ".join(text for text, _ in warnings),
            "; ".join(dict.fromkeys(fix for _, fix in warnings)),
            DOCS_CREATE,
            **details,
        )
    return Finding.passed(item.name, prefix + fit_text, **details)


def _prefix(item: InstanceType) -> str:
    if item.implied:
        return (
            f"{DEFAULT_NAME} is not defined in the cluster or --instance-types, so workloads "
            f"naming no instance type get the documented default ({DEFAULT_TEXT}): "
        )
    return f"{item.source}: " if item.source != "cluster" else ""


# -- rules -----------------------------------------------------------------------------------------


def _required(item: InstanceType) -> list[tuple[str, str]]:
    """cpu and memory requests and limits: required, not zero (A's rules table)."""
    found = []
    examples = {"cpu": "100m", "memory": "1536Mi"}
    for section, amounts in (("requests", item.requests), ("limits", item.limits)):
        for resource in ("cpu", "memory"):
            path = f"spec.resources.{section}.{resource}"
            if any(problem.startswith(path) for problem in item.problems):
                continue  # named already: its value cannot be read
            if resource not in amounts:
                found.append(
                    (
                        f"{path} is missing (required: the instance type is refused without it)",
                        f"set {path} (e.g. {examples[resource]})",
                    )
                )
            elif amounts[resource] <= 0:
                found.append((f"{path} is zero (it can't be zero)", f"set {path} above zero"))
    return found


def _gpu(item: InstanceType) -> list[tuple[str, str]]:
    """GPUs: whole, in limits, a request equal to the limit (A; Kubernetes GPU scheduling)."""
    found = []
    limit = item.limits.get(GPU_RESOURCE)
    request = item.requests.get(GPU_RESOURCE)
    for section, value in (("limits", limit), ("requests", request)):
        if value is not None and value != int(value):
            found.append(
                (
                    f"spec.resources.{section}.{GPU_RESOURCE} is {value:g}: GPUs are whole",
                    f"set spec.resources.{section}.{GPU_RESOURCE} to a whole number "
                    f"(e.g. {max(1, int(value))})",
                )
            )
    if request is not None and limit is None and request > 0:
        found.append(
            (
                f"{GPU_RESOURCE} is given in requests only; GPUs can be specified only in limits",
                f"move {GPU_RESOURCE}: {request:g} from spec.resources.requests to "
                "spec.resources.limits",
            )
        )
    elif request is not None and limit is not None and request != limit:
        found.append(
            (
                f"requests.{GPU_RESOURCE} {request:g} differs from limits.{GPU_RESOURCE} "
                f"{limit:g}; Kubernetes requires them equal",
                f"remove spec.resources.requests.{GPU_RESOURCE} (the limit is the request)",
            )
        )
    return found


def _ordered(item: InstanceType) -> list[tuple[str, str]]:
    """requests <= limits, per resource (the API server refuses such a pod)."""
    found = []
    for resource in ("cpu", "memory"):
        request, limit = item.requests.get(resource), item.limits.get(resource)
        if request is not None and limit is not None and limit > 0 and request > limit:
            req, lim = amount_text(resource, request), amount_text(resource, limit)
            found.append(
                (
                    f"requests.{resource} {req} is above limits.{resource} {lim}: "
                    "Kubernetes refuses such pods (a request must be <= its limit)",
                    f"lower spec.resources.requests.{resource} to at most {lim}, or raise "
                    f"spec.resources.limits.{resource} to at least {req}",
                )
            )
    return found


def _no_node(item: InstanceType, nodes: NodeSurvey, details: dict[str, Any]) -> tuple[str, str]:
    """No eligible node carries every label of the selector: which labels are missing, which
    values eligible nodes do carry, and why nodes that carry them are excluded."""
    selector = item.node_selector
    wanted = " ".join(f"{k}={v}" for k, v in selector.items())
    if not nodes.eligible:
        details["excluded"] = nodes.by_reason()
        return (
            "no node is eligible for the extension's pods at all (see nodes.capacity): "
            + nodes.exclusion_summary(NAMES_SHOWN),
            "make nodes eligible first (nodes.capacity says why each is excluded)",
        )
    carrying = [n for n in nodes.nodes if selects(n, selector)]
    details["nodes_with_labels"] = len(carrying)
    values: dict[str, dict[str, int]] = {}
    for key in selector:
        seen = Counter(n.labels[key] for n in nodes.eligible if key in n.labels)
        values[key] = dict(seen.most_common(10))
    details["label_values_on_eligible_nodes"] = values
    if carrying:
        reasons = sorted({r.text for n in carrying for r in n.exclusions})
        details["excluded_carrying"] = [
            {"node": n.name, "why": [r.text for r in n.exclusions]} for n in carrying[:DETAIL_NAMES]
        ]
        return (
            f"spec.nodeSelector {wanted} matches {len(carrying)} node(s), none eligible: "
            + "; ".join(reasons[:NAMES_SHOWN]),
            "make those nodes eligible (nodes.capacity says why each is excluded), or label an "
            f"eligible node: kubectl label node NODE {wanted}",
        )
    present = "; ".join(
        f"{key}: " + (", ".join(f"{v} ({c} nodes)" for v, c in seen.items()) or "on no node")
        for key, seen in values.items()
    )
    return (
        f"spec.nodeSelector {wanted} matches none of the {len(nodes.eligible)} eligible nodes "
        f"(values on eligible nodes: {present})",
        f"label the nodes meant for it (kubectl label node NODE {wanted}) or change "
        "spec.nodeSelector to a label they carry",
    )


def _fit(
    item: InstanceType, chosen: list[NodeState], details: dict[str, Any]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """Requests (and GPUs) must fit one matching node; limits should."""
    problems: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    requests = item.effective_requests()
    gpu = item.limits.get(GPU_RESOURCE) or item.requests.get(GPU_RESOURCE) or 0.0
    if gpu:
        requests[GPU_RESOURCE] = gpu
    largest = {r: max(allocatable(n, r) for n in chosen) for r in JUDGED}
    details["largest_allocatable"] = {r: amount_text(r, v) for r, v in largest.items()}
    fitting = [n for n in chosen if all(allocatable(n, r) >= v for r, v in requests.items())]
    details["nodes_fitting_requests"] = len(fitting)
    if not fitting:
        short = [r for r, v in requests.items() if largest[r] < v]
        for resource in short:
            have, want = largest[resource], requests[resource]
            if resource == GPU_RESOURCE:
                problems.append(
                    (
                        f"it asks for {want:g} {GPU_RESOURCE} but the matching nodes offer at "
                        f"most {have:g}",
                        f"set spec.resources.limits.{GPU_RESOURCE} to at most {have:g}, or "
                        "select GPU nodes with spec.nodeSelector (their device plugin must "
                        "advertise nvidia.com/gpu: see gpu.device-plugin)",
                    )
                )
                continue
            section = "requests" if resource in item.requests else "limits"
            problems.append(
                (
                    f"{section}.{resource} {amount_text(resource, want)} is more than any "
                    f"matching node can allocate (largest: {amount_text(resource, have)})",
                    f"lower spec.resources.{section}.{resource} to at most "
                    f"{amount_text(resource, have)}, or add a node with more allocatable "
                    f"{resource} that carries the selected labels",
                )
            )
        if not short:
            problems.append(
                (
                    "no single matching node has room for all of its requests at once ("
                    + ", ".join(f"{r} {amount_text(r, v)}" for r, v in requests.items())
                    + ")",
                    "lower the requests or add a node large enough for all of them",
                )
            )
        return problems, warnings, ""
    for resource in ("cpu", "memory"):
        limit = item.limits.get(resource)
        if limit is not None and limit > largest[resource]:
            warnings.append(
                (
                    f"limits.{resource} {amount_text(resource, limit)} is more than any matching "
                    f"node can allocate (largest: {amount_text(resource, largest[resource])}): "
                    "the pods schedule but can never use what the limit allows",
                    f"lower spec.resources.limits.{resource} to at most "
                    f"{amount_text(resource, largest[resource])}",
                )
            )
    asked = ", ".join(f"{r} {amount_text(r, v)}" for r, v in requests.items())
    named = ", ".join(n.name for n in fitting[:NAMES_SHOWN])
    more = f" and {len(fitting) - NAMES_SHOWN} more" if len(fitting) > NAMES_SHOWN else ""
    selector = " ".join(f"{k}={v}" for k, v in item.node_selector.items()) or "none"
    text = (
        f"nodeSelector {selector} matches {len(chosen)} eligible node(s); its requests "
        f"({asked or 'none'}) fit {len(fitting)}: {named}{more}"
    )
    return problems, warnings, text


CHECKS = [InstanceTypes()]
