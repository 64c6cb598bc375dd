"""Helpers every renderer shares, so that all formats order, count and clean data the same way.

Renderers receive the report dict exactly as ``report.json`` holds it (schema
``preflight.report/v1``); it may come from a file a user edited, so every accessor here tolerates
missing keys and unexpected types instead of raising half-way through writing a report.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from preflight.model import STATUS_ORDER, Finding, Status, summarize

#: Statuses from most to least severe: the order findings are listed in everywhere.
SEVERITY_DESC: tuple[str, ...] = tuple(s.value for s in reversed(STATUS_ORDER))
_RANK = {status: rank for rank, status in enumerate(SEVERITY_DESC)}

#: The verdict in words, before the install (readiness) and after it (``--set phase=after``).
VERDICT_WORDS = {
    "pass": "PASS: no blocking findings",
    "warn": "WARN: ready, with warnings to review",
    "fail": "FAIL: not ready",
}
AFTER_VERDICT_WORDS = {
    "pass": "PASS: the installation checks out",
    "warn": "WARN: installed, with warnings to review",
    "fail": "FAIL: the installation needs attention",
}


def verdict_words(report: Mapping[str, Any]) -> dict[str, str]:
    """The verdict words for this report's phase."""
    return AFTER_VERDICT_WORDS if report.get("phase") == "after" else VERDICT_WORDS


UNCATEGORIZED = "other"

# Characters XML 1.0 cannot carry at all (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/F).
# Markdown, HTML and terminals have no use for them either, and some of them (ESC) can drive a
# terminal, so every renderer drops them from user data.
_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def clean(value: Any) -> str:
    """User data as display text: None is empty, non-strings are JSON, illegal characters go."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = to_json_text(value)
    return _ILLEGAL_CHARS.sub("", value)


def to_json_text(value: Any) -> str:
    """Compact JSON for a details/parameter value that is not a string (lists, numbers, bools)."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # circular structure: unlikely, but a report must still render
        return str(value)


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one (a section missing from a partial report)."""
    return value if isinstance(value, Mapping) else {}


def status_of(finding: Mapping[str, Any]) -> str:
    """The finding's status as a lower-case string ('' when missing)."""
    return str(finding.get("status") or "").lower()


def rank(status: str) -> int:
    """Sort key: error first, pass last; an unknown status sorts first, where a reader looks."""
    return _RANK.get(status, -1)


def results_of(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The findings of a run, ignoring anything in ``results`` that is not a mapping."""
    results = report.get("results") or []
    return [r for r in results if isinstance(r, Mapping)]


def by_severity(findings: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Findings most severe first; equal statuses keep the order the run produced them in."""
    return sorted(findings, key=lambda f: rank(status_of(f)))


def summary_of(report: Mapping[str, Any]) -> dict[str, Any]:
    """Counts per status and the verdict: the report's own summary, or one computed from results.

    Computed exactly as :func:`preflight.model.summarize` does, for hand-made or partial reports.
    """
    given = report.get("summary")
    if isinstance(given, Mapping) and all(s in given for s in SEVERITY_DESC) and "verdict" in given:
        return {
            **{s: _as_int(given[s]) for s in SEVERITY_DESC},
            "ignored": _as_int(given.get("ignored", 0)),
            "verdict": str(given["verdict"]),
        }

    known = {s.value for s in Status}
    findings = [
        Finding(Status(status_of(f)), ignored=ignored_of(f))
        for f in results_of(report)
        if status_of(f) in known
    ]
    return summarize(findings)


def ignored_of(finding: Mapping[str, Any]) -> dict[str, Any] | None:
    """A finding's waiver (reason, expires, source) when one accepted it, else None."""
    ignored = finding.get("ignored")
    return dict(ignored) if isinstance(ignored, Mapping) else None


def accepted_text(finding: Mapping[str, Any]) -> str:
    """How every renderer says a finding was accepted: "accepted: <reason> (until <date>,
    <source>)"; '' for a finding no waiver accepted."""
    ignored = ignored_of(finding)
    if ignored is None:
        return ""
    reason = clean(ignored.get("reason")) or "no reason given"
    where = [f"until {clean(ignored['expires'])}"] if ignored.get("expires") else []
    if ignored.get("source"):
        where.append(clean(ignored["source"]))
    return f"accepted: {reason}" + (f" ({', '.join(where)})" if where else "")


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def category_of(finding: Mapping[str, Any]) -> str:
    """The finding's category, lower-cased; findings without one are grouped as 'other'."""
    category = clean(finding.get("category")).strip().lower()
    return category or UNCATEGORIZED


#: how the checks present their categories: id -> (order, title); the command that renders
#: passes what the installed checks declare (preflight.plugin.Category), so renderers know no
#: category by name
Categories = Mapping[str, tuple[int, str]]


def category_sort_key(category: str, categories: Categories) -> tuple[int, int, str]:
    """Declared categories in their order, then undeclared ones by name, 'other' last."""
    if category in categories:
        return (0, categories[category][0], category)
    if category == UNCATEGORIZED:
        return (2, 0, "")
    return (1, 0, category)


def category_title(category: str, categories: Categories) -> str:
    """A category's declared title ('gpu' -> 'GPU'); undeclared ones are shown as they are."""
    if category in categories:
        return categories[category][1]
    return "Other" if category == UNCATEGORIZED else category


def is_web_url(url: Any) -> bool:
    """True only for an absolute http(s) URL: anything else (javascript:, data:, file:) is text.

    Whitespace and control characters anywhere disqualify a URL, because browsers silently drop
    some of them ("java\\tscript:") and a link must mean exactly what the reader sees.
    """
    if not isinstance(url, str) or not url:
        return False
    if any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def format_duration(seconds: Any) -> str:
    """'0.42 s', '12.3 s' or '2 min 05 s': durations as a person reads them."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(value) or value < 0:
        return ""
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(round(value)), 60)
    return f"{minutes} min {secs:02d} s"


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 timestamp from the report, or None when it is missing or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_time(value: Any) -> str:
    """'2024-05-01 12:00:03 UTC': a timestamp readable on paper; unparseable text is shown as is."""
    parsed = parse_time(value)
    if parsed is None:
        return clean(value)
    text = parsed.strftime("%Y-%m-%d %H:%M:%S")
    offset = parsed.utcoffset()
    if offset is None:
        return text
    if not offset:
        return f"{text} UTC"
    return f"{text} UTC{parsed.strftime('%z')[:3]}:{parsed.strftime('%z')[3:]}"
