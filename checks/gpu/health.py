"""``gpu.health``: NVML's view of every GPU, judged the way the NVIDIA device plugin
(https://github.com/NVIDIA/k8s-device-plugin) and NVIDIA's field guides judge it (``DOCS_XID``,
``DOCS_MEMORY`` and ``DOCS_THERMAL`` in gpu_verdicts.py: the XID, GPU memory error and
clock-event pages of https://docs.nvidia.com).

A node whose GPUs carry pending memory repairs, uncorrectable ECC errors or a fallen-off-the-bus
GPU schedules the extension's training and inference pods and then fails them in ways that look
like model bugs (CUDA errors, NaNs, hangs). NVML tells all of it in about a second, before
anything is installed. Per node one summary finding (target: the node name; locally the host
name) and per GPU one finding (target ``<node>/<index>``, e.g. ``aks-gpu-0/3``) whose details
carry every field read, so the JSON report is the full record and the HTML report draws a table
from it.

What fails (the GPU needs a reset, a drain or service before it can be trusted):
uncorrectable ECC errors since the driver loaded (volatile), retired pages pending, remapped
rows pending or a remapping failure (Ampere and newer), XID critical errors during the sampling
window except the application XIDs 13, 31, 43, 45 and 68 (the device plugin ignores those too:
they are a program's own faults), a GPU NVML reports lost, a temperature at or above the
slowdown threshold, and the hardware clock-event reasons (HW slowdown, HW thermal slowdown, HW
power brake). What warns: uncorrectable ECC errors in the lifetime count only (history, not a
current fault), persistence mode off (harmless where nvidia-persistenced holds the device),
a temperature within 5 °C of slowdown, software thermal slowdown, power draw within 5% of the
enforced limit, a pending ECC or MIG mode change (needs a reset to apply). A query the GPU or
its driver does not offer is recorded as "not supported", never judged.

XID errors are events, not counters: NVML delivers only those that happen while someone
listens, so the check listens for ``--set xid_window`` (default 5s; 0 turns it off) while it
reads the GPUs, in a daemon thread that stops with the run.

With ``--in-cluster`` the same check runs on every GPU node from a probe pod (see
node_probes.py); without it, on the host preflight runs on.

NVML is read in nvml_reading.py, each GPU's record built in gpu_record.py and judged in
gpu_verdicts.py; this module holds the check, its parameters and the interrupted run.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterable
from typing import Any

from preflight.api import (
    Check,
    Context,
    Finding,
    NvmlClient,
    Status,
    run_in_daemon_thread,
    truthy,
)
from preflight.checks.gpu.gpu_verdicts import DOCS_XID, node_findings
from preflight.checks.gpu.node_probes import ALLOCATION_PARAM, probe_gpu_nodes
from preflight.checks.gpu.node_probes import PARAMETERS as PROBE_PARAMETERS
from preflight.checks.gpu.nvml_reading import Either, NodeReading, examine, node_name, usable

XID_WINDOW_PARAM = "xid_window"
DEFAULT_XID_WINDOW_S = 5.0
MAX_XID_WINDOW_S = 600.0

PARAMETERS = {
    XID_WINDOW_PARAM: "how long gpu.health listens for XID critical errors on every GPU, e.g. "
    "5s (default), 500ms, 0 to skip",
    **PROBE_PARAMETERS,
}


def parse_window(text: str) -> float:
    """``"5s"``, ``"5"``, ``"500ms"``, ``"1.5s"``, ``"0"`` -> seconds (ValueError otherwise)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*", str(text).lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration (e.g. 5s, 500ms, 0)")
    value = float(match.group(1)) / (1000.0 if match.group(2) == "ms" else 1.0)
    if value > MAX_XID_WINDOW_S:
        raise ValueError(f"{text!r} is longer than {MAX_XID_WINDOW_S:g}s")
    return value


def _boolean(text: str) -> bool:
    value = truthy(text)
    if value is None:
        raise ValueError(f"{text!r} is not true or false")
    return value


# -- the check -----------------------------------------------------------------------------------


def window_of(ctx: Context) -> float:
    """``--set xid_window`` (validated before the run), bounded by what is left of the run."""
    text = ctx.param(XID_WINDOW_PARAM)
    window = parse_window(text) if text is not None else DEFAULT_XID_WINDOW_S
    return max(0.0, min(window, ctx.remaining() - 2.0))


async def local_findings(ctx: Context, client: NvmlClient) -> list[Finding]:
    """gpu.health on this host."""
    stop = threading.Event()
    try:
        reading = await run_in_daemon_thread(
            examine, client, node_name(), window_of(ctx), Either(stop, ctx.cancelled)
        )
    finally:
        stop.set()  # the deadline cancelled us: end the XID window now
    findings = node_findings(reading)
    if ctx.cancelled.is_set() and reading.init_error is None:
        findings = interrupted_findings(ctx, reading, findings)
    return findings


def interrupted_findings(
    ctx: Context, reading: NodeReading, findings: list[Finding]
) -> list[Finding]:
    """SIGINT/SIGTERM ended the XID window (or came before a GPU was read): what was found
    wrong stays (a conclusion), but "healthy" was not concluded: those findings become error
    "interrupted", their details kept."""
    sampling = reading.sampling
    cut = sampling is not None and sampling.stopped
    window = (
        f"the {reading.window_s:g}s XID window ended (it watched {sampling.elapsed_s:.1f}s)"
        if cut and sampling is not None
        else ""
    )
    unread = {
        f"{reading.node}/{gpu.index}"
        for gpu in reading.gpus
        if usable(gpu.handle) and not gpu.values and gpu.lost is None
    }
    result: list[Finding] = []
    for finding in findings:
        if finding.target in unread:
            what = f"GPU {finding.target} was read"
        elif cut and finding.status == Status.PASS:
            what = window
        else:
            result.append(finding)
            continue
        replaced = ctx.interrupted_finding(finding.target, what, **finding.details)
        replaced.duration_s = finding.duration_s
        result.append(replaced)
    return result


class GpuHealth(Check):
    """NVML health of every GPU (module docstring)."""

    id = "gpu.health"
    title = "GPUs are healthy (NVML: ECC, memory repairs, XID, thermals, clocks)"
    category = "gpu"
    needs = ("nvml",)
    docs = DOCS_XID
    parameters = PARAMETERS
    validators = {XID_WINDOW_PARAM: parse_window, ALLOCATION_PARAM: _boolean}

    async def run(self, ctx: Context) -> list[Finding]:
        client = ctx.nvml
        here = await run_in_daemon_thread(client.available) is None
        parts: list[Any] = []
        if here:
            parts.append(local_findings(ctx, client))
        if ctx.in_cluster:
            parts.append(probe_gpu_nodes(ctx, window_of(ctx)))
        results: Iterable[list[Finding]] = await asyncio.gather(*parts)
        findings = [f for part in results for f in part]
        return findings or [
            Finding.skipped(
                None,
                "no NVIDIA driver here and no GPU node to probe",
                "run on a GPU host, or add an NVIDIA GPU node pool and run with --in-cluster",
            )
        ]


CHECKS = [GpuHealth()]
