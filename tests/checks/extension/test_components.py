"""extension.components end to end: the real CLI (``--set phase=after``) against the fake
Kubernetes API server over HTTP, seeded with what an installed extension leaves in namespace
azureml (``support.azureml_objects``), and report.json read back. One test takes the installed
settings from a fake Azure Resource Manager instead.

Which components each configuration has is spelt out here by name (seed 002's table), not
derived from the table the check uses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.azureml_objects import (
    CRASH_LOOP,
    ERR_IMAGE_PULL,
    IMAGE_PULL,
    PENDING,
    component,
    component_pod,
    installed_extension,
)
from support.kube_objects import default_namespaces, job, namespace, nodes, pod

from preflight.checks._shared.pods import image_registry, selector_matches
from tests.clirun import Result, assert_actionable, run_checks

CHECK = "extension.components"
SUMMARY = "Namespace/azureml"
COMMON = {
    "Deployment/gateway",
    "Deployment/metrics-controller-manager",
    "Deployment/azureml-kube-state-metrics",
    "Deployment/azureml-prometheus-operator",
    "DaemonSet/fluent-bit",
    "StatefulSet/prometheus-prom-prometheus",
}
INFERENCE = {
    "Deployment/amlarc-identity-controller",
    "Deployment/amlarc-identity-proxy",
    "Deployment/azureml-fe-v2",
    "Deployment/inference-operator-controller-manager",
}
TRAINING = {"Deployment/aml-operator"}
VOLCANO = {
    "Deployment/volcano-admission",
    "Deployment/volcano-controllers",
    "Deployment/volcano-scheduler",
}
BOTH = "enableTraining=True enableInference=True"


def cluster(kube_api: Callable[..., Any], *objects: dict[str, Any], node_count: int = 3) -> Any:
    return kube_api(objects=[*default_namespaces(), *nodes(node_count), *objects])


def run(
    tmp_path: Path,
    api: Any,
    *args: str,
    config: str | None = None,
    errors: bool = False,
    **kwargs: Any,
) -> Result:
    result = run_checks(
        api,
        tmp_path,
        CHECK,
        "--set",
        "phase=after",
        *args,
        config=config,
        formats="json,html,md,junit",
        **kwargs,
    )
    assert result.code in (0, 1), result.stderr
    assert_actionable(result, CHECK, errors=errors)
    return result


def components(result: Result) -> dict[str, str]:
    """Component findings only (no summary, no stray pods, no unverified reads)."""
    return {
        t: s
        for t, s in result.statuses(CHECK).items()
        if t.split("/")[0] in ("Deployment", "DaemonSet", "StatefulSet")
    }


# -- healthy installations: which components each configuration has ------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("enableInference=True", COMMON | INFERENCE),
        ("enableTraining=True", COMMON | TRAINING | VOLCANO),
        (BOTH, COMMON | INFERENCE | TRAINING | VOLCANO),
    ],
    ids=["inference", "training", "both"],
)
def test_healthy_installation_on_aks_passes(
    tmp_path: Path, kube_api: Callable[..., Any], config: str, expected: set[str]
) -> None:
    api = cluster(kube_api, *installed_extension(config))
    result = run(tmp_path, api, config=config)
    assert result.code == 0, result.stdout
    assert components(result) == dict.fromkeys(expected, "pass")
    summary = result.finding(CHECK, SUMMARY)
    assert summary["status"] == "pass"
    assert summary["details"]["settings_source"] == "extension-config"
    assert summary["details"]["cluster_type"] == "aks"
    assert "Deployment/relayserver" not in summary["details"]["expected"]
    router = result.by_target(CHECK).get("Deployment/azureml-fe-v2")
    if router:
        assert router["details"]["desired"] == 3  # inferenceRouterHA defaults to True
        assert "enableInference=True (planned, --extension-config)" in router["message"]


def test_only_runs_after_the_install(tmp_path: Path, kube_api: Callable[..., Any]) -> None:
    api = cluster(kube_api, *installed_extension())
    result = run_checks(api, tmp_path, CHECK)
    assert result.code == 2
    assert "phase=after" in result.stderr


def test_arc_cluster_expects_relayserver(tmp_path: Path, kube_api: Callable[..., Any]) -> None:
    api = cluster(kube_api, *installed_extension(BOTH, cluster_type="arc"))
    result = run(tmp_path, api, "--set", "cluster_type=arc", config=BOTH)
    assert result.code == 0, result.stdout
    relay = result.finding(CHECK, "Deployment/relayserver")
    assert relay["status"] == "pass"
    assert "cluster_type=arc" in relay["message"]
    assert relay["details"]["cloud_communication"].startswith("Receive the request")

    api.remove("deployments", "relayserver", "azureml")
    result = run(tmp_path, api, "--set", "cluster_type=arc", config=BOTH)
    relay = result.finding(CHECK, "Deployment/relayserver")
    assert relay["status"] == "fail"
    assert "missing from namespace azureml" in relay["message"]
    assert "cluster_type=arc" in relay["message"]
    assert (
        "az k8s-extension show --name azureml --cluster-type connectedClusters"
        in (relay["remediation"])
    )


def test_relayserver_on_aks_is_mentioned_not_failed(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    api = cluster(kube_api, *installed_extension(BOTH, cluster_type="arc"))
    result = run(tmp_path, api, "--set", "cluster_type=aks", config=BOTH)
    assert result.code == 0, result.stdout
    assert "Deployment/relayserver" not in result.statuses(CHECK)
    summary = result.finding(CHECK, SUMMARY)
    assert summary["details"]["not_expected_present"] == ["Deployment/relayserver"]
    assert (
        "present but not expected for this configuration: Deployment/relayserver"
        in (summary["message"])
    )
    # without --set cluster_type, relayserver tells Arc apart: it is judged as an Arc component
    result = run(tmp_path, api, config=BOTH)
    assert result.finding(CHECK, "Deployment/relayserver")["status"] == "pass"
    assert result.finding(CHECK, SUMMARY)["details"]["cluster_type_source"] == "inferred"


def test_install_volcano_false_expects_no_volcano(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    config = "enableTraining=True installVolcano=False installPromOp=False"
    api = cluster(kube_api, *installed_extension(config))
    result = run(tmp_path, api, config=config)
    assert result.code == 0, result.stdout
    assert components(result) == dict.fromkeys(
        (COMMON | TRAINING) - {"Deployment/azureml-prometheus-operator"}, "pass"
    )


def test_gpu_daemonsets_expected_when_asked(tmp_path: Path, kube_api: Callable[..., Any]) -> None:
    config = "enableInference=True installNvidiaDevicePlugin=True installDcgmExporter=True"
    api = cluster(kube_api, *installed_extension(config))
    result = run(tmp_path, api, config=config)
    assert result.code == 0, result.stdout
    gpu = {"DaemonSet/azureml-dcgm-exporter", "DaemonSet/nvidia-device-plugin-daemonset"}
    assert components(result) == dict.fromkeys(COMMON | INFERENCE | gpu, "pass")
    plugin = result.finding(CHECK, "DaemonSet/nvidia-device-plugin-daemonset")
    assert "installNvidiaDevicePlugin=True (planned, --extension-config)" in plugin["message"]
    assert plugin["details"]["desired"] == 3

    # the same cluster judged with the defaults: the GPU DaemonSets are not expected
    result = run(tmp_path, api, config="enableInference=True")
    assert not gpu & set(result.statuses(CHECK))


def test_gpu_daemonset_on_no_gpu_node_warns(tmp_path: Path, kube_api: Callable[..., Any]) -> None:
    config = "enableInference=True installDcgmExporter=True"
    objects = installed_extension(config, missing=["azureml-dcgm-exporter"])
    exporter = component("DaemonSet", "azureml-dcgm-exporter", nodes=0)
    exporter[0]["spec"]["template"]["spec"]["nodeSelector"] = {
        "kubernetes.azure.com/accelerator": "nvidia"
    }
    api = cluster(kube_api, *objects, *exporter)
    result = run(tmp_path, api, config=config)
    dcgm = result.finding(CHECK, "DaemonSet/azureml-dcgm-exporter")
    assert dcgm["status"] == "warn"
    assert "runs on no node: no GPU node matches" in dcgm["message"]
    assert "kubernetes.azure.com/accelerator=nvidia" in dcgm["message"]
    assert "installDcgmExporter=False" in dcgm["remediation"]


def test_extension_name_from_param_helm_or_names(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    api = cluster(kube_api, *installed_extension(name="ml"))
    named = {"Deployment/ml-kube-state-metrics", "Deployment/ml-prometheus-operator"}
    result = run(tmp_path, api, "--set", "extension_name=ml", config="enableInference=True")
    assert result.code == 0, result.stdout
    assert named <= set(components(result))
    assert result.finding(CHECK, SUMMARY)["details"]["extension_name_source"] == "param"

    result = run(tmp_path, api, config="enableInference=True")  # Helm's release name
    assert named <= set(components(result))
    assert result.finding(CHECK, SUMMARY)["details"]["extension_name_source"] == "helm"

    bare = cluster(kube_api, *installed_extension(name="ml", helm=False))
    result = run(tmp_path, bare, config="enableInference=True")  # {ext}-... names
    assert named <= set(components(result))
    assert result.finding(CHECK, SUMMARY)["details"]["extension_name_source"] == "names"
    assert result.code == 0, result.stdout


def test_settings_inferred_from_what_runs(tmp_path: Path, kube_api: Callable[..., Any]) -> None:
    api = cluster(kube_api, *installed_extension("enableTraining=True installVolcano=False"))
    result = run(tmp_path, api)
    assert result.code == 0, result.stdout
    assert components(result) == dict.fromkeys(COMMON | TRAINING, "pass")
    summary = result.finding(CHECK, SUMMARY)
    assert summary["details"]["settings_source"] == "inferred"
    assert summary["details"]["install_settings"]["installVolcano"] is False
    assert "judged from what runs in namespace azureml" in summary["message"]
    assert "aml-operator present" in summary["message"]
    assert "pass --extension-config" in summary["message"]
    gateway = result.finding(CHECK, "Deployment/gateway")
    assert gateway["details"]["settings_source"] == "inferred"


# -- what goes wrong ------------------------------------------------------------------------------


def test_image_pull_backoff_points_back_at_egress(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    api = cluster(kube_api, *installed_extension(states={"gateway": IMAGE_PULL}))
    result = run(tmp_path, api, config="enableInference=True")
    assert result.code == 1
    gateway = result.finding(CHECK, "Deployment/gateway")
    assert gateway["status"] == "fail"
    image = "mcr.microsoft.com/azureml/amlarc/docker/gateway:1.1.63"
    message = gateway["message"]
    assert "0/1 replicas ready" in message and "ImagePullBackOff" in message
    assert f"cannot pull image {image} from mcr.microsoft.com" in message
    assert (
        "see egress.https and dns.resolve for mcr.microsoft.com (from this machine) and "
        "connectivity.in-cluster (from the nodes)"
    ) in message
    assert "not among the hosts" not in message  # mcr.microsoft.com is in the profile
    foreseen = gateway["details"]["foreseen_by"]
    assert foreseen[:3] == [
        {"check": "egress.https", "target": "mcr.microsoft.com"},
        {"check": "dns.resolve", "target": "mcr.microsoft.com"},
        {"check": "connectivity.in-cluster", "mentions": "mcr.microsoft.com"},
    ]
    (pod_detail,) = gateway["details"]["pods"]
    assert pod_detail["reason"] == "ImagePullBackOff" and pod_detail["image"] == image
    assert "mcr.microsoft.com:443" in gateway["remediation"]
    assert f"kubectl -n azureml describe pod {pod_detail['name']}" in gateway["remediation"]
    # the other components are not blamed
    assert {s for t, s in components(result).items() if t != "Deployment/gateway"} == {"pass"}


def test_err_image_pull_quotes_the_runtime_and_a_foreign_registry(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    objects = installed_extension(states={"azureml-fe-v2": ERR_IMAGE_PULL}, missing=["gateway"])
    gateway = component("Deployment", "gateway", state=IMAGE_PULL, image="quay.io/acme/gw:2")
    api = cluster(kube_api, *objects, *gateway)
    result = run(tmp_path, api, config="enableInference=True")
    router = result.finding(CHECK, "Deployment/azureml-fe-v2")
    assert router["status"] == "fail"
    assert "0/3 replicas ready" in router["message"]
    assert "dial tcp 204.79.197.219:443: i/o timeout" in router["message"]
    assert "and 0 more" not in router["message"]
    foreign = result.finding(CHECK, "Deployment/gateway")
    assert "from quay.io" in foreign["message"]
    assert "quay.io is not among the hosts of profile azure-public" in foreign["message"]
    assert "add it to the firewall rules" in foreign["message"]
    assert foreign["details"]["foreseen_by"][0] == {"check": "egress.https", "target": "quay.io"}


def test_crash_loop_counts_restarts_and_gives_the_exit_code(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    api = cluster(kube_api, *installed_extension(BOTH, states={"aml-operator": CRASH_LOOP}))
    result = run(tmp_path, api, config=BOTH)
    operator = result.finding(CHECK, "Deployment/aml-operator")
    assert operator["status"] == "fail"
    assert "CrashLoopBackOff" in operator["message"]
    assert "last exit code 1 Error" in operator["message"]
    assert "7 restart(s)" in operator["message"]
    assert operator["details"]["restarts"] == 7
    pod_name = operator["details"]["pods"][0]["name"]
    assert f"kubectl -n azureml logs {pod_name} -c main --previous" in operator["remediation"]
    assert "Expected because enableTraining=True" in operator["message"]


def test_daemonset_with_one_broken_pod(tmp_path: Path, kube_api: Callable[..., Any]) -> None:
    objects = installed_extension(missing=["fluent-bit"])
    fluent = component("DaemonSet", "fluent-bit")
    fluent[0]["status"]["numberReady"] = 2
    fluent[-1] = component_pod("DaemonSet", "fluent-bit", 2, CRASH_LOOP)
    api = cluster(kube_api, *objects, *fluent)
    result = run(tmp_path, api, config="enableInference=True")
    daemon = result.finding(CHECK, "DaemonSet/fluent-bit")
    assert daemon["status"] == "fail"
    assert "2/3 scheduled pods ready" in daemon["message"]
    assert sorted(p["ok"] for p in daemon["details"]["pods"]) == [False, True, True]
    assert "it talks to Azure" in daemon["remediation"]


def test_router_pending_on_two_nodes_recommends_router_ha_off(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    api = cluster(kube_api, *installed_extension(states={"azureml-fe-v2": PENDING}), node_count=2)
    result = run(tmp_path, api, config="enableInference=True")
    router = result.finding(CHECK, "Deployment/azureml-fe-v2")
    assert router["status"] == "fail"
    assert "2/3 replicas ready" in router["message"]
    assert "didn't match pod anti-affinity rules" in router["message"]
    assert "inferenceRouterHA=True (the default)" in router["message"]
    assert "only 2 node(s)" in router["message"]
    assert ".." not in router["message"]
    assert router["details"]["recommend"] == {"inferenceRouterHA": "False"}
    assert {"check": "nodes.capacity"} in router["details"]["foreseen_by"]
    assert "--config inferenceRouterHA=False" in router["remediation"]


def test_pending_for_cpu_is_foreseen_by_capacity(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    objects = installed_extension(missing=["gateway"])
    gateway = component("Deployment", "gateway", state=PENDING)
    gateway[-1]["status"]["conditions"][0]["message"] = (
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 "
        "No preemption victims found for incoming pod."
    )
    api = cluster(kube_api, *objects, *gateway)
    result = run(tmp_path, api, config="enableInference=True")
    found = result.finding(CHECK, "Deployment/gateway")
    assert found["status"] == "fail"
    assert "3 Insufficient cpu" in found["message"]
    assert found["details"]["foreseen_by"] == [{"check": "nodes.capacity"}]
    assert "recommend" not in found["details"]
    assert "the nodes lack cpu" in found["remediation"]
    assert found["docs"].endswith("#recommended-resource-planning")


def test_missing_component_says_why_it_is_expected(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    api = cluster(kube_api, *installed_extension(missing=["amlarc-identity-proxy"]))
    result = run(tmp_path, api, config="enableInference=True")
    assert result.code == 1
    proxy = result.finding(CHECK, "Deployment/amlarc-identity-proxy")
    assert proxy["status"] == "fail"
    assert "missing from namespace azureml" in proxy["message"]
    assert (
        "expected because enableInference=True (planned, --extension-config)" in (proxy["message"])
    )
    assert "helm -n azureml history azureml" in proxy["remediation"]


def test_ready_component_with_many_restarts_warns(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    objects = installed_extension(missing=["gateway"])
    gateway = component("Deployment", "gateway")
    status = gateway[1]["status"]["containerStatuses"][0]
    status["restartCount"] = 4
    status["lastState"] = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    api = cluster(kube_api, *objects, *gateway)
    result = run(tmp_path, api, config="enableInference=True")
    found = result.finding(CHECK, "Deployment/gateway")
    assert found["status"] == "warn"
    assert "restarted 4 times" in found["message"]
    assert "last exit code 137 OOMKilled" in found["message"]
    assert "--previous" in found["remediation"]
    assert result.code == 0  # warn does not fail the default gate


def test_scaled_to_zero_warns(tmp_path: Path, kube_api: Callable[..., Any]) -> None:
    objects = installed_extension(missing=["metrics-controller-manager"])
    manager = component("Deployment", "metrics-controller-manager", replicas=0)
    api = cluster(kube_api, *objects, *manager)
    result = run(tmp_path, api, config="enableInference=True")
    found = result.finding(CHECK, "Deployment/metrics-controller-manager")
    assert found["status"] == "warn"
    assert "scaled to zero" in found["message"]
    assert "--replicas=1" in found["remediation"]


def test_stray_pods_are_judged_and_finished_jobs_ignored(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    extra = [
        pod(
            "azureml-pre-install-check-x7k2p",
            "azureml",
            phase="Pending",
            waiting_reason="ImagePullBackOff",
            image="mcr.microsoft.com/azureml/amlarc/docker/healthcheck:1.1.63",
            owner={"kind": "Job", "name": "azureml-pre-install-check"},
        ),
        pod("azureml-post-install-done-p9q", "azureml", phase="Succeeded"),
        job("azureml-post-install-done", "azureml"),
    ]
    api = cluster(kube_api, *installed_extension(), *extra)
    result = run(tmp_path, api, config="enableInference=True")
    stray = result.finding(CHECK, "Pod/azureml-pre-install-check-x7k2p")
    assert stray["status"] == "fail"
    assert "owned by Job/azureml-pre-install-check" in stray["message"]
    assert "every pod in namespace azureml should be Running" in stray["message"]
    assert stray["details"]["foreseen_by"][0]["target"] == "mcr.microsoft.com"
    assert "Pod/azureml-post-install-done-p9q" not in result.statuses(CHECK)


def test_pods_not_readable_warns_with_the_permission(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    api = cluster(kube_api, *installed_extension(states={"gateway": IMAGE_PULL}))
    api.inject("pods", verb="list", status=403)
    result = run(tmp_path, api, config="enableInference=True")
    denied = result.finding(CHECK, "Pods in namespace azureml")
    assert denied["status"] == "warn"
    assert "list pods (in namespace azureml)" in denied["remediation"]
    assert denied["details"]["unverified"][0]["kind"] == "forbidden"
    gateway = result.finding(CHECK, "Deployment/gateway")
    assert gateway["status"] == "fail"  # judged from the Deployment's own status
    assert "its pods could not be read" in gateway["message"]
    assert result.finding(CHECK, "Deployment/azureml-fe-v2")["status"] == "pass"


def test_statefulsets_not_readable_warns(tmp_path: Path, kube_api: Callable[..., Any]) -> None:
    api = cluster(kube_api, *installed_extension())
    api.inject("statefulsets.apps", verb="list", status=403)
    result = run(tmp_path, api, config="enableInference=True")
    denied = result.finding(CHECK, "StatefulSets in namespace azureml")
    assert denied["status"] == "warn"
    assert "list statefulsets.apps (in namespace azureml)" in denied["remediation"]
    assert denied["details"]["components"] == ["StatefulSet/prometheus-prom-prometheus"]
    assert "StatefulSet/prometheus-prom-prometheus" not in result.statuses(CHECK)
    assert result.finding(CHECK, "DaemonSet/fluent-bit")["status"] == "pass"


@pytest.mark.parametrize("with_namespace", [True, False], ids=["empty", "no-namespace"])
def test_empty_namespace_fails_once(
    tmp_path: Path, kube_api: Callable[..., Any], with_namespace: bool
) -> None:
    objects = [namespace("azureml")] if with_namespace else []
    api = cluster(kube_api, *objects)
    result = run(tmp_path, api, config="enableInference=True")
    assert result.code == 1
    (only,) = result.findings(CHECK)
    assert only["target"] == SUMMARY and only["status"] == "fail"
    assert "namespace azureml is empty" in only["message"]
    assert "az k8s-extension show --name azureml" in only["remediation"]


def test_odd_but_valid_objects_are_judged(tmp_path: Path, kube_api: Callable[..., Any]) -> None:
    objects = installed_extension(missing=["fluent-bit", "metrics-controller-manager"])
    fluent = component("DaemonSet", "fluent-bit")
    fluent[0]["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "Bogus"}]}
    fluent[0]["status"] = {}
    manager = component("Deployment", "metrics-controller-manager")
    manager[0]["spec"]["selector"] = None
    manager[0]["status"] = {"replicas": 1}
    api = cluster(kube_api, *objects, *fluent, *manager)
    result = run(tmp_path, api, config="enableInference=True")
    found = result.statuses(CHECK)
    assert found["DaemonSet/fluent-bit"] == "warn"  # no status: nothing scheduled
    assert found["Deployment/metrics-controller-manager"] == "fail"
    assert (
        "none of its pods was found"
        in result.finding(CHECK, "Deployment/metrics-controller-manager")["message"]
    )


def test_objects_of_the_wrong_types_are_errors_naming_the_field(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    """No API server sends replicas "two" or a pod phase 7: such an answer is not
    Kubernetes', so the components it lists are unverified, an error naming the endpoint and
    the field; the other kinds are still judged."""
    objects = installed_extension(missing=["gateway"])
    gateway = component("Deployment", "gateway")
    gateway[0]["spec"]["replicas"] = "two"
    gateway[1]["status"] = {"phase": 7, "containerStatuses": "none"}
    api = cluster(kube_api, *objects, *gateway)
    result = run(tmp_path, api, config="enableInference=True", errors=True)
    errors = [f for f in result.findings(CHECK) if f["status"] == "error"]
    messages = " ".join(f["message"] for f in errors)
    assert "/apis/apps/v1/namespaces/azureml/deployments" in messages
    assert "spec.replicas as a string, not a whole number" in messages
    assert "/api/v1/namespaces/azureml/pods" in messages and "status.phase" in messages
    assert result.statuses(CHECK)["DaemonSet/fluent-bit"] == "pass"


# -- settings from Azure Resource Manager ---------------------------------------------------------


def test_installed_settings_and_name_come_from_arm(
    tmp_path: Path,
    kube_api: Callable[..., Any],
    fake_arm: Callable[..., Any],
    azure_profile: Callable[..., Path],
    ca_bundle: Path,
    refused_port: int,
) -> None:
    from support.azure_objects import cluster_id, extension, managed_cluster

    sub, group, token = "11111111-2222-3333-4444-555555555555", "rg-ml", "tok-components"
    aks = cluster_id("aks1", sub, group)
    config = {"enableTraining": "True", "installVolcano": "False"}
    arm = fake_arm(
        [managed_cluster("aks1", sub, group), extension("ml-ext", aks, config=config)],
        tokens={token},
    )
    profile = azure_profile(arm=arm.url, imds=f"http://127.0.0.1:{refused_port}")
    api = cluster(kube_api, *installed_extension(config, name="ml-ext", helm=False))
    (tmp_path / "bin").mkdir()
    args = (
        *("--profile", str(profile), "--ca-bundle", str(ca_bundle)),
        *("--set", f"subscription_id={sub}", "--set", f"resource_group={group}"),
        *("--set", "cluster_name=aks1"),
    )
    env = {"AZURE_ACCESS_TOKEN": token, "PATH": str(tmp_path / "bin")}
    # planned once as inference; ARM says what is installed
    result = run(tmp_path, api, *args, config="enableInference=True", env=env)
    assert result.code == 0, result.stdout
    expected = {
        t.replace("azureml-", "ml-ext-") if "kube-state" in t or "prometheus-op" in t else t
        for t in COMMON | TRAINING
    }
    assert components(result) == dict.fromkeys(expected, "pass")
    summary = result.finding(CHECK, SUMMARY)
    assert summary["details"]["settings_source"] == "arm"
    assert summary["details"]["extension_name"] == "ml-ext"
    assert summary["details"]["extension_name_source"] == "arm"
    assert summary["details"]["provisioning_state"] == "Succeeded"
    assert "installed settings of extension 'ml-ext'" in summary["message"]
    operator = result.finding(CHECK, "Deployment/aml-operator")
    assert "enableTraining=True (installed settings)" in operator["message"]
    assert token not in (tmp_path / "out" / "report.json").read_text()

    # while ARM says the install is still under way, a component not there yet only warns
    arm.put(extension("ml-ext", aks, config=config, provisioning_state="Creating"))
    api.remove("deployments", "aml-operator", "azureml")
    result = run(tmp_path, api, *args, config="enableInference=True", env=env)
    operator = result.finding(CHECK, "Deployment/aml-operator")
    assert operator["status"] == "warn"
    assert "still in provisioningState Creating" in operator["message"]


# -- the reads (for deploy/rbac*.yaml) and the helpers --------------------------------------------


def test_reads_are_four_lists_in_namespace_azureml(
    tmp_path: Path, kube_api: Callable[..., Any]
) -> None:
    api = cluster(kube_api, *installed_extension(BOTH))
    api.clear_requests()
    run(tmp_path, api, config=BOTH)
    assert api.authorization_attributes() == {
        ("list", "apps", "deployments", "", "azureml", ""),
        ("list", "apps", "daemonsets", "", "azureml", ""),
        ("list", "apps", "statefulsets", "", "azureml", ""),
        ("list", "", "pods", "", "azureml", ""),
    }


def test_selector_and_registry_helpers() -> None:
    labels = {"app": "volcano", "tier": "scheduler"}
    assert selector_matches({"matchLabels": {"app": "volcano"}}, labels)
    assert selector_matches(
        {
            "matchLabels": {"app": "volcano"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["scheduler", "admission"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "app", "operator": "Exists"},
                {"key": "tier", "operator": "NotIn", "values": ["controllers"]},
            ],
        },
        labels,
    )
    assert not selector_matches(
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["scheduler"]}]},
        labels,
    )
    assert not selector_matches({}, labels) and not selector_matches(None, labels)
    assert not selector_matches({"matchLabels": {"app": "gateway"}}, labels)
    assert image_registry("mcr.microsoft.com/azureml/x:1") == "mcr.microsoft.com"
    assert image_registry("myacr.azurecr.io/a/b@sha256:00") == "myacr.azurecr.io"
    assert image_registry("localhost/x") == "localhost"
    assert image_registry("registry:5000/x") == "registry:5000"
    assert image_registry("busybox") == "docker.io"
    assert image_registry("library/busybox:1") == "docker.io"
