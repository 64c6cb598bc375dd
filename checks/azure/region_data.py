"""Where the docs say Kubernetes compute for Azure ML is offered, per cloud and region: data for
``azure.region`` (region.py), each row with the documents it rests on and their dates. Edit the
rows when the documents change; the check has no region knowledge of its own.

Rows are looked up by cloud (the profile's ``cloud``) and region (the short name ARM uses:
``eastus``, ``chinaeast2``): a row naming the region wins over the cloud's ``*`` row. A region no
row covers is reported as such (warn), never passed. ``*`` stands for "every region where the
cluster resource can exist": AKS and Arc-enabled Kubernetes only exist where their service runs,
so a cluster read from Azure Resource Manager proves the region has them (a region given only
with ``--set region`` proves nothing, see region.py).

No machine-readable list of regions exists for the extension (research notes 19, section 4: the
docs point to the Azure Arc product-availability page).
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED = "supported"
UNSUPPORTED = "unsupported"
CONFLICT = "conflict"  # the documents disagree: warn, cite both


@dataclass(frozen=True)
class Source:
    """A document a row rests on."""

    title: str
    url: str
    date: str  # the page's ms.date (or "undated" when it shows none)
    says: str  # what it says, quoted or closely paraphrased


@dataclass(frozen=True)
class RegionRow:
    cloud: str  # AzureCloud | AzureChinaCloud | AzureUSGovernment
    regions: tuple[str, ...]  # short names, or ("*",)
    status: str  # SUPPORTED | UNSUPPORTED | CONFLICT
    sources: tuple[Source, ...]
    cluster_types: tuple[str, ...] = ("aks", "arc")  # which cluster types the row is about


PARITY = (
    "https://learn.microsoft.com/azure/machine-learning/reference-machine-learning-cloud-parity"
)
PARITY_DATE = "2025-02-28"
CHINA_EXTENSION = "https://docs.azure.cn/en-us/machine-learning/how-to-deploy-kubernetes-extension"
REFERENCE_KUBERNETES = "https://learn.microsoft.com/azure/machine-learning/reference-kubernetes"
CLUSTER_EXTENSIONS = "https://learn.microsoft.com/azure/aks/cluster-extensions"
AML_KUBERNETES = "https://github.com/Azure/AML-Kubernetes"
V1_AKS = (
    "https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service"
    "#deploy-to-aks"
)
FIREWALL = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall"
    "#scenario-use-kubernetes-compute"
)

_PARITY_PUBLIC = Source(
    "Azure Machine Learning feature availability across clouds regions",
    PARITY,
    PARITY_DATE,
    "Kubernetes compute: GA in public Azure",
)
_ARC_REGIONS = Source(
    "Azure ML: Kubernetes compute reference",
    REFERENCE_KUBERNETES,
    "2022-06-06",
    "the extension can be deployed to AKS or Azure Arc-enabled Kubernetes in the regions where "
    "Azure Arc-enabled Kubernetes is supported",
)
_EXTENSIONS_REGIONS = Source(
    "AKS: cluster extensions",
    CLUSTER_EXTENSIONS,
    "2025-09-09",
    "The cluster extensions platform is supported in all regions where AKS is deployed, except "
    "Qatar Central and US air gapped clouds.",
)

REGIONS: tuple[RegionRow, ...] = (
    RegionRow("AzureCloud", ("*",), SUPPORTED, (_PARITY_PUBLIC, _ARC_REGIONS, _EXTENSIONS_REGIONS)),
    RegionRow(
        "AzureCloud", ("qatarcentral",), UNSUPPORTED, (_EXTENSIONS_REGIONS,), cluster_types=("aks",)
    ),
    RegionRow(
        "AzureChinaCloud",
        ("chinaeast2", "chinanorth3"),
        CONFLICT,
        (
            Source(
                "Azure Machine Learning feature availability across clouds regions",
                PARITY,
                PARITY_DATE,
                "Azure operated by 21Vianet: Kubernetes compute | GA | NO | NO (public, "
                "CH-East-2, CH-North-3)",
            ),
            Source(
                "Azure China: Deploy Azure Machine Learning extension on AKS or Arc Kubernetes "
                "cluster",
                CHINA_EXTENSION,
                "undated",
                "To enable your AKS or Azure Arc-enabled Kubernetes cluster to run training jobs "
                "or inference workloads, you must first deploy the Azure Machine Learning "
                "extension",
            ),
        ),
    ),
    RegionRow(
        "AzureUSGovernment",
        ("usgovvirginia", "usgovarizona"),
        UNSUPPORTED,
        (
            Source(
                "Azure Machine Learning feature availability across clouds regions",
                PARITY,
                PARITY_DATE,
                "Azure Government: Kubernetes compute | GA | NO | NO (public, US-Virginia, "
                "US-Arizona)",
            ),
        ),
    ),
)

#: what a workspace in another region than the cluster costs (Azure ML CLI/SDK v1 AKS page, the
#: only document that says; v2 documents allow it: the AML-Kubernetes README lists "Share the
#: same Kubernetes cluster in multiple AzureML Workspaces across region")
MISMATCH_SOURCES = (
    Source(
        "Deploy ML models to Azure Kubernetes Service - CLI/SDK v1",
        V1_AKS,
        "2024-09-09",
        "Microsoft strongly recommends that you create your Azure Machine Learning workspace in "
        "the same region as your AKS cluster. To authenticate with a token, the web service "
        "makes a call to the region in which your Azure Machine Learning workspace is created. "
        "If your workspace's region is unavailable, then you can't fetch a token for your web "
        "service ... the greater the distance between your cluster's region and your "
        "workspace's region, the longer it takes to fetch a token.",
    ),
    Source(
        "Azure/AML-Kubernetes README",
        AML_KUBERNETES,
        "2022-08-12",
        "Share the same Kubernetes cluster in multiple AzureML Workspaces across region.",
    ),
    Source(
        "Configure inbound and outbound network traffic (Use Kubernetes compute)",
        FIREWALL,
        "2026-03-19",
        "Replace <region> with the region of your workspace (the {region}.api.azureml.ms and "
        "{region}.experiments.azureml.net hosts)",
    ),
)


def lookup(cloud: str, region: str, cluster_type: str) -> RegionRow | None:
    """The row for ``region`` of ``cloud`` (an exact row before the cloud's ``*`` row), or None
    when no row covers it."""
    region = region.strip().lower()
    rows = [r for r in REGIONS if r.cloud.lower() == cloud.lower()]
    rows = [r for r in rows if cluster_type in r.cluster_types]
    exact = next((r for r in rows if region in r.regions), None)
    return exact or next((r for r in rows if "*" in r.regions), None)
