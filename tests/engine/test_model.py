"""The result model (DESIGN.md, "Result model"): severities, counts, the verdict and the gate,
pinned case by case so that no rule can change unnoticed (scripts/mutation checks that)."""

from __future__ import annotations

import itertools

import pytest

from preflight.model import (
    STATUS_ORDER,
    Finding,
    Status,
    gate_holds,
    nothing_checked,
    summarize,
    verdict_of,
)


def test_statuses_are_ordered_by_severity() -> None:
    assert [s.value for s in STATUS_ORDER] == ["pass", "skip", "warn", "fail", "error"]
    assert [s.severity for s in STATUS_ORDER] == [0, 1, 2, 3, 4]
    assert str(Status.FAIL) == "fail" and f"{Status.WARN}" == "warn"
    assert max(Status, key=lambda s: s.severity) is Status.ERROR


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        ((), "pass"),
        (("pass",), "pass"),
        (("skip",), "pass"),
        (("pass", "skip"), "pass"),
        (("warn",), "warn"),
        (("pass", "warn", "skip"), "warn"),
        (("fail",), "fail"),
        (("error",), "fail"),
        (("warn", "error"), "fail"),
        (("pass", "fail", "warn"), "fail"),
    ],
)
def test_the_verdict_is_fail_on_fail_or_error_else_warn_on_warn(
    statuses: tuple[str, ...], verdict: str
) -> None:
    findings = [Finding(Status(s), f"t{i}") for i, s in enumerate(statuses)]
    summary = summarize(findings)
    assert summary["verdict"] == verdict
    for status in STATUS_ORDER:
        assert summary[status.value] == statuses.count(status.value)
    assert set(summary) == {"pass", "skip", "warn", "fail", "error", "ignored", "verdict"}
    assert summary["ignored"] == 0


def test_an_accepted_finding_counts_as_ignored_only() -> None:
    """A waiver's finding keeps its status but leaves the counts and the verdict."""
    accepted = {"reason": "known", "expires": None, "source": "--ignore"}
    findings = [
        Finding(Status.FAIL, "a", ignored=accepted),
        Finding(Status.WARN, "b"),
        Finding(Status.PASS, "c"),
    ]
    summary = summarize(findings)
    assert (summary["fail"], summary["warn"], summary["ignored"]) == (0, 1, 1)
    assert summary["verdict"] == "warn"
    assert Finding.from_dict(findings[0].to_dict()).ignored == accepted
    assert "ignored" not in findings[1].to_dict()


@pytest.mark.parametrize(
    ("statuses", "accepted", "expected"),
    [
        ((), False, True),
        (("skip",), False, True),
        (("skip", "skip"), False, True),
        (("skip", "pass"), False, False),
        (("skip", "warn"), False, False),
        (("skip", "fail"), True, False),
    ],
)
def test_nothing_checked_means_every_counted_finding_is_a_skip(
    statuses: tuple[str, ...], accepted: bool, expected: bool
) -> None:
    findings = [Finding(Status(s), f"t{i}") for i, s in enumerate(statuses)]
    if accepted:
        findings[-1].ignored = {"reason": "", "expires": None, "source": "--ignore"}
    assert nothing_checked(findings) is expected


def test_verdict_of_reads_counts_not_presence() -> None:
    assert verdict_of({"fail": 0, "error": 0, "warn": 0}) == "pass"
    assert verdict_of({"fail": 0, "error": 0, "warn": 2}) == "warn"
    assert verdict_of({"fail": 1}) == "fail"
    assert verdict_of({"error": 3, "warn": 0}) == "fail"
    assert verdict_of({}) == "pass"


@pytest.mark.parametrize(
    ("verdict", "fail_on", "holds"),
    [
        ("pass", "fail", True),
        ("pass", "warn", True),
        ("warn", "fail", True),
        ("warn", "warn", False),
        ("fail", "fail", False),
        ("fail", "warn", False),
    ],
)
def test_the_gate(verdict: str, fail_on: str, holds: bool) -> None:
    assert gate_holds(verdict, fail_on) is holds


def test_constructors_set_status_target_and_texts() -> None:
    passed = Finding.passed("h", "ok", address="1.2.3.4")
    assert (passed.status, passed.target, passed.message, passed.remediation) == (
        Status.PASS,
        "h",
        "ok",
        "",
    )
    assert passed.details == {"address": "1.2.3.4"} and passed.docs is None
    skipped = Finding.skipped(None, "why", "how", missing="kube")
    assert (skipped.status, skipped.remediation, skipped.details) == (
        Status.SKIP,
        "how",
        {"missing": "kube"},
    )
    warned = Finding.warned("w", "m", "r", "https://d", k=1)
    failed = Finding.failed("f", "m", "r", "https://d", k=2)
    errored = Finding.errored("e", "m", "r", k=3)
    assert [x.status for x in (warned, failed, errored)] == [
        Status.WARN,
        Status.FAIL,
        Status.ERROR,
    ]
    assert warned.docs == failed.docs == "https://d" and errored.docs is None
    assert [x.details["k"] for x in (warned, failed, errored)] == [1, 2, 3]
    assert all(x.remediation == "r" and x.message == "m" for x in (warned, failed, errored))


def test_to_dict_and_from_dict_round_trip() -> None:
    finding = Finding(
        Status.WARN,
        "node-1",
        "message",
        "fix",
        "https://docs",
        {"a": [1, 2]},
        check="nodes.capacity",
        title="Title",
        category="cluster",
        duration_s=0.123456,
    )
    data = finding.to_dict()
    assert data == {
        "check": "nodes.capacity",
        "title": "Title",
        "category": "cluster",
        "status": "warn",
        "target": "node-1",
        "message": "message",
        "remediation": "fix",
        "docs": "https://docs",
        "duration_s": 0.1235,
        "details": {"a": [1, 2]},
    }
    back = Finding.from_dict(data)
    assert back.to_dict() == data
    sparse = Finding.from_dict({"status": "skip", "message": None, "duration_s": None})
    assert (sparse.message, sparse.remediation, sparse.check, sparse.duration_s) == (
        "",
        "",
        "",
        0.0,
    )
    assert sparse.details == {} and sparse.target is None


def test_every_status_pair_orders_by_severity_alone() -> None:
    for a, b in itertools.combinations(STATUS_ORDER, 2):
        assert a.severity < b.severity


def test_a_fresh_finding_has_no_duration_and_the_gate_compares_values_not_identity() -> None:
    assert Finding(Status.PASS).duration_s == 0.0
    # verdicts read back from a report are new strings, not the interned literals
    fail, warn = "".join(["fa", "il"]), "".join(["wa", "rn"])
    assert gate_holds(fail, "fail") is False
    assert gate_holds(warn, "".join(["wa", "rn"])) is False
    assert gate_holds(warn, "fail") is True
