"""Which nodes carry NVIDIA GPUs, and how many each should have (shared by gpu.device-plugin and
gpu.health's in-cluster probes; data and pure functions, no checks).

A node counts as a GPU node when any of these says so: it advertises ``nvidia.com/gpu`` or a MIG
resource (``nvidia.com/mig-<profile>``) in its capacity; it carries a label that GPU node pools
and NVIDIA's feature discovery set (``kubernetes.azure.com/accelerator=nvidia`` on AKS,
``nvidia.com/gpu.present=true``, ``nvidia.com/gpu.count``, ``nvidia.com/gpu.product``); or its
VM size is an NVIDIA N-series size. The last two matter most when something is wrong: a GPU node
whose device plugin never ran advertises nothing, and only its labels and VM size give it away.

How many GPUs a node should have comes from its VM size (``AZURE_GPU_SIZES``, from the Azure VM
size pages: learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/*, the
MicrosoftDocs/azure-compute-docs "Accelerators" tables), else from NVIDIA feature discovery's
``nvidia.com/gpu.count`` label, else it is not known (Arc clusters on other hardware). AMD
N-series sizes (NVv4, NGads V620, NVads V710, ND MI300X) are not NVIDIA GPU nodes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GPU_RESOURCE = "nvidia.com/gpu"
MIG_PREFIX = "nvidia.com/mig-"
MIG_STRATEGY_LABEL = "nvidia.com/mig.strategy"
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
#: labels that mark an NVIDIA GPU node: (key, value or None for "any non-empty value")
GPU_LABELS: tuple[tuple[str, str | None], ...] = (
    ("kubernetes.azure.com/accelerator", "nvidia"),
    ("nvidia.com/gpu.present", "true"),
    ("nvidia.com/gpu.count", None),
    ("nvidia.com/gpu.product", None),
    ("accelerator", "nvidia"),
)
POOL_LABELS = ("kubernetes.azure.com/agentpool", "agentpool")
SIZES_SOURCE = (
    "Azure VM sizes, GPU-accelerated: "
    "https://learn.microsoft.com/azure/virtual-machines/sizes/overview#gpu-accelerated"
)


@dataclass(frozen=True)
class GpuSize:
    """An Azure VM size with NVIDIA GPUs: how many the VM exposes, and which."""

    gpus: int
    model: str
    #: a fraction of one GPU (NVadsA10 v5: 1/6, 1/3, 1/2): the VM still sees one (v)GPU
    fraction: str = ""


def _sizes(model: str, *entries: tuple[str, int] | tuple[str, int, str]) -> dict[str, GpuSize]:
    table: dict[str, GpuSize] = {}
    for entry in entries:
        name, count = entry[0], entry[1]
        fraction = entry[2] if len(entry) > 2 else ""
        table[f"standard_{name}".lower()] = GpuSize(count, model, str(fraction))
    return table


#: Azure N-series VM sizes with NVIDIA GPUs -> GPUs per VM (lower-case size name)
AZURE_GPU_SIZES: dict[str, GpuSize] = {
    **_sizes("Tesla K80", ("NC6", 1), ("NC12", 2), ("NC24", 4), ("NC24r", 4)),  # retired
    **_sizes("Tesla P100", ("NC6s_v2", 1), ("NC12s_v2", 2), ("NC24s_v2", 4), ("NC24rs_v2", 4)),
    **_sizes("Tesla V100", ("NC6s_v3", 1), ("NC12s_v3", 2), ("NC24s_v3", 4), ("NC24rs_v3", 4)),
    **_sizes(
        "Tesla T4",
        ("NC4as_T4_v3", 1),
        ("NC8as_T4_v3", 1),
        ("NC16as_T4_v3", 1),
        ("NC64as_T4_v3", 4),
    ),
    **_sizes(
        "A100 80GB PCIe",
        ("NC24ads_A100_v4", 1),
        ("NC48ads_A100_v4", 2),
        ("NC96ads_A100_v4", 4),
    ),
    **_sizes("A10", ("NC8ads_A10_v4", 1), ("NC16ads_A10_v4", 1), ("NC32ads_A10_v4", 2)),
    **_sizes("H100 NVL", ("NC40ads_H100_v5", 1), ("NC80adis_H100_v5", 2)),
    **_sizes("H100 NVL (confidential)", ("NCC40ads_H100_v5", 1)),
    **_sizes("Tesla P40", ("ND6s", 1), ("ND12s", 2), ("ND24s", 4), ("ND24rs", 4)),  # retired
    **_sizes("Tesla V100 NVLink", ("ND40rs_v2", 8)),
    **_sizes("A100 40GB SXM", ("ND96asr_v4", 8)),
    **_sizes("A100 80GB SXM", ("ND96amsr_A100_v4", 8)),
    **_sizes("H100 SXM", ("ND96isr_H100_v5", 8), ("ND96is_H100_v5", 8)),
    **_sizes("H200 SXM", ("ND96isr_H200_v5", 8)),
    **_sizes("GB200", ("ND128isr_NDR_GB200_v6", 4)),
    **_sizes("GB300", ("ND128isr_GB300_v6", 4)),
    **_sizes("Tesla M60", ("NV6", 1), ("NV12", 2), ("NV24", 4)),  # retired
    **_sizes("Tesla M60", ("NV12s_v3", 1), ("NV24s_v3", 2), ("NV48s_v3", 4)),
    **_sizes(
        "A10",
        ("NV6ads_A10_v5", 1, "1/6"),
        ("NV12ads_A10_v5", 1, "1/3"),
        ("NV18ads_A10_v5", 1, "1/2"),
        ("NV36ads_A10_v5", 1),
        ("NV36adms_A10_v5", 1),
        ("NV72ads_A10_v5", 2),
    ),
}
#: N-series families whose GPUs are AMD's (no nvidia.com/gpu, no NVML)
AMD_SIZES = re.compile(r"^standard_(nv\d+as_v4|ng\d+ads_v620|nv\d+ads_v710_v5|nd\d+isr?_mi300x)")
N_SERIES = re.compile(r"^standard_n[cdv]\d")


def size_of(instance_type: str | None) -> GpuSize | None:
    return AZURE_GPU_SIZES.get((instance_type or "").lower())


def is_amd_size(instance_type: str | None) -> bool:
    return bool(AMD_SIZES.match((instance_type or "").lower()))


def _int(value: Any) -> int:
    """A resource quantity or label as a whole count (``"4"``, ``4``); 0 when unreadable."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0


@dataclass
class GpuNode:
    """One node as the GPU checks see it."""

    name: str
    pool: str
    instance_type: str
    ready: bool
    schedulable: bool
    labels: dict[str, str]
    taints: list[dict[str, Any]]
    capacity: int  # nvidia.com/gpu
    allocatable: int
    #: nvidia.com/mig-<profile> -> (capacity, allocatable)
    mig: dict[str, tuple[int, int]] = field(default_factory=dict)
    expected: int | None = None
    expected_from: str = ""
    why: list[str] = field(default_factory=list)

    @property
    def mig_strategy(self) -> str | None:
        value = self.labels.get(MIG_STRATEGY_LABEL)
        if value:
            return value
        return "mixed" if self.mig else None

    @property
    def mig_allocatable(self) -> int:
        return sum(alloc for _, alloc in self.mig.values())

    @property
    def advertised(self) -> int:
        """Allocatable GPU resources of any kind (whole GPUs and MIG slices)."""
        return self.allocatable + self.mig_allocatable


def gpu_node(node: Mapping[str, Any]) -> GpuNode | None:
    """The node as a ``GpuNode``, or None when nothing marks it as an NVIDIA GPU node."""
    metadata = node.get("metadata") or {}
    status = node.get("status") or {}
    spec = node.get("spec") or {}
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    capacity = status.get("capacity") or {}
    allocatable = status.get("allocatable") or {}
    instance_type = next((labels[k] for k in INSTANCE_TYPE_LABELS if labels.get(k)), "")
    why: list[str] = []
    gpu_capacity = _int(capacity.get(GPU_RESOURCE))
    if gpu_capacity:
        why.append(f"capacity {GPU_RESOURCE}={gpu_capacity}")
    mig = {
        str(key): (_int(value), _int(allocatable.get(key)))
        for key, value in capacity.items()
        if str(key).startswith(MIG_PREFIX)
    }
    if mig:
        why.append("MIG resources " + ", ".join(sorted(mig)))
    for key, wanted in GPU_LABELS:
        value = labels.get(key)
        if value and (wanted is None or value.lower() == wanted):
            why.append(f"label {key}={value}")
    size = size_of(instance_type)
    if size is not None:
        why.append(f"VM size {instance_type}")
    elif N_SERIES.match(instance_type.lower()) and not is_amd_size(instance_type):
        why.append(f"N-series VM size {instance_type}")
    if not why or (is_amd_size(instance_type) and not gpu_capacity and not mig):
        return None
    expected: int | None = None
    expected_from = ""
    if size is not None:
        expected = size.gpus
        shown = f"{size.fraction} of an " if size.fraction else f"{size.gpus}x "
        expected_from = f"VM size {instance_type}: {shown}{size.model}"
    elif _int(labels.get("nvidia.com/gpu.count")):
        expected = _int(labels["nvidia.com/gpu.count"])
        expected_from = f"label nvidia.com/gpu.count={expected} (NVIDIA feature discovery)"
    conditions = status.get("conditions") or []
    ready = any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in conditions
    )
    pool = next((labels[k] for k in POOL_LABELS if labels.get(k)), "default")
    return GpuNode(
        name=str(metadata.get("name") or "(unnamed)"),
        pool=pool,
        instance_type=instance_type,
        ready=ready,
        schedulable=not spec.get("unschedulable"),
        labels=labels,
        taints=[dict(t) for t in spec.get("taints") or [] if isinstance(t, Mapping)],
        capacity=gpu_capacity,
        allocatable=_int(allocatable.get(GPU_RESOURCE)),
        mig=mig,
        expected=expected,
        expected_from=expected_from,
        why=why,
    )


def gpu_nodes(nodes: list[dict[str, Any]]) -> list[GpuNode]:
    """Every NVIDIA GPU node of the cluster, by name."""
    found = [g for g in (gpu_node(n) for n in nodes) if g is not None]
    return sorted(found, key=lambda g: g.name)
