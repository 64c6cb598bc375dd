"""After the install the installed settings are the plan: ``--set phase=after`` without
``--extension-config`` makes ``extension.config`` and ``extension.loadbalancer`` judge the
``configurationSettings`` of the extension resource in Azure Resource Manager (the local ARM
server), against the fake Kubernetes API server, through the real CLI; and a before/after
comparison reports a changed input as such, not as "worse"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.azure_objects import cluster_id, connected_cluster, extension, managed_cluster
from support.azure_run import RG, SUB

from tests.clirun import Result, preflight

CONFIG = "extension.config"
LB = "extension.loadbalancer"
AKS_ID = cluster_id("aks1", SUB, RG)
ARC_ID = cluster_id("arc1", SUB, RG, kind="arc")
#: what az k8s-extension create writes for an AKS cluster besides the user's settings
#: (azure-cli-extensions partner_extensions/AzureMLKubernetes.py)
CLI_WRITTEN = {
    "cluster_name": AKS_ID,
    "clusterId": AKS_ID,
    "prometheus.prometheusSpec.externalLabels.cluster_name": AKS_ID,
    "domain": "eastus.cloudapp.azure.com",
    "location": "eastus",
    "jobSchedulerLocation": "eastus",
    "cluster_name_friendly": "aks1",
    "servicebus.enabled": "false",
    "relayserver.enabled": "false",
    "nginxIngress.enabled": "true",
}
INFERENCE = {
    "enableInference": "True",
    "inferenceRouterServiceType": "loadBalancer",
    "allowInsecureConnections": "True",
    "inferenceRouterHA": "False",
}
SOURCE = "configurationSettings of the installed extension 'ml-ext' (Azure Resource Manager)"


def after(azure: Any, kube: Any, tmp_path: Path, *args: str, **kwargs: Any) -> Result:
    """``preflight run --set phase=after`` of the two checks against ``azure`` and ``kube``."""
    kubeconfig = str(kube.kubeconfig(tmp_path / f"kc-{azure.counter}"))
    return azure.run(
        "--set", "phase=after", "--kubeconfig", kubeconfig, *args, checks=(CONFIG, LB), **kwargs
    )


def test_installed_settings_are_judged_instead_of_skipping(
    tmp_path: Path, azure: Any, kube_api: Any
) -> None:
    from support.kube_objects import default_namespaces, nodes

    fake = azure(
        [
            managed_cluster("aks1", SUB, RG),
            extension(
                "ml-ext",
                AKS_ID,
                config={**INFERENCE, **CLI_WRITTEN},
                protected_keys=("scoringFe.sslCert", "scoringFe.sslKey"),
            ),
        ]
    )
    kube = kube_api(objects=[*default_namespaces(), *nodes(3)])
    result = after(fake, kube, tmp_path)
    assert result.code == 0, result.stdout + result.stderr
    config = result.only(CONFIG)
    assert config["status"] == "pass" and config["target"] == "configurationSettings"
    assert config["message"].startswith(
        f"{len(INFERENCE) + len(CLI_WRITTEN)} installed setting(s) of extension 'ml-ext' are "
        "valid: inference"
    )
    # the keys az k8s-extension create writes itself are known, not "undocumented"
    assert config["details"]["settings"]["relayserver.enabled"] == "false"
    assert config["details"]["settings_source"] == "arm"
    assert config["details"]["inputs"] == {"extension settings": SOURCE}
    assert config["details"]["protected_settings"] == "not returned by Azure Resource Manager"
    balancer = result.by_target(LB)["inferenceRouterServiceType"]
    assert balancer["status"] == "pass", balancer
    assert balancer["details"]["settings_source"] == "arm"
    assert balancer["details"]["inputs"] == {"extension settings": SOURCE}
    # on its own, extension.loadbalancer takes the --set parameters that name the cluster
    alone = fake.run(
        "--set", "phase=after", "--kubeconfig", str(kube.kubeconfig(tmp_path / "kc")), checks=(LB,)
    )
    assert alone.code == 0, alone.stderr
    assert alone.by_target(LB)["inferenceRouterServiceType"]["status"] == "pass"


def test_an_explicit_plan_still_wins_after_the_install(
    tmp_path: Path, azure: Any, kube_api: Any
) -> None:
    from support.kube_objects import default_namespaces, nodes

    fake = azure([managed_cluster("aks1", SUB, RG), extension("ml-ext", AKS_ID, config=INFERENCE)])
    kube = kube_api(objects=[*default_namespaces(), *nodes(3)])
    result = after(fake, kube, tmp_path, "--extension-config", "enableTraining=True")
    config = result.only(CONFIG)
    assert config["target"] == "--extension-config"
    assert config["details"]["inputs"] == {"extension settings": "--extension-config"}
    skipped = result.only(LB)
    assert skipped["status"] == "skip" and "is not set" in skipped["message"]


def test_installed_wrong_case_ha_on_two_nodes_fails_with_pending_replicas(
    tmp_path: Path, azure: Any, kube_api: Any
) -> None:
    """An ARM template copied from the how-to of PR 458: InferenceRouterHA=False is ignored, HA
    stays on, and two nodes cannot hold three router replicas."""
    from support.kube_objects import default_namespaces, nodes

    settings = {**INFERENCE, **CLI_WRITTEN}
    del settings["inferenceRouterHA"]
    settings["InferenceRouterHA"] = "False"
    fake = azure([managed_cluster("aks1", SUB, RG), extension("ml-ext", AKS_ID, config=settings)])
    kube = kube_api(objects=[*default_namespaces(), *nodes(2)])
    result = after(fake, kube, tmp_path)
    found = result.by_target(CONFIG)
    assert found["InferenceRouterHA"]["status"] == "fail"
    assert "pull request 458" in found["InferenceRouterHA"]["message"]
    ha = found["inferenceRouterHA"]
    assert ha["message"].startswith(
        "needs 3 eligible nodes for inferenceRouterHA=True (the default), found 2"
    )
    # ARM cannot prove the setting absent (the CLI also reads it from the protected settings)
    assert ha["status"] == "warn" and "protected setting" in ha["message"]
    assert "ARM template, Bicep or Terraform" in ha["message"]
    assert ha["details"]["settings_source"] == "arm"
    assert result.code == 1


def test_installed_https_certificate_in_protected_settings_is_not_a_failure(
    tmp_path: Path, azure: Any, kube_api: Any
) -> None:
    from support.kube_objects import default_namespaces, nodes

    https = {
        "enableInference": "True",
        "inferenceRouterServiceType": "nodePort",
        "inferenceRouterHA": "False",
        "sslCname": "ml.contoso.com",
        "scoringFe.serviceType.nodePort": "True",
        **CLI_WRITTEN,
    }
    fake = azure(
        [
            managed_cluster("aks1", SUB, RG),
            extension(
                "ml-ext",
                AKS_ID,
                config=https,
                protected_keys=("scoringFe.sslCert", "scoringFe.sslKey"),
            ),
        ]
    )
    kube = kube_api(objects=[*default_namespaces(), *nodes(3)])
    result = after(fake, kube, tmp_path)
    found = result.by_target(CONFIG)
    assert {t: f["status"] for t, f in found.items()} == {
        "sslCertPemFile/sslKeyPemFile": "skip",
        "configurationSettings": "pass",
    }
    assert "never returns" in found["sslCertPemFile/sslKeyPemFile"]["message"]
    assert "HTTPS via protected settings" in found["configurationSettings"]["message"]
    assert result.code == 0


def test_installed_settings_naming_no_workload_are_a_warning(
    tmp_path: Path, azure: Any, kube_api: Any
) -> None:
    from support.kube_objects import default_namespaces, nodes

    fake = azure(
        [managed_cluster("aks1", SUB, RG), extension("ml-ext", AKS_ID, config=dict(CLI_WRITTEN))]
    )
    kube = kube_api(objects=[*default_namespaces(), *nodes(3)])
    finding = after(fake, kube, tmp_path).by_target(CONFIG)["enableTraining/enableInference"]
    assert finding["status"] == "warn"
    assert "protected setting" in finding["message"]


def test_arc_install_without_a_relay_and_aks_only_settings(
    tmp_path: Path, azure: Any, kube_api: Any
) -> None:
    from support.kube_objects import default_namespaces, nodes

    settings = {
        "enableTraining": "True",
        "nginxIngress.enabled": "true",
        "relayserver.enabled": "true",
    }
    fake = azure(
        [
            connected_cluster("arc1", SUB, RG),
            extension("ml-ext", ARC_ID, config=settings),
        ]
    )
    kube = kube_api(objects=[*default_namespaces(), *nodes(3)])
    result = after(fake, kube, tmp_path, "--set", "cluster_type=arc", cluster="arc1")
    found = result.by_target(CONFIG)
    relay = found["relayserver.hybridConnectionResourceID"]
    assert relay["status"] == "warn" and "ARM template, Bicep or Terraform" in relay["message"]
    nginx = found["nginxIngress.enabled"]
    assert nginx["status"] == "warn" and "Arc-enabled cluster" in nginx["message"]
    assert "relayserver.enabled" not in found  # right on Arc


def test_without_the_cluster_named_both_checks_skip_saying_why(
    tmp_path: Path, azure: Any, kube_api: Any
) -> None:
    from support.kube_objects import default_namespaces, nodes

    fake = azure([managed_cluster("aks1", SUB, RG)])
    kube = kube_api(objects=[*default_namespaces(), *nodes(3)])
    result = after(fake, kube, tmp_path, cluster=None)
    config = result.only(CONFIG)
    assert config["status"] == "skip"
    assert "installed settings could not be read" in config["message"]
    assert "subscription_id" in config["message"]
    assert config["details"]["inputs"] == {"extension settings": None}
    balancer = result.only(LB)
    assert balancer["status"] == "skip" and "subscription_id" in balancer["message"]
    none_installed = after(fake, kube, tmp_path)
    assert "lists no Azure ML extension" in none_installed.only(CONFIG)["message"]


def test_comparison_calls_a_skip_for_lack_of_input_a_changed_input(
    tmp_path: Path, azure: Any, kube_api: Any
) -> None:
    """Before: the plan says loadBalancer and the cluster can make one (pass). After, with
    no plan and no cluster named, nothing is judged (skip): not worse, an input changed. A real
    regression with the same input stays "worse"."""
    from support.kube_objects import default_namespaces, nodes, service

    kube = kube_api(
        objects=[
            *default_namespaces(),
            *nodes(3),
            service("ingress-nginx-controller", "kube-system", ingress_ips=["20.50.1.2"]),
        ]
    )
    kubeconfig = str(kube.kubeconfig(tmp_path / "kc"))
    before = preflight(
        "run",
        "--check",
        LB,
        "--kubeconfig",
        kubeconfig,
        "--extension-config",
        "enableInference=True inferenceRouterServiceType=loadBalancer",
        out=tmp_path / "before",
    )
    assert before.only(LB)["status"] == "pass", before.stdout
    fake = azure([managed_cluster("aks1", SUB, RG)])
    result = fake.run(
        "--set",
        "phase=after",
        "--kubeconfig",
        kubeconfig,
        "--baseline",
        str(tmp_path / "before" / "report.json"),
        checks=(LB,),
        cluster=None,
    )
    assert result.only(LB)["status"] == "skip"
    comparison = result.report()["comparison"]
    (row,) = [r for r in comparison["rows"] if r["check"] == LB]
    assert row["change"] == "input changed", row
    assert row["reason"] == "extension settings: --extension-config -> not given"
    assert "worse" not in comparison["counts"]
