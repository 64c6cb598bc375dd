"""``azure.providers``: the resource providers the extension's install and attach go through are
registered in the subscriptions involved.

The extension's deployment page
(https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension): "If you
haven't previously used cluster extensions, you need to register the KubernetesConfiguration
service provider." The AKS cluster-extension page adds Microsoft.ContainerService; Arc-enabled
clusters live in Microsoft.Kubernetes and also need Microsoft.ExtendedLocation (Arc system
requirements), and on Arc the Azure CLI creates an Azure Relay for the extension (Microsoft.Relay;
azure-cli-extensions AzureMLKubernetes.py: a warn, no document requires it); the workspace and
its compute attach in
Microsoft.MachineLearningServices (the workspace's subscription when ``workspace_id`` names one).
Each provider is one ``GET /subscriptions/{id}/providers/{namespace}`` and all of them are asked
at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from preflight.api import ArmError, Check, Context, Finding, Status, jsonshape, parse_resource_id
from preflight.checks._shared.cluster_resource import (
    PROVIDERS_API,
    VALIDATORS,
    arm_error_problem,
    arm_skip,
    parameters_named,
)
from preflight.checks._shared.plan import cluster_type_of
from preflight.checks.azure.cluster_parameters import aks_json_subscription

#: what is read of ``GET /subscriptions/S/providers/NS``
PROVIDER_SHAPE = jsonshape.Obj({"namespace": jsonshape.STR, "registrationState": jsonshape.STR})

DOCS_PROVIDERS = (
    "https://learn.microsoft.com/azure/azure-resource-manager/management/"
    "resource-providers-and-types#register-resource-provider"
)
#: "the following Azure resource providers must be registered in your subscription:
#: Microsoft.Kubernetes, Microsoft.KubernetesConfiguration, Microsoft.ExtendedLocation"
#: (azure-management-docs azure-arc/kubernetes/system-requirements.md, 2024-10-08)
DOCS_ARC_PROVIDERS = (
    "https://learn.microsoft.com/azure/azure-arc/kubernetes/system-requirements"
    "#azure-resource-providers"
)
DOCS_KUBERNETES_CONFIGURATION = (
    "https://learn.microsoft.com/azure/aks/dapr#register-the-kubernetesconfiguration-resource-"
    "provider"
)


@dataclass(frozen=True)
class Need:
    namespace: str
    subscription: str
    why: str
    #: what an unregistered provider means: FAIL when a document requires it, WARN when only
    #: the Azure CLI's code shows it is used (the install may still register it)
    missing: Status = Status.FAIL
    docs: str | None = None


def needed(ctx: Context) -> tuple[list[Need], list[str]]:
    """The providers to look at, and the --set parameters that would add more."""
    kind, _ = cluster_type_of(ctx)
    cluster_sub = ctx.param("subscription_id") or aks_json_subscription(ctx)
    ws_sub = parse_resource_id(ctx.param("workspace_id") or "").get("subscription_id", "")
    needs: list[Need] = []
    missing: list[str] = []
    if cluster_sub:
        needs.append(
            Need(
                "Microsoft.KubernetesConfiguration",
                cluster_sub,
                "cluster extensions (az k8s-extension create)",
            )
        )
        if kind == "arc":
            needs.append(Need("Microsoft.Kubernetes", cluster_sub, "Arc-enabled clusters"))
            needs.append(
                Need(
                    "Microsoft.ExtendedLocation",
                    cluster_sub,
                    "Arc-enabled Kubernetes (custom locations over cluster connect)",
                    docs=DOCS_ARC_PROVIDERS,
                )
            )
            needs.append(
                Need(
                    "Microsoft.Relay",
                    cluster_sub,
                    "the Azure Relay that `az k8s-extension create` makes for the extension on "
                    "Arc (relayserver)",
                    Status.WARN,
                )
            )
        else:
            needs.append(Need("Microsoft.ContainerService", cluster_sub, "AKS clusters"))
    else:
        missing.append("subscription_id")
    if ws_sub or cluster_sub:
        needs.append(
            Need(
                "Microsoft.MachineLearningServices",
                ws_sub or cluster_sub,
                "the Azure ML workspace and attached Kubernetes compute",
            )
        )
    if not ws_sub:
        missing.append("workspace_id")
    return needs, missing


class AzureProviders(Check):
    id = "azure.providers"
    title = "Resource providers registered"
    category = "azure"
    docs = DOCS_PROVIDERS  # needs ARM: see cluster_resource.arm_skip for why it is not declared
    parameters = parameters_named("subscription_id", "cluster_type", "workspace_id", "aks_json")
    validators = VALIDATORS

    async def run(self, ctx: Context) -> list[Finding]:
        needs, missing = needed(ctx)
        if not needs:
            return [
                Finding.skipped(
                    "providers",
                    "skipped: no subscription named",
                    "add --set subscription_id=<cluster's subscription> and --set "
                    "workspace_id=<workspace resource id>",
                )
            ]
        skip = await arm_skip(ctx)
        if skip is not None:
            return [skip]
        findings = list(await asyncio.gather(*(self._one(ctx, need) for need in needs)))
        if missing == ["workspace_id"]:
            for finding in findings:
                if finding.target == "Microsoft.MachineLearningServices":
                    finding.details["assumed"] = (
                        "no --set workspace_id: looked in the cluster's subscription"
                    )
        return findings

    async def _one(self, ctx: Context, need: Need) -> Finding:
        path = (
            f"/subscriptions/{quote(need.subscription, safe='')}/providers/"
            f"{quote(need.namespace, safe='')}"
        )
        details: dict[str, Any] = {"subscription_id": need.subscription, "needed_for": need.why}
        register = (
            f"az provider register --namespace {need.namespace} --subscription {need.subscription}"
        )
        try:
            document = await ctx.arm.get(path, PROVIDERS_API, PROVIDER_SHAPE)
        except ArmError as exc:
            problem = arm_error_problem(
                ctx,
                exc,
                what=f"provider {need.namespace} in subscription {need.subscription}",
                permission=f"Reader on subscription {need.subscription}",
                notfound=(
                    f"subscription {need.subscription} or provider {need.namespace} not found "
                    "(or not visible to the signed-in identity)",
                    "check --set subscription_id / workspace_id (`az account list -o table`)",
                ),
            )
            return Finding(
                problem.status,
                need.namespace,
                problem.message,
                problem.remediation,
                problem.docs,
                details={**details, **problem.details},
            )
        state = str(document.get("registrationState") or "")
        details["registration_state"] = state or None
        docs = need.docs or (
            DOCS_KUBERNETES_CONFIGURATION
            if need.namespace == "Microsoft.KubernetesConfiguration"
            else DOCS_PROVIDERS
        )
        where = f"in subscription {need.subscription}"
        if state.lower() == "registered":
            return Finding.passed(
                need.namespace, f"{need.namespace} is registered {where} ({need.why})", **details
            )
        if state.lower() == "registering":
            return Finding.warned(
                need.namespace,
                f"{need.namespace} is still registering {where}: {need.why} fail until it is "
                "Registered",
                f"wait a few minutes (`az provider show --namespace {need.namespace} "
                f"--subscription {need.subscription} --query registrationState`)",
                docs,
                **details,
            )
        return Finding(
            need.missing,
            need.namespace,
            f"{need.namespace} is {state or 'not registered'} {where}: {need.why} cannot be "
            "created there",
            f"register it: {register} (needs permission to register providers: Contributor "
            "on the subscription)",
            docs,
            details=details,
        )


CHECKS = [AzureProviders()]
