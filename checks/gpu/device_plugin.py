"""``gpu.device-plugin``: every GPU node advertises its GPUs through a ready device plugin, and the
planned ``installNvidiaDevicePlugin`` / ``installDcgmExporter`` fit what is already there.

Kubernetes sees a GPU only through a device plugin: without one, ``nvidia.com/gpu`` is never
allocatable and every GPU-requesting pod of the extension stays Pending; with two (the AKS or
gpu-operator plugin plus the one the extension installs with ``installNvidiaDevicePlugin=True``)
both register ``nvidia.com/gpu`` on the same node and fight over it. So, per GPU node
(checks/gpu/gpu_nodes.py: capacity, labels, N-series VM size), one finding (target: the node name):

- ``nvidia.com/gpu`` allocatable and equal to what the VM size has (``gpu_nodes.AZURE_GPU_SIZES``):
  capacity 4 with allocatable 0 means the plugin marked every GPU unhealthy or stopped; fewer
  than the VM size has means a GPU is missing or unhealthy;
- a device plugin DaemonSet (AKS's ``nvidia-device-plugin-daemonset``, gpu-operator's, NVIDIA's
  Helm chart, the Azure ML extension's own) has a pod on the node, and that pod is ready; when
  none has, why its nodeSelector or tolerations leave the node out;
- MIG understood: with the ``mixed`` strategy the node advertises ``nvidia.com/mig-<profile>``
  resources (and ``nvidia.com/gpu`` only for GPUs without MIG), with ``single`` its
  ``nvidia.com/gpu`` counts MIG instances; the strategy is NVIDIA feature discovery's label
  ``nvidia.com/mig.strategy``.

Then one finding per setting (target: the setting key) carrying ``details["recommend"]`` for
the corrected command (checks/extension/recommendation.py): GPU nodes and no plugin ->
``installNvidiaDevicePlugin=True``; a plugin already there and the plan says True ->
``False`` (the clash extension.conflicts also reports); likewise ``installDcgmExporter``:
True when GPU nodes have no DCGM exporter (unless the plan says False), False when one runs and
the plan says True.

Reads: nodes and DaemonSets (cluster-wide lists shared with the other checks) and, per device
plugin DaemonSet, its pods through the DaemonSet's own label selector (one small list each,
usually one in all; RBAC: list pods).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Check, Context, Finding, KubeError, Status
from preflight.checks._shared.bundled import DCGM, named_device_plugin
from preflight.checks._shared.kube_reads import (
    Inventory,
    Read,
    is_ready,
    list_all,
    meta,
    owned_by_extension,
    planned_bool,
)
from preflight.checks._shared.kube_reads import ref as ref_of
from preflight.checks._shared.nodes import BLOCKING_EFFECTS, NODES_PATH, Toleration, taint_text
from preflight.checks._shared.plan import (
    DOCS_SETTINGS,
    DOCS_TROUBLESHOOT,
    EXTENSION_NAME_PARAM,
    Plan,
    extension_release,
)
from preflight.checks._shared.pods import not_ready_reason
from preflight.checks.gpu.gpu_nodes import SIZES_SOURCE, GpuNode, gpu_nodes

DOCS_AKS_GPU = "https://learn.microsoft.com/azure/aks/gpu-cluster"
DOCS_DEVICE_PLUGIN = (
    "https://github.com/NVIDIA/k8s-device-plugin#nvidia-device-plugin-for-kubernetes"
)
DOCS_MIG = (
    "https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-operator-mig.html"
)
DOCS_DCGM = DOCS_TROUBLESHOOT + "#dcgm-exporter"
PLUGIN_SETTING = "installNvidiaDevicePlugin"
DCGM_SETTING = "installDcgmExporter"
#: DaemonSets that run the NVIDIA device plugin (AKS docs, gpu-operator, NVIDIA's manifests and
#: Helm chart, GKE-style add-ons; gpu-operator's MPS control daemon is not a plugin): by name or
#: app label, as checks/_shared/bundled.py knows them
is_device_plugin = named_device_plugin


def selector_text(selector: Mapping[str, Any] | None) -> str | None:
    """A LabelSelector object as the ``labelSelector`` query string (None: matches nothing
    we can express, so the pods are not listed)."""
    if not selector:
        return None
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(str(v) for v in expression.get("values") or [])
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            return None
    return ",".join(parts) or None


@dataclass
class Plugin:
    """One device plugin DaemonSet and its pods by node."""

    obj: dict[str, Any]
    ours: bool  # installed by this extension's release
    pods: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    read: Read | None = None

    @property
    def ref(self) -> str:
        return ref_of("DaemonSet", self.obj)

    @property
    def status(self) -> dict[str, Any]:
        value = self.obj.get("status")
        return value if isinstance(value, dict) else {}

    def template_spec(self) -> dict[str, Any]:
        spec = self.obj.get("spec") or {}
        return ((spec.get("template") or {}).get("spec")) or {}

    def why_not_on(self, node: GpuNode) -> str:
        """Why the DaemonSet's scheduling rules leave ``node`` out (or "" when they do not)."""
        spec = self.template_spec()
        reasons = [
            f"nodeSelector {k}={v} not on the node"
            for k, v in (spec.get("nodeSelector") or {}).items()
            if node.labels.get(str(k)) != str(v)
        ]
        tolerations = [
            Toleration.from_spec(t) for t in spec.get("tolerations") or [] if isinstance(t, Mapping)
        ]
        for taint in node.taints:
            effect = str(taint.get("effect") or "")
            key = str(taint.get("key") or "")
            if effect not in BLOCKING_EFFECTS or key.startswith("node.kubernetes.io/"):
                continue
            value = str(taint.get("value") or "")
            if not any(t.tolerates(key, value, effect) for t in tolerations):
                reasons.append(f"taint {taint_text(key, value, effect)} not tolerated")
        return "; ".join(reasons)


def _all_ready(plugin: Plugin) -> bool:
    status = plugin.status
    desired = int(status.get("desiredNumberScheduled") or 0)
    return desired > 0 and int(status.get("numberReady") or 0) >= desired


def _ready_text(plugin: Plugin) -> str:
    status = plugin.status
    ready, desired = status.get("numberReady") or 0, status.get("desiredNumberScheduled") or 0
    return f"{ready}/{desired} ready"


def _owned_by(pod: Mapping[str, Any], ds: Mapping[str, Any]) -> bool:
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    if not owners:
        return True  # hand-made pods carrying the label: count them
    name = (ds.get("metadata") or {}).get("name")
    return any(o.get("kind") == "DaemonSet" and o.get("name") == name for o in owners)


def plugins_of(ctx: Context, daemonsets: list[dict[str, Any]], release: str) -> list[Plugin]:
    """The device plugin DaemonSets and their pods by node (one list per DaemonSet)."""
    found: list[Plugin] = []
    for ds in daemonsets:
        if not is_device_plugin(ds):
            continue
        plugin = Plugin(ds, owned_by_extension(ds, release))
        selector = selector_text((ds.get("spec") or {}).get("selector"))
        namespace = meta(ds).get("namespace")
        if selector and namespace:
            plugin.read = list_all(
                ctx,
                f"pods of DaemonSet {namespace}/{meta(ds).get('name')}",
                "v1",
                "pods",
                namespace=namespace,
                label_selector=selector,
            )
            for pod in plugin.read.items:
                node = (pod.get("spec") or {}).get("nodeName")
                if node and _owned_by(pod, ds):
                    plugin.pods.setdefault(str(node), []).append(pod)
        found.append(plugin)
    return found


def _node_details(node: GpuNode) -> dict[str, Any]:
    details: dict[str, Any] = {
        "node": node.name,
        "node_pool": node.pool,
        "instance_type": node.instance_type or None,
        "ready": node.ready,
        "gpu_capacity": node.capacity,
        "gpu_allocatable": node.allocatable,
        "expected_gpus": node.expected,
        "expected_from": node.expected_from or None,
        "gpu_node_because": node.why,
    }
    if node.mig or node.mig_strategy:
        details["mig_strategy"] = node.mig_strategy
        details["mig_resources"] = {
            k: {"capacity": c, "allocatable": a} for k, (c, a) in sorted(node.mig.items())
        }
    return details


def _mig_text(node: GpuNode) -> str:
    slices = ", ".join(f"{a}x {k}" for k, (_, a) in sorted(node.mig.items()) if a)
    return slices or "no MIG slices allocatable"


class GpuDevicePlugin(Check):
    """Every GPU node advertises nvidia.com/gpu through a ready device plugin (module doc)."""

    id = "gpu.device-plugin"
    title = "Every GPU node advertises nvidia.com/gpu through a ready device plugin"
    category = "gpu"
    needs = ("kube",)
    docs = DOCS_AKS_GPU
    parameters = EXTENSION_NAME_PARAM

    def run(self, ctx: Context) -> list[Finding]:
        release = extension_release(ctx)
        try:
            nodes = gpu_nodes(ctx.kube.list(NODES_PATH))
        except KubeError as exc:
            status = Status.ERROR if exc.kind == "malformed" else Status.WARN
            return [
                Finding(
                    status,
                    "cluster",
                    f"cannot list the cluster's nodes, so its GPU nodes are unknown: {exc.message}",
                    exc.remediation()
                    if exc.kind != "forbidden"
                    else "preflight needs: list nodes (cluster-wide). " + exc.remediation(),
                    details={"kind": exc.kind, "status": exc.status},
                )
            ]
        if not nodes:
            return [
                Finding.skipped(
                    None,
                    "no GPU nodes (no node advertises nvidia.com/gpu, carries an NVIDIA GPU label "
                    "or has an NVIDIA N-series VM size)",
                    "add an NVIDIA GPU node pool (an N-series VM size, e.g. "
                    "Standard_NC24ads_A100_v4) if you plan GPU training or inference",
                )
            ]
        inventory = Inventory(ctx)
        daemonsets = inventory.daemonsets
        if not daemonsets.ok:
            return [self._unreadable(daemonsets, nodes)]
        plugins = plugins_of(ctx, daemonsets.items, release)
        findings = [self._node(node, plugins) for node in nodes]
        plan = Plan(ctx.extension_settings)
        findings.append(self._plugin_setting(plan, nodes, plugins))
        findings.append(self._dcgm_setting(plan, daemonsets.items, release))
        return findings

    # -- one GPU node ---------------------------------------------------------------------------

    def _node(self, node: GpuNode, plugins: list[Plugin]) -> Finding:
        details = _node_details(node)
        problems: list[tuple[Status, str, str]] = []  # (status, text, remediation)
        on_node = [(p, pod) for p in plugins for pod in p.pods.get(node.name, [])]
        ready = [(p, pod) for p, pod in on_node if is_ready(pod)]
        if on_node:
            details["device_plugin_pods"] = [
                {
                    "daemonset": p.ref,
                    "pod": meta(pod).get("name"),
                    "ready": is_ready(pod),
                    "state": "ready" if is_ready(pod) else not_ready_reason(pod),
                }
                for p, pod in on_node
            ]
        unverified = [p for p in plugins if p.read is not None and not p.read.ok]
        if unverified:
            details["unverified"] = [
                {"read": p.read.what, "permission": p.read.permission}
                for p in unverified
                if p.read is not None
            ]
        if not node.ready:
            problems.append(
                (
                    Status.WARN,
                    "the node is not Ready: no pod, GPU or not, is scheduled there",
                    "fix the node first (kubectl describe node " + node.name + ")",
                )
            )
        # the plugin
        if not plugins:
            if node.advertised == 0:
                problems.append(
                    (
                        Status.FAIL,
                        "no NVIDIA device plugin runs in the cluster: nvidia.com/gpu is not "
                        "allocatable and every GPU-requesting pod stays Pending",
                        f"set {PLUGIN_SETTING}=True so the extension installs NVIDIA's device "
                        "plugin, or install it yourself (AKS GPU node pool docs, or NVIDIA's "
                        "gpu-operator)",
                    )
                )
            else:
                details["device_plugin"] = "outside Kubernetes (no plugin DaemonSet found)"
        elif not on_node and unverified:
            # which node each pod runs on is unknown: judge by the DaemonSets' own counts
            behind = [p for p in unverified if not _all_ready(p)]
            counts = ", ".join(f"{p.ref} {_ready_text(p)}" for p in unverified)
            details["device_plugin"] = f"pods not readable; DaemonSet status: {counts}"
            permission = "; ".join(p.read.permission for p in unverified if p.read is not None)
            if behind:
                problems.append(
                    (
                        Status.WARN,
                        f"device plugin pods not all ready ({counts}), and which node each runs "
                        "on could not be read",
                        f"read the plugin's pods (kubectl get pods -o wide -n <namespace>); "
                        f"preflight needs: {permission}",
                    )
                )
        elif not on_node:
            why = "; ".join(
                f"{p.ref}: {p.why_not_on(node) or 'schedules no pod here'}" for p in plugins
            )
            problems.append(
                (
                    Status.FAIL,
                    f"no device plugin pod runs on this node ({why})",
                    "let the device plugin DaemonSet select GPU nodes: add the node's taints to "
                    "its tolerations and match its nodeSelector to the GPU pool's labels",
                )
            )
        elif on_node and not ready:
            states = ", ".join(
                f"{meta(pod).get('namespace')}/{meta(pod).get('name')}: {not_ready_reason(pod)}"
                for _, pod in on_node
            )
            problems.append(
                (
                    Status.FAIL,
                    f"the device plugin pod on this node is not ready ({states})",
                    "read its log (kubectl logs -n <namespace> <pod>): a plugin that cannot "
                    "start usually cannot load the NVIDIA driver (run gpu.health on the node: "
                    "preflight run --in-cluster --check gpu.health)",
                )
            )
        # what it advertises
        if ready and not node.capacity and not node.mig:
            problems.append(
                (
                    Status.FAIL,
                    "the device plugin runs on this node but advertises no GPU: it found no "
                    "NVIDIA driver or GPU (nvidia.com/gpu capacity 0)",
                    "check the driver on the node (preflight run --in-cluster --check "
                    "gpu.health) and the plugin's log; the NVIDIA container toolkit must be the "
                    "node's container runtime",
                )
            )
        elif node.capacity and not node.allocatable and not node.mig:
            problems.append(
                (
                    Status.FAIL,
                    f"nvidia.com/gpu capacity {node.capacity} but allocatable 0: the device "
                    "plugin marked every GPU unhealthy (XID or driver errors) or stopped",
                    "read the device plugin's log on the node and check the GPUs "
                    "(preflight run --in-cluster --check gpu.health); a reboot clears most "
                    "unhealthy marks",
                )
            )
        elif node.mig_strategy == "mixed" or (node.mig and not node.allocatable):
            if not node.mig_allocatable:
                problems.append(
                    (
                        Status.FAIL,
                        "MIG (mixed strategy) but no nvidia.com/mig-* slice is allocatable",
                        "check the MIG configuration (nvidia.com/mig.config label, "
                        "nvidia-mig-manager) and the device plugin's log",
                    )
                )
        elif node.expected is not None and node.allocatable < node.expected:
            shown = node.expected_from or "expected"
            lost = "capacity" if node.capacity < node.expected else "allocatable"
            problems.append(
                (
                    Status.FAIL,
                    f"only {node.allocatable} of {node.expected} GPUs allocatable "
                    f"({shown}; {lost} {node.capacity if lost == 'capacity' else node.allocatable})"
                    ": a GPU is missing or unhealthy",
                    "check the node's GPUs (nvidia-smi, or preflight run --in-cluster --check "
                    "gpu.health) and the device plugin's log; redeploy the VM if a GPU is gone",
                )
            )
        if problems:
            problems.sort(key=lambda p: -p[0].severity)
            status = problems[0][0]
            fixes: list[str] = []
            for _, _, fix in problems:
                if fix not in fixes:
                    fixes.append(fix)
            return Finding(
                status,
                node.name,
                "; ".join(text for _, text, _ in problems),
                "; ".join(fixes),
                DOCS_AKS_GPU,
                details,
            )
        return Finding.passed(node.name, self._healthy(node, ready, plugins), **details)

    def _healthy(
        self, node: GpuNode, ready: list[tuple[Plugin, dict[str, Any]]], plugins: list[Plugin]
    ) -> str:
        """The pass message: what the node advertises against what it should, and who does."""
        if node.mig_strategy == "mixed" or (node.mig and not node.allocatable):
            what = f"MIG (mixed strategy): {_mig_text(node)} allocatable"
            if node.allocatable:
                what += f", and {node.allocatable} nvidia.com/gpu"
        elif node.mig_strategy == "single":
            what = f"MIG (single strategy): {node.allocatable} nvidia.com/gpu (MIG instances)"
        elif node.expected is not None:
            what = f"{node.allocatable}/{node.expected} nvidia.com/gpu allocatable"
            if node.allocatable > node.expected:
                what += " (more than the VM size has: GPU sharing, e.g. time-slicing)"
            what += f" ({node.expected_from})"
        else:
            what = f"{node.allocatable} nvidia.com/gpu allocatable (capacity {node.capacity})"
        if ready:
            plugin, pod = ready[0]
            who = f"device plugin {plugin.ref} ready (pod {meta(pod).get('name')})"
        elif plugins:
            who = "device plugin " + ", ".join(f"{p.ref} {_ready_text(p)}" for p in plugins)
            who += " (which node each pod runs on could not be read; see details)"
        else:
            who = "advertised by a device plugin outside Kubernetes (no plugin DaemonSet)"
        return f"{what}; {who}"

    # -- settings -------------------------------------------------------------------------------

    def _plugin_setting(self, plan: Plan, nodes: list[GpuNode], plugins: list[Plugin]) -> Finding:
        install, source = planned_bool(plan, PLUGIN_SETTING)
        planned = f"{PLUGIN_SETTING}={'True' if install else 'False'}" + (
            " (the default)" if source == "default" else ""
        )
        foreign = [p for p in plugins if not p.ours]
        details: dict[str, Any] = {
            "setting": PLUGIN_SETTING,
            "planned": "True" if install else "False",
            "planned_from": source,
            "device_plugins": [p.ref for p in plugins],
            "gpu_nodes": len(nodes),
            "vm_sizes_from": SIZES_SOURCE,
        }
        silent = [n.name for n in nodes if n.advertised == 0]
        if foreign:
            names = ", ".join(p.ref for p in foreign[:3])
            if install:
                details["recommend"] = {PLUGIN_SETTING: "False"}
                return Finding.failed(
                    PLUGIN_SETTING,
                    f"a device plugin already runs ({names}) and {planned}: two plugins would "
                    "register nvidia.com/gpu on the same nodes and fight over GPU allocation",
                    f"set {PLUGIN_SETTING}=False to keep the existing plugin (it must run on "
                    "every GPU node the extension uses)",
                    DOCS_SETTINGS,
                    **details,
                )
            return Finding.passed(
                PLUGIN_SETTING,
                f"{planned}: the extension reuses the device plugin already running ({names})",
                **details,
            )
        if plugins:  # only this extension's own
            return Finding.passed(
                PLUGIN_SETTING,
                f"{planned}: the device plugin is this extension's own ({plugins[0].ref})",
                **details,
            )
        if not silent:  # every GPU node advertises GPUs without a plugin DaemonSet
            if install:
                details["recommend"] = {PLUGIN_SETTING: "False"}
                return Finding.warned(
                    PLUGIN_SETTING,
                    f"every GPU node already advertises nvidia.com/gpu through a device plugin "
                    f"that is not a DaemonSet (a node-level service) and {planned}: a second "
                    "plugin would compete with it",
                    f"set {PLUGIN_SETTING}=False unless you know the existing plugin is going away",
                    DOCS_SETTINGS,
                    **details,
                )
            return Finding.passed(
                PLUGIN_SETTING,
                f"{planned}: the GPU nodes advertise nvidia.com/gpu already (a device plugin "
                "outside Kubernetes)",
                **details,
            )
        if len(silent) < len(nodes):
            return Finding.warned(
                PLUGIN_SETTING,
                f"{len(nodes) - len(silent)} GPU node(s) advertise nvidia.com/gpu without a "
                f"plugin DaemonSet, {len(silent)} do not ({', '.join(silent[:5])}): a DaemonSet "
                "plugin would run beside the node-level one",
                "fix the node-level device plugin on the nodes without GPUs rather than "
                "installing a second one",
                DOCS_AKS_GPU,
                **details,
            )
        if install:
            return Finding.passed(
                PLUGIN_SETTING,
                f"no device plugin yet and {planned}: the extension installs NVIDIA's device "
                f"plugin on the {len(nodes)} GPU node(s)",
                **details,
            )
        details["recommend"] = {PLUGIN_SETTING: "True"}
        return Finding.failed(
            PLUGIN_SETTING,
            f"{len(nodes)} GPU node(s) and no device plugin, and {planned}: no pod can get a GPU",
            f"set {PLUGIN_SETTING}=True so the extension installs NVIDIA's device plugin (its "
            "prerequisites: the NVIDIA driver and container toolkit on the nodes), or install "
            "it yourself",
            DOCS_DEVICE_PLUGIN,
            **details,
        )

    def _dcgm_setting(self, plan: Plan, daemonsets: list[dict[str, Any]], release: str) -> Finding:
        install, source = planned_bool(plan, DCGM_SETTING)
        planned = f"{DCGM_SETTING}={'True' if install else 'False'}" + (
            " (the default)" if source == "default" else ""
        )
        exporters = [d for d in daemonsets if DCGM.matches_workload(d)]
        foreign = [d for d in exporters if not owned_by_extension(d, release)]
        details: dict[str, Any] = {
            "setting": DCGM_SETTING,
            "planned": "True" if install else "False",
            "planned_from": source,
            "dcgm_exporters": [ref_of("DaemonSet", d) for d in exporters],
        }
        if foreign:
            names = ", ".join(ref_of("DaemonSet", d) for d in foreign[:3])
            if install:
                details["recommend"] = {DCGM_SETTING: "False"}
                return Finding.warned(
                    DCGM_SETTING,
                    f"a DCGM exporter already runs ({names}) and {planned}: two exporters "
                    "would run on every GPU node and publish the same metrics twice",
                    f"set {DCGM_SETTING}=False and point the extension at the existing exporter "
                    "(its Service and ServiceMonitor, as the docs show)",
                    DOCS_DCGM,
                    **details,
                )
            return Finding.passed(
                DCGM_SETTING,
                f"{planned}: the extension reuses the DCGM exporter ({names})",
                **details,
            )
        if install or exporters:
            return Finding.passed(
                DCGM_SETTING, f"{planned}: the extension installs its DCGM exporter", **details
            )
        if source == "planned":
            return Finding.passed(
                DCGM_SETTING,
                f"{planned}: no GPU metrics for Azure ML workloads (no DCGM exporter runs)",
                **details,
            )
        details["recommend"] = {DCGM_SETTING: "True"}
        return Finding.passed(
            DCGM_SETTING,
            f"GPU nodes and no DCGM exporter: set {DCGM_SETTING}=True so Azure ML shows GPU "
            "metrics of its workloads",
            **details,
        )

    def _unreadable(self, read: Read, nodes: list[GpuNode]) -> Finding:
        error = read.error
        message = error.message if isinstance(error, KubeError) else str(error)
        return Finding.warned(
            "cluster",
            f"{len(nodes)} GPU node(s), but the DaemonSets could not be read ({message}): "
            "whether a device plugin runs is unknown",
            f"preflight needs: {read.permission}",
            None,
            gpu_nodes=[n.name for n in nodes],
        )


CHECKS = [GpuDevicePlugin()]
