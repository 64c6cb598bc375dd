"""The documented rules of a planned online deployment, each with its source (deployment.config).

A rule returns ``Issue`` s (a ``fail`` or a ``warn`` with the fix); config.py turns them into
findings. Sources, cited per rule below:

- SEED000: "Deploy a model to an Azure Kubernetes Service cluster with v1" (ms.date 09/09/2024),
  its ``deploymentconfig.json`` table, https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service
- SDK_V1: azureml-core 1.61.0 ``AksServiceDeploymentConfiguration.validate_configuration``
  (``azureml/core/webservice/aks.py``): the checks ``az ml model deploy`` makes before sending.
- RELEASE_1_0_43: Azure ML SDK v1 release notes 2019-06-10 (v1.0.43): "Scoring timeout on AKS
  webservices should be between 5ms and 300000ms",
  https://learn.microsoft.com/azure/machine-learning/v1/azure-machine-learning-release-notes
- V2_SCHEMA: "CLI (v2) Azure Arc-enabled Kubernetes online deployment YAML schema",
  https://learn.microsoft.com/azure/machine-learning/reference-yaml-deployment-kubernetes-online
- INSTANCE_TYPES: https://learn.microsoft.com/azure/machine-learning/how-to-manage-kubernetes-instance-types
  (the ``resources`` rules table; limits validated against the instance type's; MLflow minimum)
- QUOTAS: https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas (endpoint and
  deployment names; "Max request time-out at endpoint level | 300 seconds | Kubernetes online
  endpoint")
- Where no document says (v2 scale ranges), the rule is preflight's own and says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from preflight.checks._shared.instance_types import DOCS as INSTANCE_DOCS
from preflight.checks._shared.instance_types import InstanceType
from preflight.checks._shared.nodes import GPU_RESOURCE
from preflight.checks._shared.planfiles import amount_text
from preflight.checks.deployment.plan_file import GB, DeploymentPlan

V1_DOCS = (
    "https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service"
)
V1_CLI_DOCS = (
    "https://learn.microsoft.com/azure/machine-learning/v1/reference-azure-machine-learning-cli"
    "#deploymentconfig"
)
V2_DOCS = (
    "https://learn.microsoft.com/azure/machine-learning/reference-yaml-deployment-kubernetes-online"
)
QUOTAS_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas"
RELEASE_DOCS = (
    "https://learn.microsoft.com/azure/machine-learning/v1/azure-machine-learning-release-notes"
)
ROUTER_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-kubernetes-inference-routing-azureml-fe"
#: azureml-core's NAMESPACE_REGEX (_model_management/_constants.py), and seed 000's words
NAMESPACE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MAX_TIMEOUT_MS = 300_000


@dataclass
class Issue:
    """One broken rule: ``fail`` or ``warn``, where in the file, what, the fix, the docs and the
    source the rule comes from."""

    status: str
    rule: str
    at: str
    message: str
    remediation: str
    docs: str
    source: str
    details: dict[str, Any] = field(default_factory=dict)


Rule = Callable[[DeploymentPlan], list[Issue]]


def _fail(
    plan: DeploymentPlan,
    rule: str,
    keys: tuple[str, ...],
    message: str,
    fix: str,
    docs: str,
    source: str,
) -> Issue:
    return Issue("fail", rule, plan.at(*keys), message, fix, docs, source)


def _warn(
    plan: DeploymentPlan,
    rule: str,
    keys: tuple[str, ...],
    message: str,
    fix: str,
    docs: str,
    source: str,
) -> Issue:
    return Issue("warn", rule, plan.at(*keys), message, fix, docs, source)


def _positive(
    plan: DeploymentPlan,
    keys: tuple[str, ...],
    rule: str,
    docs: str,
    source: str,
    minimum: float = 1,
) -> list[Issue]:
    value = plan.get(*keys)
    if value is None or value >= minimum:
        return []
    path = ".".join(keys)
    return [
        _fail(
            plan,
            rule,
            keys,
            f"{path} is {value:g}; the minimum is {minimum:g}",
            f"set {path} to at least {minimum:g}",
            docs,
            source,
        )
    ]


# -- v1 --------------------------------------------------------------------------------------------


def v1_compute_type(plan: DeploymentPlan) -> list[Issue]:
    """SEED000: "For AKS, the value must be aks"; SDK_V1: computeType is required."""
    value = plan.get("computeType")
    if value is None:
        return [
            _fail(
                plan,
                "compute-type",
                ("computeType",),
                "computeType is missing: az ml model deploy refuses the file ('Need to "
                "specify computeType in --deploy-config-file')",
                'add "computeType": "aks"',
                V1_DOCS,
                "SDK_V1",
            )
        ]
    if str(value).lower() != "aks":
        return [
            _fail(
                plan,
                "compute-type",
                ("computeType",),
                f"computeType is {value!r}: this file does not deploy to Kubernetes (for "
                "AKS the value must be aks)",
                'set "computeType": "aks", or check the file meant for this cluster',
                V1_DOCS,
                "SEED000",
            )
        ]
    return []


def v1_auth(plan: DeploymentPlan) -> list[Issue]:
    """SEED000: "Both tokenAuthEnabled and authEnabled can't be True"; authEnabled defaults to
    True, so tokenAuthEnabled alone is ambiguous (azureml-core does not refuse it): warn."""
    key, token = plan.get("authEnabled"), plan.get("tokenAuthEnabled")
    if key is True and token is True:
        return [
            _fail(
                plan,
                "auth",
                ("tokenAuthEnabled",),
                "authEnabled and tokenAuthEnabled are both true; both can't be true",
                'keep one: "authEnabled": false for token authentication, or '
                '"tokenAuthEnabled": false for key authentication',
                V1_DOCS,
                "SEED000",
            )
        ]
    if token is True and key is None:
        return [
            _warn(
                plan,
                "auth",
                ("tokenAuthEnabled",),
                "tokenAuthEnabled is true and authEnabled is not given, which defaults to "
                "true; both can't be true (the SDK does not check this case; the service "
                "may refuse it)",
                'add "authEnabled": false',
                V1_DOCS,
                "SEED000",
            )
        ]
    return []


def v1_autoscaler(plan: DeploymentPlan) -> list[Issue]:
    """SDK_V1 (validate_configuration, messages quoted) and SEED000's autoscaler table."""
    scaler = plan.get("autoScaler") or {}
    enabled = scaler.get("autoscaleEnabled")
    replicas = plan.get("numReplicas")
    tuned = [
        k
        for k in ("minReplicas", "maxReplicas", "refreshPeriodInSeconds", "targetUtilization")
        if scaler.get(k) is not None
    ]
    found: list[Issue] = []
    if enabled is True and replicas is not None:
        found.append(
            _fail(
                plan,
                "autoscaler",
                ("numReplicas",),
                "autoScaler.autoscaleEnabled is true and numReplicas is given ('autoscale "
                "enabled and num_replicas provided')",
                "remove numReplicas (the autoscaler sets the count) or set "
                "autoscaleEnabled to false",
                V1_DOCS,
                "SDK_V1",
            )
        )
    if enabled is False and replicas is None:
        found.append(
            _fail(
                plan,
                "autoscaler",
                ("autoScaler", "autoscaleEnabled"),
                "autoScaler.autoscaleEnabled is false and numReplicas is not given "
                "('autoscale disabled but num_replicas not provided')",
                "add numReplicas, or enable the autoscaler",
                V1_DOCS,
                "SDK_V1",
            )
        )
    if tuned and (enabled is False or (enabled is None and replicas is not None)):
        found.append(
            _fail(
                plan,
                "autoscaler",
                ("autoScaler", tuned[0]),
                f"autoScaler.{', '.join(tuned)} given while autoscaling is off "
                f"('autoscale_{_snake(tuned[0])} provided without enabling autoscaling')",
                'remove them, or set "autoscaleEnabled": true (and drop numReplicas)',
                V1_DOCS,
                "SDK_V1",
            )
        )
    elif tuned and enabled is None:
        found.append(
            _warn(
                plan,
                "autoscaler",
                ("autoScaler",),
                f"autoScaler.{', '.join(tuned)} given without autoscaleEnabled: the "
                "docs enable autoscaling when numReplicas is absent, but azureml-core "
                "refuses autoscaler settings unless autoscaleEnabled is true",
                'add "autoscaleEnabled": true to autoScaler',
                V1_DOCS,
                "SDK_V1",
            )
        )
    if plan.autoscale:
        for key in ("minReplicas", "maxReplicas", "refreshPeriodInSeconds", "targetUtilization"):
            found += _positive(plan, ("autoScaler", key), "autoscaler", V1_DOCS, "SDK_V1")
        low, high = _given(scaler, "minReplicas", 1), _given(scaler, "maxReplicas", 10)
        if low > high:
            found.append(
                _fail(
                    plan,
                    "autoscaler",
                    ("autoScaler", "minReplicas"),
                    f"autoScaler.minReplicas {low} is above maxReplicas {high}"
                    + ("" if "maxReplicas" in scaler else " (its default)"),
                    f"lower minReplicas to at most {high} or raise maxReplicas",
                    V1_DOCS,
                    "SDK_V1",
                )
            )
        target = scaler.get("targetUtilization")
        if target is not None and target > 100:
            found.append(
                _fail(
                    plan,
                    "autoscaler",
                    ("autoScaler", "targetUtilization"),
                    f"autoScaler.targetUtilization is {target}: it is a percentage (out of 100)",
                    "set targetUtilization from 1 to 100 (default 70)",
                    V1_DOCS,
                    "SEED000",
                )
            )
    if replicas is not None and replicas <= 0:
        found.append(
            _fail(
                plan,
                "replicas",
                ("numReplicas",),
                f"numReplicas is {replicas}: it must be above 0",
                "set numReplicas to 1 or more, or leave it out to autoscale",
                V1_DOCS,
                "SDK_V1",
            )
        )
    return found


def _given(section: Any, key: str, default: int) -> Any:
    """``section[key]`` unless absent or null: then the documented default."""
    value = section.get(key) if isinstance(section, dict) else None
    return default if value is None else value


def _snake(key: str) -> str:
    return {
        "minReplicas": "min_replicas",
        "maxReplicas": "max_replicas",
        "refreshPeriodInSeconds": "refresh_seconds",
        "targetUtilization": "target_utilization",
    }.get(key, key)


def v1_resources(plan: DeploymentPlan) -> list[Issue]:
    """SDK_V1: cpu and memoryInGB > 0, limits >= requests; SEED000: gpuCores "Only supports
    whole number values"; SDK_V1: gpu_cores >= 0."""
    found: list[Issue] = []
    section = ("containerResourceRequirements",)
    for key in ("cpu", "memoryInGB"):
        value = plan.get(*section, key)
        if value is not None and value <= 0:
            found.append(
                _fail(
                    plan,
                    "resources",
                    (*section, key),
                    f"containerResourceRequirements.{key} is {value:g}: it must be above 0",
                    f"set containerResourceRequirements.{key} above 0",
                    V1_DOCS,
                    "SDK_V1",
                )
            )
    for request, limit in (("cpu", "cpuLimit"), ("memoryInGB", "memoryInGBLimit")):
        low = plan.get(*section, request)
        low = (0.1 if request == "cpu" else 0.5) if low is None else low
        high = plan.get(*section, limit)
        if high is not None and high < low:
            found.append(
                _fail(
                    plan,
                    "resources",
                    (*section, limit),
                    f"containerResourceRequirements.{limit} {high:g} is below "
                    f"{request} {low:g} ('{_snake_limit(limit)} must be greater than "
                    f"or equal to {_snake_limit(request)}')",
                    f"raise {limit} to at least {low:g} or lower {request}",
                    V1_DOCS,
                    "SDK_V1",
                )
            )
    gpus = plan.get("gpuCores")
    if gpus is not None and (gpus < 0 or gpus != int(gpus)):
        found.append(
            _fail(
                plan,
                "gpu",
                ("gpuCores",),
                f"gpuCores is {gpus:g}: only whole numbers of 0 or more are supported",
                f"set gpuCores to a whole number (e.g. {max(0, round(gpus))})",
                V1_DOCS,
                "SEED000",
            )
        )
    return found


def _snake_limit(key: str) -> str:
    return {
        "cpu": "cpu_cores",
        "memoryInGB": "memory_gb",
        "cpuLimit": "cpu_cores_limit",
        "memoryInGBLimit": "memory_gb_limit",
    }[key]


def v1_timeouts(plan: DeploymentPlan) -> list[Issue]:
    """RELEASE_1_0_43: scoringTimeoutMs from 5 to 300000; SDK_V1: maxQueueWaitMs,
    maxConcurrentRequestsPerContainer > 0; its docstring: do not change the latter from 1
    unless Microsoft support says so; SEED000: liveness probe values, minimum 1."""
    found: list[Issue] = []
    timeout = plan.get("scoringTimeoutMs")
    if timeout is not None and not 5 <= timeout <= MAX_TIMEOUT_MS:
        found.append(
            _fail(
                plan,
                "timeouts",
                ("scoringTimeoutMs",),
                f"scoringTimeoutMs is {timeout}: AKS web services take 5 to 300000 ms",
                "set scoringTimeoutMs from 5 to 300000 (default 60000)",
                RELEASE_DOCS,
                "RELEASE_1_0_43",
            )
        )
    found += _positive(plan, ("maxQueueWaitMs",), "timeouts", V1_DOCS, "SDK_V1")
    found += _concurrency(plan, ("maxConcurrentRequestsPerContainer",), V1_DOCS, "SDK_V1")
    for key in (
        "periodSeconds",
        "initialDelaySeconds",
        "timeoutSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        found += _positive(plan, ("livenessProbeRequirements", key), "probes", V1_DOCS, "SEED000")
    return found


def _concurrency(
    plan: DeploymentPlan, keys: tuple[str, ...], docs: str, source: str
) -> list[Issue]:
    value = plan.get(*keys)
    path = ".".join(keys)
    if value is None:
        return []
    if value <= 0:
        return [
            _fail(
                plan,
                "concurrency",
                keys,
                f"{path} is {value}: it must be above 0",
                f"set {path} to 1 (the default)",
                docs,
                source,
            )
        ]
    if value != 1:
        return [
            _warn(
                plan,
                "concurrency",
                keys,
                f"{path} is {value}: the docs say not to change it from 1 unless "
                "Microsoft Technical Support asks you to",
                f"set {path} to 1 unless support asked for {value}",
                docs,
                source,
            )
        ]
    return []


def v1_namespace(plan: DeploymentPlan) -> list[Issue]:
    """SEED000: "Up to 63 lowercase alphanumeric ('a'-'z', '0'-'9') and hyphen ('-')
    characters. The first and last characters can't be hyphens." (azureml-core's regex)."""
    value = plan.get("namespace")
    if value is None or NAMESPACE.match(value):
        return []
    return [
        _fail(
            plan,
            "namespace",
            ("namespace",),
            f"namespace {value!r} is not a Kubernetes namespace name: up to 63 lowercase "
            "letters, digits and '-', not starting or ending with '-'",
            "rename it, e.g. " + (_dns_label(value) or "models"),
            V1_DOCS,
            "SEED000",
        )
    ]


def _dns_label(text: str) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return label[:63].strip("-")


V1_RULES: tuple[Rule, ...] = (
    v1_compute_type,
    v1_auth,
    v1_autoscaler,
    v1_resources,
    v1_timeouts,
    v1_namespace,
)


# -- v2 --------------------------------------------------------------------------------------------

_NAME_CHARS = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


def _name_problem(value: str) -> str | None:
    """QUOTAS: "Begin with a letter; Be 3-32 characters in length; Only consist of letters and
    numbers", and footnote 2: "Single dashes like my-endpoint-name are accepted"."""
    if not 3 <= len(value) <= 32:
        return f"is {len(value)} characters long (3 to 32)"
    if not _NAME_CHARS.match(value):
        return "must begin with a letter and hold only letters, digits and single dashes"
    if "--" in value or value.endswith("-"):
        return "may hold single dashes only between letters or digits"
    return None


def v2_names(plan: DeploymentPlan) -> list[Issue]:
    """V2_SCHEMA: name, endpoint_name and environment are required; QUOTAS: the naming rules
    and, for Kubernetes endpoints, endpoint name plus deployment name 6 to 62 characters."""
    found: list[Issue] = []
    for key in ("name", "endpoint_name", "environment"):
        if plan.get(key) in (None, ""):
            found.append(
                _fail(
                    plan,
                    "required",
                    (key,),
                    f"{key} is missing (required)",
                    f"add {key}",
                    V2_DOCS,
                    "V2_SCHEMA",
                )
            )
    for key in ("name", "endpoint_name"):
        value = plan.get(key)
        problem = _name_problem(value) if isinstance(value, str) and value else None
        if problem:
            found.append(
                _fail(
                    plan,
                    "names",
                    (key,),
                    f"{key} {value!r} {problem}",
                    f"rename {key} (e.g. {_suggest_name(value)})",
                    QUOTAS_DOCS,
                    "QUOTAS",
                )
            )
    name, endpoint = plan.get("name"), plan.get("endpoint_name")
    if isinstance(name, str) and isinstance(endpoint, str) and name and endpoint:
        total = len(name) + len(endpoint)
        if not 6 <= total <= 62:
            found.append(
                _fail(
                    plan,
                    "names",
                    ("name",),
                    f"endpoint name plus deployment name is {total} characters; a "
                    "Kubernetes endpoint needs 6 to 62 in total",
                    "shorten (or lengthen) the endpoint or deployment name",
                    QUOTAS_DOCS,
                    "QUOTAS",
                )
            )
    kind = plan.get("type")
    if kind is not None and str(kind).lower() != "kubernetes":
        found.append(
            _fail(
                plan,
                "type",
                ("type",),
                f"type is {kind!r}: a deployment on this cluster is type kubernetes "
                "(managed deployments run on Azure's compute, not here)",
                "set type: kubernetes",
                V2_DOCS,
                "V2_SCHEMA",
            )
        )
    return found


def _suggest_name(value: str) -> str:
    """A name that keeps QUOTAS' rules, as close to ``value`` as it can."""
    text = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9-]+", "-", value)).strip("-")
    if not text or not text[0].isalpha():
        text = "d" + text
    return text[:32].rstrip("-").ljust(3, "x")


def v2_scale(plan: DeploymentPlan) -> list[Issue]:
    """V2_SCHEMA: scale_settings.type is default or target_utilization (default
    target_utilization); instance_count "is only required if you're using the default scale
    type"; max_instances defaults to 1. The ranges (1 <= min <= max, 1..100 %, polling >= 1)
    are preflight's own rules: the schema page gives none."""
    found: list[Issue] = []
    scale = plan.get("scale_settings") or {}
    kind = scale.get("type") or "target_utilization"
    count = plan.get("instance_count")
    if kind not in ("default", "target_utilization"):
        return [
            _fail(
                plan,
                "scale",
                ("scale_settings", "type"),
                f"scale_settings.type is {kind!r}: allowed values are default and "
                "target_utilization",
                "set scale_settings.type to default (with instance_count) or target_utilization",
                V2_DOCS,
                "V2_SCHEMA",
            )
        ]
    if count is not None and count < 1:
        found.append(
            _fail(
                plan,
                "scale",
                ("instance_count",),
                f"instance_count is {count}: at least one instance serves requests",
                "set instance_count to 1 or more",
                V2_DOCS,
                "V2_SCHEMA",
            )
        )
    if kind == "default":
        if count is None:
            found.append(
                _fail(
                    plan,
                    "scale",
                    ("scale_settings", "type"),
                    "scale_settings.type is default but instance_count is missing "
                    "(required for the default scale type)",
                    "add instance_count",
                    V2_DOCS,
                    "V2_SCHEMA",
                )
            )
        extra = [
            k
            for k in (
                "min_instances",
                "max_instances",
                "polling_interval",
                "target_utilization_percentage",
            )
            if k in scale
        ]
        if extra:
            found.append(
                _fail(
                    plan,
                    "scale",
                    ("scale_settings", extra[0]),
                    f"scale_settings.{', '.join(extra)} belong to type "
                    "target_utilization; az ml refuses them with type default",
                    "remove them, or set scale_settings.type: target_utilization",
                    V2_DOCS,
                    "V2_SCHEMA",
                )
            )
        return found
    own = "preflight's own rule (the schema gives no range)"
    for key in ("min_instances", "max_instances", "polling_interval"):
        found += _positive(plan, ("scale_settings", key), "scale", V2_DOCS, own)
    low, high = _given(scale, "min_instances", 1), _given(scale, "max_instances", 1)
    if low > high:
        found.append(
            _fail(
                plan,
                "scale",
                ("scale_settings", "min_instances"),
                f"scale_settings.min_instances {low} is above max_instances {high}"
                + ("" if "max_instances" in scale else " (its default)"),
                f"raise scale_settings.max_instances to at least {low}",
                V2_DOCS,
                own,
            )
        )
    target = scale.get("target_utilization_percentage")
    if target is not None and not 1 <= target <= 100:
        found.append(
            _fail(
                plan,
                "scale",
                ("scale_settings", "target_utilization_percentage"),
                f"scale_settings.target_utilization_percentage is {target}: a "
                "percentage from 1 to 100",
                "set it from 1 to 100 (default 70)",
                V2_DOCS,
                own,
            )
        )
    if scale.get("max_instances") is None and low <= 1:
        found.append(
            _warn(
                plan,
                "scale",
                ("scale_settings",) if scale else ("name",),
                "scale_settings.type is target_utilization but max_instances is not "
                "given: it defaults to 1, so the autoscaler can never add a replica",
                "set scale_settings.max_instances to the most replicas you want",
                V2_DOCS,
                "V2_SCHEMA",
            )
        )
    return found


def v2_requests(plan: DeploymentPlan) -> list[Issue]:
    """QUOTAS: "Max request time-out at endpoint level | 300 seconds | Kubernetes online
    endpoint"; V2_SCHEMA: max_concurrent_requests_per_instance "Do not change this setting from
    the default value unless instructed by Microsoft Technical Support"; probe values "Minimum
    value is 1". max_queue_wait_ms >= 1 is preflight's own rule."""
    found: list[Issue] = []
    timeout = plan.get("request_settings", "request_timeout_ms")
    if timeout is not None and not 1 <= timeout <= MAX_TIMEOUT_MS:
        found.append(
            _fail(
                plan,
                "timeouts",
                ("request_settings", "request_timeout_ms"),
                f"request_settings.request_timeout_ms is {timeout}: a Kubernetes "
                "online endpoint allows at most 300000 (300 seconds)",
                "set request_timeout_ms from 1 to 300000 (default 5000)",
                QUOTAS_DOCS,
                "QUOTAS",
            )
        )
    found += _positive(
        plan,
        ("request_settings", "max_queue_wait_ms"),
        "timeouts",
        V2_DOCS,
        "preflight's own rule (the schema gives no range)",
    )
    found += _concurrency(
        plan, ("request_settings", "max_concurrent_requests_per_instance"), V2_DOCS, "V2_SCHEMA"
    )
    for probe in ("liveness_probe", "readiness_probe"):
        for key in ("initial_delay", "period", "timeout", "success_threshold", "failure_threshold"):
            minimum = 0 if key == "initial_delay" else 1
            found += _positive(plan, (probe, key), "probes", V2_DOCS, "V2_SCHEMA", minimum)
    return found


def v2_resources(plan: DeploymentPlan) -> list[Issue]:
    """INSTANCE_TYPES' resources table: requests cpu and memory required, not zero, memory at
    least 1 MB; limits optional unless a GPU is asked for; nvidia.com/gpu only in limits and
    whole. Kubernetes: a request may not exceed its limit."""
    if plan.get("resources") is None:
        return []
    found: list[Issue] = []
    for resource in ("cpu", "memory"):
        value = plan.requests.get(resource)
        key = ("resources", "requests", resource)
        if value is None:
            found.append(
                _fail(
                    plan,
                    "resources",
                    key,
                    f"resources.requests.{resource} is missing (required when resources are given)",
                    f"add resources.requests.{resource}",
                    INSTANCE_DOCS,
                    "INSTANCE_TYPES",
                )
            )
        elif value <= 0:
            found.append(
                _fail(
                    plan,
                    "resources",
                    key,
                    f"resources.requests.{resource} is zero",
                    f"set resources.requests.{resource} above zero",
                    INSTANCE_DOCS,
                    "INSTANCE_TYPES",
                )
            )
    memory = plan.requests.get("memory")
    if memory is not None and 0 < memory < 1e6:
        found.append(
            _fail(
                plan,
                "resources",
                ("resources", "requests", "memory"),
                f"resources.requests.memory {amount_text('memory', memory)} is below "
                "1 MB (memory can't be less than 1 MB)",
                "set resources.requests.memory to at least 1Mi",
                INSTANCE_DOCS,
                "INSTANCE_TYPES",
            )
        )
    if GPU_RESOURCE in plan.requests:
        found.append(
            _fail(
                plan,
                "gpu",
                ("resources", "requests", GPU_RESOURCE),
                f"resources.requests.{GPU_RESOURCE} is given; a GPU count can be "
                "specified only in limits",
                f"move {GPU_RESOURCE} to resources.limits",
                INSTANCE_DOCS,
                "INSTANCE_TYPES",
            )
        )
    gpu = plan.limits.get(GPU_RESOURCE)
    if gpu is not None and gpu != int(gpu):
        found.append(
            _fail(
                plan,
                "gpu",
                ("resources", "limits", GPU_RESOURCE),
                f"resources.limits.{GPU_RESOURCE} is {gpu:g}: GPUs are whole",
                f"set resources.limits.{GPU_RESOURCE} to a whole number",
                INSTANCE_DOCS,
                "INSTANCE_TYPES",
            )
        )
    if gpu:
        for resource in ("cpu", "memory"):
            if resource not in plan.limits:
                found.append(
                    _fail(
                        plan,
                        "gpu",
                        ("resources", "limits"),
                        f"resources.limits.{resource} is missing; with a GPU the "
                        "limits section needs cpu and memory too",
                        f"add resources.limits.{resource}",
                        INSTANCE_DOCS,
                        "INSTANCE_TYPES",
                    )
                )
    for resource in ("cpu", "memory"):
        low, high = plan.requests.get(resource), plan.limits.get(resource)
        if low is not None and high is not None and low > high:
            found.append(
                _fail(
                    plan,
                    "resources",
                    ("resources", "requests", resource),
                    f"resources.requests.{resource} {amount_text(resource, low)} is "
                    f"above limits.{resource} {amount_text(resource, high)}",
                    f"lower the request to at most {amount_text(resource, high)} or "
                    "raise the limit",
                    INSTANCE_DOCS,
                    "Kubernetes",
                )
            )
    return found


V2_RULES: tuple[Rule, ...] = (v2_names, v2_scale, v2_requests, v2_resources)


# -- the instance type a v2 deployment names ------------------------------------------------------


def v2_instance_type(
    plan: DeploymentPlan, chosen: InstanceType | None, known_names: list[str], cluster_read: bool
) -> list[Issue]:
    """INSTANCE_TYPES: the instance type must exist; "the resource limits must be less than the
    instance type limits. Otherwise, deployment fails" (read as <=: equality is not said to
    fail); an MLflow model needs requests of at least 2 CPU cores and 4 GB memory."""
    name = plan.instance_type
    found: list[Issue] = []
    if chosen is None and name:
        where = "in the cluster or --instance-types" if cluster_read else "in --instance-types"
        status = "fail" if cluster_read else "warn"
        known = ", ".join(sorted(known_names)) or "none"
        issue = Issue(
            status,
            "instance-type",
            plan.at("instance_type"),
            f"instance_type {name!r} is not defined {where} (defined: {known})"
            + ("" if cluster_read else "; the cluster's could not be read"),
            f"create InstanceType {name} (kubectl apply -f ...) or name a defined one",
            INSTANCE_DOCS,
            "INSTANCE_TYPES",
        )
        return [issue]
    if chosen is None:
        return found
    for resource in ("cpu", "memory", GPU_RESOURCE):
        mine, theirs = plan.limits.get(resource), chosen.limits.get(resource)
        if mine is not None and theirs is not None and mine > theirs:
            found.append(
                _fail(
                    plan,
                    "instance-type",
                    ("resources", "limits", resource),
                    f"resources.limits.{resource} {amount_text(resource, mine)} is "
                    f"above the limit of instance type {chosen.name} "
                    f"({amount_text(resource, theirs)}): the deployment fails",
                    f"lower resources.limits.{resource} to at most "
                    f"{amount_text(resource, theirs)}, or use an instance type "
                    "with larger limits",
                    INSTANCE_DOCS,
                    "INSTANCE_TYPES",
                )
            )
    model = plan.get("model")
    if isinstance(model, dict) and str(model.get("type", "")).lower() == "mlflow_model":
        cpu = plan.requests.get("cpu", chosen.request("cpu"))
        memory = plan.requests.get("memory", chosen.request("memory"))
        if cpu < 2 or memory < 4 * GB:
            found.append(
                _fail(
                    plan,
                    "mlflow",
                    ("model",),
                    f"an MLflow model needs requests of at least 2 CPU cores and 4 GB "
                    f"memory; this deployment requests {amount_text('cpu', cpu)} / "
                    f"{amount_text('memory', memory)}",
                    "raise resources.requests (or use an instance type) to at least "
                    "cpu 2 and memory 4Gi",
                    INSTANCE_DOCS,
                    "INSTANCE_TYPES",
                )
            )
    return found
