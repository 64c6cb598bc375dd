"""The GPU tables of the HTML report: one table per node, one row per GPU, the bad counter marked.

A reviewer reading gpu.health's findings one by one sees "aks-gpu-0/3: 2 uncorrectable ECC
errors" but not that the other seven GPUs of that node are fine, or that every node runs the
same driver. A table per node (driver and CUDA version in its caption, a row per GPU) shows both
at a glance, and the cell that made a GPU fail or warn carries that status's colour. This module
shapes gpu.health's findings (report schema ``preflight.report/v1``) for the template; it reads
only the report dict:

- node summaries: findings whose ``details`` carry ``gpu_count`` (the target is the node);
- GPUs: findings whose ``details`` carry ``index`` and ``node`` (target ``<node>/<index>``);
  ``details.flags`` maps a field to the status it caused;
- a node that could not be examined (NVML did not start, the probe pod did not run): a finding
  with neither, whose target or ``details.node`` names the node; its message is shown instead of
  a table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._common import clean, mapping, rank, results_of, status_of

CHECK = "gpu.health"
#: ``<node>/<index>``: a GPU's target (docs/DESIGN.md)
_GPU_TARGET = re.compile(r"(.+)/(\d+)")
NOT_SUPPORTED = "not supported"

#: table columns: (key, heading, the details flags that mark the cell)
COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("temperature", "Temp °C (slowdown)", ("temperature_c",)),
    ("power", "Power W (limit)", ("power_w",)),
    ("memory", "Memory", ()),
    ("ecc_mode", "ECC", ("ecc_mode",)),
    (
        "ecc_errors",
        "Uncorr. ECC now / ever",
        ("ecc_uncorrected_volatile", "ecc_uncorrected_aggregate"),
    ),
    ("retired", "Retired pages pending", ("retired_pages_pending",)),
    (
        "remapped",
        "Remapped rows pending / failed",
        ("remapped_rows_pending", "remapped_rows_failure"),
    ),
    ("clocks", "Clock events", ("hardware_slowdown", "clock_event_reasons")),
    ("xid", "XID", ("xid_critical",)),
    ("persistence", "Persist.", ("persistence_mode",)),
    ("mig", "MIG", ("mig_mode",)),
)


def gpu_view(report: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """One entry per node for the template, or None when the run has no gpu.health results
    about GPUs (skipped, or not selected)."""
    nodes: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        return nodes.setdefault(name, {"node": name, "summary": None, "gpus": [], "problems": []})

    for finding in results_of(report):
        if clean(finding.get("check")) != CHECK:
            continue
        details = mapping(finding.get("details"))
        target = clean(finding.get("target"))
        gpu_target = _GPU_TARGET.fullmatch(target)
        if "index" in details or gpu_target:
            node = clean(details.get("node")) or (gpu_target.group(1) if gpu_target else target)
            entry(node)["gpus"].append(finding)
        elif "gpu_count" in details:
            entry(clean(details.get("node")) or target)["summary"] = finding
        elif status_of(finding) != "skip" and (details.get("node") or target):
            entry(clean(details.get("node")) or target)["problems"].append(finding)
    if not nodes:
        return None
    shaped = [_node(n) for n in nodes.values()]
    shaped.sort(key=lambda n: (rank(n["status"]), n["node"]))
    return shaped


def _node(raw: Mapping[str, Any]) -> dict[str, Any]:
    summary = raw["summary"]
    details = mapping(summary.get("details")) if summary else {}
    gpus = sorted(raw["gpus"], key=lambda f: _index(_gpu_index(f)))
    rows = [_row(f) for f in gpus]
    statuses = [r["status"] for r in rows] + [status_of(f) for f in raw["problems"]]
    if summary:
        statuses.append(status_of(summary))
    worst = min(statuses, key=rank) if statuses else "pass"
    facts = []
    if details:
        facts = [
            f"driver {clean(details.get('driver_version'))}",
            f"CUDA {clean(details.get('cuda_driver_version'))}",
            f"{clean(details.get('gpu_count'))} GPU(s)",
            f"XID window {clean(details.get('xid_sampling'))}",
        ]
        if details.get("node_pool"):
            facts.insert(0, f"pool {clean(details.get('node_pool'))}")
    healthy = sum(1 for r in rows if r["status"] == "pass")
    return {
        "node": raw["node"],
        "status": worst,
        "facts": " · ".join(facts),
        "health": f"{healthy}/{len(rows)} healthy" if rows else "",
        "problems": [
            {
                "status": status_of(f),
                "message": clean(f.get("message")),
                "remediation": clean(f.get("remediation")),
            }
            for f in raw["problems"]
        ],
        "columns": [heading for _, heading, _ in COLUMNS],
        "rows": rows,
    }


def _gpu_index(finding: Mapping[str, Any]) -> Any:
    """The GPU's index: from details, else from its ``<node>/<index>`` target."""
    index = mapping(finding.get("details")).get("index")
    if index is None:
        match = _GPU_TARGET.fullmatch(clean(finding.get("target")))
        index = match.group(2) if match else ""
    return index


def _index(value: Any) -> int:
    """A GPU's index for sorting (unknown last)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 1_000_000


def _row(finding: Mapping[str, Any]) -> dict[str, Any]:
    d = mapping(finding.get("details"))
    flags = mapping(d.get("flags"))
    status = status_of(finding)
    cells: list[dict[str, Any]] = []
    values = _values(d)
    for key, _, flagged_by in COLUMNS:
        marks = [str(flags[f]) for f in flagged_by if f in flags]
        mark = min(marks, key=rank) if marks else ""
        text = values.get(key, "")
        cells.append({"text": text, "mark": mark, "na": text in (NOT_SUPPORTED, "n/a")})
    return {
        "index": clean(_gpu_index(finding)),
        "name": clean(d.get("name")) if d.get("name") not in (None, NOT_SUPPORTED) else "",
        "bus_id": clean(d.get("pci_bus_id")) if d.get("pci_bus_id") != NOT_SUPPORTED else "",
        "uuid": clean(d.get("uuid")) if d.get("uuid") != NOT_SUPPORTED else "",
        "status": status,
        "lost": bool(d.get("lost")),
        "message": _problems_text(finding, d) if status != "pass" else "",
        "cells": cells,
    }


def _problems_text(finding: Mapping[str, Any], d: Mapping[str, Any]) -> str:
    """The finding's message without the GPU name it starts with (the row shows it)."""
    message = clean(finding.get("message"))
    prefix = f"{clean(d.get('name'))}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _na(value: Any) -> str:
    if value is None:
        return "n/a"
    return NOT_SUPPORTED if value == NOT_SUPPORTED else clean(value)


def _yes_no(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return _na(value)


def _values(d: Mapping[str, Any]) -> dict[str, str]:
    """The text of every cell of one GPU row."""
    if d.get("lost"):
        return {key: "lost" if key == "temperature" else "" for key, _, _ in COLUMNS}
    out: dict[str, str] = {}
    temp, slowdown = d.get("temperature_c"), d.get("slowdown_temperature_c")
    out["temperature"] = _na(temp) + (f" ({slowdown})" if isinstance(slowdown, int) else "")
    power, limit = d.get("power_w"), d.get("power_limit_w")
    out["power"] = (f"{power:g}" if isinstance(power, int | float) else _na(power)) + (
        f" ({limit:g})" if isinstance(limit, int | float) else ""
    )
    total = d.get("memory_total_mib")
    out["memory"] = f"{total / 1024:.0f} GiB" if isinstance(total, int) else _na(total)
    ecc = d.get("ecc_mode")
    pending = d.get("ecc_mode_pending")
    out["ecc_mode"] = _na(ecc) + (f" → {pending}" if pending not in (None, ecc) else "")
    volatile, aggregate = d.get("ecc_uncorrected_volatile"), d.get("ecc_uncorrected_aggregate")
    if volatile == NOT_SUPPORTED and aggregate == NOT_SUPPORTED:
        out["ecc_errors"] = NOT_SUPPORTED
    else:
        out["ecc_errors"] = f"{_na(volatile)} / {_na(aggregate)}"
    out["retired"] = _yes_no(d.get("retired_pages_pending"))
    rows_pending, rows_failed = d.get("remapped_rows_pending"), d.get("remapped_rows_failure")
    if rows_pending == NOT_SUPPORTED:
        out["remapped"] = NOT_SUPPORTED
    else:
        out["remapped"] = f"{_yes_no(rows_pending)} / {_yes_no(rows_failed)}"
    reasons = d.get("clock_event_reasons")
    if isinstance(reasons, list):
        shown = [r for r in reasons if r != "gpu_idle"]
        out["clocks"] = ", ".join(clean(r) for r in shown) or ("idle" if reasons else "none")
    else:
        out["clocks"] = _na(reasons)
    critical = d.get("xid_critical")
    if isinstance(critical, list):
        out["xid"] = ", ".join(clean(x.get("xid")) for x in critical if isinstance(x, Mapping))
        ignored = d.get("xid_application_ignored") or []
        if not out["xid"]:
            out["xid"] = "none" + (f" ({len(ignored)} app)" if ignored else "")
    else:
        out["xid"] = _na(d.get("xid_sampling"))
    out["persistence"] = {"enabled": "on", "disabled": "off"}.get(
        str(d.get("persistence_mode")), _na(d.get("persistence_mode"))
    )
    mig = d.get("mig_mode")
    mig_pending = d.get("mig_mode_pending")
    out["mig"] = {"enabled": "on", "disabled": "off"}.get(str(mig), _na(mig)) + (
        f" → {mig_pending}" if mig_pending not in (None, mig) else ""
    )
    return out
