"""Reading pods and their workloads without trusting their shape: which pods a workload's selector
picks, what state each is in (Kubernetes' own reason, message, restarts, last exit code, image;
or, for a one-line listing, just the reason and the restarts) and which registry an image comes
from. Shared by the checks that judge pods they did not start (``extension.components``,
``cluster.dns``'s CoreDNS pods, ``gpu.device-plugin``'s plugin pods); no checks here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from preflight.checks._shared.kube_reads import condition, is_ready, meta

#: how much of a container's or the scheduler's message a finding quotes
MESSAGE_LIMIT = 300


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def name_of(obj: Mapping[str, Any]) -> str:
    return as_str(meta(dict(obj)).get("name")) or "?"


def trim(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """One line of at most ``limit`` characters. A long message keeps its start and its end:
    the container runtime puts the cause last ("...: dial tcp 1.2.3.4:443: i/o timeout")."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    head = limit // 3
    tail = limit - head - 3
    return f"{flat[:head].rstrip()} … {flat[-tail:].lstrip()}"


# -- reading namespace azureml ---------------------------------------------------------------


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A workload's ``spec.selector`` (matchLabels and matchExpressions) against pod labels.

    An empty or malformed selector matches nothing: a pod is never blamed on the wrong
    component."""
    selector = as_dict(selector)
    match_labels = as_dict(selector.get("matchLabels"))
    expressions = [e for e in as_list(selector.get("matchExpressions")) if isinstance(e, dict)]
    if not match_labels and not expressions:
        return False
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    return all(_expression_holds(e, labels) for e in expressions)


def _expression_holds(expression: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    key = as_str(expression.get("key"))
    operator = as_str(expression.get("operator"))
    values = {str(v) for v in as_list(expression.get("values"))}
    if operator == "In":
        return key in labels and str(labels[key]) in values
    if operator == "NotIn":
        return key not in labels or str(labels[key]) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False  # an operator Kubernetes does not know selects nothing


def pod_labels(pod: Mapping[str, Any]) -> dict[str, Any]:
    return as_dict(meta(dict(pod)).get("labels"))


def pods_of(workload: Mapping[str, Any], pods: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pods ``workload`` selects (its ``spec.selector``)."""
    selector = as_dict(workload.get("spec")).get("selector")
    return [p for p in pods if selector_matches(selector, pod_labels(p))]


def image_registry(image: str) -> str:
    """The registry host an image pulls from: the first path component when it has a ``.`` or
    a ``:`` or is ``localhost``, else ``docker.io`` (Docker's own rule)."""
    first, slash, _ = image.strip().partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return "docker.io"


def _statuses(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Init containers first (a pod waits on them before its containers start)."""
    status = as_dict(pod.get("status"))
    return [
        cs
        for key in ("initContainerStatuses", "containerStatuses")
        for cs in as_list(status.get(key))
        if isinstance(cs, dict)
    ]


def _spec_image(pod: Mapping[str, Any], container: str) -> str:
    spec = as_dict(pod.get("spec"))
    for entry in [*as_list(spec.get("initContainers")), *as_list(spec.get("containers"))]:
        if isinstance(entry, dict) and entry.get("name") == container:
            return as_str(entry.get("image"))
    return ""


def restart_count(pod: Mapping[str, Any]) -> int:
    """Restarts of all the pod's containers (init containers included)."""
    return sum(max(as_int(cs.get("restartCount")), 0) for cs in _statuses(pod))


@dataclass
class PodState:
    """Why a pod is (not) Running and ready, in Kubernetes' own words."""

    name: str
    phase: str
    ok: bool
    reason: str = ""  # ImagePullBackOff, CrashLoopBackOff, Unschedulable, NotReady, ...
    message: str = ""  # the container's waiting message or the scheduler's, trimmed
    container: str = ""
    image: str = ""
    restarts: int = 0
    exit_code: int | None = None  # of the last termination
    last_reason: str = ""  # Error, OOMKilled, ...
    node: str = ""
    owner: str = ""  # "ReplicaSet/gateway-5d4f9c8b7"

    @property
    def terminal(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    def text(self) -> str:
        """``pod gateway-x: CrashLoopBackOff (container main, last exit code 1 Error, 7
        restarts): back-off 5m0s restarting failed container``."""
        facts = []
        if self.container:
            facts.append(f"container {self.container}")
        if self.exit_code is not None:
            facts.append(f"last exit code {self.exit_code} {self.last_reason}".rstrip())
        if self.restarts:
            facts.append(f"{self.restarts} restart(s)")
        said = f" ({', '.join(facts)})" if facts else ""
        quote = f": {self.message}" if self.message else ""
        return f"pod {self.name}: {self.reason or self.phase}{said}{quote}"

    def details(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "phase": self.phase, "ok": self.ok}
        for key in ("reason", "message", "container", "image", "last_reason", "node", "owner"):
            if getattr(self, key):
                entry[key] = getattr(self, key)
        entry["restarts"] = self.restarts
        if self.exit_code is not None:
            entry["exit_code"] = self.exit_code
        return entry


def pod_state(pod: Mapping[str, Any]) -> PodState:
    """Judge one pod: ok when Succeeded, or Running with the Ready condition True."""
    status = as_dict(pod.get("status"))
    phase = as_str(status.get("phase")) or "Unknown"
    state = PodState(
        name=name_of(pod),
        phase=phase,
        ok=False,
        restarts=restart_count(pod),
        node=as_str(as_dict(pod.get("spec")).get("nodeName")),
        owner=_owner_text(pod),
    )
    _last_termination(pod, state)
    if phase == "Succeeded" or (phase == "Running" and is_ready(pod)):
        state.ok = True
        return state
    if _container_problem(pod, state):
        return state
    scheduled = condition(pod, "PodScheduled")
    if scheduled.get("status") == "False":
        state.reason = as_str(scheduled.get("reason")) or "Unschedulable"
        state.message = trim(as_str(scheduled.get("message")))
    elif phase == "Failed":
        state.reason = as_str(status.get("reason")) or "Failed"
        state.message = trim(as_str(status.get("message")))
    elif phase == "Running":
        state.reason = "NotReady"
        state.message = trim(
            as_str(condition(pod, "Ready").get("message"))
            or "running, but its readiness probe does not pass"
        )
    else:
        state.reason = "ContainerCreating" if scheduled.get("status") == "True" else phase
    return state


def _container_problem(pod: Mapping[str, Any], state: PodState) -> bool:
    """The first container (init containers first) that waits or exited abnormally."""
    for cs in _statuses(pod):
        current = as_dict(cs.get("state"))
        waiting = as_dict(current.get("waiting"))
        terminated = as_dict(current.get("terminated"))
        reason = as_str(waiting.get("reason"))
        if waiting and reason != "PodInitializing":
            state.reason = reason or "Waiting"
            state.message = trim(as_str(waiting.get("message")))
        elif terminated and as_int(terminated.get("exitCode")) != 0:
            state.reason = as_str(terminated.get("reason")) or "Terminated"
            state.message = trim(as_str(terminated.get("message")))
            state.exit_code = as_int(terminated.get("exitCode"))
            state.last_reason = as_str(terminated.get("reason"))
        else:
            continue
        state.container = as_str(cs.get("name"))
        state.image = as_str(cs.get("image")) or _spec_image(pod, state.container)
        last = as_dict(as_dict(cs.get("lastState")).get("terminated"))
        if last and state.exit_code is None:
            state.exit_code = as_int(last.get("exitCode"))
            state.last_reason = as_str(last.get("reason"))
        return True
    return False


def _last_termination(pod: Mapping[str, Any], state: PodState) -> None:
    """The last exit of the container that restarted most (for restart warnings)."""
    restarted = [cs for cs in _statuses(pod) if as_int(cs.get("restartCount")) > 0]
    if not restarted:
        return
    worst = max(restarted, key=lambda cs: as_int(cs.get("restartCount")))
    last = as_dict(as_dict(worst.get("lastState")).get("terminated"))
    if last:
        state.exit_code = as_int(last.get("exitCode"))
        state.last_reason = as_str(last.get("reason"))


def _owner_text(pod: Mapping[str, Any]) -> str:
    for ref in as_list(meta(dict(pod)).get("ownerReferences")):
        if isinstance(ref, dict) and ref.get("controller"):
            return f"{as_str(ref.get('kind')) or '?'}/{as_str(ref.get('name')) or '?'}"
    return ""


def not_ready_reason(pod: Mapping[str, Any], running: str = "running, not ready") -> str:
    """Why a pod is not ready, in a few of Kubernetes' words, for a one-line listing: the first
    container that waits or ended (``CrashLoopBackOff (restarts 5)``), else ``running`` for a
    container that runs unready, else why the scheduler left the pod (``Unschedulable: 0/3
    nodes are available``), else its phase."""
    status = as_dict(pod.get("status"))
    for entry in as_list(status.get("containerStatuses")):
        container = as_dict(entry)
        state = as_dict(container.get("state"))
        for key in ("waiting", "terminated"):
            if state.get(key):
                reason = as_dict(state[key]).get("reason") or key
                return f"{reason} (restarts {container.get('restartCount', 0)})"
        if not container.get("ready"):
            return running
    scheduled = condition(pod, "PodScheduled")
    if scheduled.get("status") == "False":
        reason = scheduled.get("reason") or "not scheduled"
        return f"{reason}: {scheduled.get('message') or ''}".strip()
    return str(status.get("phase") or "Pending")
