"""deployment.config's rules for a v1 ``deploymentconfig.json`` (AKS web service), each citing
its source (the names are explained in issues.py): seed 000's table, azureml-core's own
validation, and the scoring-timeout range of the v1.0.43 release notes."""

from __future__ import annotations

import re

from preflight.checks.deployment.issues import (
    MAX_TIMEOUT_MS,
    RELEASE_DOCS,
    V1_DOCS,
    Issue,
    Rule,
    at_least,
    concurrency,
    fail,
    given,
    warn,
)
from preflight.checks.deployment.plan_file import DeploymentPlan

#: azureml-core's NAMESPACE_REGEX (_model_management/_constants.py), and seed 000's words
NAMESPACE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def v1_compute_type(plan: DeploymentPlan) -> list[Issue]:
    """SEED000: "For AKS, the value must be aks"; SDK_V1: computeType is required."""
    value = plan.get("computeType")
    if value is None:
        return [
            fail(
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
            fail(
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
            fail(
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
            warn(
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
            fail(
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
            fail(
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
            fail(
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
            warn(
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
            found += at_least(plan, ("autoScaler", key), "autoscaler", V1_DOCS, "SDK_V1")
        low, high = given(scaler, "minReplicas", 1), given(scaler, "maxReplicas", 10)
        if low > high:
            found.append(
                fail(
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
                fail(
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
            fail(
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
                fail(
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
                fail(
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
            fail(
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
            fail(
                plan,
                "timeouts",
                ("scoringTimeoutMs",),
                f"scoringTimeoutMs is {timeout}: AKS web services take 5 to 300000 ms",
                "set scoringTimeoutMs from 5 to 300000 (default 60000)",
                RELEASE_DOCS,
                "RELEASE_1_0_43",
            )
        )
    found += at_least(plan, ("maxQueueWaitMs",), "timeouts", V1_DOCS, "SDK_V1")
    found += concurrency(plan, ("maxConcurrentRequestsPerContainer",), V1_DOCS, "SDK_V1")
    for key in (
        "periodSeconds",
        "initialDelaySeconds",
        "timeoutSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        found += at_least(plan, ("livenessProbeRequirements", key), "probes", V1_DOCS, "SEED000")
    return found


def v1_namespace(plan: DeploymentPlan) -> list[Issue]:
    """SEED000: "Up to 63 lowercase alphanumeric ('a'-'z', '0'-'9') and hyphen ('-')
    characters. The first and last characters can't be hyphens." (azureml-core's regex)."""
    value = plan.get("namespace")
    if value is None or NAMESPACE.match(value):
        return []
    return [
        fail(
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
