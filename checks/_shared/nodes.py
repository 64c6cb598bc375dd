"""Which nodes can run the Azure ML extension's pods, and how big they are.

Shared by ``nodes.capacity`` and ``extension.config`` (no checks here). A node is *eligible* when
the extension's pods could be scheduled on it: Ready, not cordoned, no NoSchedule/NoExecute taint
that the extension does not tolerate, ``kubernetes.io/os=linux``, ``kubernetes.io/arch=amd64`` and
every label of the planned ``nodeSelector``. The node list is read once per run (the Kubernetes
client caches it) and assessed once per run (``survey`` caches the result on the context), in one
pass with no per-node API call, so 5,000 nodes cost milliseconds here.

The extension documents no tolerations of its own (its settings table:
https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension#review-azure-machine-learning-extension-configuration-settings),
so any taint excludes a node unless the user declares a toleration they add themselves with
``--set extension_tolerations=key[=value][:Effect],...``. The same toleration rules serve the
checks that read other pods' tolerations (``gpu.device-plugin``) and that start probe pods on
tainted nodes (``pod_tolerations``).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Context, Fact, KubeError
from preflight.checks._shared.plan import Plan

NODES_PATH = "/api/v1/nodes"
GPU_RESOURCE = "nvidia.com/gpu"
#: names listed per exclusion reason in a finding's details; the rest are counted
MAX_NAMES = 50
GIB = 1024**3
GB = 1000**3

TOLERATIONS_PARAM = "extension_tolerations"
TOLERATIONS_HELP = (
    "tolerations you add to the extension's pods, as key[=value][:Effect],... "
    "(a key alone tolerates any value; '*' any key); tainted nodes they tolerate count as eligible"
)
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

# Taints the node lifecycle controller adds for a condition already named as a reason.
_CONDITION_TAINTS = {
    "node.kubernetes.io/unschedulable": "unschedulable",
    "node.kubernetes.io/not-ready": "not-ready",
    "node.kubernetes.io/unreachable": "not-ready",
}

# -- quantities --------------------------------------------------------------------------------

_QUANTITY = re.compile(
    r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?\s*$"
)
_SUFFIX = {
    "": 1.0,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 1024.0,
    "Mi": 1024.0**2,
    "Gi": 1024.0**3,
    "Ti": 1024.0**4,
    "Pi": 1024.0**5,
    "Ei": 1024.0**6,
}


def parse_quantity(text: Any) -> float | None:
    """A Kubernetes resource quantity in base units: ``"3860m"`` -> 3.86 (cores),
    ``"16Gi"`` -> 17179869184.0 (bytes), ``"15.5G"`` -> 15.5e9, ``"1e9"`` -> 1e9.

    None for anything that is not a quantity (the API server never sends one, but a report
    must not crash on a hand-made node)."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        try:
            value = float(text)
        except OverflowError:  # an integer beyond any float
            return None
        return value if math.isfinite(value) else None
    if not isinstance(text, str):
        return None
    return _parse_text(text)


@functools.lru_cache(maxsize=4096)  # a pool's nodes share their values: parse each once
def _parse_text(text: str) -> float | None:
    match = _QUANTITY.match(text)
    if match is None:
        return None
    number, suffix, exponent = match.groups()
    try:
        value = float(number)
        if exponent is not None:
            power = int(exponent)
            if abs(power) > 400:  # beyond any float: not a size a node can have
                return None
            value *= 10.0**power
        else:
            value *= _SUFFIX[suffix or ""]
    except (OverflowError, ValueError):
        return None
    return value if math.isfinite(value) else None


def format_cpu(cores: float) -> str:
    """3.86 -> '3.86', 4.0 -> '4' (vCPU)."""
    return f"{cores:.2f}".rstrip("0").rstrip(".") if cores else "0"


def format_gib(value: float) -> str:
    """Bytes as GiB with one decimal: '15.6 GiB'."""
    return f"{value / GIB:.1f} GiB"


# -- tolerations -------------------------------------------------------------------------------


#: taints the node lifecycle controller sets on sick nodes: a probe pod never tolerates them
LIFECYCLE_TAINTS = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")


@dataclass(frozen=True)
class Toleration:
    """A toleration of a pod (Kubernetes matching rules): one the user adds to the extension's
    pods (``parse_tolerations``), or one of a pod spec (``from_spec``)."""

    key: str  # "" (written "*") tolerates every key
    value: str | None  # None: operator Exists (any value)
    effect: str | None  # None: every effect

    @classmethod
    def from_spec(cls, toleration: Mapping[str, Any]) -> Toleration:
        """A pod spec's toleration (``{"key": ..., "operator": "Exists"|"Equal", "value": ...,
        "effect": ...}``; an empty key tolerates every taint)."""
        exists = (toleration.get("operator") or "Equal") == "Exists"
        return cls(
            str(toleration.get("key") or ""),
            None if exists else str(toleration.get("value") or ""),
            str(toleration.get("effect") or "") or None,
        )

    def tolerates(self, key: str, value: str, effect: str) -> bool:
        if self.key and self.key != key:
            return False
        if self.value is not None and self.value != value:
            return False
        return self.effect is None or self.effect == effect

    def __str__(self) -> str:
        text = self.key or "*"
        if self.value is not None:
            text += f"={self.value}"
        return text + (f":{self.effect}" if self.effect else "")


def parse_tolerations(text: str | None) -> tuple[list[Toleration], list[str]]:
    """``"dedicated=ml:NoSchedule,CriticalAddonsOnly"`` -> (tolerations, entries not understood)."""
    tolerations: list[Toleration] = []
    bad: list[str] = []
    for raw in (text or "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        body, colon, effect_text = entry.rpartition(":") if ":" in entry else (entry, "", "")
        effect: str | None = None
        if colon:
            effect = next((e for e in EFFECTS if e.lower() == effect_text.strip().lower()), None)
            if effect is None:
                bad.append(entry)
                continue
        key, eq, value = body.partition("=")
        key = key.strip()
        if key in ("", "*"):  # Kubernetes' empty key with operator Exists: every taint
            if eq:
                bad.append(entry)
                continue
            key = ""
        elif not LABEL_KEY.match(key):
            bad.append(entry)
            continue
        tolerations.append(Toleration(key, value.strip() if eq else None, effect))
    return tolerations, bad


def pod_tolerations(taints: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The pod spec tolerations that tolerate exactly ``taints`` (a GPU pool's
    ``sku=gpu:NoSchedule``), once each, never the lifecycle taints of sick nodes: how preflight's
    own probe pods get onto tainted nodes."""
    found: dict[tuple[str, str, str], dict[str, str]] = {}
    for taint in taints:
        key = str(taint.get("key") or "")
        if not key or key.startswith(LIFECYCLE_TAINTS):
            continue
        value, effect = str(taint.get("value") or ""), str(taint.get("effect") or "")
        toleration = {"key": key, "operator": "Equal" if value else "Exists"}
        if value:
            toleration["value"] = value
        if effect:
            toleration["effect"] = effect
        found[(key, value, effect)] = toleration
    return list(found.values())


def taint_text(key: str, value: str, effect: str) -> str:
    """``sku=gpu:NoSchedule``, or ``nvidia.com/gpu:NoSchedule`` for a taint without a value."""
    return f"{key}={value}:{effect}" if value else f"{key}:{effect}"


# -- node assessment ---------------------------------------------------------------------------

#: a label key: optional DNS-subdomain prefix and '/', then a name of at most 63 characters
LABEL_KEY = re.compile(
    r"^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
#: a label value: empty, or at most 63 characters of [-A-Za-z0-9_.] starting and ending alphanumeric
LABEL_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


@dataclass(frozen=True)
class Exclusion:
    """Why one node cannot take the extension's pods: a reason code and the text users read.

    ``text`` names no node, so nodes sharing a reason (a pool's taint) group under one line."""

    code: str  # not-ready | unschedulable | taint | os | arch | node-selector | resources
    text: str


@dataclass(frozen=True)
class NodeState:
    """One node as the sizing rules see it (bytes and cores; None when unreadable)."""

    name: str
    exclusions: tuple[Exclusion, ...]
    cpu_allocatable: float
    memory_allocatable: float
    cpu_capacity: float
    memory_capacity: float
    #: the node's labels (what an InstanceType's nodeSelector matches)
    labels: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    #: allocatable ``nvidia.com/gpu`` (whole GPUs) and pod slots (``pods``; 110 when unread)
    gpu_allocatable: float = 0.0
    pods_allocatable: float = 110.0

    @property
    def eligible(self) -> bool:
        return not self.exclusions

    def size_text(self) -> str:
        return f"{format_cpu(self.cpu_capacity)} vCPU / {format_gib(self.memory_capacity)}"


def _platform(labels: Mapping[str, str], info: Mapping[str, Any], what: str) -> str:
    """``kubernetes.io/os`` (or arch) from the labels, the beta label, or ``status.nodeInfo``."""
    value = labels.get(f"kubernetes.io/{what}") or labels.get(f"beta.kubernetes.io/{what}")
    if value is None:
        value = info.get("operatingSystem" if what == "os" else "architecture")
    return str(value or "")


def _readiness(conditions: Iterable[Any]) -> Exclusion | None:
    for condition in conditions:
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            status = condition.get("status")
            if status == "True":
                return None
            if status == "Unknown":
                return Exclusion(
                    "not-ready", "NotReady: status Unknown, the kubelet stopped reporting"
                )
            return Exclusion("not-ready", "NotReady")
    return Exclusion("not-ready", "NotReady: no Ready condition reported")


def assess(
    node: Mapping[str, Any],
    selector: Mapping[str, str],
    tolerations: Iterable[Toleration] = (),
) -> NodeState:
    """Whether ``node`` (a raw Node object from the API) can take the extension's pods."""
    metadata = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    labels = metadata.get("labels") or {}
    name = str(metadata.get("name") or "(unnamed)")
    reasons: list[Exclusion] = []

    ready = _readiness(status.get("conditions") or ())
    if ready is not None:
        reasons.append(ready)
    if spec.get("unschedulable"):
        reasons.append(Exclusion("unschedulable", "cordoned: spec.unschedulable=true"))
    tolerations = tuple(tolerations)
    for taint in spec.get("taints") or ():
        if not isinstance(taint, Mapping):
            continue
        effect = str(taint.get("effect") or "")
        if effect not in BLOCKING_EFFECTS:
            continue  # PreferNoSchedule only steers pods away
        key, value = str(taint.get("key") or ""), str(taint.get("value") or "")
        covered = _CONDITION_TAINTS.get(key)
        if covered and any(r.code == covered for r in reasons):
            continue  # the lifecycle controller's taint for a reason already named
        if any(t.tolerates(key, value, effect) for t in tolerations):
            continue
        reasons.append(Exclusion("taint", f"taint {taint_text(key, value, effect)} not tolerated"))
    info = status.get("nodeInfo") or {}
    os_name = _platform(labels, info, "os")
    if os_name != "linux":
        reasons.append(
            Exclusion("os", f"kubernetes.io/os={os_name or '(unset)'}, the extension needs linux")
        )
    arch = _platform(labels, info, "arch")
    if arch != "amd64":
        reasons.append(
            Exclusion("arch", f"kubernetes.io/arch={arch or '(unset)'}, the extension needs amd64")
        )
    for key, wanted in selector.items():
        if labels.get(key) != wanted:
            reasons.append(
                Exclusion("node-selector", f"label {key}={wanted} of nodeSelector not on the node")
            )

    allocatable = status.get("allocatable") or {}
    capacity = status.get("capacity") or {}
    cpu_alloc = parse_quantity(allocatable.get("cpu"))
    mem_alloc = parse_quantity(allocatable.get("memory"))
    cpu_cap = parse_quantity(capacity.get("cpu"))
    mem_cap = parse_quantity(capacity.get("memory"))
    if cpu_alloc is None or mem_alloc is None:
        reasons.append(
            Exclusion("resources", "no readable allocatable cpu/memory in the node's status")
        )
    cpu_alloc, mem_alloc = cpu_alloc or 0.0, mem_alloc or 0.0
    pods = parse_quantity(allocatable.get("pods"))
    return NodeState(
        name,
        tuple(reasons),
        cpu_alloc,
        mem_alloc,
        cpu_cap if cpu_cap is not None else cpu_alloc,
        mem_cap if mem_cap is not None else mem_alloc,
        labels if isinstance(labels, Mapping) else {},
        parse_quantity(allocatable.get(GPU_RESOURCE)) or 0.0,
        pods if pods is not None else 110.0,
    )


@dataclass
class NodeSurvey:
    """Every node assessed against the planned settings and the user's tolerations."""

    nodes: list[NodeState]
    selector: dict[str, str]
    tolerations: list[Toleration]
    bad_tolerations: list[str]
    #: nodeSelector label -> how many nodes carry it with the wanted value (any eligibility)
    selector_matches: dict[str, int] = field(default_factory=dict)
    #: how many nodes carry every nodeSelector label (any eligibility)
    selector_all: int = 0

    @functools.cached_property
    def eligible(self) -> list[NodeState]:
        return [n for n in self.nodes if n.eligible]

    @functools.cached_property
    def excluded(self) -> list[NodeState]:
        return [n for n in self.nodes if not n.eligible]

    def allocatable(self) -> tuple[float, float]:
        """Total allocatable (cores, bytes) over eligible nodes."""
        return (
            sum(n.cpu_allocatable for n in self.eligible),
            sum(n.memory_allocatable for n in self.eligible),
        )

    def capacity(self) -> tuple[float, float]:
        """Total capacity (cores, bytes) over eligible nodes."""
        return (
            sum(n.cpu_capacity for n in self.eligible),
            sum(n.memory_capacity for n in self.eligible),
        )

    def by_reason(self, limit: int = MAX_NAMES) -> dict[str, dict[str, Any]]:
        """Excluded nodes grouped by reason, most common first: {reason: {code, count, nodes,
        more}}, at most ``limit`` names per reason (and at most ``limit`` reasons)."""
        groups: dict[str, tuple[str, list[str]]] = {}
        for node in self.excluded:
            for reason in node.exclusions:
                groups.setdefault(reason.text, (reason.code, []))[1].append(node.name)
        ordered = sorted(groups.items(), key=lambda item: (-len(item[1][1]), item[0]))
        shown: dict[str, dict[str, Any]] = {}
        for text, (code, names) in ordered[:limit]:
            shown[text] = {
                "code": code,
                "count": len(names),
                "nodes": names[:limit],
                "more": max(0, len(names) - limit),
            }
        if len(ordered) > limit:
            rest = ordered[limit:]
            shown[f"{len(rest)} other reasons"] = {
                "code": "other",
                "count": sum(len(names) for _, (_, names) in rest),
                "nodes": [],
                "more": sum(len(names) for _, (_, names) in rest),
            }
        return shown

    def exclusion_summary(self, names: int = 5) -> str:
        """'2 excluded: aks-a (NotReady), aks-b (cordoned (spec.unschedulable)), ...' or ''."""
        if not self.excluded:
            return ""
        parts = [
            f"{n.name} ({'; '.join(r.text for r in n.exclusions)})" for n in self.excluded[:names]
        ]
        more = len(self.excluded) - names
        tail = f" and {more} more (see details)" if more > 0 else ""
        return f"{len(self.excluded)} excluded: " + ", ".join(parts) + tail

    def settings_details(self) -> dict[str, Any]:
        """What eligibility was judged against, for a finding's details."""
        details: dict[str, Any] = {
            "node_selector": dict(self.selector),
            "tolerations": [str(t) for t in self.tolerations],
        }
        if self.bad_tolerations:
            details["tolerations_not_understood"] = list(self.bad_tolerations)
        return details


def build_survey(
    items: Iterable[Mapping[str, Any]], selector: Mapping[str, str], tolerations_text: str | None
) -> NodeSurvey:
    """Assess every node in one pass."""
    tolerations, bad = parse_tolerations(tolerations_text)
    wanted = dict(selector)
    matches = dict.fromkeys(wanted, 0)
    matching_all = 0
    nodes: list[NodeState] = []
    for item in items:
        nodes.append(assess(item, wanted, tolerations))
        if wanted:
            labels = (item.get("metadata") or {}).get("labels") or {}
            hits = [key for key, value in wanted.items() if labels.get(key) == value]
            for key in hits:
                matches[key] += 1
            matching_all += len(hits) == len(wanted)
    return NodeSurvey(nodes, wanted, tolerations, bad, matches, matching_all)


def kube_error(exc: BaseException) -> tuple[str, str, str] | None:
    """(kind, message, remediation) of a Kubernetes client error, or None for any other
    exception (a bug: the runner reports it)."""
    if not isinstance(exc, KubeError):
        return None
    return exc.kind, exc.message, exc.remediation()


def _gather_survey(ctx: Context) -> NodeSurvey:
    return build_survey(
        ctx.kube.list(NODES_PATH),
        Plan(ctx.extension_settings).node_selector,
        ctx.param(TOLERATIONS_PARAM),
    )


#: every node assessed against the planned settings: parsed once per run (5,000 nodes take
#: a second) however many checks ask
NODE_SURVEY: Fact[NodeSurvey] = Fact("the node survey", _gather_survey)


def survey(ctx: Context) -> NodeSurvey:
    """The run's node survey, built once however many checks ask (raises KubeError)."""
    return ctx.fact(NODE_SURVEY)
