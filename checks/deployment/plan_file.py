"""``--deployment FILE``: a v1 ``deploymentconfig.json`` or a v2 Kubernetes online deployment
YAML, read strictly into one ``DeploymentPlan``.

What cannot be read is exit 2 before the run (``validate``): a file that does not parse, a key
neither schema knows (with "did you mean"), a value of the wrong type, a resource quantity
Kubernetes would refuse. Whether the values keep the documented rules is ``deployment.config``'s
business (config.py), so a bad value is a finding, not a usage error.

Schemas:

- v1: the ``deploymentconfig.json`` table of "Deploy a model to an Azure Kubernetes Service
  cluster with v1" (seed 000), https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service,
  the same as https://learn.microsoft.com/azure/machine-learning/v1/reference-azure-machine-learning-cli#deploymentconfig;
  plus ``containerResourceRequirements.cpuLimit``/``memoryInGBLimit`` and ``computeTargetName``,
  which azureml-core's ``deploy_config_dict_to_obj`` (1.61.0, ``_model_management/_util.py``)
  also reads. Types as the SDK's ``AksWebservice.deploy_configuration`` declares them.
- v2: "CLI (v2) Azure Arc-enabled Kubernetes online deployment YAML schema",
  https://learn.microsoft.com/azure/machine-learning/reference-yaml-deployment-kubernetes-online,
  plus ``type``, ``id``, ``properties`` and ``provisioning_state``, which azure-ai-ml's schema
  (1.35.2, ``_schema/_deployment/online/``) also accepts; ``az ml`` rejects any other key
  (marshmallow ``unknown = RAISE``), and so does this reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preflight.checks._shared.nodes import GPU_RESOURCE
from preflight.checks._shared.planfiles import (
    Bad,
    join,
    known_keys,
    mapping,
    quantity,
    read_json_or_yaml,
    shown,
    typed,
    where,
)

GB = 1000**3

# -- the schemas -----------------------------------------------------------------------------------
#: v1 key -> type (a nested dict: its own keys)
V1_SCHEMA: dict[str, Any] = {
    "computeType": "str",
    "autoScaler": {
        "autoscaleEnabled": "bool",
        "minReplicas": "int",
        "maxReplicas": "int",
        "refreshPeriodInSeconds": "int",
        "targetUtilization": "int",
    },
    "dataCollection": {"storageEnabled": "bool"},
    "authEnabled": "bool",
    "tokenAuthEnabled": "bool",
    "containerResourceRequirements": {
        "cpu": "number",
        "memoryInGB": "number",
        "cpuLimit": "number",
        "memoryInGBLimit": "number",
    },
    "appInsightsEnabled": "bool",
    "scoringTimeoutMs": "int",
    "maxConcurrentRequestsPerContainer": "int",
    "maxQueueWaitMs": "int",
    "numReplicas": "int",
    "keys": {"primaryKey": "str", "secondaryKey": "str"},
    "gpuCores": "number",
    "livenessProbeRequirements": {
        "periodSeconds": "int",
        "initialDelaySeconds": "int",
        "timeoutSeconds": "int",
        "successThreshold": "int",
        "failureThreshold": "int",
    },
    "namespace": "str",
    "computeTargetName": "str",
}
_PROBE = {
    "initial_delay": "int",
    "period": "int",
    "timeout": "int",
    "success_threshold": "int",
    "failure_threshold": "int",
}
#: v2 key -> type; "any": free-form (an inline model or environment, tags, a data collector)
V2_SCHEMA: dict[str, Any] = {
    "$schema": "str",
    "name": "str",
    "endpoint_name": "str",
    "type": "str",
    "description": "str",
    "tags": "any",
    "properties": "any",
    "id": "str",
    "provisioning_state": "str",
    "model": "any",
    "model_mount_path": "str",
    "code_configuration": {"code": "str", "scoring_script": "str"},
    "environment": "any",
    "environment_variables": "any",
    "instance_type": "str",
    "instance_count": "int",
    "app_insights_enabled": "bool",
    "scale_settings": {
        "type": "str",
        "min_instances": "int",
        "max_instances": "int",
        "polling_interval": "int",
        "target_utilization_percentage": "int",
    },
    "request_settings": {
        "request_timeout_ms": "int",
        "max_concurrent_requests_per_instance": "int",
        "max_queue_wait_ms": "int",
    },
    "liveness_probe": _PROBE,
    "readiness_probe": _PROBE,
    "resources": "resources",
    "data_collector": "any",
}
RESOURCE_NAMES = ("cpu", "memory", GPU_RESOURCE)
#: keys only one schema has: how a file says which it is
_V1_ONLY = set(V1_SCHEMA) - {"namespace"}
_V2_ONLY = set(V2_SCHEMA)


@dataclass
class DeploymentPlan:
    """One planned deployment, as read (``raw``, with lines) and as the checks need it."""

    version: str  # "v1" | "v2"
    name: str
    path: str
    raw: Mapping[str, Any]
    #: v2 ``instance_type`` (None: ``defaultinstancetype``); v1 has none
    instance_type: str | None = None
    #: per-replica requests and limits the file gives (base units), and where they come from
    requests: dict[str, float] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)
    resources_from: str | None = None
    #: the replica count the deployment can reach, and what says so
    replicas: int = 1
    minimum: int = 1
    replicas_from: str = ""
    autoscale: bool = False
    #: the autoscaler's target (percent) and requests per replica (seed 000's formula)
    target_utilization: float = 70.0
    max_concurrent: int = 1
    namespace: str | None = None

    def at(self, *keys: str) -> str:
        """``FILE:LINE`` of a key path (``"autoScaler", "minReplicas"``), or of the file."""
        node: Any = self.raw
        found = where(node)
        for key in keys:
            if not isinstance(node, Mapping) or key not in node:
                break
            found = where(node, key)
            node = node[key]
        return found

    def get(self, *keys: str) -> Any:
        node: Any = self.raw
        for key in keys:
            if not isinstance(node, Mapping):
                return None
            node = node.get(key)
        return node


def load(path: str) -> DeploymentPlan:
    """Read ``path`` (Bad / ValueError naming ``FILE:LINE`` when it cannot be used)."""
    data = read_json_or_yaml(path)
    if not isinstance(data, Mapping):
        raise Bad(f"{path}:1", f"expected a deployment (a mapping of settings), got {shown(data)}")
    if "kind" in data and "apiVersion" in data:
        raise Bad(
            where(data, "kind"),
            f"a Kubernetes object of kind {shown(data.get('kind'))}, not an Azure ML deployment "
            "(a v1 deploymentconfig.json or a v2 online deployment YAML)",
        )
    version = _version_of(data, path)
    if version == "v1":
        _walk(data, V1_SCHEMA, "")
        return _v1(data, path)
    _walk(data, V2_SCHEMA, "")
    return _v2(data, path)


def validate(path: str) -> None:
    """``input_validators`` entry for ``--deployment``."""
    load(path)


def _version_of(data: Mapping[str, Any], path: str) -> str:
    v1 = sum(1 for key in data if key in _V1_ONLY)
    v2 = sum(1 for key in data if key in _V2_ONLY)
    if v1 != v2:
        return "v1" if v1 > v2 else "v2"
    return "v1" if path.lower().endswith(".json") else "v2"


def _walk(obj: Mapping[str, Any], schema: Mapping[str, Any], path: str) -> None:
    """Unknown keys and wrong types are Bad, naming the field and its line."""
    known_keys(obj, schema, path)
    for key, kind in schema.items():
        if obj.get(key) is None:
            continue
        if isinstance(kind, dict):
            _walk(mapping(obj, key, path), kind, join(path, key))
        elif kind == "resources":
            _resources(mapping(obj, key, path), join(path, key))
        elif kind != "any":
            typed(obj, key, path, kind)


def _resources(resources: Mapping[str, Any], path: str) -> None:
    known_keys(resources, ("requests", "limits"), path)
    for section in ("requests", "limits"):
        amounts = mapping(resources, section, path)
        if amounts is None:
            continue
        known_keys(amounts, RESOURCE_NAMES, join(path, section))
        for name in amounts:
            if amounts.get(name) is not None:
                quantity(amounts, name, join(path, section))


# -- v1 --------------------------------------------------------------------------------------------


def _v1(data: Mapping[str, Any], path: str) -> DeploymentPlan:
    """A v1 plan: defaults from seed 000's table (cpu 0.1, memoryInGB 0.5, maxReplicas 10,
    targetUtilization 70, maxConcurrentRequestsPerContainer 1). ``gpuCores`` absent is 0: the
    table says "Default is 1" but azureml-core sends none (its docstring: "Defaults to 0"),
    and a CPU deployment (the doc's own example omits it) does not ask for a GPU."""
    plan = DeploymentPlan("v1", Path(path).stem, path, data)
    resources = data.get("containerResourceRequirements") or {}
    plan.requests = {
        "cpu": float(_given(resources, "cpu", 0.1)),
        "memory": float(_given(resources, "memoryInGB", 0.5)) * GB,
    }
    plan.limits = {}
    if resources.get("cpuLimit") is not None:
        plan.limits["cpu"] = float(resources["cpuLimit"])
    if resources.get("memoryInGBLimit") is not None:
        plan.limits["memory"] = float(resources["memoryInGBLimit"]) * GB
    gpus = data.get("gpuCores")
    if gpus:
        plan.requests[GPU_RESOURCE] = plan.limits[GPU_RESOURCE] = float(gpus)
    plan.resources_from = "containerResourceRequirements (defaults: cpu 0.1, memoryInGB 0.5)"
    scaler = data.get("autoScaler") or {}
    replicas = data.get("numReplicas")
    enabled = scaler.get("autoscaleEnabled")
    plan.autoscale = bool(enabled) if enabled is not None else replicas is None
    if plan.autoscale:
        plan.minimum = int(_given(scaler, "minReplicas", 1))
        plan.replicas = int(_given(scaler, "maxReplicas", 10))
        given = scaler.get("maxReplicas") is not None
        plan.replicas_from = "autoScaler.maxReplicas" + ("" if given else " (default 10)")
        plan.target_utilization = float(_given(scaler, "targetUtilization", 70))
    else:
        plan.replicas = plan.minimum = int(replicas or 1)
        plan.replicas_from = "numReplicas"
    plan.max_concurrent = int(data.get("maxConcurrentRequestsPerContainer") or 1)
    plan.namespace = data.get("namespace")
    return plan


# -- v2 --------------------------------------------------------------------------------------------


def _v2(data: Mapping[str, Any], path: str) -> DeploymentPlan:
    """A v2 plan: ``scale_settings.type`` defaults to ``target_utilization`` with
    ``min_instances`` 1, ``max_instances`` 1 and 70 %; ``request_settings``
    ``max_concurrent_requests_per_instance`` 1 (the schema page's defaults)."""
    name = data.get("name")
    plan = DeploymentPlan("v2", str(name) if name else Path(path).stem, path, data)
    plan.instance_type = data.get("instance_type") or None
    resources = data.get("resources") or {}
    for section, into in (("requests", plan.requests), ("limits", plan.limits)):
        amounts = resources.get(section) or {}
        for resource in RESOURCE_NAMES:
            if amounts.get(resource) is not None:
                into[resource] = quantity(amounts, resource, f"resources.{section}")
    if resources:
        plan.resources_from = "the deployment's resources"
    scale = data.get("scale_settings") or {}
    kind = scale.get("type") or "target_utilization"
    if kind == "default":
        count = data.get("instance_count")
        plan.replicas = plan.minimum = int(count) if count is not None else 1
        plan.replicas_from = "instance_count" if count is not None else "instance_count (missing)"
    else:
        plan.autoscale = True
        plan.minimum = int(_given(scale, "min_instances", 1))
        plan.replicas = int(_given(scale, "max_instances", 1))
        given = scale.get("max_instances") is not None
        plan.replicas_from = "scale_settings.max_instances" + ("" if given else " (default 1)")
        plan.target_utilization = float(_given(scale, "target_utilization_percentage", 70))
    settings = data.get("request_settings") or {}
    plan.max_concurrent = int(settings.get("max_concurrent_requests_per_instance") or 1)
    return plan


def _given(section: Mapping[str, Any], key: str, default: float) -> Any:
    """``section[key]`` unless absent or null: then the documented default."""
    value = section.get(key)
    return default if value is None else value
