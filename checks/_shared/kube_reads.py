"""Reading the cluster for the checks that judge what already runs in it (``extension.conflicts``,
``extension.tls``, ``extension.loadbalancer``, ``gpu.device-plugin`` and others): API reads that
end in a finding instead of an exception, the object accessors they share (metadata, conditions,
timestamps), Helm's ownership metadata and the extension's health-check codes.

Reads are cluster-wide lists (paginated, cached per run and shared between checks) or lists
narrowed by a label or field selector, never a loop over namespaces. A list the identity may not
read becomes a finding that says what could not be verified and which permission is missing.

Each finding that corresponds to one of the extension's own install-time health checks names its
code (E40001, E40003, E40007, E45002, E45004, E45005): that check runs inside the Helm install,
when it is too late.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Context, Finding, KubeError, path_for
from preflight.checks._shared.healthcodes import explain
from preflight.checks._shared.plan import NAMESPACE, Plan, as_bool, spec_for

HELM_MANAGED_BY = "app.kubernetes.io/managed-by"
HELM_RELEASE_NAME = "meta.helm.sh/release-name"
HELM_RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"


# -- reading the cluster -------------------------------------------------------------------------


def _is_kube_error(exc: BaseException) -> bool:
    """The Kubernetes client's classified errors (a finding); anything else is a bug."""
    return isinstance(exc, KubeError)


@dataclass
class Read:
    """One API read: its items (or object), or the error that stopped it."""

    what: str  # "CustomResourceDefinitions" (in the user's terms)
    permission: str  # "list customresourcedefinitions.apiextensions.k8s.io (cluster-wide)"
    items: list[dict[str, Any]] = field(default_factory=list)
    error: Any = None  # the client's KubeError

    @property
    def ok(self) -> bool:
        return self.error is None


def _read(what: str, permission: str, fetch: Callable[[], Any]) -> Read:
    try:
        value = fetch()
    except Exception as exc:
        if not _is_kube_error(exc):
            raise
        return Read(what, permission, error=exc)
    if value is None:
        items: list[dict[str, Any]] = []
    elif isinstance(value, dict):
        items = [value]
    else:
        items = list(value)
    return Read(what, permission, items)


def list_all(
    ctx: Context,
    what: str,
    group_version: str,
    plural: str,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    shape: Any = None,
) -> Read:
    """Every object of a collection (a Read with the error instead when it cannot be read).
    ``shape``: what each object must look like (default: the fields checks read of that
    resource, ``kubeshapes``); a reader that judges odd objects itself passes
    ``kubeshapes.OBJECT``."""
    group = group_version.rpartition("/")[0]
    resource = f"{plural}.{group}" if group else plural
    scope = f"in namespace {namespace}" if namespace else "cluster-wide"
    path = path_for(group_version, plural, namespace)
    return _read(
        what,
        f"list {resource} ({scope})",
        lambda: ctx.kube.list(
            path, label_selector=label_selector, field_selector=field_selector, shape=shape
        ),
    )


def get_one(
    ctx: Context,
    what: str,
    group_version: str,
    plural: str,
    name: str,
    namespace: str | None,
    shape: Any = None,
) -> Read:
    scope = f"in namespace {namespace}" if namespace else "cluster-scoped"
    return _read(
        what,
        f"get {plural} {name} ({scope})",
        lambda: ctx.kube.get(path_for(group_version, plural, namespace, name), shape),
    )


def unverified(target: str, concern: str, reads: Sequence[Read], **details: Any) -> Finding:
    """A warning naming what could not be read and the permission that would let us read it."""
    failed = [r for r in reads if not r.ok]
    causes = "; ".join(f"{r.what}: {r.error.message}" for r in failed)
    fixes: list[str] = []
    for r in failed:
        fix = r.error.remediation()
        if fix not in fixes:
            fixes.append(fix)
    missing = ", ".join(r.permission for r in failed if r.error.kind == "forbidden")
    remediation = " ".join(fixes)
    if missing:
        remediation = f"preflight needs: {missing}. {remediation}"
    details["unverified"] = failed_reads(failed)
    if any(r.error.kind == "malformed" for r in failed):
        # the API server answered something that is not Kubernetes: nothing can be concluded
        return Finding.errored(
            target, f"could not verify {concern}: {causes}", remediation, **details
        )
    return Finding.warned(
        target, f"could not verify {concern}: {causes}", remediation, None, **details
    )


def failed_reads(reads: Iterable[Read]) -> list[dict[str, str]]:
    return [
        {"read": r.what, "kind": r.error.kind, "permission": r.permission}
        for r in reads
        if not r.ok
    ]


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def labels(obj: dict[str, Any]) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def ref(kind: str, obj: dict[str, Any]) -> str:
    """``Deployment/monitoring/prometheus-operator`` or ``CustomResourceDefinition/x.y``."""
    ns, name = meta(obj).get("namespace"), meta(obj).get("name", "?")
    return f"{kind}/{ns}/{name}" if ns else f"{kind}/{name}"


def condition(obj: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The first ``status.conditions`` entry of type ``kind`` of a pod or node ({} if none)."""
    status = obj.get("status")
    conditions = status.get("conditions") if isinstance(status, dict) else None
    for entry in conditions if isinstance(conditions, list) else ():
        if isinstance(entry, dict) and entry.get("type") == kind:
            return entry
    return {}


def is_ready(obj: Mapping[str, Any]) -> bool:
    """Whether a pod's or a node's ``Ready`` condition is ``True``."""
    return condition(obj, "Ready").get("status") == "True"


def timestamp(value: Any) -> dt.datetime | None:
    """An API timestamp (``2024-05-01T10:00:00Z``) as an aware datetime; None when it is not
    one (a naive one is taken as UTC)."""
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def created_at(obj: dict[str, Any]) -> dt.datetime | None:
    return timestamp(meta(obj).get("creationTimestamp"))


def age_text(delta: dt.timedelta) -> str:
    """``3d 4h``, ``2h 5m``, ``7m``: how long something has been waiting."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


# -- Helm ownership ------------------------------------------------------------------------------


def helm_owner(obj: dict[str, Any]) -> tuple[str, str] | None:
    """(release, namespace) from Helm's ownership metadata, or None when it carries none."""
    notes = _annotations(obj)
    release, namespace = notes.get(HELM_RELEASE_NAME), notes.get(HELM_RELEASE_NAMESPACE)
    if labels(obj).get(HELM_MANAGED_BY) != "Helm" or not release or not namespace:
        return None
    return release, namespace


def owned_by_extension(obj: dict[str, Any], release: str) -> bool:
    """Helm's own import test: the object belongs to *this* extension's release, so installing
    again adopts it instead of failing."""
    return helm_owner(obj) == (release, NAMESPACE)


def owner_text(obj: dict[str, Any]) -> str:
    owner = helm_owner(obj)
    if owner is not None:
        return f"Helm release {owner[0]!r} in namespace {owner[1]!r}"
    manager = labels(obj).get(HELM_MANAGED_BY)
    if manager == "Helm" or _annotations(obj).get(HELM_RELEASE_NAME):
        return "incomplete Helm ownership metadata"
    return f"managed by {manager}" if manager else "no Helm release (installed another way)"


def planned_bool(plan: Plan, key: str) -> tuple[bool, str]:
    """The planned value of a boolean setting, and where it comes from ("default" or "planned").

    A value that is not a boolean counts as the documented default here; extension.config
    reports the bad value itself."""
    spec = spec_for(key)
    default = bool(as_bool(spec.default if spec else None))
    if plan.explicit(key):
        value = as_bool(plan.value(key))
        if value is not None:
            return value, "planned"
    return default, "default"


def setting_text(key: str, value: bool, source: str) -> str:
    shown = "True" if value else "False"
    return f"{key}={shown}" + (" (the default)" if source == "default" else "")


# -- the extension's health-check codes ----------------------------------------------------------


def code_details(code: str) -> dict[str, str]:
    """``{"health_check": "E40007 INVALID_SSL_SETTING"}``, as extension.config writes it."""
    return {"health_check": explain(code).text}


def code_text(code: str) -> str:
    return f"health check {explain(code).text}"


# -- lists several checks share ------------------------------------------------------------------


class Inventory:
    """The cluster-wide lists several concerns share (each fetched once per run)."""

    def __init__(self, ctx: Context) -> None:
        self.crds = list_all(
            ctx, "CustomResourceDefinitions", "apiextensions.k8s.io/v1", "customresourcedefinitions"
        )
        self.deployments = list_all(ctx, "Deployments (all namespaces)", "apps/v1", "deployments")
        self.daemonsets = list_all(ctx, "DaemonSets (all namespaces)", "apps/v1", "daemonsets")

    def workloads(self, kind: str) -> Read:
        return self.deployments if kind == "Deployment" else self.daemonsets
