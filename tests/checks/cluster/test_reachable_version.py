"""Kubernetes access and cluster.reachable / cluster.version, with the real kubernetes client
against the fake API server: kubeconfig, exec users, paging, and every failure as a finding."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from support.kube_objects import namespace, node

from tests.clirun import Result, preflight, run_cluster

CLUSTER = ("--check", "cluster.*", "--format", "json,html")


def run(tmp_path: Path, kubeconfig: Path, *args: str) -> Result:
    return preflight("run", "--kubeconfig", str(kubeconfig), *CLUSTER, *args, out=tmp_path / "out")


def test_reachable_and_version_in_window(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api([node("aks-1"), namespace("default")], version="v1.36.2")
    result = run(tmp_path, api.kubeconfig(tmp_path / "kc"))
    assert result.code == 0, result.stdout
    found = {f["check"]: f for f in result.findings()}
    assert found["cluster.reachable"]["status"] == "pass"
    assert "v1.36.2" in found["cluster.reachable"]["message"]
    assert found["cluster.version"]["status"] == "pass"
    target = result.report()["target"]
    assert target == {"context": "fake", "api_server": api.url, "kubernetes_version": "v1.36.2"}
    # the API server's host and port become the api_server parameter, so the network checks
    # cover it where it listens (not on 443 when the kubeconfig says otherwise)
    assert result.report()["parameters"]["api_server"] == f"127.0.0.1:{api.port}"


def test_version_outside_the_window(tmp_path: Path, kube_api: Any) -> None:
    old = run(tmp_path, kube_api([], version="v1.28.3").kubeconfig(tmp_path / "old"))
    finding = old.by_target("cluster.version")
    (only,) = finding.values()
    assert only["status"] == "fail"
    assert "older than the supported window 1.35–1.37" in only["message"]
    assert "upgrade" in only["remediation"]
    new = run(tmp_path, kube_api([], version="v1.40.0").kubeconfig(tmp_path / "new"))
    assert [f["status"] for f in new.findings("cluster.version")] == ["warn"]


def test_wrong_token_is_a_finding_and_dependent_checks_skip(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api([node("n1")], token="right-token")
    kubeconfig = api.kubeconfig(tmp_path / "kc", token="wrong-token-value")
    result = run(tmp_path, kubeconfig)
    assert result.code == 1
    found = {f["check"]: f for f in result.findings()}
    reachable = found["cluster.reachable"]
    assert reachable["status"] == "fail"
    assert reachable["details"]["kind"] == "unauthorized" and reachable["details"]["status"] == 401
    assert "refresh" in reachable["remediation"]
    version = found["cluster.version"]
    assert version["status"] == "skip"
    assert "not reachable" in version["message"] and "401" in version["message"]
    for path in (tmp_path / "out").iterdir():
        assert "wrong-token-value" not in path.read_text()


def test_exec_credential_plugin(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api([node("n1")], token="from-exec-plugin")
    plugin = tmp_path / "get-token.py"
    plugin.write_text(
        "import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
        "'kind': 'ExecCredential', 'status': {'token': 'from-exec-plugin'}}))\n"
    )
    kubeconfig = api.kubeconfig(tmp_path / "kc", user_exec=[sys.executable, str(plugin)])
    result = run(tmp_path, kubeconfig)
    assert [f["status"] for f in result.findings("cluster.reachable")] == ["pass"]
    broken = api.kubeconfig(tmp_path / "kc2", user_exec=[sys.executable, "-c", "exit(3)"])
    failed = run(tmp_path, broken).findings("cluster.reachable")[0]
    assert failed["status"] == "fail"
    assert failed["details"]["kind"] == "exec"
    assert "exited 3" in failed["message"] and "python" in failed["details"]["command"]


def test_forbidden_and_server_error(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api([])
    api.inject("^/api$", status=403)
    forbidden = run(tmp_path, api.kubeconfig(tmp_path / "kc")).findings("cluster.reachable")[0]
    assert forbidden["status"] == "fail" and forbidden["details"]["kind"] == "forbidden"
    assert "deploy/rbac.yaml" in forbidden["remediation"]
    api.clear_faults()
    api.inject("^/version$", status=500)
    broken = run(tmp_path, api.kubeconfig(tmp_path / "kc")).findings("cluster.reachable")[0]
    assert broken["details"]["kind"] == "server"


def test_hanging_api_server_is_bounded(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api([])
    api.inject("^/version$", hang=True)
    started = time.monotonic()
    result = run(tmp_path, api.kubeconfig(tmp_path / "kc"), "--timeout", "1")
    elapsed = time.monotonic() - started
    reachable = result.findings("cluster.reachable")[0]
    assert reachable["status"] == "fail" and reachable["details"]["kind"] == "timeout"
    assert "within 1s" in reachable["message"]
    assert elapsed < 20
    assert (tmp_path / "out" / "report.html").exists()


def test_refused_api_server(tmp_path: Path, kube_api: Any, refused_port: int) -> None:
    api = kube_api([])
    kubeconfig = api.kubeconfig(tmp_path / "kc", server=f"http://127.0.0.1:{refused_port}")
    finding = run(tmp_path, kubeconfig).findings("cluster.reachable")[0]
    assert finding["status"] == "fail" and finding["details"]["kind"] == "refused"


def test_no_cluster_means_skip_with_how_to_supply_one(tmp_path: Path) -> None:
    result = preflight("run", *CLUSTER, out=tmp_path / "out")
    assert result.code == 0
    for finding in result.findings():
        if finding["check"] == "preflight.coverage":  # nothing was checked: a warn, not a pass
            assert finding["status"] == "warn" and "--kubeconfig" in finding["remediation"]
            continue
        assert finding["status"] == "skip"
        assert "no cluster given" in finding["message"]
        assert "--kubeconfig" in finding["remediation"]
    assert result.report()["target"] is None
    assert result.report()["summary"]["verdict"] == "warn"


def test_lists_are_paginated_and_fetched_once(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api([node(f"aks-{i:04d}") for i in range(1203)])
    result = run_cluster(
        api,
        tmp_path,
        "--check",
        "nodes.capacity",
        "--check",
        "extension.config",
        "--extension-config",
        "enableInference=True inferenceRouterServiceType=nodePort allowInsecureConnections=True",
    )
    assert result.code in (0, 1), result.stderr
    node_lists = [r for r in api.requests if r.attributes[:3] == ("list", "", "nodes")]
    assert len(node_lists) == 3, "1203 nodes in pages of 500, listed once for both checks"
    assert all(r.param("limit") == "500" for r in node_lists)
    assert sum(1 for r in node_lists if r.param("continue")) == 2
