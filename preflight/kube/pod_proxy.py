"""The proxy preflight puts into its own pods: only an explicit ``--set probe_proxy``; by default
a pod gets whatever the platform injects into every pod, so probes measure the cluster's path,
never this machine's ``--proxy``. Credentials in a proxy URL go into a Secret, never a pod spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from preflight.context import Context


PROXY_SECRET = "preflight-proxy"


#: NO_PROXY entries added for pods: in-cluster names and loopback must never go to a proxy
IN_CLUSTER_NO_PROXY = ("localhost", "127.0.0.1", ".svc", ".cluster.local", "kubernetes.default")


@dataclass(frozen=True)
class PodProxy:
    """The proxy environment preflight's pods get, and whether it holds credentials."""

    https: str | None
    http: str | None
    no_proxy: str

    @property
    def has_credentials(self) -> bool:
        return any(u and urlsplit(u if "://" in u else "http://" + u).password for u in self.urls)

    @property
    def urls(self) -> list[str]:
        return [u for u in (self.https, self.http) if u]


def pod_proxy(ctx: Context, policy: str = "cluster") -> PodProxy | None:
    """The proxy preflight itself puts into a pod: only ``--set probe_proxy=URL``.

    By default (``policy="cluster"``) a pod gets what the platform gives every pod (a managed
    cluster may inject its proxy through an admission webhook), so probes measure the
    cluster's path,
    never this machine's ``--proxy`` or environment. ``policy="none"`` (pods whose traffic stays
    inside the cluster) and ``--set probe_proxy=none`` opt the pod out of that injection."""
    explicit = (ctx.param("probe_proxy") or "").strip()
    if policy == "none" or not explicit or explicit.lower() == "none":
        return None
    return PodProxy(explicit, explicit, ",".join(IN_CLUSTER_NO_PROXY))


def proxy_source(ctx: Context, policy: str = "cluster") -> str:
    """``probe_proxy`` (preflight set it), ``none`` (opted out) or ``platform`` (whatever the
    cluster injects, possibly nothing)."""
    explicit = (ctx.param("probe_proxy") or "").strip().lower()
    if policy == "none" or explicit == "none":
        return "none"
    return "probe_proxy" if explicit else "platform"


def proxy_env(proxy: PodProxy | None) -> list[dict[str, Any]]:
    """Both spellings of each variable: curl reads only the lower-case ones, Go the upper."""
    if proxy is None:
        return []
    env: list[dict[str, Any]] = []
    for name, value in (("HTTPS_PROXY", proxy.https), ("HTTP_PROXY", proxy.http)):
        if not value:
            continue
        for spelled in (name, name.lower()):
            if proxy.has_credentials:  # never a password in a pod spec: from a Secret
                ref = {"secretKeyRef": {"name": PROXY_SECRET, "key": name}}
                env.append({"name": spelled, "valueFrom": ref})
            else:
                env.append({"name": spelled, "value": value})
    for spelled in ("NO_PROXY", "no_proxy"):
        env.append({"name": spelled, "value": proxy.no_proxy})
    return env
