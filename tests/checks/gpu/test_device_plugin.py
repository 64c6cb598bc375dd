"""gpu.device-plugin: GPU nodes, their device plugin and the planned install* settings, with the
real CLI and kubernetes client against the fake API server (report.json asserted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.kube_objects import daemonset, namespace, node, pod

from tests.clirun import Result, run_cluster

CHECK = "gpu.device-plugin"
AKS_PLUGIN = "nvidia-device-plugin-daemonset"
GPU_TOLERATION = {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}


def run(tmp_path: Path, kube_api: Any, objects: list[dict[str, Any]], *args: str) -> Result:
    api = kube_api(objects=objects)
    return run_cluster(api, tmp_path, "--check", CHECK, *args, formats="json,md")


def gpu_node(name: str, gpus: int = 4, size: str = "Standard_NC64as_T4_v3", **kw: Any) -> dict:
    return node(name, "64", "440Gi", gpus=gpus, instance_type=size, pool="gpu", **kw)


def plugin(
    *nodes_ready: tuple[str, bool | str], ns: str = "kube-system", name: str = AKS_PLUGIN, **kw: Any
) -> list[dict[str, Any]]:
    """A device plugin DaemonSet (AKS manifest: label name=nvidia-device-plugin-ds) and one pod
    per node: True ready, False not ready, or a waiting reason (CrashLoopBackOff)."""
    ready = sum(1 for _, state in nodes_ready if state is True)
    ds = daemonset(
        name,
        ns,
        desired=len(nodes_ready),
        ready=ready,
        image="mcr.microsoft.com/oss/nvidia/k8s-device-plugin:v0.15.0",
        tolerations=[GPU_TOLERATION],
        **kw,
    )
    ds["spec"]["selector"] = {"matchLabels": {"name": "nvidia-device-plugin-ds"}}
    ds["spec"]["template"]["metadata"]["labels"] = {"name": "nvidia-device-plugin-ds"}
    pods = []
    for index, (node_name, state) in enumerate(nodes_ready):
        extra: dict[str, Any] = {}
        if isinstance(state, str):
            extra["waiting_reason"] = state
        elif state is False:
            extra["ready"] = False
        pods.append(
            pod(
                f"{name}-{index:05x}",
                ns,
                node=node_name,
                labels={"name": "nvidia-device-plugin-ds"},
                owner={"kind": "DaemonSet", "name": name},
                image="mcr.microsoft.com/oss/nvidia/k8s-device-plugin:v0.15.0",
                **extra,
            )
        )
    return [ds, *pods]


def test_gpu_node_without_a_plugin_recommends_installing_one(tmp_path: Path, kube_api: Any) -> None:
    bare = node(
        "aks-gpu-0",
        "24",
        "220Gi",
        instance_type="Standard_NC24ads_A100_v4",
        labels={"kubernetes.azure.com/accelerator": "nvidia"},
    )
    result = run(tmp_path, kube_api, [namespace("kube-system"), bare, node("aks-cpu-0")])
    assert result.code == 1, result.stdout + result.stderr
    found = result.by_target(CHECK)
    assert set(found) == {"aks-gpu-0", "installNvidiaDevicePlugin", "installDcgmExporter"}
    gpu = found["aks-gpu-0"]
    assert gpu["status"] == "fail"
    assert "no NVIDIA device plugin runs" in gpu["message"]
    assert "installNvidiaDevicePlugin=True" in gpu["remediation"]
    assert gpu["details"]["expected_gpus"] == 1
    assert gpu["details"]["expected_from"] == "VM size Standard_NC24ads_A100_v4: 1x A100 80GB PCIe"
    assert "label kubernetes.azure.com/accelerator=nvidia" in gpu["details"]["gpu_node_because"]
    setting = found["installNvidiaDevicePlugin"]
    assert setting["status"] == "fail"
    assert setting["details"]["recommend"] == {"installNvidiaDevicePlugin": "True"}
    assert found["installDcgmExporter"]["details"]["recommend"] == {"installDcgmExporter": "True"}
    command = result.report()["recommendation"]["command"]
    assert "installNvidiaDevicePlugin=True" in command and "installDcgmExporter=True" in command


def test_aks_plugin_ready_passes_and_a_planned_second_one_is_refused(
    tmp_path: Path, kube_api: Any
) -> None:
    objects = [
        namespace("kube-system"),
        gpu_node("aks-gpu-0", taints=["sku=gpu:NoSchedule"]),
        gpu_node("aks-gpu-1", taints=["sku=gpu:NoSchedule"]),
        *plugin(("aks-gpu-0", True), ("aks-gpu-1", True)),
    ]
    result = run(
        tmp_path,
        kube_api,
        objects,
        "--extension-config",
        "enableInference=True installNvidiaDevicePlugin=True",
    )
    found = result.by_target(CHECK)
    for name in ("aks-gpu-0", "aks-gpu-1"):
        assert found[name]["status"] == "pass", found[name]["message"]
    message = found["aks-gpu-0"]["message"]
    assert message.startswith("4/4 nvidia.com/gpu allocatable (VM size Standard_NC64as_T4_v3")
    assert f"device plugin DaemonSet/kube-system/{AKS_PLUGIN} ready" in message
    pods = found["aks-gpu-1"]["details"]["device_plugin_pods"]
    assert pods == [
        {
            "daemonset": f"DaemonSet/kube-system/{AKS_PLUGIN}",
            "pod": f"{AKS_PLUGIN}-00001",
            "ready": True,
            "state": "ready",
        }
    ]
    setting = found["installNvidiaDevicePlugin"]
    assert setting["status"] == "fail" and "two plugins would" in setting["message"]
    assert setting["details"]["recommend"] == {"installNvidiaDevicePlugin": "False"}
    recommendation = result.report()["recommendation"]
    assert "installNvidiaDevicePlugin=False" in recommendation["command"]


def test_reusing_the_plugin_passes(tmp_path: Path, kube_api: Any) -> None:
    objects = [gpu_node("aks-gpu-0"), *plugin(("aks-gpu-0", True))]
    result = run(tmp_path, kube_api, objects, "--extension-config", "enableInference=True")
    setting = result.by_target(CHECK)["installNvidiaDevicePlugin"]
    assert setting["status"] == "pass" and "reuses the device plugin" in setting["message"]
    assert "recommend" not in setting["details"]


def test_plugin_pod_not_ready_on_one_node(tmp_path: Path, kube_api: Any) -> None:
    objects = [
        gpu_node("aks-gpu-0"),
        gpu_node("aks-gpu-1"),
        *plugin(("aks-gpu-0", True), ("aks-gpu-1", "CrashLoopBackOff")),
    ]
    result = run(tmp_path, kube_api, objects)
    found = result.by_target(CHECK)
    assert found["aks-gpu-0"]["status"] == "pass"
    sick = found["aks-gpu-1"]
    assert sick["status"] == "fail"
    assert "device plugin pod on this node is not ready" in sick["message"]
    assert "CrashLoopBackOff (restarts 5)" in sick["message"]
    assert sick["details"]["device_plugin_pods"][0]["ready"] is False
    assert "kubectl logs" in sick["remediation"]


def test_capacity_four_allocatable_zero(tmp_path: Path, kube_api: Any) -> None:
    unhealthy = gpu_node("aks-gpu-0")
    unhealthy["status"]["allocatable"]["nvidia.com/gpu"] = "0"
    result = run(tmp_path, kube_api, [unhealthy, *plugin(("aks-gpu-0", True))])
    finding = result.by_target(CHECK)["aks-gpu-0"]
    assert finding["status"] == "fail"
    assert "nvidia.com/gpu capacity 4 but allocatable 0" in finding["message"]
    assert finding["details"]["gpu_capacity"] == 4 and finding["details"]["gpu_allocatable"] == 0


def test_fewer_gpus_than_the_vm_size_has(tmp_path: Path, kube_api: Any) -> None:
    short = gpu_node("aks-gpu-0", gpus=3)
    result = run(tmp_path, kube_api, [short, *plugin(("aks-gpu-0", True))])
    finding = result.by_target(CHECK)["aks-gpu-0"]
    assert finding["status"] == "fail"
    assert "only 3 of 4 GPUs allocatable" in finding["message"]


def test_mig_mixed_strategy(tmp_path: Path, kube_api: Any) -> None:
    mig = node(
        "aks-a100-0",
        "96",
        "880Gi",
        instance_type="Standard_NC96ads_A100_v4",
        pool="mig",
        labels={"kubernetes.azure.com/accelerator": "nvidia", "nvidia.com/mig.strategy": "mixed"},
    )
    for resources in (mig["status"]["capacity"], mig["status"]["allocatable"]):
        resources["nvidia.com/mig-1g.10gb"] = "21"
        resources["nvidia.com/mig-3g.40gb"] = "2"
    result = run(tmp_path, kube_api, [mig, *plugin(("aks-a100-0", True))])
    finding = result.by_target(CHECK)["aks-a100-0"]
    assert finding["status"] == "pass", finding["message"]
    assert finding["message"].startswith(
        "MIG (mixed strategy): 21x nvidia.com/mig-1g.10gb, 2x nvidia.com/mig-3g.40gb allocatable"
    )
    assert finding["details"]["mig_strategy"] == "mixed"
    assert finding["details"]["mig_resources"]["nvidia.com/mig-3g.40gb"] == {
        "capacity": 2,
        "allocatable": 2,
    }


def test_mig_single_strategy_counts_instances(tmp_path: Path, kube_api: Any) -> None:
    single = gpu_node(
        "aks-a100-0",
        gpus=28,
        size="Standard_NC96ads_A100_v4",
        labels={"nvidia.com/mig.strategy": "single"},
    )
    result = run(tmp_path, kube_api, [single, *plugin(("aks-a100-0", True))])
    finding = result.by_target(CHECK)["aks-a100-0"]
    assert finding["status"] == "pass", finding["message"]
    assert "MIG (single strategy): 28 nvidia.com/gpu" in finding["message"]


def test_plugin_that_does_not_tolerate_the_gpu_taint(tmp_path: Path, kube_api: Any) -> None:
    tainted = gpu_node("aks-gpu-0", taints=["nvidia.com/gpu=present:NoSchedule"])
    objects = [tainted, gpu_node("aks-gpu-1"), *plugin(("aks-gpu-1", True))]
    result = run(tmp_path, kube_api, objects)
    finding = result.by_target(CHECK)["aks-gpu-0"]
    assert finding["status"] == "fail"
    assert "no device plugin pod runs on this node" in finding["message"]
    assert "taint nvidia.com/gpu=present:NoSchedule not tolerated" in finding["message"]
    assert result.by_target(CHECK)["aks-gpu-1"]["status"] == "pass"


def test_no_gpu_nodes_is_a_skip(tmp_path: Path, kube_api: Any) -> None:
    result = run(tmp_path, kube_api, [node("aks-cpu-0"), node("aks-cpu-1")])
    (finding,) = result.findings(CHECK)
    assert finding["status"] == "skip" and finding["message"].startswith("no GPU nodes")
    assert result.code == 0


def test_amd_sizes_are_not_nvidia_gpu_nodes(tmp_path: Path, kube_api: Any) -> None:
    amd = node("aks-mi300-0", instance_type="Standard_ND96isr_MI300X_v5")
    result = run(tmp_path, kube_api, [amd])
    assert [f["status"] for f in result.findings(CHECK)] == ["skip"]


def test_existing_dcgm_exporter_and_a_planned_second_one(tmp_path: Path, kube_api: Any) -> None:
    objects = [
        gpu_node("aks-gpu-0"),
        *plugin(("aks-gpu-0", True)),
        daemonset("nvidia-dcgm-exporter", "gpu-operator", desired=1),
    ]
    result = run(
        tmp_path,
        kube_api,
        objects,
        "--extension-config",
        "enableTraining=True installDcgmExporter=True",
    )
    dcgm = result.by_target(CHECK)["installDcgmExporter"]
    assert dcgm["status"] == "warn" and "publish the same metrics twice" in dcgm["message"]
    assert dcgm["details"]["recommend"] == {"installDcgmExporter": "False"}
    assert "installDcgmExporter=False" in result.report()["recommendation"]["command"]


def test_dcgm_left_off_on_purpose_is_respected(tmp_path: Path, kube_api: Any) -> None:
    objects = [gpu_node("aks-gpu-0"), *plugin(("aks-gpu-0", True))]
    result = run(tmp_path, kube_api, objects, "--extension-config", "installDcgmExporter=False")
    dcgm = result.by_target(CHECK)["installDcgmExporter"]
    assert dcgm["status"] == "pass" and "recommend" not in dcgm["details"]


def test_gpus_advertised_without_a_daemonset(tmp_path: Path, kube_api: Any) -> None:
    """A node-level plugin (not a DaemonSet) already advertises the GPUs: installing another
    one would compete with it."""
    result = run(
        tmp_path,
        kube_api,
        [gpu_node("aks-gpu-0")],
        "--extension-config",
        "installNvidiaDevicePlugin=True",
    )
    found = result.by_target(CHECK)
    assert found["aks-gpu-0"]["status"] == "pass"
    assert "outside Kubernetes" in found["aks-gpu-0"]["message"]
    setting = found["installNvidiaDevicePlugin"]
    assert setting["status"] == "warn"
    assert setting["details"]["recommend"] == {"installNvidiaDevicePlugin": "False"}


def test_pods_are_listed_once_per_plugin_with_its_selector(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(
        objects=[
            *(gpu_node(f"aks-gpu-{i}") for i in range(3)),
            *plugin(*((f"aks-gpu-{i}", True) for i in range(3))),
        ]
    )
    result = run_cluster(api, tmp_path, "--check", CHECK, formats="json")
    assert result.code == 0, result.stdout
    pod_calls = [r for r in api.requests if r.resource == "pods"]
    assert len(pod_calls) == 1
    assert pod_calls[0].namespace == "kube-system"
    assert pod_calls[0].param("labelSelector") == "name=nvidia-device-plugin-ds"


def test_plugin_pods_outside_kube_system_under_the_shipped_rbac(
    tmp_path: Path, kube_api: Any
) -> None:
    """deploy/rbac.yaml lets preflight list pods in kube-system only: gpu-operator's plugin is
    judged from its DaemonSet's status, and the finding says which permission would tell more."""
    from support.rbac import rbac_rules

    api = kube_api(
        objects=[
            namespace("gpu-operator"),
            gpu_node("aks-gpu-0"),
            gpu_node("aks-gpu-1"),
            *plugin(("aks-gpu-0", True), ("aks-gpu-1", True), ns="gpu-operator"),
        ]
    )
    cluster, namespaced = rbac_rules()
    api.set_rbac(cluster, namespaced=namespaced)
    result = run_cluster(api, tmp_path, "--check", CHECK, formats="json")
    found = result.by_target(CHECK)
    node_finding = found["aks-gpu-0"]
    assert node_finding["status"] == "pass", node_finding["message"]
    assert f"DaemonSet/gpu-operator/{AKS_PLUGIN} 2/2 ready" in node_finding["message"]
    assert node_finding["details"]["unverified"] == [
        {
            "read": f"pods of DaemonSet gpu-operator/{AKS_PLUGIN}",
            "permission": "list pods (in namespace gpu-operator)",
        }
    ]
