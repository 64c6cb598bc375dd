"""The per-GPU record of ``gpu.health``: one GPU's NVML answers turned into flat, JSON-ready
details (units converted, modes and clock-event bits named, XID events split into critical and
the application's own). The JSON report keeps it whole and the HTML report draws its table from
it, so the record is its own module, apart from how it is judged.
"""

from __future__ import annotations

from typing import Any

from preflight.api import NOT_SUPPORTED, EventSampling, NvmlClient, NvmlError, Unsupported
from preflight.checks.gpu.nvml_reading import GpuReading, usable

#: XIDs caused by the application itself (device plugin: not a sign of a sick GPU)
APPLICATION_XIDS = frozenset({13, 31, 43, 45, 68})
MIB = 1024 * 1024

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

#: what common critical XIDs mean, for messages (NVIDIA's XID catalogue: gpu_verdicts.DOCS_XID)
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


def shown(value: Any) -> Any:
    """A value for details: markers as "not supported", errors as their text."""
    if isinstance(value, Unsupported):
        return NOT_SUPPORTED
    if isinstance(value, NvmlError):
        return f"error: {value.message}"
    return value


def _enabled(value: Any) -> Any:
    if isinstance(value, int):
        return "enabled" if value else "disabled"
    return shown(value)


def _mode(details: dict[str, Any], key: str, value: Any) -> None:
    """A mode NVML reports as (current, pending), ECC's or MIG's: ``key`` and ``key_pending``
    (only ``key``, saying why, when it was not read)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        details[key] = _enabled(value[0])
        details[f"{key}_pending"] = _enabled(value[1])
    else:
        details[key] = shown(value)


def gpu_details(node: str, gpu: GpuReading, sampling: EventSampling | None) -> dict[str, Any]:
    """The per-GPU record: every field listed in health.py's docstring, flat, JSON-ready."""
    v = gpu.values
    details: dict[str, Any] = {"node": node, "index": gpu.index}
    details["name"] = shown(v.get("name"))
    details["uuid"] = shown(v.get("uuid"))
    details["pci_bus_id"] = shown(v.get("pci"))
    memory = v.get("memory")
    if memory is not None and not isinstance(memory, Unsupported | NvmlError):
        details["memory_total_mib"] = int(memory.total) // MIB
        details["memory_used_mib"] = int(memory.used) // MIB
    else:
        details["memory_total_mib"] = shown(memory)
    _mode(details, "ecc_mode", v.get("ecc_mode"))
    details["ecc_uncorrected_volatile"] = shown(v.get("ecc_volatile"))
    details["ecc_uncorrected_aggregate"] = shown(v.get("ecc_aggregate"))
    retired = v.get("retired_pending")
    details["retired_pages_pending"] = bool(retired) if isinstance(retired, int) else shown(retired)
    rows = v.get("remapped_rows")
    if isinstance(rows, tuple | list) and len(rows) == 4:
        details["remapped_rows_correctable"] = int(rows[0])
        details["remapped_rows_uncorrectable"] = int(rows[1])
        details["remapped_rows_pending"] = bool(rows[2])
        details["remapped_rows_failure"] = bool(rows[3])
    else:
        details["remapped_rows_pending"] = shown(rows)
        details["remapped_rows_failure"] = shown(rows)
    details["temperature_c"] = shown(v.get("temperature"))
    details["slowdown_temperature_c"] = shown(v.get("slowdown"))
    reasons = v.get("clock_reasons")
    if isinstance(reasons, int):
        details["clock_event_reasons"] = [name for bit, name, _ in CLOCK_REASONS if reasons & bit]
        details["hardware_slowdown"] = [
            name for bit, name, kind in CLOCK_REASONS if reasons & bit and kind == "hardware"
        ]
    else:
        details["clock_event_reasons"] = shown(reasons)
        details["hardware_slowdown"] = shown(reasons)
    power, limit = v.get("power"), v.get("power_limit")
    details["power_w"] = round(power / 1000, 1) if isinstance(power, int) else shown(power)
    details["power_limit_w"] = round(limit / 1000, 1) if isinstance(limit, int) else shown(limit)
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
    key = NvmlClient.handle_key(gpu.handle) if usable(gpu.handle) else None
    if sampling.failure is not None:
        return {"xid_sampling": shown(sampling.failure)}
    if key in sampling.not_registered:
        return {"xid_sampling": shown(sampling.not_registered[key])}
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
