"""The ``--set`` parameters that name the cluster resource, shared by the Azure checks that read it
(``azure.cluster``, ``azure.identity``, ``azure.local-accounts``, ``azure.subscription``,
``azure.authorized-ip-ranges``, ``azure.outbound``), and the subscription an offline
``aks_json`` file names (``azure.subscription`` and ``azure.providers`` both need it without
calling Azure Resource Manager). No checks here.
"""

from __future__ import annotations

from preflight.api import Context, parse_resource_id
from preflight.checks._shared.cluster_resource import parameters_named
from preflight.checks._shared.json_files import read_json

#: what every check that reads the cluster resource declares
CLUSTER_PARAMETERS = parameters_named(
    "subscription_id", "resource_group", "cluster_name", "cluster_type", "aks_json"
)


def aks_json_subscription(ctx: Context) -> str:
    """The subscription in the resource id of ``--set aks_json=FILE`` ("" without one, or when
    the file cannot be read: its start-up validation reports that)."""
    path = ctx.param("aks_json")
    if not path:
        return ""
    try:
        document = read_json(path)
    except (OSError, ValueError):
        return ""
    if not isinstance(document, dict):
        return ""
    return parse_resource_id(str(document.get("id") or "")).get("subscription_id", "")
