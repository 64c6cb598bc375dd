"""The verdicts of ``gpu.health``: what in one GPU's record fails or warns (the rules of the
NVIDIA device plugin, https://github.com/NVIDIA/k8s-device-plugin, and of NVIDIA's field guides
linked below), the finding per GPU, the node's summary and NVML's start-up failures. Kept apart
from the reading so that every rule can be read, and tested, on a record alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from preflight.api import NOT_SUPPORTED, EventSampling, Finding, NvmlError, Status
from preflight.checks.gpu.gpu_record import gpu_details, shown
from preflight.checks.gpu.nvml_reading import NodeReading

THERMAL_MARGIN_C = 5
POWER_NEAR_LIMIT = 0.95

DOCS_XID = "https://docs.nvidia.com/deploy/xid-errors/index.html"
DOCS_MEMORY = "https://docs.nvidia.com/deploy/a100-gpu-mem-error-mgmt/index.html"
DOCS_DRIVER = "https://learn.microsoft.com/azure/virtual-machines/linux/n-series-driver-setup"
DOCS_THERMAL = "https://docs.nvidia.com/deploy/nvml-api/group__nvmlClocksEventReasons.html"


@dataclass
class Problem:
    status: Status
    field: str  # the details key it is about (highlighted in the report)
    text: str
    fix: str
    docs: str | None = None


def judge(details: Mapping[str, Any]) -> list[Problem]:
    """The problems of one GPU record, most severe first."""
    problems: list[Problem] = []
    reset = (
        "drain the node (kubectl drain), then reset the GPU (nvidia-smi -r -i {i}) or reboot the "
        "VM; if it comes back, redeploy or reimage the node (Azure: report the VM as unhealthy "
        "so the host is serviced)"
    ).format(i=details.get("index"))

    def add(status: Status, key: str, text: str, fix: str, docs: str | None = None) -> None:
        problems.append(Problem(status, key, text, fix, docs))

    if details.get("lost"):
        add(
            Status.FAIL,
            "lost",
            "the GPU is lost (NVML_ERROR_GPU_IS_LOST): it fell off the bus or stopped answering",
            reset,
            DOCS_XID,
        )
        return problems
    volatile = details.get("ecc_uncorrected_volatile")
    if isinstance(volatile, int) and volatile > 0:
        add(
            Status.FAIL,
            "ecc_uncorrected_volatile",
            f"{volatile} uncorrectable ECC error(s) since the driver loaded",
            reset,
            DOCS_MEMORY,
        )
    if details.get("retired_pages_pending") is True:
        add(
            Status.FAIL,
            "retired_pages_pending",
            "memory pages are waiting to be retired: the retirement takes effect only after a "
            "GPU reset",
            reset,
            DOCS_MEMORY,
        )
    if details.get("remapped_rows_pending") is True:
        add(
            Status.FAIL,
            "remapped_rows_pending",
            "a memory row remapping is pending: it takes effect only after a GPU reset",
            reset,
            DOCS_MEMORY,
        )
    if details.get("remapped_rows_failure") is True:
        add(
            Status.FAIL,
            "remapped_rows_failure",
            "a memory row remapping failed: the GPU has run out of spare rows and needs service",
            "drain the node and have the GPU serviced (on Azure: redeploy the VM to another "
            "host and report it)",
            DOCS_MEMORY,
        )
    for xid in details.get("xid_critical") or []:
        meaning = f" ({xid['meaning']})" if xid.get("meaning") else ""
        add(
            Status.FAIL,
            "xid_critical",
            f"XID {xid['xid']}{meaning} during the {details.get('xid_sampling')} window",
            f"read the kernel log (dmesg | grep -i xid) and act on XID {xid['xid']} as NVIDIA's "
            f"XID catalogue says; for most critical XIDs: {reset}",
            DOCS_XID,
        )
    temperature, slowdown = details.get("temperature_c"), details.get("slowdown_temperature_c")
    if isinstance(temperature, int) and isinstance(slowdown, int) and slowdown > 0:
        if temperature >= slowdown:
            add(
                Status.FAIL,
                "temperature_c",
                f"{temperature} °C is at or above the slowdown threshold ({slowdown} °C): the "
                "GPU is slowing itself down",
                "check the node's cooling and airflow (on Azure: redeploy the VM); do not run "
                "workloads there until it cools",
                DOCS_THERMAL,
            )
        elif temperature >= slowdown - THERMAL_MARGIN_C:
            add(
                Status.WARN,
                "temperature_c",
                f"{temperature} °C is within {THERMAL_MARGIN_C} °C of the slowdown threshold "
                f"({slowdown} °C)",
                "check what runs on the GPU and the node's cooling",
                DOCS_THERMAL,
            )
    hardware = details.get("hardware_slowdown")
    if isinstance(hardware, list) and hardware:
        add(
            Status.FAIL,
            "hardware_slowdown",
            "hardware clock slowdown active: " + ", ".join(hardware),
            "a hardware slowdown means overheating, a power-supply problem or an external "
            "power brake: drain the node and have the host checked (on Azure: redeploy the VM)",
            DOCS_THERMAL,
        )
    reasons = details.get("clock_event_reasons")
    if isinstance(reasons, list) and "sw_thermal_slowdown" in reasons:
        add(
            Status.WARN,
            "clock_event_reasons",
            "software thermal slowdown active: the driver lowers clocks to keep the GPU cool",
            "check the node's cooling and what runs on the GPU",
            DOCS_THERMAL,
        )
    aggregate = details.get("ecc_uncorrected_aggregate")
    if isinstance(aggregate, int) and aggregate > 0:
        add(
            Status.WARN,
            "ecc_uncorrected_aggregate",
            f"{aggregate} uncorrectable ECC error(s) in the GPU's lifetime (history; none "
            "since the driver loaded)"
            if not volatile
            else f"{aggregate} uncorrectable ECC error(s) in the GPU's lifetime",
            "watch the count: if it grows, have the GPU serviced",
            DOCS_MEMORY,
        )
    power, limit = details.get("power_w"), details.get("power_limit_w")
    if (
        isinstance(power, float | int)
        and isinstance(limit, float | int)
        and limit > 0
        and power >= limit * POWER_NEAR_LIMIT
    ):
        add(
            Status.WARN,
            "power_w",
            f"drawing {power:g} W of its {limit:g} W limit: a workload already runs on it, "
            "or the power limit was lowered",
            "check what runs on the GPU (nvidia-smi) and the power limit (nvidia-smi -q -d POWER)",
        )
    if details.get("persistence_mode") == "disabled":
        add(
            Status.WARN,
            "persistence_mode",
            "persistence mode is off: every CUDA start re-initializes the GPU (slower), unless "
            "nvidia-persistenced holds it",
            "run nvidia-persistenced (or nvidia-smi -pm 1) on the node",
            DOCS_DRIVER,
        )
    for key, what in (("ecc_mode", "ECC"), ("mig_mode", "MIG")):
        current, pending = details.get(key), details.get(f"{key}_pending")
        modes = ("enabled", "disabled")
        if current in modes and pending in modes and current != pending:
            add(
                Status.WARN,
                key,
                f"{what} mode change pending ({current} -> {pending}): applies after a GPU reset",
                "reset the GPU or reboot the node to apply it, or revert the change",
            )
    for key, text in (details.get("query_errors") or {}).items():
        add(
            Status.WARN,
            key,
            f"could not read {key}: {text}",
            "run nvidia-smi -q on the node to see whether the driver answers",
        )
    problems.sort(key=lambda p: -p.status.severity)
    return problems


def gpu_finding(node: str, details: dict[str, Any]) -> Finding:
    target = f"{node}/{details['index']}"
    problems = judge(details)
    details["flags"] = {}
    for problem in problems:
        if problem.field not in details["flags"]:
            details["flags"][problem.field] = str(problem.status)
    if not problems:
        return Finding.passed(target, _healthy_text(details), **details)
    status = problems[0].status
    fixes: list[str] = []
    for problem in problems:
        if problem.fix not in fixes:
            fixes.append(problem.fix)
    docs = next((p.docs for p in problems if p.docs), None)
    name = details.get("name")
    label = f"{name}: " if isinstance(name, str) and name != NOT_SUPPORTED else ""
    message = label + "; ".join(p.text for p in problems)
    return Finding(status, target, message, "; ".join(fixes), docs, details)


def _healthy_text(details: Mapping[str, Any]) -> str:
    parts: list[str] = []
    name = details.get("name")
    if isinstance(name, str) and name != NOT_SUPPORTED:
        parts.append(name)
    temperature, slowdown = details.get("temperature_c"), details.get("slowdown_temperature_c")
    if isinstance(temperature, int):
        parts.append(
            f"{temperature} °C"
            + (f" (slowdown at {slowdown} °C)" if isinstance(slowdown, int) else "")
        )
    power, limit = details.get("power_w"), details.get("power_limit_w")
    if isinstance(power, float | int):
        parts.append(
            f"{power:g} W" + (f" of {limit:g} W" if isinstance(limit, float | int) else "")
        )
    ecc = details.get("ecc_mode")
    if ecc in ("enabled", "disabled"):
        parts.append(f"ECC {ecc}")
    if isinstance(details.get("ecc_uncorrected_volatile"), int):
        parts.append("no uncorrectable ECC errors")
    sampling = details.get("xid_sampling")
    if isinstance(details.get("xid_critical"), list):
        parts.append(f"no critical XID in {sampling}")
    unsupported = details.get("unsupported") or {}
    if unsupported:
        parts.append("not supported here: " + ", ".join(sorted(unsupported)))
    return "healthy: " + ", ".join(parts)


INIT_REMEDIES = {
    "driver-not-loaded": (
        "the NVIDIA kernel driver is not loaded",
        "load it (sudo modprobe nvidia) and read dmesg for NVRM errors; after a kernel update the "
        "driver must be rebuilt for the new kernel (DKMS) or reinstalled. On AKS, reimage the "
        "node or check the GPU driver installation (the node image's driver, or gpu-operator's "
        "driver DaemonSet)",
    ),
    "version-mismatch": (
        "the NVML library and the loaded kernel driver are different versions (the driver was "
        "upgraded without a reboot)",
        "reboot the node (or unload and reload the nvidia kernel modules) so the kernel driver "
        "matches the installed library",
    ),
    "no-permission": (
        "no permission to open the GPU devices (/dev/nvidia*)",
        "run as a user that may open /dev/nvidia* (root, or the group owning them); in a "
        "container, expose the GPUs (NVIDIA_VISIBLE_DEVICES=all with the NVIDIA container "
        "runtime)",
    ),
    "function-not-found": (
        "the NVIDIA driver is too old for this NVML binding (nvmlInitWithFlags is missing)",
        "upgrade the NVIDIA driver to a supported branch",
    ),
}


def init_failure(node: str, error: NvmlError) -> Finding:
    """NVML is installed but does not start: the node cannot run GPU work."""
    what, fix = INIT_REMEDIES.get(
        error.kind,
        (
            "NVML could not start",
            "run nvidia-smi on the node: it reports the same error with more context; "
            "reinstall the driver if it persists",
        ),
    )
    return Finding.failed(
        node,
        f"{what} (NVML: {error.message})",
        fix,
        DOCS_DRIVER,
        node=node,
        nvml_error=error.kind,
        nvml_code=error.code,
        nvml_function=error.function,
    )


def node_findings(reading: NodeReading) -> list[Finding]:
    """One summary finding for the node, then one per GPU."""
    node = reading.node
    if reading.init_error is not None:
        return [init_failure(node, reading.init_error)]
    gpu_results = [
        gpu_finding(node, gpu_details(node, gpu, reading.sampling)) for gpu in reading.gpus
    ]
    summary = node_summary(reading, gpu_results)
    return [summary, *gpu_results]


def node_summary(reading: NodeReading, gpu_results: list[Finding]) -> Finding:
    """The node's driver facts. Its status is the node's own (the GPUs have theirs): a node
    whose NVML sees no GPU warns; everything else passes, naming the GPUs with problems."""
    node = reading.node
    sampling = reading.sampling
    if reading.window_s <= 0:
        xid_state = "off (xid_window=0)"
    elif sampling is None:
        xid_state = "not sampled"
    elif sampling.failure is not None:
        xid_state = shown(sampling.failure)
    else:
        xid_state = f"{sampling.window_s:g}s" + (
            f" (stopped after {sampling.elapsed_s:g}s)" if sampling.stopped else ""
        )
    details: dict[str, Any] = {
        "node": node,
        "driver_version": shown(reading.driver_version),
        "cuda_driver_version": shown(reading.cuda_driver_version),
        "nvml_version": shown(reading.nvml_version),
        "gpu_count": reading.count,
        "xid_window_s": reading.window_s,
        "xid_sampling": xid_state,
        "gpus": {str(f.target): str(f.status) for f in gpu_results},
    }
    driver = f"driver {details['driver_version']}, CUDA {details['cuda_driver_version']}"
    if reading.count == 0:
        return Finding.warned(
            node,
            f"NVML is loaded ({driver}) but sees no GPU",
            "run nvidia-smi -L on the node; in a container, expose the GPUs "
            "(NVIDIA_VISIBLE_DEVICES=all with the NVIDIA container runtime)",
            DOCS_DRIVER,
            **details,
        )
    bad = [f for f in gpu_results if f.status != Status.PASS]
    if bad:
        listed = ", ".join(f"{f.target} ({f.status})" for f in bad[:8])
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        health = f"{len(bad)} of {reading.count} GPUs need attention: {listed}{more}"
    else:
        health = f"all {reading.count} GPUs healthy"
    if isinstance(sampling, EventSampling) and sampling.failure is not None:
        health += f"; XID events could not be sampled ({xid_state})"
    return Finding.passed(node, f"{driver}, {reading.count} GPUs: {health}", **details)
