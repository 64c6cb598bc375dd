"""``azure.outbound``: the cluster's egress path against this run's, and noProxy coverage, from
``az aks show -o json`` (offline) through the real CLI (issue 15, part 6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.azure_objects import managed_cluster
from support.azure_run import az_aks_show

from tests.clirun import Result, no_azure_credentials, preflight

CHECK = "azure.outbound"
PROXY = {
    "httpProxy": "http://proxy.corp:3128",
    "httpsProxy": "http://proxy.corp:3128",
    "noProxy": ["localhost", "127.0.0.1"],
    "effectiveNoProxy": [
        "konnectivity",
        "aks1-dns.hcp.eastus.azmk8s.io",
        "localhost",
        "127.0.0.1",
        "169.254.169.254",
        "168.63.129.16",
        "10.224.0.0/12",
        "10.244.0.0/16",
        "10.0.0.0/16",
    ],
}


def cluster(tmp_path: Path, **kwargs: Any) -> Path:
    body = managed_cluster(
        "aks1",
        rg="rg1",
        fqdn="aks1-dns.hcp.eastus.azmk8s.io",
        kubernetes_version="1.36.2",
        **kwargs,
    )
    body["properties"].setdefault("networkProfile", {})["serviceCidr"] = "10.0.0.0/16"
    path = tmp_path / "aks.json"
    path.write_text(json.dumps(az_aks_show(body)))
    return path


def run(tmp_path: Path, aks: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return preflight(
        "run",
        "--check",
        CHECK,
        "--set",
        f"aks_json={aks}",
        *args,
        env={**no_azure_credentials(tmp_path), **(env or {})},
        out=tmp_path / "out",
    )


def test_a_load_balancer_cluster_without_proxy_is_this_runs_path(tmp_path: Path) -> None:
    result = run(tmp_path, cluster(tmp_path))
    assert result.code == 0, result.stdout + result.stderr
    (finding,) = result.findings(CHECK)
    assert finding["status"] == "pass" and finding["target"] == "aks1"
    assert finding["details"]["outbound_type"] == "loadBalancer"


def test_a_proxy_this_run_did_not_use_says_what_to_run_instead(tmp_path: Path) -> None:
    aks = cluster(tmp_path, httpProxyConfig=PROXY)
    result = run(tmp_path, aks)
    path = result.by_target(CHECK)["aks1"]
    assert path["status"] == "warn", path
    assert "proxy.corp:3128" in path["message"] and "direct (no proxy)" in path["message"]
    assert "--in-cluster" in path["remediation"]
    assert "--proxy http://proxy.corp:3128" in path["remediation"]
    # the same proxy as the cluster's: the local path is the cluster's
    same = run(tmp_path, aks, "--proxy", "http://proxy.corp:3128")
    assert same.by_target(CHECK)["aks1"]["status"] == "pass", same.by_target(CHECK)["aks1"]
    # probed from the nodes as well: said, not warned
    inside = run(tmp_path, aks, "--in-cluster")
    assert inside.by_target(CHECK)["aks1"]["status"] == "pass"


def test_no_proxy_missing_in_cluster_names_is_a_warn_with_the_exact_fix(tmp_path: Path) -> None:
    result = run(tmp_path, cluster(tmp_path, httpProxyConfig=PROXY))
    coverage = result.by_target(CHECK)["httpProxyConfig.noProxy"]
    assert coverage["status"] == "warn", coverage
    # AKS's effectiveNoProxy covers loopback, IMDS, the API server and the service CIDR;
    # nothing adds the in-cluster DNS suffixes
    assert coverage["details"]["missing"] == [".svc", ".cluster.local"]
    assert "ignored by Python programs and curl" in coverage["message"]
    fix = coverage["remediation"]
    assert "az aks update -g rg1 -n aks1 --http-proxy-config proxy.json" in fix
    document = json.loads(fix[fix.index("{") :])
    assert document["noProxy"] == ["localhost", "127.0.0.1", ".svc", ".cluster.local"]
    assert document["httpsProxy"] == "http://proxy.corp:3128"


def test_no_proxy_without_effective_list_names_every_missing_entry(tmp_path: Path) -> None:
    bare = {k: v for k, v in PROXY.items() if k != "effectiveNoProxy"}
    bare["noProxy"] = ["10.0.0.0/8", "svc", "cluster.local"]
    result = run(tmp_path, cluster(tmp_path, httpProxyConfig=bare))
    coverage = result.by_target(CHECK)["httpProxyConfig.noProxy"]
    assert coverage["details"]["missing"] == [
        "localhost",
        "127.0.0.1",
        "aks1-dns.hcp.eastus.azmk8s.io",
        "169.254.169.254",
    ]  # the service CIDR is inside 10.0.0.0/8; "svc" covers ".svc"
    complete = dict(
        bare,
        noProxy=[*bare["noProxy"], "localhost", "127.0.0.0/8", ".azmk8s.io", "169.254.169.254"],
    )
    done = run(tmp_path, cluster(tmp_path, httpProxyConfig=complete))
    assert done.by_target(CHECK)["httpProxyConfig.noProxy"]["status"] == "pass"


def test_udr_none_and_private_clusters_are_other_paths(tmp_path: Path) -> None:
    udr = run(tmp_path, cluster(tmp_path, outbound_type="userDefinedRouting"))
    finding = udr.by_target(CHECK)["aks1"]
    assert finding["status"] == "warn" and "route table" in finding["message"]
    none = run(tmp_path, cluster(tmp_path, outbound_type="none"))
    assert "no outbound internet path" in none.by_target(CHECK)["aks1"]["message"]
    private = run(
        tmp_path,
        cluster(tmp_path, private=True, private_fqdn="aks1.abc.privatelink.eastus.azmk8s.io"),
    )
    assert "the API server is private" in private.by_target(CHECK)["aks1"]["message"]


def test_without_a_cluster_it_skips_saying_what_to_give(tmp_path: Path) -> None:
    result = preflight(
        "run", "--check", CHECK, env=no_azure_credentials(tmp_path), out=tmp_path / "o"
    )
    (finding,) = result.findings(CHECK)
    assert finding["status"] == "skip" and "aks_json" in finding["remediation"]
