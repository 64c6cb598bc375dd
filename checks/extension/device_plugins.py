"""``extension.device-plugins``: at most one DaemonSet registers ``nvidia.com/gpu`` on each node.

A device plugin registers its resource with the kubelet of every node its DaemonSet runs on; two
plugins for ``nvidia.com/gpu`` on one node (AKS's manual ``nvidia-device-plugin-daemonset``,
NVIDIA GPU operator's, NVIDIA's Helm chart, the extension's own with
``installNvidiaDevicePlugin=True``) both claim the same GPUs, and when one is removed the node
can stop advertising GPUs at all: NVIDIA/k8s-device-plugin#255 ("k8s failed to recognize nvidia
gpu after delete the lastest installed one", ``nvidia.com/gpu`` 0), the Azure ML CLI's own
warning on deleting the extension ("If nvidia.com/gpu or fuse resource is not recognized by
kubernetes after this deletion, you probably have installed nvidia-device-plugin ... before
installing AMLArc extension"), and AKS: "Since the NVIDIA GPU Operator handles these components,
it's not necessary to separately install the NVIDIA device plugin"
(https://learn.microsoft.com/azure/aks/nvidia-gpu-operator). NVIDIA's maintainers suggest node
selectors or affinity that keep each plugin to its own nodes (NVIDIA/k8s-device-plugin#1435).

Which nodes a DaemonSet runs on is worked out from its pod template the way the scheduler does
(nodeSelector, required node affinity, NoSchedule/NoExecute taints and tolerations; DaemonSets
tolerate the ``node.kubernetes.io/*`` lifecycle taints themselves), against the node list. Two
plugins sharing a node warn, naming the DaemonSets and the nodes (GPU nodes first): nothing in
the docs says the cluster fails while both run, only once one goes. The planned
``installNvidiaDevicePlugin=True`` beside an existing plugin is ``extension.conflicts``' and
``gpu.device-plugin``'s finding. A scheduling rule this check cannot evaluate is a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflight.api import Check, Context, Finding, KubeError
from preflight.checks._shared.bundled import registers_nvidia_gpu
from preflight.checks._shared.kube_reads import (
    Inventory,
    meta,
    owned_by_extension,
    ref,
    unverified,
)
from preflight.checks._shared.nodes import BLOCKING_EFFECTS, NODES_PATH, Toleration
from preflight.checks._shared.plan import EXTENSION_NAME_PARAM, extension_release
from preflight.checks._shared.pods import as_dict

DOCS_GPU_OPERATOR = "https://learn.microsoft.com/azure/aks/nvidia-gpu-operator"
MAX_NODES = 50
GPU_LABELS = {
    "nvidia.com/gpu.present": "true",
    "kubernetes.azure.com/accelerator": "nvidia",
    "accelerator": "nvidia",
}


class Unknown(Exception):
    """A scheduling rule this check does not evaluate (the message says which)."""


def is_gpu_node(node: Mapping[str, Any]) -> bool:
    """GPUs advertised, NVIDIA's or AKS's GPU labels, or an Azure N-series VM size."""
    status = as_dict(node.get("status"))
    capacity = as_dict(status.get("capacity"))
    try:
        if int(str(capacity.get("nvidia.com/gpu") or 0)) > 0:
            return True
    except ValueError:
        pass
    marks = meta(dict(node)).get("labels") or {}
    if any(marks.get(k) == v for k, v in GPU_LABELS.items()) or "nvidia.com/gpu.count" in marks:
        return True
    size = str(marks.get("node.kubernetes.io/instance-type") or "")
    return size.lower().startswith("standard_n")


def _obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unknown(f"{where} is a {type(value).__name__}, not an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unknown(f"{where} is a {type(value).__name__}, not a list")
    return value


def _requirement(expression: Any, marks: Mapping[str, Any], where: str) -> bool:
    expression = _obj(expression, where)
    key, operator = str(expression.get("key") or ""), expression.get("operator")
    values = [str(v) for v in _list(expression.get("values"), where + ".values")]
    present = key in marks
    value = marks.get(key)
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and len(values) == 1:
        try:
            have, bound = int(str(value or "")), int(values[0])
        except ValueError:
            return False
        return have > bound if operator == "Gt" else have < bound
    raise Unknown(f"{where}: operator {operator!r} on key {key!r}")


def _term_holds(term: Any, node: Mapping[str, Any], where: str) -> bool:
    term = _obj(term, where)
    marks = meta(dict(node)).get("labels") or {}
    fields = {"metadata.name": str(meta(dict(node)).get("name", ""))}
    expressions = _list(term.get("matchExpressions"), where + ".matchExpressions")
    by_field = _list(term.get("matchFields"), where + ".matchFields")
    if not expressions and not by_field:
        return False  # "A null or empty node selector term matches no objects" (core/v1)
    return all(_requirement(e, marks, where) for e in expressions) and all(
        _requirement(e, fields, where) for e in by_field
    )


def places_on(daemonset: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """Whether the scheduler would put a pod of ``daemonset`` on ``node``. Raises Unknown
    naming a rule it cannot evaluate."""
    name = ref("DaemonSet", dict(daemonset))
    template = _obj(_obj(daemonset.get("spec"), name + " spec").get("template"), name)
    pod = _obj(template.get("spec"), name + " pod template")
    marks = meta(dict(node)).get("labels") or {}
    selector = _obj(pod.get("nodeSelector"), name + " nodeSelector")
    if any(marks.get(str(k)) != str(v) for k, v in selector.items()):
        return False
    affinity = _obj(_obj(pod.get("affinity"), name + " affinity").get("nodeAffinity"), name)
    where = f"{name} required node affinity"
    required = _obj(affinity.get("requiredDuringSchedulingIgnoredDuringExecution"), where)
    terms = _list(required.get("nodeSelectorTerms"), where)
    if terms and not any(_term_holds(t, node, where) for t in terms):
        return False
    tolerations = [
        Toleration.from_spec(t)
        for t in _list(pod.get("tolerations"), name + " tolerations")
        if isinstance(t, Mapping)
    ]
    for taint in (node.get("spec") or {}).get("taints") or []:
        key, effect = str(taint.get("key") or ""), str(taint.get("effect") or "")
        if effect not in BLOCKING_EFFECTS or key.startswith("node.kubernetes.io/"):
            continue
        if not any(t.tolerates(key, str(taint.get("value") or ""), effect) for t in tolerations):
            return False
    return True


class DevicePlugins(Check):
    """At most one NVIDIA device plugin DaemonSet per node (module doc)."""

    id = "extension.device-plugins"
    title = "At most one DaemonSet registers nvidia.com/gpu on each node"
    category = "extension"
    needs = ("kube",)
    docs = DOCS_GPU_OPERATOR
    parameters = EXTENSION_NAME_PARAM

    def run(self, ctx: Context) -> list[Finding]:
        release = extension_release(ctx)
        inventory = Inventory(ctx)
        if not inventory.daemonsets.ok:
            return [
                unverified(
                    "nvidia.com/gpu", "which DaemonSets run device plugins", [inventory.daemonsets]
                )
            ]
        plugins = [d for d in inventory.daemonsets.items if registers_nvidia_gpu(d)]
        names = [ref("DaemonSet", d) for d in plugins]
        if len(plugins) < 2:
            what = f"one: {names[0]}" if names else "none"
            return [
                Finding.passed(
                    "nvidia.com/gpu",
                    f"at most one DaemonSet registers nvidia.com/gpu ({what})",
                    daemonsets=names,
                )
            ]
        try:
            nodes = ctx.kube.list(NODES_PATH)
        except KubeError as exc:
            return [
                Finding.warned(
                    "nvidia.com/gpu",
                    f"{len(plugins)} DaemonSets register nvidia.com/gpu ({', '.join(names)}) and "
                    f"the nodes could not be read to tell whether they share one: {exc.message}",
                    exc.remediation(),
                    DOCS_GPU_OPERATOR,
                    daemonsets=names,
                )
            ]
        placement: dict[str, list[str]] = {}
        unknown: list[str] = []
        for ds in plugins:
            for node in nodes:
                try:
                    if places_on(ds, node):
                        placement.setdefault(str(meta(node).get("name")), []).append(
                            ref("DaemonSet", ds)
                        )
                except Unknown as exc:
                    if str(exc) not in unknown:
                        unknown.append(str(exc))
        gpu = {str(meta(n).get("name")) for n in nodes if is_gpu_node(n)}
        shared = sorted(
            (n for n, on in placement.items() if len(on) > 1), key=lambda n: (n not in gpu, n)
        )
        details: dict[str, Any] = {
            "daemonsets": [self._describe(d, placement, release) for d in plugins],
            "shared_nodes": {n: placement[n] for n in shared[:MAX_NODES]},
            "shared_node_count": len(shared),
            "gpu_nodes_shared": [n for n in shared if n in gpu][:MAX_NODES],
        }
        if unknown:
            details["not_evaluated"] = unknown
        if shared:
            first = shared[0]
            kind = "GPU node" if first in gpu else "node"
            more = f" and {len(shared) - 1} more node(s)" if len(shared) > 1 else ""
            return [
                Finding.warned(
                    "nvidia.com/gpu",
                    f"{len(placement[first])} DaemonSets register nvidia.com/gpu on {kind} "
                    f"{first}{more} ({', '.join(placement[first])}): they claim the same GPUs, "
                    "and removing one can leave the node advertising none",
                    "keep one device plugin per node: remove the extra DaemonSet (the "
                    "extension's own: installNvidiaDevicePlugin=False; GPU operator's: its "
                    "devicePlugin.enabled=false; AKS's manual one when GPU operator manages the "
                    "node), or give each a nodeSelector or node affinity for its own nodes",
                    DOCS_GPU_OPERATOR,
                    **details,
                )
            ]
        if unknown:
            return [
                Finding.warned(
                    "nvidia.com/gpu",
                    f"{len(plugins)} DaemonSets register nvidia.com/gpu ({', '.join(names)}); "
                    f"whether they share a node could not be told: {unknown[0]}",
                    "check with `kubectl get pods -A -o wide` that no node runs two device "
                    "plugin pods",
                    DOCS_GPU_OPERATOR,
                    **details,
                )
            ]
        return [
            Finding.passed(
                "nvidia.com/gpu",
                f"{len(plugins)} DaemonSets register nvidia.com/gpu on separate nodes "
                f"({', '.join(names)})",
                **details,
            )
        ]

    @staticmethod
    def _describe(
        ds: dict[str, Any], placement: dict[str, list[str]], release: str
    ) -> dict[str, Any]:
        name = ref("DaemonSet", ds)
        on = sorted(n for n, plugins in placement.items() if name in plugins)
        containers = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "containers"
        ) or []
        return {
            "daemonset": name,
            "extension_own": owned_by_extension(ds, release),
            "images": [str(c.get("image")) for c in containers if isinstance(c, dict)][:3],
            "nodes": on[:MAX_NODES],
            "node_count": len(on),
            "desired": (ds.get("status") or {}).get("desiredNumberScheduled"),
        }


CHECKS = [DevicePlugins()]
