"""Waivers: a known finding accepted (docs/DESIGN.md, "Waivers"), as kubeadm's
``--ignore-preflight-errors`` accepts a known preflight error, but narrower: a waiver names a check
(or a glob over check ids) and optionally a target glob, carries a reason and an expiry, and stops
applying when it expires. A waiver that matches nothing, or has expired, is itself a ``warn``
finding (check ``preflight.waivers``): an accepted finding must never hide the next problem.

An ignored finding keeps its status and gains ``ignored`` (reason, expires, source); it is counted
in ``summary.ignored`` and not in the verdict (``preflight.model.summarize``).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from preflight.errors import UsageError, nearest
from preflight.model import Finding, Status

#: the check id of the findings about waivers themselves (never waivable)
WAIVER_CHECK = "preflight.waivers"
FLAG_SOURCE = "--ignore"
#: the statuses a waiver can accept (docs/DESIGN.md, "Waivers")
WAIVABLE = frozenset({Status.WARN, Status.FAIL, Status.ERROR})
CONFIG_KEYS = ("check", "target", "reason", "expires")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CHECK_PATTERN = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")


@dataclass(frozen=True)
class Waiver:
    """One accepted finding pattern."""

    check: str
    target: str | None = None
    reason: str = ""
    expires: dt.date | None = None
    source: str = FLAG_SOURCE

    @property
    def label(self) -> str:
        """How the waiver is named in findings and messages: ``CHECK`` or ``CHECK:TARGET``."""
        return self.check if self.target is None else f"{self.check}:{self.target}"

    def expired(self, today: dt.date) -> bool:
        """It applies through its ``expires`` day (UTC), not after."""
        return self.expires is not None and today > self.expires

    def matches(self, finding: Finding) -> bool:
        """A warn, fail or error finding of a matching check whose target matches
        (case-insensitive). Pass and skip findings are never accepted: there is nothing to
        accept in them, and a waiver must not turn "not checked" into "accepted"."""
        if finding.status not in WAIVABLE or finding.check == WAIVER_CHECK:
            return False
        if not fnmatch.fnmatchcase(finding.check, self.check):
            return False
        if self.target is None:
            return True
        return fnmatch.fnmatch((finding.target or "").lower(), self.target.lower())

    def to_dict(self) -> dict[str, Any]:
        """The ``ignored`` entry of a finding it applies to."""
        return {
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
            "source": self.source,
        }


def parse_flag(text: str, source: str = FLAG_SOURCE) -> Waiver:
    """``CHECK[:TARGET-GLOB]`` (the first ``:`` separates them; a target may hold more)."""
    raw = str(text).strip()
    check, sep, target = raw.partition(":")
    check = check.strip()
    if not raw:
        raise ValueError(
            "empty waiver: write CHECK or CHECK:TARGET-GLOB, e.g. 'egress.https:*.blob.*'"
        )
    if not check:
        raise ValueError(f"{raw!r}: no check before ':' (write CHECK:TARGET-GLOB)")
    _valid_check(check)
    if sep and not target.strip():
        raise ValueError(f"{raw!r}: nothing after ':' (drop the ':' to accept every target)")
    return Waiver(check, target.strip() if sep else None, source=source)


def parse_entry(entry: Any, source: str) -> Waiver:
    """One item of the config file's ``ignore:`` list: ``{check, target, reason, expires}`` or
    a ``CHECK[:TARGET-GLOB]`` string."""
    if isinstance(entry, str):
        return parse_flag(entry, source)
    if not isinstance(entry, Mapping):
        raise ValueError(
            f"{_shown(entry)}: expected a mapping with keys {', '.join(CONFIG_KEYS)} "
            "or a 'CHECK[:TARGET-GLOB]' string"
        )
    for key in entry:
        if key not in CONFIG_KEYS:
            hint = nearest(str(key), CONFIG_KEYS)
            did = f" (did you mean {hint}?)" if hint else ""
            raise ValueError(f"unknown key {key!r}{did}; a waiver has {', '.join(CONFIG_KEYS)}")
    check = entry.get("check")
    if not isinstance(check, str) or not check.strip():
        raise ValueError("'check' is required: a check id or glob, e.g. egress.https")
    check = check.strip()
    _valid_check(check)
    target = entry.get("target")
    if target is not None and (not isinstance(target, str) or not target.strip()):
        raise ValueError(f"target {_shown(target)}: expected a non-empty glob over targets")
    reason = entry.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ValueError(f"reason {_shown(reason)}: expected text")
    return Waiver(
        check,
        target.strip() if isinstance(target, str) else None,
        (reason or "").strip(),
        parse_date(entry.get("expires")),
        source,
    )


def parse_date(value: Any) -> dt.date | None:
    """``expires``: a YAML date or a ``YYYY-MM-DD`` string (None: no expiry)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expires {_shown(value)}: expected a date as YYYY-MM-DD, e.g. 2027-03-31")


def check_patterns(waivers: Iterable[Waiver], check_ids: Sequence[str]) -> None:
    """Every waiver's check pattern must name an installed check (UsageError, exit 2)."""
    for waiver in waivers:
        if any(fnmatch.fnmatchcase(cid, waiver.check) for cid in check_ids):
            continue
        hint = nearest(waiver.check, list(check_ids))
        did = f" (did you mean {hint}?)" if hint else ""
        raise UsageError(f"{waiver.source}: waiver {waiver.label!r} matches no check{did}")


def apply(
    findings: list[Finding],
    waivers: Sequence[Waiver],
    ran: Iterable[str],
    today: dt.date | None = None,
) -> list[Finding]:
    """Mark the findings each live waiver accepts (first waiver wins); return the
    ``preflight.waivers`` findings: one per expired waiver, one per live waiver that accepted
    nothing although a check it names ran (a waiver for a check this run did not select is
    neither used nor stale: a config file shared by narrower runs stays quiet)."""
    today = today or dt.datetime.now(dt.UTC).date()
    ran_ids = set(ran)
    notes: list[Finding] = []
    for waiver in waivers:
        if waiver.expired(today):
            notes.append(_note(waiver, f"expired on {waiver.expires}: it no longer applies", today))
            continue
        used = 0
        for finding in findings:
            if finding.ignored is None and waiver.matches(finding):
                finding.ignored = waiver.to_dict()
                used += 1
        if used == 0 and any(fnmatch.fnmatchcase(cid, waiver.check) for cid in ran_ids):
            what = "target" if waiver.target is not None else "check"
            notes.append(
                _note(
                    waiver,
                    f"matches no warn, fail or error finding of this run (stale {what}?)",
                    today,
                )
            )
    return notes


def _note(waiver: Waiver, problem: str, today: dt.date) -> Finding:
    stale = "expired" not in problem
    remediation = (
        f"remove the waiver from {waiver.source}, or correct its check/target"
        if stale
        else f"look at the finding again; if it is still accepted, renew the waiver's expires "
        f"date in {waiver.source} (with its reason)"
    )
    return Finding(
        Status.WARN,
        waiver.label,
        f"waiver {waiver.label} ({waiver.source}) {problem}",
        remediation,
        details={
            "waiver": {"check": waiver.check, "target": waiver.target, **waiver.to_dict()},
            "today": today.isoformat(),
        },
        check=WAIVER_CHECK,
        title="Waivers still apply",
        category="other",
    )


def _valid_check(check: str) -> None:
    if not _CHECK_PATTERN.match(check):
        raise ValueError(f"{check!r}: not a check id or glob (letters, digits, '.', '-', '_', '*')")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
