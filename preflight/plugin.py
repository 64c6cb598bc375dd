"""The types a plugin is made of: a ``Check``, a ``Summary``, a ``Category`` and a ``Fact``.

A check is an id and one method that returns what it found (after kubeadm's preflight
``Checker``). A summary draws one conclusion across every finding. A category names a group of
checks for the reports. A fact is something several checks need that is worth gathering once
per run (the node inventory, the cluster's Azure resource): a check asks the run's context for
it by its typed key, ``ctx.fact(NODES)``, and every check gets the same object.

Plugins import these through ``preflight.api``; the engine's registry and runner import them
from here, so that the engine never depends on the public facade.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from preflight.model import Finding

if TYPE_CHECKING:
    from preflight.context import Context

T = TypeVar("T")


class Check:
    """Base class of every check. Subclasses set the class attributes and implement ``run``."""

    id: ClassVar[str]
    title: ClassVar[str]
    category: ClassVar[str] = "other"
    #: what the check cannot run without: "network", "kube", "arm", "nvml", ... The runner
    #: reports ``skip`` with the reason (and how to supply it) when one is missing.
    needs: ClassVar[tuple[str, ...]] = ()
    #: docs URL for the check as a whole (findings may carry a more precise one)
    docs: ClassVar[str | None] = None
    #: ``--set`` parameters this check reads, with a one-line description each
    parameters: ClassVar[dict[str, str]] = {}
    #: ``--set`` parameters to check before the run starts, each with a function of the value
    #: (often a file path) that raises ValueError (or OSError) with a one-line reason when the
    #: value cannot be used. The engine turns that into exit 2 ("--set KEY=VALUE: reason"), so a
    #: malformed input file never costs a run. A validator must be quick and have no effects.
    validators: ClassVar[dict[str, Callable[[str], object]]] = {}
    #: input files named by run options that this check reads (``"instance_types"`` for
    #: ``--instance-types FILE``; see ``options.INPUT_OPTIONS``), each with a function of the
    #: path that raises ValueError or UsageError with one line (``FILE:LINE: problem``) when the
    #: file cannot be used. The engine calls it before the run starts, whichever checks are
    #: selected, and turns that into exit 2 (``--instance-types FILE:LINE: problem``); the check
    #: reads the file with ``ctx.input_file(name)``. Quick, and without effects.
    input_validators: ClassVar[dict[str, Callable[[str], object]]] = {}
    #: when in the life of the installation the check means something: ``"before"`` (the
    #: default run, which prepares an install) and/or ``"after"`` (``--set phase=after``, which
    #: verifies one). A check of what an install creates says ``("after",)``; one that judges
    #: a plan only an install can still change says ``("before",)``.
    phases: ClassVar[tuple[str, ...]] = ("before", "after")
    #: service kinds a profile host may name with ``service:`` because this check tells
    #: their answers apart (kind -> one line); a profile naming an unknown kind is exit 2
    host_services: ClassVar[dict[str, str]] = {}
    #: the answer depends on where the check runs (a network path): ``preflight probe`` runs
    #: such checks by default, from inside the cluster
    vantage_dependent: ClassVar[bool] = False

    def run(self, ctx: Context) -> Iterable[Finding] | Awaitable[Iterable[Finding]]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "needs": list(self.needs),
            "phases": list(self.phases),
        }

    def __repr__(self) -> str:
        return f"<check {self.id}>"


class Summary:
    """A conclusion drawn across all findings once every check has finished.

    It contributes one top-level key of the report (``key``), e.g. the corrected
    ``az k8s-extension create`` command that the findings imply. Register it in ``CHECKS`` like
    a check. ``summarize`` returns None when there is nothing to say.
    """

    key: ClassVar[str]
    #: the run phases it belongs to, as ``Check.phases``
    phases: ClassVar[tuple[str, ...]] = ("before", "after")

    def summarize(self, ctx: Context, findings: list[Finding]) -> dict[str, Any] | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Category:
    """A group of checks as the reports show it: its id (``Check.category``), a title and where
    it comes in the reports (lower first; categories nobody declares follow, by name)."""

    id: str
    title: str
    order: int = 100


@dataclass(frozen=True, eq=False)
class Fact(Generic[T]):
    """Something several checks need, gathered once per run: ``ctx.fact(NODES)``.

    ``gather`` is a plain function of the context (blocking is fine: the first caller runs it,
    the others wait for the same value) or a coroutine function (``await ctx.fact_async(F)``;
    concurrent callers share one task). Its exception reaches every caller. The key is the
    object itself, typed, so a reader and mypy both see what a check gets."""

    name: str
    gather: Callable[[Context], T] | Callable[[Context], Awaitable[T]]

    def __repr__(self) -> str:
        return f"<fact {self.name}>"
