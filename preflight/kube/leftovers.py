"""``preflight cleanup``: the namespaces runs left behind (a run killed before it could delete its
own), found by their labels and deleted with the least privilege that allows it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from preflight.clients.kube import KubeError, path_for
from preflight.kube.identity import RUN_ROLE, role_binding, who_am_i
from preflight.kube.labels import CREATED_AT, EXPIRES_AT, MANAGED_BY, NAMESPACE_PREFIX, RUN_ID

if TYPE_CHECKING:
    from preflight.clients.kube import KubeClient


@dataclass
class Leftover:
    """A namespace some run of preflight created."""

    name: str
    run_id: str
    created: dt.datetime | None
    expires: dt.datetime | None
    phase: str

    def age(self, now: dt.datetime) -> float | None:
        return (now - self.created).total_seconds() if self.created else None


def _parse_time(text: Any) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def find_leftovers(kube: KubeClient) -> list[Leftover]:
    """Namespaces labelled as a run's (managed-by=preflight *and* a run id, named preflight-*),
    never the install namespace of deploy/rbac.yaml, which carries no run id."""
    items = kube.list_fresh("/api/v1/namespaces", label_selector=f"{MANAGED_BY}=preflight,{RUN_ID}")
    found: list[Leftover] = []
    for item in items:
        meta = item.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name.startswith(NAMESPACE_PREFIX):
            continue
        annotations = meta.get("annotations") or {}
        found.append(
            Leftover(
                name=name,
                run_id=str((meta.get("labels") or {}).get(RUN_ID) or ""),
                created=_parse_time(annotations.get(CREATED_AT) or meta.get("creationTimestamp")),
                expires=_parse_time(annotations.get(EXPIRES_AT)),
                phase=str((item.get("status") or {}).get("phase") or ""),
            )
        )
    return sorted(found, key=lambda leftover: leftover.name)


def delete_leftover(kube: KubeClient, leftover: Leftover) -> None:
    """Delete a leftover namespace. A run's RoleBinding inside it allows its own identity to;
    another identity (or a run killed before it bound one) binds ``preflight-run`` there first,
    which the ClusterRole preflight-runner allows. Raises KubeError."""
    path = path_for("v1", "namespaces", None, leftover.name)
    try:
        kube.delete(path)
        return
    except KubeError as exc:
        if exc.kind != "forbidden":
            raise
        subject = who_am_i(kube)
        if subject is None:
            raise
        labels = {MANAGED_BY: "preflight", RUN_ID: leftover.run_id}
        binding = role_binding(leftover.name, subject, labels)
        binding["metadata"]["name"] = f"{RUN_ROLE}-cleanup"
        try:
            kube.create(
                path_for("rbac.authorization.k8s.io/v1", "rolebindings", leftover.name), binding
            )
        except KubeError as bind_error:
            if bind_error.kind != "conflict":
                raise exc from None
    ends = time.monotonic() + 10
    while True:  # the new RoleBinding takes a moment to reach the authorizer
        try:
            kube.delete(path)
            return
        except KubeError as exc:
            if exc.kind != "forbidden" or time.monotonic() > ends:
                raise
            time.sleep(0.5)


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``2h``, ``1d``, ``1h30m`` -> seconds (ValueError)."""
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return float(cleaned)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"{text!r} is not a duration (e.g. 30m, 2h, 1d)")
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(float(n) * units[u] for n, u in parts)
