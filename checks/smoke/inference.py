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
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
    jsonshape,
    preflight_command,
    redact_url,
    run_load,
    run_namespace,
    service_manifest,
    truthy,
)
from preflight.checks._shared.pod_platform import pod_annotations
from preflight.checks.smoke.compare import (
    LOAD_RESULT,
    MAX_ERROR_RATE,
    MIN_ACHIEVED_SHARE,
    delta,
    judge,
    not_comparable,
    number,
    overhead,
    parse_fraction,
    parse_milliseconds,
    parse_rate,
    parse_seconds,
    payload_digest,
    summary_of,
)

CHECK_ID = "smoke.inference"
DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-kubernetes-inference-routing-azureml-fe"
MODEL = "smoke-model"
LOADER = "smoke-load"
PORT = 5001
#: the request every run sends (the smoke model's sample: two rows of four features); part of
#: what makes two runs comparable, so it is fixed here rather than borrowed from elsewhere
PAYLOAD = '{"data":[[12.0,70.5,1.0,0.0],[2.0,99.0,4.0,2.0]]}'
#: per-request timeout of the load generator (s), from each request's intended send time
REQUEST_TIMEOUT_S = 5.0
#: time a Job's pod gets beyond the load itself: scheduling, image pull, interpreter start
JOB_START_SLACK_S = 90.0
#: what a pod's start usually takes on a cluster that already pulled the image
EXPECTED_START_S = 20.0
#: the smoke pods' resources: the runtime's small requests (they schedule anywhere), but a
#: whole CPU as the limit: CFS throttling under a tight limit would show up as latency
RESOURCES = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "1", "memory": "256Mi"},
}

PARAMETERS = {
    "smoke": "on: run smoke.inference's in-cluster deployment (also on when --check names "
    "smoke.inference); off: never",
    "smoke_rate": "smoke.inference: requests per second, constant (default 20)",
    "smoke_duration": "smoke.inference: measured seconds of load (default 20)",
    "smoke_warmup": "smoke.inference: seconds of uncounted load first (default 2)",
    "smoke_timeout": "smoke.inference: bound on the model server becoming ready, seconds "
    "(default 120)",
    "smoke_max_regression": "smoke.inference with --baseline: allowed p95 / error-rate "
    "regression, 25% or 0.25 (default 25%; past twice it fails)",
    "smoke_service_time_ms": "smoke.inference: add artificial service time to the smoke model, "
    "ms (for testing the tool itself; default 0)",
    "scoring_uri": "smoke.inference: a scoring URL behind the extension's router (azureml-fe) "
    "to measure from here, side by side with the direct measurement",
    "scoring_key": "smoke.inference: key or token for scoring_uri (sent as a bearer token; "
    "a secret, never shown)",
}


def _check_uri(value: str) -> None:
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// scoring URL")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value.strip()):
        raise ValueError("contains spaces or control characters (percent-encode them)")


VALIDATORS: dict[str, Callable[[str], object]] = {
    "smoke": lambda v: _switch(v),
    "smoke_rate": parse_rate,
    "smoke_duration": lambda v: parse_seconds(v, "smoke_duration"),
    "smoke_warmup": lambda v: parse_seconds(v, "smoke_warmup", allow_zero=True),
    "smoke_timeout": lambda v: parse_seconds(v, "smoke_timeout"),
    "smoke_max_regression": parse_fraction,
    "smoke_service_time_ms": lambda v: parse_milliseconds(v, "smoke_service_time_ms"),
    "scoring_uri": _check_uri,
}


@dataclass(frozen=True)
class Settings:
    """What this run measures with; rate, duration and payload decide comparability."""

    rate: float = 20.0
    duration: float = 20.0
    warmup: float = 2.0
    ready_timeout: float = 120.0
    max_regression: float = 0.25
    service_time_ms: float = 0.0
    payload: str = PAYLOAD

    @classmethod
    def from_context(cls, ctx: Context) -> Settings:
        def get(name: str, default: str) -> str:
            return ctx.param(name) or default

        return cls(
            rate=parse_rate(get("smoke_rate", "20")),
            duration=parse_seconds(get("smoke_duration", "20"), "smoke_duration"),
            warmup=parse_seconds(get("smoke_warmup", "2"), "smoke_warmup", allow_zero=True),
            ready_timeout=parse_seconds(get("smoke_timeout", "120"), "smoke_timeout"),
            max_regression=parse_fraction(get("smoke_max_regression", "25%")),
            service_time_ms=parse_milliseconds(
                get("smoke_service_time_ms", "0"), "smoke_service_time_ms"
            ),
        )

    def record(self) -> dict[str, Any]:
        """The settings as a report keeps them (the payload by digest, never in full)."""
        record: dict[str, Any] = {
            "rate": self.rate,
            "duration_s": self.duration,
            "warmup_s": self.warmup,
            "payload_sha256": payload_digest(self.payload),
            "payload_bytes": len(self.payload.encode()),
            "request_timeout_s": REQUEST_TIMEOUT_S,
        }
        if self.service_time_ms:
            record["service_time_ms"] = self.service_time_ms
        return record

    def load_seconds(self) -> float:
        """The promised bound on one load run (the generator's own guarantee)."""
        return self.warmup + self.duration + REQUEST_TIMEOUT_S + 1.0

    def expected_seconds(self, *, routed: bool) -> float:
        """What the measurements usually take once the model is ready: the load Job (its pod's
        start included) and, with scoring_uri, the routed run. Waits are bounded separately."""
        return self.load_seconds() + EXPECTED_START_S + (self.load_seconds() if routed else 0)


def _switch(value: str) -> bool:
    """``--set smoke=on|off`` (also true/false, yes/no, 1/0); ValueError otherwise."""
    switch = truthy(_switch_value(value))
    if switch is None:
        raise ValueError("expected on or off")
    return switch


def explicitly_enabled(ctx: Context) -> tuple[bool, str]:
    """(run the in-cluster deployment?, why). ``--set smoke=off`` always wins."""
    switch = truthy(_switch_value(ctx.param("smoke")))
    if switch is False:
        return False, "--set smoke=off"
    if switch is True:
        return True, "--set smoke=on"
    patterns = tuple(getattr(ctx.options, "check_patterns", ()) or ())
    for pattern in patterns:
        if "smoke" in pattern.lower() and fnmatch.fnmatchcase(CHECK_ID, pattern):
            return True, f"--check {pattern}"
    return False, ""


def _switch_value(value: str | None) -> str | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    return {"on": "true", "off": "false", "enabled": "true", "disabled": "false"}.get(
        lowered, lowered
    )


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


# -- results ------------------------------------------------------------------------------------
def parse_load_log(log: str) -> dict[str, Any] | None:
    """The ``preflight load --json`` object in a pod log (the last line that is one); None when
    there is none; ShapeError when that line has fields of the wrong type."""
    for line in reversed(log.splitlines()):
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            data = jsonshape.loads(text, "")
        except ShapeError:
            continue
        if isinstance(data, dict) and "latency_ms" in data:
            checked: dict[str, Any] = jsonshape.check(data, LOAD_RESULT, "the load Job's log")
            return checked
    return None


def _ms(value: Any) -> str:
    number_ = number(value)
    if number_ is None:
        return "–"
    return f"{number_:.2f}" if number_ < 10 else f"{number_:.1f}"


def _errors_said(result: Mapping[str, Any]) -> str:
    """``401 x400`` / ``connect: connection refused``: what the errors were."""
    parts = []
    codes = result.get("status_codes") or {}
    bad = {c: n for c, n in codes.items() if not str(c).startswith("2")}
    if bad:
        parts.append(", ".join(f"HTTP {c} x{n}" for c, n in sorted(bad.items())))
    examples = result.get("error_examples") or {}
    for kind, count in sorted((result.get("errors_by_kind") or {}).items()):
        if kind == "status":
            continue
        parts.append(f"{kind} x{count}: {examples.get(kind, '')}".rstrip(": "))
    return "; ".join(parts)


def _error_remedy(kind: str, result: Mapping[str, Any]) -> str:
    codes = {str(c) for c in (result.get("status_codes") or {})}
    by_kind = set(result.get("errors_by_kind") or {})
    if kind == "routed":
        if codes & {"401", "403"}:
            return (
                "the router refused the credentials: set scoring_key to the endpoint's key "
                "(or a valid token for token auth)"
            )
        if "404" in codes:
            return "scoring_uri names no deployment: use the endpoint's scoring URL as shown"
        if any(c.startswith("4") for c in codes):
            return (
                "the endpoint refused the smoke payload: point scoring_uri at a deployment of "
                "preflight's smoke model (the probe image running `preflight serve-model`)"
            )
        if any(c.startswith("5") for c in codes):
            return (
                "the router or the model behind it failed: read the azureml-fe and the "
                "deployment's logs (kubectl logs -n azureml deploy/azureml-fe-v2)"
            )
        if "proxy" in by_kind:
            return (
                "the proxy between this machine and scoring_uri refused or broke the tunnel (the "
                "errors say how): allow the scoring host in the proxy, fix the proxy URL's "
                "credentials, or add the host to NO_PROXY"
            )
        if by_kind & {"dns", "connect", "tls"}:
            return (
                "this machine cannot reach scoring_uri: check its host, port, the router's "
                "Service type (LoadBalancer/NodePort) and firewall; for TLS pass --ca-bundle"
            )
        return "the router answered too slowly or dropped requests: read azureml-fe's logs"
    if by_kind & {"dns"}:
        return "the load pod could not resolve the Service name: check CoreDNS (kube-dns)"
    if by_kind & {"connect", "timeout", "closed"}:
        return (
            "pod-to-Service traffic was refused or dropped: check NetworkPolicies in the cluster, "
            "the CNI and kube-proxy (the model reached readiness, so the pod itself served)"
        )
    return "the smoke model answered errors: this is unexpected, report it with report.json"


def measurement_finding(
    kind: str,
    target: str,
    result: Mapping[str, Any],
    settings: Settings,
    details: Mapping[str, Any],
) -> Finding:
    """The finding for one load run: pass with the percentiles, fail past 1% errors, warn when
    the achieved rate fell short of 90% of the target (the numbers then measure less load)."""
    lat = result.get("latency_ms") or {}
    requests = int(result.get("requests") or 0)
    errors = int(result.get("errors") or 0)
    error_rate = number(result.get("error_rate")) or 0.0
    achieved = number(result.get("achieved_rps")) or 0.0
    rate = number(result.get("target_rps")) or settings.rate
    figures = (
        f"p50 {_ms(lat.get('p50'))} ms, p95 {_ms(lat.get('p95'))} ms, "
        f"p99 {_ms(lat.get('p99'))} ms at {rate:g} rps, {errors} errors"
    )
    where = "in the cluster (pod to Service)" if kind == "direct" else "through the router"
    all_details = {**details, "settings": settings.record(), **dict(result)}
    all_details.pop("schema", None)
    if requests and error_rate > MAX_ERROR_RATE:
        said = _errors_said(result)
        every = (
            "every request failed"
            if errors >= requests
            else (f"{errors} of {requests} requests failed ({error_rate:.1%})")
        )
        return Finding(
            Status.FAIL,
            target,
            f"{where}: {every} ({said}); {figures}",
            _error_remedy(kind, result),
            DOCS,
            details=all_details,
        )
    if achieved < MIN_ACHIEVED_SHARE * rate:
        return Finding(
            Status.WARN,
            target,
            f"{where}: {figures}, but only {achieved:.1f} of {rate:g} rps were achieved "
            "(the latencies describe less load than asked for)",
            "the load generator or the path could not keep up: check the load pod's CPU (a "
            "LimitRange may cap it) or lower --set smoke_rate",
            DOCS,
            details=all_details,
        )
    return Finding(
        Status.PASS,
        target,
        f"{where}: {figures} ({requests} requests in {settings.duration:g}s, achieved "
        f"{achieved:.1f} rps)",
        details=all_details,
    )


# -- baseline -----------------------------------------------------------------------------------
def baseline_findings(document: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """The saved run's measurement findings of this check, by kind (direct, routed)."""
    found: dict[str, Mapping[str, Any]] = {}
    if not isinstance(document, Mapping):
        return found
    for result in document.get("results") or []:
        if not isinstance(result, Mapping) or result.get("check") != CHECK_ID:
            continue
        details = result.get("details")
        if isinstance(details, Mapping) and isinstance(details.get("latency_ms"), Mapping):
            kind = details.get("kind")
            if kind in ("direct", "routed") and kind not in found:
                found[str(kind)] = result
    return found


def _baseline_of(ctx: Context) -> tuple[Mapping[str, Any] | None, str]:
    options = ctx.options
    return getattr(options, "baseline", None), str(getattr(options, "baseline_path", "") or "")


def _baseline_run(document: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Which saved run the baseline is: its report's path, run id and start time."""
    run = document.get("run") if isinstance(document.get("run"), Mapping) else {}
    assert isinstance(run, Mapping)
    return {"report": path, "run_id": run.get("id"), "started_at": run.get("started_at")}


_WORSE = {"pass": 0, "warn": 1, "fail": 2}


def compare_with_baseline(ctx: Context, finding: Finding, settings: Settings) -> Finding:
    """Add the before/after comparison to a measurement finding (status: the worse of the two).

    Only a measurement that itself concluded (pass/warn/fail with figures) is compared."""
    document, path = _baseline_of(ctx)
    if document is None or "latency_ms" not in finding.details:
        return finding
    kind = str(finding.details.get("kind"))
    info = {**_baseline_run(document, path), "max_regression": settings.max_regression}
    before = baseline_findings(document).get(kind)
    if before is None:
        info["comparable"] = False
        if kind == "routed":  # before the install there was no router to measure: normal
            info["reason"] = "the baseline has no routed measurement"
            finding.details["baseline"] = info
            return finding
        info["reason"] = "the baseline has no direct smoke.inference measurement"
        return _merge(
            finding,
            "warn",
            [f"not comparable: {info['reason']}"],
            info,
            (
                f"use as baseline a report of a run that measured ({path}: run it with --check "
                "smoke.inference)"
            ),
        )
    old_details = before.get("details") or {}
    assert isinstance(old_details, Mapping)
    reasons = not_comparable(old_details.get("settings") or {}, settings.record())
    old_summary, new_summary = summary_of(old_details), summary_of(finding.details)
    info.update(before=old_summary, after=new_summary, delta=delta(old_summary, new_summary))
    if reasons:
        info["comparable"] = False
        info["reason"] = "; ".join(reasons)
        return _merge(
            finding,
            "warn",
            [f"not comparable with the baseline: {info['reason']}"],
            info,
            "run with the baseline's settings (--set smoke_rate=..., "
            "smoke_duration=...) to compare",
        )
    info["comparable"] = True
    verdict, sentences = judge(old_summary, new_summary, settings.max_regression)
    info["verdict"] = verdict
    remedy = (
        "latency or errors regressed since the baseline run: compare what changed between the "
        "runs (the extension's components on the nodes, node size and load, CNI or network "
        "policy); re-run to rule out a noisy neighbour"
    )
    return _merge(finding, verdict, [f"vs baseline: {'; '.join(sentences)}"], info, remedy)


def _merge(
    finding: Finding, verdict: str, sentences: list[str], info: dict[str, Any], remedy: str
) -> Finding:
    finding.details["baseline"] = info
    finding.message = f"{finding.message}; {'; '.join(sentences)}"
    current = finding.status.value
    if _WORSE.get(verdict, 0) > _WORSE.get(current, 0) and current in _WORSE:
        finding.status = Status(verdict)
        finding.remediation = (
            remedy if not finding.remediation else (f"{finding.remediation}; {remedy}")
        )
        finding.docs = finding.docs or DOCS
    return finding


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
        document, path = _baseline_of(ctx)
        if document is not None:
            saved = baseline_findings(document)
            baseline = _baseline_run(document, path)
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
