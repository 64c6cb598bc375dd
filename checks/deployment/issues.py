"""What the deployment.config rules share (rules_v1.py, rules_v2.py): the finding-to-be
(``Issue``), small builders, and the documents the rules cite. A rule returns ``Issue`` s (a
``fail`` or a ``warn`` with the fix); config.py turns them into findings. Sources, cited per
rule as these names:

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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from preflight.checks.deployment.plan_file import DeploymentPlan

V1_DOCS = (
    "https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service"
)
V2_DOCS = (
    "https://learn.microsoft.com/azure/machine-learning/reference-yaml-deployment-kubernetes-online"
)
QUOTAS_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas"
RELEASE_DOCS = (
    "https://learn.microsoft.com/azure/machine-learning/v1/azure-machine-learning-release-notes"
)
ROUTER_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-kubernetes-inference-routing-azureml-fe"
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


def fail(
    plan: DeploymentPlan,
    rule: str,
    keys: tuple[str, ...],
    message: str,
    fix: str,
    docs: str,
    source: str,
) -> Issue:
    """A broken rule: the deployment fails (or ``az ml`` refuses the file)."""
    return Issue("fail", rule, plan.at(*keys), message, fix, docs, source)


def warn(
    plan: DeploymentPlan,
    rule: str,
    keys: tuple[str, ...],
    message: str,
    fix: str,
    docs: str,
    source: str,
) -> Issue:
    """A rule kept in letter but not in spirit, or evidence that is ambiguous."""
    return Issue("warn", rule, plan.at(*keys), message, fix, docs, source)


def at_least(
    plan: DeploymentPlan,
    keys: tuple[str, ...],
    rule: str,
    docs: str,
    source: str,
    minimum: float = 1,
) -> list[Issue]:
    """A fail when the value at ``keys`` is given and below ``minimum``."""
    value = plan.get(*keys)
    if value is None or value >= minimum:
        return []
    path = ".".join(keys)
    return [
        fail(
            plan,
            rule,
            keys,
            f"{path} is {value:g}; the minimum is {minimum:g}",
            f"set {path} to at least {minimum:g}",
            docs,
            source,
        )
    ]


def given(section: Any, key: str, default: int) -> Any:
    """``section[key]`` unless absent or null: then the documented default."""
    value = section.get(key) if isinstance(section, dict) else None
    return default if value is None else value


def concurrency(plan: DeploymentPlan, keys: tuple[str, ...], docs: str, source: str) -> list[Issue]:
    value = plan.get(*keys)
    path = ".".join(keys)
    if value is None:
        return []
    if value <= 0:
        return [
            fail(
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
            warn(
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
