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
from dataclasses import dataclass
from typing import Any

from preflight.api import Status
from preflight.checks._shared.kube_reads import labels, meta
from preflight.checks._shared.plan import DOCS_SETTINGS, DOCS_TROUBLESHOOT

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
