"""What namespace ``azureml`` holds, for ``extension.components``: one read per kind of
workload and one of its pods, and what a workload's status says about its readiness. Kept apart
from the verdicts so that reading and decoding the API's answers can be followed on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from preflight.api import Context, kubeshapes
from preflight.checks._shared.kube_reads import Read, list_all
from preflight.checks._shared.plan import NAMESPACE
from preflight.checks._shared.pods import as_dict, as_int, as_list, as_str, name_of, trim
from preflight.checks.extension.components_table import DAEMONSET, DEPLOYMENT, KINDS, STATEFULSET

PLURALS = {DEPLOYMENT: "deployments", DAEMONSET: "daemonsets", STATEFULSET: "statefulsets"}


@dataclass
class Namespace:
    """What namespace azureml holds: one read per kind of workload, and its pods."""

    workloads: dict[str, Read]  # kind -> Read
    pods: Read

    def items(self, kind: str) -> list[dict[str, Any]]:
        read = self.workloads.get(kind)
        return [o for o in read.items if isinstance(o, dict)] if read else []

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((o for o in self.items(kind) if name_of(o) == name), None)

    def has(self, name: str) -> bool:
        return any(self.find(kind, name) is not None for kind in KINDS)

    @property
    def pod_items(self) -> list[dict[str, Any]]:
        return [p for p in self.pods.items if isinstance(p, dict)]

    @property
    def failed(self) -> list[Read]:
        return [r for r in [*self.workloads.values(), self.pods] if not r.ok]

    @property
    def empty(self) -> bool:
        """Every workload list was read and none holds anything."""
        reads = self.workloads.values()
        return all(r.ok for r in reads) and not any(self.items(k) for k in KINDS)


SHAPES = {
    "Deployment": kubeshapes.DEPLOYMENT,
    "DaemonSet": kubeshapes.DAEMONSET,
    "StatefulSet": kubeshapes.STATEFULSET,
}


def read_namespace(ctx: Context) -> Namespace:
    """Four namespace-scoped lists (blocking: run it off the event loop)."""
    workloads = {
        kind: list_all(
            ctx,
            f"{kind}s in namespace {NAMESPACE}",
            "apps/v1",
            PLURALS[kind],
            namespace=NAMESPACE,
            # the documented types: an answer that breaks them is not the API server's, and
            # the components it lists are unverified (an error naming the field)
            shape=SHAPES[kind],
        )
        for kind in KINDS
    }
    pods = list_all(
        ctx,
        f"Pods in namespace {NAMESPACE}",
        "v1",
        "pods",
        namespace=NAMESPACE,
        shape=kubeshapes.POD,
    )
    return Namespace(workloads, pods)


def workload_counts(kind: str, workload: Mapping[str, Any]) -> tuple[int, int, str]:
    """(desired, ready, unit) from a workload's spec and status."""
    spec, status = as_dict(workload.get("spec")), as_dict(workload.get("status"))
    if kind == DAEMONSET:
        return (
            max(as_int(status.get("desiredNumberScheduled")), 0),
            max(as_int(status.get("numberReady")), 0),
            "scheduled pods",
        )
    replicas = spec.get("replicas", 1)  # the API server defaults it to 1
    return max(as_int(replicas, 1), 0), max(as_int(status.get("readyReplicas")), 0), "replicas"


def workload_conditions(workload: Mapping[str, Any]) -> str:
    """What the controller says when no pod explains it (quota, admission, a stuck rollout)."""
    said = []
    for cond in as_list(as_dict(workload.get("status")).get("conditions")):
        if not isinstance(cond, dict):
            continue
        bad = (cond.get("type") == "ReplicaFailure" and cond.get("status") == "True") or (
            cond.get("type") in ("Available", "Progressing") and cond.get("status") == "False"
        )
        if bad and cond.get("message"):
            said.append(f"{cond.get('type')}: {trim(as_str(cond.get('message')))}")
    return "; ".join(said) or "none of its pods was found (the controller could not create them?)"
