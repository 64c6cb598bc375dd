"""The Azure side, read from Azure Resource Manager (or a saved ``az aks show`` file), one module
per check: ``azure.cluster`` (cluster.py), ``azure.identity`` (identity.py),
``azure.local-accounts`` (local_accounts.py), ``azure.subscription`` (subscription.py),
``azure.authorized-ip-ranges`` (authorized_ip_ranges.py, with the Service Tags logic in
service_tags.py), ``azure.providers``, ``azure.credentials``, ``azure.cli``, ``azure.outbound``,
``azure.region`` (region.py, its table in region_data.py, the workspace read in workspace.py),
``azure.monitoring`` (monitoring.py) and ``azure.policy`` (policy.py, its rules in
policy_rules.py); the parameters naming the cluster resource are in cluster_parameters.py.

Registered as the entry point ``azure`` of the group ``preflight.checks`` (pyproject.toml).
"""

from __future__ import annotations

from preflight.api import Category
from preflight.checks.azure import (
    authorized_ip_ranges,
    cli,
    cluster,
    credentials,
    identity,
    local_accounts,
    monitoring,
    outbound,
    policy,
    providers,
    region,
    subscription,
)

CATEGORIES = [Category("azure", "Azure", 40)]
CHECKS = [
    *cluster.CHECKS,
    *identity.CHECKS,
    *local_accounts.CHECKS,
    *subscription.CHECKS,
    *authorized_ip_ranges.CHECKS,
    *providers.CHECKS,
    *credentials.CHECKS,
    *cli.CHECKS,
    *outbound.CHECKS,
    *region.CHECKS,
    *monitoring.CHECKS,
    *policy.CHECKS,
]
