"""Ctrl-C and SIGTERM in every phase of a run (DESIGN.md, "CLI contract"): the real ``preflight``
started with ``subprocess.Popen``, signalled once it is provably in the phase (the fake server
got the request, the DNS server saw the query, the fake cluster runs the pod), then asserted on:
exit 130 / 143, the report files written, what the signal cut short ``error`` "interrupted"
(never ``fail``), what had finished unchanged, nothing left in the fake cluster, no process of
the run's group left. Timing bounds are generous upper bounds only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import HttpServer
from support.azure_objects import provider
from support.kube_objects import default_namespaces, namespace, node
from support.leftovers import nothing_left

from tests.clirun import environment, host_profile

SIGNALS = [
    pytest.param(signal.SIGINT, 130, id="SIGINT"),
    pytest.param(signal.SIGTERM, 143, id="SIGTERM"),
]
#: from the signal to the exit: the grace checks get, the cleanup, the reports (generous)
BOUND_S = 30.0


# -- running preflight and interrupting it -------------------------------------------------------
class Run:
    """``python -m preflight ARGS`` in its own process group, as a user's shell starts it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "preflight", *args],
            env=environment(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.stdout = self.stderr = ""

    def wait_for(self, condition: Callable[[], bool], timeout: float = 60) -> None:
        """Poll ``condition`` until it holds; fail at once if preflight ended first."""
        ends = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                pytest.fail(
                    f"preflight ended before the phase (exit {self.proc.returncode}):\n{out}\n{err}"
                )
            assert time.monotonic() < ends, "timed out waiting for the phase"
            time.sleep(0.05)

    def interrupt(self, signum: int, code: int) -> None:
        """Send ``signum``; preflight must exit ``code`` within ``BOUND_S``, without a
        traceback, saying so, and leave no process of its group behind."""
        sent = time.monotonic()
        self.proc.send_signal(signum)
        try:
            self.stdout, self.stderr = self.proc.communicate(timeout=BOUND_S)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.communicate()
        took = time.monotonic() - sent
        assert self.proc.returncode == code, self.stdout + self.stderr
        assert took < BOUND_S
        assert "Traceback" not in self.stderr, self.stderr
        assert f"interrupted ({signal.Signals(signum).name})" in self.stderr, self.stderr
        assert_group_gone(self.proc.pid)

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.communicate()


@pytest.fixture
def runs() -> Any:
    """Factory: ``runs(*args, env=...)`` -> a started ``Run``; killed at teardown."""
    started: list[Run] = []

    def make(*args: str, env: dict[str, str] | None = None) -> Run:
        run = Run(*args, env=env)
        started.append(run)
        return run

    yield make
    for run in started:
        run.kill()


def assert_group_gone(pgid: int, timeout: float = 10.0) -> None:
    """No process of the run's group is left (exec plugins, az: preflight's own children)."""
    ends = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < ends, f"processes of group {pgid} outlived preflight"
        time.sleep(0.05)


def report(out: Path, formats: tuple[str, ...] = ("json", "html")) -> dict[str, Any]:
    """report.json, after checking every requested file was written."""
    names = {"json": "report.json", "html": "report.html", "junit": "junit.xml", "md": "summary.md"}
    for fmt in formats:
        assert (out / names[fmt]).is_file(), f"{names[fmt]} was not written"
    document: dict[str, Any] = json.loads((out / "report.json").read_text())
    return document


def results(document: dict[str, Any], check: str) -> dict[Any, dict[str, Any]]:
    return {r["target"]: r for r in document["results"] if r["check"] == check}


def assert_interrupted(finding: dict[str, Any], signum: int) -> None:
    """An error saying what the signal cut short, with something to do about it."""
    name = signal.Signals(signum).name
    assert finding["status"] == "error", finding
    assert f"interrupted ({name})" in finding["message"], finding
    assert finding["remediation"], finding


def assert_no_interrupted_fail(document: dict[str, Any]) -> None:
    """An interruption concludes nothing about the target: never a fail."""
    for finding in document["results"]:
        if "interrupted" in finding["message"]:
            assert finding["status"] == "error", finding


def settle() -> None:
    """The targets answered just now finish their findings (milliseconds; nothing outside
    the process shows that moment)."""
    time.sleep(0.5)


# -- DNS and egress probes -----------------------------------------------------------------------
@pytest.mark.parametrize(("signum", "code"), SIGNALS)
def test_dns_probes_waiting_for_an_answer(
    tmp_path: Path, runs: Any, dns_server: Any, signum: int, code: int
) -> None:
    dns = dns_server(
        records={"fast.test": "127.0.0.1", "slow.test": "127.0.0.1"}, delays={"slow.test": 120}
    )
    prof = host_profile(
        tmp_path, [{"host": "fast.test", "port": 443}, {"host": "slow.test", "port": 443}], name="p"
    )
    out = tmp_path / "out"
    run = runs(
        "run",
        "--profile",
        str(prof),
        "--check",
        "dns.resolve",
        "--nameserver",
        dns.address,
        "--timeout",
        "120",
        "--format",
        "json,html,junit,md",
        "--out",
        str(out),
    )
    run.wait_for(lambda: "slow.test" in dns.queried_names() and "fast.test" in dns.queried_names())
    settle()
    run.interrupt(signum, code)
    document = report(out, ("json", "html", "junit", "md"))
    found = results(document, "dns.resolve")
    assert found["fast.test"]["status"] == "pass", "a finished target keeps its finding"
    assert_interrupted(found["slow.test"], signum)
    assert found["slow.test"]["details"]["interrupted"] == signal.Signals(signum).name
    assert document["summary"]["verdict"] == "fail"  # an error holds no gate


def test_dns_probe_on_a_silent_server(tmp_path: Path, runs: Any, silent_dns: Any) -> None:
    prof = host_profile(tmp_path, [{"host": "a.test", "port": 443}], name="p")
    out = tmp_path / "out"
    run = runs(
        "run",
        "--profile",
        str(prof),
        "--check",
        "dns.resolve",
        "--check",
        "egress.https",
        "--nameserver",
        silent_dns.address,
        "--timeout",
        "120",
        "--out",
        str(out),
    )
    run.wait_for(lambda: silent_dns.received > 0)
    run.interrupt(signal.SIGINT, 130)
    document = report(out)
    assert_interrupted(results(document, "dns.resolve")["a.test"], signal.SIGINT)
    assert_interrupted(results(document, "egress.https")["a.test"], signal.SIGINT)


def _syn_sent_to(port: int) -> bool:
    """A connection to 127.0.0.1:``port`` waits in SYN-SENT (/proc/net/tcp state 02)."""
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[2].endswith(f":{port:04X}") and fields[3] == "02":
                return True
    return False


@pytest.mark.parametrize(("signum", "code"), SIGNALS)
def test_egress_probe_to_a_black_holed_host(
    tmp_path: Path,
    runs: Any,
    dns_server: Any,
    tls_server: Any,
    ca_bundle: Path,
    blackhole: Any,
    signum: int,
    code: int,
) -> None:
    tls = tls_server(hostnames=["ok.test"])
    dns = dns_server(records={"ok.test": "127.0.0.1", "hole.test": "127.0.0.1"})
    prof = host_profile(
        tmp_path,
        [{"host": "ok.test", "port": tls.port}, {"host": "hole.test", "port": blackhole.port}],
        name="p",
    )
    out = tmp_path / "out"
    run = runs(
        "run",
        "--profile",
        str(prof),
        "--check",
        "egress.https",
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
        "--timeout",
        "120",
        "--out",
        str(out),
    )
    run.wait_for(lambda: bool(tls.requests) and _syn_sent_to(blackhole.port))
    settle()
    run.interrupt(signum, code)
    found = results(report(out), "egress.https")
    assert found["ok.test"]["status"] == "pass"
    assert_interrupted(found["hole.test"], signum)


# -- ARM -----------------------------------------------------------------------------------------
SUB = "11111111-2222-3333-4444-555555555555"
TOKEN = "tok-interrupt-Zr8q1never-printed"


@pytest.mark.parametrize(("signum", "code"), SIGNALS)
def test_arm_calls_slow_or_throttled(
    tmp_path: Path,
    runs: Any,
    fake_arm: Any,
    azure_profile: Any,
    ca_bundle: Path,
    refused_port: int,
    signum: int,
    code: int,
) -> None:
    namespaces = ("Microsoft.KubernetesConfiguration", "Microsoft.ContainerService")
    arm = fake_arm([provider(ns, sub=SUB) for ns in namespaces], tokens={TOKEN})
    arm.inject(r"/providers/Microsoft\.KubernetesConfiguration$", delay=120)
    arm.inject(r"/providers/Microsoft\.ContainerService$", status=429, retry_after=120)
    prof = azure_profile(arm=arm.url, imds=f"http://127.0.0.1:{refused_port}")
    empty = tmp_path / "bin"
    empty.mkdir()
    out = tmp_path / "out"
    run = runs(
        "run",
        "--profile",
        str(prof),
        "--ca-bundle",
        str(ca_bundle),
        "--check",
        "azure.providers",
        "--check",
        "azure.credentials",
        "--set",
        f"subscription_id={SUB}",
        "--out",
        str(out),
        env={"PATH": str(empty), "AZURE_ACCESS_TOKEN": TOKEN},
    )

    def both_asked() -> bool:
        paths = [r.path for r in arm.requests]
        return all(any(p.endswith(ns) for p in paths) for ns in namespaces)

    run.wait_for(both_asked)
    run.interrupt(signum, code)
    document = report(out)
    assert results(document, "azure.credentials")["env"]["status"] == "pass"
    providers = list(results(document, "azure.providers").values())
    assert providers and all(f["status"] == "error" for f in providers), providers
    for finding in providers:
        assert_interrupted(finding, signum)
    assert any("Azure Resource Manager" in f["message"] for f in providers), providers
    assert TOKEN not in json.dumps(document) + run.stdout + run.stderr
    assert_no_interrupted_fail(document)


# -- smoke.inference: the load Job and the routed measurement ------------------------------------
def smoke_cluster() -> list[dict[str, Any]]:
    return [node("aks-nodepool1-0"), namespace("default")]


@pytest.mark.parametrize(("signum", "code"), SIGNALS)
def test_smoke_load_job_running(
    tmp_path: Path, runs: Any, kube_api: Any, kube_runner: Any, signum: int, code: int
) -> None:
    api = kube_api(smoke_cluster())
    runner = kube_runner(api)
    out = tmp_path / "out"
    run = runs(
        "run",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kc")),
        "--check",
        "smoke.inference",
        "--set",
        "smoke_duration=120",
        "--set",
        "smoke_warmup=0",
        "--set",
        "smoke_rate=10",
        "--out",
        str(out),
    )
    run.wait_for(lambda: any(r.name.startswith("smoke-load-") for r in runner.live()))
    run.interrupt(signum, code)
    [finding] = results(report(out), "smoke.inference").values()
    assert_interrupted(finding, signum)
    assert "smoke-load" in finding["message"]
    nothing_left(api, runner)


def test_smoke_routed_measurement_in_process(
    tmp_path: Path, runs: Any, kube_api: Any, http_server: Any
) -> None:
    scoring = http_server(status=200, body=b'{"result": [0.5]}')
    api = kube_api(smoke_cluster())
    out = tmp_path / "out"
    uri = f"http://127.0.0.1:{scoring.port}/score"
    run = runs(
        "run",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kc")),
        "--check",
        "smoke.inference",
        "--set",
        "smoke=off",
        "--set",
        f"scoring_uri={uri}",
        "--set",
        "smoke_duration=120",
        "--set",
        "smoke_warmup=0",
        "--set",
        "smoke_rate=20",
        "--out",
        str(out),
    )
    run.wait_for(lambda: len(scoring.requests) >= 10)
    run.interrupt(signal.SIGTERM, 143)
    found = {
        f["details"].get("kind", f["status"]): f
        for f in results(report(out), "smoke.inference").values()
    }
    assert found["skip"]["status"] == "skip", "the direct part was not asked for: still a skip"
    routed = found["routed"]
    assert_interrupted(routed, signal.SIGTERM)
    partial = routed["details"]["partial"]
    assert partial["requests"] >= 10 and partial["errors"] == 0 and partial["partial"] is True


# -- in-cluster probe pods, in waves -------------------------------------------------------------
def probe_cluster() -> list[dict[str, Any]]:
    nodes = [node(f"aks-system-0000000{i}", pool="system", mode="System") for i in (0, 1)]
    nodes += [node(f"aks-user-0000000{i}", pool="user") for i in (0, 1)]
    return [*nodes, *default_namespaces()]


@pytest.mark.parametrize(("signum", "code"), SIGNALS)
def test_in_cluster_probe_pods_in_waves(
    tmp_path: Path,
    runs: Any,
    kube_api: Any,
    kube_runner: Any,
    dns_server: Any,
    refused_port: int,
    signum: int,
    code: int,
) -> None:
    """probe_per=node, one pod at a time: the first node is probed, the second's pod hangs
    when the signal comes, the last two never got their turn."""
    dns = dns_server(records={"ok.test": "127.0.0.1"})
    prof = host_profile(tmp_path, [{"host": "ok.test", "port": refused_port}], name="p")
    api = kube_api(probe_cluster())
    runner = kube_runner(api)
    runner.fault("hang", name="probe-001-*")
    out = tmp_path / "out"
    run = runs(
        "run",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kc")),
        "--profile",
        str(prof),
        "--in-cluster",
        "--check",
        "connectivity.in-cluster",
        "--check",
        "cluster.dns",
        "--set",
        "probe_per=node",
        "--set",
        "probe_max_pods=1",
        "--set",
        f"probe_nameserver={dns.address}",
        "--nameserver",
        dns.address,
        "--out",
        str(out),
    )
    run.wait_for(lambda: any(r.name.startswith("probe-001-") for r in runner.live()))
    run.interrupt(signum, code)
    document = report(out)
    found = [r for r in document["results"] if r["check"] == "connectivity.in-cluster"]
    probed = [f for f in found if f["details"].get("probe_check")]
    assert {f["details"]["node"] for f in probed} == {"aks-system-00000000"}
    assert {f["status"] for f in probed} == {"pass", "fail"}, "its own verdicts, unchanged"
    cut = {f["details"]["node"]: f for f in found if not f["details"].get("probe_check")}
    assert set(cut) == {"aks-system-00000001", "aks-user-00000000", "aks-user-00000001"}
    for finding in cut.values():
        assert_interrupted(finding, signum)
        assert finding["details"]["pod_outcome"] == "interrupted"
    assert "finished" in cut["aks-system-00000001"]["message"]
    assert "was probed" in cut["aks-user-00000001"]["message"]
    in_pod = {
        f["details"]["node"]: f
        for f in document["results"]
        if f["check"] == "cluster.dns" and f["target"] == "kubernetes.default.svc.cluster.local"
    }
    assert in_pod["aks-system-00000000"]["status"] != "error"
    assert_interrupted(in_pod["aks-user-00000001"], signum)
    assert_no_interrupted_fail(document)
    nothing_left(api, runner)


def test_a_probe_pod_stopped_by_its_deadline_reports_what_it_finished(
    tmp_path: Path, kube_api: Any, kube_runner: Any, dns_server: Any, refused_port: int
) -> None:
    """The pod's own deadline SIGTERMs ``preflight probe`` mid-way: it prints what it finished
    and a done line saying so, and the run reports the pool as interrupted, not as a crash."""
    from tests.clirun import preflight

    dns = dns_server(
        records={"ok.test": "127.0.0.1", "slow.test": "127.0.0.1"}, delays={"slow.test": 120}
    )
    prof = host_profile(
        tmp_path,
        [{"host": "ok.test", "port": refused_port}, {"host": "slow.test", "port": refused_port}],
        name="p",
    )
    api = kube_api([node("aks-system-00000000", pool="system"), *default_namespaces()])
    runner = kube_runner(api)

    def short_deadline(job: dict[str, Any]) -> dict[str, Any]:
        job["spec"]["activeDeadlineSeconds"] = 4  # the kubelet stops it with SIGTERM
        return job

    api.on_create("jobs.batch", short_deadline)
    result = preflight(
        "run",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kc")),
        "--profile",
        str(prof),
        "--in-cluster",
        "--check",
        "connectivity.in-cluster",
        "--set",
        f"probe_nameserver={dns.address}",
        "--timeout",
        "120",
        "--deadline",
        "90",
        out=tmp_path / "out",
    )
    assert result.code == 1, result.stdout + result.stderr
    found = result.findings("connectivity.in-cluster")
    lines = {(f["target"], f["details"].get("probe_check")): f for f in found}
    assert lines[("ok.test", "dns.resolve")]["status"] == "pass", "what it finished"
    assert_interrupted(lines[("slow.test", "dns.resolve")], signal.SIGTERM)
    [pool] = [f for f in found if not f["details"].get("probe_check")]
    assert_interrupted(pool, signal.SIGTERM)
    assert pool["details"]["pod_outcome"] == "interrupted"
    assert "crash" not in pool["message"].lower()
    nothing_left(api, runner)


# -- preflight probe itself ----------------------------------------------------------------------
def test_probe_on_sigterm_prints_what_it_has_and_a_done_line(
    tmp_path: Path, runs: Any, dns_server: Any
) -> None:
    dns = dns_server(
        records={"ok.test": "127.0.0.1", "slow.test": "127.0.0.1"}, delays={"slow.test": 120}
    )
    prof = host_profile(
        tmp_path, [{"host": "ok.test", "port": 443}, {"host": "slow.test", "port": 443}], name="p"
    )
    run = runs(
        "probe",
        "--profile",
        str(prof),
        "--check",
        "dns.resolve",
        "--nameserver",
        dns.address,
        "--timeout",
        "120",
        env={"PREFLIGHT_NODE_NAME": "aks-node-0"},
    )
    run.wait_for(lambda: "slow.test" in dns.queried_names() and "ok.test" in dns.queried_names())
    settle()
    run.interrupt(signal.SIGTERM, 143)
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    *findings, done = lines
    assert done == {"probe": "done", "count": len(findings), "interrupted": "SIGTERM"}
    by_target = {f["target"]: f for f in findings}
    assert by_target["ok.test"]["status"] == "pass"
    assert_interrupted(by_target["slow.test"], signal.SIGTERM)
    assert by_target["slow.test"]["node"] == "aks-node-0"


# -- GPUs ----------------------------------------------------------------------------------------
def _traced(trace: Path, *needles: str) -> bool:
    text = trace.read_text() if trace.exists() else ""
    return all(needle in text for needle in needles)


@pytest.mark.parametrize(("signum", "code"), SIGNALS)
def test_gpu_health_during_the_xid_window(
    tmp_path: Path, runs: Any, fake_nvml: Any, signum: int, code: int
) -> None:
    trace = tmp_path / "nvml.trace"
    _, env = fake_nvml(count=2, gpus={1: {"ecc_volatile": 2}}, trace=str(trace))
    out = tmp_path / "out"
    run = runs(
        "run",
        "--check",
        "gpu.health",
        "--set",
        "xid_window=120s",
        "--out",
        str(out),
        env={**env, "PREFLIGHT_NODE_NAME": "gpu-node"},
    )
    run.wait_for(lambda: _traced(trace, "nvmlDeviceGetMigMode 1", "nvmlEventSetWait"))
    run.interrupt(signum, code)
    found = results(report(out), "gpu.health")
    assert found["gpu-node/1"]["status"] == "fail", "ECC errors read before: still a failure"
    assert "ecc" in json.dumps(found["gpu-node/1"]["details"]["flags"]).lower()
    for target in ("gpu-node", "gpu-node/0"):  # "healthy" was not concluded
        assert_interrupted(found[target], signum)
        assert "XID window" in found[target]["message"]
    assert found["gpu-node/0"]["details"]["ecc_uncorrected_volatile"] == 0, "details kept"


def test_gpu_probe_pods_in_cluster(
    tmp_path: Path, runs: Any, kube_api: Any, kube_runner: Any, fake_nvml: Any
) -> None:
    trace = tmp_path / "nvml.trace"
    _, env = fake_nvml(count=1, trace=str(trace))
    api = kube_api(
        [
            node(
                "aks-gpu-0",
                "24",
                "220Gi",
                pool="gpu",
                gpus=1,
                instance_type="Standard_NC24ads_A100_v4",
            ),
            *default_namespaces(),
        ]
    )
    runner = kube_runner(api, env=env)
    out = tmp_path / "out"
    run = runs(
        "run",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kc")),
        "--in-cluster",
        "--check",
        "gpu.health",
        "--set",
        "xid_window=120s",
        "--out",
        str(out),
        env={"LD_LIBRARY_PATH": str(tmp_path / "no-driver-here")},
    )
    run.wait_for(lambda: _traced(trace, "nvmlEventSetWait"))
    run.interrupt(signal.SIGINT, 130)
    found = results(report(out), "gpu.health")
    assert_interrupted(found["aks-gpu-0"], signal.SIGINT)
    assert found["aks-gpu-0"]["details"]["probe_outcome"] == "interrupted"
    nothing_left(api, runner)


# -- preflight load ------------------------------------------------------------------------------
@pytest.mark.parametrize(("signum", "code"), SIGNALS)
def test_load_prints_what_it_measured(runs: Any, signum: int, code: int) -> None:
    with HttpServer(status=200, body=b'{"result": [0.5]}') as server:
        url = f"http://127.0.0.1:{server.port}/score"
        json_out = signum == signal.SIGINT
        run = runs(
            "load",
            url,
            "--rate",
            "50",
            "--duration",
            "120",
            "--warmup",
            "0",
            *(["--json"] if json_out else []),
        )
        run.wait_for(lambda: len(server.requests) >= 20)
        run.interrupt(signum, code)
    name = signal.Signals(signum).name
    if json_out:
        result = json.loads(run.stdout)
        assert result["interrupted"] == name and result["partial"] is True
        assert result["requests"] >= 20 and result["errors"] == 0
        assert set(result["latency_ms"]) == {"p50", "p90", "p95", "p99", "p999", "max"}
        assert 0 < result["measured_s"] < 120
        assert result["duration_s"] == 120
    else:
        assert run.stdout.startswith(f"interrupted ({name}): partial result")
        assert "latency ms (from intended send time)" in run.stdout
