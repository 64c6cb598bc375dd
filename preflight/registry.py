"""Finding checks: every module registered under the entry-point group ``preflight.checks``.

Built-in checks register exactly as a third-party plugin does (see pyproject.toml), so the plugin
API is the only way in. A plugin that fails to load is reported, not fatal.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from preflight.errors import UsageError, nearest
from preflight.plugin import Category, Check, Summary

GROUP = "preflight.checks"

#: the run phases (``--set phase=...``): ``before`` an install (the default) and ``after`` it
PHASES = ("before", "after")
DEFAULT_PHASE = "before"


@dataclass
class Registry:
    checks: dict[str, Check] = field(default_factory=dict)
    #: (entry point name, one-line reason) for plugins that could not be loaded
    broken: list[tuple[str, str]] = field(default_factory=list)
    summaries: list[Summary] = field(default_factory=list)
    #: how the checks' categories are shown (declared by the plugins, first declaration wins)
    categories: dict[str, Category] = field(default_factory=dict)

    def add(self, check: Check | Summary | Category, origin: str) -> None:
        if isinstance(check, Category):
            self.categories.setdefault(check.id, check)
            return
        if isinstance(check, Summary):
            if any(s.key == check.key for s in self.summaries):
                self.broken.append((origin, f"report key {check.key!r} is already claimed"))
            else:
                self.summaries.append(check)
            return
        if not isinstance(getattr(check, "id", None), str) or not check.id:
            self.broken.append((origin, f"{check!r} has no id"))
            return
        if check.id in self.checks:
            self.broken.append((origin, f"check id {check.id!r} is already registered"))
            return
        self.checks[check.id] = check

    def select(
        self,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        phase: str | None = None,
    ) -> list[Check]:
        """Checks matching any ``include`` glob (all when empty) and no ``exclude`` glob; with
        ``phase``, only those of that phase. An ``include`` glob that names checks of the other
        phase only is a usage error that says which phase to ask for."""
        for pattern in (*include, *exclude):
            if not any(fnmatch.fnmatchcase(cid, pattern) for cid in self.checks):
                hint = nearest(pattern, list(self.checks))
                did = f" (did you mean {hint}?)" if hint else ""
                known = ", ".join(sorted(self.checks))
                raise UsageError(f"check pattern {pattern!r} matches no check{did}; known: {known}")
        pool = {cid: c for cid, c in self.checks.items() if phase is None or in_phase(c, phase)}
        for pattern in include:
            if not any(fnmatch.fnmatchcase(cid, pattern) for cid in pool):
                others = sorted(
                    {
                        p
                        for c in self.checks.values()
                        if fnmatch.fnmatchcase(c.id, pattern)
                        for p in phases_of(c)
                    }
                    - {phase}
                )
                raise UsageError(
                    f"check pattern {pattern!r} matches only checks of phase "
                    f"{' and '.join(others)}: add --set phase={others[0]}"
                )
        selected = [
            check
            for cid, check in pool.items()
            if (not include or any(fnmatch.fnmatchcase(cid, p) for p in include))
            and not any(fnmatch.fnmatchcase(cid, p) for p in exclude)
        ]
        if not selected and (include or exclude):
            asked = " ".join(
                [*(f"--check {p!r}" for p in include), *(f"--skip {p!r}" for p in exclude)]
            )
            raise UsageError(
                f"{asked} select no check{f' of phase {phase}' if phase else ''}: "
                "nothing would run; list the checks with `preflight checks`"
            )
        return sorted(selected, key=lambda c: c.id)

    def host_services(self) -> dict[str, str]:
        """Every service kind a profile host may name (``service:``), from the checks that
        tell services apart (``Check.host_services``), with its description."""
        known: dict[str, str] = {}
        for check in self.checks.values():
            for name, text in (getattr(check, "host_services", None) or {}).items():
                known.setdefault(name, text)
        return known

    def category_order(self) -> dict[str, tuple[int, str]]:
        """What the reports need of the categories: id -> (order, title)."""
        return {c.id: (c.order, c.title) for c in self.categories.values()}

    def parameters(self) -> dict[str, str]:
        """Every ``--set`` key that some check reads, with its description."""
        known: dict[str, str] = {}
        for check in self.checks.values():
            for name, text in getattr(check, "parameters", {}).items():
                known.setdefault(name, text)
        return known


def phases_of(item: Check | Summary) -> tuple[str, ...]:
    """The phases a check or summary declares (all, when it declares none it knows of)."""
    phases = tuple(p for p in getattr(item, "phases", PHASES) or () if p in PHASES)
    return phases or PHASES


def in_phase(item: Check | Summary, phase: str) -> bool:
    return phase in phases_of(item)


def validate_phase(value: str | None) -> str:
    """``--set phase=VALUE`` (UsageError unless before or after; empty means before)."""
    phase = (value or DEFAULT_PHASE).strip().lower()
    if phase not in PHASES:
        raise UsageError(
            f"--set phase={value}: expected before (the default: ready for the install) or "
            "after (verify the installation)"
        )
    return phase


def _checks_from(obj: Any) -> Iterable[Check | Summary | Category]:
    """Accept a module (its ``CHECKS`` and ``CATEGORIES``), a Check subclass, an instance, a
    Category, or a list of them."""
    if inspect.ismodule(obj):
        yield from _checks_from(getattr(obj, "CATEGORIES", []))
        yield from _checks_from(getattr(obj, "CHECKS", []))
    elif inspect.isclass(obj) and issubclass(obj, Check | Summary):
        yield obj()
    elif isinstance(obj, Check | Summary | Category):
        yield obj
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _checks_from(item)
    elif callable(obj):
        yield from _checks_from(obj())
    else:
        raise TypeError(f"{obj!r} is not a check, a list of checks or a module with CHECKS")


def load(extra: Iterable[Any] = ()) -> Registry:
    """Load every registered check (plus ``extra`` objects, used by tests and embedders)."""

    registry = Registry()
    for ep in sorted(
        entry_points(group=GROUP),
        key=lambda e: (e.value.startswith("preflight."), e.name),
        reverse=True,
    ):
        try:
            for check in _checks_from(ep.load()):
                registry.add(check, ep.name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the tool
            registry.broken.append((ep.name, f"{type(exc).__name__}: {exc}"))
    for obj in extra:
        for check in _checks_from(obj):
            registry.add(check, "extra")
    return registry
