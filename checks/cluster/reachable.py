"""``cluster.reachable``: can preflight talk to the cluster at all: does the API server answer, and
does it accept the kubeconfig's credentials (or the pod's, in-cluster)? When it does not, the
finding quotes the Kubernetes client's classified error and its remediation.
"""

from __future__ import annotations

from preflight.api import Check, Context, Finding, Status


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


CHECKS = [ClusterReachable()]
