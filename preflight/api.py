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
(``preflight.kube``): ``run_namespace(ctx)`` is the run's own namespace (created on first
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

A check that reads a file the user names on the command line (``--instance-types FILE``,
``--deployment FILE``: ``options.INPUT_OPTIONS``) gets its path from ``ctx.input_file(name)``
and declares ``input_validators = {name: validate}``: ``validate(path)`` raises ``ValueError``
(or ``UsageError``) with one line, ``FILE:LINE: problem``, when the file cannot be used, and the
engine makes that exit 2 before any check runs. ``yamlfile`` reads such files safely (size,
depth and alias bounds) with the line of every key (``yamlfile.where(mapping, key)``). A
collection too big to keep (every pod of a large cluster) is read with ``ctx.kube.stream``, one
``limit``/``continue`` page in memory at a time.

A check that runs another program uses ``run_command`` / ``run_command_async``: the program runs
in its own process group, bounded, and is killed with its children on timeout, on the run's
deadline, on SIGINT/SIGTERM and at exit; ``CommandResult.failure()`` names it for a message.
"""

from __future__ import annotations

from typing import Any

from preflight import jsonshape, yamlfile
from preflight.clients import kubeshapes
from preflight.clients.arm import ArmError, parse_resource_id
from preflight.clients.dns import UNUSABLE, Resolution, classify_address
from preflight.clients.kube import KubeError, path_for
from preflight.clients.net import HttpAnswer, ProbeResult
from preflight.clients.net import probe as probe_endpoint
from preflight.clients.nvml import NOT_SUPPORTED, EventSampling, NvmlClient, NvmlError, Unsupported
from preflight.clients.trust import (
    Trust,
    describe_certificate,
    pem_certificates,
    verifies_with,
)
from preflight.concurrency import run_in_daemon_thread
from preflight.context import Context, Host, split_host_port
from preflight.errors import UsageError
from preflight.jsonshape import ShapeError
from preflight.kube.explain import explain
from preflight.kube.image import preflight_command
from preflight.kube.labels import selector_for
from preflight.kube.manifests import (
    deployment_manifest,
    job_manifest,
    pod_manifest,
    pod_template,
    service_manifest,
)
from preflight.kube.namespace import RunNamespace, run_namespace
from preflight.kube.outcome import EventRecord, Outcome
from preflight.kube.pod_proxy import proxy_source
from preflight.model import Finding, Status
from preflight.params import truthy
from preflight.plugin import Category, Check, Fact, Summary
from preflight.probe_output import NODE_ENV, POOL_ENV, parse_probe_output, probe_interrupted
from preflight.redact import redact_url
from preflight.subprocesses import Completed as CommandResult
from preflight.subprocesses import run as run_command
from preflight.subprocesses import run_async as run_command_async
from preflight.workload.loadgen import run_load as _run_load

__all__ = [
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
    "proxy_source",
    "ArmError",
    "Category",
    "Check",
    "Fact",
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
    "NODE_ENV",
    "POOL_ENV",
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
    "run_load",
    "split_host_port",
    "redact_url",
    "ShapeError",
    "jsonshape",
    "UsageError",
    "yamlfile",
    "kubeshapes",
]


def run_load(url: str, rate: float, duration: float, **options: Any) -> dict[str, Any]:
    """``preflight load`` in-process (open loop, constant rate): the dict ``--json`` prints.

    Options as ``preflight.workload.loadgen.run_load_async`` (warmup, timeout, payload, key,
    ca_bundle, ...); ``key`` goes out as ``Authorization: Bearer`` and is masked in what comes
    back. Blocks (its own event loop): call it from a plain ``run``, not from inside a running
    loop. Imported on first use so that loading the checks stays cheap."""

    return _run_load(url, rate, duration, **options)
