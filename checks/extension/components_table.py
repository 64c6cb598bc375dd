"""The Azure ML extension's components, as data: the table "Review Azure Machine
Learning extension component" of seeds 002/003 (docs/SOURCES.md): what ``kubectl get
deployments -n azureml`` shows after an install, with the conditions under which the extension
creates each one.

Which components a configuration should have is decided here, once, so that
``extension.components`` and the tests' builders of an installed extension agree:

- training vs inference: the table's Training / Inference columns;
- AKS vs Arc: ``relayserver`` exists only on Azure Arc-enabled clusters;
- optional ones follow their ``install*`` setting (``installPromOp`` and ``installVolcano``
  default to True, ``installDcgmExporter`` and ``installNvidiaDevicePlugin`` to False); Volcano
  also needs training.

``{ext}`` in a name is the extension's name (``az k8s-extension create --name``).
"""

from __future__ import annotations

from dataclasses import dataclass

from preflight.checks._shared.plan import Plan, as_bool, spec_for

DOCS_COMPONENTS = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension"
    "#review-azure-machine-learning-extension-component"
)
DOCS_VERIFY = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension"
    "#verify-azure-machine-learning-extension-deployment"
)

DEPLOYMENT = "Deployment"
DAEMONSET = "DaemonSet"
STATEFULSET = "StatefulSet"
KINDS = (DEPLOYMENT, DAEMONSET, STATEFULSET)


@dataclass(frozen=True)
class ComponentSpec:
    """One row of the components table."""

    template: str  # "gateway", "{ext}-kube-state-metrics"
    kind: str  # Deployment | DaemonSet | StatefulSet
    training: bool  # the Training column is ✓ or Optional
    inference: bool  # the Inference column is ✓ or Optional
    description: str
    cloud: str = ""  # "Communication with cloud" ("" where the table says N/A)
    setting: str | None = None  # the install* setting an Optional row depends on
    arc_only: bool = False  # relayserver: Azure Arc-enabled clusters only
    gpu: bool = False  # runs on GPU nodes only (a DaemonSet with no GPU node has nothing to do)

    def name(self, extension: str) -> str:
        return self.template.format(ext=extension)

    @property
    def scenario(self) -> str:
        """``training``, ``inference`` or ``both`` (every installation)."""
        if self.training and self.inference:
            return "both"
        return "training" if self.training else "inference"


COMPONENTS: tuple[ComponentSpec, ...] = (
    ComponentSpec(
        "relayserver",
        DEPLOYMENT,
        True,
        True,
        "Relay server works with Azure Relay to communicate with the cloud services (Arc "
        "clusters only, not AKS).",
        "Receive the request of job creation, model deployment from cloud service; sync the job "
        "status with cloud service.",
        arc_only=True,
    ),
    ComponentSpec(
        "gateway",
        DEPLOYMENT,
        True,
        True,
        "The gateway is used to communicate and send data back and forth.",
        "Send nodes and cluster resource information to cloud services.",
    ),
    ComponentSpec(
        "aml-operator",
        DEPLOYMENT,
        True,
        False,
        "Manage the lifecycle of training jobs.",
        "Token exchange with the cloud token service for authentication and authorization of "
        "Azure Container Registry.",
    ),
    ComponentSpec(
        "metrics-controller-manager",
        DEPLOYMENT,
        True,
        True,
        "Manage the configuration for Prometheus.",
    ),
    ComponentSpec(
        "{ext}-kube-state-metrics",
        DEPLOYMENT,
        True,
        True,
        "Export the cluster-related metrics to Prometheus.",
    ),
    ComponentSpec(
        "{ext}-prometheus-operator",
        DEPLOYMENT,
        True,
        True,
        "Provide Kubernetes native deployment and management of Prometheus and related "
        "monitoring components.",
        setting="installPromOp",
    ),
    ComponentSpec(
        "amlarc-identity-controller",
        DEPLOYMENT,
        False,
        True,
        "Request and renew Azure Blob/Azure Container Registry token through managed identity.",
        "Token exchange with the cloud token service for authentication and authorization of "
        "Azure Container Registry and Azure Blob used by inference/model deployment.",
    ),
    ComponentSpec(
        "amlarc-identity-proxy",
        DEPLOYMENT,
        False,
        True,
        "Request and renew Azure Blob/Azure Container Registry token through managed identity.",
        "Token exchange with the cloud token service for authentication and authorization of "
        "Azure Container Registry and Azure Blob used by inference/model deployment.",
    ),
    ComponentSpec(
        "azureml-fe-v2",
        DEPLOYMENT,
        False,
        True,
        "The front-end component that routes incoming inference requests to deployed services.",
        "Send service logs to Azure Blob.",
    ),
    ComponentSpec(
        "inference-operator-controller-manager",
        DEPLOYMENT,
        False,
        True,
        "Manage the lifecycle of inference endpoints.",
    ),
    ComponentSpec(
        "volcano-admission",
        DEPLOYMENT,
        True,
        False,
        "Volcano admission webhook.",
        setting="installVolcano",
    ),
    ComponentSpec(
        "volcano-controllers",
        DEPLOYMENT,
        True,
        False,
        "Manage the lifecycle of Azure Machine Learning training job pods.",
        setting="installVolcano",
    ),
    ComponentSpec(
        "volcano-scheduler",
        DEPLOYMENT,
        True,
        False,
        "Used to perform in-cluster job scheduling.",
        setting="installVolcano",
    ),
    ComponentSpec(
        "fluent-bit",
        DAEMONSET,
        True,
        True,
        "Gather the components' system log.",
        "Upload the components' system log to cloud.",
    ),
    ComponentSpec(
        "{ext}-dcgm-exporter",
        DAEMONSET,
        True,
        True,
        "dcgm-exporter exposes GPU metrics for Prometheus.",
        setting="installDcgmExporter",
        gpu=True,
    ),
    ComponentSpec(
        "nvidia-device-plugin-daemonset",
        DAEMONSET,
        True,
        True,
        "nvidia-device-plugin-daemonset exposes GPUs on each node of your cluster.",
        setting="installNvidiaDevicePlugin",
        gpu=True,
    ),
    ComponentSpec(
        "prometheus-prom-prometheus",
        STATEFULSET,
        True,
        True,
        "Gather and send job metrics to cloud.",
        "Send job metrics like cpu/gpu/memory utilization to cloud.",
    ),
)

#: the components whose presence tells training or inference apart (inferred settings)
TRAINING_MARKERS = ("aml-operator",)
INFERENCE_MARKERS = ("azureml-fe-v2", "inference-operator-controller-manager")
#: the templates that carry the extension's name (to recover it from what runs)
NAMED_TEMPLATES = tuple(c.template for c in COMPONENTS if "{ext}" in c.template)
#: the install* settings that make a row Optional
INSTALL_SETTINGS = tuple(dict.fromkeys(c.setting for c in COMPONENTS if c.setting))


@dataclass(frozen=True)
class Configuration:
    """What decides which components an installation has, and where each part came from."""

    settings: Plan
    source: str  # "arm" | "extension-config" | "inferred"
    cluster_type: str = "aks"  # aks | arc
    #: install* settings inferred from what runs (only for source "inferred")
    inferred: tuple[tuple[str, bool], ...] = ()

    @property
    def training(self) -> bool:
        return self.settings.training

    @property
    def inference(self) -> bool:
        return self.settings.inference

    def install(self, setting: str) -> tuple[bool, str]:
        """The value of an install* setting and where it comes from (a bad value counts as the
        documented default: extension.config reports the value itself)."""
        for key, value in self.inferred:
            if key.lower() == setting.lower():
                return value, "inferred"
        spec = spec_for(setting)
        default = bool(as_bool(spec.default if spec else None))
        if self.settings.explicit(setting):
            given = as_bool(self.settings.value(setting))
            if given is not None:
                return given, self.source
        return default, "default"


SOURCE_TEXT = {
    "arm": "installed settings",
    "extension-config": "planned, --extension-config",
    "inferred": "inferred from what runs in namespace azureml",
    "default": "the default",
    "param": "--set cluster_type",
}


def setting_text(key: str, value: bool, source: str) -> str:
    """``enableInference=True (installed settings)``."""
    return f"{key}={'True' if value else 'False'} ({SOURCE_TEXT.get(source, source)})"


def expectation(spec: ComponentSpec, config: Configuration) -> tuple[bool, str]:
    """Whether ``config`` should have ``spec``, and why (in the settings' own words)."""
    reasons: list[str] = []
    if spec.arc_only:
        if config.cluster_type != "arc":
            return False, f"only on Azure Arc-enabled clusters (cluster_type={config.cluster_type})"
        reasons.append("cluster_type=arc")
    scenario = _scenario_reason(spec, config)
    if scenario is None:
        needs = "enableTraining=True" if spec.training else "enableInference=True"
        return False, f"only with {needs}"
    if scenario:
        reasons.append(scenario)
    if spec.setting:
        install, source = config.install(spec.setting)
        text = setting_text(spec.setting, install, source)
        if not install:
            return False, f"not installed with {text}"
        reasons.append(text)
    if not reasons:
        return True, "expected on every installation"
    return True, "expected because " + " and ".join(reasons)


def _scenario_reason(spec: ComponentSpec, config: Configuration) -> str | None:
    """Why the component's scenario applies: an empty string for a component of every
    installation, the enabling setting's text, or None when the configuration enables none of
    the scenarios the component belongs to."""
    if spec.training and spec.inference:
        return ""
    key, enabled = (
        ("enableTraining", config.training)
        if spec.training
        else ("enableInference", config.inference)
    )
    if not enabled:
        return None
    return setting_text(key, True, config.source)


def expected_components(config: Configuration) -> list[tuple[ComponentSpec, str]]:
    """The rows ``config`` should have, each with why."""
    rows = []
    for spec in COMPONENTS:
        expected, why = expectation(spec, config)
        if expected:
            rows.append((spec, why))
    return rows
