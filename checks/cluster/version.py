"""``cluster.version``: the cluster's Kubernetes version is inside the window the Azure ML
extension supports (the profile's N-2 window, following the AKS support policy:
https://learn.microsoft.com/azure/aks/supported-kubernetes-versions), read from the API server's
``/version``.
"""

from __future__ import annotations

from preflight.api import Check, Context, Finding
from preflight.checks._shared.kube_version import DOCS_VERSIONS, parse_version


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


CHECKS = [ClusterVersion()]
