"""Azure ML workload objects for the fake API server: the InstanceType CRD and its objects, and
HorizontalPodAutoscalers (the planned-workload checks read them).

The InstanceType shape is the one of "Create and manage instance types"
(https://learn.microsoft.com/azure/machine-learning/how-to-manage-kubernetes-instance-types):
``amlarc.azureml.com/v1alpha1``, ``spec.nodeSelector`` and ``spec.resources``. The CRD is added
like any other (``crd()``): the fake then serves ``/apis/amlarc.azureml.com/v1alpha1/instancetypes``
with ``limit``/``continue`` pagination as for every resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from support.kube_objects import crd, deep_merge

GROUP = "amlarc.azureml.com"


def instance_type_crd(
    *, scope: str = "Cluster", versions: tuple[str, ...] = ("v1alpha1",)
) -> dict[str, Any]:
    """``instancetypes.amlarc.azureml.com``, as the extension installs it (its scope is not
    documented; ``Cluster`` by every sign, see research-18)."""
    return crd(
        f"instancetypes.{GROUP}",
        kind="InstanceType",
        versions=versions,
        scope=scope,
        short_names=("instancetype",),
        helm_release="azureml",
    )


def instance_type(
    name: str,
    *,
    node_selector: Mapping[str, str] | None = None,
    requests: Mapping[str, Any] | None = None,
    limits: Mapping[str, Any] | None = None,
    namespace: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One InstanceType custom resource (requests/limits written as given: text or numbers)."""
    spec: dict[str, Any] = {}
    if node_selector is not None:
        spec["nodeSelector"] = dict(node_selector)
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = dict(requests)
    if limits is not None:
        resources["limits"] = dict(limits)
    if resources:
        spec["resources"] = resources
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    obj = {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "InstanceType",
        "metadata": metadata,
        "spec": spec,
    }
    return deep_merge(obj, extra)


def hpa(name: str, namespace: str, target: str, *, kind: str = "Deployment") -> dict[str, Any]:
    """An ``autoscaling/v2`` HorizontalPodAutoscaler scaling ``kind/target`` on CPU."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ],
        },
    }
