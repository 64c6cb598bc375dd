"""The ``preflight.report/v1`` document: assembled from a finished run (``build``), and read back,
checked, from a saved report.json (``load``, for ``preflight report`` and ``--baseline``).
Renderers (reports/) only turn the document into files."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from preflight import __version__
from preflight.model import STATUS_ORDER, Finding, summarize
from preflight.redact import Redactor

SCHEMA = "preflight.report/v1"
#: every status, worst first
SEVERITY_DESC: tuple[str, ...] = tuple(s.value for s in reversed(STATUS_ORDER))


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


def load(path: str | pathlib.Path) -> dict[str, Any]:
    """Read a saved report, checking it is a ``preflight.report/v1`` document renderers can use.

    Raises ValueError with a one-line reason naming the file (never a traceback for the CLI).
    """
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    reason = _problem(data)
    if reason:
        raise ValueError(f"{path}: {reason}")
    return data


def _problem(data: Any) -> str | None:
    """Why ``data`` is not a usable v1 report, or None when it is."""
    if not isinstance(data, dict):
        return f"not a preflight report (expected a JSON object, got {type(data).__name__})"
    schema = data.get("schema")
    if schema != SCHEMA:
        if schema is None:
            return f"not a preflight report (no 'schema' key; expected {SCHEMA!r})"
        return f"unsupported report schema {schema!r} (expected {SCHEMA!r})"
    results = data.get("results")
    if not isinstance(results, list):
        return "'results' must be a list of findings"
    for index, finding in enumerate(results):
        if not isinstance(finding, dict):
            return f"results[{index}] must be an object"
        status = finding.get("status")
        if status not in SEVERITY_DESC:
            return (
                f"results[{index}].status {status!r} is not one of "
                f"{', '.join(reversed(SEVERITY_DESC))}"
            )
        if not isinstance(finding.get("check"), str) or not finding["check"]:
            return f"results[{index}].check must be a non-empty string"
    for key in ("tool", "run", "profile", "parameters", "summary"):
        if key in data and data[key] is not None and not isinstance(data[key], dict):
            return f"{key!r} must be an object"
    if data.get("target") is not None and not isinstance(data["target"], dict):
        return "'target' must be an object or null"
    return None
