"""The Azure checks' pure logic: version comparison, region pairs, CIDR coverage of service-tag
prefixes by authorized ranges, the Service Tags file, token audiences, and the engine hook that
validates ``--set`` files before a run."""

from __future__ import annotations

import base64
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.azure_objects import service_tags, write_service_tags

from preflight.api import Check, Context, Finding
from preflight.checks._shared.cluster_resource import cluster_document
from preflight.checks.azure import cli as azure_cli
from preflight.checks.azure import credentials as azure_credentials
from preflight.checks.azure import service_tags as azure_ranges
from preflight.checks.azure.cluster import is_gpu_size, nodes_by_pool
from preflight.checks.azure.subscription import validate_workspace_id
from preflight.errors import UsageError
from preflight.options import validate_parameters
from preflight.registry import Registry

# -- versions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "minimum", "expected"),
    [
        ("2.24.0", "2.24.0", True),
        ("2.24", "2.24.0", True),
        ("2.23.9", "2.24.0", False),
        ("2.100.0", "2.24.0", True),  # numeric, not lexicographic
        ("2.9.0", "2.24.0", False),
        ("3.0.0", "2.51.0", True),
        ("1.2.3", "1.2.3", True),
        ("1.2.10", "1.2.3", True),
        ("1.2.3b1", "1.2.3", False),  # a pre-release is below its release
        ("1.2.3rc2", "1.2.3", False),
        ("1.2.4b1", "1.2.3", True),
        ("1.2.3.post1", "1.2.3", True),
        ("v1.6.1", "1.2.3", True),
        ("", "1.2.3", False),
        ("unknown", "1.2.3", False),
    ],
)
def test_version_comparison(version: str, minimum: str, expected: bool) -> None:
    assert azure_cli.at_least(version, minimum) is expected


def test_prerelease_order() -> None:
    keys = [azure_cli.parse_version(v) for v in ("1.0.0b1", "1.0.0b2", "1.0.0rc1", "1.0.0")]
    assert keys == sorted(keys)  # type: ignore[type-var]


# -- region pairs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cloud", "region", "pair"),
    [
        ("AzureCloud", "eastus", "westus"),
        ("AzureCloud", "westus", "eastus"),
        ("AzureCloud", "East US 2", "centralus"),
        ("AzureCloud", "westus3", "eastus"),  # one-way
        ("AzureCloud", "brazilsouth", "southcentralus"),  # one-way, outside its geography
        ("AzureCloud", "southcentralus", "northcentralus"),
        ("AzureCloud", "westindia", "southindia"),
        ("AzureCloud", "southindia", "centralindia"),
        ("AzureCloud", "northeurope", "westeurope"),
        ("AzureCloud", "swedencentral", "swedensouth"),
        ("AzureChinaCloud", "chinanorth", "chinaeast"),
        ("AzureChinaCloud", "chinaeast2", "chinanorth2"),
        ("AzureChinaCloud", "chinanorth3", "chinaeast3"),
        ("AzureUSGovernment", "usgovvirginia", "usgovtexas"),
        ("AzureUSGovernment", "usgovarizona", "usgovtexas"),
        ("AzureUSGovernment", "usgovtexas", "usgovarizona"),
        ("AzureUSGovernment", "usdodeast", "usdodcentral"),
    ],
)
def test_region_pairs(cloud: str, region: str, pair: str) -> None:
    found = azure_ranges.pair_of(cloud, region)
    assert found is not None and found.name == pair


def test_unpaired_unknown_and_uncertain_regions() -> None:
    israel = azure_ranges.find_region("AzureCloud", "israelcentral")
    assert israel is not None and israel.pair is None
    assert azure_ranges.pair_of("AzureCloud", "israelcentral") is None
    assert azure_ranges.find_region("AzureCloud", "marsnorth") is None
    # a region of another cloud is not found in the profile's own table
    assert azure_ranges.find_region("AzureCloud", "chinaeast2") is None
    texas = azure_ranges.find_region("AzureUSGovernment", "usgovtexas")
    assert texas is not None and texas.uncertain
    assert not azure_ranges.find_region("AzureUSGovernment", "usgovvirginia").uncertain  # type: ignore[union-attr]


def test_every_pair_is_a_known_region_of_the_same_cloud() -> None:
    for cloud, table in azure_ranges.REGIONS.items():
        for region in table.values():
            assert region.source, region
            if region.pair is not None:
                assert region.pair in table, (cloud, region)


def test_tag_names() -> None:
    names = {
        ("AzureCloud", "eastus"): "AzureMachineLearning.EastUS",
        ("AzureCloud", "westus2"): "AzureMachineLearning.WestUS2",
        ("AzureCloud", "uksouth"): "AzureMachineLearning.UKSouth",
        ("AzureChinaCloud", "chinaeast2"): "AzureMachineLearning.ChinaEast2",
        ("AzureUSGovernment", "usgovvirginia"): "AzureMachineLearning.USGovVirginia",
    }
    for (cloud, region), tag in names.items():
        assert azure_ranges.find_region(cloud, region).tag == tag  # type: ignore[union-attr]


# -- CIDR coverage ---------------------------------------------------------------------------


def nets(*items: str) -> list[Any]:
    return [azure_ranges.parse_range(i) for i in items]


def test_coverage_exact_supernet_and_union() -> None:
    result = azure_ranges.coverage(
        ["20.42.0.240/28", "40.71.11.64/28", "13.86.195.16/28"],
        nets("20.42.0.0/24", "40.71.11.64/29", "40.71.11.72/29"),
    )
    # the second prefix is covered only by the union of two adjacent /29s
    assert result.covered == ["20.42.0.240/28", "40.71.11.64/28"]
    assert result.outside == ["13.86.195.16/28"] and not result.partial
    assert not result.complete


def test_coverage_partial_and_single_addresses() -> None:
    result = azure_ranges.coverage(["10.0.0.0/30"], nets("10.0.0.1", "10.0.0.2/32"))
    assert result.partial == ["10.0.0.0/30"]
    assert result.missing == ["10.0.0.0/30"]
    full = azure_ranges.coverage(
        ["10.0.0.0/31", "10.0.0.5/32"], nets("10.0.0.0", "10.0.0.1", "10.0.0.5")
    )
    assert full.complete


def test_coverage_ipv6_and_mixed_versions() -> None:
    result = azure_ranges.coverage(
        ["2603:1030:210::300/123", "20.42.0.240/28"],
        nets("2603:1030:210::/48", "0.0.0.0/32"),
    )
    assert result.covered == ["2603:1030:210::300/123"]
    assert result.outside == ["20.42.0.240/28"]
    single = azure_ranges.coverage(["2001:db8::1/128"], nets("2001:db8::1"))
    assert single.complete
    # an IPv4 range never covers an IPv6 prefix, however wide
    assert azure_ranges.coverage(["::/0"], nets("0.0.0.0/0")).outside == ["::/0"]


def test_parse_range_tolerates_host_bits_and_rejects_junk() -> None:
    assert str(azure_ranges.parse_range(" 10.0.0.5/24 ")) == "10.0.0.0/24"
    assert str(azure_ranges.parse_range("1.2.3.4")) == "1.2.3.4/32"
    for bad in ("", "10.0.0.0/33", "example.com", "1.2.3"):
        with pytest.raises(ValueError):
            azure_ranges.parse_range(bad)


def test_minimal_merges_for_the_command_line() -> None:
    assert azure_ranges.minimal(
        ["10.0.0.0/25", "10.0.0.128/25", "2001:db8::/33", "1.2.3.4/32"]
    ) == [
        "1.2.3.4/32",
        "10.0.0.0/24",
        "2001:db8::/33",
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**16 - 1), st.integers(16, 32)), min_size=1, max_size=6),
    st.tuples(st.integers(0, 2**16 - 1), st.integers(16, 32)),
)
def test_coverage_agrees_with_address_sets(
    ranges_spec: list[tuple[int, int]], prefix_spec: tuple[int, int]
) -> None:
    """Coverage by the collapsed union equals coverage address by address (in a /16)."""

    def net(spec: tuple[int, int]) -> ipaddress.IPv4Network:
        offset, length = spec
        return ipaddress.ip_network(
            (int(ipaddress.ip_address("10.0.0.0")) + offset, length), strict=False
        )  # type: ignore[return-value]

    ranges = [net(s) for s in ranges_spec]
    prefix = net(prefix_spec)
    result = azure_ranges.coverage([prefix], ranges)

    def inside(address: ipaddress.IPv4Address) -> bool:
        return any(address in r for r in ranges)

    first, last = prefix.network_address, prefix.broadcast_address
    if prefix.num_addresses <= 4096:
        addresses = list(prefix)
        all_in = all(inside(a) for a in addresses)
        any_in = any(inside(a) for a in addresses)
        assert (str(prefix) in result.covered) == all_in
        assert (str(prefix) in result.outside) == (not any_in)
    else:  # too many to enumerate: the ends must agree with a covered verdict
        if str(prefix) in result.covered:
            assert inside(first) and inside(last)


# -- the Service Tags file -------------------------------------------------------------------


def test_service_tags_file_parses_regional_and_global_tags(tmp_path: Path) -> None:
    path = write_service_tags(tmp_path / "tags.json", "Public")
    tags = azure_ranges.load_service_tags(str(path))
    assert tags.cloud == "Public" and tags.change_number == 312
    east = tags.regional(azure_ranges.find_region("AzureCloud", "eastus"))  # type: ignore[arg-type]
    assert east is not None and east.name == "AzureMachineLearning.EastUS"
    assert east.version(4) == ["20.42.0.240/28", "40.71.11.64/28"]
    assert east.version(6) == ["2603:1030:210::300/123"]
    glob = tags.global_tag()
    assert glob is not None and "13.86.195.16/28" in glob.prefixes
    assert tags.regional("westeurope") is None
    assert azure_ranges.file_cloud_matches("AzureCloud", tags.cloud)
    assert not azure_ranges.file_cloud_matches("AzureChinaCloud", tags.cloud)


def test_service_tags_other_services_are_not_azure_ml(tmp_path: Path) -> None:
    document = service_tags(
        "Public",
        {
            "AzureMachineLearning.EastUS": ["20.42.0.240/28"],
            "AzureMachineLearningInference.EastUS": ["1.1.1.0/24"],
            "Storage.EastUS": ["2.2.2.0/24"],
        },
    )
    path = tmp_path / "tags.json"
    path.write_text(json.dumps(document))
    tags = azure_ranges.load_service_tags(str(path))
    assert {t.name for t in tags.tags} == {"AzureMachineLearning", "AzureMachineLearning.EastUS"}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "the file is empty"),
        ("{not json", "not valid JSON (line 1 column 2"),
        ("[]", "not a Service Tags file"),
        ('{"values": {}}', "not a Service Tags file"),
        ('{"values": [1]}', "values[0] is not an object"),
        ('{"values": [{"name": "AzureMachineLearning"}]}', "has no 'properties' object"),
        (
            '{"values": [{"name": "AzureMachineLearning.EastUS", "properties": '
            '{"addressPrefixes": ["1.2.3.0/99"]}}]}',
            "tag AzureMachineLearning.EastUS: '1.2.3.0/99' is not an IP prefix",
        ),
        (
            '{"values": [{"name": "Storage", "properties": {"addressPrefixes": []}}]}',
            "no AzureMachineLearning service tag",
        ),
    ],
)
def test_malformed_service_tags(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=None) as info:
        azure_ranges.validate_service_tags(str(path))
    assert reason in str(info.value)


# -- aks_json and workspace_id ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "a JSON list"),
        ("text", "expected a JSON object"),
        ({"name": "x"}, "not an AKS cluster (no agentPoolProfiles)"),
        ({"type": "Microsoft.Kubernetes/connectedClusters"}, "not an AKS cluster"),
        ({"agentPoolProfiles": {}}, "agentPoolProfiles is dict, expected a list"),
        ({"agentPoolProfiles": [], "identity": "SystemAssigned"}, "identity is str"),
        ({"agentPoolProfiles": [], "disableLocalAccounts": "no"}, "expected true or false"),
        (
            {"agentPoolProfiles": [], "apiServerAccessProfile": {"authorizedIPRanges": ["x/1"]}},
            "authorizedIPRanges[0]: 'x/1' is not an IP address or CIDR range",
        ),
    ],
)
def test_malformed_aks_documents(document: Any, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        cluster_document(document)
    assert reason in str(info.value)


def test_aks_documents_in_both_shapes() -> None:
    flat = {"agentPoolProfiles": [], "identity": {"type": "SystemAssigned"}}
    assert cluster_document(flat) is flat
    arm = {"type": "Microsoft.ContainerService/ManagedClusters", "properties": {}}
    assert cluster_document(arm) is arm


def test_workspace_id_validation() -> None:
    validate_workspace_id(
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
    )
    for bad in (
        "ws-name",
        "/subscriptions/s/resourceGroups/g",
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/c",
    ):
        with pytest.raises(ValueError, match="not a workspace resource id"):
            validate_workspace_id(bad)


# -- small helpers ---------------------------------------------------------------------------


def test_gpu_sizes() -> None:
    for size in (
        "Standard_NC6s_v3",
        "standard_nd96asr_v4",
        "Standard_NV36ads_A10_v5",
        "Standard_NC24ads_A100_v4",
        "Standard_NG32ads_V620_v1",
    ):
        assert is_gpu_size(size), size
    for size in ("Standard_D4s_v3", "Standard_E8s_v5", "Standard_NP10s", None, ""):
        assert not is_gpu_size(size), size


def test_nodes_by_pool() -> None:
    def node(name: str, pool: str | None, ready: str, instance: str) -> dict[str, Any]:
        labels = {"node.kubernetes.io/instance-type": instance}
        if pool:
            labels["kubernetes.azure.com/agentpool"] = pool
        return {
            "metadata": {"name": name, "labels": labels},
            "status": {"conditions": [{"type": "Ready", "status": ready}]},
        }

    pools = nodes_by_pool(
        [
            node("a", "sys", "True", "Standard_D4s_v3"),
            node("b", "sys", "False", "Standard_D4s_v3"),
            node("c", "gpu", "True", "Standard_NC6s_v3"),
            node("d", None, "True", "x"),
        ]
    )
    assert set(pools) == {"sys", "gpu"}
    assert (pools["sys"].total, pools["sys"].ready) == (2, 1)
    assert dict(pools["gpu"].instance_types) == {"Standard_NC6s_v3": 1}


def jwt(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(payload)}.sig"


def test_token_audiences() -> None:
    match = azure_credentials.audience_matches
    assert match("https://management.azure.com/", "https://management.azure.com/")
    assert match("https://management.core.windows.net/", "https://management.azure.com/")
    assert match(
        "https://management.core.chinacloudapi.cn/", "https://management.chinacloudapi.cn/"
    )
    assert match("https://management.azure.com", "https://management.chinacloudapi.cn/") is False
    assert match("797f4846-ba00-4fd7-ba43-dac1f8f63013", "https://management.azure.com/") is None
    assert azure_credentials.cloud_of("https://management.core.usgovcloudapi.net/") == (
        "AzureUSGovernment"
    )
    claims = azure_credentials.claims(jwt({"aud": "https://management.azure.com/", "exp": 1}))
    assert claims == {"aud": "https://management.azure.com/", "exp": 1}
    assert azure_credentials.claims("opaque-token") is None
    assert azure_credentials.claims("a.!!!.c") is None


# -- the engine hook: --set files validated before the run -----------------------------------


def _registry_with(validators: dict[str, Any]) -> Registry:
    class FileCheck(Check):
        id = "test.files"
        title = "files"

        def run(self, ctx: Context) -> list[Finding]:
            return [Finding.passed(None, "ok")]

    FileCheck.validators = validators
    registry = Registry()
    registry.add(FileCheck(), "test")
    return registry


def test_validators_turn_value_errors_into_usage_errors(tmp_path: Path) -> None:
    seen: list[str] = []

    def must_be_json(path: str) -> None:
        seen.append(path)
        json.loads(Path(path).read_text())

    registry = _registry_with({"data": must_be_json})
    good = tmp_path / "good.json"
    good.write_text("{}")
    validate_parameters({"data": str(good), "other": "x"}, registry)
    assert seen == [str(good)]
    validate_parameters({}, registry)  # not given: not validated
    validate_parameters({"data": ""}, registry)
    assert seen == [str(good)]
    bad = tmp_path / "bad.json"
    bad.write_text("{oops\n")
    with pytest.raises(UsageError) as info:
        validate_parameters({"data": str(bad)}, registry)
    text = str(info.value)
    assert text.startswith(f"--set data={bad}: ") and "\n" not in text
    with pytest.raises(UsageError, match="cannot read: No such file or directory"):
        validate_parameters({"data": str(tmp_path / "missing.json")}, registry)


def test_a_validator_bug_is_not_a_usage_error() -> None:
    def buggy(value: str) -> None:
        raise RuntimeError("validator bug")

    validate_parameters({"data": "x"}, _registry_with({"data": buggy}))
