"""``test.runtime``: a test-only check that drives the in-cluster runtime (preflight/kube/) the
way checks do (a Job, a bare pod, a Deployment behind a Service, a Job that never finishes),
installed out of tree as a third-party plugin; and running it with the real CLI against the fake
API server (whose ``kube_runner`` runs the pods as local processes). Used by
tests/engine/test_kube_runtime.py and tests/engine/test_rbac.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.kube_objects import namespace, node
from support.plugins import install_plugin
from tests.clirun import Result, run_cluster

PLUGIN = r"""
from preflight.api import (Check, Finding, KubeError, Status, deployment_manifest, explain,
    job_manifest, pod_manifest, run_namespace, service_manifest)


def failed(target, subject):
    message, remedy = explain(subject)
    details = subject.details() if hasattr(subject, "details") else {"kind": subject.kind}
    # interrupted: no conclusion about the cluster, so an error (as the engine's own are)
    status = Status.ERROR if getattr(subject, "reason", "") == "Cancelled" else Status.FAIL
    return Finding(status, target, message, remedy, details=details)


class Runtime(Check):
    id = "test.runtime"
    title = "In-cluster runtime"
    category = "smoke"
    needs = ("kube",)
    parameters = {
        "runtime_steps": "comma list of steps: job, pod, web, stuck",
        "runtime_timeout": "seconds each wait may take",
        "runtime_job_deadline": "activeDeadlineSeconds of the Jobs (default: the run's)",
    }

    def run(self, ctx):
        ns = run_namespace(ctx)
        timeout = float(ctx.param("runtime_timeout", "60"))
        findings = []
        for step in (ctx.param("runtime_steps") or "job").split(","):
            findings += getattr(self, "step_" + step)(ctx, ns, timeout)
        return findings

    def _job(self, ctx, ns, timeout, name, command, args=()):
        deadline = ctx.param("runtime_job_deadline")
        try:
            ns.apply(job_manifest(ctx, name, command, args=list(args),
                                  active_deadline_s=float(deadline) if deadline else None))
        except KubeError as exc:
            return None, [failed(name, exc)]
        if ns.dry_run:
            return None, [Finding.skipped(name, "dry run: not applied", "run without --dry-run")]
        outcome = ns.wait_job(name, timeout)
        if not outcome.ok:
            return None, [failed(name, outcome)]
        return outcome, []

    def step_job(self, ctx, ns, timeout):
        outcome, bad = self._job(ctx, ns, timeout, "probe", ["preflight", "checks", "--json"])
        if bad:
            return bad
        log = ns.logs(outcome.pod)
        return [Finding.passed("probe", f"ran on {outcome.node}", pod=outcome.pod, log=log)]

    def step_stuck(self, ctx, ns, timeout):
        outcome, bad = self._job(ctx, ns, timeout, "stuck", ["preflight", "--version"])
        return bad or [Finding.passed("stuck", "finished")]

    def step_pod(self, ctx, ns, timeout):
        try:
            ns.apply(pod_manifest(ctx, "once", ["python", "-c", "print('hello from a pod')"]))
        except KubeError as exc:
            return [failed("once", exc)]
        if ns.dry_run:
            return [Finding.skipped("once", "dry run: not applied", "run without --dry-run")]
        outcome = ns.wait_pod("once", timeout)
        if not outcome.ok:
            return [failed("once", outcome)]
        return [Finding.passed("once", ns.logs("once").strip(), node=outcome.node)]

    def step_web(self, ctx, ns, timeout):
        try:
            ns.apply(deployment_manifest(ctx, "web", ["python", "-m", "http.server"],
                                         args=["8080"], ports=[8080], readiness_path="/"))
            ns.apply(service_manifest(ctx, "web", port=80, target_port=8080))
        except KubeError as exc:
            return [failed("web", exc)]
        if ns.dry_run:
            return [Finding.skipped("web", "dry run: not applied", "run without --dry-run")]
        outcome = ns.wait_deployment("web", timeout)
        if not outcome.ok:
            return [failed("web", outcome)]
        url = ns.service_url("web", 80) + "/"
        code = ("import sys, urllib.request; "
                "print('status', urllib.request.urlopen(sys.argv[1], timeout=5).status)")
        client, bad = self._job(ctx, ns, timeout, "client", ["python", "-c", code], [url])
        if bad:
            return bad
        return [Finding.passed("web", ns.logs(client.pod).strip(), url=url)]


CHECKS = [Runtime()]
"""


def install(site: Path) -> Path:
    """An installed distribution holding ``test.runtime`` (PYTHONPATH=site)."""
    return install_plugin(site, "runtime_plugin", PLUGIN, {"runtime": "runtime_plugin"})


def cluster(*extra: dict[str, Any], taint: str | None = None) -> list[dict[str, Any]]:
    taints = [taint] if taint else []
    return [
        node("aks-nodepool1-0", taints=taints),
        node("aks-nodepool1-1", taints=taints),
        namespace("default"),
        namespace("preflight", labels={"app.kubernetes.io/managed-by": "preflight"}),
        *extra,
    ]


def run(
    api: Any,
    tmp_path: Path,
    plugin_path: Path,
    *args: str,
    steps: str = "job",
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> Result:
    return run_cluster(
        api,
        tmp_path,
        "--check",
        "test.runtime",
        "--set",
        f"runtime_steps={steps}",
        "--set",
        f"runtime_timeout={timeout}",
        *args,
        env={"PYTHONPATH": str(plugin_path), **(env or {})},
        timeout=180,
        formats="json",
    )


def allow_namespace_requests_by_name(api: Any) -> None:
    """The real API server authorizes ``/api/v1/namespaces/NAME`` with namespace = NAME (so a
    RoleBinding inside NAME can allow deleting it); the fake records namespace "" for it."""
    original = api.allows

    def allows(verb: str, resource: str, **attrs: Any) -> bool:
        if resource == "namespaces" and attrs.get("name") and not attrs.get("namespace"):
            attrs["namespace"] = attrs["name"]
        return bool(original(verb, resource, **attrs))

    api.allows = allows
