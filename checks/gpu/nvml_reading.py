"""Reading one host's GPUs through NVML for ``gpu.health``: the driver, every field of every
GPU, and the XID critical events of a sampling window, as plain data. Kept apart from the record
and the verdicts so that the order of NVML calls (and what a lost GPU stops) reads on its own.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from preflight.api import EventSampling, NvmlClient, NvmlError, Unsupported
from preflight.checks._shared.probe_pods import NODE_ENV

XID_CRITICAL_EVENT = 0x8  # nvmlEventTypeXidCriticalError


def node_name() -> str:
    """The node this runs on: set in probe pods from the downward API, else the host name."""
    return os.environ.get(NODE_ENV) or socket.gethostname()


def cuda_text(version: Any) -> Any:
    """NVML's CUDA driver version 12040 -> ``"12.4"`` (other values unchanged)."""
    if isinstance(version, int) and version > 0:
        return f"{version // 1000}.{version % 1000 // 10}"
    return version


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


class Either:
    """Stop when any of several events is set (the check's own, or the run's Ctrl-C)."""

    def __init__(self, *events: threading.Event) -> None:
        self._events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)


def examine(
    client: NvmlClient, node: str, window_s: float, stop: threading.Event | Either
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
        handles = [g.handle for g in node_reading.gpus if usable(g.handle)]
        if window_s > 0 and handles:
            mask = client.constant("nvmlEventTypeXidCriticalError", XID_CRITICAL_EVENT)
            box: list[EventSampling] = []

            def sample() -> None:
                box.append(client.sample_events(handles, mask, window_s, stop))

            sampler = threading.Thread(target=sample, name="preflight-nvml-xid", daemon=True)
            sampler.start()
        for gpu in node_reading.gpus:
            if usable(gpu.handle) and not (stop.is_set()):
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


def usable(handle: Any) -> bool:
    return handle is not None and not isinstance(handle, Unsupported | NvmlError)


def _system(client: NvmlClient, *functions: str) -> Any:
    try:
        result = client.call_first(functions)
    except NvmlError as exc:
        return exc
    return result
