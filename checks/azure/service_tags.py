"""Azure region pairs, the Service Tags file and CIDR coverage (data and pure logic, no checks).

Seeds 002/003: "If your AKS cluster has an Authorized IP range enabled to access the API server,
enable the Azure Machine Learning control plane IP ranges for the AKS cluster. The Azure Machine
Learning control plane is deployed across paired regions. Without access to the API server, the
machine learning pods can't be deployed. Use the IP ranges for both the paired regions." The
ranges are the ``AzureMachineLearning.<Region>`` tags of Microsoft's weekly "Azure IP Ranges and
Service Tags" JSON file, one per cloud; the pairs are Microsoft's region-pair table.

``azure.authorized-ip-ranges`` uses this module; so can anyone who wants the same answer offline.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.checks._shared.json_files import read_json

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SERVICE = "AzureMachineLearning"

#: "Azure IP Ranges and Service Tags" download page per cloud (docs/reference/endpoints.md, "Cloud
#: constants": download ids 56519 / 57062 / 57063), and the ``cloud`` value inside each file
#: (as published: "Public", "China", "AzureGovernment").
SERVICE_TAGS_DOWNLOAD = {
    "AzureCloud": "https://www.microsoft.com/download/details.aspx?id=56519",
    "AzureChinaCloud": "https://www.microsoft.com/download/details.aspx?id=57062",
    "AzureUSGovernment": "https://www.microsoft.com/download/details.aspx?id=57063",
}
SERVICE_TAGS_CLOUD = {
    "AzureCloud": "Public",
    "AzureChinaCloud": "China",
    "AzureUSGovernment": "AzureGovernment",
}
SERVICE_TAGS_TITLE = {
    "AzureCloud": "Azure IP Ranges and Service Tags – Public Cloud",
    "AzureChinaCloud": "Azure IP Ranges and Service Tags – China Cloud",
    "AzureUSGovernment": "Azure IP Ranges and Service Tags – US Government Cloud",
}
DOCS_SERVICE_TAGS = "https://learn.microsoft.com/azure/virtual-network/service-tags-overview"
DOCS_PAIRS = "https://learn.microsoft.com/azure/reliability/cross-region-replication-azure"


# -- region pairs ----------------------------------------------------------------------------

# Where each pair comes from:
#   LIST_2025: MicrosoftDocs/reliability-docs articles/reliability/regions-list.md (ms.date
#              2025-09-23), column "Paired region" (public cloud only; N/A = no pair).
#   PAIRS_2022: MicrosoftDocs/azure-docs articles/reliability/cross-region-replication-azure.md
#              (ms.date 2022-12-12), table "Azure regional pairs" (the only one of the two that
#              lists China, US Government and US DoD).
#   STORAGE_2018: MicrosoftDocs azure-docs includes/storage-common-redundancy-GRS.md (ms.date
#              2018-03-26), table "Paired Regions" (primary -> secondary), the one Microsoft
#              source found that gives US Gov Texas's own secondary.
LIST_2025 = "Microsoft regions list (reliability-docs regions-list.md, 2025-09)"
PAIRS_2022 = "Microsoft cross-region replication pairs table (azure-docs, 2022-12)"
STORAGE_2018 = "Microsoft GRS paired-regions table (azure-docs storage include, 2018-03)"


@dataclass(frozen=True)
class Region:
    """An Azure region as the pair table knows it. ``pair`` is the region's *secondary*:
    pairs are directional where Microsoft says so (Brazil South -> South Central US, but South
    Central US -> North Central US)."""

    name: str  # programmatic name: eastus
    display: str  # "East US"; the service tag suffix is the display name without spaces
    pair: str | None  # None: a nonpaired region
    source: str
    uncertain: str = ""  # why the pair is not certain ("" when a current source states it)

    @property
    def tag(self) -> str:
        """``AzureMachineLearning.EastUS``, as the Service Tags file names the regional tag."""
        return f"{SERVICE}.{self.display.replace(' ', '')}"


def _table(rows: Iterable[tuple[str, str, str | None]], source: str) -> dict[str, Region]:
    return {name: Region(name, display, pair, source) for name, display, pair in rows}


_PUBLIC = _table(
    [
        ("australiacentral", "Australia Central", "australiacentral2"),
        ("australiacentral2", "Australia Central 2", "australiacentral"),
        ("australiaeast", "Australia East", "australiasoutheast"),
        ("australiasoutheast", "Australia Southeast", "australiaeast"),
        ("austriaeast", "Austria East", None),
        ("belgiumcentral", "Belgium Central", None),
        ("brazilsouth", "Brazil South", "southcentralus"),  # one-way: outside its geography
        ("brazilsoutheast", "Brazil Southeast", "brazilsouth"),
        ("canadacentral", "Canada Central", "canadaeast"),
        ("canadaeast", "Canada East", "canadacentral"),
        ("centralindia", "Central India", "southindia"),
        ("centralus", "Central US", "eastus2"),
        ("chilecentral", "Chile Central", None),
        ("denmarkeast", "Denmark East", None),
        ("eastasia", "East Asia", "southeastasia"),
        ("eastus", "East US", "westus"),
        ("eastus2", "East US 2", "centralus"),
        ("francecentral", "France Central", "francesouth"),
        ("francesouth", "France South", "francecentral"),
        ("germanynorth", "Germany North", "germanywestcentral"),
        ("germanywestcentral", "Germany West Central", "germanynorth"),
        ("indonesiacentral", "Indonesia Central", None),
        ("israelcentral", "Israel Central", None),
        ("italynorth", "Italy North", None),
        ("japaneast", "Japan East", "japanwest"),
        ("japanwest", "Japan West", "japaneast"),
        ("koreacentral", "Korea Central", "koreasouth"),
        ("koreasouth", "Korea South", "koreacentral"),
        ("malaysiawest", "Malaysia West", None),
        ("mexicocentral", "Mexico Central", None),
        ("newzealandnorth", "New Zealand North", None),
        ("northcentralus", "North Central US", "southcentralus"),
        ("northeurope", "North Europe", "westeurope"),
        ("norwayeast", "Norway East", "norwaywest"),
        ("norwaywest", "Norway West", "norwayeast"),
        ("polandcentral", "Poland Central", None),
        ("qatarcentral", "Qatar Central", None),
        ("southafricanorth", "South Africa North", "southafricawest"),
        ("southafricawest", "South Africa West", "southafricanorth"),
        ("southcentralus", "South Central US", "northcentralus"),
        ("southeastasia", "Southeast Asia", "eastasia"),
        ("southindia", "South India", "centralindia"),
        ("spaincentral", "Spain Central", None),
        ("swedencentral", "Sweden Central", "swedensouth"),
        ("switzerlandnorth", "Switzerland North", "switzerlandwest"),
        ("switzerlandwest", "Switzerland West", "switzerlandnorth"),
        ("uaecentral", "UAE Central", "uaenorth"),
        ("uaenorth", "UAE North", "uaecentral"),
        ("uksouth", "UK South", "ukwest"),
        ("ukwest", "UK West", "uksouth"),
        ("westcentralus", "West Central US", "westus2"),
        ("westeurope", "West Europe", "northeurope"),
        ("westindia", "West India", "southindia"),  # one-way: South India -> Central India
        ("westus", "West US", "eastus"),
        ("westus2", "West US 2", "westcentralus"),
        ("westus3", "West US 3", "eastus"),  # one-way: East US -> West US
    ],
    LIST_2025,
)
# Sweden South (restricted access) is the pair of Sweden Central in both tables but has no row of
# its own in the 2025 list; the 2022 table lists the pair as one row (read both ways).
_PUBLIC["swedensouth"] = Region("swedensouth", "Sweden South", "swedencentral", PAIRS_2022)

_CHINA = _table(
    [
        ("chinanorth", "China North", "chinaeast"),
        ("chinaeast", "China East", "chinanorth"),
        ("chinanorth2", "China North 2", "chinaeast2"),
        ("chinaeast2", "China East 2", "chinanorth2"),
        ("chinanorth3", "China North 3", "chinaeast3"),  # China East 3: access restricted
        ("chinaeast3", "China East 3", "chinanorth3"),
    ],
    PAIRS_2022,
)

_USGOV = _table(
    [
        # both the 2022 and the 2018 table: Virginia -> Texas, Arizona -> Texas
        ("usgovvirginia", "US Gov Virginia", "usgovtexas"),
        ("usgovarizona", "US Gov Arizona", "usgovtexas"),
        # US DoD: one row of the 2022 table (read both ways)
        ("usdodeast", "US DoD East", "usdodcentral"),
        ("usdodcentral", "US DoD Central", "usdodeast"),
    ],
    PAIRS_2022,
)
# US Gov Texas appears only as the B side of two 2022 rows; its own secondary is Arizona in the
# 2018 storage table (a third-party table says Virginia). Marked uncertain: a finding about it is
# a warning, never a failure.
_USGOV["usgovtexas"] = Region(
    "usgovtexas",
    "US Gov Texas",
    "usgovarizona",
    STORAGE_2018,
    uncertain="only a 2018 Microsoft table names US Gov Texas's own pair (US Gov Arizona); "
    "US Gov Virginia pairs with Texas too",
)

REGIONS: dict[str, dict[str, Region]] = {
    "AzureCloud": _PUBLIC,
    "AzureChinaCloud": _CHINA,
    "AzureUSGovernment": _USGOV,
}


def normalize_region(value: str | None) -> str:
    """``"East US 2"`` / ``"eastus2"`` / ``" EastUS2 "`` -> ``"eastus2"``."""
    return "".join((value or "").split()).lower()


def find_region(cloud: str, name: str | None) -> Region | None:
    """The region in ``cloud``'s table (any cloud's table when ``cloud`` is not a built-in)."""
    key = normalize_region(name)
    if not key:
        return None
    tables = [REGIONS[cloud]] if cloud in REGIONS else list(REGIONS.values())
    for table in tables:
        if key in table:
            return table[key]
    return None


def pair_of(cloud: str, name: str | None) -> Region | None:
    """The paired (secondary) region of ``name`` in ``cloud``, None if unpaired or unknown."""
    region = find_region(cloud, name)
    if region is None or region.pair is None:
        return None
    return find_region(cloud, region.pair)


# -- CIDR coverage ---------------------------------------------------------------------------


def parse_range(text: str) -> IPNetwork:
    """An authorized-IP-range entry: ``"20.1.2.0/24"``, a bare ``"20.1.2.3"`` (a /32), an IPv6
    prefix or address (a /128). Host bits are tolerated (``10.0.0.5/24`` is 10.0.0.0/24).
    Raises ValueError."""
    value = text.strip()
    if not value:
        raise ValueError("empty range")
    return ipaddress.ip_network(value, strict=False)


@dataclass
class Coverage:
    """How much of a list of prefixes a set of ranges admits."""

    covered: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)  # overlapping, not wholly inside
    outside: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        """Prefixes not wholly admitted (partial first-class too: one address out is out)."""
        return self.partial + self.outside

    @property
    def complete(self) -> bool:
        return not self.partial and not self.outside


def collapse(ranges: Iterable[IPNetwork]) -> dict[int, list[IPNetwork]]:
    """The union of ``ranges`` as the fewest CIDR blocks, per IP version. Two adjacent /25s
    become one /24, so a prefix covered only by their union is still seen as covered."""
    by_version: dict[int, list[Any]] = {4: [], 6: []}
    for network in ranges:
        by_version[network.version].append(network)
    return {
        version: list(ipaddress.collapse_addresses(networks))
        for version, networks in by_version.items()
    }


def coverage(prefixes: Iterable[str | IPNetwork], ranges: Iterable[IPNetwork]) -> Coverage:
    """Which ``prefixes`` lie wholly inside the union of ``ranges``.

    A CIDR block lies inside a union of CIDR blocks exactly when it lies inside one block of the
    union's minimal (collapsed) form, so one ``subnet_of`` per collapsed block decides it."""
    blocks = collapse(ranges)
    result = Coverage()
    for item in prefixes:
        prefix = item if not isinstance(item, str) else ipaddress.ip_network(item, strict=False)
        candidates = blocks.get(prefix.version, [])
        if any(prefix.subnet_of(block) for block in candidates):  # type: ignore[arg-type]
            result.covered.append(str(prefix))
        elif any(prefix.overlaps(block) for block in candidates):
            result.partial.append(str(prefix))
        else:
            result.outside.append(str(prefix))
    return result


def minimal(prefixes: Iterable[str]) -> list[str]:
    """The fewest CIDR blocks covering exactly ``prefixes`` (IPv4 first), for a command line."""
    networks = [ipaddress.ip_network(p, strict=False) for p in prefixes]
    blocks = collapse(networks)
    return [str(n) for n in blocks[4]] + [str(n) for n in blocks[6]]


# -- the Service Tags file -------------------------------------------------------------------


@dataclass(frozen=True)
class Tag:
    """One ``AzureMachineLearning`` entry of the Service Tags file."""

    name: str  # AzureMachineLearning.EastUS, or AzureMachineLearning for the global tag
    region: str  # normalized programmatic name, "" for the global tag
    prefixes: tuple[str, ...]

    def version(self, number: int) -> list[str]:
        return [p for p in self.prefixes if ipaddress.ip_network(p, strict=False).version == number]


@dataclass(frozen=True)
class ServiceTags:
    """What preflight needs of a Service Tags file: its cloud and the Azure ML tags."""

    path: str
    cloud: str  # as written in the file: Public | China | AzureGovernment
    change_number: int | None
    tags: tuple[Tag, ...]

    def regional(self, region: Region | str) -> Tag | None:
        """The regional tag: by ``properties.region``, else by the tag's name."""
        key = normalize_region(region.name if isinstance(region, Region) else region)
        wanted_name = region.tag.lower() if isinstance(region, Region) else ""
        for tag in self.tags:
            if tag.region and tag.region == key:
                return tag
        for tag in self.tags:
            if wanted_name and tag.name.lower() == wanted_name:
                return tag
        return None

    def global_tag(self) -> Tag | None:
        return next((t for t in self.tags if t.name.lower() == SERVICE.lower()), None)


def load_service_tags(path: str) -> ServiceTags:
    """Parse a Service Tags JSON file (cached per path, size and modification time, so the
    start-up validation and the check parse it once). Raises ValueError / OSError."""
    stat = os.stat(path)
    return _load_service_tags(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_service_tags(path: str, size: int, mtime_ns: int) -> ServiceTags:
    document = read_json(path)
    hint = (
        "expected the Azure IP Ranges and Service Tags JSON (an object with 'cloud' and a "
        "'values' list)"
    )
    if not isinstance(document, dict) or not isinstance(document.get("values"), list):
        raise ValueError(f"not a Service Tags file: {hint}")
    tags: list[Tag] = []
    for index, value in enumerate(document["values"]):
        if not isinstance(value, dict):
            raise ValueError(f"values[{index}] is not an object: {hint}")
        name = str(value.get("name") or value.get("id") or "")
        props = value.get("properties")
        if not isinstance(props, dict):
            raise ValueError(f"values[{index}] ({name or 'unnamed'}) has no 'properties' object")
        lowered = name.lower()
        if lowered != SERVICE.lower() and not lowered.startswith(SERVICE.lower() + "."):
            continue  # other services (AzureMachineLearningInference is another tag, too)
        prefixes = props.get("addressPrefixes")
        if not isinstance(prefixes, list):
            raise ValueError(f"tag {name}: 'addressPrefixes' is not a list")
        parsed: list[str] = []
        for prefix in prefixes:
            try:
                parsed.append(str(ipaddress.ip_network(str(prefix), strict=False)))
            except ValueError:
                raise ValueError(f"tag {name}: {prefix!r} is not an IP prefix") from None
        tags.append(Tag(name, normalize_region(str(props.get("region") or "")), tuple(parsed)))
    if not tags:
        raise ValueError(
            f"no {SERVICE} service tag in the file: is it the Azure IP Ranges and Service Tags "
            "JSON?"
        )
    change = document.get("changeNumber")
    return ServiceTags(
        path,
        str(document.get("cloud") or ""),
        change if isinstance(change, int) else None,
        tuple(tags),
    )


def validate_service_tags(path: str) -> None:
    """Start-up validation of ``--set service_tags=PATH`` (ValueError: exit 2)."""
    load_service_tags(path)


def file_cloud_matches(profile_cloud: str, file_cloud: str) -> bool:
    """Whether a Service Tags file (``cloud`` field) belongs to the profile's cloud. Unknown
    profile clouds (a custom profile) are not judged."""
    expected = SERVICE_TAGS_CLOUD.get(profile_cloud)
    return expected is None or not file_cloud or expected.lower() == file_cloud.lower()


def download_link(cloud: str) -> str:
    return SERVICE_TAGS_DOWNLOAD.get(cloud, SERVICE_TAGS_DOWNLOAD["AzureCloud"])


def download_text(cloud: str) -> str:
    """'"Azure IP Ranges and Service Tags – Public Cloud" (https://...)', or all three."""
    if cloud in SERVICE_TAGS_DOWNLOAD:
        return f'"{SERVICE_TAGS_TITLE[cloud]}" ({SERVICE_TAGS_DOWNLOAD[cloud]})'
    return (
        "the Azure IP Ranges and Service Tags file of your cloud ("
        + ", ".join(f"{name}: {url}" for name, url in SERVICE_TAGS_DOWNLOAD.items())
        + ")"
    )


def summarize_prefixes(prefixes: list[str], limit: int = 5) -> str:
    shown = ", ".join(prefixes[:limit])
    more = len(prefixes) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def cloud_of_file(mapping: Mapping[str, str], file_cloud: str) -> str | None:
    """The profile cloud name whose Service Tags file carries ``file_cloud``."""
    for profile_cloud, name in mapping.items():
        if name.lower() == file_cloud.lower():
            return profile_cloud
    return None
