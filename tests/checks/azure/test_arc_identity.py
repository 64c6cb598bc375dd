"""Arc and identity facts of issue 19, end to end (the real CLI against the fake ARM and, for the
node pools, the fake Kubernetes API):

- ``azure.providers``: Microsoft.ExtendedLocation (Arc system requirements) and Microsoft.Relay
  (the relay ``az k8s-extension create`` makes on Arc);
- ``azure.local-accounts``: Trusted Access (a ``trustedAccessRoleBindings`` entry with Azure ML's
  ``mlworkload`` role) as the supported alternative to local accounts;
- ``azure.policy``: an Azure Policy assignment that denies what the extension creates;
- ``azure.identity``: node pools whose kubelet still runs as another identity after a switch
  from a service principal to a managed identity.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.azure_objects import (
    ML_WORKLOAD_ROLE,
    agent_pool,
    connected_cluster,
    kubernetes_policy_definition,
    managed_cluster,
    policy_assignment,
    policy_definition,
    policy_set_definition,
    provider,
    trusted_access_binding,
)
from support.azure_run import RG, SUB, VERSION, Azure, aks, workspace_id
from support.kube_objects import default_namespaces, node

from tests.clirun import no_azure_credentials, preflight

CLUSTER_ID = aks()["id"]
SUB_SCOPE = f"/subscriptions/{SUB}"
RG_SCOPE = f"/subscriptions/{SUB}/resourceGroups/{RG}"


# -- azure.providers on Arc ---------------------------------------------------------------------


ARC_NAMESPACES = (
    "Microsoft.KubernetesConfiguration",
    "Microsoft.Kubernetes",
    "Microsoft.ExtendedLocation",
    "Microsoft.Relay",
    "Microsoft.MachineLearningServices",
)


def arc_env(azure: Callable[..., Azure], **states: str) -> Azure:
    arc = connected_cluster("arc1", SUB, RG, kubernetes_version=VERSION)
    providers = [provider(ns, states.get(ns, "Registered"), sub=SUB) for ns in ARC_NAMESPACES]
    return azure([arc, *providers])


def run_providers(env: Azure) -> dict[str, dict[str, Any]]:
    result = env.run("--set", "cluster_type=arc", checks=("azure.providers",), cluster="arc1")
    return result.by_target("azure.providers")


def test_arc_needs_extended_location_and_relay(azure: Callable[..., Azure]) -> None:
    found = run_providers(arc_env(azure))
    assert set(found) == set(ARC_NAMESPACES)
    assert {f["status"] for f in found.values()} == {"pass"}


def test_arc_extended_location_not_registered_fails(azure: Callable[..., Azure]) -> None:
    found = run_providers(arc_env(azure, **{"Microsoft.ExtendedLocation": "NotRegistered"}))
    extended = found["Microsoft.ExtendedLocation"]
    assert extended["status"] == "fail"
    assert "az provider register --namespace Microsoft.ExtendedLocation" in extended["remediation"]
    assert "system-requirements" in extended["docs"]


def test_arc_relay_not_registered_warns(azure: Callable[..., Azure]) -> None:
    found = run_providers(arc_env(azure, **{"Microsoft.Relay": "NotRegistered"}))
    assert found["Microsoft.Relay"]["status"] == "warn"


def test_aks_does_not_ask_for_arc_providers(azure: Callable[..., Azure]) -> None:
    env = azure([aks(), *(provider(ns, sub=SUB) for ns in ARC_NAMESPACES)])
    found = env.run(checks=("azure.providers",)).by_target("azure.providers")
    assert "Microsoft.ExtendedLocation" not in found and "Microsoft.Relay" not in found


# -- azure.local-accounts and Trusted Access ----------------------------------------------------


def local(env: Azure, *args: str) -> dict[str, Any]:
    return env.run(*args, checks=("azure.local-accounts",)).only("azure.local-accounts")


def test_trusted_access_for_the_workspace_passes(azure: Callable[..., Azure]) -> None:
    binding = trusted_access_binding(CLUSTER_ID, "azureml-ws", workspace_id())
    env = azure([aks(disable_local_accounts=True), binding])
    finding = local(env, "--set", f"workspace_id={workspace_id()}")
    assert finding["status"] == "pass", finding
    assert "Trusted Access" in finding["message"] and "azureml-ws" in finding["message"]
    assert finding["details"]["trusted_access_bindings"][0]["workspace"] == workspace_id()
    assert any(
        r.api_version == "2024-09-01" and r.path.endswith("/trustedAccessRoleBindings")
        for r in env.arm.requests
    )


def test_no_binding_says_how_to_create_one(azure: Callable[..., Azure]) -> None:
    env = azure([aks(disable_local_accounts=True)])
    finding = local(env, "--set", f"workspace_id={workspace_id()}")
    assert finding["status"] == "fail"
    assert (
        f"az aks trustedaccess rolebinding create --resource-group {RG} --cluster-name aks1 "
        f"--name azureml-ws --source-resource-id {workspace_id()} --roles {ML_WORKLOAD_ROLE}"
    ) in finding["remediation"]
    assert "--enable-local-accounts" in finding["remediation"]


def test_binding_of_another_workspace_or_role_does_not_count(azure: Callable[..., Azure]) -> None:
    other = trusted_access_binding(CLUSTER_ID, "other", workspace_id("other"))
    reader = trusted_access_binding(
        CLUSTER_ID,
        "reader",
        workspace_id(),
        roles=["Microsoft.MachineLearningServices/workspaces/reader"],
    )
    env = azure([aks(disable_local_accounts=True), other, reader])
    finding = local(env, "--set", f"workspace_id={workspace_id()}")
    assert finding["status"] == "fail"
    assert "for other workspaces" in finding["message"]


def test_binding_without_a_workspace_named_warns(azure: Callable[..., Azure]) -> None:
    binding = trusted_access_binding(CLUSTER_ID, "azureml-ws", workspace_id())
    finding = local(azure([aks(disable_local_accounts=True), binding]))
    assert finding["status"] == "warn" and "--set workspace_id" in finding["remediation"]


def test_binding_not_yet_succeeded_warns(azure: Callable[..., Azure]) -> None:
    binding = trusted_access_binding(
        CLUSTER_ID, "azureml-ws", workspace_id(), provisioning_state="Updating"
    )
    finding = local(
        azure([aks(disable_local_accounts=True), binding]),
        "--set",
        f"workspace_id={workspace_id()}",
    )
    assert finding["status"] == "warn" and "Updating" in finding["message"]


def test_unreadable_bindings_warn(azure: Callable[..., Azure]) -> None:
    env = azure([aks(disable_local_accounts=True)])
    env.arm.inject(r"/trustedAccessRoleBindings$", status=403)
    finding = local(env, "--set", f"workspace_id={workspace_id()}")
    assert finding["status"] == "warn" and "could not be read" in finding["message"]
    env.arm.clear_faults()
    env.arm.inject(r"/trustedAccessRoleBindings$", body={"value": [{"properties": {"roles": "x"}}]})
    finding = local(env, "--set", f"workspace_id={workspace_id()}")
    assert finding["status"] == "warn" and "roles" in finding["message"]


def test_no_trusted_access_for_azure_ml_in_china(azure: Callable[..., Azure]) -> None:
    cluster = managed_cluster(
        "aks1", SUB, RG, "chinaeast2", kubernetes_version=VERSION, disable_local_accounts=True
    )
    binding = trusted_access_binding(CLUSTER_ID, "azureml-ws", workspace_id())
    env = azure([cluster, binding], base="azure-china", cloud="AzureChinaCloud")
    finding = local(env, "--set", f"workspace_id={workspace_id()}")
    assert (
        finding["status"] == "fail" and "no Trusted Access in AzureChinaCloud" in finding["message"]
    )


# -- azure.policy --------------------------------------------------------------------------------

EXTENSIONS_DENY = policy_definition(
    "deny-extensions",
    display_name="No cluster extensions",
    rule_if={"field": "type", "equals": "Microsoft.KubernetesConfiguration/extensions"},
    scope=SUB_SCOPE,
)
PRIVILEGED = kubernetes_policy_definition(
    "95edb821-ddaf-4404-9732-666045e056b4",
    "Kubernetes cluster should not allow privileged containers",
)
INTERNAL_LB = kubernetes_policy_definition(
    "3fc4dc25-5baf-40d8-9b05-7fe74c1bc64e",
    "Kubernetes clusters should use internal load balancers",
    kinds=("Service",),
)
IMAGES = kubernetes_policy_definition(
    "febd0533-8e55-448f-b837-bd0e06f16469",
    "Kubernetes cluster containers should only use allowed images",
    parameters={"allowedContainerImagesRegex": {"type": "String"}},
    values={"imageRegex": "[parameters('allowedContainerImagesRegex')]"},
)


def policy(env: Azure, *args: str) -> list[dict[str, Any]]:
    return env.run(*args, checks=("azure.policy",)).findings("azure.policy")


def test_no_assignment_passes(azure: Callable[..., Azure]) -> None:
    (finding,) = policy(azure([aks()]))
    assert finding["status"] == "pass" and "no Azure Policy assignment" in finding["message"]


def test_inherited_deny_of_cluster_extensions_fails(azure: Callable[..., Azure]) -> None:
    assignment = policy_assignment(SUB_SCOPE, "no-ext", EXTENSIONS_DENY["id"])
    env = azure([aks(), EXTENSIONS_DENY, assignment])
    (finding,) = policy(env)
    assert finding["status"] == "fail"
    assert "denies every cluster extension" in finding["message"]
    assert f"--policy-assignment {assignment['id']}" in finding["remediation"]
    assert f"--scope {CLUSTER_ID}" in finding["remediation"]
    listed = [r for r in env.arm.requests if r.path.endswith("/policyAssignments")]
    assert (
        listed and listed[0].path.startswith(CLUSTER_ID) and listed[0].api_version == "2023-04-01"
    )


def test_deny_not_enforced_or_not_in_scope_passes(azure: Callable[..., Azure]) -> None:
    relaxed = policy_assignment(
        SUB_SCOPE, "no-ext", EXTENSIONS_DENY["id"], enforcement_mode="DoNotEnforce"
    )
    (finding,) = policy(azure([aks(), EXTENSIONS_DENY, relaxed]))
    assert finding["status"] == "pass"
    excluded = policy_assignment(SUB_SCOPE, "no-ext", EXTENSIONS_DENY["id"], not_scopes=[RG_SCOPE])
    (finding,) = policy(azure([aks(), EXTENSIONS_DENY, excluded]))
    assert finding["status"] == "pass"
    audit = policy_assignment(
        SUB_SCOPE, "no-ext", EXTENSIONS_DENY["id"], parameters={"effect": "Audit"}
    )
    (finding,) = policy(azure([aks(), EXTENSIONS_DENY, audit]))
    assert finding["status"] == "pass"


def test_kubernetes_deny_warns_unless_azureml_is_excluded(azure: Callable[..., Azure]) -> None:
    assignment = policy_assignment(RG_SCOPE, "privileged", PRIVILEGED["id"])
    (finding,) = policy(azure([aks(), PRIVILEGED, assignment]))
    assert finding["status"] == "warn"
    assert "privileged" in finding["message"] and "excludedNamespaces" in finding["remediation"]
    excluded = policy_assignment(
        RG_SCOPE, "privileged", PRIVILEGED["id"],
        parameters={"excludedNamespaces": ["kube-system", "azureml"]},
    )  # fmt: skip
    (finding,) = policy(azure([aks(), PRIVILEGED, excluded]))
    assert finding["status"] == "pass"


def test_internal_load_balancer_policy_and_the_planned_router(azure: Callable[..., Azure]) -> None:
    assignment = policy_assignment(RG_SCOPE, "ilb", INTERNAL_LB["id"])
    env = azure([aks(), INTERNAL_LB, assignment])
    public = (
        "enableInference=True inferenceRouterServiceType=LoadBalancer allowInsecureConnections=True"
    )
    (finding,) = policy(env, "--extension-config", public)
    assert finding["status"] == "fail" and "would be refused" in finding["message"]
    internal = public + " internalLoadBalancerProvider=azure"
    (finding,) = policy(env, "--extension-config", internal)
    assert finding["status"] == "pass"


def test_allowed_images_policy(azure: Callable[..., Azure]) -> None:
    strict = policy_assignment(
        RG_SCOPE, "images", IMAGES["id"],
        parameters={"allowedContainerImagesRegex": r"^myacr\.azurecr\.io/.+$"},
    )  # fmt: skip
    (finding,) = policy(azure([aks(), IMAGES, strict]))
    assert finding["status"] == "fail" and "mcr.microsoft.com" in finding["message"]
    loose = policy_assignment(
        RG_SCOPE, "images", IMAGES["id"],
        parameters={"allowedContainerImagesRegex": r"^(mcr\.microsoft\.com|my\.io)/.+$"},
    )  # fmt: skip
    (finding,) = policy(azure([aks(), IMAGES, loose]))
    assert finding["status"] == "pass"


def test_initiative_member_effect_through_its_parameters(azure: Callable[..., Azure]) -> None:
    initiative = policy_set_definition(
        "baseline",
        [
            (
                PRIVILEGED["id"],
                "privileged",
                {"effect": {"value": "[parameters('privilegedEffect')]"}},
            )
        ],
        display_name="Pod security baseline",
        parameters={"privilegedEffect": {"type": "String", "defaultValue": "Audit"}},
    )
    audit = policy_assignment(SUB_SCOPE, "baseline", initiative["id"])
    (finding,) = policy(azure([aks(), PRIVILEGED, initiative, audit]))
    assert finding["status"] == "pass"
    deny = policy_assignment(
        SUB_SCOPE, "baseline", initiative["id"], parameters={"privilegedEffect": "Deny"}
    )
    (finding,) = policy(azure([aks(), PRIVILEGED, initiative, deny]))
    assert finding["status"] == "warn" and finding["target"] == "baseline / privileged"


def test_definition_of_a_shape_we_do_not_know_warns_naming_it(azure: Callable[..., Azure]) -> None:
    odd = policy_definition(
        "odd", display_name="Odd", rule_if={}, scope=SUB_SCOPE, policy_rule="deny everything"
    )
    clever = policy_definition(
        "clever",
        display_name="Clever",
        rule_if={"field": "type", "equals": "Microsoft.KubernetesConfiguration/extensions"},
        effect="[if(equals(1,1),'Deny','Audit')]",
        scope=SUB_SCOPE,
    )
    env = azure(
        [
            aks(),
            odd,
            clever,
            policy_assignment(SUB_SCOPE, "odd", odd["id"]),
            policy_assignment(SUB_SCOPE, "clever", clever["id"]),
            policy_assignment(
                SUB_SCOPE,
                "gone",
                f"{SUB_SCOPE}/providers/Microsoft.Authorization/policyDefinitions/gone",
            ),
        ]
    )
    found = {f["target"]: f for f in policy(env)}
    assert {f["status"] for f in found.values()} == {"warn"}
    assert "policyRule" in found["odd"]["message"]
    assert "effect" in found["clever"]["message"] and "Clever" in found["clever"]["message"]
    assert "gone" in found["gone"]["message"]


def test_unreadable_assignments_warn(azure: Callable[..., Azure]) -> None:
    env = azure([aks()])
    env.arm.inject(r"/policyAssignments$", status=403)
    (finding,) = policy(env)
    assert (
        finding["status"] == "warn"
        and "Microsoft.Authorization/policyAssignments/read" in finding["remediation"]
    )
    env.arm.clear_faults()
    env.arm.inject(r"/policyAssignments$", body={"value": [{"properties": {"notScopes": "x"}}]})
    (finding,) = policy(env)
    assert finding["status"] == "warn" and "notScopes" in finding["message"]


# -- azure.identity: node pools after a switch to a managed identity -----------------------------


def kubelet_client(cluster: dict[str, Any]) -> str:
    return str(cluster["properties"]["identityProfile"]["kubeletidentity"]["clientId"])


def identity(env: Azure, kube: Path) -> list[dict[str, Any]]:
    return env.run(checks=("azure.identity",), kubeconfig=kube).findings("azure.identity")


def pools_cluster() -> dict[str, Any]:
    return aks(pools=[agent_pool("system", 3, mode="System"), agent_pool("gpu", 2)])


def test_pool_whose_kubelet_runs_as_another_identity_fails(
    azure: Callable[..., Azure], kube_api: Callable[..., Any], tmp_path: Path
) -> None:
    cluster = pools_cluster()
    label = "kubernetes.azure.com/kubelet-identity-client-id"
    old = "5d4c3b2a-1111-2222-3333-444455556666"
    nodes = [
        node("aks-system-0", pool="system", labels={label: kubelet_client(cluster)}),
        node("aks-gpu-0", pool="gpu", labels={label: old}),
    ]
    api = kube_api([*default_namespaces(), *nodes], version=f"v{VERSION}")
    found = identity(azure([cluster]), api.kubeconfig(tmp_path / "kubeconfig"))
    by_target = {f["target"]: f for f in found}
    assert by_target["identity"]["status"] == "pass"
    stale = by_target["kubelet identity"]
    assert stale["status"] == "fail"
    assert "gpu" in stale["message"] and "system" not in stale["message"]
    assert old in stale["message"]
    assert "az aks nodepool add" in stale["remediation"]


def test_all_pools_on_the_kubelet_identity_add_no_finding(
    azure: Callable[..., Azure], kube_api: Callable[..., Any], tmp_path: Path
) -> None:
    cluster = pools_cluster()
    label = "kubernetes.azure.com/kubelet-identity-client-id"
    nodes = [
        node("aks-system-0", pool="system", labels={label: kubelet_client(cluster)}),
        node("aks-gpu-0", pool="gpu", labels={label: kubelet_client(cluster).upper()}),
        node("edge-0", pool="gpu"),  # no label: not judged
    ]
    api = kube_api([*default_namespaces(), *nodes], version=f"v{VERSION}")
    (finding,) = identity(azure([cluster]), api.kubeconfig(tmp_path / "kubeconfig"))
    assert finding["status"] == "pass"
    assert finding["details"]["kubelet_pools"] == "checked on the nodes' labels"


def test_empty_kubelet_label_warns(
    azure: Callable[..., Azure], kube_api: Callable[..., Any], tmp_path: Path
) -> None:
    cluster = pools_cluster()
    nodes = [
        node(
            "aks-gpu-0", pool="gpu", labels={"kubernetes.azure.com/kubelet-identity-client-id": ""}
        )
    ]
    api = kube_api([*default_namespaces(), *nodes], version=f"v{VERSION}")
    found = {f["target"]: f for f in identity(azure([cluster]), api.kubeconfig(tmp_path / "k"))}
    assert (
        found["kubelet identity"]["status"] == "warn"
        and "gpu" in found["kubelet identity"]["message"]
    )


def test_managed_identity_without_kubelet_identity_names_the_pools(tmp_path: Path) -> None:
    cluster = pools_cluster()
    del cluster["properties"]["identityProfile"]
    path = tmp_path / "aks.json"
    path.write_text(json.dumps(cluster))
    result = preflight(
        "run", "--check", "azure.identity", "--set", f"aks_json={path}", "--format", "json",
        env=no_azure_credentials(tmp_path), out=tmp_path / "out",
    )  # fmt: skip
    found = result.by_target("azure.identity")
    assert found["kubelet identity"]["status"] == "warn"
    assert found["kubelet identity"]["details"]["node_pools"] == ["system", "gpu"]


def test_deny_naming_the_extension_type_among_other_conditions_warns(
    azure: Callable[..., Azure],
) -> None:
    narrow = policy_definition(
        "deny-some-extensions",
        display_name="Only approved extensions",
        rule_if={
            "allOf": [
                {"field": "type", "equals": "Microsoft.KubernetesConfiguration/extensions"},
                {
                    "field": "Microsoft.KubernetesConfiguration/extensions/extensionType",
                    "notIn": ["microsoft.flux"],
                },
            ]
        },
        scope=SUB_SCOPE,
    )
    env = azure([aks(), narrow, policy_assignment(SUB_SCOPE, "approved", narrow["id"])])
    (finding,) = policy(env)
    assert finding["status"] == "warn" and "may deny the install" in finding["message"]


def test_deny_of_azure_relay_matters_on_arc_only(azure: Callable[..., Azure]) -> None:
    relay = policy_definition(
        "no-relay",
        display_name="No Azure Relay",
        rule_if={"field": "type", "equals": "Microsoft.Relay/namespaces"},
        scope=SUB_SCOPE,
    )
    assignment = policy_assignment(SUB_SCOPE, "no-relay", relay["id"])
    (finding,) = policy(azure([aks(), relay, assignment]))
    assert finding["status"] == "pass"
    arc = connected_cluster("arc1", SUB, RG, kubernetes_version=VERSION)
    env = azure([arc, relay, assignment])
    result = env.run("--set", "cluster_type=arc", checks=("azure.policy",), cluster="arc1")
    (finding,) = result.findings("azure.policy")
    assert finding["status"] == "warn" and "microsoft.relay/namespaces" in finding["message"]
