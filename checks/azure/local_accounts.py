"""``azure.local-accounts``: the Azure ML control plane can reach the AKS cluster: either the
cluster keeps its local accounts, or Trusted Access binds the workspace to the cluster.

- The extension's limitations: "Disabling local accounts for AKS is not supported by Azure
  Machine Learning"
  (https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension#limitations,
  2025-03-07; https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad).
- The supported alternative: a Trusted Access role binding of the workspace with the role
  ``Microsoft.MachineLearningServices/workspaces/mlworkload``, which covers "AKS cluster with
  local account disabled" (Azure/AML-Kubernetes ``docs/azureml-aks-ta-support.md``, 2024-07-05;
  the attach page, how-to-attach-kubernetes-to-workspace.md 2025-03-08, names the Trusted Access
  feature too). "AzureML role binding is per workspace", and "AzureUSGovernment, AzureChinaCloud
  and AirGap clouds have not enabled this feature". The bindings are
  ``GET {cluster}/trustedAccessRoleBindings`` (api-version 2024-09-01, azure-rest-api-specs
  ``TrustedAccessRoleBindings_List.json``); ``az aks trustedaccess rolebinding create`` makes
  one (azure-aks-docs trusted-access-feature.md, Azure CLI 2.53.0 or later).

Read from the cluster resource (checks/_shared/cluster_resource.py); an Arc-enabled cluster has
none to check.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from preflight.api import ArmError, Check, Context, Finding, Status, jsonshape, parse_resource_id
from preflight.checks._shared.cluster_resource import (
    AKS_API,
    DOCS_LOCAL_ACCOUNTS,
    PARAMETERS,
    VALIDATORS,
    ClusterInfo,
    arm_error_problem,
    arm_missing,
    read_cluster,
)
from preflight.checks.azure.cluster_parameters import CLUSTER_PARAMETERS
from preflight.checks.azure.subscription import validate_workspace_id

ML_ROLE = "Microsoft.MachineLearningServices/workspaces/mlworkload"
DOCS_TRUSTED_ACCESS = (
    "https://github.com/Azure/AML-Kubernetes/blob/master/docs/azureml-aks-ta-support.md"
)
DOCS_TRUSTED_ACCESS_AKS = "https://learn.microsoft.com/azure/aks/trusted-access-feature"
#: the clouds where Azure ML offers Trusted Access (the AML-Kubernetes page above)
TRUSTED_ACCESS_CLOUDS = ("AzureCloud",)
BINDING = jsonshape.Obj(
    {
        "id": jsonshape.STR,
        "name": jsonshape.STR,
        "properties": jsonshape.Obj(
            {
                "sourceResourceId": jsonshape.STR,
                "roles": jsonshape.Arr(jsonshape.STR),
                "provisioningState": jsonshape.STR,
            }
        ),
    }
)
TARGET = "disableLocalAccounts"


class AzureLocalAccounts(Check):
    id = "azure.local-accounts"
    title = "Local accounts not disabled, or Trusted Access for the workspace"
    category = "azure"
    docs = DOCS_LOCAL_ACCOUNTS
    parameters = {**CLUSTER_PARAMETERS, "workspace_id": PARAMETERS["workspace_id"]}
    validators = {**VALIDATORS, "workspace_id": validate_workspace_id}

    async def run(self, ctx: Context) -> list[Finding]:
        read = await read_cluster(ctx)
        if read.cluster is None:
            return [read.failure(TARGET, "local accounts")]
        info = read.cluster
        if info.kind == "arc":
            return [
                Finding.skipped(
                    TARGET,
                    "not applicable: local accounts are an AKS setting; an Arc-enabled cluster "
                    "has none to check",
                    "nothing to do for cluster_type=arc",
                    **info.details(),
                )
            ]
        disabled = info.props.get("disableLocalAccounts")
        details = {**info.details(), "disable_local_accounts": disabled}
        if disabled is True:
            return [await _disabled(ctx, info, details)]
        return [
            Finding.passed(
                TARGET,
                f"{info.name} keeps local accounts enabled"
                + (" (the default)" if disabled is None else ""),
                **details,
            )
        ]


def _commands(ctx: Context, info: ClusterInfo) -> tuple[str, str]:
    """How to create the Trusted Access binding, and how to enable local accounts instead."""
    workspace = ctx.param("workspace_id") or "<workspace resource id>"
    name = parse_resource_id(workspace).get("name", "")
    binding = re.sub(r"[^A-Za-z0-9-]", "", f"azureml-{name}" if name else "azureml")[:24]
    create = (
        f"az aks trustedaccess rolebinding create --resource-group {info.resource_group} "
        f"--cluster-name {info.name} --name {binding} --source-resource-id {workspace} "
        f"--roles {ML_ROLE}"
    )
    enable = f"az aks update -g {info.resource_group} -n {info.name} --enable-local-accounts"
    return create, enable


async def _disabled(ctx: Context, info: ClusterInfo, details: dict[str, Any]) -> Finding:
    create, enable = _commands(ctx, info)
    cloud = ctx.profile.cloud
    base = f"{info.name} has local accounts disabled, which the Azure ML extension does not support"
    if cloud not in TRUSTED_ACCESS_CLOUDS:
        return Finding.failed(
            TARGET,
            f"{base}, and Azure ML offers no Trusted Access in {cloud}",
            f"enable them: {enable}",
            DOCS_LOCAL_ACCOUNTS,
            **details,
            trusted_access=f"not offered in {cloud} ({DOCS_TRUSTED_ACCESS})",
        )
    missing = await arm_missing(ctx)
    if missing is not None:
        return Finding.failed(
            TARGET,
            f"{base} unless Trusted Access binds the workspace to it, which was not checked "
            f"({missing[0]})",
            f"enable them: {enable}; or, if a Trusted Access role binding exists (`az aks "
            f"trustedaccess rolebinding list -g {info.resource_group} --cluster-name "
            f"{info.name}`), run preflight with Azure credentials to confirm it; or create one: "
            f"{create}",
            DOCS_LOCAL_ACCOUNTS,
            **details,
            trusted_access="not checked",
        )
    path = f"{quote(info.resource_id, safe='/')}/trustedAccessRoleBindings"
    try:
        bindings = await ctx.arm.list(path, AKS_API, item_shape=BINDING)
    except ArmError as exc:
        problem = arm_error_problem(
            ctx,
            exc,
            what=f"the Trusted Access role bindings of {info.name}",
            permission=(
                "Reader (Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/"
                f"read) on {info.name}"
            ),
        )
        return Finding(
            Status.WARN,
            TARGET,
            f"{base} unless Trusted Access binds the workspace to it, and the role bindings "
            f"could not be read: {problem.message}",
            f"{problem.remediation}; without a binding: {create}, or {enable}",
            DOCS_TRUSTED_ACCESS,
            details={**details, **problem.details},
        )
    return _judge(ctx, info, bindings, details, base, create, enable)


def _judge(
    ctx: Context,
    info: ClusterInfo,
    bindings: list[dict[str, Any]],
    details: dict[str, Any],
    base: str,
    create: str,
    enable: str,
) -> Finding:
    ml = []
    for binding in bindings:
        props = binding.get("properties") or {}
        roles = [str(r).lower() for r in props.get("roles") or []]
        if ML_ROLE.lower() in roles:
            ml.append(
                {
                    "name": binding.get("name"),
                    "workspace": props.get("sourceResourceId"),
                    "state": props.get("provisioningState"),
                }
            )
    details = {**details, "trusted_access_bindings": ml, "bindings_read": len(bindings)}
    workspace = (ctx.param("workspace_id") or "").strip()
    todo = f"create a Trusted Access role binding for the workspace: {create}; or {enable}"
    if not ml:
        return Finding.failed(
            TARGET,
            f"{base}, and no Trusted Access role binding gives Azure ML ({ML_ROLE}) access",
            todo,
            DOCS_TRUSTED_ACCESS,
            **details,
        )
    if not workspace:
        named = ", ".join(str(b["workspace"]) for b in ml)
        return Finding.warned(
            TARGET,
            f"{info.name} has local accounts disabled; Trusted Access binds Azure ML workspaces "
            f"({named}), but no --set workspace_id says which one will attach the cluster "
            "(a binding is per workspace)",
            f"add --set workspace_id=<workspace resource id>; if it is not among them, {todo}",
            DOCS_TRUSTED_ACCESS,
            **details,
        )
    mine = [b for b in ml if str(b["workspace"] or "").lower() == workspace.lower()]
    if not mine:
        return Finding.failed(
            TARGET,
            f"{base}, and its Trusted Access role bindings are for other workspaces "
            f"({', '.join(str(b['workspace']) for b in ml)}): a binding is per workspace",
            todo,
            DOCS_TRUSTED_ACCESS,
            **details,
        )
    binding = mine[0]
    state = str(binding["state"] or "")
    if state and state.lower() != "succeeded":
        return Finding.warned(
            TARGET,
            f"{info.name} has local accounts disabled; the Trusted Access role binding "
            f"{binding['name']} for the workspace is {state}, not Succeeded",
            f"wait for it, or recreate it: {create}",
            DOCS_TRUSTED_ACCESS,
            **details,
        )
    return Finding.passed(
        TARGET,
        f"{info.name} has local accounts disabled, and Trusted Access (binding "
        f"{binding['name']}, role mlworkload) gives the workspace access instead: the supported "
        "alternative (compute targets attached before the binding existed must be detached and "
        "attached again)",
        **details,
    )


CHECKS = [AzureLocalAccounts()]
