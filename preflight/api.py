"""The public plugin API. Built-in checks and third-party plugins use this module and no other.

A check is an id and one method that returns what it found (after kubeadm's preflight Checker)::

    from preflight.api import Check, Context, Finding

    class NtpCheck(Check):
        id = "contoso.ntp"
        title = "Time server reachable"
        category = "connectivity"
        needs = ("network",)

        async def run(self, ctx: Context) -> list[Finding]:
            ...
            return [Finding.passed("ntp.contoso.com", "answered in 3 ms")]

    CHECKS = [NtpCheck()]

Register the module under the entry-point group ``preflight.checks`` in the plugin's
pyproject.toml (``[project.entry-points."preflight.checks"] contoso = "contoso_preflight"``).
``run`` may be ``async`` (for network probes) or plain (for blocking clients, which the runner
moves to a thread). Exceptions and the run's deadline are the runner's business: a check only
reports what it concluded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar

from preflight.clients.arm import ArmError, parse_resource_id
from preflight.clients.dns import Resolution, classify_address
from preflight.clients.kube import KubeError, path_for
from preflight.clients.net import ProbeResult
from preflight.clients.net import probe as probe_endpoint
from preflight.concurrency import run_in_daemon_thread
from preflight.context import Context, Host
from preflight.model import Finding, Status
from preflight.params import truthy

__all__ = [
    "CATEGORIES",
    "ArmError",
    "Check",
    "Summary",
    "Context",
    "Finding",
    "Host",
    "KubeError",
    "ProbeResult",
    "Resolution",
    "Status",
    "classify_address",
    "parse_resource_id",
    "path_for",
    "probe_endpoint",
    "run_in_daemon_thread",
    "truthy",
]

CATEGORIES = ("connectivity", "cluster", "extension", "azure", "gpu", "smoke")


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

    def run(self, ctx: Context) -> Iterable[Finding] | Awaitable[Iterable[Finding]]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "needs": list(self.needs),
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

    def summarize(self, ctx: Context, findings: list[Finding]) -> dict[str, Any] | None:
        raise NotImplementedError
