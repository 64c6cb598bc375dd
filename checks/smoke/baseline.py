"""``smoke.inference`` against a saved run (``--baseline OLD/report.json``): the saved run's
measurement of the same kind, whether the two are comparable, and the finding's status and
message amended with the comparison (the rules themselves are in compare.py). Kept apart
because the report key (``SmokeSummary``) reads the same saved findings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflight.api import Context, Finding, Status
from preflight.checks.smoke.compare import delta, judge, not_comparable, summary_of
from preflight.checks.smoke.settings import CHECK_ID, DOCS, Settings


def baseline_findings(document: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """The saved run's measurement findings of this check, by kind (direct, routed)."""
    found: dict[str, Mapping[str, Any]] = {}
    if not isinstance(document, Mapping):
        return found
    for result in document.get("results") or []:
        if not isinstance(result, Mapping) or result.get("check") != CHECK_ID:
            continue
        details = result.get("details")
        if isinstance(details, Mapping) and isinstance(details.get("latency_ms"), Mapping):
            kind = details.get("kind")
            if kind in ("direct", "routed") and kind not in found:
                found[str(kind)] = result
    return found


def baseline_of(ctx: Context) -> tuple[Mapping[str, Any] | None, str]:
    options = ctx.options
    return getattr(options, "baseline", None), str(getattr(options, "baseline_path", "") or "")


def baseline_run(document: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Which saved run the baseline is: its report's path, run id and start time."""
    run = document.get("run") if isinstance(document.get("run"), Mapping) else {}
    assert isinstance(run, Mapping)
    return {"report": path, "run_id": run.get("id"), "started_at": run.get("started_at")}


_WORSE = {"pass": 0, "warn": 1, "fail": 2}


def compare_with_baseline(ctx: Context, finding: Finding, settings: Settings) -> Finding:
    """Add the before/after comparison to a measurement finding (status: the worse of the two).

    Only a measurement that itself concluded (pass/warn/fail with figures) is compared."""
    document, path = baseline_of(ctx)
    if document is None or "latency_ms" not in finding.details:
        return finding
    kind = str(finding.details.get("kind"))
    info = {**baseline_run(document, path), "max_regression": settings.max_regression}
    before = baseline_findings(document).get(kind)
    if before is None:
        info["comparable"] = False
        if kind == "routed":  # before the install there was no router to measure: normal
            info["reason"] = "the baseline has no routed measurement"
            finding.details["baseline"] = info
            return finding
        info["reason"] = "the baseline has no direct smoke.inference measurement"
        return _merge(
            finding,
            "warn",
            [f"not comparable: {info['reason']}"],
            info,
            (
                f"use as baseline a report of a run that measured ({path}: run it with --check "
                "smoke.inference)"
            ),
        )
    old_details = before.get("details") or {}
    assert isinstance(old_details, Mapping)
    reasons = not_comparable(old_details.get("settings") or {}, settings.record())
    old_summary, new_summary = summary_of(old_details), summary_of(finding.details)
    info.update(before=old_summary, after=new_summary, delta=delta(old_summary, new_summary))
    if reasons:
        info["comparable"] = False
        info["reason"] = "; ".join(reasons)
        return _merge(
            finding,
            "warn",
            [f"not comparable with the baseline: {info['reason']}"],
            info,
            "run with the baseline's settings (--set smoke_rate=..., "
            "smoke_duration=...) to compare",
        )
    info["comparable"] = True
    verdict, sentences = judge(old_summary, new_summary, settings.max_regression)
    info["verdict"] = verdict
    remedy = (
        "latency or errors regressed since the baseline run: compare what changed between the "
        "runs (the extension's components on the nodes, node size and load, CNI or network "
        "policy); re-run to rule out a noisy neighbour"
    )
    return _merge(finding, verdict, [f"vs baseline: {'; '.join(sentences)}"], info, remedy)


def _merge(
    finding: Finding, verdict: str, sentences: list[str], info: dict[str, Any], remedy: str
) -> Finding:
    finding.details["baseline"] = info
    finding.message = f"{finding.message}; {'; '.join(sentences)}"
    current = finding.status.value
    if _WORSE.get(verdict, 0) > _WORSE.get(current, 0) and current in _WORSE:
        finding.status = Status(verdict)
        finding.remediation = (
            remedy if not finding.remediation else (f"{finding.remediation}; {remedy}")
        )
        finding.docs = finding.docs or DOCS
    return finding
