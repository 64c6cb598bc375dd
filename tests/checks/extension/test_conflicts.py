"""extension.conflicts end to end: the real CLI against the fake Kubernetes API server over HTTP,
seeded with what real clusters carry (kube-prometheus-stack, Volcano, gpu-operator, the v1
azureml-fe router, an earlier extension release), and report.json read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.clirun import Result, assert_actionable, run_checks

CHECK = "extension.conflicts"
PROM_CRDS = ("prometheuses", "servicemonitors", "podmonitors", "alertmanagers", "prometheusrules")
HELM = "app.kubernetes.io/managed-by"


def run(tmp_path: Path, api: Any, *args: str, config: str | None = None) -> Result:
    return run_checks(
        api, tmp_path, "extension.*", *args, config=config, formats="json,html,junit,md"
    )


def one(result: Result, target_start: str) -> dict[str, Any]:
    matches = [f for f in result.findings(CHECK) if (f["target"] or "").startswith(target_start)]
    assert len(matches) == 1, [(f["target"], f["status"]) for f in result.findings(CHECK)]
    return matches[0]


def component(result: Result, name: str) -> dict[str, Any]:
    """The finding of one component (its target is the first clashing object, or its name)."""
    keys = {
        "prometheus": ("monitoring.coreos.com", "prometheus-operator", "Prometheus operator"),
        "volcano": ("volcano", "Volcano scheduler"),
        "device-plugin": ("nvidia-device-plugin", "NVIDIA device plugin"),
        "dcgm": ("dcgm-exporter", "DCGM exporter"),
    }[name]
    matches = [
        f
        for f in result.findings(CHECK)
        if any(k in (f["target"] or "") for k in keys)
        and not (f["target"] or "").startswith(("Secret/", "Namespace/"))
    ]
    assert len(matches) == 1, [(f["target"], f["status"]) for f in result.findings(CHECK)]
    return matches[0]


def kube_prometheus_stack() -> list[dict[str, Any]]:
    from support.kube_objects import crd, deployment, namespace

    return [
        namespace("monitoring"),
        *[
            crd(f"{plural}.monitoring.coreos.com", helm_release="kps", helm_namespace="monitoring")
            for plural in PROM_CRDS
        ],
        deployment(
            "kps-kube-prometheus-operator",
            "monitoring",
            labels={"app.kubernetes.io/name": "kube-prometheus-stack-prometheus-operator"},
        ),
    ]


def volcano() -> list[dict[str, Any]]:
    from support.kube_objects import crd, deployment, namespace

    return [
        namespace("volcano-system"),
        crd("jobs.batch.volcano.sh"),
        crd("podgroups.scheduling.volcano.sh"),
        deployment("volcano-scheduler", "volcano-system"),
        deployment("volcano-controllers", "volcano-system"),
    ]


def gpu_operator() -> list[dict[str, Any]]:
    from support.kube_objects import daemonset, namespace

    return [
        namespace("gpu-operator"),
        daemonset("nvidia-device-plugin-daemonset", "gpu-operator"),
        daemonset("nvidia-dcgm-exporter", "gpu-operator"),
    ]


def legacy_fe(ns: str = "default") -> list[dict[str, Any]]:
    from support.kube_objects import (
        clusterrole,
        clusterrolebinding,
        configmap,
        deployment,
        secret,
        service,
        serviceaccount,
    )

    return [
        serviceaccount("azureml-fe", ns),
        clusterrole("azureml-fe-role"),
        clusterrolebinding(
            "azureml-fe-binding", "azureml-fe-role", [("ServiceAccount", "azureml-fe", ns)]
        ),
        service("azureml-fe", ns, ingress_ips=["20.1.2.3"]),
        service("azureml-fe-int-http", ns, type="ClusterIP"),
        deployment("azureml-fe", ns),
        secret("azuremlfessl", ns, data={"cert.pem": "x", "key.pem": "y"}),
        configmap("azuremlfeconfig", ns, data={"config": "{}"}),
    ]


def extension_release(name: str = "azureml", status: str = "deployed") -> list[dict[str, Any]]:
    """What an installed extension leaves in azureml: its namespace, its own router and Helm's
    release record (a Secret whose payload is the gzipped release)."""
    from support.kube_objects import deployment, namespace, secret, service

    labels = {HELM: "Helm"}
    notes = {"meta.helm.sh/release-name": name, "meta.helm.sh/release-namespace": "azureml"}
    return [
        namespace("azureml"),
        deployment("azureml-fe-v2", "azureml", labels=labels, annotations=notes),
        service("azureml-fe", "azureml", type="ClusterIP", labels=labels, annotations=notes),
        secret(
            f"sh.helm.release.v1.{name}.v2",
            "azureml",
            type="helm.sh/release.v1",
            data={"release": "H4sIAAAAAAAA/release-payload"},
            labels={"name": name, "owner": "helm", "status": status, "version": "2"},
        ),
    ]


@pytest.fixture
def busy_cluster(kube_api: Any) -> Any:
    from support.kube_objects import default_namespaces, namespace, nodes

    return kube_api(
        objects=[
            *default_namespaces(),
            *nodes(3),
            *kube_prometheus_stack(),
            *volcano(),
            *gpu_operator(),
            *legacy_fe(),
            *extension_release(status="failed"),
            *[namespace(f"team-{i}") for i in range(40)],
        ]
    )


def test_default_settings_conflict_with_what_the_cluster_runs(
    tmp_path: Path, busy_cluster: Any
) -> None:
    result = run(tmp_path, busy_cluster)
    assert result.code == 1
    assert_actionable(result, CHECK, errors=False)
    assert all(f["docs"] for f in result.findings(CHECK) if f["status"] != "pass")

    prom = component(result, "prometheus")
    assert prom["status"] == "fail"
    assert prom["target"] == "Deployment/monitoring/kps-kube-prometheus-operator"
    assert "exists and cannot be imported into the current release" in prom["message"]
    assert "E45002" in prom["message"] and "Helm release 'kps'" in prom["message"]
    assert prom["details"]["recommend"] == {"installPromOp": "False"}
    assert prom["details"]["health_check"] == "E45002 PROMETHEUS_CONFLICT"
    assert prom["details"]["planned_from"] == "default"
    assert len(prom["details"]["crds"]) == len(PROM_CRDS)
    assert "installPromOp=False" in prom["remediation"] and prom["docs"]

    vol = component(result, "volcano")
    assert vol["status"] == "fail"
    assert "jobs.batch.volcano.sh" in vol["message"] or "volcano-" in vol["message"]
    assert "no Helm release" in vol["message"]
    assert "once training is enabled" in vol["message"]  # no plan given: training may come
    assert vol["details"]["recommend"] == {"installVolcano": "False"}

    # installNvidiaDevicePlugin and installDcgmExporter default to False: reuse, no clash
    plugin = component(result, "device-plugin")
    assert plugin["status"] == "pass"
    assert "will reuse" in plugin["message"]
    assert component(result, "dcgm")["status"] == "pass"


def test_legacy_azureml_fe_fails_with_codes_and_delete_commands(
    tmp_path: Path, busy_cluster: Any
) -> None:
    result = run(tmp_path, busy_cluster)
    legacy = {
        f["target"]: f
        for f in result.findings(CHECK)
        if "azureml-fe" in (f["target"] or "") or "azuremlfe" in (f["target"] or "")
    }
    assert set(legacy) == {
        "ServiceAccount/default/azureml-fe",
        "ClusterRole/azureml-fe-role",
        "ClusterRoleBinding/azureml-fe-binding",
        "Service/default/azureml-fe",
        "Service/default/azureml-fe-int-http",
        "Deployment/default/azureml-fe",
        "Secret/default/azuremlfessl",
        "ConfigMap/default/azuremlfeconfig",
    }  # azureml-fe-v2 and the extension's own Service azureml/azureml-fe are not among them
    assert {f["status"] for f in legacy.values()} == {"fail"}
    role = legacy["ClusterRole/azureml-fe-role"]
    assert role["details"]["health_check"] == "E45004 AZUREML_FE_ROLE_CONFLICT"
    assert "E45004" in role["message"]
    assert "kubectl delete clusterrole azureml-fe-role" in role["remediation"]
    deploy = legacy["Deployment/default/azureml-fe"]
    assert deploy["details"]["health_check"] == "E45005 AZUREML_FE_DEPLOYMENT_CONFLICT"
    assert deploy["details"]["command"] == "kubectl delete deploy azureml-fe -n default"
    assert set(deploy["details"]["commands"]) == {
        "kubectl delete sa azureml-fe -n default",
        "kubectl delete clusterrole azureml-fe-role",
        "kubectl delete clusterrolebinding azureml-fe-binding",
        "kubectl delete svc azureml-fe -n default",
        "kubectl delete svc azureml-fe-int-http -n default",
        "kubectl delete deploy azureml-fe -n default",
        "kubectl delete secret azuremlfessl -n default",
        "kubectl delete cm azuremlfeconfig -n default",
    }
    assert all(f["docs"] for f in legacy.values())


def test_left_behind_release_is_reported(tmp_path: Path, busy_cluster: Any) -> None:
    result = run(tmp_path, busy_cluster)
    release = one(result, "Secret/azureml/sh.helm.release.v1.azureml.v2")
    assert release["status"] == "warn"
    assert "left behind" in release["message"] and "failed" in release["message"]
    assert "az k8s-extension delete" in release["remediation"]
    assert release["details"]["revision"] == 2
    # the release payload (Secret data) never reaches a report
    out = result.out
    assert out is not None
    for path in out.iterdir():
        assert "H4sIAAAAAAAA" not in path.read_text(errors="replace")
    assert "H4sIAAAAAAAA" not in result.stdout


def test_reads_are_cluster_wide_lists_not_namespace_loops(
    tmp_path: Path, busy_cluster: Any
) -> None:
    run(tmp_path, busy_cluster, "--check", CHECK)
    paths = busy_cluster.path_counts()
    assert not [p for p in paths if "/namespaces/team-" in p]
    assert "/api/v1/secrets" not in paths  # never every Secret of the cluster
    assert max(paths.values()) <= 2
    assert sum(paths.values()) < 40


def test_planned_reuse_turns_clashes_into_passes(tmp_path: Path, busy_cluster: Any) -> None:
    config = (
        "enableTraining=True installPromOp=False installVolcano=False "
        "installNvidiaDevicePlugin=True installDcgmExporter=True"
    )
    result = run(tmp_path, busy_cluster, "--check", CHECK, config=config)
    prom = component(result, "prometheus")
    assert prom["status"] == "pass"
    assert "will reuse the existing Prometheus operator" in prom["message"]
    assert "azureml" in prom["message"]  # it must watch the azureml namespace
    assert component(result, "volcano")["status"] == "pass"

    plugin = component(result, "device-plugin")
    assert plugin["status"] == "fail"
    assert plugin["target"] == "DaemonSet/gpu-operator/nvidia-device-plugin-daemonset"
    assert plugin["details"]["recommend"] == {"installNvidiaDevicePlugin": "False"}
    assert plugin["details"]["planned_from"] == "planned"
    dcgm = component(result, "dcgm")
    assert dcgm["status"] == "warn"
    assert dcgm["target"] == "DaemonSet/gpu-operator/nvidia-dcgm-exporter"
    assert dcgm["details"]["recommend"] == {"installDcgmExporter": "False"}


def test_volcano_is_no_conflict_without_training(tmp_path: Path, busy_cluster: Any) -> None:
    result = run(
        tmp_path,
        busy_cluster,
        "--check",
        CHECK,
        config="enableInference=True inferenceRouterServiceType=nodePort",
    )
    vol = component(result, "volcano")
    assert vol["status"] == "pass"
    assert "training" in vol["message"]
    assert "recommend" not in vol["details"]


def test_crds_of_this_release_are_a_reinstall_not_a_conflict(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import crd, default_namespaces

    api = kube_api(
        objects=[
            *default_namespaces(),
            *[crd(f"{p}.monitoring.coreos.com", helm_release="azureml") for p in PROM_CRDS],
            crd("jobs.batch.volcano.sh", helm_release="azureml"),
            *extension_release(status="deployed"),
        ]
    )
    result = run(tmp_path / "same", api, "--check", CHECK)
    assert component(result, "prometheus")["status"] == "pass"
    assert "this extension's own" in component(result, "prometheus")["message"]
    assert component(result, "volcano")["status"] == "pass"
    installed = one(result, "Secret/azureml/sh.helm.release.v1.azureml.v2")
    assert installed["status"] == "warn"
    assert "already installed" in installed["message"]
    assert "az k8s-extension update" in installed["remediation"]

    # the same CRDs seen by an extension of another name belong to someone else
    other = run(tmp_path / "other", api, "--check", CHECK, "--set", "extension_name=ml")
    prom = component(other, "prometheus")
    assert prom["status"] == "fail"
    assert "Helm release 'azureml'" in prom["message"]
    release = one(other, "Secret/azureml/sh.helm.release.v1.azureml.v2")
    assert release["status"] == "warn"
    assert "--set extension_name=azureml" in release["remediation"]


def test_clean_cluster_passes_and_reuse_of_nothing_warns(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import crd, default_namespaces, deployment, nodes

    managed_prometheus = [  # AKS's Azure Monitor add-on: its own CRD group, no operator
        crd("podmonitors.azmonitoring.coreos.com"),
        crd("servicemonitors.azmonitoring.coreos.com"),
        deployment("ama-metrics", "kube-system"),
    ]
    api = kube_api(objects=[*default_namespaces(), *nodes(3), *managed_prometheus])
    result = run(tmp_path / "clean", api, "--check", CHECK)
    assert result.code == 0, result.stdout
    statuses = {f["target"]: f["status"] for f in result.findings(CHECK)}
    assert set(statuses.values()) == {"pass"}, statuses
    assert statuses["Namespace/azureml"] == "pass"
    assert statuses["legacy azureml-fe (v1)"] == "pass"

    nothing = run(
        tmp_path / "nothing",
        api,
        "--check",
        CHECK,
        config="enableTraining=True installPromOp=False installVolcano=False",
    )
    prom = component(nothing, "prometheus")
    assert prom["status"] == "warn"
    assert prom["details"]["recommend"] == {"installPromOp": "True"}
    vol = component(nothing, "volcano")
    assert vol["status"] == "fail"
    assert vol["details"]["recommend"] == {"installVolcano": "True"}


def test_terminating_namespace_fails(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import default_namespaces, namespace

    api = kube_api(
        objects=[
            *default_namespaces(),
            namespace(
                "azureml",
                phase="Terminating",
                extra={"metadata": {"deletionTimestamp": "2024-06-01T12:00:00Z"}},
            ),
        ]
    )
    result = run(tmp_path, api, "--check", CHECK)
    finding = one(result, "Namespace/azureml")
    assert finding["status"] == "fail"
    assert "being terminated" in finding["message"]


def test_forbidden_lists_become_findings_and_the_rest_goes_on(
    tmp_path: Path, busy_cluster: Any
) -> None:
    busy_cluster.inject("customresourcedefinitions.apiextensions.k8s.io", verb="list", status=403)
    busy_cluster.inject("daemonsets.apps", verb="list", status=403)
    result = run(tmp_path, busy_cluster, "--check", CHECK)
    findings = result.findings(CHECK)
    assert not [f for f in findings if f["status"] == "error"]

    # the operator Deployment is still seen; the CRDs could not be read
    prom = component(result, "prometheus")
    assert prom["status"] == "fail"
    assert prom["details"]["unverified"][0]["kind"] == "forbidden"

    plugin = component(result, "device-plugin")
    assert plugin["status"] == "warn"
    assert "could not verify" in plugin["message"]
    assert "list daemonsets.apps (cluster-wide)" in plugin["remediation"]
    # legacy azureml-fe and the release are judged as before
    assert one(result, "ClusterRole/azureml-fe-role")["status"] == "fail"
    assert one(result, "Secret/azureml/sh.helm.release.v1.azureml.v2")["status"] == "warn"


def test_a_list_that_times_out_is_reported_not_fatal(tmp_path: Path, busy_cluster: Any) -> None:
    busy_cluster.inject("deployments.apps", verb="list", hang=True, hang_seconds=5)
    result = run(tmp_path, busy_cluster, "--check", CHECK, "--timeout", "1")
    findings = result.findings(CHECK)
    assert not [f for f in findings if f["status"] == "error"]
    prom = component(result, "prometheus")  # the CRDs alone still show the clash
    assert prom["status"] == "fail"
    assert prom["target"] == "CustomResourceDefinition/prometheuses.monitoring.coreos.com"
    assert prom["details"]["unverified"] == [
        {
            "read": "Deployments (all namespaces)",
            "kind": "timeout",
            "permission": "list deployments.apps (cluster-wide)",
        }
    ]
