"""What the Azure ML extension is and what its settings mean, as its deployment page documents
them (https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension).

Shared by the extension, capacity and GPU checks so that every check reads a planned setting,
its default and its documented values the same way. Data, not checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from preflight.api import Context, Finding

EXTENSION_TYPE = "Microsoft.AzureML.Kubernetes"
NAMESPACE = "azureml"
DOCS_SETTINGS = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension"
    "#review-azure-machine-learning-extension-configuration-settings"
)
DOCS_TROUBLESHOOT = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-kubernetes-extension"
)
DOCS_RESOURCES = (
    "https://learn.microsoft.com/azure/machine-learning/reference-kubernetes"
    "#recommended-resource-planning"
)


@dataclass(frozen=True)
class SettingSpec:
    """One documented configuration setting of ``az k8s-extension create``."""

    key: str  # canonical spelling, as the docs write it
    kind: str  # bool | choice | text | path
    default: str | None = None
    choices: tuple[str, ...] = ()
    protected: bool = False  # belongs in --config-protected
    scenario: str = "any"  # training | inference | any
    help: str = ""


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "enableTraining",
        "bool",
        "False",
        scenario="training",
        help="training and batch scoring support",
    ),
    SettingSpec(
        "enableInference", "bool", "False", scenario="inference", help="real-time inference support"
    ),
    SettingSpec(
        "allowInsecureConnections",
        "bool",
        "False",
        scenario="inference",
        help="HTTP inference endpoints (development/test only)",
    ),
    SettingSpec(
        "inferenceRouterServiceType",
        "choice",
        None,
        ("loadBalancer", "nodePort", "clusterIP"),
        scenario="inference",
        help="Service type of the azureml-fe router; required with enableInference",
    ),
    SettingSpec(
        "internalLoadBalancerProvider",
        "choice",
        None,
        ("azure",),
        scenario="inference",
        help="AKS only: use an internal load balancer for the router",
    ),
    SettingSpec(
        "sslSecret",
        "text",
        None,
        scenario="inference",
        help="Secret in namespace azureml holding cert.pem and key.pem",
    ),
    SettingSpec(
        "sslCname", "text", None, scenario="inference", help="CNAME of the HTTPS inference endpoint"
    ),
    SettingSpec(
        "inferenceRouterHA",
        "bool",
        "True",
        scenario="inference",
        help="three router replicas (needs 3 eligible nodes)",
    ),
    SettingSpec(
        "installNvidiaDevicePlugin",
        "bool",
        "False",
        help="install the NVIDIA device plugin DaemonSet",
    ),
    SettingSpec("installPromOp", "bool", "True", help="install the Prometheus operator"),
    SettingSpec(
        "installVolcano", "bool", "True", scenario="training", help="install the Volcano scheduler"
    ),
    SettingSpec("installDcgmExporter", "bool", "False", help="install the DCGM exporter"),
    SettingSpec(
        "sslCertPemFile",
        "path",
        None,
        protected=True,
        scenario="inference",
        help="PEM certificate file (--config-protected)",
    ),
    SettingSpec(
        "sslKeyPemFile",
        "path",
        None,
        protected=True,
        scenario="inference",
        help="PEM key file, not passphrase-protected (--config-protected)",
    ),
)
BY_KEY = {spec.key.lower(): spec for spec in SETTINGS}
NODE_SELECTOR_PREFIX = "nodeselector."  # compare with key.lower()
NODE_SELECTOR = "nodeSelector."  # as the extension reads it


def spec_for(key: str) -> SettingSpec | None:
    return BY_KEY.get(key.lower())


def as_bool(value: str | None) -> bool | None:
    """``"True"``/``"false"`` in any case -> bool; None otherwise. The Azure CLI compares
    ``str(value).lower() == 'true'``, so ``yes`` or ``1`` do not enable anything
    (azure-cli-extensions ``partner_extensions/AzureMLKubernetes.py``)."""
    lowered = value.strip().lower() if value is not None else None
    return True if lowered == "true" else False if lowered == "false" else None


class Plan:
    """The settings as the extension reads them, with the documented defaults applied.

    Keys match exactly, as the CLI (``key in config``) and the extension's Helm values do: a
    key in another case (``InferenceRouterHA``) is ignored, so its setting keeps its default
    (MicrosoftDocs/azure-ai-docs pull request 458). ``settings`` may be the parsed
    ``--extension-config`` (every spelling the user wrote is kept) or installed settings."""

    def __init__(self, settings: Mapping[str, str]) -> None:
        as_given = getattr(settings, "as_given", None)
        self.raw: dict[str, str] = dict(as_given() if callable(as_given) else settings.items())

    @property
    def given(self) -> bool:
        return bool(self.raw)

    @staticmethod
    def _exact(key: str) -> str:
        spec = spec_for(key)
        return spec.key if spec else key

    def value(self, key: str) -> str | None:
        """The value under the documented spelling, else the documented default."""
        exact = self._exact(key)
        if exact in self.raw:
            return self.raw[exact]
        spec = spec_for(key)
        return spec.default if spec else None

    def explicit(self, key: str) -> bool:
        return self._exact(key) in self.raw

    def flag(self, key: str) -> bool:
        """A boolean setting as the extension takes it: a value that is not true/false counts
        as not given (the default)."""
        value = as_bool(self.value(key))
        if value is None:
            spec = spec_for(key)
            value = as_bool(spec.default if spec else None)
        return bool(value)

    @property
    def training(self) -> bool:
        return self.flag("enableTraining")

    @property
    def inference(self) -> bool:
        return self.flag("enableInference")

    @property
    def node_selector(self) -> dict[str, str]:
        """``nodeSelector.agentpool=gpu`` -> ``{"agentpool": "gpu"}``."""
        return {
            k[len(NODE_SELECTOR) :]: v for k, v in self.raw.items() if k.startswith(NODE_SELECTOR)
        }


#: ``--set cluster_type``: the ARM resource type each names
CLUSTER_TYPES = {"aks": "managedClusters", "arc": "connectedClusters"}
DEFAULT_EXTENSION_NAME = "azureml"
EXTENSION_NAME_PARAM = {
    "extension_name": "name of the Azure ML extension (az k8s-extension create --name); "
    "default azureml"
}


def extension_release(ctx: Context) -> str:
    """The extension's name, which is also its Helm release's (``--set extension_name``,
    default ``azureml``)."""
    return ctx.param("extension_name", DEFAULT_EXTENSION_NAME) or DEFAULT_EXTENSION_NAME


def cluster_type_of(ctx: Context) -> tuple[str, Finding | None]:
    """``--set cluster_type=aks|arc`` (default aks), and a warning for anything else."""
    raw = ctx.param("cluster_type")
    if raw is None:
        return "aks", None
    value = raw.strip().lower()
    if value in CLUSTER_TYPES:
        return value, None
    return "aks", Finding.warned(
        "cluster_type",
        f"--set cluster_type={raw} is neither aks nor arc: AKS assumed",
        "pass --set cluster_type=aks (managedClusters) or --set cluster_type=arc "
        "(connectedClusters, Azure Arc-enabled Kubernetes)",
        DOCS_SETTINGS,
        value=raw,
    )
