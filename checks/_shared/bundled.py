"""The open-source components the Azure ML extension installs unless told to reuse an existing
one (its ``install*`` settings): the Prometheus operator, Volcano, the NVIDIA device plugin and
the DCGM exporter. Data shared by ``extension.conflicts`` (what already runs would clash) and
``gpu.device-plugin`` (which device plugin serves the GPU nodes). Sources: "Manage Azure Machine
Learning extension" and "Troubleshoot the extension" on learn.microsoft.com
(https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension,
https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-kubernetes-extension).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from preflight.api import Status
from preflight.checks._shared.kube_reads import labels, meta
from preflight.checks._shared.plan import DOCS_SETTINGS, DOCS_TROUBLESHOOT
from preflight.checks._shared.pods import as_dict, as_list

DOCS_PROMETHEUS = DOCS_TROUBLESHOOT + "#prometheus-operator"
DOCS_VOLCANO = DOCS_TROUBLESHOOT + "#volcano-scheduler"
DOCS_DCGM = DOCS_TROUBLESHOOT + "#dcgm-exporter"


@dataclass(frozen=True)
class Component:
    """An open-source component the extension installs unless told to reuse an existing one."""

    name: str
    setting: str
    workload_kind: str  # Deployment | DaemonSet
    name_pattern: str  # regex searched in the workload's name
    app_names: tuple[str, ...]  # values of app.kubernetes.io/name that identify it
    docs: str
    clash: str  # what goes wrong with two of them (when no CRD makes Helm fail first)
    reuse_steps: str  # what the user must see to when reusing the existing one
    missing_effect: str  # what install*=False means when none is present
    crd_groups: tuple[str, ...] = ()
    primary_crd: str = ""  # the CRD named first (the one users search the error for)
    code: str | None = None  # the extension's health-check code for the clash
    clash_status: Status = Status.FAIL
    #: with install*=False and none present: FAIL/WARN when it is needed, None when harmless
    missing_status: Status | None = None
    training_only: bool = False  # the extension installs it only with enableTraining=True

    def matches_crd(self, crd: dict[str, Any]) -> bool:
        group = str((crd.get("spec") or {}).get("group") or "")
        if not group:
            group = str(meta(crd).get("name", "")).partition(".")[2]
        return any(group == g or group.endswith("." + g) for g in self.crd_groups)

    def matches_workload(self, obj: dict[str, Any]) -> bool:
        name = str(meta(obj).get("name", ""))
        return bool(re.search(self.name_pattern, name)) or (
            labels(obj).get("app.kubernetes.io/name") in self.app_names
        )


PROMETHEUS = Component(
    "Prometheus operator",
    "installPromOp",
    "Deployment",
    r"prometheus-operator",
    ("prometheus-operator", "kube-prometheus-stack-prometheus-operator"),
    DOCS_PROMETHEUS,
    clash="two Prometheus operators would reconcile the same Prometheus objects",
    reuse_steps="make sure it watches namespace azureml and has --kubelet-service enabled, and "
    "create the prom-kubelet ServiceMonitor the docs show",
    missing_effect="nothing would run the extension's Prometheus: job and resource metrics "
    "would be missing",
    crd_groups=("monitoring.coreos.com",),
    primary_crd="prometheuses.monitoring.coreos.com",
    code="E45002",
    missing_status=Status.WARN,
)
VOLCANO = Component(
    "Volcano scheduler",
    "installVolcano",
    "Deployment",
    r"^volcano-",
    ("volcano",),
    DOCS_VOLCANO,
    clash="two Volcano schedulers and admission webhooks would handle the same jobs",
    reuse_steps="give it the extension's scheduler configuration, and on Volcano older than 1.6 "
    "disable its job/validate admission webhook",
    missing_effect="training jobs could not be scheduled (the extension needs the Volcano "
    "scheduler and controllers)",
    crd_groups=("volcano.sh",),
    primary_crd="jobs.batch.volcano.sh",
    missing_status=Status.FAIL,
    training_only=True,
)
DEVICE_PLUGIN = Component(
    "NVIDIA device plugin",
    "installNvidiaDevicePlugin",
    "DaemonSet",
    r"nvidia-device-plugin",
    ("nvidia-device-plugin",),
    DOCS_SETTINGS,
    clash="two device plugins would register nvidia.com/gpu on the same nodes and fight over "
    "GPU allocation",
    reuse_steps="keep it running on every GPU node the extension schedules to",
    missing_effect="GPU nodes need a device plugin to advertise nvidia.com/gpu (see "
    "gpu.device-plugin)",
)
DCGM = Component(
    "DCGM exporter",
    "installDcgmExporter",
    "DaemonSet",
    r"dcgm-exporter",
    ("dcgm-exporter",),
    DOCS_DCGM,
    clash="two exporters would run on every GPU node and publish the same GPU metrics twice",
    reuse_steps="expose DCGM_FI_DEV_GPU_UTIL, DCGM_FI_DEV_FB_FREE and DCGM_FI_DEV_FB_USED and "
    "add the Service and ServiceMonitor the docs show",
    missing_effect="no GPU metrics are collected for the extension (the default)",
    clash_status=Status.WARN,
)
COMPONENTS = (PROMETHEUS, VOLCANO, DEVICE_PLUGIN, DCGM)


# -- cluster-scoped objects the extension creates (extension.ownership) ---------------------------

DOCS_INSTANCE_TYPES = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-manage-kubernetes-instance-types"
)
DOCS_REFERENCE_ARO = (
    "https://learn.microsoft.com/azure/machine-learning/reference-kubernetes"
    "#privileged-setup-for-aro-and-ocp"
)
DOCS_INGRESS_NGINX = DOCS_TROUBLESHOOT + "#ingress-nginx-controller"


@dataclass(frozen=True)
class ClusterObject:
    """A cluster-scoped object the extension's Helm chart creates by this name. Helm refuses to
    install over one that another release owns, or that carries no Helm ownership at all
    ("exists and cannot be imported into the current release: invalid ownership metadata")."""

    kind: str
    group_version: str
    plural: str
    name: str
    source: str  # where the name comes from
    documented: bool  # the name itself is documented (else derived from a documented one)
    setting: str | None = None  # only when this install* setting is True
    aks_only: bool = False  # the CLI enables the bundled ingress-nginx on AKS only

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]


_RBAC = "rbac.authorization.k8s.io/v1"
_WEBHOOKS = "admissionregistration.k8s.io/v1"
#: the Prometheus stack's names: its ServiceAccounts prom-operator, prom-admission and
#: prom-prometheus are documented (reference-kubernetes, "Privileged setup for ARO and OCP"),
#: and kube-prometheus-stack names its ClusterRole, ClusterRoleBinding and webhook
#: configurations after the same "<fullname>-operator/-prometheus/-admission"
#: (prometheus-community/helm-charts charts/kube-prometheus-stack/templates/prometheus-operator/
#: clusterrole.yaml, admission-webhooks/mutatingWebhookConfiguration.yaml)
_PROM_SOURCE = (
    "ServiceAccounts azureml/prom-operator, prom-prometheus, prom-admission ("
    + DOCS_REFERENCE_ARO
    + "); kube-prometheus-stack gives its cluster-scoped objects the same names"
)
#: the bundled ingress-nginx: ServiceAccounts azureml-ingress-nginx(-admission) (same page) and
#: Deployment azureml-ingress-nginx-controller (its resource table); kubernetes/ingress-nginx
#: charts/ingress-nginx/templates/clusterrole.yaml and admission-webhooks/validating-webhook.yaml
#: name the ClusterRole "<fullname>" and the webhook configuration "<fullname>-admission"
_NGINX_SOURCE = (
    "ServiceAccounts azureml/azureml-ingress-nginx and azureml-ingress-nginx-admission ("
    + DOCS_REFERENCE_ARO
    + "); the ingress-nginx chart gives its cluster-scoped objects the same names"
)
CLUSTER_OBJECTS = (
    ClusterObject(
        "ClusterRole", _RBAC, "clusterroles", "prom-operator", _PROM_SOURCE, False, "installPromOp"
    ),
    ClusterObject(
        "ClusterRoleBinding",
        _RBAC,
        "clusterrolebindings",
        "prom-operator",
        _PROM_SOURCE,
        False,
        "installPromOp",
    ),
    ClusterObject("ClusterRole", _RBAC, "clusterroles", "prom-prometheus", _PROM_SOURCE, False),
    ClusterObject(
        "ClusterRoleBinding", _RBAC, "clusterrolebindings", "prom-prometheus", _PROM_SOURCE, False
    ),
    ClusterObject(
        "MutatingWebhookConfiguration",
        _WEBHOOKS,
        "mutatingwebhookconfigurations",
        "prom-admission",
        _PROM_SOURCE,
        False,
        "installPromOp",
    ),
    ClusterObject(
        "ValidatingWebhookConfiguration",
        _WEBHOOKS,
        "validatingwebhookconfigurations",
        "prom-admission",
        _PROM_SOURCE,
        False,
        "installPromOp",
    ),
    ClusterObject(
        "ClusterRole",
        _RBAC,
        "clusterroles",
        "azureml-ingress-nginx",
        _NGINX_SOURCE,
        False,
        aks_only=True,
    ),
    ClusterObject(
        "ClusterRoleBinding",
        _RBAC,
        "clusterrolebindings",
        "azureml-ingress-nginx",
        _NGINX_SOURCE,
        False,
        aks_only=True,
    ),
    ClusterObject(
        "ValidatingWebhookConfiguration",
        _WEBHOOKS,
        "validatingwebhookconfigurations",
        "azureml-ingress-nginx-admission",
        _NGINX_SOURCE,
        False,
        aks_only=True,
    ),
    # reported by a user of an earlier version (Azure/AML-Kubernetes#162, 2021-12-30: "ClusterRole
    # "blob-external-provisioner-role" in namespace "" exists and cannot be imported into the
    # current release"); current versions may no longer create it
    ClusterObject(
        "ClusterRole",
        _RBAC,
        "clusterroles",
        "blob-external-provisioner-role",
        "https://github.com/Azure/AML-Kubernetes/issues/162",
        False,
    ),
)
#: the extension's own CRD group: InstanceType (apiVersion amlarc.azureml.com/v1alpha1) "is
#: installed with the Azure Machine Learning extension" (how-to-manage-kubernetes-instance-types)
EXTENSION_CRD_GROUP = "amlarc.azureml.com"
#: the ingress class of the ingress-nginx the extension installs, and the setting that changes it
#: ("comes with an ingress nginx controller class as k8s.io/ingress-nginx by default. If you
#: already have an ingress nginx controller in your cluster, you need to use a different
#: controller class to avoid installation failure": the troubleshooting page)
NGINX_CLASS = "k8s.io/ingress-nginx"
NGINX_CLASS_SETTING = "nginxIngress.controller"
NGINX_CLASS_ALTERNATIVE = "k8s.io/amlarc-ingress-nginx"
NGINX_ENABLED_SETTING = "nginxIngress.enabled"


# -- device plugins (extension.device-plugins) ----------------------------------------------------

#: a DaemonSet that runs the NVIDIA device plugin registers ``nvidia.com/gpu`` with the kubelet of
#: every node it runs on: AKS's manual install and GPU operator name it
#: nvidia-device-plugin-daemonset (learn.microsoft.com/azure/aks/use-nvidia-gpu), NVIDIA's chart
#: nvidia-device-plugin; its image is k8s-device-plugin (nvcr.io/nvidia, mcr.microsoft.com/oss/
#: nvidia). GPU operator's MPS control daemon and validator use the image without registering.
PLUGIN_NAME = re.compile(r"nvidia-(gpu-)?device-plugin")
PLUGIN_IMAGE = re.compile(r"/k8s-device-plugin[:@]|/nvidia-gpu-device-plugin[:@]")
PLUGIN_APP_NAMES = ("nvidia-device-plugin", "nvidia-device-plugin-daemonset")
NOT_A_PLUGIN = re.compile(r"mps-control|validator")


def named_device_plugin(daemonset: Mapping[str, Any]) -> bool:
    """Whether a DaemonSet is named or labelled as the NVIDIA device plugin (gpu.device-plugin
    goes by this; extension.device-plugins also by the image, registers_nvidia_gpu)."""
    name = str(meta(dict(daemonset)).get("name", ""))
    if NOT_A_PLUGIN.search(name):
        return False
    marks = labels(dict(daemonset))
    app = marks.get("app.kubernetes.io/name") or marks.get("app")
    return bool(PLUGIN_NAME.search(name)) or app in PLUGIN_APP_NAMES


def registers_nvidia_gpu(daemonset: dict[str, Any]) -> bool:
    """Whether a DaemonSet runs the NVIDIA device plugin (by name, app label or image)."""
    name = str(meta(daemonset).get("name", ""))
    if NOT_A_PLUGIN.search(name):
        return False
    if named_device_plugin(daemonset):
        return True
    spec = as_dict(daemonset.get("spec"))
    template = as_dict(spec.get("template"))
    pod = as_dict(template.get("spec"))
    containers = as_list(pod.get("containers"))
    return any(
        isinstance(c, dict) and PLUGIN_IMAGE.search(str(c.get("image") or "")) for c in containers
    )
