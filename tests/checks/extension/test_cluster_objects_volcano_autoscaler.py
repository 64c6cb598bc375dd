"""extension.volcano-autoscaler end to end: the documented limitation "the cluster autoscaler(CA)
in AKS cluster won't be supported with the volcano installed by extension" (troubleshooting page),
with the autoscaler seen in the AKS resource (``--set aks_json``, the offline form of the same
cluster read), in a cluster-autoscaler Deployment, or in the status ConfigMap it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.clirun import Result, run_checks

CHECK = "extension.volcano-autoscaler"
TRAINING = "enableTraining=True"


def run(tmp_path: Path, api: Any, *args: str, config: str | None = TRAINING) -> Result:
    return run_checks(api, tmp_path, CHECK, *args, config=config)


def aks_json(tmp_path: Path, autoscale: bool) -> str:
    from support.azure_objects import agent_pool, managed_cluster

    pools = [
        agent_pool("system", 3, mode="System"),
        agent_pool(
            "gpu", 1, "Standard_NC6s_v3", enable_auto_scaling=autoscale, min_count=1, max_count=5
        ),
    ]
    path = tmp_path / f"aks-{autoscale}.json"
    path.write_text(json.dumps(managed_cluster("aks1", pools=pools)))
    return f"aks_json={path}"


def cluster(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    from support.kube_objects import default_namespaces, nodes

    return [*default_namespaces(), *nodes(3), *extra]


def test_an_autoscaling_node_pool_and_the_default_volcano_warn(
    tmp_path: Path, kube_api: Any
) -> None:
    api = kube_api(cluster())
    result = run(tmp_path / "default", api, "--set", aks_json(tmp_path, True))
    finding = result.only(CHECK)
    assert finding["status"] == "warn"
    assert "AKS node pool gpu autoscales (1-5 nodes)" in finding["message"]
    assert "installVolcano=True (the default)" in finding["message"]
    assert "gang" in finding["message"]
    assert "volcanoScheduler.schedulerConfigMap=<configmap name>" in finding["remediation"]
    assert "amloperator.skipResourceValidation=true" in finding["remediation"]
    assert finding["details"]["autoscaling_pools"][0]["name"] == "gpu"
    assert finding["docs"].endswith("#volcano-scheduler-integration-supporting-cluster-autoscaler")

    # the documented workaround in the plan: a pass that keeps the page's caveat
    fixed = run(
        tmp_path / "fixed",
        api,
        "--set",
        aks_json(tmp_path, True),
        config=f"{TRAINING} volcanoScheduler.schedulerConfigMap=no-gang "
        "amloperator.skipResourceValidation=true",
    ).only(CHECK)
    assert fixed["status"] == "pass"
    assert "ConfigMap no-gang" in fixed["message"] and "instance type" in fixed["message"]

    # no training, no Volcano from the extension, none installed: nothing to clash
    inference = run(
        tmp_path / "inference",
        api,
        "--set",
        aks_json(tmp_path, True),
        config="enableInference=True inferenceRouterServiceType=nodePort "
        "allowInsecureConnections=True",
    ).only(CHECK)
    assert inference["status"] == "pass"
    assert "does not enable training" in inference["message"]


def test_the_status_configmap_is_evidence_without_the_aks_resource(
    tmp_path: Path, kube_api: Any
) -> None:
    from support.kube_objects import cluster_autoscaler_status

    api = kube_api(cluster(cluster_autoscaler_status()))
    finding = run(tmp_path / "kube", api).only(CHECK)
    assert finding["status"] == "warn"
    assert "ConfigMap kube-system/cluster-autoscaler-status" in finding["message"]
    assert "Cluster-autoscaler status at" in finding["details"]["autoscaler_evidence"][0]
    assert finding["details"]["aks_resource"].startswith("not read")

    # the AKS resource is the authority: a status ConfigMap left by a disabled autoscaler is not
    # an autoscaler
    off = run(tmp_path / "off", api, "--set", aks_json(tmp_path, False)).only(CHECK)
    assert off["status"] == "pass"
    assert "no AKS node pool autoscales" in off["message"]


def test_an_existing_volcano_beside_a_self_managed_autoscaler_warns(
    tmp_path: Path, kube_api: Any
) -> None:
    from support.kube_objects import crd, deployment

    api = kube_api(
        cluster(
            crd("jobs.batch.volcano.sh"),
            deployment("volcano-scheduler", "volcano-system"),
            deployment(
                "cluster-autoscaler",
                "kube-system",
                image="registry.k8s.io/autoscaling/cluster-autoscaler:v1.30.0",
                labels={"app.kubernetes.io/name": "cluster-autoscaler"},
            ),
        )
    )
    result = run(
        tmp_path, api, "--set", "cluster_type=arc", config=f"{TRAINING} installVolcano=False"
    )
    finding = result.only(CHECK)
    assert finding["status"] == "warn"
    assert "Volcano is installed (Deployment/volcano-system/volcano-scheduler" in finding["message"]
    assert "Deployment/kube-system/cluster-autoscaler" in finding["message"]
    assert "existing Volcano's scheduler without the gang plugin" in finding["remediation"]


def test_karpenter_counts_as_the_node_autoscaler(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import crd

    api = kube_api(cluster(crd("nodepools.karpenter.sh", scope="Cluster")))
    finding = run(tmp_path, api).only(CHECK)
    assert finding["status"] == "warn"
    assert "nodepools.karpenter.sh" in finding["message"]


def test_no_autoscaler_passes_and_what_cannot_be_read_warns(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(cluster())
    clean = run(tmp_path / "clean", api).only(CHECK)
    assert clean["status"] == "pass"
    assert "no cluster autoscaler seen" in clean["message"]
    api.inject("configmaps", verb="get", status=403)
    refused = run(tmp_path / "refused", api).only(CHECK)
    assert refused["status"] == "warn"
    assert "could not verify whether a cluster autoscaler runs" in refused["message"]
    assert (
        "get configmaps cluster-autoscaler-status (in namespace kube-system)"
        in refused["remediation"]
    )
