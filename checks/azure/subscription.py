"""``azure.subscription``: the cluster and the Azure ML workspace share a subscription; across
subscriptions the cluster must be attached through Azure Arc, from the workspace's subscription:
https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension#limitations.
The cluster's subscription comes from ``--set subscription_id`` or the ``aks_json`` file, the
workspace's from ``--set workspace_id``; no Azure call is made.
"""

from __future__ import annotations

from preflight.api import Check, Context, Finding, parse_resource_id
from preflight.checks._shared.cluster_resource import (
    DOCS_ARC_CONNECT,
    DOCS_LIMITATIONS,
    PARAMETERS,
    VALIDATORS,
)
from preflight.checks.azure.cluster_parameters import CLUSTER_PARAMETERS, aks_json_subscription

CROSS_SUBSCRIPTION = "cross-subscription attach needs Azure Arc"
WORKSPACE_TYPE = "Microsoft.MachineLearningServices/workspaces"


def validate_workspace_id(value: str) -> None:
    """``--set workspace_id`` must be a workspace's full resource id (exit 2 otherwise)."""
    parts = parse_resource_id(value)
    kind = f"{parts.get('provider', '')}/{parts.get('type', '')}".lower()
    if not parts.get("subscription_id") or kind != WORKSPACE_TYPE.lower():
        raise ValueError(
            "not a workspace resource id: expected /subscriptions/<sub>/resourceGroups/<rg>/"
            "providers/Microsoft.MachineLearningServices/workspaces/<name> (`az ml workspace "
            "show --query id`)"
        )


class AzureSubscription(Check):
    id = "azure.subscription"
    title = "Cluster and workspace share a subscription (else Azure Arc)"
    category = "azure"
    docs = DOCS_LIMITATIONS
    parameters = {**CLUSTER_PARAMETERS, "workspace_id": PARAMETERS["workspace_id"]}
    validators = {**VALIDATORS, "workspace_id": validate_workspace_id}

    def run(self, ctx: Context) -> list[Finding]:
        workspace_id = ctx.param("workspace_id")
        if not workspace_id:
            return [
                Finding.skipped(
                    "workspace_id",
                    "skipped: no workspace named",
                    "add --set workspace_id=/subscriptions/<sub>/resourceGroups/<rg>/providers/"
                    "Microsoft.MachineLearningServices/workspaces/<name> (`az ml workspace show "
                    "--query id`)",
                )
            ]
        workspace = parse_resource_id(workspace_id)
        ws_sub = workspace.get("subscription_id", "")
        cluster_sub, where = _cluster_subscription(ctx)
        kind = "arc" if (ctx.param("cluster_type") or "").strip().lower() == "arc" else "aks"
        details = {
            "workspace_id": workspace_id,
            "workspace_subscription": ws_sub,
            "cluster_subscription": cluster_sub or None,
            "cluster_subscription_from": where or None,
            "cluster_type": kind,
        }
        if not cluster_sub:
            return [
                Finding.skipped(
                    "subscription_id",
                    "skipped: the cluster's subscription is not known (workspace in "
                    f"{ws_sub}; preflight does not assume the cluster is there too)",
                    "add --set subscription_id=<cluster's subscription> (or --set aks_json=FILE "
                    "from `az aks show -o json`)",
                    **details,
                )
            ]
        if cluster_sub.lower() == ws_sub.lower():
            noun = "Arc-enabled cluster" if kind == "arc" else "AKS cluster"
            return [
                Finding.passed(
                    "subscription_id",
                    f"the {noun} and the workspace are both in subscription {ws_sub}",
                    **details,
                )
            ]
        if kind == "aks":
            return [
                Finding.failed(
                    "subscription_id",
                    f"the AKS cluster is in subscription {cluster_sub}, the workspace in {ws_sub}: "
                    f"Azure ML does not attach an AKS cluster across subscriptions "
                    f"({CROSS_SUBSCRIPTION})",
                    f"connect the cluster to Azure Arc in the workspace's subscription (`az "
                    f"connectedk8s connect --subscription {ws_sub} -g <rg> -n <name>`) and "
                    "install the extension on, and attach, the Arc-enabled cluster "
                    "(--set cluster_type=arc); or use a workspace in subscription "
                    f"{cluster_sub}",
                    DOCS_LIMITATIONS,
                    **details,
                )
            ]
        # The limitations (DOCS_LIMITATIONS): "connect it to Azure-Arc and specify in the same
        # subscription as your Azure Machine Learning workspace": the Arc resource itself belongs
        # in that subscription.
        return [
            Finding.failed(
                "subscription_id",
                f"the Arc-enabled cluster resource is in subscription {cluster_sub}, the "
                f"workspace in {ws_sub}: Azure ML attaches Arc-enabled clusters from the "
                "workspace's own subscription",
                f"connect the cluster to Azure Arc again in subscription {ws_sub} (`az "
                f"connectedk8s connect --subscription {ws_sub} -g <rg> -n <name>`), or use a "
                f"workspace in subscription {cluster_sub}",
                DOCS_ARC_CONNECT,
                **details,
            )
        ]


def _cluster_subscription(ctx: Context) -> tuple[str, str]:
    """The cluster's subscription: --set subscription_id, else the aks_json file's id."""
    value = ctx.param("subscription_id")
    if value:
        return value, "--set subscription_id"
    sub = aks_json_subscription(ctx)
    if sub:
        return sub, f"aks_json {ctx.param('aks_json')}"
    return "", ""


CHECKS = [AzureSubscription()]
