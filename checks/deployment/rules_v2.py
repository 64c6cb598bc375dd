"""deployment.config's rules for a v2 Kubernetes online deployment YAML, each citing its source
(the names are explained in issues.py): the schema page, the instance-type page's ``resources``
rules, and the quotas page's names and timeout. The ranges the schema does not give are
preflight's own, and say so."""

from __future__ import annotations

import re

from preflight.checks._shared.instance_types import DOCS as INSTANCE_DOCS
from preflight.checks._shared.instance_types import InstanceType
from preflight.checks._shared.nodes import GPU_RESOURCE
from preflight.checks._shared.planfiles import amount_text
from preflight.checks.deployment.issues import (
    MAX_TIMEOUT_MS,
    QUOTAS_DOCS,
    V2_DOCS,
    Issue,
    Rule,
    at_least,
    concurrency,
    fail,
    given,
    warn,
)
from preflight.checks.deployment.plan_file import GB, DeploymentPlan

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
                fail(
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
                fail(
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
                fail(
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
            fail(
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
            fail(
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
            fail(
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
                fail(
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
                fail(
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
        found += at_least(plan, ("scale_settings", key), "scale", V2_DOCS, own)
    low, high = given(scale, "min_instances", 1), given(scale, "max_instances", 1)
    if low > high:
        found.append(
            fail(
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
            fail(
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
            warn(
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
            fail(
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
    found += at_least(
        plan,
        ("request_settings", "max_queue_wait_ms"),
        "timeouts",
        V2_DOCS,
        "preflight's own rule (the schema gives no range)",
    )
    found += concurrency(
        plan, ("request_settings", "max_concurrent_requests_per_instance"), V2_DOCS, "V2_SCHEMA"
    )
    for probe in ("liveness_probe", "readiness_probe"):
        for key in ("initial_delay", "period", "timeout", "success_threshold", "failure_threshold"):
            minimum = 0 if key == "initial_delay" else 1
            found += at_least(plan, (probe, key), "probes", V2_DOCS, "V2_SCHEMA", minimum)
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
                fail(
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
                fail(
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
            fail(
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
            fail(
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
            fail(
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
                    fail(
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
                fail(
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
                fail(
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
                fail(
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
