"""preflight.compare tells a changed input from a regression: findings that name their inputs
(``details["inputs"]``) and name different ones in the two runs are "input changed", with the
reason, not "worse" / "better" / "new" / "gone". The engine knows no check or input by name."""

from __future__ import annotations

from typing import Any

from preflight.compare import compare

PLAN = {"settings": "--plan"}
INSTALLED = {"settings": "the installed ones"}
NONE = {"settings": None}


def finding(check: str, target: str | None, status: str, inputs: Any = None) -> dict[str, Any]:
    details = {} if inputs is None else {"inputs": inputs}
    return {
        "check": check,
        "title": check,
        "category": "c",
        "status": status,
        "target": target,
        "message": f"{check} {target} {status}",
        "remediation": "r",
        "docs": None,
        "duration_s": 0.0,
        "details": details,
    }


def rows(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    baseline = {"phase": "before", "results": before, "summary": {}, "run": {}}
    result = compare({"phase": "after"}, after, baseline)
    return {(r["check"], r["target"]): r for r in result["rows"]} | {"counts": result["counts"]}


def test_a_skip_for_lack_of_an_input_is_a_changed_input() -> None:
    found = rows([finding("a.check", "t", "pass", PLAN)], [finding("a.check", "t", "skip", NONE)])
    row = found[("a.check", "t")]
    assert row["change"] == "input changed"
    assert row["reason"] == "settings: --plan -> not given"
    assert found["counts"] == {"input changed": 1}


def test_a_verdict_on_other_inputs_is_a_changed_input_not_a_regression() -> None:
    row = rows(
        [finding("a.check", "t", "pass", PLAN)], [finding("a.check", "t", "fail", INSTALLED)]
    )[("a.check", "t")]
    assert row["change"] == "input changed"
    assert row["reason"] == "settings: --plan -> the installed ones"


def test_the_same_inputs_keep_worse_and_better() -> None:
    found = rows(
        [finding("a.check", "t", "pass", PLAN), finding("b.check", "u", "fail", PLAN)],
        [finding("a.check", "t", "fail", PLAN), finding("b.check", "u", "pass", PLAN)],
    )
    assert found[("a.check", "t")]["change"] == "worse"
    assert found[("b.check", "u")]["change"] == "better"
    assert "reason" not in found[("a.check", "t")]


def test_a_side_naming_no_inputs_compares_as_before() -> None:
    """A baseline from a version that named no inputs: nothing known to compare."""
    row = rows([finding("a.check", "t", "pass")], [finding("a.check", "t", "skip", NONE)])[
        ("a.check", "t")
    ]
    assert row["change"] == "worse"


def test_new_and_gone_findings_of_a_check_whose_inputs_changed() -> None:
    found = rows(
        [finding("a.check", "--plan", "pass", PLAN), finding("b.check", "x", "pass", PLAN)],
        [
            finding("a.check", "installed", "fail", INSTALLED),
            finding("b.check", "x", "pass", PLAN),
            finding("b.check", "y", "warn", PLAN),
        ],
    )
    assert found[("a.check", "--plan")]["change"] == "input changed"
    assert found[("a.check", "installed")]["change"] == "input changed"
    assert found[("b.check", "y")]["change"] == "new"  # same inputs: really new
    assert found[("b.check", "x")]["change"] == "same"


def test_every_renderer_shows_a_changed_input_with_its_reason() -> None:
    """The comparison's counts name "input changed" (terminal, Markdown) and the HTML row
    carries the reason, so a reader sees why the status moved."""
    from preflight.reports import render

    before = [finding("a.check", "t", "pass", PLAN)]
    after = [finding("a.check", "t", "skip", NONE)]
    baseline = {"phase": "before", "results": before, "summary": {}, "run": {"id": "b1"}}
    document = {
        "schema": "preflight.report/v1",
        "run": {"id": "a1"},
        "phase": "after",
        "summary": {"pass": 0, "skip": 1, "warn": 0, "fail": 0, "error": 0, "verdict": "pass"},
        "results": after,
        "comparison": compare({"phase": "after"}, after, baseline),
    }
    markdown = render(document, "md")
    assert "1 input changed" in markdown
    html = render(document, "html")
    assert "input changed" in html and "settings: --plan -&gt; not given" in html
