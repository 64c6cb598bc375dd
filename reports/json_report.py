"""``report.json``: the machine-readable record of a run (read back by preflight/report.py's
``load`` for ``preflight report`` and ``--baseline``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


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
