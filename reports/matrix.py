"""The host x vantage matrix of an in-cluster run: one row per host, one column per node pool.

The question a reviewer asks after ``preflight run --in-cluster`` is "which hosts fail from
which pool?": a firewall rule or a custom DNS zone can be right for the jump box and wrong for
the GPU pool. A list of 480 findings hides that; a table of 40 hosts by 6 pools shows it at a
glance. This module shapes the report's findings into that table for the HTML renderer. It reads
only the report dict (schema ``preflight.report/v1``):

- the local column: ``dns.resolve`` / ``egress.https`` findings (``details.vantage`` "local", or
  absent in reports from before vantages existed);
- the pod columns: findings with ``details.vantage == "in-cluster"``, keyed by
  ``details.node_pool`` and ``details.node``; those with ``details.probe_check`` are per-host
  results, those with ``details.pod_outcome`` are about the probe pod itself (it never ran:
  image pull, unschedulable, ...), which marks its whole column.

A cell is the worse of the host's DNS and HTTPS results from that vantage, with a few words on
where the path closed ("NXDOMAIN", "connect timeout", "HTTP 204"), so it reads on paper with no
tooltip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._common import SEVERITY_DESC, clean, mapping, rank, results_of, status_of

LOCAL_CHECKS = ("dns.resolve", "egress.https")
IN_CLUSTER = "in-cluster"
LOCAL = "local"


def probe_matrix(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The matrix for the template, or None when the run probed nothing from inside the cluster."""
    cells: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    hosts: dict[str, None] = {}
    columns: dict[str, dict[str, Any]] = {}
    local_seen = False
    for finding in results_of(report):
        details = mapping(finding.get("details"))
        vantage = clean(details.get("vantage"))
        target = clean(finding.get("target"))
        if vantage == IN_CLUSTER:
            check = clean(details.get("probe_check"))
            if not check and "pod_outcome" not in details:
                continue  # about something else measured from a pod (cluster.dns)
            pool = clean(details.get("node_pool")) or "default"
            node = clean(details.get("node"))
            key = f"{pool}\x00{node}"
            column = columns.setdefault(key, _column(pool, node))
            if not check:  # the probe pod itself: it did not run, or its output was cut short
                column["problems"].append(finding)
                continue
            if target:
                hosts.setdefault(target, None)
                cells.setdefault((target, key), []).append({**finding, "check": check})
        elif clean(finding.get("check")) in LOCAL_CHECKS and vantage in ("", LOCAL) and target:
            local_seen = True
            hosts.setdefault(target, None)
            cells.setdefault((target, LOCAL), []).append(finding)
    if not columns:
        return None
    _label_columns(columns)
    ordered = sorted(columns.items(), key=lambda kv: (kv[1]["pool"], kv[1]["node"]))
    keys = ([LOCAL] if local_seen else []) + [key for key, _ in ordered]
    heads = ([_local_head()] if local_seen else []) + [_head(column) for _, column in ordered]
    rows: list[dict[str, Any]] = []
    for host in hosts:
        row_cells = []
        for key in keys:
            blocked = columns[key]["problems"] if key in columns else []
            row_cells.append(_cell(cells.get((host, key), []), blocked))
        measured = [rank(c["status"]) for c in row_cells if c["status"] and not c["blocked"]]
        worst = min(measured, default=len(SEVERITY_DESC))
        rows.append({"host": host, "cells": row_cells, "worst": worst})
    rows.sort(key=lambda r: int(r["worst"]))  # problems first; ties keep the profile's order
    failing_columns = sum(1 for _, c in ordered if c["problems"])
    return {
        "heads": heads,
        "rows": rows,
        "pools": len({c["pool"] for _, c in ordered}),
        "probed": len(ordered),
        "not_run": failing_columns,
        "per_node": any(c["by_node"] for _, c in ordered),
        "has_local": local_seen,
    }


def _column(pool: str, node: str) -> dict[str, Any]:
    return {"pool": pool, "node": node, "problems": [], "by_node": False}


def _label_columns(columns: dict[str, dict[str, Any]]) -> None:
    """Name a column by its pool when the pool has one probe, by its node when it has more."""
    per_pool: dict[str, int] = {}
    for column in columns.values():
        per_pool[column["pool"]] = per_pool.get(column["pool"], 0) + 1
    for column in columns.values():
        column["by_node"] = per_pool[column["pool"]] > 1


def _local_head() -> dict[str, Any]:
    return {"label": "local", "sub": "where preflight ran", "status": "", "note": "", "local": True}


def _head(column: Mapping[str, Any]) -> dict[str, Any]:
    label = column["node"] if column["by_node"] and column["node"] else column["pool"]
    sub = f"pool {column['pool']}" if column["by_node"] else column["node"]
    problems: Sequence[Mapping[str, Any]] = column["problems"]
    status, note = "", ""
    if problems:
        worst = min(problems, key=lambda f: rank(status_of(f)))
        status = _known(status_of(worst))
        detail = mapping(worst.get("details"))
        note = clean(detail.get("pod_outcome") or detail.get("reason")) or "probe did not run"
    return {"label": label, "sub": sub, "status": status, "note": note, "local": False}


def _known(status: str) -> str:
    return status if status in SEVERITY_DESC else "error"


def _cell(
    found: Sequence[Mapping[str, Any]], blocked: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    """One host from one vantage: the worse of its DNS and HTTPS results, in a few words."""
    if not found:  # the column's header says why its probe did not run
        return {"status": "", "text": "not probed" if blocked else "no result", "blocked": "1"}
    worst = min(found, key=lambda f: (rank(status_of(f)), clean(f.get("check")) != "dns.resolve"))
    status = _known(status_of(worst))
    return {"status": status, "text": _short(worst, found), "blocked": ""}


def _short(worst: Mapping[str, Any], found: Sequence[Mapping[str, Any]]) -> str:
    """'NXDOMAIN', 'connect timeout', 'tls untrusted', 'HTTP 204': where the path closed."""
    status = status_of(worst)
    details = mapping(worst.get("details"))
    if status == "skip":
        return "not checked"
    if status == "pass":
        for finding in found:
            http = mapping(finding.get("details")).get("http_status")
            if http is not None:
                return f"HTTP {clean(http)}"
        return "resolves"
    if clean(worst.get("check")) == "dns.resolve":
        outcome = clean(details.get("outcome"))
        if outcome == "ok":  # resolved, yet judged: only a sinkhole answer does that
            return "DNS sinkhole"
        return {"nxdomain": "NXDOMAIN", "servfail": "SERVFAIL", "nodata": "no address"}.get(
            outcome, f"DNS {outcome or 'failed'}"
        )
    phase, kind = clean(details.get("phase")), clean(details.get("kind"))
    if phase == "dns":
        return f"DNS {clean(details.get('dns')) or 'failed'}"
    return " ".join(part for part in (phase, kind) if part) or "failed"
