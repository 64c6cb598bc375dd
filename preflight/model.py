"""The result model: statuses, findings and the verdict of a run (docs/DESIGN.md, "Result
model")."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    """What a finding concluded. Ordered by severity: pass < skip < warn < fail < error."""

    PASS = "pass"
    SKIP = "skip"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    def __str__(self) -> str:  # "fail", not "Status.FAIL", in messages and templates
        return self.value


_SEVERITY = {Status.PASS: 0, Status.SKIP: 1, Status.WARN: 2, Status.FAIL: 3, Status.ERROR: 4}
STATUS_ORDER: tuple[Status, ...] = tuple(sorted(Status, key=lambda s: s.severity))


@dataclass
class Finding:
    """One conclusion about one target (a host, a node, a GPU, a setting).

    Checks build findings with the constructors below; the runner fills in ``check``, ``title``,
    ``category`` and ``duration_s``. Every non-pass finding needs a ``message`` and a
    ``remediation``; ``docs`` is a URL where one exists.
    """

    status: Status
    target: str | None = None
    message: str = ""
    remediation: str = ""
    docs: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    check: str = ""
    title: str = ""
    category: str = ""
    duration_s: float = 0.0
    #: set by a waiver (preflight/waivers.py): reason, expires, source; None when not accepted
    ignored: dict[str, Any] | None = None

    @classmethod
    def passed(cls, target: str | None, message: str, **details: Any) -> Finding:
        return cls(Status.PASS, target, message, details=details)

    @classmethod
    def skipped(cls, target: str | None, message: str, remediation: str, **details: Any) -> Finding:
        return cls(Status.SKIP, target, message, remediation, details=details)

    @classmethod
    def warned(
        cls,
        target: str | None,
        message: str,
        remediation: str,
        docs: str | None = None,
        **details: Any,
    ) -> Finding:
        return cls(Status.WARN, target, message, remediation, docs, details=details)

    @classmethod
    def failed(
        cls,
        target: str | None,
        message: str,
        remediation: str,
        docs: str | None = None,
        **details: Any,
    ) -> Finding:
        return cls(Status.FAIL, target, message, remediation, docs, details=details)

    @classmethod
    def errored(cls, target: str | None, message: str, remediation: str, **details: Any) -> Finding:
        return cls(Status.ERROR, target, message, remediation, details=details)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one entry of ``results`` (schema preflight.report/v1); ``ignored``
        only on an accepted finding."""
        data = {
            "check": self.check,
            "title": self.title,
            "category": self.category,
            "status": self.status.value,
            "target": self.target,
            "message": self.message,
            "remediation": self.remediation,
            "docs": self.docs,
            "duration_s": round(self.duration_s, 4),
            "details": self.details,
        }
        if self.ignored is not None:
            data["ignored"] = dict(self.ignored)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            status=Status(data["status"]),
            target=data.get("target"),
            message=data.get("message") or "",
            remediation=data.get("remediation") or "",
            docs=data.get("docs"),
            details=dict(data.get("details") or {}),
            check=data.get("check") or "",
            title=data.get("title") or "",
            category=data.get("category") or "",
            duration_s=float(data.get("duration_s") or 0.0),
            ignored=dict(data["ignored"]) if isinstance(data.get("ignored"), Mapping) else None,
        )


def summarize(findings: Iterable[Finding]) -> dict[str, Any]:
    """Counts per status, and the verdict: fail if any fail/error, else warn if any, else pass.
    Findings accepted by a waiver count in ``ignored`` only, never in a status or the verdict."""
    counts = {s.value: 0 for s in STATUS_ORDER}
    ignored = 0
    for f in findings:
        if f.ignored is not None:
            ignored += 1
        else:
            counts[f.status.value] += 1
    return {**counts, "ignored": ignored, "verdict": verdict_of(counts)}


def nothing_checked(findings: Iterable[Finding]) -> bool:
    """True when no finding concluded anything: every one not accepted by a waiver is a skip
    (or there are none), and none was accepted. Such a run must not read as a green gate."""
    found = list(findings)
    if any(f.ignored is not None for f in found):
        return False
    return all(f.status == Status.SKIP for f in found)


def verdict_of(counts: Mapping[str, int]) -> str:
    if counts.get("fail") or counts.get("error"):
        return "fail"
    return "warn" if counts.get("warn") else "pass"


def gate_holds(verdict: str, fail_on: str) -> bool:
    """True when the CI gate holds: fail always breaks it; warn breaks it with --fail-on warn."""
    if verdict == "fail":
        return False
    return not (verdict == "warn" and fail_on == "warn")
