"""What already runs on each node: the requests of its pods, summed as the scheduler sums them.

Every pod of the cluster is read once, page by page (``ctx.kube.stream``: ``limit``/``continue``,
one page in memory), and only per-node totals are kept, so 50,000 pods cost a few pages of
memory. Pods that have finished (``Succeeded``/``Failed``) hold nothing and are left out by the
field selector, as ``kubectl describe node`` does.

A pod's request, per resource, is what the scheduler reserves
(https://kubernetes.io/docs/concepts/workloads/pods/init-containers/#resource-sharing-within-containers):
the larger of its largest init container and the sum of its containers, plus its ``overhead``
(RuntimeClass); a container's missing request is its limit (the API server's defaulting, here
for hand-made objects too); init containers with ``restartPolicy: Always`` (sidecars) run
alongside the containers and count in the sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Context, jsonshape
from preflight.checks._shared.nodes import GPU_RESOURCE, parse_quantity

PODS_PATH = "/api/v1/pods"
ACTIVE = "status.phase!=Succeeded,status.phase!=Failed"
RESOURCES = ("cpu", "memory", GPU_RESOURCE)
#: the router's pods (azureml-fe, azureml-fe-v2) in the extension's namespace
ROUTER_PREFIX = "azureml-fe"
ROUTER_NAMESPACE = "azureml"

_AMOUNTS = jsonshape.Obj(values=jsonshape.SCALAR)
_CONTAINER = jsonshape.Obj(
    {
        "name": jsonshape.STR,
        "restartPolicy": jsonshape.STR,
        "resources": jsonshape.Obj({"requests": _AMOUNTS, "limits": _AMOUNTS}),
    }
)
#: the fields of a pod this reader uses (a pod of another shape is a ``malformed`` KubeError)
POD_SHAPE = jsonshape.Obj(
    {
        "metadata": jsonshape.Obj(
            {"name": jsonshape.STR, "namespace": jsonshape.STR}, required=("name",)
        ),
        "spec": jsonshape.Obj(
            {
                "nodeName": jsonshape.STR,
                "containers": jsonshape.Arr(_CONTAINER),
                "initContainers": jsonshape.Arr(_CONTAINER),
                "overhead": _AMOUNTS,
            }
        ),
        "status": jsonshape.Obj({"phase": jsonshape.STR}),
    },
    required=("metadata",),
)


@dataclass
class Usage:
    """Per node: the summed requests (cores, bytes, GPUs) and the pod count of active pods."""

    used: dict[str, list[float]] = field(default_factory=dict)  # node -> [cpu, memory, gpu, pods]
    pods: int = 0
    unscheduled: int = 0
    routers: list[str] = field(default_factory=list)

    def of(self, node: str) -> list[float]:
        return self.used.get(node) or [0.0, 0.0, 0.0, 0.0]


_NONE: Mapping[str, Any] = {}


def _container(resources: Mapping[str, Any]) -> tuple[float, float, float]:
    """(cpu, memory, gpu) one container reserves: each request, else its limit."""
    requests = resources.get("requests") or _NONE
    limits = resources.get("limits") or _NONE
    found = [0.0, 0.0, 0.0]
    for i, resource in enumerate(RESOURCES):
        value = requests.get(resource)
        if value is None:
            value = limits.get(resource)
        if value is not None:
            found[i] = parse_quantity(value) or 0.0
    return found[0], found[1], found[2]


def pod_request(spec: Mapping[str, Any]) -> tuple[float, float, float]:
    """(cpu, memory, gpu) the scheduler reserves for a pod with this spec."""
    cpu = memory = gpu = 0.0
    for container in spec.get("containers") or ():
        resources = container.get("resources")
        if resources:
            c, m, g = _container(resources)
            cpu, memory, gpu = cpu + c, memory + m, gpu + g
    initial = spec.get("initContainers")
    if initial:
        peak = [0.0, 0.0, 0.0]
        sidecars = [0.0, 0.0, 0.0]
        for container in initial:
            resources = container.get("resources")
            if not resources:
                continue
            amounts = _container(resources)
            if container.get("restartPolicy") == "Always":  # a sidecar runs alongside
                for i in range(3):
                    sidecars[i] += amounts[i]
            else:
                for i in range(3):
                    peak[i] = max(peak[i], sidecars[i] + amounts[i])
        cpu = max(cpu + sidecars[0], peak[0])
        memory = max(memory + sidecars[1], peak[1])
        gpu = max(gpu + sidecars[2], peak[2])
    overhead = spec.get("overhead")
    if overhead:
        cpu += parse_quantity(overhead.get("cpu")) or 0.0
        memory += parse_quantity(overhead.get("memory")) or 0.0
    return cpu, memory, gpu


def summed(pods: Iterable[Mapping[str, Any]]) -> Usage:
    """Per-node totals of ``pods`` (consumed once; nothing of a pod is kept)."""
    usage = Usage()
    used = usage.used
    for pod in pods:
        usage.pods += 1
        spec = pod.get("spec") or {}
        node = spec.get("nodeName")
        if not node:
            usage.unscheduled += 1
            continue
        metadata = pod.get("metadata") or {}
        if metadata.get("namespace") == ROUTER_NAMESPACE and str(
            metadata.get("name", "")
        ).startswith(ROUTER_PREFIX):
            usage.routers.append(f"{metadata.get('name')} on {node}")
        cpu, memory, gpu = pod_request(spec)
        totals = used.get(node)
        if totals is None:
            totals = used[node] = [0.0, 0.0, 0.0, 0.0]
        totals[0] += cpu
        totals[1] += memory
        totals[2] += gpu
        totals[3] += 1
    return usage


def gather(ctx: Context) -> Usage:
    """Every active pod of the cluster, streamed (raises KubeError)."""
    return summed(ctx.kube.stream(PODS_PATH, field_selector=ACTIVE, shape=POD_SHAPE))
