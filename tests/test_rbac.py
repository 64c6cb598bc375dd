"""The shipped RBAC (deploy/rbac.yaml) is least privilege, proven against the calls preflight
makes: every request of a run of every check over a cluster that exercises every branch is
allowed, the fake API server enforcing the manifest's rules returns no 403, and no rule grants
anything that no call needs."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from support.kube_objects import (
    clusterrole,
    configmap,
    crd,
    daemonset,
    deployment,
    namespace,
    node,
    secret,
    service,
    serviceaccount,
)
from support.rbac import Attributes, denied, load_rules, unused

from tests.clirun import preflight

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = [ROOT / "deploy" / "rbac.yaml", ROOT / "deploy" / "rbac-azureml.yaml"]
SETTINGS = (
    "enableTraining=True enableInference=True inferenceRouterServiceType=loadBalancer "
    "sslSecret=azureml-tls sslCname=ml.contoso.com"
)


def busy_cluster() -> list[dict[str, Any]]:
    """Objects that send every check down its longest path (conflicts, legacy v1, TLS secret,
    MetalLB, Helm releases)."""
    ca = trustme.CA()
    leaf = ca.issue_cert("ml.contoso.com")
    tls = {"cert.pem": leaf.cert_chain_pems[0].bytes(), "key.pem": leaf.private_key_pem.bytes()}
    return [
        *(node(f"aks-{i}") for i in range(3)),
        namespace("default"),
        namespace("azureml"),
        namespace("monitoring"),
        namespace("metallb-system"),
        crd("prometheuses.monitoring.coreos.com", kind="Prometheus"),
        crd("jobs.batch.volcano.sh", kind="Job"),
        crd("ipaddresspools.metallb.io", kind="IPAddressPool"),
        crd(
            "ciliumloadbalancerippools.cilium.io", kind="CiliumLoadBalancerIPPool", scope="Cluster"
        ),
        deployment("prometheus-operator", "monitoring"),
        daemonset("nvidia-device-plugin-daemonset", "kube-system"),
        serviceaccount("azureml-fe", "default"),
        clusterrole("azureml-fe-role"),
        service("azureml-fe", "default", type="LoadBalancer"),
        configmap("azuremlfeconfig", "default"),
        secret("azuremlfessl", "default", data={"a": "b"}),
        secret("azureml-tls", "azureml", data=tls),
        secret(
            "sh.helm.release.v1.azureml.v1",
            "azureml",
            labels={"owner": "helm", "name": "azureml", "status": "failed"},
        ),
    ]


def documents() -> list[dict[str, Any]]:
    return [d for m in MANIFESTS for d in yaml.safe_load_all(m.read_text()) if d]


def rbac_rules() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    cluster: list[dict[str, Any]] = []
    namespaced: dict[str, list[dict[str, Any]]] = {}
    for doc in documents():
        if doc["kind"] == "ClusterRole":
            cluster += doc["rules"]
        elif doc["kind"] == "Role":
            namespaced.setdefault(doc["metadata"]["namespace"], []).extend(doc["rules"])
    return cluster, namespaced


def attributes_of(api: Any) -> list[Attributes]:
    calls = []
    for request in api.requests:
        if request.is_resource_request:
            verb, group, resource, sub, ns, name = request.attributes
            calls.append(Attributes(verb, group, resource, sub, ns, name))
        else:
            calls.append(Attributes("get", "", "", path=request.path.split("?")[0].rstrip("/")))
    return calls


def run_everything(api: Any, tmp_path: Path) -> Any:
    return preflight(
        "run",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kc")),
        "--skip",
        "dns.*",
        "--skip",
        "egress.*",
        "--extension-config",
        SETTINGS,
        "--format",
        "json",
        out=tmp_path / "out",
    )


def test_manifest_is_read_only_and_bound() -> None:
    docs = documents()
    kinds = [d["kind"] for d in docs]
    assert "ClusterRole" in kinds and "ClusterRoleBinding" in kinds
    for doc in docs:
        for rule in doc.get("rules") or []:
            assert set(rule["verbs"]) <= {"get", "list"}, (doc["metadata"]["name"], rule)
            assert "*" not in rule.get("resources", []) and "*" not in rule.get("apiGroups", [])
    secret_rules = [
        (d["kind"], r)
        for d in docs
        for r in d.get("rules") or []
        if "secrets" in r.get("resources", [])
    ]
    for kind, rule in secret_rules:  # never read every Secret in the cluster
        assert kind == "Role" or rule.get("resourceNames"), rule


def test_every_call_is_allowed_and_every_grant_is_used(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(busy_cluster())
    result = run_everything(api, tmp_path)
    assert result.code in (0, 1), result.stderr
    calls = attributes_of(api)
    rules = [r for m in MANIFESTS for r in load_rules(m)]
    assert not denied(rules, calls), "calls the shipped RBAC does not allow"
    assert not unused(rules, calls), "grants no call needs (not least privilege)"


def test_fake_server_enforcing_the_manifest_answers_no_403(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(busy_cluster())
    cluster, namespaced = rbac_rules()
    api.set_rbac(cluster, namespaced=namespaced)
    result = run_everything(api, tmp_path)
    forbidden = [r for r in api.requests if r.status == 403]
    assert not forbidden, [r.path for r in forbidden]
    for finding in result.findings():
        assert "forbidden" not in finding["message"].lower(), finding
    # and enforcement is real: without the manifest's rules the same run is refused
    api.set_rbac([])
    refused = run_everything(api, tmp_path)
    capacity = refused.findings("nodes.capacity")
    assert capacity and capacity[0]["status"] == "error", capacity
    assert (
        "forbidden" in capacity[0]["message"] and "deploy/rbac.yaml" in capacity[0]["remediation"]
    )


@pytest.mark.parametrize("secret_data", [{"cert.pem": "x"}])
def test_secret_values_never_leave_the_cluster(
    tmp_path: Path, kube_api: Any, secret_data: dict[str, str]
) -> None:
    api = kube_api(busy_cluster())
    result = run_everything(api, tmp_path)
    key_b64 = base64.b64encode(
        api.get("secrets", "azureml-tls", "azureml")["data"]["key.pem"].encode()
    ).decode()
    texts = [result.stdout, result.stderr, *(p.read_text() for p in (tmp_path / "out").iterdir())]
    for text in texts:
        assert "PRIVATE KEY" not in text
        assert api.get("secrets", "azureml-tls", "azureml")["data"]["key.pem"] not in text
        assert key_b64 not in text
