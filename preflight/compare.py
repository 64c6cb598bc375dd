"""A run compared with an earlier one (``--baseline OLD/report.json``): what changed, finding by
finding, and which of the earlier run's warnings came true.

Findings are matched by (check, target), and where a check reports several findings about one
target, by how alike their messages are. A check that ran in only one of the two runs (the
before-only and after-only checks of ``--set phase``) is "only before" / "only after", not
"gone" / "new": nothing is known of it in the other run.

"Came true" rests on one convention of the plugin API: a finding may say, in
``details["foreseen_by"]``, what in an earlier report would have warned of it, as a list of
entries with any of ``check`` (exact id), ``target`` and ``mentions`` (text found in the earlier
finding's message or details). An earlier warn / fail / error finding that matches every key of
an entry foresaw it. The engine knows nothing of what the entries name.

"Input changed" rests on another: a finding may name, in ``details["inputs"]``, the inputs its
verdict rests on and where each came from (``{"extension settings": "--extension-config"}``;
None: not given). When a finding's status changed, or a check's finding appears or goes, and
the two runs' findings of that check name different inputs, the row is "input changed" with the
reason, not "worse" / "better" / "new" / "gone": the runs judged different things.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any

from preflight.model import Status

NOT_PASSING = ("warn", "fail", "error")
_SEVERITY = {s.value: s.severity for s in Status}


def compare(
    current: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    baseline: Mapping[str, Any],
    baseline_path: str | None = None,
) -> dict[str, Any]:
    """The report's ``comparison`` key. ``current`` holds this run's ``run``/``phase``/
    ``summary`` (as far as known), ``results`` its findings as dicts, ``baseline`` the earlier
    report.json (already validated)."""
    before = [dict(r) for r in baseline.get("results") or [] if isinstance(r, Mapping)]
    after = [dict(r) for r in results]
    paired = pairs(before, after)
    rows = _rows(paired)
    partner = {id(was): now for was, now in paired if was is not None}
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["change"]] = counts.get(row["change"], 0) + 1
    came_true = foreseen(after, before)
    cited = {id(b) for item in came_true for b in item["_before"]}
    warnings = [
        {**_brief(b), "came_true": id(b) in cited, "still": _status(partner.get(id(b)))}
        for b in before
        if b.get("status") in NOT_PASSING
    ]
    for item in came_true:
        item["foreseen"] = [_brief(b) for b in item.pop("_before")]
    return {
        "baseline": _run_info(baseline, baseline_path),
        "current": _run_info(current, None),
        "counts": counts,
        "rows": rows,
        "came_true": came_true,
        "baseline_warnings": warnings,
    }


def _run_info(report: Mapping[str, Any], path: str | None) -> dict[str, Any]:
    run = _mapping(report.get("run"))
    summary = _mapping(report.get("summary"))
    info = {
        "run_id": run.get("id"),
        "started_at": run.get("started_at"),
        "phase": report.get("phase") or "before",
        "verdict": summary.get("verdict"),
        "summary": {k: summary.get(k) for k in ("pass", "warn", "fail", "skip", "error")},
    }
    if path:
        info["report"] = path
    return info


def _key(finding: Mapping[str, Any]) -> tuple[str, str]:
    return str(finding.get("check") or ""), str(finding.get("target") or "")


Pair = tuple[dict[str, Any] | None, dict[str, Any] | None]


def pairs(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[Pair]:
    """(earlier, now) per finding. Findings of one check that share a target (several findings
    about "cluster") are paired by how alike their messages are, most alike first; the rest
    stand alone."""
    groups: dict[tuple[str, str], tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for finding in before:
        groups.setdefault(_key(finding), ([], []))[0].append(finding)
    for finding in after:
        groups.setdefault(_key(finding), ([], []))[1].append(finding)
    out: list[Pair] = []
    for old, new in groups.values():
        if len(old) <= 1 and len(new) <= 1:
            out.append((old[0] if old else None, new[0] if new else None))
            continue
        scored = sorted(
            ((-_alike(a, b), i, j) for i, a in enumerate(old) for j, b in enumerate(new)),
        )
        used_old: set[int] = set()
        used_new: set[int] = set()
        for _score, i, j in scored:
            if i not in used_old and j not in used_new:
                used_old.add(i)
                used_new.add(j)
                out.append((old[i], new[j]))
        out += [(a, None) for i, a in enumerate(old) if i not in used_old]
        out += [(None, b) for j, b in enumerate(new) if j not in used_new]
    return out


def _alike(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    return SequenceMatcher(None, str(a.get("message") or ""), str(b.get("message") or "")).ratio()


def _rows(paired: list[Pair]) -> list[dict[str, Any]]:
    checks_before = {_key(was)[0] for was, _ in paired if was is not None}
    checks_after = {_key(now)[0] for _, now in paired if now is not None}
    inputs_before = _inputs_by_check(was for was, _ in paired)
    inputs_after = _inputs_by_check(now for _, now in paired)
    rows: list[dict[str, Any]] = []
    for was, now in paired:
        check, target = _key(now if now is not None else was or {})
        reason = None
        if was is None:
            change = "new" if check in checks_before else "only after"
            reason = _input_change(inputs_before.get(check), _inputs(now))
        elif now is None:
            change = "gone" if check in checks_after else "only before"
            reason = _input_change(_inputs(was), inputs_after.get(check))
        else:
            change = _direction(str(was.get("status")), str(now.get("status")))
            reason = _input_change(_inputs(was), _inputs(now))
        row = {
            "check": check,
            "target": target or None,
            "title": (now or was or {}).get("title"),
            "before": _side(was),
            "after": _side(now),
            "change": change,
        }
        if reason and change in ("worse", "better", "new", "gone"):
            row["change"] = INPUT_CHANGED
            row["reason"] = reason
        rows.append(row)
    order = {
        "worse": 0,
        "new": 1,
        "better": 2,
        INPUT_CHANGED: 3,
        "gone": 4,
        "only after": 5,
        "only before": 6,
    }
    rows.sort(key=lambda r: (order.get(r["change"], 7), r["check"], r["target"] or ""))
    return rows


INPUT_CHANGED = "input changed"


def _inputs(finding: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``details["inputs"]`` of a finding (None when it names none)."""
    value = _mapping((finding or {}).get("details")).get("inputs")
    return value if isinstance(value, Mapping) and value else None


def _inputs_by_check(findings: Any) -> dict[str, Mapping[str, Any]]:
    """The inputs a check's findings name in one run (the first finding naming any)."""
    found: dict[str, Mapping[str, Any]] = {}
    for finding in findings:
        inputs = _inputs(finding)
        if inputs is not None:
            found.setdefault(_key(finding)[0], inputs)
    return found


def _input_change(was: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> str | None:
    """'extension settings: --extension-config -> not given', or None when both runs name the
    same inputs (or either names none: nothing known to compare)."""
    if was is None or now is None:
        return None
    changed = [
        f"{name}: {_given(was.get(name))} -> {_given(now.get(name))}"
        for name in sorted(set(was) | set(now), key=str)
        if was.get(name) != now.get(name)
    ]
    return "; ".join(changed) or None


def _given(value: Any) -> str:
    return "not given" if value is None else value if isinstance(value, str) else _text(value)


def _direction(was: str, now: str) -> str:
    a, b = _SEVERITY.get(was, 0), _SEVERITY.get(now, 0)
    if was == now:
        return "same"
    return "worse" if b > a else "better"


def _side(finding: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if finding is None:
        return None
    return {"status": finding.get("status"), "message": finding.get("message")}


def _brief(finding: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "check": finding.get("check"),
        "target": finding.get("target"),
        "status": finding.get("status"),
        "message": finding.get("message"),
    }


def _status(finding: Mapping[str, Any] | None) -> str | None:
    """The status the same finding has now (None when this run did not look at it)."""
    return None if finding is None else str(finding.get("status"))


def foreseen(after: list[dict[str, Any]], before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """This run's problems that an earlier warning foresaw (per ``details["foreseen_by"]``)."""
    found: list[dict[str, Any]] = []
    candidates = [b for b in before if b.get("status") in NOT_PASSING]
    for finding in after:
        if finding.get("status") not in NOT_PASSING:
            continue
        entries = _mapping(finding.get("details")).get("foreseen_by")
        if not isinstance(entries, list):
            continue
        matches: list[dict[str, Any]] = []
        for entry in entries:
            if not isinstance(entry, Mapping) or not any(
                entry.get(k) for k in ("check", "target", "mentions")
            ):
                continue
            for earlier in candidates:
                if _matches(entry, earlier) and all(earlier is not m for m in matches):
                    matches.append(earlier)
        if matches:
            found.append({**_brief(finding), "_before": matches})
    return found


def _matches(entry: Mapping[str, Any], earlier: Mapping[str, Any]) -> bool:
    check, target, mentions = entry.get("check"), entry.get("target"), entry.get("mentions")
    if check and earlier.get("check") != check:
        return False
    if target and str(earlier.get("target") or "").lower() != str(target).lower():
        return False
    if mentions:
        text = str(earlier.get("message") or "") + " " + _text(earlier.get("details"))
        if str(mentions).lower() not in text.lower():
            return False
    return True


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)
