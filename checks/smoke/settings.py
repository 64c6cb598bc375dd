"""What ``smoke.inference`` is asked to measure: its parameters and their validators, the
settings they make (rate, duration and payload decide whether two runs compare) and whether the
in-cluster deployment may run at all. Kept apart because the check, the result's verdict and the
baseline comparison all read them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from preflight.api import Context, truthy
from preflight.checks.smoke.compare import (
    parse_fraction,
    parse_milliseconds,
    parse_rate,
    parse_seconds,
    payload_digest,
)

CHECK_ID = "smoke.inference"
DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-kubernetes-inference-routing-azureml-fe"
#: the request every run sends (the smoke model's sample: two rows of four features); part of
#: what makes two runs comparable, so it is fixed here rather than borrowed from elsewhere
PAYLOAD = '{"data":[[12.0,70.5,1.0,0.0],[2.0,99.0,4.0,2.0]]}'
#: per-request timeout of the load generator (s), from each request's intended send time
REQUEST_TIMEOUT_S = 5.0
#: what a pod's start usually takes on a cluster that already pulled the image
EXPECTED_START_S = 20.0

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
