"""A log-linear latency histogram (1 % buckets from 10 µs to 60 s, HDR-style): constant memory
for any rate or duration, percentiles within 1 %, and a compact form for the report's JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999))


class Histogram:
    """Log-linear latency histogram: bucket ``k`` holds values in ``(lo*g**(k-1), lo*g**k]``.

    ``g = 1 + precision``, so any percentile read from it is within ``precision`` of a real
    sample (reported as the bucket's upper bound, clamped to the exact min and max seen, so
    ``p50 <= ... <= max`` always holds and ``max`` is exact). Values below ``lowest_s`` share
    bucket 0; values above ``highest_s`` share the last bucket."""

    def __init__(
        self, lowest_s: float = 10e-6, highest_s: float = 60.0, precision: float = 0.01
    ) -> None:
        self.lowest = lowest_s
        self.growth = 1.0 + precision
        self._log_growth = math.log(self.growth)
        self.size = math.ceil(math.log(highest_s / lowest_s) / self._log_growth) + 2
        self.counts = [0] * self.size
        self.total = 0
        self.min = math.inf
        self.max = 0.0

    def record(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        if seconds <= self.lowest:
            index = 0
        else:
            index = min(
                self.size - 1, math.ceil(math.log(seconds / self.lowest) / self._log_growth)
            )
        self.counts[index] += 1
        self.total += 1
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)

    def upper(self, index: int) -> float:
        """Upper bound of bucket ``index`` in seconds (the exact max for the overflow bucket)."""
        if index >= self.size - 1:
            return self.max
        return float(self.lowest * self.growth**index)

    def percentile(self, q: float) -> float | None:
        """The value at quantile ``q`` (0..1), in seconds; None when nothing was recorded."""
        if self.total == 0:
            return None
        rank = max(1, math.ceil(q * self.total))
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return min(max(self.upper(index), self.min), self.max)
        return self.max

    def summary_ms(self, points: Iterable[tuple[str, float]] = PERCENTILES) -> dict[str, Any]:
        """``{"p50": ms, ..., "max": ms}`` rounded to the microsecond (None values when empty)."""
        out: dict[str, Any] = {}
        for name, q in points:
            value = self.percentile(q)
            out[name] = None if value is None else round(value * 1000.0, 3)
        out["max"] = round(self.max * 1000.0, 3) if self.total else None
        return out

    def compact_ms(self) -> dict[str, list[Any]]:
        """Only the non-empty buckets: their upper bounds in ms and their counts."""
        uppers: list[float] = []
        counts: list[int] = []
        for index, count in enumerate(self.counts):
            if count:
                uppers.append(round(self.upper(index) * 1000.0, 4))
                counts.append(count)
        return {"bucket_upper_ms": uppers, "counts": counts}
