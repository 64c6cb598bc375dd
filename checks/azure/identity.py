"""``azure.identity``: the cluster authenticates with a managed identity, not a service principal,
and has no Microsoft Entra pod identity, as the Azure ML extension's limitations require:
https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension#limitations
and https://learn.microsoft.com/azure/aks/use-managed-identity. Read from the cluster resource
(checks/_shared/cluster_resource.py); an Arc-enabled cluster only needs its system-assigned
identity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from preflight.api import Check, Context, Finding, Status
from preflight.checks._shared.cluster_resource import (
    DOCS_ARC_CONNECT,
    DOCS_LIMITATIONS,
    DOCS_MANAGED_IDENTITY,
    DOCS_POD_IDENTITY,
    VALIDATORS,
    ClusterInfo,
    read_cluster,
)
from preflight.checks.azure.cluster import POOL_LABELS, kube_view
from preflight.checks.azure.cluster_parameters import CLUSTER_PARAMETERS

#: the node label that carries the client id the node's kubelet authenticates with; Azure's
#: Karpenter provider treats a node whose label differs from the cluster's kubelet identity as
#: drifted (Azure/karpenter-provider-azure pkg/cloudprovider/drift.go, KubeletIdentityDrift)
KUBELET_LABEL = "kubernetes.azure.com/kubelet-identity-client-id"

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


class AzureIdentity(Check):
    id = "azure.identity"
    title = "Cluster uses a managed identity, not a service principal"
    category = "azure"
    docs = DOCS_MANAGED_IDENTITY
    parameters = CLUSTER_PARAMETERS
    validators = VALIDATORS

    async def run(self, ctx: Context) -> list[Finding]:
        read = await read_cluster(ctx)
        if read.cluster is None:
            return [read.failure("identity", "the cluster's identity")]
        info = read.cluster
        if info.kind == "arc":
            return [_arc_identity(info)]
        main = _aks_identity(info)
        pools = await _kubelet_pools(ctx, info, main)
        return [main, *_pod_identity(info), *pools]


def _identity_kinds(identity: Mapping[str, Any]) -> list[str]:
    text = str(identity.get("type") or "")
    return [part.strip() for part in text.split(",") if part.strip()]


def _aks_identity(info: ClusterInfo) -> Finding:
    identity = info.identity
    kinds = _identity_kinds(identity)
    managed = [k for k in kinds if k.lower() in ("systemassigned", "userassigned")]
    client_id = str((info.props.get("servicePrincipalProfile") or {}).get("clientId") or "")
    user_ids = sorted((identity.get("userAssignedIdentities") or {}).keys())
    details = {
        **info.details(),
        "identity_type": identity.get("type"),
        "service_principal_client_id": client_id or None,
        "user_assigned_identities": user_ids,
        "principal_id": identity.get("principalId"),
    }
    group, name = info.resource_group, info.name
    if managed and client_id.lower() in ("", "msi"):
        kind = " and ".join(
            "system-assigned" if k.lower() == "systemassigned" else "user-assigned" for k in managed
        )
        return Finding.passed(
            "identity",
            f"{name} uses a {kind} managed identity"
            + (f" ({', '.join(u.rsplit('/', 1)[-1] for u in user_ids)})" if user_ids else ""),
            **details,
        )
    if managed:
        return Finding.failed(
            "identity",
            f"{name} has a managed identity, but servicePrincipalProfile.clientId is still the "
            f"service principal {client_id}: a cluster converted from a service principal keeps "
            "using it until its node pools are recreated, which the Azure ML extension does "
            "not support",
            "delete and recreate every node pool (az aks nodepool add / az aks nodepool delete; "
            "updating them is not enough) before installing the extension",
            DOCS_LIMITATIONS,
            **details,
        )
    if client_id and client_id.lower() != "msi":
        shown = client_id if _GUID.match(client_id) else "a service principal"
        return Finding.failed(
            "identity",
            f"{name} uses a service principal ({shown}), which the Azure ML extension does not "
            "support: the cluster must use a managed identity",
            f"switch to a managed identity: az aks update -g {group} -n {name} "
            "--enable-managed-identity, then delete and recreate all node pools before "
            "installing the extension",
            DOCS_MANAGED_IDENTITY,
            **details,
        )
    return Finding.warned(
        "identity",
        f"cannot tell how {name} authenticates: no managed identity and no service principal "
        "in the cluster resource",
        f'check `az aks show -g {group} -n {name} --query "{{identity: identity.type, '
        'clientId: servicePrincipalProfile.clientId}"`: the Azure ML extension needs a '
        "managed identity",
        DOCS_MANAGED_IDENTITY,
        **details,
    )


def _managed(info: ClusterInfo) -> bool:
    kinds = _identity_kinds(info.identity)
    return any(k.lower() in ("systemassigned", "userassigned") for k in kinds)


def _pool_names(info: ClusterInfo) -> list[str]:
    pools = info.props.get("agentPoolProfiles") or []
    return [str(p.get("name")) for p in pools if isinstance(p, dict) and p.get("name")]


def _recreate(info: ClusterInfo, pools: list[str]) -> str:
    group, name = info.resource_group, info.name
    return (
        f"recreate {', '.join(pools)} (the Azure ML extension needs every node pool deleted and "
        f"recreated after a switch from a service principal, not updated): add a new pool "
        f"(az aks nodepool add -g {group} --cluster-name {name} --name <new-pool> ...), move "
        f"the workloads, then az aks nodepool delete -g {group} --cluster-name {name} --name "
        "<old-pool>"
    )


async def _kubelet_pools(ctx: Context, info: ClusterInfo, main: Finding) -> list[Finding]:
    """The node pools whose kubelet does not yet use the cluster's kubelet identity, after a
    switch from a service principal to a managed identity.

    AKS documents no per-pool flag for it (research notes 19, section 9). What shows it:
    ``identityProfile.kubeletidentity`` is missing on a cluster with a managed identity (the
    kubelet still has the service principal), or a node's ``KUBELET_LABEL`` names another
    client id than ``identityProfile.kubeletidentity.clientId`` (that node's kubelet was set up
    before the switch). Read only when the Kubernetes API is reachable too; a node without the
    label is not judged (nodes AKS did not bootstrap carry none)."""
    if not _managed(info):
        return []
    profile = info.props.get("identityProfile")
    kubelet = profile.get("kubeletidentity") if isinstance(profile, dict) else None
    client = str(kubelet.get("clientId") or "") if isinstance(kubelet, dict) else ""
    pools = _pool_names(info)
    if not client:
        return [
            Finding.warned(
                "kubelet identity",
                f"{info.name} has a managed identity but no kubelet identity "
                "(identityProfile.kubeletidentity): its node pools' kubelets still use the "
                "service principal of before the switch",
                _recreate(info, pools or ["every node pool"]),
                DOCS_LIMITATIONS,
                **info.details(),
                node_pools=pools,
            )
        ]
    view = await kube_view(ctx)
    if not view.available or view.nodes is None:
        main.details["kubelet_pools"] = (
            f"not checked: {view.reason or view.nodes_error or 'the nodes were not read'}"
        )
        return []
    stale: dict[str, set[str]] = {}
    blank: set[str] = set()
    unlabelled = 0
    for node in view.nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        pool = next((str(labels[k]) for k in POOL_LABELS if labels.get(k)), None)
        if pool is None:
            continue
        if KUBELET_LABEL not in labels:
            unlabelled += 1
            continue
        value = str(labels[KUBELET_LABEL] or "").strip().lower()
        if not value:
            blank.add(pool)
        elif value != client.lower():
            stale.setdefault(pool, set()).add(value)
    details = {
        **info.details(),
        "kubelet_identity_client_id": client,
        "label": KUBELET_LABEL,
        "nodes_without_label": unlabelled,
    }
    main.details["kubelet_pools"] = "checked on the nodes' labels"
    findings = []
    if stale:
        names = sorted(stale)
        shown = "; ".join(f"{p}: {', '.join(sorted(stale[p]))}" for p in names)
        findings.append(
            Finding.failed(
                "kubelet identity",
                f"node pool(s) {', '.join(names)} of {info.name} not updated since the switch: "
                f"their kubelets run as another identity ({shown}) than the cluster's kubelet "
                f"identity {client}",
                _recreate(info, names),
                DOCS_LIMITATIONS,
                **details,
                stale_pools={p: sorted(v) for p, v in stale.items()},
            )
        )
    if blank:
        names = sorted(blank - set(stale))
        if names:
            findings.append(
                Finding(
                    Status.WARN,
                    "kubelet identity",
                    f"node pool(s) {', '.join(names)} of {info.name} have nodes whose kubelet "
                    f"names no managed identity ({KUBELET_LABEL} is empty): not updated since a "
                    "switch from a service principal?",
                    _recreate(info, names),
                    DOCS_LIMITATIONS,
                    details={**details, "blank_pools": names},
                )
            )
    return findings


def _pod_identity(info: ClusterInfo) -> list[Finding]:
    profile = info.props.get("podIdentityProfile") or {}
    if not isinstance(profile, dict) or not profile.get("enabled"):
        return []
    return [
        Finding.failed(
            "podIdentityProfile",
            f"{info.name} has Microsoft Entra pod identity enabled (a deprecated preview), which "
            "Azure Machine Learning does not support",
            f"disable it (az aks update -g {info.resource_group} -n {info.name} "
            "--disable-pod-identity) and move workloads to workload identity",
            DOCS_POD_IDENTITY,
            **info.details(),
        )
    ]


def _arc_identity(info: ClusterInfo) -> Finding:
    kinds = _identity_kinds(info.identity)
    details = {**info.details(), "identity_type": info.identity.get("type")}
    if any(k.lower() == "systemassigned" for k in kinds):
        return Finding.passed(
            "identity",
            f"{info.name} has its system-assigned identity (the managed-identity rule is about "
            "AKS; an Arc-enabled cluster always gets one)",
            **details,
        )
    return Finding.warned(
        "identity",
        f"Arc-enabled cluster {info.name} shows no system-assigned identity",
        "reconnect the cluster (`az connectedk8s connect`), which creates it",
        DOCS_ARC_CONNECT,
        **details,
    )


CHECKS = [AzureIdentity()]
