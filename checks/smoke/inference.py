"""``smoke.inference``: does an inference service actually serve in this cluster, and how fast?

Every other check reasons about the cluster from outside; this one runs the path a scoring request
takes. Into the run's own namespace (``preflight-<run id>``, deleted when the run ends) it deploys
the built-in model server (``preflight serve-model``: a Deployment of one replica with a readiness
probe, and a ClusterIP Service), waits for it to become ready within a bound, then runs a load
Job (``preflight load``: open loop, constant rate, latency counted from each request's intended
send time) against the Service, and reads the Job's JSON result from its log. The finding carries
p50/p90/p95/p99/p99.9/max, the error rate, the achieved rate and the latency histogram.

Deploying into someone's cluster must be asked for: the check runs the deployment only when
``--check`` names it (``--check smoke.inference`` or ``--check 'smoke.*'``) or ``--set smoke=on``
is given; otherwise it is skipped with that advice (a plain ``preflight run`` stays read-only).

After the extension is installed, ``--set scoring_uri=... --set scoring_key=...`` also measures
through the extension's inference router (azureml-fe), from where preflight runs, with the same
rate, duration and payload: a second finding, and a direct-vs-routed comparison. The key is sent
as ``Authorization: Bearer`` and never written anywhere (``scoring_key`` is a secret-named
parameter, so the engine masks its value in every output; no finding here carries it either).

``--baseline OLD/report.json`` compares each measurement with the same measurement of the saved
run (rules in compare.py), and the ``smoke`` report key (``SmokeSummary``) gives the
renderers the numbers for a side-by-side table and chart.

Its settings are in settings.py, the verdict on one load run in load_result.py and the
comparison with a saved run in baseline.py; this module deploys, measures and reports.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from preflight.api import (
    Check,
    Context,
    Finding,
    KubeError,
    Outcome,
    ShapeError,
    Status,
    Summary,
    deployment_manifest,
    explain,
    job_manifest,
    preflight_command,
    redact_url,
    run_load,
    run_namespace,
    service_manifest,
)
from preflight.checks._shared.pod_platform import pod_annotations
from preflight.checks.smoke.baseline import (
    baseline_findings,
    baseline_of,
    baseline_run,
    compare_with_baseline,
)
from preflight.checks.smoke.compare import overhead, summary_of
from preflight.checks.smoke.load_result import measurement_finding, parse_load_log
from preflight.checks.smoke.settings import (
    CHECK_ID,
    DOCS,
    PARAMETERS,
    REQUEST_TIMEOUT_S,
    VALIDATORS,
    Settings,
    explicitly_enabled,
)

MODEL = "smoke-model"
LOADER = "smoke-load"
PORT = 5001
#: time a Job's pod gets beyond the load itself: scheduling, image pull, interpreter start
JOB_START_SLACK_S = 90.0
#: the smoke pods' resources: the runtime's small requests (they schedule anywhere), but a
#: whole CPU as the limit: CFS throttling under a tight limit would show up as latency
RESOURCES = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "1", "memory": "256Mi"},
}


class SmokeInference(Check):
    id = CHECK_ID
    title = "Smoke inference: a model server deploys, serves, and how fast"
    category = "smoke"
    needs = ("kube",)
    docs = DOCS
    parameters = PARAMETERS
    validators = VALIDATORS

    def run(self, ctx: Context) -> list[Finding]:
        settings = Settings.from_context(ctx)
        enabled, why = explicitly_enabled(ctx)
        uri = ctx.param("scoring_uri")
        findings: list[Finding] = []
        direct: Finding | None = None
        needed = settings.expected_seconds(routed=uri is not None)
        if not enabled:
            findings.append(
                Finding.skipped(
                    "in-cluster smoke test",
                    "not run: smoke.inference deploys a model server and a load Job into the "
                    "cluster"
                    + (
                        " and --set smoke=off says not to"
                        if why
                        else ", so it runs only when asked"
                    ),
                    "run it with --check smoke.inference (or --set smoke=on); it creates "
                    "namespace preflight-<run id> and deletes it when the run ends",
                )
            )
        elif ctx.remaining() < needed:
            findings.append(
                Finding.skipped(
                    "in-cluster smoke test",
                    f"not run: the run's deadline leaves {ctx.remaining():.0f}s and the smoke "
                    f"test needs about {needed:.0f}s plus the model server's start",
                    f"raise --deadline to at least {math.ceil(needed + 60)}, or shorten "
                    "--set smoke_duration=...",
                )
            )
        else:
            direct = self._direct(ctx, settings, uri is not None, why)
            findings.append(direct)
        if uri and ctx.cancelled.is_set():  # interrupted during the direct measurement
            findings.append(
                ctx.interrupted_finding(
                    redact_url(uri), "the routed measurement started", kind="routed"
                )
            )
        elif uri:
            findings.append(self._routed(ctx, settings, uri, direct))
        return findings

    # -- in the cluster ---------------------------------------------------------------------------
    def _direct(self, ctx: Context, settings: Settings, routed_next: bool, why: str) -> Finding:
        ns = run_namespace(ctx)
        url = ns.service_url(MODEL, PORT) + "/score"
        serve_args = ["--port", str(PORT)]
        if settings.service_time_ms:
            serve_args += ["--service-time-ms", f"{settings.service_time_ms:g}"]
        load_args = [
            url,
            "--rate",
            f"{settings.rate:g}",
            "--duration",
            f"{settings.duration:g}",
            "--warmup",
            f"{settings.warmup:g}",
            "--timeout",
            f"{REQUEST_TIMEOUT_S:g}",
            "--payload",
            settings.payload,
            "--json",
        ]
        job_deadline = math.ceil(settings.load_seconds() + JOB_START_SLACK_S)
        manifests = [
            deployment_manifest(
                ctx,
                MODEL,
                preflight_command("serve-model"),
                args=serve_args,
                ports=[PORT],
                readiness_path="/healthz",
                resources=RESOURCES,
                proxy="none",  # its traffic stays inside the cluster
                annotations=pod_annotations(ctx, "none"),
            ),
            service_manifest(ctx, MODEL, port=PORT),
            job_manifest(
                ctx,
                LOADER,
                preflight_command("load"),
                args=load_args,
                active_deadline_s=job_deadline,
                resources=RESOURCES,
                proxy="none",  # the Service it loads is in the cluster: no proxy in between
                annotations=pod_annotations(ctx, "none"),
            ),
        ]
        details: dict[str, Any] = {"kind": "direct", "enabled_by": why, "namespace": ns.name}
        if ctx.dry_run:
            for manifest in manifests:
                ns.apply(manifest)
            return Finding.skipped(
                url,
                "dry run: the smoke model Deployment, its Service and the load Job were printed, "
                "nothing was applied",
                "run without --dry-run to measure",
                **details,
                settings=settings.record(),
            )
        try:
            ns.apply(manifests[0])
            ns.apply(manifests[1])
        except KubeError as exc:
            return self._refused(url, exc, details, "the smoke model Deployment")
        # leave the load (and the routed measurement) their expected time, not the worst case
        after_ready = settings.expected_seconds(routed=routed_next)
        ready_bound = max(10.0, min(settings.ready_timeout, ctx.remaining() - after_ready))
        ready = ns.wait_deployment(MODEL, timeout=ready_bound)
        if not ready.ok:
            return self._not_ok(url, ready, details, "the smoke model server did not become ready")
        details["model_node"] = ready.node
        details["ready_after_s"] = ready.waited_s
        try:
            ns.apply(manifests[2])
        except KubeError as exc:
            return self._refused(url, exc, details, "the load Job")
        done = ns.wait_job(LOADER, timeout=job_deadline + 10)
        if not done.ok:
            return self._not_ok(url, done, details, "the load Job did not finish")
        details["load_node"] = done.node
        try:
            log = ns.logs(done.pod or "")
        except KubeError as exc:
            return Finding.errored(
                url,
                f"the load Job finished but its log could not be read: {exc.message}",
                exc.remediation(),
                **details,
            )
        try:
            result = parse_load_log(log)
        except ShapeError as exc:
            return Finding.errored(
                url,
                f"the load Job finished but its result cannot be read: {exc.statement}",
                "the image may not be this version of preflight: --set probe_image must name "
                "the image built from this release",
                **details,
            )
        if result is None:
            tail = " | ".join(line for line in log.splitlines()[-5:] if line.strip())
            return Finding.errored(
                url,
                "the load Job finished but printed no result"
                + (f"; its log ends: {tail}" if tail else " (empty log)"),
                "the image may not be this version of preflight: --set probe_image must name "
                "the image built from this release",
                **details,
            )
        finding = measurement_finding("direct", url, result, settings, details)
        return compare_with_baseline(ctx, finding, settings)

    @staticmethod
    def _refused(url: str, exc: KubeError, details: dict[str, Any], what: str) -> Finding:
        message, remedy = explain(exc)
        status = Status.ERROR if exc.kind == "cancelled" else Status.FAIL
        said = f"{what}: {message}" if exc.kind == "cancelled" else None
        return Finding(
            status,
            url,
            said or f"{what} could not be created: {message}",
            remedy,
            DOCS,
            details={**details, "kube_error": exc.kind},
        )

    @staticmethod
    def _not_ok(url: str, outcome: Outcome, details: dict[str, Any], what: str) -> Finding:
        message, remedy = explain(outcome)
        status = Status.ERROR if outcome.reason == "Cancelled" else Status.FAIL
        return Finding(
            status,
            url,
            # interrupted: "interrupted (SIGTERM) before Job smoke-load finished"
            message if outcome.reason == "Cancelled" else f"{what}: {message}",
            remedy,
            DOCS,
            details={**details, "outcome": outcome.details()},
        )

    # -- through the router -----------------------------------------------------------------------
    def _routed(
        self, ctx: Context, settings: Settings, uri: str, direct: Finding | None
    ) -> Finding:
        target = redact_url(uri)
        details: dict[str, Any] = {"kind": "routed"}
        if ctx.dry_run:  # a dry run changes nothing anywhere: no load on the endpoint either
            return Finding.skipped(
                target,
                "dry run: the routed measurement was not run (it would send "
                f"{settings.rate:g} requests/s for {settings.warmup + settings.duration:g}s)",
                "run without --dry-run to measure",
                **details,
            )
        if ctx.remaining() < settings.load_seconds() + 2:
            return Finding.skipped(
                target,
                f"not measured: the run's deadline leaves {ctx.remaining():.0f}s, the routed "
                f"measurement needs {settings.load_seconds():.0f}s",
                "raise --deadline",
                **details,
            )
        proxy = _proxy_for(ctx, uri)
        if proxy is not None and proxy.error:
            return Finding.failed(
                target,
                f"cannot measure through the router: {proxy.error}",
                "fix the proxy variable (e.g. http://proxy:3128, https://proxy:443, "
                "socks5h://proxy:1080), unset it, add the scoring host to NO_PROXY, or give "
                "--proxy",
                DOCS,
                **details,
            )
        try:
            result = run_load(
                uri,
                settings.rate,
                settings.duration,
                warmup=settings.warmup,
                timeout=REQUEST_TIMEOUT_S,
                payload=settings.payload,
                key=ctx.param("scoring_key"),
                ca_bundle=ctx.options.ca_bundle,
                proxy=proxy,
                stop=ctx.cancelled,  # SIGINT/SIGTERM ends it within ~0.1 s
                partial=True,
            )
        except Exception as exc:  # noqa: BLE001 - UsageError and the like: a bad scoring_uri
            return Finding.failed(
                target,
                f"cannot measure through the router: {exc}",
                "check --set scoring_uri (the endpoint's scoring URL) and scoring_key",
                DOCS,
                **details,
            )
        if ctx.cancelled.is_set():  # what it measured so far is no conclusion: details only
            measured = {k: result.get(k) for k in ("requests", "errors", "measured_s")}
            return ctx.interrupted_finding(
                target,
                f"the routed measurement finished ({measured.get('measured_s') or 0:g}s of "
                f"{settings.duration:g}s measured)",
                **details,
                partial=dict(result),
            )
        finding = measurement_finding("routed", target, result, settings, details)
        direct_load = (
            direct.details if direct is not None and "latency_ms" in direct.details else None
        )
        finding.details["comparison"] = {
            "direct": summary_of(direct_load) if direct_load else None,
            "routed": summary_of(result),
            "overhead_ms": overhead(direct_load, result) if direct_load else None,
        }
        return compare_with_baseline(ctx, finding, settings)


# -- the report key ------------------------------------------------------------------------------
def _view(finding: Finding) -> dict[str, Any]:
    details = finding.details
    return {
        "status": finding.status.value,
        "target": finding.target,
        **summary_of(details),
        "histogram": details.get("histogram"),
        "status_codes": details.get("status_codes"),
    }


class SmokeSummary(Summary):
    """Report key ``smoke``: direct, routed and baseline figures side by side for the renderers
    (HTML table and chart, Markdown table, terminal lines). None when nothing was measured."""

    key = "smoke"

    def summarize(self, ctx: Context, findings: list[Finding]) -> dict[str, Any] | None:
        measured = {
            str(f.details.get("kind")): f
            for f in findings
            if f.check == CHECK_ID and "latency_ms" in f.details
        }
        if not measured:
            return None
        direct, routed = measured.get("direct"), measured.get("routed")
        any_finding = direct or routed
        assert any_finding is not None
        summary: dict[str, Any] = {
            "settings": any_finding.details.get("settings"),
            "direct": _view(direct) if direct else None,
            "routed": _view(routed) if routed else None,
            "overhead_ms": (routed.details.get("comparison") or {}).get("overhead_ms")
            if routed
            else None,
            "baseline": None,
        }
        document, path = baseline_of(ctx)
        if document is not None:
            saved = baseline_findings(document)
            baseline = baseline_run(document, path)
            for kind, finding in (("direct", direct), ("routed", routed)):
                old = saved.get(kind)
                info = (finding.details.get("baseline") if finding else None) or {}
                old_details = (old or {}).get("details") or {}
                baseline[kind] = (
                    {
                        **summary_of(old_details),
                        "histogram": old_details.get("histogram"),
                        "comparable": info.get("comparable"),
                        "reason": info.get("reason"),
                        "verdict": info.get("verdict"),
                        "delta": info.get("delta"),
                    }
                    if old
                    else None
                )
            summary["baseline"] = baseline
        return summary


CHECKS = [SmokeInference(), SmokeSummary()]


def _proxy_for(ctx: Context, uri: str) -> Any:
    """The run's proxy for the scoring URI (--proxy or HTTPS_PROXY, minus NO_PROXY), if any."""

    parts = urlsplit(uri)
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError:
        return None
    return ctx.proxies.for_host(parts.hostname or "", port, tls)
