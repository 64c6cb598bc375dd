"""``cluster.dns``: CoreDNS's readiness in kube-system, through the real CLI against the fake API
server. (That the cluster's DNS name resolves from each node pool is part of the in-cluster
probe run: tests/checks/connectivity/test_in_cluster.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.aks_cluster import coredns, two_pools

from tests.clirun import run_cluster


@pytest.mark.parametrize(
    ("ready", "status", "words"),
    [
        (2, "pass", "2/2 CoreDNS pods ready"),
        (1, "warn", "1/2 CoreDNS pods ready"),
        (0, "fail", "no CoreDNS pod is ready (0/2)"),
    ],
)
def test_coredns_readiness(
    tmp_path: Path, kube_api: Any, ready: int, status: str, words: str
) -> None:
    api = kube_api(two_pools(coredns(ready=ready)))
    result = run_cluster(api, tmp_path, "--check", "cluster.dns")
    finding = result.by_target("cluster.dns")["kube-system/coredns"]
    assert finding["status"] == status, finding
    assert words in finding["message"]
    assert finding["details"]["ready"] == ready and finding["details"]["desired"] == 2
    if ready < 2:
        assert "coredns-6d8f9c7b5-00001: CrashLoopBackOff" in finding["message"]
        assert (
            "kubectl -n kube-system describe pods -l k8s-app=kube-dns" in (finding["remediation"])
        )


def test_no_coredns_pods_is_a_warning(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(two_pools(core=[]))
    result = run_cluster(api, tmp_path, "--check", "cluster.dns")
    finding = result.by_target("cluster.dns")["kube-system/coredns"]
    assert finding["status"] == "warn" and "no pods labelled k8s-app=kube-dns" in finding["message"]
