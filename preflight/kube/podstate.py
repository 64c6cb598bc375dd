"""Reading a pod's state as Kubernetes reports it (conditions, container states), without
trusting its shape: what a wait judges and what an explanation quotes.
See https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# waiting reasons a pod does not leave without a change: waiting longer only costs time
STUCK_WAITING = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
}


PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}


def condition(pod: Mapping[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return None


def pod_ready(pod: Mapping[str, Any]) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def container_statuses(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("containerStatuses") or [])


def waiting_state(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    for cs in container_statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting:
            return dict(waiting)
    return None


def waiting_reason(pod: Mapping[str, Any]) -> str:
    return str((waiting_state(pod) or {}).get("reason") or "")


def terminated_state(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    for cs in container_statuses(pod):
        term = (cs.get("state") or {}).get("terminated")
        if term:
            return dict(term)
    return None


def last_terminated_state(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    for cs in container_statuses(pod):
        term = (cs.get("lastState") or {}).get("terminated")
        if term:
            return dict(term)
    return None


def describe_state(pod: Mapping[str, Any]) -> str:
    """``Pending (Unschedulable)``, ``Pending (ContainerCreating)``, ``Running, not ready``."""
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    waiting = waiting_state(pod)
    if waiting:
        return f"{phase} ({waiting.get('reason') or 'Waiting'})"
    scheduled = condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        return f"{phase} ({scheduled.get('reason') or 'not scheduled'})"
    if phase == "Pending" and not container_statuses(pod):
        return "Pending (ContainerCreating)" if scheduled else "Pending (not scheduled yet)"
    if phase == "Running" and not pod_ready(pod):
        return "Running, not ready"
    return str(phase)
