"""How a wait for a pod, Job or Deployment ended: the ``Outcome`` (phase, node, reason, message,
exit code, the pod's recent Events, the last log lines) that ``explain`` turns into advice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class EventRecord:
    """One Kubernetes Event about the object waited on (or its pod)."""

    type: str
    reason: str
    message: str
    object: str  # "Pod/probe-x7k2p"
    count: int = 1
    last: str = ""

    def line(self) -> str:
        times = f" (x{self.count})" if self.count > 1 else ""
        return f"{self.type} {self.reason} {self.object}: {self.message}{times}"


@dataclass
class Outcome:
    """How a wait ended. ``ok`` when the object reached the state asked for; otherwise
    ``reason`` says why in Kubernetes' terms (``ErrImagePull``, ``ImagePullBackOff``,
    ``Unschedulable``, ``CrashLoopBackOff``, ``Error``, ``OOMKilled``, ``DeadlineExceeded``,
    ``BackoffLimitExceeded``, ``FailedCreate``, ``Evicted``, ``Completed`` (ended while it
    should serve), ``Timeout``, ``Cancelled``, ``Deleted``, ``DryRun``) and ``explain`` says
    what to change. ``Cancelled`` (the run was interrupted) concludes nothing about the
    cluster: report it as ``Status.ERROR``; ``DryRun`` as ``Status.SKIP``."""

    ok: bool
    kind: str  # Pod | Job | Deployment
    name: str
    namespace: str
    reason: str = ""
    message: str = ""
    pod: str | None = None
    phase: str = ""
    node: str | None = None
    exit_code: int | None = None
    restarts: int = 0
    image: str = ""
    #: what the wait was stuck in when it timed out ("Pending: ContainerCreating", ...)
    state: str = ""
    events: list[EventRecord] = field(default_factory=list)
    log_tail: str = ""
    waited_s: float = 0.0
    timed_out: bool = False
    #: the pod's spec as applied (node selector, tolerations, requests) for explanations
    pod_spec: dict[str, Any] = field(default_factory=dict, repr=False)

    def details(self) -> dict[str, Any]:
        """A JSON-ready summary for a finding's ``details``."""
        data = asdict(self)
        data.pop("pod_spec", None)
        data["events"] = [e.line() for e in self.events]
        return {k: v for k, v in data.items() if v not in (None, "", [], 0) or k in ("ok",)}
