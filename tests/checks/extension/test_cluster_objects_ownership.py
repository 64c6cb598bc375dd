"""extension.ownership end to end: cluster-scoped objects the extension's chart creates by name,
already there under another owner (Helm's ownership metadata as Helm writes it), and an ingress
controller already serving the extension's ingress class; the real CLI against the fake API
server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.clirun import Result, run_checks

CHECK = "extension.ownership"
HELM = {"app.kubernetes.io/managed-by": "Helm"}


def owned(release: str, namespace: str) -> dict[str, Any]:
    return {
        "metadata": {
            "labels": HELM,
            "annotations": {
                "meta.helm.sh/release-name": release,
                "meta.helm.sh/release-namespace": namespace,
            },
        }
    }


def run(tmp_path: Path, api: Any, *args: str, config: str | None = None) -> Result:
    return run_checks(api, tmp_path, CHECK, *args, config=config)


def cluster(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    from support.kube_objects import default_namespaces, nodes

    return [*default_namespaces(), *nodes(3), *extra]


def test_a_crd_of_the_extensions_group_owned_elsewhere_fails(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import crd

    api = kube_api(
        cluster(
            crd("instancetypes.amlarc.azureml.com", helm_release="ml-old"),
            crd("amljobs.amlarc.azureml.com", helm_release="azureml"),  # this release: adopted
        )
    )
    result = run(tmp_path / "default", api)
    assert result.code == 1
    finding = result.only(CHECK)
    assert finding["status"] == "fail"
    assert finding["target"] == "CustomResourceDefinition/instancetypes.amlarc.azureml.com"
    assert "Helm release 'ml-old' in namespace 'azureml'" in finding["message"]
    assert "exists and cannot be imported into the current release" in finding["message"]
    assert 'meta.helm.sh/release-name=azureml"' in finding["remediation"]
    assert finding["docs"].endswith("invalid-ownership-metadata")
    # the same CRD is this extension's own when it is named ml-old
    again = run(tmp_path / "ml-old", api, "--set", "extension_name=ml-old")
    assert (
        again.by_target(CHECK)["CustomResourceDefinition/amljobs.amlarc.azureml.com"]["status"]
        == "fail"
    )
    assert "CustomResourceDefinition/instancetypes.amlarc.azureml.com" not in again.by_target(CHECK)


def test_cluster_roles_of_the_prometheus_stack_owned_by_another_release_warn(
    tmp_path: Path, kube_api: Any
) -> None:
    from support.kube_objects import clusterrole, clusterrolebinding, obj

    kps = owned("prom", "monitoring")
    api = kube_api(
        cluster(
            clusterrole("prom-operator", extra=kps),
            clusterrolebinding("prom-operator", "prom-operator", extra=kps),
            obj(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "prom-admission",
                extra=kps,
                webhooks=[],
            ),
        )
    )
    result = run(tmp_path / "default", api)
    found = result.by_target(CHECK)
    role = found["ClusterRole/prom-operator"]
    assert role["status"] == "warn"  # the name is derived from documented ones, not documented
    assert "Helm release 'prom' in namespace 'monitoring'" in role["message"]
    assert "likely" in role["message"]
    assert role["details"]["helm_owner"] == ["prom", "monitoring"]
    assert "prom-operator" in role["details"]["source"]
    assert found["ValidatingWebhookConfiguration/prom-admission"]["status"] == "warn"
    assert found["ClusterRoleBinding/prom-operator"]["status"] == "warn"
    # with installPromOp=False the extension creates none of the operator's objects
    reuse = run(tmp_path / "reuse", api, config="enableTraining=True installPromOp=False")
    assert reuse.only(CHECK)["status"] == "pass"


def test_an_ingress_nginx_on_the_default_class_fails_with_the_setting_to_change(
    tmp_path: Path, kube_api: Any
) -> None:
    from support.kube_objects import deployment, ingressclass

    controller = deployment(
        "ingress-nginx-controller",
        "ingress-nginx",
        image="registry.k8s.io/ingress-nginx/controller:v1.10.1",
    )
    api = kube_api(
        cluster(ingressclass("nginx", extra=owned("ingress-nginx", "ingress-nginx")), controller)
    )
    result = run(tmp_path / "default", api)
    finding = result.only(CHECK)
    assert finding["status"] == "fail"
    assert finding["target"] == "IngressClass/nginx"
    assert "k8s.io/ingress-nginx" in finding["message"]
    assert "nginxIngress.controller=k8s.io/amlarc-ingress-nginx" in finding["remediation"]
    assert finding["details"]["found"] == [
        "IngressClass/nginx",
        "Deployment/ingress-nginx/ingress-nginx-controller",
    ]
    assert finding["docs"].endswith("#ingress-nginx-controller")
    other_class = run(
        tmp_path / "class",
        api,
        config="enableTraining=True nginxIngress.controller=k8s.io/amlarc-ingress-nginx",
    )
    assert other_class.only(CHECK)["status"] == "pass"
    arc = run(tmp_path / "arc", api, "--set", "cluster_type=arc")
    assert arc.only(CHECK)["status"] == "pass"  # the CLI installs no ingress-nginx on Arc


def test_a_controller_without_an_ingress_class_object_is_seen_by_its_argument(
    tmp_path: Path, kube_api: Any
) -> None:
    from support.kube_objects import deployment

    custom = deployment(
        "internal-nginx",
        "edge",
        image="registry.k8s.io/ingress-nginx/controller:v1.10.1",
        extra={
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "controller",
                                "image": "registry.k8s.io/ingress-nginx/controller:v1.10.1",
                                "args": [
                                    "/nginx-ingress-controller",
                                    "--controller-class=k8s.io/edge",
                                ],
                            }
                        ]
                    }
                }
            }
        },
    )
    api = kube_api(cluster(custom))
    assert run(tmp_path / "default", api).only(CHECK)["status"] == "pass"
    clash = run(
        tmp_path / "edge", api, config="enableTraining=True nginxIngress.controller=k8s.io/edge"
    )
    finding = clash.only(CHECK)
    assert finding["status"] == "fail"
    assert finding["target"] == "Deployment/edge/internal-nginx"


def test_a_clean_cluster_passes_and_an_unreadable_object_is_not_a_pass(
    tmp_path: Path, kube_api: Any
) -> None:
    api = kube_api(cluster())
    clean = run(tmp_path / "clean", api).only(CHECK)
    assert clean["status"] == "pass"
    assert "ClusterRole/prom-operator" in clean["details"]["checked"]
    api.inject("clusterroles.rbac.authorization.k8s.io", verb="get", status=403)
    refused = run(tmp_path / "refused", api).only(CHECK)
    assert refused["status"] == "warn"
    assert "could not verify" in refused["message"]
    assert "get clusterroles prom-operator (cluster-scoped)" in refused["remediation"]
