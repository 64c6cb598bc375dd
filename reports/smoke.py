"""The ``smoke`` report key (smoke.inference) shaped for people: rows, deltas, charts.

One module so that HTML, Markdown and the terminal show the same figures with the same labels
and rounding. It reads only the report dict (the ``smoke`` key that ``SmokeSummary`` writes:
``{settings, direct, routed, overhead_ms, baseline}``), tolerating a hand-edited or partial one:
a missing or malformed part leaves its row out, never a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ._common import clean, mapping
from .charts import grouped_bars, histogram

PERCENTILES = (
    ("p50", "p50"),
    ("p90", "p90"),
    ("p95", "p95"),
    ("p99", "p99"),
    ("p999", "p99.9"),
    ("max", "max"),
)
#: series colours: direct blue, routed orange, their baselines in muted tones of the same
COLORS = {
    "direct": "#0969da",
    "routed": "#d4760a",
    "baseline_direct": "#8fb8ea",
    "baseline_routed": "#e9bc8c",
}
LABELS = {
    "direct": "Direct (in-cluster)",
    "routed": "Routed (azureml-fe)",
    "baseline_direct": "Baseline direct",
    "baseline_routed": "Baseline routed",
}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def ms(value: Any) -> str:
    """A latency for a table cell: 0.42, 4.21, 42.1, 421."""
    number = _num(value)
    if number is None:
        return "–"
    if number >= 100:
        return f"{number:.0f}"
    if number >= 10:
        return f"{number:.1f}"
    return f"{number:.2f}"


def signed_ms(value: Any) -> str:
    number = _num(value)
    if number is None:
        return "–"
    if number > 0:
        return "+" + ms(number)
    return "-" + ms(-number) if number < 0 else "0"


def percent(value: Any) -> str:
    number = _num(value)
    return "–" if number is None else f"{100 * number:.2f}%"


def _rate(measure: Mapping[str, Any]) -> str:
    achieved, target = _num(measure.get("achieved_rps")), _num(measure.get("target_rps"))
    if achieved is None:
        return "–"
    return f"{achieved:.1f} / {target:g}" if target is not None else f"{achieved:.1f}"


def _measurements(smoke: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(series key, figures) in display order: direct, routed, then their baselines."""
    baseline = mapping(smoke.get("baseline"))
    found = [
        ("direct", mapping(smoke.get("direct"))),
        ("routed", mapping(smoke.get("routed"))),
        ("baseline_direct", mapping(baseline.get("direct"))),
        ("baseline_routed", mapping(baseline.get("routed"))),
    ]
    return [(key, m) for key, m in found if isinstance(m.get("latency_ms"), Mapping)]


def _delta_cell(change: Any) -> dict[str, str]:
    change = mapping(change)
    delta = _num(change.get("delta_ms"))
    pct = _num(change.get("delta_pct"))
    text = signed_ms(delta)
    if pct is not None:
        text += f" ({pct:+.0f}%)"
    direction = "same" if delta is None or abs(delta) < 1e-9 else ("up" if delta > 0 else "down")
    return {"text": text, "direction": direction}


def view(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """Rows and deltas for every format, or None when the run measured nothing."""
    smoke = report.get("smoke")
    if not isinstance(smoke, Mapping):
        return None
    measurements = _measurements(smoke)
    if not measurements:
        return None
    baseline = mapping(smoke.get("baseline"))
    rows = []
    for key, measure in measurements:
        latency = mapping(measure.get("latency_ms"))
        label = LABELS[key]
        if key.startswith("baseline") and baseline.get("run_id"):
            label += f" (run {clean(baseline.get('run_id'))})"
        rows.append(
            {
                "key": key,
                "label": label,
                "status": clean(measure.get("status")),
                "target": clean(measure.get("target")),
                "cells": [ms(latency.get(p)) for p, _ in PERCENTILES],
                "error_rate": percent(measure.get("error_rate")),
                "errors": clean(measure.get("errors")),
                "requests": clean(measure.get("requests")),
                "rate": _rate(measure),
                "color": COLORS[key],
            }
        )
    deltas = []
    for kind in ("direct", "routed"):
        info = mapping(baseline.get(kind))
        if not info:
            continue
        changes = mapping(info.get("delta"))
        comparable = info.get("comparable")
        deltas.append(
            {
                "label": f"{LABELS[kind]}: now vs baseline",
                "comparable": bool(comparable),
                "reason": clean(info.get("reason")),
                "verdict": clean(info.get("verdict")) or ("warn" if comparable is False else ""),
                "cells": [_delta_cell(changes.get(p)) for p, _ in PERCENTILES],
                "error_rate": _pp(mapping(changes.get("error_rate"))),
            }
        )
    overhead = mapping(smoke.get("overhead_ms"))
    settings = mapping(smoke.get("settings"))
    return {
        "columns": [label for _, label in PERCENTILES],
        "rows": rows,
        "deltas": deltas,
        "overhead": [
            {"label": p, "text": signed_ms(overhead.get(p))} for p in ("p50", "p95", "p99")
        ]
        if overhead
        else [],
        "settings": _settings_text(settings),
        "baseline_source": clean(baseline.get("report")),
        "baseline_started": clean(baseline.get("started_at")),
        "measurements": measurements,
    }


def _pp(change: Mapping[str, Any]) -> str:
    before, after = _num(change.get("before")), _num(change.get("after"))
    if before is None or after is None:
        return "–"
    points = 100 * (after - before)
    return f"{points:+.2f} pp"


def _settings_text(settings: Mapping[str, Any]) -> str:
    rate, duration = _num(settings.get("rate")), _num(settings.get("duration_s"))
    warmup = _num(settings.get("warmup_s"))
    if rate is None or duration is None:
        return ""
    text = f"{rate:g} requests/s for {duration:g} s"
    if warmup:
        text += f" after {warmup:g} s warm-up"
    size = _num(settings.get("payload_bytes"))
    if size is not None:
        text += f", {size:g}-byte payload"
    service = _num(settings.get("service_time_ms"))
    if service:
        text += f", {service:g} ms artificial service time"
    return text


def charts(smoke_view: Mapping[str, Any]) -> dict[str, str]:
    """The two SVG charts (percentiles, histogram) for the HTML report; "" when not drawable."""

    measurements: Sequence[tuple[str, Mapping[str, Any]]] = smoke_view.get("measurements") or []
    names = [LABELS[key] for key, _ in measurements]
    colors = [COLORS[key] for key, _ in measurements]
    bars = grouped_bars(
        [label for _, label in PERCENTILES],
        [
            (name, [mapping(m.get("latency_ms")).get(p) for p, _ in PERCENTILES])
            for name, (_, m) in zip(names, measurements, strict=True)
        ],
        title="Latency percentiles, ms",
        colors=colors,
    )
    series = []
    for name, (_, m) in zip(names, measurements, strict=True):
        hist = mapping(m.get("histogram"))
        uppers, counts = hist.get("bucket_upper_ms"), hist.get("counts")
        if isinstance(uppers, list) and isinstance(counts, list):
            series.append((name, uppers, counts))
        else:
            series.append((name, [], []))
    dist = histogram(series, title="Latency distribution", colors=colors)
    return {"percentiles": bars, "histogram": dist}


def terminal_lines(report: Mapping[str, Any]) -> list[str]:
    """One line per measurement (and per comparison) for the summary on stdout."""
    smoke_view = view(report)
    if smoke_view is None:
        return []
    lines = []
    for row in smoke_view["rows"]:
        cells = "  ".join(
            f"{label} {cell}"
            for label, cell in zip(smoke_view["columns"], row["cells"], strict=True)
        )
        lines.append(f"{row['label']}: {cells} ms  errors {row['error_rate']}  rps {row['rate']}")
    for delta in smoke_view["deltas"]:
        if not delta["comparable"]:
            lines.append(f"{delta['label']}: not comparable ({delta['reason']})")
            continue
        p95 = delta["cells"][2]["text"]
        lines.append(
            f"{delta['label']}: p95 {p95} ms, errors {delta['error_rate']}"
            + (f" [{delta['verdict'].upper()}]" if delta["verdict"] else "")
        )
    if smoke_view["overhead"]:
        parts = ", ".join(f"{o['label']} {o['text']} ms" for o in smoke_view["overhead"])
        lines.append(f"Router overhead (routed - direct): {parts}")
    return lines
