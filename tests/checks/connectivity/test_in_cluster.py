"""``preflight run --in-cluster``: probe pods per node pool (or node), their findings, the HTML
matrix, failures told plainly, and ``cluster.dns`` from each pool (CoreDNS's readiness alone:
tests/checks/cluster/test_coredns.py). The real CLI against the fake API server, whose
``kube_runner`` runs each probe pod's command (``preflight probe``) as a local process and serves
its output as the pod log."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.aks_cluster import two_pools
from support.chromium import chromium, run_chromium
from support.leftovers import nothing_left

from tests.clirun import Result, host_profile, preflight

CLUSTER_DNS = "kubernetes.default.svc.cluster.local"
CHECKS = ("dns.resolve", "egress.https", "connectivity.in-cluster", "cluster.dns")


@pytest.fixture
def net(tmp_path: Path, dns_server: Any, tls_server: Any, ca_bundle: Path) -> dict[str, Any]:
    """Loopback hosts, and two DNS views of them: the jump box's resolver knows the private
    zone (private.contoso.test), the cluster's does not (a zone linked to the wrong network)."""
    tls = tls_server(hostnames=["mcr.contoso.test", "private.contoso.test"])
    records = {"mcr.contoso.test": "127.0.0.1", CLUSTER_DNS: "10.0.0.1"}
    local = dns_server(
        records={**records, "private.contoso.test": "127.0.0.1"}, nxdomain=["gone.contoso.test"]
    )
    pods = dns_server(records=records, nxdomain=["gone.contoso.test", "private.contoso.test"])
    hosts = [
        {"host": "mcr.contoso.test", "port": tls.port, "purpose": "pull images"},
        {"host": "private.contoso.test", "port": tls.port, "purpose": "workspace (private)"},
        {"host": "gone.contoso.test", "port": tls.port, "purpose": "a host nobody serves"},
    ]
    path = host_profile(tmp_path, hosts, name="contoso")
    return {"profile": path, "local": local, "pods": pods, "ca": ca_bundle}


def run(tmp_path: Path, kubeconfig: Path, net: dict[str, Any], *args: str) -> Result:
    checks = [a for c in CHECKS for a in ("--check", c)]
    return preflight(
        "run",
        "--kubeconfig",
        str(kubeconfig),
        "--profile",
        str(net["profile"]),
        "--nameserver",
        net["local"].address,
        "--set",
        f"probe_nameserver={net['pods'].address}",
        "--ca-bundle",
        str(net["ca"]),
        "--timeout",
        "3",
        "--deadline",
        "60",
        "--format",
        "json,html,junit,md",
        *checks,
        *args,
        out=tmp_path / "out",
    )


def in_cluster(result: Result) -> list[dict[str, Any]]:
    return [
        f for f in result.findings("connectivity.in-cluster") if f["details"].get("probe_check")
    ]


def created_jobs(api: Any) -> list[dict[str, Any]]:
    return [
        json.loads(r.body)
        for r in api.requests
        if r.attributes[0] == "create" and r.resource == "jobs" and r.status in (200, 201)
    ]


# -- one probe pod per pool ------------------------------------------------------------------


def test_one_probe_pod_per_pool_and_findings_say_where(
    tmp_path: Path, kube_api: Any, kube_runner: Any, net: dict[str, Any]
) -> None:
    api = kube_api(two_pools())
    runner = kube_runner(api)
    result = run(tmp_path, api.kubeconfig(tmp_path / "kc"), net, "--in-cluster")
    assert result.code == 1, result.stdout + result.stderr

    jobs = created_jobs(api)
    assert len(jobs) == 2 and len(runner.history) == 2, "one probe pod per node pool"
    by_pool = {
        j["spec"]["template"]["spec"]["nodeSelector"]["kubernetes.azure.com/agentpool"]: j
        for j in jobs
    }
    assert set(by_pool) == {"system", "gpu"}
    for job in jobs:
        assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] > 0
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["python3", "-m", "preflight", "probe"]
        env = {e["name"]: e for e in container["env"]}
        assert env["PREFLIGHT_NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
        assert "BEGIN CERTIFICATE" in env["PREFLIGHT_PROBE_CA_BUNDLE"]["value"]
    gpu_tolerations = by_pool["gpu"]["spec"]["template"]["spec"]["tolerations"]
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in (
        gpu_tolerations
    )
    assert not by_pool["system"]["spec"]["template"]["spec"].get("tolerations")

    found = in_cluster(result)
    pools = {f["details"]["node_pool"] for f in found}
    assert pools == {"system", "gpu"}
    nodes = {f["details"]["node_pool"]: f["details"]["node"] for f in found}
    assert nodes["gpu"].startswith("aks-gpu-") and nodes["system"].startswith("aks-system-")
    for finding in found:
        assert finding["details"]["vantage"] == "in-cluster"
        assert finding["details"]["probe_check"] in ("dns.resolve", "egress.https")
        assert finding["message"].startswith(f"from pool {finding['details']['node_pool']}")
    assert len(found) == 2 * 3 * 2, "2 pools x 3 hosts x 2 probe checks"

    def cell(host: str, pool: str, check: str) -> dict[str, Any]:
        (match,) = [
            f
            for f in found
            if f["target"] == host
            and f["details"]["node_pool"] == pool
            and f["details"]["probe_check"] == check
        ]
        return match

    for pool in ("system", "gpu"):
        assert cell("mcr.contoso.test", pool, "egress.https")["status"] == "pass"
        assert cell("private.contoso.test", pool, "dns.resolve")["status"] == "fail"
        assert "NXDOMAIN" in cell("private.contoso.test", pool, "dns.resolve")["message"]
        assert cell("gone.contoso.test", pool, "dns.resolve")["status"] == "fail"

    # the local run keeps its own ids and says where it ran: the private zone resolves here
    local = result.by_target("dns.resolve")
    assert local["private.contoso.test"]["status"] == "pass"
    assert all(f["details"]["vantage"] == "local" for f in result.findings("dns.resolve"))
    assert all(f["details"]["vantage"] == "local" for f in result.findings("egress.https"))

    # cluster.dns: CoreDNS ready, and the cluster's DNS name resolves from both pools
    dns = result.findings("cluster.dns")
    coredns_finding = [f for f in dns if f["target"] == "kube-system/coredns"]
    assert [f["status"] for f in coredns_finding] == ["pass"]
    assert "2/2" in coredns_finding[0]["message"]
    in_pod = [f for f in dns if f["target"] == CLUSTER_DNS]
    assert sorted(f["details"]["node_pool"] for f in in_pod) == ["gpu", "system"]
    assert {f["status"] for f in in_pod} == {"pass"}

    html = (tmp_path / "out" / "report.html").read_text()
    matrix = html[html.index('id="in-cluster-matrix"') :]
    matrix = matrix[: matrix.index("</section>")]
    assert ">local<" in matrix and ">gpu<" in matrix and ">system<" in matrix
    for host in ("mcr.contoso.test", "private.contoso.test", "gone.contoso.test"):
        assert f">{host}</th>" in matrix
    assert "NXDOMAIN" in matrix and "HTTP 204" in matrix
    nothing_left(api, runner)


def test_probe_per_node(
    tmp_path: Path, kube_api: Any, kube_runner: Any, net: dict[str, Any]
) -> None:
    api = kube_api(two_pools())
    runner = kube_runner(api)
    result = run(
        tmp_path,
        api.kubeconfig(tmp_path / "kc"),
        net,
        "--in-cluster",
        "--set",
        "probe_per=node",
        "--check",
        "connectivity.in-cluster",
    )
    jobs = created_jobs(api)
    assert len(jobs) == 4 and len(runner.history) == 4, "one probe pod per node"
    pinned = set()
    for job in jobs:
        terms = job["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"]
        pinned.add(terms[0]["matchFields"][0]["values"][0])
    assert len(pinned) == 4
    found = in_cluster(result)
    assert {f["details"]["node"] for f in found} == pinned
    assert {(f["details"]["node"].split("-")[1], f["details"]["node_pool"]) for f in found} == {
        ("system", "system"),
        ("gpu", "gpu"),
    }
    html = (tmp_path / "out" / "report.html").read_text()
    for name in pinned:  # per node, the matrix has a column per node
        assert f">{name}<" in html
    nothing_left(api, runner)


def test_a_pool_whose_probe_cannot_pull_is_one_finding_and_the_others_still_report(
    tmp_path: Path, kube_api: Any, kube_runner: Any, net: dict[str, Any]
) -> None:
    api = kube_api(two_pools())
    runner = kube_runner(api)
    runner.fault("image_pull", name="probe-*-gpu*")
    result = run(
        tmp_path,
        api.kubeconfig(tmp_path / "kc"),
        net,
        "--in-cluster",
        "--set",
        "probe_image=contoso.azurecr.io/preflight:0.1.0",
    )
    assert result.code == 1
    about_gpu = [
        f
        for f in result.findings("connectivity.in-cluster")
        if f["details"].get("node_pool") == "gpu"
    ]
    assert len(about_gpu) == 1, about_gpu
    (problem,) = about_gpu
    assert problem["status"] == "fail" and problem["target"].startswith("pool gpu")
    assert problem["details"]["pod_outcome"] in ("ErrImagePull", "ImagePullBackOff")
    assert "could not pull image contoso.azurecr.io/preflight:0.1.0" in problem["message"]
    assert "401 Unauthorized" in problem["message"], "quotes the kubelet's event"
    assert any("Failed to pull image" in e for e in problem["details"]["events"])
    assert "image_pull_secrets" in problem["remediation"]
    assert "probe_image" in problem["remediation"]

    system = [f for f in in_cluster(result) if f["details"]["node_pool"] == "system"]
    assert len(system) == 6 and {f["target"] for f in system} >= {"mcr.contoso.test"}

    dns = {f["details"].get("node_pool"): f for f in result.findings("cluster.dns")}
    assert dns["gpu"]["status"] == "skip" and "connectivity.in-cluster" in dns["gpu"]["message"]
    assert dns["system"]["status"] == "pass"

    html = (tmp_path / "out" / "report.html").read_text()
    matrix = html[html.index('id="in-cluster-matrix"') :]
    matrix = matrix[: matrix.index("</section>")]
    assert "ErrImagePull" in matrix or "ImagePullBackOff" in matrix
    assert matrix.count("not probed") == 3, "every host of the gpu column"
    nothing_left(api, runner)


@pytest.mark.parametrize(
    ("mode", "outcome", "words", "fix"),
    [
        ("unschedulable", "Unschedulable", "cannot be scheduled", ""),
        ("crash", "Error", "exit code 3", "log"),
        ("admission", "FailedCreate", "PodSecurity", "exempt"),
    ],
)
def test_other_probe_failures_are_told_plainly(
    tmp_path: Path,
    kube_api: Any,
    kube_runner: Any,
    net: dict[str, Any],
    mode: str,
    outcome: str,
    words: str,
    fix: str,
) -> None:
    api = kube_api(two_pools())
    runner = kube_runner(api)
    runner.fault(
        mode, name="probe-*-gpu*", exit_code=3, message="boom" if mode == "crash" else None
    )
    result = run(tmp_path, api.kubeconfig(tmp_path / "kc"), net, "--in-cluster")
    gpu = [
        f
        for f in result.findings("connectivity.in-cluster")
        if f["details"].get("node_pool") == "gpu"
    ]
    assert len(gpu) == 1, gpu
    assert gpu[0]["status"] == "fail" and gpu[0]["details"]["pod_outcome"] == outcome, gpu[0]
    assert words in gpu[0]["message"] and fix in gpu[0]["remediation"]
    assert len([f for f in in_cluster(result) if f["details"]["node_pool"] == "system"]) == 6
    nothing_left(api, runner)


def test_without_in_cluster_nothing_is_created_and_the_checks_say_how(
    tmp_path: Path, kube_api: Any, kube_runner: Any, net: dict[str, Any]
) -> None:
    api = kube_api(two_pools())
    runner = kube_runner(api)
    result = run(tmp_path, api.kubeconfig(tmp_path / "kc"), net)
    (skipped,) = result.findings("connectivity.in-cluster")
    assert skipped["status"] == "skip" and "--in-cluster" in skipped["remediation"]
    in_pod = result.by_target("cluster.dns")[CLUSTER_DNS]
    assert in_pod["status"] == "skip" and "--in-cluster" in in_pod["remediation"]
    assert result.by_target("cluster.dns")["kube-system/coredns"]["status"] == "pass"
    assert not runner.history and not created_jobs(api)
    assert "in-cluster-matrix" not in (tmp_path / "out" / "report.html").read_text()


# -- the matrix in a real browser ----------------------------------------------------------------


def test_matrix_in_headless_chromium(
    tmp_path: Path, kube_api: Any, kube_runner: Any, net: dict[str, Any]
) -> None:
    chromium()  # or skip
    api = kube_api(two_pools())
    runner = kube_runner(api)
    runner.fault("image_pull", name="probe-*-gpu*")
    run(tmp_path, api.kubeconfig(tmp_path / "kc"), net, "--in-cluster")
    page = (tmp_path / "out" / "report.html").resolve()
    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    table = re.search(r'<table class="matrix-table">.*?</table>', dom.stdout, flags=re.S)
    assert table, "the matrix is in the rendered page"
    heads = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', table.group(0), flags=re.S)
    labels = [re.sub(r"<[^>]+>.*", "", h, flags=re.S).strip() for h in heads]
    assert labels == ["Host", "local", "gpu", "system"]
    shot = tmp_path / "matrix.png"
    result = run_chromium(
        tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()
    )
    assert result.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = tmp_path / "matrix.pdf"
    result = run_chromium(
        tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri()
    )
    assert result.returncode == 0 and pdf.read_bytes()[:5] == b"%PDF-"


def test_matrix_of_forty_hosts_by_six_pools_is_escaped_and_orders_problems_first() -> None:
    """The renderer alone, on a report of the size the matrix is made for."""
    from preflight.reports.html import render
    from preflight.reports.matrix import probe_matrix

    hostile = "<img src=x onerror=alert(1)>.contoso.test"
    hosts = [hostile, *(f"h{i:02d}.contoso.test" for i in range(39))]
    pools = ["system", "gpu", "user1", "user2", "spot", "win"]
    results: list[dict[str, Any]] = []
    for host in hosts:
        for check in ("dns.resolve", "egress.https"):
            results.append(
                {
                    "check": check,
                    "status": "pass",
                    "target": host,
                    "details": {"vantage": "local", "http_status": 204},
                }
            )
            for pool in pools[:-1]:
                failing = host == "h07.contoso.test" and pool == "gpu" and check == "egress.https"
                details = {
                    "vantage": "in-cluster",
                    "node_pool": pool,
                    "node": f"aks-{pool}-0",
                    "probe_check": check,
                    "phase": "connect" if failing else "http",
                    "kind": "timeout" if failing else "",
                    "http_status": None if failing else 200,
                }
                results.append(
                    {
                        "check": "connectivity.in-cluster",
                        "status": "fail" if failing else "pass",
                        "target": host,
                        "details": details,
                    }
                )
    results.append(
        {
            "check": "connectivity.in-cluster",
            "status": "fail",
            "target": "pool win",
            "details": {
                "vantage": "in-cluster",
                "node_pool": "win",
                "pod_outcome": "Unschedulable",
            },
        }
    )
    report = {"schema": "preflight.report/v1", "results": results}
    matrix = probe_matrix(report)
    assert matrix is not None
    assert [h["label"] for h in matrix["heads"]] == [
        "local",
        "gpu",
        "spot",
        "system",
        "user1",
        "user2",
        "win",
    ]
    assert len(matrix["rows"]) == 40 and matrix["rows"][0]["host"] == "h07.contoso.test"
    gpu = matrix["rows"][0]["cells"][1]
    assert gpu == {"status": "fail", "text": "connect timeout", "blocked": ""}
    assert matrix["heads"][-1]["note"] == "Unschedulable" and matrix["not_run"] == 1
    html = render(report)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;.contoso.test" in html
    assert html.count("not probed") == 40
    local_only = [r for r in results if r["details"]["vantage"] == "local"]
    assert probe_matrix({"results": local_only}) is None, "no in-cluster findings, no matrix"


def test_probe_pods_never_get_this_machines_proxy_and_say_which_they_used(
    tmp_path: Path, kube_api: Any, kube_runner: Any, net: dict[str, Any]
) -> None:
    """The laptop's HTTPS_PROXY is not the cluster's path: the pods keep what the platform
    injects (here nothing), and every in-cluster finding says so."""
    api = kube_api(two_pools())
    runner = kube_runner(api)
    checks = [a for c in ("connectivity.in-cluster",) for a in ("--check", c)]
    result = preflight(
        "run",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kc")),
        "--profile",
        str(net["profile"]),
        "--set",
        f"probe_nameserver={net['pods'].address}",
        "--ca-bundle",
        str(net["ca"]),
        "--timeout",
        "3",
        "--in-cluster",
        *checks,
        env={"HTTPS_PROXY": "http://laptop-proxy.corp:3128", "NO_PROXY": "contoso.test"},
        out=tmp_path / "out",
    )
    for job in created_jobs(api):
        env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert not {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "NO_PROXY"} & set(env)
        assert env["PREFLIGHT_PROXY_SOURCE"]["value"] == "platform"
    assert all("laptop-proxy" not in " ".join(r.env.values()) for r in runner.history)
    found = in_cluster(result)
    assert found
    for finding in found:
        assert finding["details"]["proxy_used"] == "none"
        assert "as the platform injects it" in finding["details"]["proxy_source"]
        assert "no proxy" in finding["message"]


def test_probe_pods_are_capped_and_run_in_waves(
    tmp_path: Path, kube_api: Any, kube_runner: Any, net: dict[str, Any]
) -> None:
    def peak_pods(*args: str) -> tuple[int, Result, Any]:
        api = kube_api(two_pools())
        runner = kube_runner(api)
        peaks: list[int] = [0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                running = [r for r in list(runner.history) if r.process is not None]
                peaks.append(sum(1 for r in running if r.process.poll() is None))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            result = run(
                tmp_path,
                api.kubeconfig(tmp_path / f"kc{len(args)}"),
                net,
                "--in-cluster",
                "--set",
                "probe_per=node",
                "--check",
                "connectivity.in-cluster",
                *args,
            )
        finally:
            stop.set()
            sampler.join()
        assert len(runner.history) == 4, "every node probed"
        assert len({f["details"]["node"] for f in in_cluster(result)}) == 4
        return max(peaks), result, runner

    unbounded, _, _ = peak_pods()
    assert unbounded >= 2, "the sampler sees pods running side by side"
    capped, _, _ = peak_pods("--set", "probe_max_pods=1")
    assert capped == 1, "never two probe pods at once"
    bad = preflight("run", "--in-cluster", "--set", "probe_max_pods=0", out=tmp_path / "bad")
    assert bad.code == 2 and "probe_max_pods" in bad.stderr
