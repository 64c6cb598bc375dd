"""Builders of what an installed Azure ML extension leaves in namespace ``azureml``: one workload
per row of the components table that the configuration calls for, with its pods, in a chosen
state. Plain dicts for ``FakeKubeApi``, built with ``support.kube_objects``::

    from support.azureml_objects import installed_extension

    api = kube_api(objects=[
        *nodes(3),
        *installed_extension(
            "enableInference=True",
            states={"azureml-fe-v2": PENDING, "gateway": IMAGE_PULL},
        ),
    ])

The rows come from ``components_table`` (so a new row is built without touching the tests);
which rows a configuration has is asserted with explicit names in the tests themselves.

States, each as a real cluster shows it:

- ``HEALTHY``: every replica Running and ready.
- ``IMAGE_PULL``: the mcr.microsoft.com image cannot be pulled (``ImagePullBackOff`` with the
  kubelet's "Back-off pulling image" message; ``ERR_IMAGE_PULL``: ``ErrImagePull`` with the
  containerd dial timeout), nothing ready.
- ``CRASH_LOOP``: ``CrashLoopBackOff``, 7 restarts, last state terminated with exit code 1.
- ``PENDING``: the last replica cannot be scheduled ("didn't match pod anti-affinity rules",
  what azureml-fe-v2's third replica says on a two-node cluster); the others run.

Workloads carry Helm's ownership metadata for release ``name`` (except the StatefulSet, which
the Prometheus operator creates), pods the labels their workload's selector selects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from preflight.checks._shared.plan import Plan
from preflight.checks.extension.components_table import (
    DAEMONSET,
    DEPLOYMENT,
    STATEFULSET,
    ComponentSpec,
    Configuration,
    expected_components,
)

from .kube_objects import daemonset, deployment, namespace, pod, statefulset

HEALTHY = "healthy"
IMAGE_PULL = "image_pull"
ERR_IMAGE_PULL = "err_image_pull"
CRASH_LOOP = "crash_loop"
PENDING = "pending"

REGISTRY = "mcr.microsoft.com"
IMAGE_REPO = f"{REGISTRY}/azureml/amlarc/docker"
VERSION = "1.1.63"
NODES = tuple(f"aks-nodepool1-12345678-vmss00000{i}" for i in range(3))
TEMPLATE_HASH = "5d4f9c8b7"

ANTI_AFFINITY = (
    "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. preemption: 0/2 "
    "nodes are available: 2 No preemption victims found for incoming pod."
)
PULL_TIMEOUT = (
    'failed to pull and unpack image "{image}": failed to resolve reference "{image}": failed '
    'to do request: Head "https://mcr.microsoft.com/v2/azureml/amlarc/docker/manifests/'
    f'{VERSION}": dial tcp 204.79.197.219:443: i/o timeout'
)


def parse_config(text: str | Mapping[str, str]) -> dict[str, str]:
    """``"enableInference=True installVolcano=False"`` -> a dict (as --extension-config)."""
    if isinstance(text, Mapping):
        return dict(text)
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def components(
    config: str | Mapping[str, str], *, cluster_type: str = "aks", name: str = "azureml"
) -> list[tuple[ComponentSpec, str]]:
    """The table's rows for ``config``, with their names."""
    configuration = Configuration(Plan(parse_config(config)), "extension-config", cluster_type)
    return [(spec, spec.name(name)) for spec, _why in expected_components(configuration)]


def installed_extension(
    config: str | Mapping[str, str] = "enableInference=True",
    *,
    cluster_type: str = "aks",
    name: str = "azureml",
    states: Mapping[str, str] | None = None,
    missing: Iterable[str] = (),
    helm: bool = True,
) -> list[dict[str, Any]]:
    """Namespace azureml and every component ``config`` calls for (except ``missing``), each
    ``HEALTHY`` unless ``states`` names another state for it."""
    states = dict(states or {})
    skip = set(missing)
    plan = Plan(parse_config(config))
    router_replicas = 3 if plan.flag("inferenceRouterHA") else 1
    objects = [namespace("azureml")]
    for spec, component_name in components(config, cluster_type=cluster_type, name=name):
        if component_name in skip:
            continue
        replicas = router_replicas if spec.template == "azureml-fe-v2" else 1
        objects += component(
            spec.kind,
            component_name,
            state=states.get(component_name, HEALTHY),
            replicas=replicas,
            release=name if helm else None,
            image=image_of(spec),
        )
    return objects


def image_of(spec: ComponentSpec) -> str:
    return f"{IMAGE_REPO}/{spec.template.replace('{ext}-', '')}:{VERSION}"


def helm_metadata(release: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations) Helm puts on what release ``release`` installs in azureml."""
    if release is None:
        return {}, {}
    return (
        {"app.kubernetes.io/managed-by": "Helm"},
        {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": "azureml"},
    )


def component(
    kind: str,
    name: str,
    *,
    state: str = HEALTHY,
    replicas: int = 1,
    release: str | None = "azureml",
    image: str | None = None,
    nodes: int = len(NODES),
) -> list[dict[str, Any]]:
    """One workload of namespace azureml and its pods, in ``state``."""
    image = image or f"{IMAGE_REPO}/{name}:{VERSION}"
    labels, notes = helm_metadata(release)
    count = nodes if kind == DAEMONSET else replicas
    pod_states = _pod_states(state, count)
    ready = sum(1 for s in pod_states if s == HEALTHY)
    if kind == DEPLOYMENT:
        workload = deployment(
            name,
            "azureml",
            replicas=replicas,
            ready_replicas=ready,
            image=image,
            labels=labels,
            annotations=notes,
        )
    elif kind == DAEMONSET:
        workload = daemonset(
            name,
            "azureml",
            desired=count,
            ready=ready,
            image=image,
            labels=labels,
            annotations=notes,
        )
    elif kind == STATEFULSET:
        workload = statefulset(
            name, "azureml", replicas=replicas, ready_replicas=ready, image=image
        )
    else:
        raise ValueError(f"unknown kind {kind}")
    pods = [
        component_pod(kind, name, index, pod_state, image=image)
        for index, pod_state in enumerate(pod_states)
    ]
    return [workload, *pods]


def _pod_states(state: str, count: int) -> list[str]:
    """PENDING breaks only the last replica (the one that finds no node); the other states
    break every replica, as a bad image or a crashing binary does."""
    if state == PENDING:
        return [HEALTHY] * (count - 1) + [PENDING]
    return [state] * count


def pod_name(kind: str, workload: str, index: int) -> str:
    if kind == STATEFULSET:
        return f"{workload}-{index}"
    suffix = hashlib.sha1(f"{workload}/{index}".encode()).hexdigest()[:5]
    if kind == DEPLOYMENT:
        return f"{workload}-{TEMPLATE_HASH}-{suffix}"
    return f"{workload}-{suffix}"


def component_pod(
    kind: str, workload: str, index: int, state: str = HEALTHY, *, image: str | None = None
) -> dict[str, Any]:
    """A pod of ``workload`` labelled as its selector (``app: <workload>``) selects."""
    image = image or f"{IMAGE_REPO}/{workload}:{VERSION}"
    labels = {"app": workload}
    owner = {"kind": kind, "name": workload}
    if kind == DEPLOYMENT:
        labels["pod-template-hash"] = TEMPLATE_HASH
        owner = {"kind": "ReplicaSet", "name": f"{workload}-{TEMPLATE_HASH}"}
    elif kind == STATEFULSET:
        owner = {"kind": "StatefulSet", "name": workload}
    name = pod_name(kind, workload, index)
    node = NODES[index % len(NODES)]
    common: dict[str, Any] = {"labels": labels, "owner": owner, "image": image}
    if state == HEALTHY:
        return pod(name, "azureml", node=node, **common)
    if state == IMAGE_PULL:
        return pod(
            name, "azureml", phase="Pending", node=node, waiting_reason="ImagePullBackOff", **common
        )
    if state == ERR_IMAGE_PULL:
        return pod(
            name,
            "azureml",
            phase="Pending",
            node=node,
            waiting_reason="ErrImagePull",
            waiting_message=PULL_TIMEOUT.format(image=image),
            **common,
        )
    if state == CRASH_LOOP:
        return pod(
            name,
            "azureml",
            node=node,
            waiting_reason="CrashLoopBackOff",
            restarts=7,
            exit_code=1,
            **common,
        )
    if state == PENDING:
        return pod(
            name,
            "azureml",
            phase="Pending",
            node=None,
            unschedulable_message=ANTI_AFFINITY,
            **common,
        )
    raise ValueError(f"unknown state {state}")
