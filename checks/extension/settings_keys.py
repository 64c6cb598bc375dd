"""Keys of the Azure ML extension's configuration beyond its settings table (``plan.SETTINGS``):
those ``az k8s-extension create`` writes itself (so an installed extension has them, and an ARM
template, Bicep or Terraform user passes them by hand), those the troubleshooting page documents,
and spellings that old or wrong docs print. Data, not checks.

Every key is matched exactly: the CLI reads settings with ``key in config`` and the extension's
Helm values are case-sensitive, so ``InferenceRouterHA=False`` is ignored and the router keeps
three replicas (MicrosoftDocs/azure-ai-docs pull request 458).
"""

from __future__ import annotations

from dataclasses import dataclass

from preflight.checks._shared.plan import DOCS_TROUBLESHOOT, NODE_SELECTOR, SETTINGS

#: the CLI's Azure ML module: the keys it writes and the validations it alone performs
CLI_SOURCE = (
    "https://github.com/Azure/azure-cli-extensions/blob/main/src/k8s-extension/"
    "azext_k8s_extension/partner_extensions/AzureMLKubernetes.py"
)
CLI_HISTORY = (
    "https://github.com/Azure/azure-cli-extensions/blob/main/src/k8s-extension/HISTORY.rst"
)
PR_458 = "https://github.com/MicrosoftDocs/azure-ai-docs/pull/458"
AML_K8S_DEPLOY = "https://github.com/Azure/AML-Kubernetes/blob/master/docs/deploy-extension.md"
AML_K8S_TROUBLESHOOT = "https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md"
AML_K8S_ISSUE_271 = "https://github.com/Azure/AML-Kubernetes/issues/271"
DOCS_SECURE = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-secure-kubernetes-online-endpoint"
)


@dataclass(frozen=True)
class KnownKey:
    """A key the extension reads that is not in the settings table."""

    key: str  # exact spelling (a prefix ends with ".")
    source: str  # where it is documented or written
    protected: bool = False  # the CLI passes it only as a protected setting: its value is secret

    @property
    def prefix(self) -> bool:
        return self.key.endswith(".")


_CLI = (
    "clusterPurpose",
    "cluster_name",
    "clusterId",
    "cluster_name_friendly",
    "prometheus.prometheusSpec.externalLabels.cluster_name",
    "domain",
    "location",
    "jobSchedulerLocation",
    "servicebus.enabled",
    "servicebus.resourceID",
    "servicebus.topicSubMapping.",
    "relayserver.enabled",
    "relayserver.hybridConnectionResourceID",
    "relayserver.hybridConnectionName",
    "nginxIngress.enabled",
    "openshift",
    "isAKSMigration",
    "scoringFe.namespace",
    "scoringFe.sslSecret",
    "scoringFe.serviceType.nodePort",
    "scoringFe.serviceType.internalLoadBalancer",
    "logAnalyticsWS",
    "azure_log_analytics.enabled",
    "azure_log_analytics.customer_id",
)
_CLI_PROTECTED = (
    "relayServerConnectionString",
    "relayserver.relayConnectionString",
    "serviceBusConnectionString",
    "servicebus.connectionString",
    "scoringFe.sslCert",
    "scoringFe.sslKey",
    "azure_log_analytics.connection_string",
)
_TROUBLESHOOTING = (
    "volcanoScheduler.schedulerConfigMap",
    "amloperator.skipResourceValidation",
    "nginxIngress.controller",
    "nginxIngress.controllerConfig.",
    "nginxIngress.resources.",
)
KNOWN_KEYS: tuple[KnownKey, ...] = (
    *(KnownKey(k, CLI_SOURCE) for k in _CLI),
    *(KnownKey(k, CLI_SOURCE, protected=True) for k in _CLI_PROTECTED),
    *(KnownKey(k, DOCS_TROUBLESHOOT) for k in _TROUBLESHOOTING),
)


@dataclass(frozen=True)
class Renamed:
    """An old or misprinted key the extension does not read, and the one it does."""

    key: str
    now: str
    why: str
    source: str


RENAMED: tuple[Renamed, ...] = (
    Renamed(
        "inferenceLoadBalancerHA",
        "inferenceRouterHA",
        "renamed to inferenceRouterHA in Azure CLI k8s-extension 1.2.2",
        CLI_HISTORY,
    ),
    Renamed(
        "volcanoScheduler.enable",
        "installVolcano",
        "an older spelling (Azure/AML-Kubernetes troubleshooting, 2022); the current docs "
        "write installVolcano",
        AML_K8S_TROUBLESHOOT,
    ),
    Renamed(
        "sslCertKeyFile",
        "sslKeyPemFile",
        "a misprint in Azure/AML-Kubernetes docs/deploy-extension.md: the CLI reads sslKeyPemFile",
        AML_K8S_DEPLOY,
    ),
    Renamed(
        "slKeyPemFile",
        "sslKeyPemFile",
        "a misprint in the Azure ML how-to for secure online endpoints: the CLI reads "
        "sslKeyPemFile",
        DOCS_SECURE,
    ),
)
RENAMED_BY_KEY = {r.key.lower(): r for r in RENAMED}


@dataclass(frozen=True)
class ClusterOnly:
    """A setting (with a value, or any value when ``value`` is None) that belongs on one kind
    of cluster: what ``az k8s-extension create`` writes for AKS (managedClusters) or Arc
    (connectedClusters), and what it would not."""

    key: str
    value: str | None
    belongs: str  # aks | arc
    why: str


CLUSTER_ONLY: tuple[ClusterOnly, ...] = (
    ClusterOnly(
        "relayserver.enabled",
        "true",
        "arc",
        "the Azure Relay serves Arc-enabled clusters: az k8s-extension create writes "
        "relayserver.enabled=false on AKS and creates no relay for it (k8s-extension 1.2.2: "
        "'do not create relay for managed clusters')",
    ),
    ClusterOnly(
        "relayserver.hybridConnectionResourceID",
        None,
        "arc",
        "the Azure Relay serves Arc-enabled clusters only (az k8s-extension create sets it for "
        "connectedClusters)",
    ),
    ClusterOnly(
        "relayserver.hybridConnectionName",
        None,
        "arc",
        "the Azure Relay serves Arc-enabled clusters only (az k8s-extension create sets it for "
        "connectedClusters)",
    ),
    ClusterOnly(
        "openshift",
        "true",
        "arc",
        "az k8s-extension create sets openshift=true only for an Arc cluster whose "
        "distribution is openshift",
    ),
    ClusterOnly(
        "nginxIngress.enabled",
        "true",
        "aks",
        "az k8s-extension create writes nginxIngress.enabled=true on AKS and false on "
        "Arc-enabled clusters",
    ),
    ClusterOnly(
        "isAKSMigration",
        "true",
        "aks",
        "the migration from the v1 AKS inference cluster applies to AKS clusters only",
    ),
)

_DOCUMENTED = {spec.key.lower(): spec.key for spec in SETTINGS}
_EXACT = {k.key.lower(): k for k in KNOWN_KEYS if not k.prefix}
_PREFIXES = [k for k in KNOWN_KEYS if k.prefix]


def known_key(key: str) -> KnownKey | None:
    """The known (non-table) key ``key`` names, whatever its case."""
    lowered = key.lower()
    if lowered in _EXACT:
        return _EXACT[lowered]
    return next((p for p in _PREFIXES if lowered.startswith(p.key.lower())), None)


def spelling(key: str) -> str | None:
    """The exact spelling the extension reads for ``key`` (None when the key is unknown):
    ``InferenceRouterHA`` -> ``inferenceRouterHA``, ``NodeSelector.pool`` ->
    ``nodeSelector.pool``."""
    lowered = key.lower()
    if lowered in _DOCUMENTED:
        return _DOCUMENTED[lowered]
    if lowered.startswith(NODE_SELECTOR.lower()):
        return NODE_SELECTOR + key[len(NODE_SELECTOR) :]
    known = known_key(key)
    if known is None:
        return None
    return known.key if not known.prefix else known.key + key[len(known.key) :]
