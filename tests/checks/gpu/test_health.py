"""gpu.health: the real ``pynvml`` binding against a fake ``libnvidia-ml.so.1`` built with gcc.

Most tests run the real CLI in a subprocess that loads the fake through ``LD_LIBRARY_PATH`` (as
a GPU host loads the driver's library) and assert on report.json; the NVML client's own rules
(unsupported vs missing vs failing calls, the need) run in-process with the fake put in place
of pynvml's library handle. Nothing here fabricates device output: every value comes from the
fake library through the binding.
"""

from __future__ import annotations

import ctypes.util
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.clirun import Result, preflight, run_cluster

NODE = "aks-gpu-0"


def run_health(
    tmp_path: Path, env: dict[str, str], *args: str, window: str = "0", node: str | None = NODE
) -> Result:
    extra = dict(env)
    if node is not None:
        extra["PREFLIGHT_NODE_NAME"] = node
    return preflight(
        "run",
        "--check",
        "gpu.health",
        "--set",
        f"xid_window={window}",
        "--format",
        "json,html",
        *args,
        env=extra,
        out=tmp_path / "out",
    )


def gpus(result: Result) -> dict[str, dict[str, Any]]:
    return {f["target"]: f for f in result.findings("gpu.health") if "/" in str(f["target"])}


def summary(result: Result, node: str = NODE) -> dict[str, Any]:
    return result.by_target("gpu.health")[node]


# -- a healthy node ------------------------------------------------------------------------------


def test_healthy_eight_gpu_node(tmp_path: Path, fake_nvml: Any) -> None:
    _, env = fake_nvml(count=8, driver_version="550.90.07", cuda_version=12040)
    result = run_health(tmp_path, env, window="1s")
    assert result.code == 0, result.stdout + result.stderr
    node = summary(result)
    assert node["status"] == "pass"
    assert node["message"] == "driver 550.90.07, CUDA 12.4, 8 GPUs: all 8 GPUs healthy"
    assert node["details"]["gpu_count"] == 8 and node["details"]["cuda_driver_version"] == "12.4"
    assert node["details"]["xid_window_s"] == 1.0
    found = gpus(result)
    assert sorted(found) == [f"{NODE}/{i}" for i in range(8)]
    first = found[f"{NODE}/0"]
    assert first["status"] == "pass" and first["check"] == "gpu.health"
    assert first["message"].startswith("healthy: NVIDIA A100 80GB PCIe, 34 °C (slowdown at 92 °C)")
    details = first["details"]
    assert details["uuid"] == "GPU-1c0ffee0-0000-4000-8000-00000000a100"
    assert details["pci_bus_id"] == "00000001:01:00.0"
    assert details["memory_total_mib"] == 81920
    assert details["ecc_mode"] == "enabled" and details["ecc_uncorrected_volatile"] == 0
    assert details["ecc_uncorrected_aggregate"] == 0
    assert details["retired_pages_pending"] is False
    assert details["remapped_rows_pending"] is False and details["remapped_rows_failure"] is False
    assert details["temperature_c"] == 34 and details["slowdown_temperature_c"] == 92
    assert details["clock_event_reasons"] == ["gpu_idle"] and details["hardware_slowdown"] == []
    assert details["power_w"] == 61.0 and details["power_limit_w"] == 300.0
    assert details["persistence_mode"] == "enabled" and details["mig_mode"] == "disabled"
    assert details["xid_critical"] == [] and details["unsupported"] == {}
    assert details["flags"] == {}
    assert found[f"{NODE}/7"]["details"]["uuid"].endswith("a107")  # each GPU read on its own


def test_local_run_uses_the_host_name(tmp_path: Path, fake_nvml: Any) -> None:
    import socket

    _, env = fake_nvml(count=2)
    result = run_health(tmp_path, env, node=None)
    host = socket.gethostname()
    assert sorted(gpus(result)) == [f"{host}/0", f"{host}/1"]


# -- every failure and warning, one GPU each -----------------------------------------------------

PROBLEMS: dict[int, tuple[dict[str, Any], str, str, str]] = {
    # gpu: (fake's fields, status, flagged field, words in the message)
    0: ({"ecc_volatile": 2}, "fail", "ecc_uncorrected_volatile", "2 uncorrectable ECC error(s)"),
    1: ({"retired_pending": 1}, "fail", "retired_pages_pending", "waiting to be retired"),
    2: ({"remap_pending": 1}, "fail", "remapped_rows_pending", "row remapping is pending"),
    3: ({"remap_failure": 1}, "fail", "remapped_rows_failure", "row remapping failed"),
    4: ({"temperature": 92, "slowdown": 92}, "fail", "temperature_c", "at or above the slowdown"),
    5: ({"clock_reasons": 0x8}, "fail", "hardware_slowdown", "hw_slowdown"),
    6: ({"clock_reasons": 0x41}, "fail", "hardware_slowdown", "hw_thermal_slowdown"),
    7: ({"clock_reasons": 0x80}, "fail", "hardware_slowdown", "hw_power_brake_slowdown"),
    8: ({"ecc_aggregate": 3}, "warn", "ecc_uncorrected_aggregate", "3 uncorrectable ECC error(s)"),
    9: ({"persistence": 0}, "warn", "persistence_mode", "persistence mode is off"),
    10: ({"temperature": 88, "slowdown": 92}, "warn", "temperature_c", "within 5 °C"),
    11: ({"clock_reasons": 0x20}, "warn", "clock_event_reasons", "software thermal slowdown"),
    12: ({"power_mw": 296000}, "warn", "power_w", "drawing 296 W of its 300 W limit"),
    13: ({"mig_current": 0, "mig_pending": 1}, "warn", "mig_mode", "MIG mode change pending"),
    14: ({"clock_reasons": 0x4}, "pass", "", "healthy"),  # SW power cap is not a problem
}


def test_each_counter_fails_or_warns_its_own_gpu(tmp_path: Path, fake_nvml: Any) -> None:
    _, env = fake_nvml(count=len(PROBLEMS), gpus={i: p[0] for i, p in PROBLEMS.items()})
    result = run_health(tmp_path, env)
    assert result.code == 1
    found = gpus(result)
    for index, (_, status, flagged, words) in PROBLEMS.items():
        finding = found[f"{NODE}/{index}"]
        assert finding["status"] == status, (index, finding["message"])
        assert words in finding["message"], (index, finding["message"])
        if flagged:
            assert finding["details"]["flags"] == {flagged: status}, (index, finding["details"])
            assert finding["remediation"], index
        else:
            assert finding["details"]["flags"] == {}
    reset = found[f"{NODE}/0"]["remediation"]
    assert "drain the node" in reset and "nvidia-smi -r -i 0" in reset
    assert found[f"{NODE}/0"]["docs"].startswith("https://docs.nvidia.com/")
    assert found[f"{NODE}/14"]["details"]["clock_event_reasons"] == ["sw_power_cap"]
    node = summary(result)
    assert node["status"] == "pass"  # the node's own facts; its GPUs carry their verdicts
    assert "14 of 15 GPUs need attention" in node["message"]
    assert node["details"]["gpus"][f"{NODE}/0"] == "fail"


# -- XID events during the window ----------------------------------------------------------------


def test_critical_xid_fails_and_application_xid_is_ignored(tmp_path: Path, fake_nvml: Any) -> None:
    _, env = fake_nvml(count=3, xid=[(1, 79, 150), (2, 13, 100), (2, 43, 120)])
    result = run_health(tmp_path, env, window="1s")
    found = gpus(result)
    bad = found[f"{NODE}/1"]
    assert bad["status"] == "fail"
    assert "XID 79 (GPU has fallen off the bus)" in bad["message"]
    assert bad["details"]["xid_critical"][0]["xid"] == 79
    assert bad["details"]["flags"] == {"xid_critical": "fail"}
    assert "dmesg" in bad["remediation"]
    app = found[f"{NODE}/2"]
    assert app["status"] == "pass", app["message"]
    assert [x["xid"] for x in app["details"]["xid_application_ignored"]] == [13, 43]
    assert app["details"]["xid_critical"] == []
    assert found[f"{NODE}/0"]["status"] == "pass"


def test_an_xid_after_the_window_is_not_seen(tmp_path: Path, fake_nvml: Any) -> None:
    _, env = fake_nvml(count=1, xid=[(0, 79, 3000)])
    result = run_health(tmp_path, env, window="500ms")
    assert gpus(result)[f"{NODE}/0"]["status"] == "pass"


def test_xid_sampling_unsupported_is_recorded_not_failed(tmp_path: Path, fake_nvml: Any) -> None:
    _, env = fake_nvml(count=2, gpus={1: {"unsupported": "nvmlDeviceRegisterEvents"}})
    result = run_health(tmp_path, env, window="300ms")
    found = gpus(result)
    assert found[f"{NODE}/1"]["status"] == "pass"
    assert found[f"{NODE}/1"]["details"]["xid_sampling"] == "not supported"
    assert found[f"{NODE}/0"]["details"]["xid_sampling"].endswith("s")


# -- what a GPU or driver does not offer --------------------------------------------------------


def test_unsupported_queries_are_recorded_as_such(tmp_path: Path, fake_nvml: Any) -> None:
    not_offered = [
        "nvmlDeviceGetRemappedRows",
        "nvmlDeviceGetRetiredPagesPendingStatus",
        "nvmlDeviceGetEccMode",
        "nvmlDeviceGetTotalEccErrors",
        "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetMigMode",
        "nvmlDeviceGetTemperatureThreshold",
    ]
    _, env = fake_nvml(count=2, unsupported=not_offered, gpus={"*": {"name": "NVIDIA GeForce"}})
    result = run_health(tmp_path, env)
    assert result.code == 0, result.stdout
    details = gpus(result)[f"{NODE}/0"]["details"]
    for key in (
        "remapped_rows_pending",
        "retired_pages_pending",
        "ecc_mode",
        "ecc_uncorrected_volatile",
        "power_w",
        "mig_mode",
        "slowdown_temperature_c",
    ):
        assert details[key] == "not supported", key
    assert details["unsupported"]["remapped_rows"] == (
        "nvmlDeviceGetRemappedRows: not supported by this GPU or driver"
    )
    message = gpus(result)[f"{NODE}/0"]["message"]
    assert (
        message.startswith("healthy: NVIDIA GeForce, 34 °C, ") and "not supported here" in message
    )


def test_functions_missing_from_an_older_driver(tmp_path: Path, fake_nvml: Any) -> None:
    _, env = fake_nvml(
        count=1,
        omit=("nvmlDeviceGetRemappedRows", "nvmlDeviceGetCurrentClocksEventReasons"),
        gpus={0: {"clock_reasons": 0x40}},
    )
    result = run_health(tmp_path, env)
    finding = gpus(result)[f"{NODE}/0"]
    details = finding["details"]
    assert details["remapped_rows_pending"] == "not supported"
    assert details["unsupported"]["remapped_rows"] == (
        "nvmlDeviceGetRemappedRows: not in this driver's NVML library (older driver)"
    )
    # the older name of the clock-reason query still answers: the hardware slowdown is seen
    assert details["hardware_slowdown"] == ["hw_thermal_slowdown"]
    assert finding["status"] == "fail"


# -- bad input -----------------------------------------------------------------------------------


def test_one_lost_gpu_fails_alone(tmp_path: Path, fake_nvml: Any) -> None:
    _, env = fake_nvml(count=8, gpus={2: {"lost": 1}, 5: {"lost": "handle"}})
    result = run_health(tmp_path, env, window="300ms")
    assert result.code == 1
    found = gpus(result)
    assert len(found) == 8
    for index in (2, 5):
        lost = found[f"{NODE}/{index}"]
        assert lost["status"] == "fail"
        assert "GPU is lost (NVML_ERROR_GPU_IS_LOST)" in lost["message"]
        assert lost["details"]["lost"] is True and lost["details"]["flags"] == {"lost": "fail"}
    assert {found[f"{NODE}/{i}"]["status"] for i in (0, 1, 3, 4, 6, 7)} == {"pass"}
    assert found[f"{NODE}/3"]["details"]["temperature_c"] == 34


@pytest.mark.parametrize(
    ("code", "words", "fix"),
    [
        (9, "NVIDIA kernel driver is not loaded", "modprobe nvidia"),
        (18, "different versions", "reboot the node"),
        (4, "no permission", "/dev/nvidia*"),
    ],
)
def test_nvml_that_does_not_start_fails_with_the_remedy(
    tmp_path: Path, fake_nvml: Any, code: int, words: str, fix: str
) -> None:
    _, env = fake_nvml(init_error=code)
    result = run_health(tmp_path, env)
    assert result.code == 1
    (finding,) = result.findings("gpu.health")
    assert finding["status"] == "fail" and finding["target"] == NODE
    assert words in finding["message"] and fix in finding["remediation"]
    assert finding["details"]["nvml_code"] == code


def test_no_nvidia_library_is_a_skip(tmp_path: Path) -> None:
    if ctypes.util.find_library("nvidia-ml"):
        pytest.skip("this host has a real NVIDIA driver")
    empty = tmp_path / "no-driver"
    empty.mkdir()
    result = run_health(tmp_path, {"LD_LIBRARY_PATH": str(empty)})
    assert result.code == 0, result.stdout
    (finding,) = result.findings("gpu.health")
    assert finding["status"] == "skip"
    assert "no NVIDIA driver here" in finding["message"]
    assert "--in-cluster" in finding["remediation"]


def test_nvml_that_sees_no_gpu_warns(tmp_path: Path, fake_nvml: Any) -> None:
    _, env = fake_nvml(count=0)
    result = run_health(tmp_path, env)
    (finding,) = result.findings("gpu.health")
    assert finding["status"] == "warn" and "sees no GPU" in finding["message"]


@pytest.mark.parametrize("value", ["5 minutes", "-1s", "1h", "700s"])
def test_bad_xid_window_is_a_usage_error(tmp_path: Path, value: str) -> None:
    result = run_health(tmp_path, {}, window=value)
    assert result.code == 2
    assert "xid_window" in result.stderr and "Traceback" not in result.stderr


def test_paths_and_spaces_stay_out_of_the_way(tmp_path: Path, fake_nvml: Any) -> None:
    import shutil

    library, env = fake_nvml(count=1)
    spaced = tmp_path / "dir with spaces"
    spaced.mkdir()
    shutil.copy(library, spaced / library.name)
    env["LD_LIBRARY_PATH"] = str(spaced)
    result = run_health(tmp_path, env)
    assert result.code == 0, result.stdout
    for path in (tmp_path / "out").iterdir():
        text = path.read_text()
        assert str(spaced) not in text and env["FAKE_NVML_CONFIG"] not in text
        assert "GPU-1c0ffee0-0000-4000-8000-00000000a100" in text  # a UUID is not a secret


# -- speed and the deadline ----------------------------------------------------------------------


def test_eight_gpus_within_two_seconds_plus_the_window(tmp_path: Path, fake_nvml: Any) -> None:
    _, env = fake_nvml(count=8)
    result = run_health(tmp_path, env, window="1s")
    assert result.code == 0
    durations = [f["duration_s"] for f in result.findings("gpu.health")]
    assert max(durations) < 1.0 + 2.0, durations
    assert result.report()["run"]["duration_s"] < 1.0 + 2.0


def test_the_run_deadline_bounds_the_xid_window(tmp_path: Path, fake_nvml: Any) -> None:
    _, env = fake_nvml(count=2)
    started = time.monotonic()
    result = run_health(tmp_path, env, "--deadline", "4", window="60s")
    assert time.monotonic() - started < 15
    assert {f["status"] for f in gpus(result).values()} == {"pass"}
    assert summary(result)["details"]["xid_window_s"] <= 2.0


# -- the NVML client in-process ------------------------------------------------------------------


def test_client_turns_unsupported_and_missing_into_markers(nvml_in_process: Any) -> None:
    from preflight.clients.nvml import NOT_SUPPORTED, NvmlClient, NvmlError, Unsupported

    pynvml = nvml_in_process(
        count=2,
        omit=("nvmlDeviceGetMigMode",),
        unsupported=["nvmlDeviceGetPowerUsage"],
        gpus={1: {"lost": 1}},
    )
    client = NvmlClient(pynvml)
    assert client.available() is None
    with client.session():
        handle = client.call("nvmlDeviceGetHandleByIndex", 0)
        power = client.call("nvmlDeviceGetPowerUsage", handle)
        assert isinstance(power, Unsupported) and not power and str(power) == NOT_SUPPORTED
        assert "not supported by this GPU" in power.why
        mig = client.call("nvmlDeviceGetMigMode", handle)
        assert isinstance(mig, Unsupported) and "older driver" in mig.why
        absent = client.call("nvmlDeviceGetSomethingFromTheFuture", handle)
        assert isinstance(absent, Unsupported) and "binding" in absent.why
        assert client.call("nvmlDeviceGetName", handle) == "NVIDIA A100 80GB PCIe"
        lost = client.call("nvmlDeviceGetHandleByIndex", 1)
        with pytest.raises(NvmlError) as caught:
            client.call("nvmlDeviceGetName", lost)
        assert caught.value.kind == "gpu-lost" and caught.value.function == "nvmlDeviceGetName"
        sampling = client.sample_events([handle], 0x8, 0.2)
        assert sampling.events == [] and sampling.failure is None and not sampling.stopped


def test_client_init_failure_is_classified(nvml_in_process: Any) -> None:
    from preflight.clients.nvml import NvmlClient, NvmlError

    client = NvmlClient(nvml_in_process(init_error=18))
    assert client.available() is None  # the library is here: the check reports the failure
    with pytest.raises(NvmlError) as caught:
        client.init()
    assert caught.value.kind == "version-mismatch" and caught.value.code == 18


def test_window_parsing() -> None:
    from preflight.checks.gpu.health import parse_window

    assert parse_window("5s") == 5.0
    assert parse_window("5") == 5.0
    assert parse_window("500ms") == 0.5
    assert parse_window("1.5s") == 1.5
    assert parse_window("0") == 0.0
    for bad in ("", "5m", "-1", "1e3", "700"):
        with pytest.raises(ValueError):
            parse_window(bad)


# -- every GPU node of a cluster, from probe pods (preflight run --in-cluster) -------------------


def gpu_cluster() -> list[dict[str, Any]]:
    from support.kube_objects import default_namespaces, node

    system = node("aks-system-0", pool="system", mode="System")
    gpu_nodes = [
        node(
            f"aks-gpu-{i}",
            "24",
            "220Gi",
            pool="gpu",
            gpus=2,
            instance_type="Standard_NC48ads_A100_v4",
            taints=["sku=gpu:NoSchedule"],
        )
        for i in range(3)
    ]
    return [system, *gpu_nodes, *default_namespaces()]


def run_in_cluster(
    tmp_path: Path, kube_api: Any, kube_runner: Any, env: dict[str, str], *args: str
) -> tuple[Result, Any]:
    api = kube_api(gpu_cluster())
    runner = kube_runner(api, env=env)
    result = run_cluster(
        api,
        tmp_path,
        "--in-cluster",
        "--check",
        "gpu.health",
        "--set",
        "xid_window=300ms",
        "--deadline",
        "60",
        *args,
        env={"LD_LIBRARY_PATH": str(tmp_path / "no-driver-here")},
        formats="json,html",
    )
    return result, runner


def test_every_gpu_node_is_probed_in_cluster(
    tmp_path: Path, kube_api: Any, kube_runner: Any, fake_nvml: Any
) -> None:
    from support.fake_nvml import config_text

    library, env = fake_nvml(count=2)
    configs = tmp_path / "nodes"
    configs.mkdir()
    (configs / "default.conf").write_text(config_text({"count": 2}))
    (configs / "aks-gpu-1.conf").write_text(
        config_text({"count": 2, "gpus": {1: {"remap_pending": 1}}})
    )
    (configs / "aks-gpu-2.conf").write_text(config_text({"init_error": 9}))
    env["FAKE_NVML_CONFIG"] = str(configs)
    result, runner = run_in_cluster(tmp_path, kube_api, kube_runner, env)
    found = result.by_target("gpu.health")
    assert result.code == 1, result.stdout + result.stderr
    # aks-gpu-0: healthy; its two GPUs as the probe saw them, with the node pool added
    assert found["aks-gpu-0"]["status"] == "pass"
    assert found["aks-gpu-0"]["details"]["node_pool"] == "gpu"
    assert found["aks-gpu-0/0"]["status"] == "pass" and found["aks-gpu-0/1"]["status"] == "pass"
    # aks-gpu-1: one GPU waits for a row remapping
    assert found["aks-gpu-1/1"]["status"] == "fail"
    assert found["aks-gpu-1/1"]["details"]["flags"] == {"remapped_rows_pending": "fail"}
    assert found["aks-gpu-1/0"]["status"] == "pass"
    # aks-gpu-2: the driver is not loaded there
    assert found["aks-gpu-2"]["status"] == "fail"
    assert "driver is not loaded" in found["aks-gpu-2"]["message"]
    assert "aks-system-0" not in found  # not a GPU node
    # the probe pods: pinned to their node, all GPUs visible, none requested, taints tolerated
    jobs = [r for r in runner.api.requests if r.verb == "create" and r.resource == "jobs"]
    assert len(jobs) == 3
    spec = json.loads(jobs[0].body)["spec"]["template"]["spec"]
    container = spec["containers"][0]
    env_names = {e["name"]: e.get("value") for e in container["env"]}
    assert env_names["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert "nvidia.com/gpu" not in json.dumps(container["resources"])
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    term = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchFields"][0]["values"] == ["aks-gpu-0"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count('class="gpu-node ') == 3


def test_a_node_whose_probe_pod_cannot_start(
    tmp_path: Path, kube_api: Any, kube_runner: Any, fake_nvml: Any
) -> None:
    _, env = fake_nvml(count=1)
    api = kube_api(gpu_cluster())
    runner = kube_runner(api, env=env)
    runner.fault("image_pull", name="gpu-001-*")
    result = run_cluster(
        api,
        tmp_path,
        "--in-cluster",
        "--check",
        "gpu.health",
        "--set",
        "xid_window=0",
        "--deadline",
        "60",
        env={"LD_LIBRARY_PATH": str(tmp_path / "no-driver-here")},
        formats="json",
    )
    found = result.by_target("gpu.health")
    failed = found["aks-gpu-1"]
    assert failed["status"] == "fail"
    assert failed["message"].startswith("the GPU probe pod on node aks-gpu-1 gave no result: ")
    assert "pull" in failed["message"].lower() and failed["remediation"]
    assert failed["details"]["probe_outcome"] in ("ErrImagePull", "ImagePullBackOff")
    assert found["aks-gpu-0/0"]["status"] == "pass" and found["aks-gpu-2/0"]["status"] == "pass"


def test_gpu_allocation_test_requests_a_gpu(
    tmp_path: Path, kube_api: Any, kube_runner: Any, fake_nvml: Any
) -> None:
    _, env = fake_nvml(count=1)
    result, runner = run_in_cluster(
        tmp_path, kube_api, kube_runner, env, "--set", "gpu_allocation_test=true"
    )
    found = result.by_target("gpu.health")
    proof = found["aks-gpu-0/allocation"]
    assert proof["status"] == "pass", proof["message"]
    assert "got a GPU from the device plugin" in proof["message"]
    jobs = [
        json.loads(r.body)
        for r in runner.api.requests
        if r.verb == "create" and r.resource == "jobs"
    ]
    requested = [j for j in jobs if "nvidia.com/gpu" in json.dumps(j["spec"]["template"]["spec"])]
    assert len(requested) == 3


# -- the report ----------------------------------------------------------------------------------


def test_html_shows_a_table_per_node_with_the_bad_counter_marked(
    tmp_path: Path, fake_nvml: Any
) -> None:
    import re

    _, env = fake_nvml(count=3, gpus={1: {"ecc_volatile": 2}, 2: {"persistence": 0}})
    result = run_health(tmp_path, env)
    html = (tmp_path / "out" / "report.html").read_text()
    section = html[
        html.index('id="gpu-health"') : html.index("</section>", html.index('id="gpu-health"'))
    ]
    assert section.count('class="gpu-node ') == 1 and NODE in section
    assert "driver 550.54.15 · CUDA 12.4 · 3 GPU(s)" in section
    cells = re.findall(r'<td class="v([^"]*)">([^<]*)</td>', section)
    assert (" m-fail", "2 / 0") in cells  # the uncorrectable ECC counter of GPU 1
    assert (" m-warn", "off") in cells  # persistence mode of GPU 2
    assert sum(1 for mark, _ in cells if "m-" in mark) == 2
    assert "1 uncorrectable" not in section and "2 uncorrectable ECC error(s)" in section
    assert result.findings("gpu.health")[0]["details"]["gpu_count"] == 3


def test_report_view_reads_only_the_report_dict() -> None:
    from preflight.reports.gpu import gpu_view

    report = {
        "results": [
            {"check": "gpu.health", "status": "pass", "target": "n1/0", "details": {"name": "X"}},
            {"check": "gpu.health", "status": "fail", "target": "n2", "message": "no driver"},
            {"check": "gpu.health", "status": "skip", "target": None, "message": "skipped"},
            {"check": "dns.resolve", "status": "fail", "target": "a/1"},
        ]
    }
    nodes = gpu_view(report)
    assert nodes is not None
    assert [n["node"] for n in nodes] == ["n2", "n1"]  # the failing node first
    assert nodes[0]["problems"][0]["message"] == "no driver" and nodes[0]["rows"] == []
    assert nodes[1]["rows"][0]["index"] == "0" and nodes[1]["rows"][0]["name"] == "X"
    assert gpu_view({"results": []}) is None
