"""What ``preflight probe`` prints, as the controller reads it from a pod's log: one JSON object
per line (a finding plus where it was measured, or a ``--resolve`` answer), then a ``done`` line
with the count. Shared by the ``probe`` command (preflight/probe.py), which writes it, and the
checks that run probe pods, which read it (through ``preflight.api``).
"""

from __future__ import annotations

import json
from typing import Any

from preflight import jsonshape
from preflight.jsonshape import NUM, SCALAR, STR, Arr, Obj
from preflight.model import Status

#: where a probe pod runs, from the downward API (the pod spec sets them)
NODE_ENV, POOL_ENV = "PREFLIGHT_NODE_NAME", "PREFLIGHT_NODE_POOL"
#: where the pod's proxy variables came from (``platform``, ``probe_proxy``, ``none``)
PROXY_SOURCE_ENV = "PREFLIGHT_PROXY_SOURCE"


def parse_probe_output(text: str) -> tuple[list[dict[str, Any]], bool]:
    """The JSON lines a probe printed (its pod log) and whether its ``done`` line came with the
    right count. Other lines (a container runtime's or a library's) are passed over."""
    lines: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        raw = raw.strip()
        if not raw.startswith("{"):
            continue
        try:  # bounded: no line nests deeper than the reports can carry
            value = jsonshape.loads(raw, "")
        except jsonshape.ShapeError:
            continue
        if not isinstance(value, dict):
            continue
        if value.get("probe") == "done":
            return lines, value.get("count") == len(lines)
        checked = _probe_line(value, number)
        if checked is not None:
            lines.append(checked)
    return lines, False


def _probe_line(value: dict[str, Any], number: int) -> dict[str, Any] | None:
    """A probe's JSON line as it should be, an ``error`` line in its place when a field has the
    wrong type (a probe image of another version, a log mangled on its way), or None for an
    object that is no probe line at all (a library's JSON log), passed over like other noise."""
    check, resolve = value.get("check"), value.get("resolve")
    if not isinstance(check, str) and not isinstance(resolve, str):
        return None
    try:
        line = dict(jsonshape.check(value, PROBE_LINE, f"the probe's log (line {number})"))
        status = line.get("status")
        if isinstance(check, str) and status not in {s.value for s in Status}:
            raise jsonshape.ShapeError(
                "", "", statement=f"status {str(status)[:20]!r} is not a finding's status"
            )
        return line
    except jsonshape.ShapeError as exc:
        said = f"the probe printed a line preflight cannot read ({exc.statement}, line {number})"
    if isinstance(resolve, str):
        return {"resolve": resolve, "outcome": "error", "addresses": [], "error": said}
    target = value.get("target")
    return {
        "check": check,
        "status": "error",
        "target": target if isinstance(target, str) else None,
        "message": said,
        "remediation": PROBE_IMAGE_HINT,
        "details": {},
    }


PROBE_IMAGE_HINT = (
    "make sure --set probe_image names preflight's own image of this version (the probe pod runs "
    "`preflight probe` and prints its findings as JSON lines)"
)


def _probe_line_shape() -> Any:
    return Obj(
        {
            "check": STR,
            "status": STR,
            "target": STR,
            "message": STR,
            "remediation": STR,
            "docs": STR,
            "details": Obj(),
            "duration_s": NUM,
            "node": STR,
            "node_pool": STR,
            "proxy": Obj({"url": STR, "source": STR}),
            "resolve": STR,
            "outcome": STR,
            "addresses": Arr(SCALAR),
            "resolver": STR,
            "error": STR,
            "duration_ms": NUM,
        }
    )


#: what ``parse_probe_output`` accepts of one line (preflight.jsonshape)
PROBE_LINE = _probe_line_shape()


def probe_interrupted(text: str) -> str | None:
    """The signal that stopped a probe (``SIGTERM`` for a pod's deadline or deletion), from
    the ``interrupted`` of its done line; None when it ran to its end (or printed no done
    line at all)."""
    for raw in text.splitlines():
        raw = raw.strip()
        if not raw.startswith("{") or '"done"' not in raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("probe") == "done":
            signame = value.get("interrupted")
            return str(signame)[:32] if signame else None
    return None
