"""Numbers for ``smoke.inference``: settings parsing, before/after comparison, routed overhead.

Pure functions of plain dicts (what ``preflight load --json`` prints and what report.json keeps),
so the rules are testable without a cluster and the same code reads a saved baseline.

Comparison rules (issue #5, "Before / after"):

- Two runs compare only when the load was the same: rate, measured duration and payload. A run
  at another rate measures another queueing regime; comparing it would call a change in the test
  a change in the cluster. Anything else is "not comparable" (a warning, never a pass).
- p95 regresses when it rose by more than ``max_regression`` (default 25%) *and* by more than
  ``NOISE_FLOOR_MS``: a smoke run is hundreds of requests on a shared cluster, and its
  sub-millisecond percentiles move by a millisecond or two from run to run whatever the
  percentage says. Past the threshold: warn; past twice the threshold: fail.
- The error rate regresses when it rose by more than ``max_regression`` relative to before and
  by at least ``ERROR_RATE_FLOOR`` absolute (half a percentage point; from 0 errors any relative
  rise is infinite, and one dropped request in 400 is not a regression). A regressed error rate
  fails: errors are lost requests, not slower ones.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

from preflight.api import jsonshape

PERCENTILES = ("p50", "p90", "p95", "p99", "p999", "max")
PERCENTILE_LABELS = {"p999": "p99.9"}
#: a p95 change smaller than this is run-to-run noise, whatever its percentage
NOISE_FLOOR_MS = 2.0
#: an error-rate rise smaller than this (absolute) is noise
ERROR_RATE_FLOOR = 0.005
#: the error rate a single run may have before its finding fails
MAX_ERROR_RATE = 0.01
#: the share of the target rate a run must achieve before its finding warns
MIN_ACHIEVED_SHARE = 0.9

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s|sec|m|min)?\s*$", re.IGNORECASE)
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(rps|/s|req/s)?\s*$", re.IGNORECASE)


def parse_seconds(text: str, name: str, *, allow_zero: bool = False) -> float:
    """``"20"``, ``"20s"``, ``"1.5m"``, ``"500ms"`` -> seconds (ValueError: a one-line reason)."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{name}: expected seconds such as 20 or 20s, got {text!r}")
    value = float(match[1])
    unit = (match[2] or "s").lower()
    value *= {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0}[unit]
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}: must be a positive number of seconds, got {text!r}")
    return value


def parse_rate(text: str, name: str = "smoke_rate") -> float:
    """``"20"``, ``"20rps"``, ``"20/s"`` -> requests per second (positive, at most 10,000)."""
    match = _RATE.match(str(text))
    if not match:
        raise ValueError(f"{name}: expected requests per second such as 20, got {text!r}")
    value = float(match[1])
    if not 0 < value <= 10_000:
        raise ValueError(f"{name}: must be between 0 and 10000 requests per second")
    return value


def parse_fraction(text: str, name: str = "smoke_max_regression") -> float:
    """``"25%"`` or ``"0.25"`` -> 0.25. A bare number above 1 is refused as ambiguous
    (``25`` could mean 25% or 2500%)."""
    raw = str(text).strip()
    percent = raw.endswith("%")
    try:
        value = float(raw[:-1] if percent else raw)
    except ValueError:
        raise ValueError(
            f"{name}: expected a percentage such as 25% or 0.25, got {text!r}"
        ) from None
    if percent:
        value /= 100.0
    elif value > 1:
        raise ValueError(f"{name}: {text!r} is ambiguous; write {value:g}% or {value / 100:g}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: must be above 0, got {text!r}")
    return value


def parse_milliseconds(text: str, name: str) -> float:
    """A non-negative number of milliseconds (``"20"`` or ``"20ms"``)."""
    raw = str(text).strip().lower().removesuffix("ms").strip()
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: expected milliseconds such as 20, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or value > 60_000:
        raise ValueError(f"{name}: must be between 0 and 60000 ms")
    return value


def payload_digest(payload: str | bytes) -> str:
    """The payload's identity for comparability: a short SHA-256 (the payload itself may be
    large, and a user's payload could hold data that does not belong in a report)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return hashlib.sha256(data).hexdigest()[:16]


def pct_label(name: str) -> str:
    return PERCENTILE_LABELS.get(name, name)


_NUM, _INT = jsonshape.NUM, jsonshape.INT
#: what is read of ``preflight load --json`` (the load Job's last log line, or run_load's dict)
LOAD_RESULT = jsonshape.Obj(
    {
        "requests": _INT,
        "errors": _INT,
        "error_rate": _NUM,
        "target_rps": _NUM,
        "achieved_rps": _NUM,
        "latency_ms": jsonshape.Obj(values=_NUM),
        "histogram": jsonshape.Obj(
            {"bucket_upper_ms": jsonshape.Arr(_NUM), "counts": jsonshape.Arr(_INT)}
        ),
        "status_codes": jsonshape.Obj(values=_INT),
        "errors_by_kind": jsonshape.Obj(values=_INT),
        "error_examples": jsonshape.Obj(values=jsonshape.STR),
        "send_lag_ms": jsonshape.Obj(values=_NUM),
        "connections": jsonshape.Obj(values=_INT),
        "rate": _NUM,
        "duration_s": _NUM,
        "warmup_s": _NUM,
        "timeout_s": _NUM,
        "elapsed_s": _NUM,
        "payload_bytes": _INT,
        "method": jsonshape.STR,
        "url": jsonshape.STR,
        "partial": jsonshape.BOOL,
        "measured_s": _NUM,
    },
    required=("latency_ms",),
)


def number(value: Any) -> float | None:
    """A finite float or None (reports may hold null for a latency never measured)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        value = float(value)
    except OverflowError:  # an integer no float holds
        return None
    return value if math.isfinite(value) else None


def summary_of(load: Mapping[str, Any]) -> dict[str, Any]:
    """The figures people compare: percentiles, errors and rates (no histogram)."""
    latency = load.get("latency_ms") if isinstance(load.get("latency_ms"), Mapping) else {}
    assert isinstance(latency, Mapping)
    return {
        "latency_ms": {p: number(latency.get(p)) for p in PERCENTILES},
        "requests": load.get("requests"),
        "errors": load.get("errors"),
        "error_rate": number(load.get("error_rate")),
        "target_rps": number(load.get("target_rps")),
        "achieved_rps": number(load.get("achieved_rps")),
    }


def not_comparable(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Why two runs' settings differ (empty when they compare): rate, duration, payload."""
    reasons = []
    for key, label, unit in (("rate", "rate", " rps"), ("duration_s", "duration", " s")):
        old, new = number(before.get(key)), number(after.get(key))
        if old is None or new is None or abs(old - new) > 1e-6 * max(abs(old), 1.0):
            reasons.append(f"{label} {_fmt(old)}{unit} before, {_fmt(new)}{unit} now")
    old_payload, new_payload = before.get("payload_sha256"), after.get("payload_sha256")
    if not old_payload or old_payload != new_payload:
        reasons.append(
            "a different payload" if old_payload else "the baseline does not record its payload"
        )
    return reasons


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}"


def delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Per percentile and for the error rate: before, after, change in ms (or points) and %."""
    out: dict[str, Any] = {}
    old_lat, new_lat = before.get("latency_ms") or {}, after.get("latency_ms") or {}
    for p in PERCENTILES:
        out[p] = _change(number(old_lat.get(p)), number(new_lat.get(p)), "ms")
    out["error_rate"] = _change(number(before.get("error_rate")), number(after.get("error_rate")))
    out["achieved_rps"] = _change(
        number(before.get("achieved_rps")), number(after.get("achieved_rps"))
    )
    return out


def _change(old: float | None, new: float | None, unit: str = "") -> dict[str, Any]:
    change: dict[str, Any] = {"before": old, "after": new}
    key = "delta_ms" if unit == "ms" else "delta"
    if old is None or new is None:
        change[key] = None
        change["delta_pct"] = None
        return change
    change[key] = round(new - old, 6 if not unit else 3)
    change["delta_pct"] = round(100.0 * (new - old) / old, 1) if old > 0 else None
    return change


def judge(
    before: Mapping[str, Any], after: Mapping[str, Any], threshold: float
) -> tuple[str, list[str]]:
    """("pass" | "warn" | "fail", sentences) for ``after`` against ``before`` (summaries)."""
    sentences: list[str] = []
    verdict = "pass"
    old_p95 = number((before.get("latency_ms") or {}).get("p95"))
    new_p95 = number((after.get("latency_ms") or {}).get("p95"))
    if old_p95 is not None and new_p95 is not None:
        rise = new_p95 - old_p95
        ratio = rise / old_p95 if old_p95 > 0 else math.inf
        change = f"p95 {_ms(old_p95)} -> {_ms(new_p95)} ms ({_signed_pct(ratio)})"
        if rise > NOISE_FLOOR_MS and ratio > threshold:
            verdict = "fail" if ratio > 2 * threshold else "warn"
            limit = "more than twice" if verdict == "fail" else "more than"
            sentences.append(f"{change}: {limit} the allowed regression of {threshold:.0%}")
        else:
            sentences.append(f"{change}, within the allowed {threshold:.0%}")
    else:
        sentences.append("p95 missing on one side: latency not compared")
        verdict = "warn"
    old_err = number(before.get("error_rate")) or 0.0
    new_err = number(after.get("error_rate")) or 0.0
    if new_err - old_err >= ERROR_RATE_FLOOR and (
        old_err == 0 or (new_err - old_err) / old_err > threshold
    ):
        verdict = "fail"
        sentences.append(f"error rate {old_err:.2%} -> {new_err:.2%}: regressed")
    elif new_err or old_err:
        sentences.append(f"error rate {old_err:.2%} -> {new_err:.2%}")
    return verdict, sentences


def overhead(direct: Mapping[str, Any], routed: Mapping[str, Any]) -> dict[str, float | None]:
    """What the route through the router adds: routed minus direct, per percentile (ms)."""
    old_lat, new_lat = direct.get("latency_ms") or {}, routed.get("latency_ms") or {}
    out: dict[str, float | None] = {}
    for p in ("p50", "p95", "p99"):
        old, new = number(old_lat.get(p)), number(new_lat.get(p))
        out[p] = None if old is None or new is None else round(new - old, 3)
    return out


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _signed_pct(ratio: float) -> str:
    if math.isinf(ratio):
        return "from zero"
    return f"{ratio:+.0%}"
