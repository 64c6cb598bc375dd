"""Charts for the HTML report as inline SVG: pure functions from numbers to an SVG string.

Why inline SVG: the report is one self-contained file under a Content-Security-Policy that
forbids scripts and external resources, it must open on an air-gapped jump box and print
cleanly, so a chart cannot be a JavaScript library or a fetched image. SVG drawn here is vector
(sharp on paper), needs no fonts beyond the page's, and is just more markup.

Every piece of text that reaches the SVG (series names, category labels, numbers) is escaped for
XML text *and* attribute context, and every number is checked to be finite, so a hostile or
broken report.json cannot inject markup or produce an unparseable ``NaN`` coordinate. Callers
may therefore mark the result safe (``markupsafe.Markup``) in a template.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape as _html_escape
from typing import Any

#: Colours per series, in order: direct (blue), routed (orange), then the baselines (greys).
#: Chosen to stay apart for the common colour-vision deficiencies and in greyscale print.
PALETTE = ("#0969da", "#d4760a", "#8c959f", "#c9a27a", "#57606a", "#1a7f37")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
FONT = "-apple-system, 'Segoe UI', 'Noto Sans', Helvetica, Arial, sans-serif"

__all__ = ["PALETTE", "grouped_bars", "histogram", "nice_ceiling", "rebin_log"]


def _esc(value: Any) -> str:
    """Text safe in XML text and in a double- or single-quoted attribute."""
    return _html_escape(str(value), quote=True)


def _finite(value: Any) -> float | None:
    """A finite float, or None for anything else (None, NaN, inf, strings, bools)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _num(value: float) -> str:
    """A coordinate: short, finite, never scientific notation."""
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def nice_ceiling(value: float) -> float:
    """The smallest 1/2/2.5/5 x 10^k at or above ``value`` (an axis maximum people can read)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    base = 10.0**exponent
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * base * (1 + 1e-9):
            return step * base
    return 10.0 * base


def format_ms(value: float | None) -> str:
    """Milliseconds with sensible precision: 0.42, 4.2, 42, 420."""
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Any]]],
    *,
    title: str,
    unit: str = "ms",
    width: int = 760,
    height: int = 300,
    colors: Sequence[str] | None = None,
) -> str:
    """A grouped bar chart: one group per category, one bar per series, value labels on top.

    ``series`` is ``[(name, [value per category]), ...]``; a missing value (None, NaN) leaves a
    gap. ``colors`` (``#rrggbb``, one per series) overrides ``PALETTE`` so a series keeps its
    colour when another is absent. Returns "" when no series has a finite value."""
    cleaned = [(name, [_finite(v) for v in values]) for name, values in series]
    cleaned = [(n, (vals + [None] * len(categories))[: len(categories)]) for n, vals in cleaned]
    values = [v for _, vals in cleaned for v in vals if v is not None]
    if not categories or not values:
        return ""
    top = nice_ceiling(max(max(values), 0.0))
    left, right, head, foot = 56.0, 12.0, 40.0, 34.0
    plot_w, plot_h = width - left - right, height - head - foot
    group_w = plot_w / len(categories)
    bar_w = min(36.0, group_w * 0.8 / max(1, len(cleaned)))
    palette = _palette(colors, len(cleaned))
    out = _open(width, height, title)
    out.append(_legend([n for n, _ in cleaned], left, 18.0, palette))
    out.extend(_y_axis(top, unit, left, head, plot_w, plot_h))
    for c_index, category in enumerate(categories):
        group_x = left + c_index * group_w
        start = group_x + (group_w - bar_w * len(cleaned)) / 2
        for s_index, (name, vals) in enumerate(cleaned):
            value = vals[c_index]
            if value is None:
                continue
            bar_h = max(0.0, plot_h * value / top)
            x = start + s_index * bar_w
            y = head + plot_h - bar_h
            color = palette[s_index]
            label = f"{name} {category}: {format_ms(value)} {unit}"
            out.append(
                f'<rect x="{_num(x + 1)}" y="{_num(y)}" width="{_num(max(bar_w - 2, 1))}" '
                f'height="{_num(bar_h)}" fill="{color}"><title>{_esc(label)}</title></rect>'
            )
            if bar_w >= 18:
                out.append(
                    f'<text x="{_num(x + bar_w / 2)}" y="{_num(y - 3)}" font-size="9" '
                    f'text-anchor="middle" fill="#1f2328">{_esc(format_ms(value))}</text>'
                )
        out.append(
            f'<text x="{_num(group_x + group_w / 2)}" y="{_num(head + plot_h + 16)}" '
            f'font-size="11" text-anchor="middle" fill="#1f2328">{_esc(category)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def rebin_log(uppers: Sequence[Any], counts: Sequence[Any], edges: Sequence[float]) -> list[float]:
    """Counts of a fine histogram (bucket upper bounds ``uppers``) summed into the bins
    ``(edges[i], edges[i+1]]``; values outside the edges go to the first or last bin."""
    bins = [0.0] * (len(edges) - 1)
    if not bins:
        return bins
    for raw_upper, raw_count in zip(uppers, counts, strict=False):
        upper, count = _finite(raw_upper), _finite(raw_count)
        if upper is None or count is None or count <= 0:
            continue
        index = 0
        while index < len(bins) - 1 and upper > edges[index + 1] * (1 + 1e-9):
            index += 1
        bins[index] += count
    return bins


def histogram(
    series: Sequence[tuple[str, Sequence[Any], Sequence[Any]]],
    *,
    title: str,
    bins: int = 24,
    width: int = 760,
    height: int = 260,
    colors: Sequence[str] | None = None,
) -> str:
    """Latency distributions on a log-scaled millisecond axis, as a share of each series'
    requests (so runs of different lengths compare). ``series`` is
    ``[(name, bucket_upper_ms, counts), ...]`` as ``preflight load --json`` writes them.
    Returns "" when there is nothing to draw."""
    usable = []
    palette: list[str] = []
    wanted = _palette(colors, len(series))
    for index, (name, uppers, counts) in enumerate(series):
        pairs = [
            (u, c)
            for u, c in ((_finite(u), _finite(c)) for u, c in zip(uppers, counts, strict=False))
            if u is not None and c is not None and u > 0 and c > 0
        ]
        if pairs:
            usable.append((name, [u for u, _ in pairs], [c for _, c in pairs]))
            palette.append(wanted[index])
    if not usable:
        return ""
    low = min(min(u) for _, u, _ in usable)
    high = max(max(u) for _, u, _ in usable)
    low = low / 1.5
    high = max(high, low * 1.01)
    ratio = (high / low) ** (1.0 / bins)
    edges = [low * ratio**i for i in range(bins + 1)]
    shares = []
    for name, uppers, counts in usable:
        binned = rebin_log(uppers, counts, edges)
        total = sum(binned) or 1.0
        shares.append((name, [100.0 * b / total for b in binned]))
    top = nice_ceiling(max(max(s) for _, s in shares))
    left, right, head, foot = 56.0, 12.0, 40.0, 40.0
    plot_w, plot_h = width - left - right, height - head - foot
    bin_w = plot_w / bins
    bar_w = bin_w * 0.9 / len(shares)
    out = _open(width, height, title)
    out.append(_legend([n for n, _ in shares], left, 18.0, palette))
    out.extend(_y_axis(top, "% of requests", left, head, plot_w, plot_h))
    for b_index in range(bins):
        for s_index, (name, values) in enumerate(shares):
            value = values[b_index]
            if value <= 0:
                continue
            bar_h = plot_h * value / top
            x = left + b_index * bin_w + bin_w * 0.05 + s_index * bar_w
            label = (
                f"{name}: {value:.1f}% of requests between {format_ms(edges[b_index])} and "
                f"{format_ms(edges[b_index + 1])} ms"
            )
            out.append(
                f'<rect x="{_num(x)}" y="{_num(head + plot_h - bar_h)}" '
                f'width="{_num(max(bar_w, 0.5))}" height="{_num(bar_h)}" '
                f'fill="{palette[s_index]}"><title>{_esc(label)}</title></rect>'
            )
    for b_index in range(0, bins + 1, max(1, bins // 6)):
        x = left + b_index * bin_w
        out.append(
            f'<line x1="{_num(x)}" y1="{_num(head + plot_h)}" x2="{_num(x)}" '
            f'y2="{_num(head + plot_h + 4)}" stroke="#59636e"/>'
            f'<text x="{_num(x)}" y="{_num(head + plot_h + 16)}" font-size="10" '
            f'text-anchor="middle" fill="#59636e">{_esc(format_ms(edges[b_index]))}</text>'
        )
    out.append(
        f'<text x="{_num(left + plot_w / 2)}" y="{_num(height - 6)}" font-size="11" '
        f'text-anchor="middle" fill="#59636e">latency, ms (log scale)</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _open(width: int, height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {int(width)} {int(height)}" '
        f'width="100%" role="img" aria-label="{_esc(title)}" font-family="{_esc(FONT)}" '
        f'preserveAspectRatio="xMinYMin meet">',
        f"<title>{_esc(title)}</title>",
        f'<rect x="0" y="0" width="{int(width)}" height="{int(height)}" fill="#ffffff"/>',
    ]


def _palette(colors: Sequence[str] | None, count: int) -> list[str]:
    """``count`` colours: the given ones where they are ``#rrggbb``, else the default palette."""
    given = list(colors or [])
    return [
        given[i] if i < len(given) and _COLOR.match(str(given[i])) else PALETTE[i % len(PALETTE)]
        for i in range(count)
    ]


def _legend(names: Sequence[str], x: float, y: float, palette: Sequence[str]) -> str:
    parts = []
    for index, name in enumerate(names):
        color = palette[index]
        parts.append(
            f'<rect x="{_num(x)}" y="{_num(y - 9)}" width="10" height="10" fill="{color}"/>'
            f'<text x="{_num(x + 14)}" y="{_num(y)}" font-size="11" fill="#1f2328">'
            f"{_esc(name)}</text>"
        )
        x += 24 + 6.2 * len(str(name))
    return "".join(parts)


def _y_axis(
    top: float, unit: str, left: float, head: float, plot_w: float, plot_h: float
) -> list[str]:
    parts = []
    for step in range(5):
        value = top * step / 4
        y = head + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{_num(left)}" y1="{_num(y)}" x2="{_num(left + plot_w)}" y2="{_num(y)}" '
            f'stroke="{"#59636e" if step == 0 else "#d1d9e0"}" stroke-width="1"/>'
            f'<text x="{_num(left - 6)}" y="{_num(y + 3)}" font-size="10" text-anchor="end" '
            f'fill="#59636e">{_esc(f"{value:g}")}</text>'
        )
    parts.append(
        f'<text x="12" y="{_num(head + plot_h / 2)}" font-size="10" fill="#59636e" '
        f'text-anchor="middle" transform="rotate(-90 12 {_num(head + plot_h / 2)})">'
        f"{_esc(unit)}</text>"
    )
    return parts
