"""``deployment.config``: does the planned online deployment (``--deployment FILE``) keep the
documented rules, and is the cluster free of what would fight it?

The rules are in rules_v1.py (v1 ``deploymentconfig.json``: seed 000's table, azureml-core's
own validation, the scoring-timeout range) and rules_v2.py (v2 online deployment YAML: the
schema page, the instance-type page's ``resources`` rules, the quotas page's names and timeout);
issues.py names their sources. Each
broken rule is one finding targeted by the deployment's name (v2 ``name``; v1 the file name
without extension), with the file and line, the fix and the rule's source; a deployment that
keeps them all is one ``pass`` naming the defaults it relies on.

An HPA in the deployment's namespace is a ``warn``: "Don't enable Kubernetes Horizontal Pod
Autoscaler (HPA) for model deployments. Doing so causes the two auto-scaling components to
compete with each other" (seed 000, "Autoscaling"; the same words in
https://learn.microsoft.com/azure/machine-learning/how-to-kubernetes-inference-routing-azureml-fe).
Whether a given HPA targets a model deployment is not something the plan can tell, so every HPA
in that namespace is named (preflight's heuristic, DESIGN.md). The namespace: ``--set
deployment_namespace``, else v1's ``namespace``, else for v2 ``default`` (the compute's
namespace "defaults to default" when attaching the cluster:
https://learn.microsoft.com/azure/machine-learning/how-to-attach-kubernetes-to-workspace).
"""

from __future__ import annotations

from typing import Any

from preflight.api import Check, Context, Finding, kubeshapes
from preflight.checks._shared.instance_types import (
    CLUSTER_INSTANCE_TYPES,
    DEFAULT_NAME,
    InstanceType,
    combined,
    planned,
    resolve,
    validate_file,
)
from preflight.checks._shared.kube_reads import list_all, unverified
from preflight.checks.deployment.issues import ROUTER_DOCS, V1_DOCS, V2_DOCS, Issue
from preflight.checks.deployment.plan_file import DeploymentPlan, load, validate
from preflight.checks.deployment.rules_v1 import V1_RULES
from preflight.checks.deployment.rules_v2 import V2_RULES, v2_instance_type

NAMESPACE_PARAM = "deployment_namespace"
NAMESPACE_HELP = (
    "Kubernetes namespace the planned deployment runs in (v2: the compute's namespace, "
    "az ml compute attach --namespace; default: v1's namespace key, else default)"
)
NO_DEPLOYMENT = (
    "pass --deployment FILE: a v1 deploymentconfig.json or a v2 Kubernetes online deployment YAML"
)


def load_plan(ctx: Context) -> DeploymentPlan | None:
    """The planned deployment (validated before the run), or None when none was given."""
    path = ctx.input_file("deployment")
    return load(path) if path else None


def known_instance_types(ctx: Context) -> tuple[list[InstanceType], bool, dict[str, Any]]:
    """(cluster and planned instance types, whether the cluster's were read, details)."""
    planned_items = planned(ctx)
    if ctx.missing_need("kube") is not None:
        return planned_items, False, {"instance_types_read": "no cluster: --instance-types only"}
    cluster = ctx.fact(CLUSTER_INSTANCE_TYPES)
    if cluster.error is not None:
        return planned_items, False, cluster.details()
    return combined(cluster.items, planned_items), True, cluster.details()


def namespace_of(ctx: Context, plan: DeploymentPlan) -> tuple[str | None, str]:
    """The deployment's namespace and where that comes from."""
    given = ctx.param(NAMESPACE_PARAM)
    if given:
        return given, f"--set {NAMESPACE_PARAM}"
    if plan.namespace:
        return plan.namespace, "namespace in the file"
    if plan.version == "v2":
        return "default", "the compute's default namespace"
    return None, ""


class DeploymentConfig(Check):
    id = "deployment.config"
    title = "The planned online deployment keeps the documented rules"
    category = "deployment"
    docs = V2_DOCS
    parameters = {NAMESPACE_PARAM: NAMESPACE_HELP}
    input_validators = {"deployment": validate, "instance_types": validate_file}

    def run(self, ctx: Context) -> list[Finding]:
        plan = load_plan(ctx)
        if plan is None:
            return [Finding.skipped(None, "no planned deployment given", NO_DEPLOYMENT)]
        issues: list[Issue] = []
        for rule in V1_RULES if plan.version == "v1" else V2_RULES:
            issues += rule(plan)
        details: dict[str, Any] = _plan_details(plan)
        if plan.version == "v2":
            known, read, read_details = known_instance_types(ctx)
            chosen = resolve(plan.instance_type, known)
            issues += v2_instance_type(plan, chosen, [i.name for i in known], read)
            details.update(read_details)
            details["instance_type"] = plan.instance_type or f"{DEFAULT_NAME} (not named)"
            if chosen is not None:
                details["instance_type_source"] = chosen.source
        findings = [_finding(plan, issue, details) for issue in issues]
        if not issues:
            findings.append(_kept(plan, details))
        findings.append(self._hpa(ctx, plan))
        return findings

    def _hpa(self, ctx: Context, plan: DeploymentPlan) -> Finding:
        namespace, source = namespace_of(ctx, plan)
        docs = ROUTER_DOCS if plan.version == "v2" else V1_DOCS + "#autoscaling"
        details: dict[str, Any] = {"concern": "hpa", "namespace": namespace, "from": source}
        if namespace is None:
            return Finding.skipped(
                plan.name,
                "HPAs not looked for: the v1 file names no namespace",
                f"add namespace to the file or pass --set {NAMESPACE_PARAM}=NAMESPACE",
                **details,
            )
        missing = ctx.missing_need("kube")
        if missing is not None:
            return Finding.skipped(
                plan.name, f"HPAs not looked for: {missing[0]}", missing[1], **details
            )
        read = list_all(
            ctx,
            f"HorizontalPodAutoscalers in {namespace}",
            "autoscaling/v2",
            "horizontalpodautoscalers",
            namespace=namespace,
            shape=kubeshapes.OBJECT,
        )
        if not read.ok:
            return unverified(plan.name, "HorizontalPodAutoscalers", [read], **details)
        if not read.items:
            return Finding.passed(
                plan.name,
                f"no HorizontalPodAutoscaler in namespace {namespace}: azureml-fe alone scales "
                "the model's replicas",
                **details,
            )
        named = [_hpa_text(item) for item in read.items]
        details["hpas"] = named[:50]
        return Finding.warned(
            plan.name,
            f"{len(named)} HorizontalPodAutoscaler(s) in namespace {namespace} ({source}): "
            f"{', '.join(named[:5])}{' ...' if len(named) > 5 else ''}; an HPA on a model "
            "deployment competes with azureml-fe, which scales model replicas itself",
            f"delete any HPA that targets a model deployment (kubectl -n {namespace} delete hpa "
            "NAME), or deploy to a namespace without HPAs; do not enable HPA for model "
            "deployments",
            docs,
            source_rule="seed 000 / azureml-fe routing doc: don't enable HPA for model deployments",
            **details,
        )


def _hpa_text(item: dict[str, Any]) -> str:
    name = str((item.get("metadata") or {}).get("name"))
    spec = item.get("spec")
    ref = spec.get("scaleTargetRef") if isinstance(spec, dict) else None
    if isinstance(ref, dict) and ref.get("name"):
        return f"{name} (scales {ref.get('kind', '?')}/{ref.get('name')})"
    return name


def _plan_details(plan: DeploymentPlan) -> dict[str, Any]:
    return {
        "file": plan.path,
        "schema": "v1 deploymentconfig.json" if plan.version == "v1" else "v2 online deployment",
        "replicas": plan.replicas,
        "replicas_from": plan.replicas_from,
        "autoscale": plan.autoscale,
    }


def _finding(plan: DeploymentPlan, issue: Issue, details: dict[str, Any]) -> Finding:
    extra = {
        **details,
        **issue.details,
        "concern": issue.rule,
        "at": issue.at,
        "source_rule": issue.source,
    }
    message = f"{issue.at}: {issue.message}"
    if issue.status == "warn":
        return Finding.warned(plan.name, message, issue.remediation, issue.docs, **extra)
    return Finding.failed(plan.name, message, issue.remediation, issue.docs, **extra)


def _kept(plan: DeploymentPlan, details: dict[str, Any]) -> Finding:
    scale = (
        f"autoscaling up to {plan.replicas} replicas ({plan.replicas_from})"
        if plan.autoscale
        else f"{plan.replicas} replica(s) ({plan.replicas_from})"
    )
    kind = "v1 deploymentconfig.json" if plan.version == "v1" else "v2 online deployment"
    return Finding.passed(
        plan.name,
        f"{kind} {plan.path} keeps the documented rules: {scale}",
        concern="rules",
        **details,
    )


CHECKS = [DeploymentConfig()]
