"""The Azure side, read from Azure Resource Manager (or a saved ``az aks show`` file):
``azure.cluster``, ``azure.identity``, ``azure.local-accounts`` and ``azure.subscription``
(cluster.py), ``azure.authorized-ip-ranges`` (authorized_ip_ranges.py, with the Service Tags
logic in service_tags.py), ``azure.providers``, ``azure.credentials``, ``azure.cli`` and
``azure.outbound``, one module each.

Registered as the entry point ``azure`` of the group ``preflight.checks`` (pyproject.toml).
"""

from __future__ import annotations

from preflight.api import Category
from preflight.checks.azure import (
    authorized_ip_ranges,
    cli,
    cluster,
    credentials,
    outbound,
    providers,
)

CATEGORIES = [Category("azure", "Azure", 40)]
CHECKS = [
    *cluster.CHECKS,
    *authorized_ip_ranges.CHECKS,
    *providers.CHECKS,
    *credentials.CHECKS,
    *cli.CHECKS,
    *outbound.CHECKS,
]
