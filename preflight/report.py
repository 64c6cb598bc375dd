"""Assembling the finished run into the ``preflight.report/v1`` document (DESIGN.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from preflight import __version__
from preflight.model import Finding, summarize
from preflight.redact import Redactor

SCHEMA = "preflight.report/v1"


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).isoformat(timespec="seconds")


def build(
    *,
    run_id: str,
    started: float,
    finished: float,
    profile: Mapping[str, Any],
    parameters: Mapping[str, str],
    target: Mapping[str, Any] | None,
    findings: Sequence[Finding],
    redactor: Redactor,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report dict, with every string passed through the redactor."""
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "preflight", "version": __version__},
        "run": {
            "id": run_id,
            "started_at": iso(started),
            "finished_at": iso(finished),
            "duration_s": round(finished - started, 3),
        },
        "profile": dict(profile),
        "parameters": dict(parameters),
        "target": dict(target) if target is not None else None,
        "summary": summarize(findings),
        "results": [f.to_dict() for f in findings],
    }
    if extra:
        document.update(extra)
    redacted: dict[str, Any] = redactor.data(document)
    return redacted
