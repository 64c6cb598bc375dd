"""extension.network-policy end to end: the real CLI against the fake Kubernetes API server holding
NetworkPolicies as the API returns them, judged against the in-cluster traffic the Azure ML
firewall page lists (https://learn.microsoft.com/azure/machine-learning/
how-to-access-azureml-behind-firewall#in-cluster-communication-requirements)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.clirun import Result, run_checks

CHECK = "extension.network-policy"
TRAINING = "enableTraining=True"
INFERENCE = (
    "enableInference=True inferenceRouterServiceType=loadBalancer allowInsecureConnections=True"
)
NS_LABEL = "kubernetes.io/metadata.name"


def run(tmp_path: Path, api: Any, *args: str, config: str | None = TRAINING) -> Result:
    return run_checks(api, tmp_path, CHECK, *args, config=config)


def cluster(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    """Three nodes, and the kube-system pods the docs name with the labels AKS gives them."""
    from support.kube_objects import default_namespaces, namespace, nodes, pod

    return [
        *default_namespaces(),
        namespace("azureml"),
        *nodes(3),
        pod(
            "coredns-789789675-7xk2p",
            "kube-system",
            labels={
                "k8s-app": "kube-dns",
                "kubernetes.io/cluster-service": "true",
                "version": "v20",
                "pod-template-hash": "789789675",
            },
        ),
        pod(
            "konnectivity-agent-5d8f7c9b4-q2w9z",
            "kube-system",
            labels={"app": "konnectivity-agent", "pod-template-hash": "5d8f7c9b4"},
        ),
        *extra,
    ]


def default_deny(namespace: str = "azureml") -> dict[str, Any]:
    from support.kube_objects import networkpolicy

    return networkpolicy("default-deny", namespace, policy_types=["Ingress", "Egress"])


def allow_what_the_extension_needs() -> list[dict[str, Any]]:
    """Narrow allowances beside a default deny, as a careful cluster admin writes them."""
    from support.kube_objects import networkpolicy

    kube_system = {"namespaceSelector": {"matchLabels": {NS_LABEL: "kube-system"}}}
    return [
        networkpolicy(
            "allow-same-namespace",
            "azureml",
            ingress=[{"from": [{"podSelector": {}}]}],
            egress=[{"to": [{"podSelector": {}}]}],
            policy_types=["Ingress", "Egress"],
        ),
        networkpolicy(
            "allow-dns",
            "azureml",
            egress=[
                {
                    "to": [
                        {**kube_system, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
            policy_types=["Egress"],
        ),
        networkpolicy(
            "allow-konnectivity",
            "azureml",
            ingress=[
                {
                    "from": [
                        {
                            **kube_system,
                            "podSelector": {"matchLabels": {"app": "konnectivity-agent"}},
                        }
                    ]
                }
            ],
            egress=[
                {
                    "to": [
                        {
                            **kube_system,
                            "podSelector": {
                                "matchExpressions": [
                                    {
                                        "key": "app",
                                        "operator": "In",
                                        "values": ["konnectivity-agent"],
                                    }
                                ]
                            },
                        }
                    ]
                }
            ],
            policy_types=["Ingress", "Egress"],
        ),
        networkpolicy(
            "allow-out-443-and-kubelets",
            "azureml",
            egress=[
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]},
                {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 10250}]},
            ],
            policy_types=["Egress"],
        ),
    ]


def by_flow(result: Result) -> dict[str, dict[str, Any]]:
    return {f["details"].get("flow", f["target"]): f for f in result.findings(CHECK)}


def test_a_default_deny_in_azureml_fails_the_documented_flows(
    tmp_path: Path, kube_api: Any
) -> None:
    api = kube_api(cluster(default_deny()))
    result = run(tmp_path, api)
    assert result.code == 1, result.stdout + result.stderr
    flows = by_flow(result)
    dns = flows["to kube-dns"]
    assert dns["status"] == "fail"
    assert dns["target"] == "azureml/extension pods -> kube-system/kube-dns"
    assert dns["details"]["blocked_ports"] == ["UDP 53", "TCP 53"]
    assert dns["details"]["isolated_by"] == ["NetworkPolicy/azureml/default-deny"]
    assert "kube-dns" in dns["details"]["why_needed"]
    assert dns["remediation"] and dns["docs"].endswith("#in-cluster-communication-requirements")
    [suggested] = dns["details"]["suggested_policies"]
    assert suggested["metadata"]["namespace"] == "azureml"
    assert suggested["spec"]["egress"][0]["to"][0]["podSelector"] == {
        "matchLabels": {"k8s-app": "kube-dns"}
    }
    for name in (
        "among the extension's components",
        "to the API server",
        "to Azure",
        "to konnectivity-agent",
        "from konnectivity-agent (API server calls: webhooks, logs)",
    ):
        assert flows[name]["status"] == "fail", name
    # inferred, not documented: a warning
    kubelets = flows["to the kubelets"]
    assert kubelets["status"] == "warn" and kubelets["details"]["documented"] is False
    # training only: the router's flows are not asked for
    assert "from the router to the model pods" not in flows


def test_narrow_allowances_beside_the_deny_pass(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import node

    api = kube_api(
        cluster(
            default_deny(),
            *allow_what_the_extension_needs(),
            node("aks-extra", internal_ip="10.224.0.9"),
        )
    )
    result = run(tmp_path, api)
    assert result.code == 0, [(f["target"], f["status"], f["message"]) for f in result.findings()]
    [finding] = result.findings(CHECK)
    assert finding["status"] == "pass"
    assert "allow every flow" in finding["message"]
    assert "NetworkPolicy/azureml/allow-dns" in finding["details"]["policies"]


def test_dns_over_tcp_only_names_the_blocked_udp_port(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import networkpolicy

    policies = allow_what_the_extension_needs()
    dns = next(p for p in policies if p["metadata"]["name"] == "allow-dns")
    dns["spec"]["egress"][0]["ports"] = [{"protocol": "TCP", "port": 53}]
    named = networkpolicy(
        "allow-https-by-range",
        "azureml",
        egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]}],
        policy_types=["Egress"],
    )
    api = kube_api(cluster(default_deny(), *policies, named))
    flows = by_flow(run(tmp_path, api))
    finding = flows["to kube-dns"]
    assert finding["status"] == "fail"
    assert finding["details"]["blocked_ports"] == ["UDP 53"]
    assert "NetworkPolicy/azureml/allow-dns" in finding["details"]["isolated_by"]
    assert "to Azure" not in flows and "to the API server" not in flows


def test_a_policy_on_pods_whose_labels_are_unknown_warns(tmp_path: Path, kube_api: Any) -> None:
    """Before the install the router pods' labels are not known: a policy that selects some
    pods of azureml may isolate them. That is a warning, never a pass or a guess."""
    from support.kube_objects import networkpolicy

    router_only = networkpolicy(
        "router-ingress",
        "azureml",
        pod_selector={"matchLabels": {"app": "azureml-fe"}},
        ingress=[{"ports": [{"protocol": "TCP", "port": 80}]}],
    )
    api = kube_api(cluster(router_only))
    result = run(tmp_path, api, config=INFERENCE)
    flows = by_flow(result)
    internal = flows["to the router's internal ports"]
    assert internal["status"] == "warn"
    assert "may be blocked" in internal["message"]
    assert "TCP 11001" in internal["details"]["unsure_ports"]
    assert internal["details"]["isolated_by"] == ["NetworkPolicy/azureml/router-ingress"]
    assert {f["status"] for f in result.findings(CHECK)} == {"warn"}
    # egress is not restricted by an Ingress-only policy
    assert "to kube-dns" not in flows


def test_the_compute_namespace_is_judged_too(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import namespace

    deny_ingress = default_deny("default")
    deny_ingress["spec"]["policyTypes"] = ["Ingress"]
    api = kube_api(cluster(deny_ingress, namespace("ml-models")))
    flows = by_flow(run(tmp_path / "default", api, config=INFERENCE))
    models = flows["from the router to the model pods"]
    assert models["status"] == "fail"
    assert models["target"] == "azureml/azureml-fe -> default/model pods"
    assert models["details"]["blocked_ports"] == ["TCP 5001"]
    [suggested] = models["details"]["suggested_policies"]
    assert suggested["metadata"]["namespace"] == "default"
    assert suggested["spec"]["ingress"][0]["from"][0]["namespaceSelector"] == {
        "matchLabels": {NS_LABEL: "azureml"}
    }
    elsewhere = run(
        tmp_path / "elsewhere", api, "--set", "compute_namespace=ml-models", config=INFERENCE
    )
    assert elsewhere.code == 0
    assert elsewhere.only(CHECK)["status"] == "pass"
    assert "no NetworkPolicy in namespace azureml or ml-models" in elsewhere.only(CHECK)["message"]


def test_a_policy_that_cannot_be_read_warns_and_nothing_passes(
    tmp_path: Path, kube_api: Any
) -> None:
    from support.kube_objects import networkpolicy

    odd = networkpolicy("odd", "azureml", policy_types=["Ingress"])
    odd["spec"]["ingress"] = "allow-all"  # not a list of rules
    api = kube_api(cluster(odd))
    result = run(tmp_path, api)
    findings = result.findings(CHECK)
    assert findings and {f["status"] for f in findings} == {"warn"}, findings
    unreadable = result.by_target(CHECK)["NetworkPolicy/azureml/odd"]
    assert "could not read NetworkPolicy azureml/odd" in unreadable["message"]
    assert "spec.ingress is a str" in unreadable["message"]
    assert "kubectl get networkpolicy -n azureml odd" in unreadable["remediation"]


def test_without_a_policy_engine_a_block_only_warns(tmp_path: Path, kube_api: Any) -> None:
    from support.azure_objects import managed_cluster

    aks = tmp_path / "aks.json"
    aks.write_text(json.dumps(managed_cluster("aks1", network_policy=None)))
    api = kube_api(cluster(default_deny()))
    result = run(tmp_path, api, "--set", f"aks_json={aks}")
    dns = by_flow(result)["to kube-dns"]
    assert dns["status"] == "warn"
    assert "no network policy engine" in dns["message"]
    assert dns["details"]["network_policy_engine_enforced"] is False
    with_engine = tmp_path / "calico.json"
    with_engine.write_text(json.dumps(managed_cluster("aks1", network_policy="calico")))
    enforced = by_flow(run(tmp_path / "calico", api, "--set", f"aks_json={with_engine}"))
    assert enforced["to kube-dns"]["status"] == "fail"


def test_an_unreadable_list_is_a_warning_naming_the_permission(
    tmp_path: Path, kube_api: Any
) -> None:
    api = kube_api(cluster(default_deny()))
    api.inject("networkpolicies.networking.k8s.io", verb="list", status=403)
    finding = run(tmp_path, api).only(CHECK)
    assert finding["status"] == "warn"
    assert "could not verify which NetworkPolicies apply" in finding["message"]
    assert "list networkpolicies.networking.k8s.io (cluster-wide)" in finding["remediation"]
