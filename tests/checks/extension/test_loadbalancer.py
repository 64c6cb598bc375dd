"""extension.loadbalancer end to end: AKS, kind and on-premises clusters (with and without MetalLB)
served by the fake Kubernetes API server, judged by the real CLI through a kubeconfig."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.clirun import Result, run_checks

CHECK = "extension.loadbalancer"
LB = "enableInference=True inferenceRouterServiceType=loadBalancer"


def run(tmp_path: Path, api: Any, config: str | None, *args: str) -> Result:
    return run_checks(api, tmp_path, CHECK, *args, config=config, formats=None)


def onprem_node(name: str, provider: str | None = None) -> dict[str, Any]:
    """A node of a cluster outside Azure: no AKS labels, another (or no) providerID."""
    from support.kube_objects import node

    result = node(name)
    labels = result["metadata"]["labels"]
    for key in [k for k in labels if k.startswith("kubernetes.azure.com/")]:
        del labels[key]
    if provider is None:
        del result["spec"]["providerID"]
    else:
        result["spec"]["providerID"] = provider
    return result


def aged(obj: dict[str, Any], age: dt.timedelta) -> dict[str, Any]:
    created = dt.datetime.now(dt.UTC) - age
    obj["metadata"]["creationTimestamp"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return obj


def test_aks_with_a_provisioned_load_balancer_passes(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import default_namespaces, nodes, service

    api = kube_api(
        objects=[
            *default_namespaces(),
            *nodes(3),
            service("ingress-nginx-controller", "kube-system", ingress_ips=["20.50.1.2"]),
        ]
    )
    result = run(tmp_path, api, LB, "--set", "cluster_type=aks")
    assert result.code == 0, result.stdout + result.stderr
    finding = result.by_target(CHECK)["inferenceRouterServiceType"]
    assert finding["status"] == "pass"
    assert "Azure" in finding["message"]
    assert "kube-system/ingress-nginx-controller -> 20.50.1.2" in finding["message"]
    assert finding["details"]["cloud_providers"] == {"Azure": 3}


def test_kind_cluster_without_any_load_balancer_fails_e40001(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import default_namespaces, service

    api = kube_api(
        objects=[
            *default_namespaces(),
            onprem_node("kind-control-plane", "kind://docker/kind/kind-control-plane"),
            onprem_node("kind-worker", "kind://docker/kind/kind-worker"),
            aged(service("web", "default"), dt.timedelta(hours=3)),
        ]
    )
    result = run(tmp_path, api, LB, "--set", "cluster_type=arc")
    assert result.code == 1
    finding = result.by_target(CHECK)["inferenceRouterServiceType"]
    assert finding["status"] == "fail"
    assert "E40001" in finding["message"] and "LOAD_BALANCER_NOT_SUPPORT" in finding["message"]
    assert "kind (2)" in finding["message"]
    assert "default/web" in finding["message"] and "3h" in finding["message"]
    assert "nodePort" in finding["remediation"] and "MetalLB" in finding["remediation"]
    assert finding["details"]["recommend"] == {"inferenceRouterServiceType": "nodePort"}
    assert finding["details"]["health_check"] == "E40001 LOAD_BALANCER_NOT_SUPPORT"
    assert finding["docs"]


def test_on_premises_cluster_with_metallb_pools_passes(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import crd, daemonset, default_namespaces, deployment, namespace, obj

    api = kube_api(
        objects=[
            *default_namespaces(),
            onprem_node("node-1"),
            onprem_node("node-2"),
            namespace("metallb-system"),
            crd("ipaddresspools.metallb.io", kind="IPAddressPool", versions=("v1beta1",)),
            crd("l2advertisements.metallb.io", kind="L2Advertisement", versions=("v1beta1",)),
            deployment("controller", "metallb-system"),
            daemonset("speaker", "metallb-system"),
            obj(
                "metallb.io/v1beta1",
                "IPAddressPool",
                "lan",
                "metallb-system",
                spec={"addresses": ["192.168.10.240-192.168.10.250"]},
            ),
        ]
    )
    result = run(tmp_path, api, LB, "--set", "cluster_type=arc")
    assert result.code == 0, result.stdout + result.stderr
    finding = result.by_target(CHECK)["inferenceRouterServiceType"]
    assert finding["status"] == "pass"
    assert "MetalLB is installed" in finding["message"]
    assert "1 address pool(s)" in finding["message"]
    assert finding["details"]["address_pools"] == {"MetalLB": 1}


def test_metallb_without_an_address_pool_fails(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import crd, daemonset, default_namespaces, namespace

    api = kube_api(
        objects=[
            *default_namespaces(),
            onprem_node("node-1"),
            namespace("metallb-system"),
            crd("ipaddresspools.metallb.io", kind="IPAddressPool", versions=("v1beta1",)),
            daemonset("speaker", "metallb-system"),
        ]
    )
    finding = run(tmp_path, api, LB).by_target(CHECK)["inferenceRouterServiceType"]
    assert finding["status"] == "fail"
    assert "MetalLB" in finding["message"] and "no address pool" in finding["message"]
    assert "IPAddressPool" in finding["remediation"]


def test_long_pending_services_warn_with_their_age(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import default_namespaces, nodes, service

    api = kube_api(
        objects=[
            *default_namespaces(),
            *nodes(2),
            service("ok", "apps", ingress_ips=["20.0.0.9"]),
            aged(service("stuck", "apps"), dt.timedelta(days=2, hours=5)),
            aged(service("new", "apps"), dt.timedelta(minutes=1)),
        ]
    )
    result = run(tmp_path, api, LB)
    found = result.by_target(CHECK)
    assert found["inferenceRouterServiceType"]["status"] == "pass"
    pending = found["Service/apps/stuck"]
    assert pending["status"] == "warn"
    assert "2d 5h" in pending["message"]
    assert [p["service"] for p in pending["details"]["pending"]] == ["apps/stuck"]
    assert "kubectl describe service stuck -n apps" in pending["remediation"]


def test_internal_load_balancer_only_on_aks(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import default_namespaces, nodes

    internal = LB + " internalLoadBalancerProvider=azure"
    aks = kube_api(objects=[*default_namespaces(), *nodes(3)])
    ok = run(tmp_path / "aks", aks, internal).by_target(CHECK)["internalLoadBalancerProvider"]
    assert ok["status"] == "pass"
    assert "azure-load-balancer-internal" in ok["message"]

    # cluster_type=arc alone decides it: extension.config reports that, this check defers
    arc = run(tmp_path / "arc", aks, internal, "--set", "cluster_type=arc").by_target(CHECK)
    assert arc["internalLoadBalancerProvider"]["status"] == "skip"
    assert "E40003" in arc["internalLoadBalancerProvider"]["message"]

    onprem = kube_api(
        objects=[*default_namespaces(), onprem_node("n1", "vsphere://4205-aa"), onprem_node("n2")]
    )
    other = run(tmp_path / "onprem", onprem, internal).by_target(CHECK)
    assert other["internalLoadBalancerProvider"]["status"] == "fail"
    assert "not AKS nodes" in other["internalLoadBalancerProvider"]["message"]
    internal_finding = other["internalLoadBalancerProvider"]
    assert "INTERNAL_LOAD_BALANCER_NOT_SUPPORT" in internal_finding["message"]
    assert internal_finding["details"]["recommend"] == {"internalLoadBalancerProvider": None}


def test_skips_name_the_setting_that_would_make_it_run(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import default_namespaces, nodes

    api = kube_api(objects=[*default_namespaces(), *nodes(1)])
    for sub, config in (("none", None), ("nodeport", LB.replace("loadBalancer", "nodePort"))):
        result = run(tmp_path / sub, api, config)
        assert result.code == 0
        (finding,) = result.findings(CHECK)
        assert finding["status"] == "skip"
        assert "inferenceRouterServiceType=loadBalancer" in finding["remediation"]
    assert api.count(resource="nodes") == 0  # nothing read when nothing is planned


def test_forbidden_reads_are_a_warning_not_a_crash(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import default_namespaces, nodes

    api = kube_api(objects=[*default_namespaces(), *nodes(2)])
    api.inject("nodes", verb="list", status=403)
    api.inject("services", verb="list", status=403)
    result = run(tmp_path, api, LB)
    finding = result.by_target(CHECK)["inferenceRouterServiceType"]
    assert finding["status"] == "warn"
    assert "could not verify" in finding["message"]
    assert "list nodes (cluster-wide)" in finding["remediation"]


def test_k3s_nodes_count_as_servicelb(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import default_namespaces

    api = kube_api(objects=[*default_namespaces(), onprem_node("pi-1", "k3s://pi-1")])
    finding = run(tmp_path, api, LB).by_target(CHECK)["inferenceRouterServiceType"]
    assert finding["status"] == "pass"
    assert "k3s ServiceLB" in finding["message"]
