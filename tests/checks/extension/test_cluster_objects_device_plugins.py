"""extension.device-plugins end to end: DaemonSets that register nvidia.com/gpu (AKS's manual
plugin, GPU operator's, NVIDIA's chart), placed on nodes the way the scheduler places them, and
whether two of them share a node; the real CLI against the fake API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.clirun import Result, run_checks

CHECK = "extension.device-plugins"
AKS_PLUGIN_IMAGE = "mcr.microsoft.com/oss/nvidia/k8s-device-plugin:v0.15.0"
OPERATOR_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.16.2-ubi9"
GPU_TAINT = "sku=gpu:NoSchedule"
TOLERATE_GPU = [{"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]


def run(tmp_path: Path, api: Any, *args: str) -> Result:
    return run_checks(api, tmp_path, CHECK, *args)


def plugin(name: str, namespace: str, image: str, **kwargs: Any) -> dict[str, Any]:
    from support.kube_objects import daemonset

    return daemonset(name, namespace, image=image, **kwargs)


def gpu_cluster(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    """Two CPU nodes and two GPU nodes (pool gpu, tainted as AKS GPU pools usually are)."""
    from support.kube_objects import default_namespaces, node, nodes

    return [
        *default_namespaces(),
        *nodes(2),
        *(
            node(
                f"aks-gpu-{i}",
                gpus=1,
                pool="gpu",
                instance_type="Standard_NC6s_v3",
                taints=[GPU_TAINT],
                labels={"nvidia.com/gpu.deploy.device-plugin": "true"},
            )
            for i in range(2)
        ),
        *extra,
    ]


def test_two_plugins_on_the_same_gpu_nodes_warn_naming_them_and_the_nodes(
    tmp_path: Path, kube_api: Any
) -> None:
    aks = plugin(
        "nvidia-device-plugin-daemonset",
        "kube-system",
        AKS_PLUGIN_IMAGE,
        tolerations=TOLERATE_GPU,
        node_selector={"kubernetes.azure.com/accelerator": "nvidia"},
    )
    operator = plugin(
        "nvidia-device-plugin-daemonset",
        "gpu-operator",
        OPERATOR_PLUGIN_IMAGE,
        tolerations=[{"operator": "Exists"}],
        node_selector={"nvidia.com/gpu.deploy.device-plugin": "true"},
    )
    mps = plugin(  # same image, but not a plugin
        "nvidia-device-plugin-mps-control-daemon", "gpu-operator", OPERATOR_PLUGIN_IMAGE
    )
    api = kube_api(gpu_cluster(aks, operator, mps))
    result = run(tmp_path, api)
    finding = result.only(CHECK)
    assert finding["status"] == "warn"
    assert (
        "2 DaemonSets register nvidia.com/gpu on GPU node aks-gpu-0 and 1 more"
        in (finding["message"])
    )
    shared = finding["details"]["shared_nodes"]
    assert set(shared) == {"aks-gpu-0", "aks-gpu-1"}
    assert sorted(shared["aks-gpu-0"]) == [
        "DaemonSet/gpu-operator/nvidia-device-plugin-daemonset",
        "DaemonSet/kube-system/nvidia-device-plugin-daemonset",
    ]
    assert finding["details"]["gpu_nodes_shared"] == ["aks-gpu-0", "aks-gpu-1"]
    described = {d["daemonset"]: d for d in finding["details"]["daemonsets"]}
    assert described["DaemonSet/kube-system/nvidia-device-plugin-daemonset"]["images"] == [
        AKS_PLUGIN_IMAGE
    ]
    assert "installNvidiaDevicePlugin=False" in finding["remediation"]
    assert finding["docs"] == "https://learn.microsoft.com/azure/aks/nvidia-gpu-operator"


def test_plugins_kept_to_their_own_nodes_pass(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import node

    pool_a = plugin(
        "nvidia-device-plugin",
        "nvidia",
        OPERATOR_PLUGIN_IMAGE,
        tolerations=TOLERATE_GPU,
        node_affinity=[
            {
                "matchExpressions": [
                    {"key": "kubernetes.azure.com/agentpool", "operator": "In", "values": ["gpu"]}
                ]
            }
        ],
    )
    untolerated = plugin(  # no toleration for the GPU pool's taint: only the new pool
        "nvidia-device-plugin-daemonset",
        "kube-system",
        AKS_PLUGIN_IMAGE,
        node_selector={"kubernetes.azure.com/agentpool": "gpu2"},
    )
    api = kube_api(gpu_cluster(pool_a, untolerated, node("aks-gpu2-0", gpus=1, pool="gpu2")))
    finding = run(tmp_path, api).only(CHECK)
    assert finding["status"] == "pass", finding
    assert "on separate nodes" in finding["message"]
    nodes = {d["daemonset"]: d["nodes"] for d in finding["details"]["daemonsets"]}
    assert nodes["DaemonSet/nvidia/nvidia-device-plugin"] == ["aks-gpu-0", "aks-gpu-1"]
    assert nodes["DaemonSet/kube-system/nvidia-device-plugin-daemonset"] == ["aks-gpu2-0"]


def test_a_rule_that_cannot_be_evaluated_warns(tmp_path: Path, kube_api: Any) -> None:
    odd_affinity = [{"matchExpressions": [{"key": "gpu", "operator": "Near"}]}]
    api = kube_api(
        gpu_cluster(
            plugin(
                "nvidia-device-plugin", "nvidia", OPERATOR_PLUGIN_IMAGE, node_affinity=odd_affinity
            ),
            plugin("gpu-feature-plugin", "kube-system", AKS_PLUGIN_IMAGE),
        )
    )
    finding = run(tmp_path, api).only(CHECK)
    assert finding["status"] == "warn"
    assert "could not be told" in finding["message"]
    assert "operator 'Near'" in finding["details"]["not_evaluated"][0]


def test_one_plugin_passes(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(
        gpu_cluster(
            plugin("nvidia-device-plugin-daemonset", "kube-system", AKS_PLUGIN_IMAGE),
            plugin("fluent-bit", "azureml", "mcr.microsoft.com/azureml/amlarc/docker/fluent-bit"),
        )
    )
    finding = run(tmp_path, api).only(CHECK)
    assert finding["status"] == "pass"
    assert "one: DaemonSet/kube-system/nvidia-device-plugin-daemonset" in finding["message"]
