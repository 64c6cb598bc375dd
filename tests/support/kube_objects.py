"""Builders of realistic Kubernetes JSON objects (plain dicts) for ``FakeKubeApi``.

Every builder returns a fresh ``dict`` shaped like what a real API server (AKS, Kubernetes 1.30)
returns for ``kubectl get -o json``: ``apiVersion``, ``kind``, ``metadata``, ``spec``, ``status``
with the field names, nesting and value *types* of the real API (quantities are strings,
counters are integers, timestamps are RFC 3339 ``...Z`` strings). The official client's typed
models (pydantic) accept every object built here (``tests/support_tests/test_kube_api.py``).

``metadata.uid``, ``metadata.resourceVersion`` and ``metadata.creationTimestamp`` are left to
the server unless given (``uid=``/``created=``), just as a real cluster assigns them::

    from support.kube_objects import node, namespace, pod

    api = FakeKubeApi(objects=[
        namespace("azureml"),
        *nodes(3, gpus=1, instance_type="Standard_NC6s_v3"),
        pod("amlarc-identity-controller-0", "azureml", waiting_reason="ImagePullBackOff"),
    ])

Free-form extras: every builder takes ``labels=`` and ``annotations=``; ``extra=`` (a dict)
is deep-merged into the result last, for any field a builder has no parameter for.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import gzip
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

__all__ = [
    "HELM_MANAGED_BY",
    "cluster_autoscaler_status",
    "clusterrole",
    "clusterrolebinding",
    "configmap",
    "crd",
    "daemonset",
    "default_namespaces",
    "deep_merge",
    "deployment",
    "event",
    "helm_release_payload",
    "helm_release_secret",
    "ingressclass",
    "job",
    "kind_for_plural",
    "limitrange",
    "namespace",
    "networkpolicy",
    "node",
    "nodes",
    "obj",
    "parse_quantity",
    "pod",
    "policy_rule",
    "replicaset",
    "resourcequota",
    "role",
    "rolebinding",
    "rfc3339",
    "secret",
    "service",
    "serviceaccount",
    "statefulset",
    "storageclass",
]

#: ``app.kubernetes.io/managed-by`` value Helm sets on what it installs.
HELM_MANAGED_BY = "Helm"

#: A fixed, realistic "long ago" timestamp for status fields (``startedAt`` and friends).
_STARTED = "2024-06-01T12:00:00Z"

_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


# -- small helpers -------------------------------------------------------------------------------
def rfc3339(when: dt.datetime | str | None = None) -> str:
    """``2024-06-01T12:00:00Z`` (seconds precision, UTC) for ``when`` (now if None).

    Strings are passed through unchanged, so builders accept either.
    """
    if isinstance(when, str):
        return when
    when = when or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_quantity(value: str | int | float) -> Decimal:
    """A Kubernetes quantity (``"3860m"``, ``"16Gi"``, ``"1e3"``, ``4``) as a ``Decimal``."""
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = value.strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * Decimal(_SUFFIXES[suffix])
    return Decimal(text)


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge ``extra`` into ``base`` in place (dicts recursively, everything else replaced)."""
    for key, value in (extra or {}).items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _meta(
    name: str,
    namespace: str | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    uid: str | None = None,
    created: dt.datetime | str | None = None,
    generation: int | None = None,
    owner: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if uid is not None:
        meta["uid"] = uid
    if created is not None:
        meta["creationTimestamp"] = rfc3339(created)
    if generation is not None:
        meta["generation"] = generation
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": owner.get("apiVersion", "apps/v1"),
                "kind": owner["kind"],
                "name": owner["name"],
                "uid": owner.get("uid") or _fake_uid(owner["kind"], owner["name"]),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return meta


def _fake_uid(*parts: str) -> str:
    """A stable UUID-shaped string derived from ``parts`` (for owner references)."""
    digest = hashlib.sha1("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _container_id(name: str) -> str:
    return "containerd://" + hashlib.sha256(name.encode()).hexdigest()


def _image_id(image: str) -> str:
    repo = image.rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def obj(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Any object: ``obj("monitoring.coreos.com/v1", "Prometheus", "k8s", "monitoring")``.

    ``fields`` become top-level keys (``data=...``, ``rules=...``).
    """
    result: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": _meta(name, namespace, labels=labels, annotations=annotations),
    }
    result.update(copy.deepcopy(fields))
    if spec is not None:
        result["spec"] = copy.deepcopy(dict(spec))
    if status is not None:
        result["status"] = copy.deepcopy(dict(status))
    return deep_merge(result, extra)


# -- nodes ---------------------------------------------------------------------------------------
def _taint(spec: str | Sequence[str] | Mapping[str, Any]) -> dict[str, Any]:
    """``"key=value:NoSchedule"``, ``("key", "value", "NoSchedule")`` or a dict -> taint dict."""
    if isinstance(spec, Mapping):
        return dict(spec)
    if isinstance(spec, str):
        key_value, _, effect = spec.rpartition(":")
        if not key_value:
            raise ValueError(f"taint {spec!r}: expected key[=value]:Effect")
        key, _, value = key_value.partition("=")
        parts: Sequence[str] = (key, value, effect)
    else:
        parts = spec
    key, value, effect = parts
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def _allocatable_default(cpu: str, memory: str, pods: str, storage: str) -> dict[str, str]:
    """AKS-like reservations: CPU minus 140m per node, memory minus 10 % and 100Mi."""
    cpu_m = int(parse_quantity(cpu) * 1000)
    mem_ki = int(parse_quantity(memory) / 1024)
    storage_b = int(parse_quantity(storage))
    return {
        "cpu": f"{max(cpu_m - 140, 0)}m",
        "memory": f"{max(int(mem_ki * 0.9) - 100 * 1024, 0)}Ki",
        "pods": pods,
        "ephemeral-storage": str(int(storage_b * 0.9)),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    }


def node(
    name: str,
    cpu: str = "4",
    memory: str = "16Gi",
    *,
    ready: bool | None = True,
    unschedulable: bool = False,
    taints: Iterable[str | Sequence[str] | Mapping[str, Any]] = (),
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    arch: str = "amd64",
    os: str = "linux",
    allocatable: Mapping[str, str] | None = None,
    gpus: int = 0,
    gpu_resource: str = "nvidia.com/gpu",
    instance_type: str = "Standard_D4s_v3",
    pool: str = "nodepool1",
    mode: str = "User",
    region: str = "eastus",
    zone: str = "0",
    kubelet_version: str = "v1.30.4",
    container_runtime: str = "containerd://1.7.20-1",
    os_image: str = "Ubuntu 22.04.4 LTS",
    kernel_version: str = "5.15.0-1071-azure",
    pods: str = "110",
    ephemeral_storage: str = "129886128Ki",
    internal_ip: str | None = None,
    conditions: Mapping[str, str | bool | None] | None = None,
    images: int = 0,
    created: dt.datetime | str | None = None,
    uid: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An AKS-style node (``kubectl get node -o json``).

    - ``ready``: True (Ready=True, KubeletReady), False (Ready=False, KubeletNotReady, plus the
      ``node.kubernetes.io/not-ready`` taints the node controller adds), None (Unknown,
      NodeStatusUnknown, plus ``node.kubernetes.io/unreachable`` taints).
    - ``unschedulable``: cordoned: ``spec.unschedulable`` and the
      ``node.kubernetes.io/unschedulable:NoSchedule`` taint.
    - ``taints``: ``"key=value:Effect"`` strings, ``(key, value, effect)`` or dicts.
    - ``gpus``: adds ``nvidia.com/gpu`` (``gpu_resource``) to capacity and allocatable and the
      ``kubernetes.azure.com/accelerator: nvidia`` label.
    - ``allocatable``: replaces the default (capacity minus AKS-like reservations).
    - ``conditions``: overrides by type, e.g. ``{"MemoryPressure": True}``; a value of None
      makes the condition Unknown.
    - ``images``: number of (fake) entries in ``status.images`` (real nodes carry dozens; this
      makes list pages as heavy as a real cluster's).
    """
    index = int(hashlib.sha1(name.encode()).hexdigest()[:4], 16)
    internal_ip = internal_ip or f"10.224.{index // 250 % 250}.{index % 250 + 4}"
    std_labels = {
        "agentpool": pool,
        "beta.kubernetes.io/arch": arch,
        "beta.kubernetes.io/instance-type": instance_type,
        "beta.kubernetes.io/os": os,
        "failure-domain.beta.kubernetes.io/region": region,
        "failure-domain.beta.kubernetes.io/zone": zone,
        "kubernetes.azure.com/agentpool": pool,
        "kubernetes.azure.com/cluster": "MC_rg_aks_" + region,
        "kubernetes.azure.com/mode": mode.lower(),
        "kubernetes.azure.com/node-image-version": "AKSUbuntu-2204gen2containerd-202408.12.0",
        "kubernetes.azure.com/os-sku": "Ubuntu",
        "kubernetes.azure.com/role": "agent",
        "kubernetes.io/arch": arch,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": os,
        "kubernetes.io/role": "agent",
        "node-role.kubernetes.io/agent": "",
        "node.kubernetes.io/instance-type": instance_type,
        "storageprofile": "managed",
        "storagetier": "Premium_LRS",
        "topology.disk.csi.azure.com/zone": "",
        "topology.kubernetes.io/region": region,
        "topology.kubernetes.io/zone": zone,
    }
    if gpus:
        std_labels["kubernetes.azure.com/accelerator"] = "nvidia"
    std_labels.update(labels or {})

    capacity = {
        "cpu": str(cpu),
        "ephemeral-storage": ephemeral_storage,
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": f"{int(parse_quantity(memory) / 1024)}Ki",
        "pods": pods,
    }
    alloc = (
        dict(allocatable)
        if allocatable is not None
        else _allocatable_default(str(cpu), memory, pods, str(int(parse_quantity("120Gi"))))
    )
    if gpus:
        capacity[gpu_resource] = str(gpus)
        if allocatable is None:
            alloc[gpu_resource] = str(gpus)

    node_taints = [_taint(t) for t in taints]
    if unschedulable:
        node_taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
    if ready is False:
        node_taints += [
            {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"},
        ]
    elif ready is None:
        node_taints += [
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
        ]

    cond_state: dict[str, bool | None] = {
        "MemoryPressure": False,
        "DiskPressure": False,
        "PIDPressure": False,
        "Ready": ready,
    }
    for key, value in (conditions or {}).items():
        cond_state[key] = None if value is None else value in (True, "True", "true")
    node_conditions = [_node_condition(ctype, state) for ctype, state in cond_state.items()]

    spec: dict[str, Any] = {
        "providerID": (
            "azure:///subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
            f"mc_rg_aks_{region}/providers/Microsoft.Compute/virtualMachineScaleSets/"
            f"aks-{pool}-12345678-vmss/virtualMachines/{index % 1000}"
        ),
    }
    if unschedulable:
        spec["unschedulable"] = True
    if node_taints:
        spec["taints"] = node_taints

    anns = {
        "csi.volume.kubernetes.io/nodeid": f'{{"disk.csi.azure.com":"{name}"}}',
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    anns.update(annotations or {})

    result: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _meta(name, labels=std_labels, annotations=anns, uid=uid, created=created),
        "spec": spec,
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": internal_ip},
                {"type": "Hostname", "address": name},
            ],
            "allocatable": alloc,
            "capacity": capacity,
            "conditions": node_conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": [
                {
                    "names": [
                        f"mcr.microsoft.com/oss/kubernetes/image{i}@sha256:"
                        + hashlib.sha256(f"{i}".encode()).hexdigest(),
                        f"mcr.microsoft.com/oss/kubernetes/image{i}:v1.{i}.0",
                    ],
                    "sizeBytes": 10_000_000 + i * 1_234_567,
                }
                for i in range(images)
            ],
            "nodeInfo": {
                "architecture": arch,
                "bootID": _fake_uid("boot", name),
                "containerRuntimeVersion": container_runtime,
                "kernelVersion": kernel_version,
                "kubeProxyVersion": kubelet_version,
                "kubeletVersion": kubelet_version,
                "machineID": hashlib.md5(name.encode()).hexdigest(),
                "operatingSystem": os,
                "osImage": os_image,
                "systemUUID": _fake_uid("system", name),
            },
        },
    }
    if not images:
        del result["status"]["images"]
    return deep_merge(result, extra)


_NODE_CONDITION_TEXT = {
    # type: (reason when healthy, message when healthy, reason when bad, message when bad)
    "MemoryPressure": (
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
        "KubeletHasInsufficientMemory",
        "kubelet has insufficient memory available",
    ),
    "DiskPressure": (
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
        "KubeletHasDiskPressure",
        "kubelet has disk pressure",
    ),
    "PIDPressure": (
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available",
        "KubeletHasInsufficientPID",
        "kubelet has insufficient PID available",
    ),
    "Ready": (
        "KubeletReady",
        "kubelet is posting ready status",
        "KubeletNotReady",
        "container runtime network not ready: NetworkReady=false "
        "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not "
        "initialized",
    ),
}


def _node_condition(ctype: str, state: bool | None) -> dict[str, Any]:
    """One node condition. For pressure types, ``state`` True means *under* pressure."""
    good_reason, good_msg, bad_reason, bad_msg = _NODE_CONDITION_TEXT.get(
        ctype, (ctype + "Healthy", ctype + " is healthy", ctype, ctype + " detected")
    )
    healthy_value = ctype == "Ready"  # Ready=True is good; XPressure=False is good
    if state is None:
        status, reason, message = (
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        )
    elif state == healthy_value:
        status, reason, message = str(state), good_reason, good_msg
    else:
        status, reason, message = str(state), bad_reason, bad_msg
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": _STARTED,
        "lastTransitionTime": _STARTED,
    }


def sized_node(
    name: str,
    cpu: str = "4",
    memory: str = "16Gi",
    gpus: int = 0,
    *,
    pods: str = "110",
    **kwargs: Any,
) -> dict[str, Any]:
    """A node whose allocatable is exactly ``cpu``/``memory``/``pods`` (and ``gpus``), with no
    reservations taken off, so that what fits on it is plain arithmetic."""
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods}
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
    return node(name, cpu=cpu, memory=memory, gpus=gpus, allocatable=allocatable, **kwargs)


def nodes(count: int, *, pool: str = "nodepool1", **kwargs: Any) -> list[dict[str, Any]]:
    """``count`` nodes named like AKS scale-set instances: ``aks-nodepool1-12345678-vmss000000``,
    ``...vmss000001`` (base 36), all built with ``node(name, pool=pool, **kwargs)``."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"

    def b36(value: int) -> str:
        out = ""
        for _ in range(6):
            value, rem = divmod(value, 36)
            out = digits[rem] + out
        return out

    return [node(f"aks-{pool}-12345678-vmss{b36(i)}", pool=pool, **kwargs) for i in range(count)]


# -- namespaces ----------------------------------------------------------------------------------
def namespace(
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    phase: str = "Active",
    created: dt.datetime | str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A namespace with the ``kubernetes.io/metadata.name`` label the API server always adds."""
    all_labels = {"kubernetes.io/metadata.name": name, **(labels or {})}
    result = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta(name, labels=all_labels, annotations=annotations, created=created),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": phase},
    }
    return deep_merge(result, extra)


def default_namespaces() -> list[dict[str, Any]]:
    """The four namespaces every cluster has: default, kube-node-lease, kube-public, kube-system."""
    return [namespace(n) for n in ("default", "kube-node-lease", "kube-public", "kube-system")]


# -- pods ----------------------------------------------------------------------------------------
_WAITING_MESSAGES = {
    "ImagePullBackOff": 'Back-off pulling image "{image}"',
    "ErrImagePull": (
        'failed to pull and unpack image "{image}": failed to resolve reference "{image}": '
        'failed to do request: Head "https://mcr.microsoft.com/v2/": dial tcp: i/o timeout'
    ),
    "CrashLoopBackOff": (
        "back-off 5m0s restarting failed container={name} pod={pod}_{namespace}({uid})"
    ),
    "CreateContainerConfigError": 'secret "{name}-secret" not found',
    "ContainerCreating": "",
    "PodInitializing": "",
}


def _container_spec(
    entry: str | Mapping[str, Any],
    image: str,
    requests: Mapping[str, str] | None,
    limits: Mapping[str, str] | None,
) -> dict[str, Any]:
    if isinstance(entry, Mapping):
        spec = {"image": image, **copy.deepcopy(dict(entry))}
    else:
        spec = {"name": entry, "image": image}
    spec.setdefault("imagePullPolicy", "IfNotPresent")
    resources: dict[str, Any] = dict(spec.get("resources") or {})
    if requests is not None and "requests" not in resources:
        resources["requests"] = dict(requests)
    if limits is not None and "limits" not in resources:
        resources["limits"] = dict(limits)
    spec["resources"] = resources
    spec.setdefault("terminationMessagePath", "/dev/termination-log")
    spec.setdefault("terminationMessagePolicy", "File")
    return spec


def pod(
    name: str,
    namespace: str = "default",
    *,
    phase: str = "Running",
    node: str | None = "aks-nodepool1-12345678-vmss000000",
    containers: Sequence[str | Mapping[str, Any]] = ("main",),
    image: str = "mcr.microsoft.com/azureml/amlarc/docker/inference-server:1.0.0",
    ready: bool | None = None,
    restarts: int = 0,
    waiting_reason: str | None = None,
    waiting_message: str | None = None,
    terminated_reason: str | None = None,
    exit_code: int | None = None,
    container_statuses: Sequence[Mapping[str, Any]] | None = None,
    init_containers: Sequence[str | Mapping[str, Any]] = (),
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    owner: Mapping[str, Any] | None = None,
    requests: Mapping[str, str] | None = None,
    limits: Mapping[str, str] | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, Any]] = (),
    service_account: str = "default",
    pod_ip: str | None = None,
    unschedulable_message: str | None = None,
    uid: str | None = None,
    created: dt.datetime | str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A pod with realistic ``status`` (phase, conditions, containerStatuses).

    - ``phase``: Running, Pending, Succeeded, Failed. ``node=None`` with Pending is an
      unscheduled pod (PodScheduled=False, reason Unschedulable, ``unschedulable_message``).
    - ``waiting_reason`` (every container): ImagePullBackOff, ErrImagePull, CrashLoopBackOff
      (with a ``lastState.terminated`` exit 1 and ``restarts`` defaulting to 5),
      CreateContainerConfigError, ContainerCreating, ... ``waiting_message`` overrides the
      realistic default message.
    - ``terminated_reason``: Completed (exit 0) / Error / OOMKilled (``exit_code``) — for
      Succeeded and Failed pods this is set automatically.
    - ``ready``: container readiness; default True only for a Running pod without waiting.
    - ``container_statuses``: replace the generated statuses entirely.
    - ``owner``: ``{"kind": "ReplicaSet", "name": "x-5d4f9c8b7"}`` -> ownerReferences.
    """
    containers_spec = [_container_spec(c, image, requests, limits) for c in containers]
    init_spec = [_container_spec(c, image, None, None) for c in init_containers]
    scheduled = node is not None
    if phase == "Succeeded" and terminated_reason is None:
        terminated_reason, exit_code = "Completed", 0 if exit_code is None else exit_code
    if phase == "Failed" and terminated_reason is None:
        terminated_reason = "Error"
    if terminated_reason is not None and exit_code is None:
        exit_code = 0 if terminated_reason == "Completed" else 1
    if waiting_reason == "CrashLoopBackOff" and restarts == 0:
        restarts = 5
    running = phase == "Running" and waiting_reason is None and terminated_reason is None
    containers_ready = running if ready is None else ready
    pod_uid = uid or _fake_uid("pod", namespace, name)

    statuses: list[dict[str, Any]] = []
    if container_statuses is not None:
        statuses = [copy.deepcopy(dict(s)) for s in container_statuses]
    elif (scheduled and phase != "Pending") or waiting_reason is not None:
        for cspec in containers_spec:
            cname, cimage = cspec["name"], cspec.get("image", image)
            status: dict[str, Any] = {
                "name": cname,
                "image": cimage,
                "imageID": ""
                if waiting_reason in ("ImagePullBackOff", "ErrImagePull")
                else (_image_id(cimage)),
                "ready": bool(containers_ready),
                "restartCount": restarts,
                "started": running,
                "lastState": {},
            }
            if waiting_reason is not None:
                template = _WAITING_MESSAGES.get(waiting_reason, "")
                message = (
                    waiting_message
                    if waiting_message is not None
                    else template.format(
                        image=cimage, name=cname, pod=name, namespace=namespace, uid=pod_uid
                    )
                )
                waiting: dict[str, Any] = {"reason": waiting_reason}
                if message:
                    waiting["message"] = message
                status["state"] = {"waiting": waiting}
                if waiting_reason == "CrashLoopBackOff":
                    status["containerID"] = _container_id(f"{namespace}/{name}/{cname}")
                    status["lastState"] = {
                        "terminated": {
                            "containerID": status["containerID"],
                            "exitCode": 1 if exit_code is None else exit_code,
                            "reason": terminated_reason or "Error",
                            "startedAt": _STARTED,
                            "finishedAt": _STARTED,
                        }
                    }
            elif terminated_reason is not None:
                status["containerID"] = _container_id(f"{namespace}/{name}/{cname}")
                status["state"] = {
                    "terminated": {
                        "containerID": status["containerID"],
                        "exitCode": exit_code,
                        "reason": terminated_reason,
                        "startedAt": _STARTED,
                        "finishedAt": _STARTED,
                    }
                }
            else:
                status["containerID"] = _container_id(f"{namespace}/{name}/{cname}")
                status["state"] = {"running": {"startedAt": _STARTED}}
            statuses.append(status)

    conditions: list[dict[str, Any]] = []

    def cond(ctype: str, ok: bool, reason: str | None = None, message: str | None = None) -> None:
        entry: dict[str, Any] = {
            "type": ctype,
            "status": "True" if ok else "False",
            "lastProbeTime": None,
            "lastTransitionTime": _STARTED,
        }
        if reason:
            entry["reason"] = reason
        if message:
            entry["message"] = message
        conditions.append(entry)

    if not scheduled:
        cond(
            "PodScheduled",
            False,
            "Unschedulable",
            unschedulable_message
            or "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are "
            "available: 3 No preemption victims found for incoming pod.",
        )
    else:
        done = phase in ("Succeeded", "Failed")
        not_ready_names = ",".join(s["name"] for s in statuses if not s.get("ready"))
        why = None if containers_ready else ("PodCompleted" if done else "ContainersNotReady")
        msg = (
            None
            if containers_ready or done
            else f"containers with unready status: [{not_ready_names}]"
        )
        cond("PodReadyToStartContainers", not done or phase == "Failed")
        cond("Initialized", True, "PodCompleted" if done else None)
        cond("Ready", bool(containers_ready), why, msg)
        cond("ContainersReady", bool(containers_ready), why, msg)
        cond("PodScheduled", True)

    spec: dict[str, Any] = {
        "containers": containers_spec,
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always" if phase in ("Running", "Pending") else "Never",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": service_account,
        "serviceAccountName": service_account,
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            *[copy.deepcopy(dict(t)) for t in tolerations],
        ],
    }
    if init_spec:
        spec["initContainers"] = init_spec
    if node is not None:
        spec["nodeName"] = node
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)

    status_block: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "qosClass": "BestEffort",
    }
    if requests or limits:
        status_block["qosClass"] = (
            "Guaranteed"
            if requests is not None and limits is not None and requests == limits
            else "Burstable"
        )
    if scheduled:
        index = int(hashlib.sha1(f"{namespace}/{name}".encode()).hexdigest()[:4], 16)
        ip = pod_ip or f"10.244.{index // 250 % 250}.{index % 250 + 2}"
        status_block.update(
            {
                "hostIP": "10.224.0.4",
                "hostIPs": [{"ip": "10.224.0.4"}],
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "startTime": _STARTED,
            }
        )
    if statuses:
        status_block["containerStatuses"] = statuses

    result = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(
            name,
            namespace,
            labels=labels,
            annotations=annotations,
            uid=uid,
            created=created,
            owner=owner,
        ),
        "spec": spec,
        "status": status_block,
    }
    return deep_merge(result, extra)


# -- workloads -----------------------------------------------------------------------------------
def _pod_template(
    name: str, labels: Mapping[str, str], image: str, containers: Sequence[str]
) -> dict[str, Any]:
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "containers": [
                {
                    "name": c,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
                for c in containers
            ],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30,
        },
    }


def _workload_condition(ctype: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
    return {
        "type": ctype,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": _STARTED,
        "lastUpdateTime": _STARTED,
    }


def deployment(
    name: str,
    namespace: str = "default",
    *,
    replicas: int = 1,
    ready_replicas: int | None = None,
    available_replicas: int | None = None,
    updated_replicas: int | None = None,
    image: str = "mcr.microsoft.com/azureml/amlarc/docker/gateway:1.0.0",
    containers: Sequence[str] = ("main",),
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    selector: Mapping[str, str] | None = None,
    created: dt.datetime | str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An apps/v1 Deployment; ``ready_replicas`` defaults to ``replicas`` (healthy).

    Fewer available than desired gives Available=False (MinimumReplicasUnavailable); zero ready
    replicas are omitted from ``status`` just as the controller does.
    """
    ready = replicas if ready_replicas is None else ready_replicas
    available = ready if available_replicas is None else available_replicas
    updated = replicas if updated_replicas is None else updated_replicas
    match = dict(selector or {"app": name})
    status: dict[str, Any] = {"observedGeneration": 1, "replicas": replicas}
    if updated:
        status["updatedReplicas"] = updated
    if ready:
        status["readyReplicas"] = ready
    if available:
        status["availableReplicas"] = available
    if replicas - available > 0:
        status["unavailableReplicas"] = replicas - available
    healthy = available >= replicas
    status["conditions"] = [
        _workload_condition(
            "Available",
            healthy,
            "MinimumReplicasAvailable" if healthy else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if healthy
            else "Deployment does not have minimum availability.",
        ),
        _workload_condition(
            "Progressing",
            True,
            "NewReplicaSetAvailable",
            f'ReplicaSet "{name}-5d4f9c8b7" has successfully progressed.',
        ),
    ]
    result = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(
            name,
            namespace,
            labels=labels,
            annotations={"deployment.kubernetes.io/revision": "1", **(annotations or {})},
            created=created,
            generation=1,
        ),
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": match},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": _pod_template(name, match, image, containers),
        },
        "status": status,
    }
    return deep_merge(result, extra)


def replicaset(
    name: str,
    namespace: str = "default",
    *,
    replicas: int = 1,
    ready_replicas: int | None = None,
    owner: Mapping[str, Any] | None = None,
    image: str = "mcr.microsoft.com/azureml/amlarc/docker/gateway:1.0.0",
    labels: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An apps/v1 ReplicaSet (``owner`` e.g. ``{"kind": "Deployment", "name": "gateway"}``)."""
    ready = replicas if ready_replicas is None else ready_replicas
    match = {"app": name}
    status: dict[str, Any] = {
        "observedGeneration": 1,
        "replicas": replicas,
        "fullyLabeledReplicas": replicas,
    }
    if ready:
        status.update(readyReplicas=ready, availableReplicas=ready)
    result = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": _meta(name, namespace, labels=labels, generation=1, owner=owner),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "template": _pod_template(name, match, image, ("main",)),
        },
        "status": status,
    }
    return deep_merge(result, extra)


def daemonset(
    name: str,
    namespace: str = "kube-system",
    *,
    desired: int = 3,
    ready: int | None = None,
    available: int | None = None,
    updated: int | None = None,
    misscheduled: int = 0,
    image: str = "mcr.microsoft.com/azureml/amlarc/docker/fluent-bit:1.0.0",
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, Any]] = (),
    node_affinity: Sequence[Mapping[str, Any]] = (),
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    created: dt.datetime | str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An apps/v1 DaemonSet; ``ready`` defaults to ``desired`` (all pods ready).
    ``node_affinity``: the ``nodeSelectorTerms`` its pods require
    (``affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution``)."""
    ready_n = desired if ready is None else ready
    avail = ready_n if available is None else available
    upd = desired if updated is None else updated
    match = {"app": name}
    template = _pod_template(name, match, image, ("main",))
    if node_selector:
        template["spec"]["nodeSelector"] = dict(node_selector)
    if tolerations:
        template["spec"]["tolerations"] = [dict(t) for t in tolerations]
    if node_affinity:
        required = {"nodeSelectorTerms": [dict(term) for term in node_affinity]}
        template["spec"]["affinity"] = {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}
        }
    status: dict[str, Any] = {
        "currentNumberScheduled": desired,
        "desiredNumberScheduled": desired,
        "numberMisscheduled": misscheduled,
        "numberReady": ready_n,
        "observedGeneration": 1,
        "updatedNumberScheduled": upd,
    }
    if avail:
        status["numberAvailable"] = avail
    if desired - avail > 0:
        status["numberUnavailable"] = desired - avail
    result = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _meta(
            name,
            namespace,
            labels=labels,
            annotations={"deprecated.daemonset.template.generation": "1", **(annotations or {})},
            created=created,
            generation=1,
        ),
        "spec": {
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": match},
            "template": template,
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
            },
        },
        "status": status,
    }
    return deep_merge(result, extra)


def statefulset(
    name: str,
    namespace: str = "default",
    *,
    replicas: int = 1,
    ready_replicas: int | None = None,
    available_replicas: int | None = None,
    image: str = "mcr.microsoft.com/azureml/amlarc/docker/prometheus:1.0.0",
    service_name: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    created: dt.datetime | str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An apps/v1 StatefulSet; ``ready_replicas`` defaults to ``replicas``."""
    ready = replicas if ready_replicas is None else ready_replicas
    avail = ready if available_replicas is None else available_replicas
    match = {"app": name}
    status: dict[str, Any] = {
        "availableReplicas": avail,
        "collisionCount": 0,
        "currentReplicas": replicas,
        "currentRevision": f"{name}-6b9f7c5d4",
        "observedGeneration": 1,
        "replicas": replicas,
        "updateRevision": f"{name}-6b9f7c5d4",
        "updatedReplicas": replicas,
    }
    if ready:
        status["readyReplicas"] = ready
    result = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(
            name, namespace, labels=labels, annotations=annotations, created=created, generation=1
        ),
        "spec": {
            "podManagementPolicy": "OrderedReady",
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": match},
            "serviceName": service_name or name,
            "template": _pod_template(name, match, image, ("main",)),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        },
        "status": status,
    }
    return deep_merge(result, extra)


def job(
    name: str,
    namespace: str = "default",
    *,
    succeeded: int = 0,
    failed: int = 0,
    active: int = 1,
    complete: bool | None = None,
    image: str = "mcr.microsoft.com/azureml/amlarc/docker/preflight-probe:1.0.0",
    labels: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A batch/v1 Job; ``complete=True`` adds Complete=True, ``complete=False`` Failed=True."""
    match = {"batch.kubernetes.io/job-name": name, "job-name": name}
    template = _pod_template(name, match, image, ("main",))
    template["spec"]["restartPolicy"] = "Never"
    status: dict[str, Any] = {"startTime": _STARTED}
    if active:
        status["active"] = active
    if succeeded:
        status["succeeded"] = succeeded
    if failed:
        status["failed"] = failed
    if complete is not None:
        status.pop("active", None)
        if complete:
            status["completionTime"] = _STARTED
        status["conditions"] = [
            {
                "type": "Complete" if complete else "Failed",
                "status": "True",
                "reason": "Completed" if complete else "BackoffLimitExceeded",
                "message": "Reached expected number of succeeded pods"
                if complete
                else "Job has reached the specified backoff limit",
                "lastProbeTime": _STARTED,
                "lastTransitionTime": _STARTED,
            }
        ]
    result = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(name, namespace, labels=labels, generation=1),
        "spec": {
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "completions": 1,
            "parallelism": 1,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": _fake_uid(name)}},
            "suspend": False,
            "template": template,
        },
        "status": status,
    }
    return deep_merge(result, extra)


# -- networking ----------------------------------------------------------------------------------
def service(
    name: str,
    namespace: str = "default",
    *,
    type: str = "LoadBalancer",  # noqa: A002 - the Kubernetes field name
    ingress_ips: Sequence[str] = (),
    ports: Sequence[tuple[int, int] | int] = ((443, 8443),),
    cluster_ip: str | None = None,
    selector: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Service. A LoadBalancer without ``ingress_ips`` is still pending (``status:
    {loadBalancer: {}}``), like ``<pending>`` in ``kubectl get svc``."""
    index = int(hashlib.sha1(f"{namespace}/{name}".encode()).hexdigest()[:4], 16)
    ip = cluster_ip or f"10.0.{index // 250 % 250}.{index % 250 + 10}"
    port_specs = []
    for i, entry in enumerate(ports):
        port, target = (entry, entry) if isinstance(entry, int) else entry
        spec_port: dict[str, Any] = {
            "name": f"port-{i}" if len(ports) > 1 else "https",
            "port": port,
            "protocol": "TCP",
            "targetPort": target,
        }
        if type in ("LoadBalancer", "NodePort"):
            spec_port["nodePort"] = 30000 + (index + i) % 2767
        port_specs.append(spec_port)
    spec: dict[str, Any] = {
        "clusterIP": ip,
        "clusterIPs": [ip],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": port_specs,
        "selector": dict(selector or {"app": name}),
        "sessionAffinity": "None",
        "type": type,
    }
    if type in ("LoadBalancer", "NodePort"):
        spec["externalTrafficPolicy"] = "Cluster"
    if type == "LoadBalancer":
        spec["allocateLoadBalancerNodePorts"] = True
    lb: dict[str, Any] = {}
    if ingress_ips:
        lb["ingress"] = [{"ip": addr, "ipMode": "VIP"} for addr in ingress_ips]
    result = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, namespace, labels=labels, annotations=annotations),
        "spec": spec,
        "status": {"loadBalancer": lb},
    }
    return deep_merge(result, extra)


def ingressclass(
    name: str = "nginx",
    controller: str = "k8s.io/ingress-nginx",
    *,
    default: bool = False,
    labels: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A networking.k8s.io/v1 IngressClass (``default`` sets the is-default-class annotation)."""
    anns = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else None
    result = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": _meta(name, labels=labels, annotations=anns),
        "spec": {"controller": controller},
    }
    return deep_merge(result, extra)


# -- config --------------------------------------------------------------------------------------
def secret(
    name: str,
    namespace: str = "default",
    *,
    data: Mapping[str, str | bytes] | None = None,
    type: str = "Opaque",  # noqa: A002 - the Kubernetes field name
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Secret; ``data`` values (str or bytes) are base64-encoded as the API returns them."""
    encoded = {
        key: base64.b64encode(value.encode() if isinstance(value, str) else value).decode()
        for key, value in (data or {}).items()
    }
    result: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(name, namespace, labels=labels, annotations=annotations),
        "type": type,
    }
    if encoded:
        result["data"] = encoded
    return deep_merge(result, extra)


def configmap(
    name: str,
    namespace: str = "default",
    *,
    data: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ConfigMap with string ``data``."""
    result: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(name, namespace, labels=labels, annotations=annotations),
    }
    if data:
        result["data"] = dict(data)
    return deep_merge(result, extra)


def serviceaccount(
    name: str,
    namespace: str = "default",
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ServiceAccount (no token secret: Kubernetes >= 1.24 uses projected tokens)."""
    result = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(name, namespace, labels=labels, annotations=annotations),
    }
    return deep_merge(result, extra)


def resourcequota(
    name: str,
    namespace: str,
    *,
    hard: Mapping[str, str],
    used: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ResourceQuota with ``spec.hard`` and ``status.hard``/``status.used``."""
    used_map = dict(used or {key: "0" for key in hard})
    result = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta(name, namespace),
        "spec": {"hard": dict(hard)},
        "status": {"hard": dict(hard), "used": used_map},
    }
    return deep_merge(result, extra)


def limitrange(
    name: str,
    namespace: str,
    *,
    limits: Sequence[Mapping[str, Any]] = (
        {"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}},
    ),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A LimitRange (default: container CPU default 500m / request 100m)."""
    result = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta(name, namespace),
        "spec": {"limits": [copy.deepcopy(dict(item)) for item in limits]},
    }
    return deep_merge(result, extra)


def event(
    reason: str,
    message: str,
    *,
    involved: Mapping[str, Any] | tuple[str, str],
    namespace: str = "default",
    type: str = "Warning",  # noqa: A002 - the Kubernetes field name
    name: str | None = None,
    count: int = 1,
    component: str = "kubelet",
    host: str | None = None,
    first: dt.datetime | str | None = None,
    last: dt.datetime | str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A core/v1 Event; ``involved`` is ``("Pod", "name")`` or an ObjectReference dict.

    The involved object defaults to the event's namespace; the name defaults to
    ``<involved name>.<hex>`` as the API server generates it.
    """
    if isinstance(involved, tuple):
        kind, obj_name = involved
        ref: dict[str, Any] = {
            "apiVersion": "v1" if kind in ("Pod", "Node", "Service") else "apps/v1",
            "kind": kind,
            "name": obj_name,
        }
        if kind != "Node":
            ref["namespace"] = namespace
    else:
        ref = dict(involved)
    digest = hashlib.sha1(f"{ref.get('name')}/{reason}/{message}".encode()).hexdigest()[:16]
    source: dict[str, Any] = {"component": component}
    if host:
        source["host"] = host
    first_ts = rfc3339(first or _STARTED)
    result = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": _meta(name or f"{ref.get('name')}.{digest}", namespace),
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": first_ts,
        "lastTimestamp": rfc3339(last or first_ts),
        "count": count,
        "type": type,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }
    return deep_merge(result, extra)


# -- storage -------------------------------------------------------------------------------------
def storageclass(
    name: str = "managed-csi",
    provisioner: str = "disk.csi.azure.com",
    *,
    default: bool = False,
    parameters: Mapping[str, str] | None = None,
    binding_mode: str = "WaitForFirstConsumer",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A storage.k8s.io/v1 StorageClass (``default`` sets the is-default-class annotation)."""
    anns = {"storageclass.kubernetes.io/is-default-class": "true"} if default else None
    result = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": _meta(
            name,
            labels={"addonmanager.kubernetes.io/mode": "EnsureExists"},
            annotations=anns,
        ),
        "provisioner": provisioner,
        "parameters": dict(parameters or {"skuname": "StandardSSD_LRS"}),
        "reclaimPolicy": "Delete",
        "allowVolumeExpansion": True,
        "volumeBindingMode": binding_mode,
    }
    return deep_merge(result, extra)


# -- CRDs ----------------------------------------------------------------------------------------
def kind_for_plural(plural: str) -> str:
    """A best guess of the Kind for a plural resource name (``prometheuses`` -> ``Prometheus``)."""
    if plural.endswith("ies"):
        singular = plural[:-3] + "y"
    elif plural.endswith(("sses", "uses", "xes", "ches", "shes")):
        singular = plural[:-2]
    elif plural.endswith("s"):
        singular = plural[:-1]
    else:
        singular = plural
    return singular[:1].upper() + singular[1:]


def crd(
    name: str,
    group: str | None = None,
    *,
    kind: str | None = None,
    versions: Sequence[str] = ("v1",),
    scope: str = "Namespaced",
    short_names: Sequence[str] = (),
    categories: Sequence[str] = (),
    helm_release: str | None = None,
    helm_namespace: str | None = None,
    established: bool = True,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An apiextensions.k8s.io/v1 CustomResourceDefinition.

    ``name`` is ``<plural>.<group>`` (``"jobs.batch.volcano.sh"``); or pass the plural and the
    group separately (``crd("prometheuses", "monitoring.coreos.com")``). The first of
    ``versions`` is the storage version; all are served. ``helm_release`` adds Helm's ownership
    metadata (``app.kubernetes.io/managed-by: Helm``, ``meta.helm.sh/release-name`` and
    ``meta.helm.sh/release-namespace`` = ``helm_namespace`` or ``"azureml"``).

    Adding a CRD to a ``FakeKubeApi`` registers its resource for discovery and CRUD, as a real
    API server does once the CRD is Established.
    """
    if group is None:
        if "." not in name:
            raise ValueError(f"crd({name!r}): give the group, or a name like <plural>.<group>")
        plural, group = name.split(".", 1)
    elif name.endswith("." + group):
        plural = name[: -len(group) - 1]
    else:
        plural = name
    full_name = f"{plural}.{group}"
    kind = kind or kind_for_plural(plural)
    all_labels = dict(labels or {})
    all_annotations = {"controller-gen.kubebuilder.io/version": "v0.15.0", **(annotations or {})}
    if helm_release:
        all_labels.setdefault("app.kubernetes.io/managed-by", HELM_MANAGED_BY)
        all_annotations["meta.helm.sh/release-name"] = helm_release
        all_annotations["meta.helm.sh/release-namespace"] = helm_namespace or "azureml"
    names: dict[str, Any] = {
        "kind": kind,
        "listKind": kind + "List",
        "plural": plural,
        "singular": kind.lower(),
    }
    if short_names:
        names["shortNames"] = list(short_names)
    if categories:
        names["categories"] = list(categories)
    spec_versions = [
        {
            "name": version,
            "served": True,
            "storage": i == 0,
            "schema": {
                "openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                }
            },
            "subresources": {"status": {}},
        }
        for i, version in enumerate(versions)
    ]
    conditions = [
        {
            "type": "NamesAccepted",
            "status": "True",
            "reason": "NoConflicts",
            "message": "no conflicts found",
            "lastTransitionTime": _STARTED,
        },
        {
            "type": "Established",
            "status": "True" if established else "False",
            "reason": "InitialNamesAccepted" if established else "Installing",
            "message": "the initial names have been accepted"
            if established
            else "the initial names have not been accepted yet",
            "lastTransitionTime": _STARTED,
        },
    ]
    result = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": _meta(full_name, labels=all_labels, annotations=all_annotations, generation=1),
        "spec": {
            "conversion": {"strategy": "None"},
            "group": group,
            "names": names,
            "scope": scope,
            "versions": spec_versions,
        },
        "status": {
            "acceptedNames": dict(names),
            "conditions": conditions,
            "storedVersions": [versions[0]],
        },
    }
    return deep_merge(result, extra)


# -- RBAC ----------------------------------------------------------------------------------------
def policy_rule(
    verbs: Sequence[str],
    resources: Sequence[str] = (),
    api_groups: Sequence[str] = ("",),
    *,
    resource_names: Sequence[str] = (),
    non_resource_urls: Sequence[str] = (),
) -> dict[str, Any]:
    """A PolicyRule dict (``rbac.authorization.k8s.io/v1``)."""
    rule: dict[str, Any] = {"verbs": list(verbs)}
    if non_resource_urls:
        rule["nonResourceURLs"] = list(non_resource_urls)
    else:
        rule["apiGroups"] = list(api_groups)
        rule["resources"] = list(resources)
    if resource_names:
        rule["resourceNames"] = list(resource_names)
    return rule


_Subject = tuple[str, str] | tuple[str, str, str] | Mapping[str, Any]


def _subjects(subjects: Iterable[_Subject]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for subject in subjects:
        if isinstance(subject, Mapping):
            out.append(dict(subject))
            continue
        kind, name, *rest = subject
        entry: dict[str, Any] = {"kind": kind, "name": name}
        if kind == "ServiceAccount":
            entry["namespace"] = rest[0] if rest else "default"
        else:
            entry["apiGroup"] = "rbac.authorization.k8s.io"
        out.append(entry)
    return out


def clusterrole(
    name: str,
    rules: Sequence[Mapping[str, Any]] = (),
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ClusterRole with PolicyRule dicts (see ``policy_rule``)."""
    result = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(name, labels=labels, annotations=annotations),
        "rules": [dict(r) for r in rules],
    }
    return deep_merge(result, extra)


def role(
    name: str,
    namespace: str,
    rules: Sequence[Mapping[str, Any]] = (),
    *,
    labels: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A namespaced Role."""
    result = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(name, namespace, labels=labels),
        "rules": [dict(r) for r in rules],
    }
    return deep_merge(result, extra)


def clusterrolebinding(
    name: str,
    role: str,
    subjects: Iterable[_Subject] = (),
    *,
    labels: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ClusterRoleBinding of ClusterRole ``role``; subjects as ``("User", "alice")``,
    ``("Group", "system:masters")``, ``("ServiceAccount", "name", "namespace")`` or dicts."""
    result = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name, labels=labels),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": _subjects(subjects),
    }
    return deep_merge(result, extra)


def rolebinding(
    name: str,
    namespace: str,
    role: str,
    subjects: Iterable[_Subject] = (),
    *,
    role_kind: str = "Role",
    labels: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A RoleBinding of ``role`` (a Role, or a ClusterRole with ``role_kind="ClusterRole"``)."""
    result = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(name, namespace, labels=labels),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": _subjects(subjects),
    }
    return deep_merge(result, extra)


# -- network policies, Helm 3 release records, the cluster autoscaler -----------------------------
def networkpolicy(
    name: str,
    namespace: str,
    *,
    pod_selector: Mapping[str, Any] | None = None,
    ingress: Sequence[Mapping[str, Any]] | None = None,
    egress: Sequence[Mapping[str, Any]] | None = None,
    policy_types: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A networking.k8s.io/v1 NetworkPolicy as the API returns it. ``policyTypes`` is filled the
    way the API server defaults it on create (Ingress, plus Egress when ``egress`` rules are
    given) unless ``policy_types`` says otherwise; ``ingress``/``egress`` are rule lists, absent
    when None (the API omits empty ones). ``networkpolicy("deny", "azureml",
    policy_types=["Ingress", "Egress"])`` is the usual default-deny."""
    spec: dict[str, Any] = {"podSelector": copy.deepcopy(dict(pod_selector or {}))}
    if ingress:
        spec["ingress"] = [copy.deepcopy(dict(r)) for r in ingress]
    if egress:
        spec["egress"] = [copy.deepcopy(dict(r)) for r in egress]
    types = (
        policy_types if policy_types is not None else ["Ingress", *(["Egress"] if egress else [])]
    )
    spec["policyTypes"] = list(types)
    result = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, namespace, labels=labels, generation=1),
        "spec": spec,
    }
    return deep_merge(result, extra)


def helm_release_payload(
    name: str,
    namespace: str = "azureml",
    revision: int = 1,
    status: str = "deployed",
    *,
    chart: str = "azureml-extension",
    chart_version: str = "1.1.60",
    last_deployed: dt.datetime | str | None = None,
    description: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The release object Helm 3 marshals (helm/helm ``pkg/release.Release``): name, info
    (first/last_deployed, deleted, description, status, notes), chart (metadata), config (the
    values, which may hold secrets), manifest, version, namespace."""
    # Go marshals Helm's times as RFC 3339 with nanoseconds
    when = last_deployed if isinstance(last_deployed, str) else rfc3339(last_deployed)[:-1]
    when = when if isinstance(last_deployed, str) else when + ".123456789Z"
    return {
        "name": name,
        "info": {
            "first_deployed": when,
            "last_deployed": when,
            "deleted": "",
            "description": description or {"deployed": "Install complete"}.get(status, status),
            "status": status,
            "notes": "",
        },
        "chart": {
            "metadata": {"name": chart, "version": chart_version, "apiVersion": "v2"},
            "templates": [],
            "values": {},
        },
        "config": dict(values or {}),
        "manifest": "---\n# Source: azureml-extension/templates/fe.yaml\n",
        "version": revision,
        "namespace": namespace,
    }


def helm_release_secret(
    name: str,
    namespace: str = "azureml",
    revision: int = 1,
    status: str = "deployed",
    *,
    payload: Mapping[str, Any] | None = None,
    raw_release: str | bytes | None = None,
    labels: Mapping[str, str] | None = None,
    modified: dt.datetime | None = None,
    **payload_kwargs: Any,
) -> dict[str, Any]:
    """A Helm 3 release record as Helm's Secrets driver stores it (helm/helm
    ``pkg/storage/driver/secrets.go``, ``util.go``): Secret
    ``sh.helm.release.v1.<name>.v<revision>`` of type ``helm.sh/release.v1``, labels
    ``owner=helm``, ``name``, ``status``, ``version``, ``createdAt``/``modifiedAt`` (Unix
    seconds), and ``data.release`` = base64(gzip(json(release))) (``encodeRelease``; the API
    base64-encodes it once more, which ``secret`` does). ``payload`` replaces
    ``helm_release_payload(...)``; ``raw_release`` stores those bytes instead (a record that
    does not decode); ``labels`` overrides Helm's."""
    release = payload or helm_release_payload(name, namespace, revision, status, **payload_kwargs)
    if raw_release is None:
        packed = gzip.compress(json.dumps(release).encode(), compresslevel=9)
        stored: str | bytes = base64.b64encode(packed)
    else:
        stored = raw_release
    when = int((modified or dt.datetime.now(dt.UTC)).timestamp())
    marks = {
        "name": name,
        "owner": "helm",
        "status": status,
        "version": str(revision),
        "createdAt": str(when),
        "modifiedAt": str(when),
        **(labels or {}),
    }
    return secret(
        f"sh.helm.release.v1.{name}.v{revision}",
        namespace,
        data={"release": stored},
        type="helm.sh/release.v1",
        labels=marks,
    )


def cluster_autoscaler_status(
    *, healthy: bool = True, when: str = "2024-06-01 10:00:00.000000000 +0000 UTC"
) -> dict[str, Any]:
    """ConfigMap ``kube-system/cluster-autoscaler-status`` as the cluster autoscaler writes it
    (AKS's managed one too: learn.microsoft.com/azure/aks/cluster-autoscaler)."""
    health = "Healthy" if healthy else "Unhealthy"
    status = (
        f"Cluster-autoscaler status at {when}:\n"
        "Cluster-wide:\n"
        f"  Health:      {health} (ready=3 unready=0 notStarted=0 longNotStarted=0 registered=3)\n"
        "  ScaleUp:     NoActivity (ready=3 registered=3)\n"
        "  ScaleDown:   NoCandidates (candidates=0)\n"
    )
    return configmap(
        "cluster-autoscaler-status",
        "kube-system",
        data={"status": status},
        annotations={"cluster-autoscaler.kubernetes.io/last-updated": when},
    )
