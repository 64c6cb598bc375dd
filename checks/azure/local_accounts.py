"""``azure.local-accounts``: the AKS cluster keeps its local accounts, which the Azure ML extension
needs:
https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension#limitations
and https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad. Read from the
cluster resource (checks/_shared/cluster_resource.py); an Arc-enabled cluster has none to check.
"""

from __future__ import annotations

from preflight.api import Check, Context, Finding
from preflight.checks._shared.cluster_resource import DOCS_LOCAL_ACCOUNTS, VALIDATORS, read_cluster
from preflight.checks.azure.cluster_parameters import CLUSTER_PARAMETERS


class AzureLocalAccounts(Check):
    id = "azure.local-accounts"
    title = "Local accounts not disabled"
    category = "azure"
    docs = DOCS_LOCAL_ACCOUNTS
    parameters = CLUSTER_PARAMETERS
    validators = VALIDATORS

    async def run(self, ctx: Context) -> list[Finding]:
        read = await read_cluster(ctx)
        if read.cluster is None:
            return [read.failure("disableLocalAccounts", "local accounts")]
        info = read.cluster
        if info.kind == "arc":
            return [
                Finding.skipped(
                    "disableLocalAccounts",
                    "not applicable: local accounts are an AKS setting; an Arc-enabled cluster "
                    "has none to check",
                    "nothing to do for cluster_type=arc",
                    **info.details(),
                )
            ]
        disabled = info.props.get("disableLocalAccounts")
        details = {**info.details(), "disable_local_accounts": disabled}
        if disabled is True:
            return [
                Finding.failed(
                    "disableLocalAccounts",
                    f"{info.name} has local accounts disabled, which the Azure ML extension does "
                    "not support",
                    f"enable them: az aks update -g {info.resource_group} -n {info.name} "
                    "--enable-local-accounts",
                    DOCS_LOCAL_ACCOUNTS,
                    **details,
                )
            ]
        return [
            Finding.passed(
                "disableLocalAccounts",
                f"{info.name} keeps local accounts enabled"
                + (" (the default)" if disabled is None else ""),
                **details,
            )
        ]


CHECKS = [AzureLocalAccounts()]
