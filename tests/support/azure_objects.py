"""Builders for Azure Resource Manager documents, in the shapes the REST API documents.

Each builder returns a plain ``dict`` as ARM's GET returns it (put it into ``FakeArm``):

- ``managed_cluster`` / ``agent_pool``: ``Microsoft.ContainerService/managedClusters``
  (api-version 2024-09-01; cf. the ``ManagedClustersGet.json`` example of azure-rest-api-specs).
- ``connected_cluster``: ``Microsoft.Kubernetes/connectedClusters`` (2024-01-01).
- ``provider``: ``GET /subscriptions/S/providers/<namespace>`` (Microsoft.Resources 2021-04-01).
- ``extension``: ``Microsoft.KubernetesConfiguration/extensions`` (2023-05-01), an extension
  resource under a cluster.
- ``service_tags`` / ``write_service_tags``: the Service Tags JSON file a user downloads
  (``ServiceTags_Public_YYYYMMDD.json``, ``ServiceTags_China_...``,
  ``ServiceTags_AzureGovernment_...``).

Like ARM, the builders leave out properties that are null or unset (an agent pool without
taints has no ``nodeTaints``; a cluster without authorized ranges and not private has no
``apiServerAccessProfile``). Object ids and client ids are deterministic (uuid5 of the resource
id), so two calls with the same arguments give the same document. Region ids in service tags and
the agent-certificate bytes of connected clusters are placeholders, not Azure's values.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "AZUREML_EXTENSION_TYPE",
    "DEFAULT_SUB",
    "DEFAULT_TENANT",
    "GPU_VM_SIZES",
    "SERVICE_TAG_CLOUDS",
    "agent_pool",
    "cluster_id",
    "connected_cluster",
    "extension",
    "managed_cluster",
    "provider",
    "service_tags",
    "write_service_tags",
    "ML_WORKLOAD_ROLE",
    "K8S_EXCLUDED",
    "workspace",
    "log_analytics_workspace",
    "oms_addon",
    "trusted_access_binding",
    "policy_definition",
    "kubernetes_policy_definition",
    "policy_set_definition",
    "policy_assignment",
]

DEFAULT_SUB = "00000000-0000-0000-0000-000000000000"
DEFAULT_TENANT = "72f988bf-0000-4000-8000-000000000001"
AZUREML_EXTENSION_TYPE = "Microsoft.AzureML.Kubernetes"

#: GPU VM sizes seen on AKS GPU pools: size -> (GPUs per VM, GPU model).
GPU_VM_SIZES: dict[str, tuple[int, str]] = {
    "Standard_NC6s_v3": (1, "V100"),
    "Standard_NC12s_v3": (2, "V100"),
    "Standard_NC24s_v3": (4, "V100"),
    "Standard_NC4as_T4_v3": (1, "T4"),
    "Standard_NC64as_T4_v3": (4, "T4"),
    "Standard_NC24ads_A100_v4": (1, "A100"),
    "Standard_NC96ads_A100_v4": (4, "A100"),
    "Standard_ND96asr_v4": (8, "A100"),
    "Standard_ND96amsr_A100_v4": (8, "A100"),
    "Standard_ND96isr_H100_v5": (8, "H100"),
}

_NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")  # uuid.NAMESPACE_URL


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts).lower()))


def _hex(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).lower().encode()).hexdigest()[:length]


def _iso(when: dt.datetime | str | None, default: dt.datetime) -> str:
    if isinstance(when, str):
        return when
    value = when or default
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _system_data(
    created: Any = None, last_modified: Any = None, by: str = "user@contoso.com"
) -> dict[str, str]:
    created_at = _iso(created, dt.datetime(2024, 6, 1, 8, 0, tzinfo=dt.UTC))
    modified_at = _iso(last_modified, dt.datetime(2024, 6, 1, 8, 5, tzinfo=dt.UTC))
    return {
        "createdBy": by,
        "createdByType": "User",
        "createdAt": created_at,
        "lastModifiedBy": by,
        "lastModifiedByType": "User",
        "lastModifiedAt": modified_at,
    }


def cluster_id(
    name: str,
    sub: str = DEFAULT_SUB,
    rg: str = "rg",
    *,
    kind: str = "aks",
) -> str:
    """The resource id of an AKS (``kind="aks"``) or Arc (``kind="arc"``) cluster."""
    provider_type = (
        "Microsoft.ContainerService/managedClusters"
        if kind == "aks"
        else "Microsoft.Kubernetes/connectedClusters"
    )
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider_type}/{name}"


def workspace_id(name: str, sub: str = DEFAULT_SUB, rg: str = "rg") -> str:
    """The resource id of an Azure ML workspace."""
    return (
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{name}"
    )


# -- AKS ------------------------------------------------------------------------------------------
def agent_pool(
    name: str,
    count: int = 3,
    vm_size: str = "Standard_D4s_v3",
    mode: str = "User",
    taints: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    *,
    os_type: str = "Linux",
    os_sku: str = "Ubuntu",
    orchestrator_version: str | None = None,
    enable_auto_scaling: bool = False,
    min_count: int | None = None,
    max_count: int | None = None,
    zones: Sequence[str] | None = None,
    max_pods: int = 110,
    power_state: str = "Running",
    provisioning_state: str = "Succeeded",
    **extra: Any,
) -> dict[str, Any]:
    """One entry of ``properties.agentPoolProfiles`` (``mode``: ``System`` or ``User``;
    ``taints`` as ARM writes them, ``"sku=gpu:NoSchedule"``). ``orchestrator_version`` defaults
    to the cluster's version when the pool is given to ``managed_cluster``. ``extra`` adds or
    overrides raw properties (e.g. ``gpuInstanceProfile="MIG1g"``)."""
    pool: dict[str, Any] = {
        "name": name,
        "count": count,
        "vmSize": vm_size,
        "osDiskSizeGB": 128,
        "osDiskType": "Managed",
        "kubeletDiskType": "OS",
        "maxPods": max_pods,
        "type": "VirtualMachineScaleSets",
        "enableAutoScaling": enable_auto_scaling,
        "provisioningState": provisioning_state,
        "powerState": {"code": power_state},
        "mode": mode,
        "osType": os_type,
        "osSKU": os_sku,
        "enableNodePublicIP": False,
        "enableEncryptionAtHost": False,
        "enableUltraSSD": False,
        "enableFIPS": False,
        "upgradeSettings": {"maxSurge": "10%"},
    }
    if orchestrator_version is not None:
        pool["orchestratorVersion"] = orchestrator_version
        pool["currentOrchestratorVersion"] = orchestrator_version
    if enable_auto_scaling:
        pool["minCount"] = min_count if min_count is not None else 1
        pool["maxCount"] = max_count if max_count is not None else max(count, 1)
    if zones:
        pool["availabilityZones"] = list(zones)
    if labels:
        pool["nodeLabels"] = dict(labels)
    taint_list = list(taints)
    if taint_list:
        pool["nodeTaints"] = taint_list
    pool.update(extra)
    return pool


def _aks_fqdn(prefix: str, location: str, *, private: bool) -> str:
    loc = location.lower().replace(" ", "")
    if private:
        suffix = f"privatelink.{loc}.azmk8s.io"
        if loc.startswith("china"):
            suffix = f"privatelink.{loc}.cx.prod.service.azk8s.cn"
        elif loc.startswith("usgov"):
            suffix = f"privatelink.{loc}.cx.aks.containerservice.azure.us"
        return f"{prefix}-{_hex(prefix, 'p')}.{_guid(prefix, loc)}.{suffix}"
    if loc.startswith("china"):
        return f"{prefix}-{_hex(prefix)}.hcp.{loc}.cx.prod.service.azk8s.cn"
    if loc.startswith("usgov"):
        return f"{prefix}-{_hex(prefix)}.hcp.{loc}.cx.aks.containerservice.azure.us"
    return f"{prefix}-{_hex(prefix)}.hcp.{loc}.azmk8s.io"


def managed_cluster(
    name: str,
    sub: str = DEFAULT_SUB,
    rg: str = "rg",
    location: str = "eastus",
    *,
    identity: str | None = "SystemAssigned",
    sp_client_id: str | None = None,
    user_assigned_identity: str | None = None,
    disable_local_accounts: bool = False,
    authorized_ranges: Sequence[str] | None = None,
    private: bool = False,
    private_fqdn: str | None = None,
    fqdn: str | None = None,
    public_fqdn_for_private: bool = False,
    dns_prefix: str | None = None,
    kubernetes_version: str = "1.30.4",
    current_kubernetes_version: str | None = None,
    pools: Sequence[Mapping[str, Any]] | None = None,
    enable_rbac: bool = True,
    aad: bool | Mapping[str, Any] | None = None,
    network_plugin: str = "azure",
    network_plugin_mode: str | None = None,
    network_policy: str | None = None,
    outbound_type: str = "loadBalancer",
    load_balancer_sku: str = "standard",
    provisioning_state: str = "Succeeded",
    power_state: str = "Running",
    sku_tier: str = "Free",
    tags: Mapping[str, str] | None = None,
    tenant_id: str = DEFAULT_TENANT,
    **extra_properties: Any,
) -> dict[str, Any]:
    """A ``Microsoft.ContainerService/managedClusters`` resource as GET returns it.

    ``identity``: ``"SystemAssigned"`` or ``"UserAssigned"`` (managed identity;
    ``servicePrincipalProfile.clientId`` is ``"msi"``), or ``None`` for a service-principal
    cluster (no ``identity``; ``clientId`` is ``sp_client_id`` or a GUID). ``sp_client_id``
    overrides ``clientId`` either way. ``authorized_ranges`` / ``private`` fill
    ``apiServerAccessProfile`` (absent when neither is set); a private cluster has
    ``privateFQDN`` and no ``fqdn`` unless ``public_fqdn_for_private``. ``pools`` defaults to one
    System pool ``nodepool1`` of 3 x Standard_D4s_v3. ``aad``: ``True`` for managed Entra ID
    integration, or a mapping merged into ``aadProfile``. ``extra_properties`` are merged into
    ``properties`` last (raw override).
    """
    resource_id = cluster_id(name, sub, rg)
    prefix = dns_prefix or f"{name}-{rg}-{sub[:6]}"[:54]
    current = current_kubernetes_version or kubernetes_version
    node_rg = f"MC_{rg}_{name}_{location}"
    body: dict[str, Any] = {
        "id": resource_id,
        "location": location,
        "name": name,
        "type": "Microsoft.ContainerService/ManagedClusters",
        "sku": {"name": "Base", "tier": sku_tier},
    }
    if tags:
        body["tags"] = dict(tags)
    props: dict[str, Any] = {
        "provisioningState": provisioning_state,
        "powerState": {"code": power_state},
        "kubernetesVersion": kubernetes_version,
        "currentKubernetesVersion": current,
        "dnsPrefix": prefix,
    }
    if private:
        props["privateFQDN"] = private_fqdn or _aks_fqdn(prefix, location, private=True)
        if public_fqdn_for_private or fqdn:
            props["fqdn"] = fqdn or _aks_fqdn(prefix, location, private=False)
    else:
        props["fqdn"] = fqdn or _aks_fqdn(prefix, location, private=False)
        props["azurePortalFQDN"] = props["fqdn"].replace(".hcp.", ".portal.hcp.", 1)

    pool_list = [dict(p) for p in (pools or [agent_pool("nodepool1", 3, mode="System")])]
    for pool in pool_list:
        pool.setdefault("orchestratorVersion", kubernetes_version)
        pool.setdefault("currentOrchestratorVersion", current)
        pool.setdefault("nodeImageVersion", "AKSUbuntu-2204gen2containerd-202409.23.0")
    props["agentPoolProfiles"] = pool_list
    props["linuxProfile"] = {
        "adminUsername": "azureuser",
        "ssh": {"publicKeys": [{"keyData": "ssh-rsa AAAAB3NzaC1yc2E... azureuser"}]},
    }

    if identity is None:
        props["servicePrincipalProfile"] = {"clientId": sp_client_id or _guid(resource_id, "sp")}
    else:
        props["servicePrincipalProfile"] = {"clientId": sp_client_id or "msi"}
        kubelet_name = f"{name}-agentpool"
        props["identityProfile"] = {
            "kubeletidentity": {
                "resourceId": (
                    f"/subscriptions/{sub}/resourcegroups/{node_rg}/providers/"
                    f"Microsoft.ManagedIdentity/userAssignedIdentities/{kubelet_name}"
                ),
                "clientId": _guid(resource_id, "kubelet-client"),
                "objectId": _guid(resource_id, "kubelet-object"),
            }
        }
        if identity == "SystemAssigned":
            body["identity"] = {
                "type": "SystemAssigned",
                "principalId": _guid(resource_id, "principal"),
                "tenantId": tenant_id,
            }
        elif identity == "UserAssigned":
            uai = user_assigned_identity or (
                f"/subscriptions/{sub}/resourceGroups/{rg}/providers/"
                f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}-identity"
            )
            body["identity"] = {
                "type": "UserAssigned",
                "userAssignedIdentities": {
                    uai: {
                        "principalId": _guid(uai, "principal"),
                        "clientId": _guid(uai, "client"),
                    }
                },
            }
        else:
            raise ValueError(f"identity must be SystemAssigned, UserAssigned or None: {identity!r}")

    props["addonProfiles"] = {}
    props["nodeResourceGroup"] = node_rg
    props["enableRBAC"] = enable_rbac
    props["supportPlan"] = "KubernetesOfficial"
    network: dict[str, Any] = {
        "networkPlugin": network_plugin,
        "loadBalancerSku": load_balancer_sku,
        "serviceCidr": "10.0.0.0/16",
        "dnsServiceIP": "10.0.0.10",
        "outboundType": outbound_type,
        "serviceCidrs": ["10.0.0.0/16"],
        "ipFamilies": ["IPv4"],
    }
    if network_plugin_mode:
        network["networkPluginMode"] = network_plugin_mode
    if network_plugin == "kubenet" or network_plugin_mode == "overlay":
        network["podCidr"] = "10.244.0.0/16"
        network["podCidrs"] = ["10.244.0.0/16"]
    if network_policy:
        network["networkPolicy"] = network_policy
    if outbound_type == "loadBalancer":
        network["loadBalancerProfile"] = {
            "managedOutboundIPs": {"count": 1},
            "effectiveOutboundIPs": [
                {
                    "id": (
                        f"/subscriptions/{sub}/resourceGroups/{node_rg}/providers/"
                        f"Microsoft.Network/publicIPAddresses/{_guid(resource_id, 'pip')}"
                    )
                }
            ],
            "allocatedOutboundPorts": 0,
            "idleTimeoutInMinutes": 30,
            "backendPoolType": "nodeIPConfiguration",
        }
    props["networkProfile"] = network
    if aad:
        aad_profile: dict[str, Any] = {
            "managed": True,
            "adminGroupObjectIDs": [],
            "enableAzureRBAC": False,
            "tenantID": tenant_id,
        }
        if isinstance(aad, Mapping):
            aad_profile.update(aad)
        props["aadProfile"] = aad_profile
    props["maxAgentPools"] = 100
    if authorized_ranges is not None or private:
        access: dict[str, Any] = {}
        if authorized_ranges is not None:
            access["authorizedIPRanges"] = list(authorized_ranges)
        access["enablePrivateCluster"] = private
        if private:
            access["privateDNSZone"] = "system"
            access["enablePrivateClusterPublicFQDN"] = public_fqdn_for_private
        props["apiServerAccessProfile"] = access
    props["disableLocalAccounts"] = disable_local_accounts
    props["securityProfile"] = {}
    props["storageProfile"] = {
        "diskCSIDriver": {"enabled": True},
        "fileCSIDriver": {"enabled": True},
        "snapshotController": {"enabled": True},
    }
    props["oidcIssuerProfile"] = {"enabled": False}
    props["workloadAutoScalerProfile"] = {}
    props["resourceUID"] = _hex(resource_id, "uid", length=24)
    props["metricsProfile"] = {"costAnalysis": {"enabled": False}}
    props.update(extra_properties)
    body["properties"] = props
    return body


# -- Arc ------------------------------------------------------------------------------------------
_CONNECTIVITY_AGE = {
    "Connected": dt.timedelta(minutes=3),
    "Connecting": dt.timedelta(minutes=1),
    "Offline": dt.timedelta(hours=2),
    "Expired": dt.timedelta(days=100),
}


def connected_cluster(
    name: str,
    sub: str = DEFAULT_SUB,
    rg: str = "rg",
    location: str = "eastus",
    *,
    connectivity: str = "Connected",
    agent_version: str = "1.21.10",
    distribution: str = "k3s",
    distribution_version: str | None = None,
    infrastructure: str = "generic",
    kubernetes_version: str = "1.30.4",
    identity: str | None = "SystemAssigned",
    last_connectivity_time: dt.datetime | str | None = None,
    total_node_count: int = 3,
    total_core_count: int = 12,
    provisioning_state: str = "Succeeded",
    private_link: bool = False,
    aad: bool | Mapping[str, Any] | None = None,
    kind: str | None = None,
    tenant_id: str = DEFAULT_TENANT,
    **extra_properties: Any,
) -> dict[str, Any]:
    """A ``Microsoft.Kubernetes/connectedClusters`` resource as GET returns it.

    ``connectivity``: ``Connected``, ``Connecting``, ``Offline`` or ``Expired`` (the agents have
    not talked to Azure for more than 90 days); ``last_connectivity_time`` defaults to a time
    that fits it (minutes ago for Connected, hours for Offline, 100 days for Expired).
    ``identity=None`` gives ``{"type": "None"}``.
    """
    resource_id = cluster_id(name, sub, rg, kind="arc")
    now = dt.datetime.now(dt.UTC)
    last = _iso(last_connectivity_time, now - _CONNECTIVITY_AGE.get(connectivity, dt.timedelta()))
    cert = base64.b64encode(hashlib.sha512(resource_id.encode()).digest() * 4).decode()
    props: dict[str, Any] = {
        "agentPublicKeyCertificate": cert,
        "kubernetesVersion": kubernetes_version,
        "totalNodeCount": total_node_count,
        "totalCoreCount": total_core_count,
        "agentVersion": agent_version,
        "provisioningState": provisioning_state,
        "distribution": distribution,
        "infrastructure": infrastructure,
        "managedIdentityCertificateExpirationTime": _iso(None, now + dt.timedelta(days=80)),
        "lastConnectivityTime": last,
        "connectivityStatus": connectivity,
        "privateLinkState": "Enabled" if private_link else "Disabled",
        "azureHybridBenefit": "NotApplicable",
        "miscellaneousProperties": {"infrastructureVersion": "1.0"},
    }
    if distribution_version is not None:
        props["distributionVersion"] = distribution_version
    if aad:
        aad_profile: dict[str, Any] = {
            "enableAzureRBAC": False,
            "adminGroupObjectIDs": [],
            "tenantID": tenant_id,
        }
        if isinstance(aad, Mapping):
            aad_profile.update(aad)
        props["aadProfile"] = aad_profile
    props["arcAgentProfile"] = {"desiredAgentVersion": agent_version, "agentAutoUpgrade": "Enabled"}
    props.update(extra_properties)
    body: dict[str, Any] = {
        "id": resource_id,
        "name": name,
        "type": "Microsoft.Kubernetes/connectedClusters",
        "location": location,
        "tags": {},
        "systemData": _system_data(),
        "identity": (
            {
                "principalId": _guid(resource_id, "principal"),
                "tenantId": tenant_id,
                "type": identity,
            }
            if identity
            else {"type": "None"}
        ),
        "properties": props,
    }
    if kind:
        body["kind"] = kind
    return body


# -- resource providers ---------------------------------------------------------------------------
_PROVIDER_TYPES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "Microsoft.KubernetesConfiguration": (
        ("sourceControlConfigurations", ("2023-05-01", "2022-11-01", "2021-03-01")),
        ("extensions", ("2023-05-01", "2022-11-01", "2022-03-01", "2020-07-01-preview")),
        ("fluxConfigurations", ("2023-05-01", "2022-11-01", "2022-03-01")),
        ("extensionTypes", ("2023-05-01", "2022-01-15-preview")),
        ("operations", ("2023-05-01", "2022-11-01", "2021-03-01")),
    ),
    "Microsoft.Kubernetes": (
        ("connectedClusters", ("2024-01-01", "2021-10-01", "2021-03-01")),
        ("locations", ("2024-01-01", "2021-10-01")),
        ("operations", ("2024-01-01", "2021-10-01", "2021-03-01")),
    ),
    "Microsoft.ContainerService": (
        ("managedClusters", ("2024-09-01", "2024-05-01", "2024-02-01", "2023-10-01")),
        ("locations", ("2024-09-01", "2024-05-01")),
        ("operations", ("2024-09-01", "2024-05-01")),
    ),
    "Microsoft.ExtendedLocation": (
        ("customLocations", ("2021-08-15", "2021-08-31-preview")),
        ("operations", ("2021-08-15",)),
    ),
    "Microsoft.MachineLearningServices": (
        ("workspaces", ("2024-04-01", "2023-10-01")),
        ("workspaces/computes", ("2024-04-01", "2023-10-01")),
        ("operations", ("2024-04-01",)),
    ),
}


def provider(
    namespace: str,
    state: str = "Registered",
    *,
    sub: str = DEFAULT_SUB,
    locations: Sequence[str] = ("East US", "West Europe", "China East 2", "USGov Virginia"),
    resource_types: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """``GET /subscriptions/S/providers/<namespace>`` (``state``: ``Registered``,
    ``NotRegistered``, ``Registering``, ``Unregistering``). ``resource_types``: type ->
    api-versions (a small built-in list for the namespaces preflight asks about)."""
    known = (
        resource_types if resource_types is not None else dict(_PROVIDER_TYPES.get(namespace, ()))
    )
    return {
        "id": f"/subscriptions/{sub}/providers/{namespace}",
        "namespace": namespace,
        "authorizations": [],
        "resourceTypes": [
            {
                "resourceType": rtype,
                "locations": [] if rtype == "operations" else list(locations),
                "apiVersions": list(versions),
                "defaultApiVersion": versions[0] if versions else None,
                "capabilities": "None" if rtype == "operations" else "SupportsExtension",
            }
            for rtype, versions in known.items()
        ],
        "registrationState": state,
        "registrationPolicy": "RegistrationRequired",
    }


# -- cluster extensions ---------------------------------------------------------------------------
def extension(
    name: str,
    cluster_id: str,
    *,
    extension_type: str = AZUREML_EXTENSION_TYPE,
    provisioning_state: str = "Succeeded",
    version: str = "1.1.63",
    auto_upgrade: bool = True,
    release_train: str = "stable",
    release_namespace: str = "azureml",
    config: Mapping[str, str] | None = None,
    protected_keys: Iterable[str] = (),
    error_detail: str | Mapping[str, Any] | None = None,
    statuses: Sequence[Mapping[str, Any]] | None = None,
    identity: bool = True,
    created: dt.datetime | str | None = None,
    last_modified: dt.datetime | str | None = None,
    tenant_id: str = DEFAULT_TENANT,
) -> dict[str, Any]:
    """A ``Microsoft.KubernetesConfiguration/extensions`` resource under ``cluster_id``.

    ``properties.configurationSettings`` is ``config``; ``configurationProtectedSettings`` lists
    ``protected_keys`` with null values (ARM never returns the protected values). As ARM does,
    ``properties.version`` is null when ``auto_upgrade`` is on (the installed version is in
    ``currentVersion``); with ``auto_upgrade=False`` both carry ``version``. ``error_detail``
    (text or an ErrorDetail mapping) fills ``errorInfo``, as on a Failed install.
    """
    resource_id = (
        f"{cluster_id.rstrip('/')}/providers/Microsoft.KubernetesConfiguration/extensions/{name}"
    )
    props: dict[str, Any] = {
        "extensionType": extension_type,
        "autoUpgradeMinorVersion": auto_upgrade,
        "releaseTrain": release_train,
        "version": None if auto_upgrade else version,
        "currentVersion": version,
        "scope": {"cluster": {"releaseNamespace": release_namespace}},
        "configurationSettings": dict(config or {}),
        "configurationProtectedSettings": dict.fromkeys(protected_keys),
        "provisioningState": provisioning_state,
        "statuses": [dict(s) for s in (statuses or [])],
        "isSystemExtension": False,
        "packageUri": None,
    }
    if error_detail is not None:
        if isinstance(error_detail, Mapping):
            props["errorInfo"] = dict(error_detail)
        else:
            props["errorInfo"] = {"code": "ExtensionOperationFailed", "message": error_detail}
    if "/microsoft.containerservice/managedclusters/" in cluster_id.lower():
        props["aksAssignedIdentity"] = {
            "principalId": _guid(resource_id, "aks-identity"),
            "tenantId": tenant_id,
            "type": "SystemAssigned",
        }
    body: dict[str, Any] = {
        "id": resource_id,
        "name": name,
        "type": "Microsoft.KubernetesConfiguration/extensions",
        "systemData": _system_data(created, last_modified),
        "properties": props,
    }
    if identity:
        body["identity"] = {
            "principalId": _guid(resource_id, "principal"),
            "tenantId": tenant_id,
            "type": "SystemAssigned",
        }
    return body


# -- service tags ---------------------------------------------------------------------------------
#: The ``cloud`` value of each downloadable file, by the name used in its file name.
SERVICE_TAG_CLOUDS = ("Public", "China", "AzureGovernment")

#: Placeholder region ids (the file's regionId values are Azure-internal numbers).
_REGION_IDS = {
    "eastus": 32,
    "eastus2": 33,
    "westus": 35,
    "westus2": 38,
    "westeurope": 18,
    "northeurope": 17,
    "chinaeast2": 502,
    "chinanorth2": 503,
    "chinanorth3": 504,
    "usgovvirginia": 401,
    "usgovarizona": 402,
}

_DEFAULT_TAGS: dict[str, dict[str, list[str]]] = {
    "Public": {
        "AzureMachineLearning.EastUS": [
            "20.42.0.240/28",
            "40.71.11.64/28",
            "2603:1030:210::300/123",
        ],
        "AzureMachineLearning.WestUS": ["13.86.195.16/28", "40.82.248.80/28"],
        "AzureMachineLearning.EastUS2": ["20.41.0.240/28", "40.70.147.80/28"],
    },
    "China": {
        "AzureMachineLearning.ChinaEast2": ["40.73.40.64/28", "52.130.1.160/28"],
        "AzureMachineLearning.ChinaNorth2": ["40.73.104.64/28", "52.130.129.0/28"],
    },
    "AzureGovernment": {
        "AzureMachineLearning.USGovVirginia": ["20.140.40.64/28", "52.127.64.64/28"],
        "AzureMachineLearning.USGovArizona": ["20.141.8.64/28", "52.244.32.64/28"],
    },
}


def _tag_entry(name: str, prefixes: Sequence[str] | Mapping[str, Any]) -> dict[str, Any]:
    service, _, region_part = name.partition(".")
    region = region_part.lower()
    properties: dict[str, Any] = {
        "changeNumber": 1 + int(_hex(name, length=2), 16) % 40,
        "region": region,
        "regionId": _REGION_IDS.get(region, 100 + int(_hex(region, length=3), 16) % 400)
        if region
        else 0,
        "platform": "Azure",
        "systemService": service,
        "addressPrefixes": [],
        "networkFeatures": ["API", "NSG", "UDR", "FW"],
    }
    if isinstance(prefixes, Mapping):
        overrides = dict(prefixes)
        properties["addressPrefixes"] = list(overrides.pop("addressPrefixes", []))
        properties.update(overrides)
    else:
        properties["addressPrefixes"] = list(prefixes)
    return {"name": name, "id": name, "properties": properties}


def service_tags(
    cloud: str = "Public",
    entries: Mapping[str, Sequence[str] | Mapping[str, Any]] | None = None,
    *,
    change_number: int = 312,
    with_global: bool = True,
) -> dict[str, Any]:
    """The Service Tags JSON file: ``{"changeNumber", "cloud", "values": [{"name", "id",
    "properties": {"changeNumber", "region", "regionId", "platform", "systemService",
    "addressPrefixes", "networkFeatures"}}]}``.

    ``cloud``: ``Public``, ``China`` or ``AzureGovernment`` (the file's own spelling).
    ``entries``: tag name -> address prefixes (or a mapping of ``properties`` overrides with
    ``addressPrefixes``); regional tags are ``Service.Region`` (``AzureMachineLearning.EastUS``
    -> region ``eastus``). Defaults to a few AzureMachineLearning regional tags of that cloud.
    ``with_global``: also add each service's region-less tag, the union of its regional ones
    (as the file has ``AzureMachineLearning`` next to ``AzureMachineLearning.EastUS``).
    """
    if cloud not in SERVICE_TAG_CLOUDS:
        raise ValueError(f"cloud must be one of {SERVICE_TAG_CLOUDS}: {cloud!r}")
    source = copy.deepcopy(dict(entries if entries is not None else _DEFAULT_TAGS[cloud]))
    values = [_tag_entry(name, prefixes) for name, prefixes in source.items()]
    if with_global:
        present = {v["name"] for v in values}
        unions: dict[str, list[str]] = {}
        for value in values:
            service = value["name"].partition(".")[0]
            if "." in value["name"]:
                bucket = unions.setdefault(service, [])
                bucket += [p for p in value["properties"]["addressPrefixes"] if p not in bucket]
        for service, prefixes in unions.items():
            if service not in present:
                values.append(_tag_entry(service, prefixes))
    values.sort(key=lambda v: (v["name"].partition(".")[0], "." in v["name"], v["name"]))
    return {"changeNumber": change_number, "cloud": cloud, "values": values}


def write_service_tags(
    path: str | os.PathLike[str],
    cloud: str = "Public",
    entries: Mapping[str, Sequence[str] | Mapping[str, Any]] | None = None,
    *,
    date: str = "20240902",
    **kwargs: Any,
) -> Path:
    """Write ``service_tags(cloud, entries, **kwargs)`` to ``path`` (a directory gets the
    download's own name, ``ServiceTags_<cloud>_<date>.json``); returns the file."""
    out = Path(path)
    if out.is_dir():
        out = out / f"ServiceTags_{cloud}_{date}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(service_tags(cloud, entries, **kwargs), indent=2))
    return out


# -- Azure ML workspace, Log Analytics, monitoring add-on (issue 19) ------------------------------
def workspace(
    name: str,
    sub: str = DEFAULT_SUB,
    rg: str = "rg",
    location: str = "eastus",
    *,
    public_network_access: str = "Enabled",
) -> dict[str, Any]:
    """``Microsoft.MachineLearningServices/workspaces`` as GET returns it (api-version
    2024-04-01; cf. azure-rest-api-specs ``Workspace/get.json``)."""
    resource_id = workspace_id(name, sub, rg)
    base = f"/subscriptions/{sub}/resourceGroups/{rg}/providers"
    return {
        "id": resource_id,
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": location,
        "kind": "Default",
        "sku": {"name": "Basic", "tier": "Basic"},
        "identity": {
            "type": "SystemAssigned",
            "principalId": _guid(resource_id, "principal"),
            "tenantId": DEFAULT_TENANT,
        },
        "systemData": _system_data(),
        "properties": {
            "friendlyName": name,
            "workspaceId": _guid(resource_id, "workspace"),
            "storageAccount": f"{base}/Microsoft.Storage/storageAccounts/{name}store",
            "keyVault": f"{base}/Microsoft.KeyVault/vaults/{name}-kv",
            "applicationInsights": f"{base}/Microsoft.Insights/components/{name}-ai",
            "containerRegistry": f"{base}/Microsoft.ContainerRegistry/registries/{name}acr",
            "discoveryUrl": f"https://{location}.api.azureml.ms/discovery",
            "provisioningState": "Succeeded",
            "publicNetworkAccess": public_network_access,
            "hbiWorkspace": False,
            "v1LegacyMode": False,
        },
    }


def log_analytics_workspace(
    name: str,
    sub: str = DEFAULT_SUB,
    rg: str = "rg",
    location: str = "eastus",
    *,
    customer_id: str | None = None,
) -> dict[str, Any]:
    """``Microsoft.OperationalInsights/workspaces`` (api-version 2022-10-01; cf.
    azure-rest-api-specs ``WorkspacesSubscriptionList.json``); ``properties.customerId`` is the
    GUID that names its ingestion hosts. ARM returns such ids in lower case."""
    resource_id = (
        f"/subscriptions/{sub}/resourcegroups/{rg.lower()}/providers/"
        f"microsoft.operationalinsights/workspaces/{name.lower()}"
    )
    return {
        "id": resource_id,
        "name": name,
        "type": "Microsoft.OperationalInsights/workspaces",
        "location": location,
        "tags": {},
        "properties": {
            "customerId": customer_id or _guid(resource_id, "customer"),
            "provisioningState": "Succeeded",
            "sku": {"name": "PerGB2018"},
            "retentionInDays": 30,
            "publicNetworkAccessForQuery": "Enabled",
            "publicNetworkAccessForIngestion": "Enabled",
        },
    }


def oms_addon(
    workspace_resource_id: str | None, *, enabled: bool = True, cluster: str = "aks1"
) -> dict[str, Any]:
    """``properties.addonProfiles`` with Container Insights (``omsagent``) as ``az aks show``
    prints it (azure-aks-docs ``create-postgresql-ha.md``): pass as ``addonProfiles=`` to
    ``managed_cluster``. ``workspace_resource_id=None`` leaves the config without a workspace."""
    config: dict[str, Any] = {"useAADAuth": "true"}
    if workspace_resource_id is not None:
        config["logAnalyticsWorkspaceResourceID"] = workspace_resource_id
    addon: dict[str, Any] = {"enabled": enabled, "config": config}
    if enabled:
        addon["identity"] = {
            "resourceId": (
                f"/subscriptions/{DEFAULT_SUB}/resourcegroups/MC_rg_{cluster}_eastus/providers/"
                f"Microsoft.ManagedIdentity/userAssignedIdentities/omsagent-{cluster}"
            ),
            "clientId": _guid(cluster, "omsagent-client"),
            "objectId": _guid(cluster, "omsagent-object"),
        }
    return {"omsagent": addon}


# -- Trusted Access -------------------------------------------------------------------------------
ML_WORKLOAD_ROLE = "Microsoft.MachineLearningServices/workspaces/mlworkload"


def trusted_access_binding(
    cluster_resource_id: str,
    name: str,
    source_resource_id: str,
    roles: Sequence[str] = (ML_WORKLOAD_ROLE,),
    *,
    provisioning_state: str = "Succeeded",
) -> dict[str, Any]:
    """``Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings`` (api-version
    2024-09-01; azure-rest-api-specs ``TrustedAccessRoleBindings_List.json``)."""
    return {
        "id": f"{cluster_resource_id}/trustedAccessRoleBindings/{name}",
        "name": name,
        "type": "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings",
        "systemData": _system_data(),
        "properties": {
            "provisioningState": provisioning_state,
            "sourceResourceId": source_resource_id,
            "roles": list(roles),
        },
    }


# -- Azure Policy ---------------------------------------------------------------------------------
#: the default excludedNamespaces of the built-in Kubernetes definitions (Azure/azure-policy)
K8S_EXCLUDED = ["kube-system", "gatekeeper-system", "azure-arc", "azure-extensions-usage-system"]


def policy_definition(
    name: str,
    *,
    display_name: str,
    rule_if: Mapping[str, Any],
    effect: Any = "[parameters('effect')]",
    default_effect: str | None = "Deny",
    mode: str = "All",
    details: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    scope: str = "",
    policy_type: str | None = None,
    policy_rule: Any = None,
) -> dict[str, Any]:
    """``Microsoft.Authorization/policyDefinitions`` (api-version 2023-04-01;
    ``getBuiltinPolicyDefinition.json``). ``scope`` "" is a built-in (tenant level), else the
    subscription or management group that holds a custom one. ``policy_rule`` replaces the rule
    outright (for shapes preflight must not understand)."""
    params: dict[str, Any] = {k: dict(v) for k, v in (parameters or {}).items()}
    if default_effect is not None and effect == "[parameters('effect')]":
        params.setdefault(
            "effect",
            {
                "type": "String",
                "metadata": {"displayName": "Effect"},
                "allowedValues": ["audit", "Audit", "deny", "Deny", "disabled", "Disabled"],
                "defaultValue": default_effect,
            },
        )
    then: dict[str, Any] = {"effect": effect}
    if details is not None:
        then["details"] = dict(details)
    rule = policy_rule if policy_rule is not None else {"if": dict(rule_if), "then": then}
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/policyDefinitions/{name}",
        "name": name,
        "type": "Microsoft.Authorization/policyDefinitions",
        "properties": {
            "displayName": display_name,
            "policyType": policy_type or ("BuiltIn" if not scope else "Custom"),
            "mode": mode,
            "description": display_name,
            "version": "1.0.0",
            "metadata": {"category": "Kubernetes" if "Kubernetes" in mode else "General"},
            "parameters": params,
            "policyRule": rule,
        },
    }


def kubernetes_policy_definition(
    name: str,
    display_name: str,
    *,
    kinds: Sequence[str] = ("Pod",),
    default_effect: str = "Deny",
    parameters: Mapping[str, Any] | None = None,
    values: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A built-in ``Microsoft.Kubernetes.Data`` definition in the shape of Azure/azure-policy
    ``built-in-policies/policyDefinitions/Kubernetes/*.json`` (excludedNamespaces and namespaces
    as parameters; ``values`` maps template values to parameter expressions)."""
    params: dict[str, Any] = {
        "excludedNamespaces": {
            "type": "Array",
            "metadata": {"displayName": "Namespace exclusions"},
            "defaultValue": list(K8S_EXCLUDED),
        },
        "namespaces": {
            "type": "Array",
            "metadata": {"displayName": "Namespace inclusions"},
            "defaultValue": [],
        },
        **{k: dict(v) for k, v in (parameters or {}).items()},
    }
    details = {
        "templateInfo": {
            "sourceType": "PublicURL",
            "url": f"https://store.policy.core.windows.net/kubernetes/{name}/v1/template.yaml",
        },
        "apiGroups": [""],
        "kinds": list(kinds),
        "excludedNamespaces": "[parameters('excludedNamespaces')]",
        "namespaces": "[parameters('namespaces')]",
        "values": dict(values or {}),
    }
    return policy_definition(
        name,
        display_name=display_name,
        rule_if={
            "field": "type",
            "in": [
                "Microsoft.Kubernetes/connectedClusters",
                "Microsoft.ContainerService/managedClusters",
            ],
        },
        default_effect=default_effect,
        mode="Microsoft.Kubernetes.Data",
        details=details,
        parameters=params,
    )


def policy_set_definition(
    name: str,
    members: Sequence[tuple[str, str, Mapping[str, Any]]],
    *,
    display_name: str,
    parameters: Mapping[str, Any] | None = None,
    scope: str = "",
) -> dict[str, Any]:
    """``Microsoft.Authorization/policySetDefinitions`` (an initiative): ``members`` are
    (definition id, reference id, parameters as ``{name: {"value": ...}}``)."""
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/policySetDefinitions/{name}",
        "name": name,
        "type": "Microsoft.Authorization/policySetDefinitions",
        "properties": {
            "displayName": display_name,
            "policyType": "BuiltIn" if not scope else "Custom",
            "parameters": {k: dict(v) for k, v in (parameters or {}).items()},
            "policyDefinitions": [
                {
                    "policyDefinitionId": definition_id,
                    "policyDefinitionReferenceId": reference,
                    "parameters": {k: dict(v) for k, v in values.items()},
                }
                for definition_id, reference, values in members
            ],
        },
    }


def policy_assignment(
    scope: str,
    name: str,
    definition_id: str,
    *,
    display_name: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    enforcement_mode: str = "Default",
    not_scopes: Sequence[str] = (),
) -> dict[str, Any]:
    """``Microsoft.Authorization/policyAssignments`` at ``scope`` (api-version 2023-04-01;
    ``listPolicyAssignmentsForResource.json``); ``parameters`` are plain values, wrapped as
    ``{"value": ...}`` the way ARM returns them."""
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}",
        "type": "Microsoft.Authorization/policyAssignments",
        "name": name,
        "properties": {
            "displayName": display_name or name,
            "description": "",
            "metadata": {"assignedBy": "Test"},
            "policyDefinitionId": definition_id,
            "parameters": {k: {"value": v} for k, v in (parameters or {}).items()},
            "scope": scope,
            "notScopes": list(not_scopes),
            "enforcementMode": enforcement_mode,
        },
    }
