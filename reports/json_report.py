"""``report.json``: the machine-readable record of a run, and the input of ``preflight report``."""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Mapping
from typing import Any

from ._common import SEVERITY_DESC

SCHEMA = "preflight.report/v1"


def render(report: Mapping[str, Any]) -> str:
    """The report as UTF-8 JSON text, keys in the order the engine built them.

    NaN and infinities (a latency that was never measured) become null: they are not JSON, and
    strict parsers (jq, PowerShell, most CI tools) would reject the whole file.
    """
    return json.dumps(_finite(report), indent=2, ensure_ascii=False, default=str) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


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
