"""What preflight's own ``preflight probe`` Jobs have in common, whichever check starts them: the
in-cluster probe fleet (probe_fleet.py, for ``connectivity.in-cluster`` and ``cluster.dns``) and
the GPU node probes (checks/gpu/node_probes.py, for ``gpu.health``). Their Job names, their Job
(its deadline, the platform's annotations, how the pod learns the node it runs on), and reading
what the pod printed: JSON lines and a ``done`` line, or a note that a signal stopped it first.
No checks here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from preflight.api import (
    Context,
    KubeError,
    Outcome,
    RunNamespace,
    job_manifest,
    parse_probe_output,
    preflight_command,
    probe_interrupted,
)
from preflight.checks._shared.pod_platform import pod_annotations

#: how a probe pod learns where it runs (the downward API) and which pool it stands for
NODE_ENV, POOL_ENV = "PREFLIGHT_NODE_NAME", "PREFLIGHT_NODE_POOL"
#: what to do about a probe that a signal stopped after it printed part of its results
STOPPED_REMEDY = (
    "the pod was stopped from outside (its activeDeadlineSeconds, a deletion, a node "
    "drain): run preflight again; raise --deadline if the deadline stopped it"
)
#: what to do about a probe whose output ends before its ``done`` line
INCOMPLETE_REMEDY = (
    "the pod was stopped before it finished: raise --deadline, or read the pod's log"
)


def job_name(prefix: str, index: int, name: str) -> str:
    """``probe-003-gpu-pool`` for the fourth Job, named after a pool or node: unique in the run,
    and short enough for the pod names Kubernetes derives from it."""
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return f"{prefix}-{index:03d}-{slug}"[:52].rstrip("-")


def probe_job(
    ctx: Context,
    name: str,
    args: Sequence[str],
    *,
    limit: float,
    env: Mapping[str, str],
    tolerations: list[dict[str, str]],
    node_name: str | None = None,
    node_selector: Mapping[str, str] | None = None,
    resources: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """The Job of one ``preflight probe`` pod, pinned to ``node_name`` or selecting a pool by
    ``node_selector``: it has ``limit`` seconds (and 30 more to stop cleanly), keeps the
    platform's proxy out when preflight chose one, and learns from the downward API which node
    it runs on (``PREFLIGHT_NODE_NAME``), so that its findings say where they were measured."""
    manifest = job_manifest(
        ctx,
        name,
        preflight_command("probe"),
        args=args,
        node_selector=node_selector,
        node_name=node_name,
        tolerations=tolerations,
        env=env,
        resources=resources,
        active_deadline_s=limit + 30,
        annotations=pod_annotations(ctx),
    )
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container.setdefault("env", []).append(
        {"name": NODE_ENV, "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    )
    return manifest


@dataclass
class ProbeLog:
    """What a finished probe pod printed."""

    text: str = ""
    lines: list[dict[str, Any]] = field(default_factory=list)
    #: the ``done`` line came
    complete: bool = False
    #: the probe said a signal stopped it (its deadline, its deletion) before it finished
    signame: str | None = None
    #: the log could not be read (then ``text`` is empty)
    error: KubeError | None = None

    def tail(self) -> str:
        """The last lines printed, for a probe that printed no ``done`` line."""
        return " | ".join(self.text.strip().splitlines()[-5:]) or "nothing"


def read_log(namespace: RunNamespace, outcome: Outcome) -> ProbeLog:
    """The log of the probe's pod (nothing when no pod ran), parsed."""
    log = ProbeLog()
    if outcome.pod:
        try:
            log.text = namespace.logs(outcome.pod)
        except KubeError as exc:
            log.error = exc
    log.lines, log.complete = parse_probe_output(log.text)
    log.signame = probe_interrupted(log.text) if log.complete else None
    return log


def stopped_why(outcome: Outcome) -> str:
    """``the pod ended DeadlineExceeded``, for a probe a signal stopped."""
    return f"the pod ended {outcome.reason}" if outcome.reason else "the pod was stopped"
