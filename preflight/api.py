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

A check that must look from inside the cluster runs pods through the in-cluster runtime
(``preflight.incluster``): ``run_namespace(ctx)`` is the run's own namespace (created on first
``apply``, deleted when the run ends however it ends), ``job_manifest``/``pod_manifest``/
``deployment_manifest``/``service_manifest`` build least-privilege, restricted-Pod-Security
manifests with the image, pull secrets, node placement and proxy of ``--set``, ``wait_job``/
``wait_pod``/``wait_deployment`` return an ``Outcome``, and ``explain`` turns a failed outcome or
a refused create (KubeError) into a message and a remediation. Under ``--dry-run`` nothing is
applied and ``wait_*`` answer ``reason == "DryRun"``.

JSON read from outside is judged with ``jsonshape`` (``loads`` with size and depth bounds,
``check`` against a declared shape): a ``ShapeError`` names the endpoint and the place, and one a
check lets escape becomes an ``error`` finding with that message. ``ctx.kube.list``/``get`` check
each resource against ``kubeshapes`` (``shape=kubeshapes.OBJECT`` to judge odd objects yourself).

A check that runs another program uses ``run_command`` / ``run_command_async``: the program runs
in its own process group, bounded, and is killed with its children on timeout, on the run's
deadline, on SIGINT/SIGTERM and at exit; ``CommandResult.failure()`` names it for a message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar

from preflight import jsonshape
from preflight.clients import kubeshapes
from preflight.clients.arm import ArmError, parse_resource_id
from preflight.clients.dns import UNUSABLE, Resolution, classify_address
from preflight.clients.kube import KubeError, path_for
from preflight.clients.net import HttpAnswer, ProbeResult
from preflight.clients.net import probe as probe_endpoint
from preflight.clients.nvml import NOT_SUPPORTED, EventSampling, NvmlClient, NvmlError, Unsupported
from preflight.clients.nvml import client_for as nvml_client
from preflight.clients.trust import (
    Trust,
    describe_certificate,
    pem_certificates,
    verifies_with,
)
from preflight.concurrency import run_in_daemon_thread
from preflight.context import Context, Host, split_host_port
from preflight.incluster import (
    EventRecord,
    Outcome,
    RunNamespace,
    deployment_manifest,
    explain,
    job_manifest,
    pod_manifest,
    pod_template,
    preflight_command,
    run_namespace,
    selector_for,
    service_manifest,
)
from preflight.jsonshape import ShapeError
from preflight.model import Finding, Status
from preflight.params import truthy
from preflight.probe import parse_probe_output, probe_interrupted
from preflight.subprocesses import Completed as CommandResult
from preflight.subprocesses import run as run_command
from preflight.subprocesses import run_async as run_command_async

__all__ = [
    "CATEGORIES",
    "EventRecord",
    "Outcome",
    "RunNamespace",
    "deployment_manifest",
    "explain",
    "job_manifest",
    "pod_manifest",
    "pod_template",
    "run_namespace",
    "selector_for",
    "service_manifest",
    "ArmError",
    "Check",
    "Summary",
    "Context",
    "Finding",
    "Host",
    "KubeError",
    "HttpAnswer",
    "ProbeResult",
    "Trust",
    "describe_certificate",
    "pem_certificates",
    "verifies_with",
    "Resolution",
    "UNUSABLE",
    "Status",
    "classify_address",
    "parse_resource_id",
    "parse_probe_output",
    "probe_interrupted",
    "path_for",
    "preflight_command",
    "probe_endpoint",
    "run_in_daemon_thread",
    "CommandResult",
    "run_command",
    "run_command_async",
    "truthy",
    "NOT_SUPPORTED",
    "EventSampling",
    "NvmlClient",
    "NvmlError",
    "Unsupported",
    "nvml_client",
    "run_load",
    "split_host_port",
    "redact_url",
    "ShapeError",
    "jsonshape",
    "kubeshapes",
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
    #: when in the life of the installation the check means something: ``"before"`` (the
    #: default run, which prepares an install) and/or ``"after"`` (``--set phase=after``, which
    #: verifies one). A check of what an install creates says ``("after",)``; one that judges
    #: a plan only an install can still change says ``("before",)``.
    phases: ClassVar[tuple[str, ...]] = ("before", "after")
    #: service kinds a profile host may name with ``service:`` because this check tells
    #: their answers apart (kind -> one line); a profile naming an unknown kind is exit 2
    host_services: ClassVar[dict[str, str]] = {}

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


def run_load(url: str, rate: float, duration: float, **options: Any) -> dict[str, Any]:
    """``preflight load`` in-process (open loop, constant rate): the dict ``--json`` prints.

    Options as ``preflight.loadgen.run_load_async`` (warmup, timeout, payload, key, ca_bundle,
    ...); ``key`` goes out as ``Authorization: Bearer`` and is masked in what comes back. Blocks
    (its own event loop): call it from a plain ``run``, not from inside a running loop. Imported
    on first use so that loading the checks stays cheap."""
    from preflight.loadgen import run_load as _run_load

    return _run_load(url, rate, duration, **options)


def redact_url(url: str) -> str:
    """A URL fit to show: the password in its userinfo and secret-looking query values masked."""
    from preflight.loadgen import redact_url as _redact_url

    return _redact_url(url)
