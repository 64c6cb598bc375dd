"""What one load run concludes for ``smoke.inference``: the load generator's JSON result read
from a pod log (shape-checked), and the finding it makes (pass with the percentiles, fail past
1% errors, warn when the achieved rate fell short), with a remedy that fits the errors seen.
Kept apart from the deployment steps so that the verdict on the numbers reads on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflight.api import Finding, ShapeError, Status, jsonshape
from preflight.checks.smoke.compare import LOAD_RESULT, MAX_ERROR_RATE, MIN_ACHIEVED_SHARE, number
from preflight.checks.smoke.settings import DOCS, Settings


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
