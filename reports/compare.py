"""The report's ``comparison`` (``--baseline``), shaped for the renderers: this run beside the
earlier one. Tolerates a partial or hand-edited document: every field may be missing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._common import SEVERITY_DESC, clean, format_time, mapping

CHANGE_WORDS = {
    "worse": "worse",
    "new": "new",
    "better": "better",
    "gone": "gone",
    "input changed": "input changed",
    "same": "unchanged",
    "only after": "this run only",
    "only before": "baseline only",
}
#: changes shown up front; the rest (unchanged, or checked in one run only) fold away
SHOWN = ("worse", "new", "better", "input changed", "gone")


def comparison_view(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """Labels, the changed and unchanged rows, what came true, the baseline's warnings."""
    comparison = mapping(report.get("comparison"))
    if not comparison:
        return None
    rows = [_row(r) for r in _list(comparison.get("rows"))]
    counts = mapping(comparison.get("counts"))
    return {
        "baseline": _run(mapping(comparison.get("baseline"))),
        "current": _run(mapping(comparison.get("current"))),
        "counts": [
            {"change": key, "word": CHANGE_WORDS[key], "count": _int(counts.get(key))}
            for key in CHANGE_WORDS
            if _int(counts.get(key))
        ],
        "changed": [r for r in rows if r["change"] in SHOWN],
        "unchanged": [r for r in rows if r["change"] not in SHOWN],
        "came_true": [_came_true(c) for c in _list(comparison.get("came_true"))],
        "warnings": [_warning(w) for w in _list(comparison.get("baseline_warnings"))],
    }


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _status(value: Any) -> str:
    status = clean(value).lower()
    return status if status in SEVERITY_DESC else "error"


def _run(info: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": clean(info.get("run_id")),
        "started": format_time(info.get("started_at")),
        "phase": clean(info.get("phase")) or "before",
        "verdict": clean(info.get("verdict")),
        "report": clean(info.get("report")),
    }


def _side(value: Any) -> dict[str, str] | None:
    side = mapping(value)
    if not side:
        return None
    return {"status": _status(side.get("status")), "message": clean(side.get("message"))}


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    change = clean(row.get("change"))
    return {
        "check": clean(row.get("check")),
        "target": clean(row.get("target")),
        "before": _side(row.get("before")),
        "after": _side(row.get("after")),
        "change": change,
        "change_word": CHANGE_WORDS.get(change, change),
        # "input changed": the two runs judged different inputs (preflight/compare.py)
        "reason": clean(row.get("reason")),
    }


def _brief(value: Mapping[str, Any]) -> dict[str, str]:
    return {
        "check": clean(value.get("check")),
        "target": clean(value.get("target")),
        "status": _status(value.get("status")),
        "message": clean(value.get("message")),
    }


def _came_true(item: Mapping[str, Any]) -> dict[str, Any]:
    return {**_brief(item), "foreseen": [_brief(f) for f in _list(item.get("foreseen"))]}


def _warning(item: Mapping[str, Any]) -> dict[str, Any]:
    still = clean(item.get("still")).lower()
    return {
        **_brief(item),
        "came_true": item.get("came_true") is True,
        "still": still if still in SEVERITY_DESC else "",
    }


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    """Plain text for the terminal and Markdown: the counts, then what came true."""
    view = comparison_view(report)
    if view is None:
        return []
    baseline = view["baseline"]
    counts = ", ".join(f"{c['count']} {c['word']}" for c in view["counts"]) or "nothing"
    lines = [
        f"compared with baseline run {baseline['run_id'] or '?'} ({baseline['phase']}"
        + (f", {baseline['started']}" if baseline["started"] else "")
        + f"): {counts}"
    ]
    for item in view["came_true"]:
        where = f" {item['target']}" if item["target"] else ""
        foreseen = "; ".join(
            f"{f['check']}{' ' + f['target'] if f['target'] else ''} ({f['status']})"
            for f in item["foreseen"]
        )
        lines.append(
            f"came true: {item['check']}{where} is {item['status']}, foreseen by {foreseen}"
        )
    return lines
