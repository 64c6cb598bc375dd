"""``cluster.reachable`` and ``cluster.version``: can we talk to the cluster, and is its
Kubernetes inside the window the extension supports (the profile's N-2 window)?"""

from __future__ import annotations

from preflight.api import Check, Context, Finding, Status
from preflight.checks._shared.kube_version import DOCS_VERSIONS, parse_version


class ClusterReachable(Check):
    id = "cluster.reachable"
    title = "API server reachable and credentials accepted"
    category = "cluster"
    needs = ("kubeconfig",)

    def run(self, ctx: Context) -> list[Finding]:
        reach = ctx.kube.reachability()
        target = reach.server or reach.context or "cluster"
        details: dict[str, object] = {
            "context": reach.context,
            "server": reach.server,
            "source": reach.source,
        }
        if reach.ok:
            version = reach.version.get("gitVersion") or "unknown version"
            return [
                Finding.passed(
                    target,
                    f"the API server answered (Kubernetes {version}) and accepted the "
                    f"credentials of context {reach.context or '(in-cluster)'}",
                    **details,
                    kubernetes_version=version,
                )
            ]
        assert reach.error is not None
        details.update(kind=reach.error.kind, status=reach.error.status)
        if reach.error.command:  # an exec credential plugin: which one (never its env)
            details["command"] = reach.error.command
        if ctx.cancelled.is_set():  # SIGINT/SIGTERM stopped the plugin or the call: no verdict
            interrupted = ctx.interrupted_finding(target, "the cluster answered")
            interrupted.details.update(details, error=reach.error.message)
            return [interrupted]
        return [
            Finding(
                Status.FAIL,
                target,
                f"cannot use the cluster: {reach.error.message}",
                reach.error.remediation(),
                details=details,
            )
        ]


class ClusterVersion(Check):
    id = "cluster.version"
    title = "Kubernetes version inside the supported window"
    category = "cluster"
    needs = ("kube",)
    docs = DOCS_VERSIONS

    def run(self, ctx: Context) -> list[Finding]:
        reach = ctx.kube.reachability()
        target = reach.server or "cluster"
        text = reach.version.get("gitVersion") or ""
        parsed = parse_version(reach.version)
        window = ctx.profile.kubernetes
        low, high = window.get("min_minor"), window.get("max_minor")
        details = {"version": text, "min_minor": low, "max_minor": high}
        if parsed is None:
            return [
                Finding.warned(
                    target,
                    f"cannot read the Kubernetes version ({text!r})",
                    "check `kubectl version`",
                    DOCS_VERSIONS,
                    **details,
                )
            ]
        major, minor, _ = parsed
        span = f"1.{low}–1.{high}" if low and high else "the profile's window"
        if major != 1 or (low is not None and minor < low):
            return [
                Finding.failed(
                    target,
                    f"Kubernetes {text} is older than the supported window {span} "
                    "(N-2, following the AKS support policy)",
                    f"upgrade the cluster to 1.{low} or newer before installing the extension "
                    "(az aks upgrade --kubernetes-version ...)",
                    DOCS_VERSIONS,
                    **details,
                )
            ]
        if high is not None and minor > high:
            return [
                Finding.warned(
                    target,
                    f"Kubernetes {text} is newer than {ctx.profile.name} knows ({span})",
                    "check the Azure ML extension's release notes for support of this version, or "
                    "update the profile's kubernetes window",
                    DOCS_VERSIONS,
                    **details,
                )
            ]
        return [Finding.passed(target, f"Kubernetes {text} is inside {span}", **details)]


CHECKS = [ClusterReachable(), ClusterVersion()]
