"""``gpu.health``: NVML's view of every GPU, judged the way the NVIDIA device plugin
(https://github.com/NVIDIA/k8s-device-plugin) and NVIDIA's field guides judge it (``DOCS_XID``,
``DOCS_MEMORY`` and ``DOCS_THERMAL`` below: the XID, GPU memory error and clock-event pages of
https://docs.nvidia.com).

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
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.api import (
    NOT_SUPPORTED,
    Check,
    Context,
    EventSampling,
    Finding,
    NvmlClient,
    NvmlError,
    Status,
    Unsupported,
    run_in_daemon_thread,
    truthy,
)
from preflight.checks._shared.probe_pods import NODE_ENV
from preflight.checks.gpu.node_probes import ALLOCATION_PARAM, probe_gpu_nodes
from preflight.checks.gpu.node_probes import PARAMETERS as PROBE_PARAMETERS

XID_WINDOW_PARAM = "xid_window"
DEFAULT_XID_WINDOW_S = 5.0
MAX_XID_WINDOW_S = 600.0
#: XIDs caused by the application itself (device plugin: not a sign of a sick GPU)
APPLICATION_XIDS = frozenset({13, 31, 43, 45, 68})
XID_CRITICAL_EVENT = 0x8  # nvmlEventTypeXidCriticalError
THERMAL_MARGIN_C = 5
POWER_NEAR_LIMIT = 0.95
MIB = 1024 * 1024

DOCS_XID = "https://docs.nvidia.com/deploy/xid-errors/index.html"
DOCS_MEMORY = "https://docs.nvidia.com/deploy/a100-gpu-mem-error-mgmt/index.html"
DOCS_DRIVER = "https://learn.microsoft.com/azure/virtual-machines/linux/n-series-driver-setup"
DOCS_THERMAL = "https://docs.nvidia.com/deploy/nvml-api/group__nvmlClocksEventReasons.html"

#: clock event ("throttle") reason bits: name, and whether the reason is a hardware problem
#: (fail), a thermal warning (warn) or neither (recorded only)
CLOCK_REASONS: tuple[tuple[int, str, str | None], ...] = (
    (0x1, "gpu_idle", None),
    (0x2, "applications_clocks_setting", None),
    (0x4, "sw_power_cap", None),
    (0x8, "hw_slowdown", "hardware"),
    (0x10, "sync_boost", None),
    (0x20, "sw_thermal_slowdown", "thermal"),
    (0x40, "hw_thermal_slowdown", "hardware"),
    (0x80, "hw_power_brake_slowdown", "hardware"),
    (0x100, "display_clock_setting", None),
)

#: what common critical XIDs mean, for messages (NVIDIA's XID catalogue, docs above)
XID_MEANINGS = {
    48: "double-bit ECC error",
    61: "internal micro-controller breakpoint",
    62: "internal micro-controller halt",
    63: "ECC page retirement or row remapping event",
    64: "ECC page retirement or row remapping failure",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate",
    94: "contained ECC error",
    95: "uncontained ECC error",
    119: "GSP RPC timeout",
    120: "GSP error",
}

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


def node_name() -> str:
    """The node this runs on: set in probe pods from the downward API, else the host name."""
    return os.environ.get(NODE_ENV) or socket.gethostname()


def cuda_text(version: Any) -> Any:
    """NVML's CUDA driver version 12040 -> ``"12.4"`` (other values unchanged)."""
    if isinstance(version, int) and version > 0:
        return f"{version // 1000}.{version % 1000 // 10}"
    return version


def _shown(value: Any) -> Any:
    """A value for details: markers as "not supported", errors as their text."""
    if isinstance(value, Unsupported):
        return NOT_SUPPORTED
    if isinstance(value, NvmlError):
        return f"error: {value.message}"
    return value


# -- reading -------------------------------------------------------------------------------------


@dataclass
class GpuReading:
    """Everything read from one GPU; values are plain data, ``Unsupported`` or ``NvmlError``."""

    index: int
    handle: Any = None
    values: dict[str, Any] = field(default_factory=dict)
    lost: NvmlError | None = None  # NVML_ERROR_GPU_IS_LOST (the handle or a query)


@dataclass
class NodeReading:
    """One host's NVML answers: the driver, every GPU, the XID window."""

    node: str
    driver_version: Any = None
    cuda_driver_version: Any = None
    nvml_version: Any = None
    count: int = 0
    gpus: list[GpuReading] = field(default_factory=list)
    sampling: EventSampling | None = None
    init_error: NvmlError | None = None
    window_s: float = 0.0


def _query(client: NvmlClient, reading: GpuReading, key: str, *calls: tuple[Any, ...]) -> Any:
    """One field: the first offered of ``calls`` ((function, *args) each, the handle inserted
    first). A lost GPU stops every further query of it; other errors are kept as the value."""
    if reading.lost is not None:
        return None
    value: Any = None
    try:
        for function, *args in calls:
            value = client.call(function, reading.handle, *args)
            if not isinstance(value, Unsupported):
                break
    except NvmlError as exc:
        if exc.kind == "gpu-lost":
            reading.lost = exc
            return None
        value = exc
    reading.values[key] = value
    return value


def read_gpu(client: NvmlClient, reading: GpuReading) -> GpuReading:
    """Every field of one GPU (the handle was obtained already)."""
    q = _query
    q(client, reading, "name", ("nvmlDeviceGetName",))
    q(client, reading, "uuid", ("nvmlDeviceGetUUID",))
    pci = q(client, reading, "pci", ("nvmlDeviceGetPciInfo_v3",), ("nvmlDeviceGetPciInfo",))
    if pci is not None and not isinstance(pci, Unsupported | NvmlError):
        bus = getattr(pci, "busId", b"") or getattr(pci, "busIdLegacy", b"")
        reading.values["pci"] = bus.decode() if isinstance(bus, bytes) else str(bus)
    q(client, reading, "memory", ("nvmlDeviceGetMemoryInfo",))
    q(client, reading, "ecc_mode", ("nvmlDeviceGetEccMode",))
    q(client, reading, "ecc_volatile", ("nvmlDeviceGetTotalEccErrors", 1, 0))
    q(client, reading, "ecc_aggregate", ("nvmlDeviceGetTotalEccErrors", 1, 1))
    q(client, reading, "retired_pending", ("nvmlDeviceGetRetiredPagesPendingStatus",))
    q(client, reading, "remapped_rows", ("nvmlDeviceGetRemappedRows",))
    q(client, reading, "temperature", ("nvmlDeviceGetTemperature", 0))
    q(client, reading, "slowdown", ("nvmlDeviceGetTemperatureThreshold", 1))
    q(
        client,
        reading,
        "clock_reasons",
        ("nvmlDeviceGetCurrentClocksEventReasons",),
        ("nvmlDeviceGetCurrentClocksThrottleReasons",),
    )
    q(client, reading, "power", ("nvmlDeviceGetPowerUsage",))
    q(client, reading, "power_limit", ("nvmlDeviceGetEnforcedPowerLimit",))
    q(client, reading, "persistence", ("nvmlDeviceGetPersistenceMode",))
    q(client, reading, "mig_mode", ("nvmlDeviceGetMigMode",))
    return reading


class _Either:
    """Stop when any of several events is set (the check's own, or the run's Ctrl-C)."""

    def __init__(self, *events: threading.Event) -> None:
        self._events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)


def examine(
    client: NvmlClient, node: str, window_s: float, stop: threading.Event | _Either
) -> NodeReading:
    """Init NVML, read the driver and every GPU while listening for XIDs, shut NVML down.

    Blocking: run it in a daemon thread. The XID window runs in its own daemon thread at the
    same time as the queries, so the whole takes about max(queries, window)."""
    node_reading = NodeReading(node, window_s=window_s)
    try:
        client.init()
    except NvmlError as exc:
        node_reading.init_error = exc
        return node_reading
    sampler: threading.Thread | None = None
    try:
        node_reading.driver_version = _system(client, "nvmlSystemGetDriverVersion")
        node_reading.cuda_driver_version = cuda_text(
            _system(client, "nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion")
        )
        node_reading.nvml_version = _system(client, "nvmlSystemGetNVMLVersion")
        count = client.call("nvmlDeviceGetCount")
        node_reading.count = count if isinstance(count, int) else 0
        for index in range(node_reading.count):
            gpu = GpuReading(index)
            try:
                gpu.handle = client.call("nvmlDeviceGetHandleByIndex", index)
            except NvmlError as exc:
                if exc.kind == "gpu-lost":
                    gpu.lost = exc
                else:
                    gpu.values["handle"] = exc
            node_reading.gpus.append(gpu)
        handles = [g.handle for g in node_reading.gpus if _usable(g.handle)]
        if window_s > 0 and handles:
            mask = client.constant("nvmlEventTypeXidCriticalError", XID_CRITICAL_EVENT)
            box: list[EventSampling] = []

            def sample() -> None:
                box.append(client.sample_events(handles, mask, window_s, stop))

            sampler = threading.Thread(target=sample, name="preflight-nvml-xid", daemon=True)
            sampler.start()
        for gpu in node_reading.gpus:
            if _usable(gpu.handle) and not (stop.is_set()):
                read_gpu(client, gpu)
        if sampler is not None:
            sampler.join(window_s + 5.0)
            node_reading.sampling = box[0] if box else None
    except NvmlError as exc:  # the driver went away between init and the queries
        node_reading.init_error = exc
    finally:
        if sampler is None or not sampler.is_alive():
            client.shutdown()
    return node_reading


def _usable(handle: Any) -> bool:
    return handle is not None and not isinstance(handle, Unsupported | NvmlError)


def _system(client: NvmlClient, *functions: str) -> Any:
    try:
        result = client.call_first(functions)
    except NvmlError as exc:
        return exc
    return result


# -- judging -------------------------------------------------------------------------------------


@dataclass
class Problem:
    status: Status
    field: str  # the details key it is about (highlighted in the report)
    text: str
    fix: str
    docs: str | None = None


def _enabled(value: Any) -> Any:
    if isinstance(value, int):
        return "enabled" if value else "disabled"
    return _shown(value)


def _mode(details: dict[str, Any], key: str, value: Any) -> None:
    """A mode NVML reports as (current, pending), ECC's or MIG's: ``key`` and ``key_pending``
    (only ``key``, saying why, when it was not read)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        details[key] = _enabled(value[0])
        details[f"{key}_pending"] = _enabled(value[1])
    else:
        details[key] = _shown(value)


def gpu_details(node: str, gpu: GpuReading, sampling: EventSampling | None) -> dict[str, Any]:
    """The per-GPU record: every field listed in the module docstring, flat, JSON-ready."""
    v = gpu.values
    details: dict[str, Any] = {"node": node, "index": gpu.index}
    details["name"] = _shown(v.get("name"))
    details["uuid"] = _shown(v.get("uuid"))
    details["pci_bus_id"] = _shown(v.get("pci"))
    memory = v.get("memory")
    if memory is not None and not isinstance(memory, Unsupported | NvmlError):
        details["memory_total_mib"] = int(memory.total) // MIB
        details["memory_used_mib"] = int(memory.used) // MIB
    else:
        details["memory_total_mib"] = _shown(memory)
    _mode(details, "ecc_mode", v.get("ecc_mode"))
    details["ecc_uncorrected_volatile"] = _shown(v.get("ecc_volatile"))
    details["ecc_uncorrected_aggregate"] = _shown(v.get("ecc_aggregate"))
    retired = v.get("retired_pending")
    details["retired_pages_pending"] = (
        bool(retired) if isinstance(retired, int) else _shown(retired)
    )
    rows = v.get("remapped_rows")
    if isinstance(rows, tuple | list) and len(rows) == 4:
        details["remapped_rows_correctable"] = int(rows[0])
        details["remapped_rows_uncorrectable"] = int(rows[1])
        details["remapped_rows_pending"] = bool(rows[2])
        details["remapped_rows_failure"] = bool(rows[3])
    else:
        details["remapped_rows_pending"] = _shown(rows)
        details["remapped_rows_failure"] = _shown(rows)
    details["temperature_c"] = _shown(v.get("temperature"))
    details["slowdown_temperature_c"] = _shown(v.get("slowdown"))
    reasons = v.get("clock_reasons")
    if isinstance(reasons, int):
        details["clock_event_reasons"] = [name for bit, name, _ in CLOCK_REASONS if reasons & bit]
        details["hardware_slowdown"] = [
            name for bit, name, kind in CLOCK_REASONS if reasons & bit and kind == "hardware"
        ]
    else:
        details["clock_event_reasons"] = _shown(reasons)
        details["hardware_slowdown"] = _shown(reasons)
    power, limit = v.get("power"), v.get("power_limit")
    details["power_w"] = round(power / 1000, 1) if isinstance(power, int) else _shown(power)
    details["power_limit_w"] = round(limit / 1000, 1) if isinstance(limit, int) else _shown(limit)
    details["persistence_mode"] = _enabled(v.get("persistence"))
    _mode(details, "mig_mode", v.get("mig_mode"))
    details.update(_xid_details(gpu, sampling))
    if gpu.lost is not None:
        details["lost"] = True
    details["unsupported"] = {
        key: f"{value.function}: {value.why}"
        for key, value in v.items()
        if isinstance(value, Unsupported)
    }
    errors = {k: f"{e.function}: {e.message}" for k, e in v.items() if isinstance(e, NvmlError)}
    if errors:
        details["query_errors"] = errors
    return details


def _xid_details(gpu: GpuReading, sampling: EventSampling | None) -> dict[str, Any]:
    if sampling is None:
        return {"xid_sampling": "not sampled" if gpu.lost is None else "GPU lost"}
    key = NvmlClient.handle_key(gpu.handle) if _usable(gpu.handle) else None
    if sampling.failure is not None:
        return {"xid_sampling": _shown(sampling.failure)}
    if key in sampling.not_registered:
        return {"xid_sampling": _shown(sampling.not_registered[key])}
    mine = [e for e in sampling.events if e.handle_key == key]
    critical = [
        {"xid": e.data, "at_s": e.at_s, "meaning": XID_MEANINGS.get(e.data, "")}
        for e in mine
        if e.data not in APPLICATION_XIDS
    ]
    ignored = [{"xid": e.data, "at_s": e.at_s} for e in mine if e.data in APPLICATION_XIDS]
    return {
        "xid_sampling": f"{sampling.window_s:g}s"
        + (f" (stopped after {sampling.elapsed_s:g}s)" if sampling.stopped else ""),
        "xid_critical": critical,
        "xid_application_ignored": ignored,
    }


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
        xid_state = _shown(sampling.failure)
    else:
        xid_state = f"{sampling.window_s:g}s" + (
            f" (stopped after {sampling.elapsed_s:g}s)" if sampling.stopped else ""
        )
    details: dict[str, Any] = {
        "node": node,
        "driver_version": _shown(reading.driver_version),
        "cuda_driver_version": _shown(reading.cuda_driver_version),
        "nvml_version": _shown(reading.nvml_version),
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
            examine, client, node_name(), window_of(ctx), _Either(stop, ctx.cancelled)
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
        if _usable(gpu.handle) and not gpu.values and gpu.lost is None
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
