"""``--set aks_json=FILE``: the Azure checks on the output of ``az aks show -o json``, with no
Azure credentials and no call to Azure Resource Manager (a CI gate), through the real CLI; and
malformed input files as one line and exit 2 before anything runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.azure_objects import DEFAULT_SUB, agent_pool, managed_cluster, write_service_tags
from support.azure_run import az_aks_show

from tests.clirun import Result, no_azure_credentials, one_line_exit_2, preflight

WORKSPACE = (
    f"/subscriptions/{DEFAULT_SUB}/resourceGroups/ml/providers/"
    "Microsoft.MachineLearningServices/workspaces/ws"
)
OTHER_SUB = "99999999-8888-7777-6666-555555555555"
IN_WINDOW = "1.36.2"  # inside the built-in profiles' N-2 window


def write_cluster(tmp_path: Path, **kwargs: Any) -> Path:
    kwargs.setdefault("kubernetes_version", IN_WINDOW)
    body = managed_cluster("aks1", DEFAULT_SUB, "rg1", **kwargs)
    path = tmp_path / "aks.json"
    path.write_text(json.dumps(az_aks_show(body), indent=2))
    return path


def run(tmp_path: Path, *args: str, profile: str = "azure-public") -> Result:
    checks = (
        "azure.cluster",
        "azure.identity",
        "azure.local-accounts",
        "azure.authorized-ip-ranges",
        "azure.subscription",
    )
    selection = [x for c in checks for x in ("--check", c)]
    return preflight(
        "run",
        "--profile",
        profile,
        "--format",
        "json,html,junit,md",
        *selection,
        *args,
        env=no_azure_credentials(tmp_path),
        out=tmp_path / "out",
    )


def test_offline_managed_identity_cluster_passes(tmp_path: Path) -> None:
    aks = write_cluster(tmp_path)
    result = run(tmp_path, "--set", f"aks_json={aks}", "--set", f"workspace_id={WORKSPACE}")
    assert result.code == 0, result.stdout
    found = result.by_check()
    (identity,) = found["azure.identity"]
    assert identity["status"] == "pass"
    assert "system-assigned managed identity" in identity["message"]
    assert identity["details"]["source"] == "aks_json"
    assert [f["status"] for f in found["azure.local-accounts"]] == ["pass"]
    (ranges,) = found["azure.authorized-ip-ranges"]
    assert ranges["status"] == "pass" and "sets no authorized IP ranges" in ranges["message"]
    (subscription,) = found["azure.subscription"]
    assert subscription["status"] == "pass"
    assert subscription["details"]["cluster_subscription_from"] == f"aks_json {aks}"
    statuses = {f["target"]: f["status"] for f in found["azure.cluster"]}
    assert statuses == {"aks1": "pass", "kubernetesVersion": "pass", "agentpool/nodepool1": "pass"}
    version = next(f for f in found["azure.cluster"] if f["target"] == "kubernetesVersion")
    assert version["details"]["compared_with_api_server"] is False


def test_offline_service_principal_and_disabled_local_accounts_fail(tmp_path: Path) -> None:
    aks = write_cluster(tmp_path, identity=None, disable_local_accounts=True)
    result = run(tmp_path, "--set", f"aks_json={aks}")
    assert result.code == 1
    found = result.by_check()
    (identity,) = found["azure.identity"]
    assert identity["status"] == "fail"
    assert "uses a service principal" in identity["message"]
    assert "--enable-managed-identity" in identity["remediation"]
    assert "recreate all node pools" in identity["remediation"]
    assert identity["docs"] == "https://learn.microsoft.com/azure/aks/use-managed-identity"
    (local,) = found["azure.local-accounts"]
    assert local["status"] == "fail"
    assert "az aks update -g rg1 -n aks1 --enable-local-accounts" in local["remediation"]
    assert "manage-local-accounts" in local["docs"]
    # no workspace named: the subscription check says how to name one
    (subscription,) = found["azure.subscription"]
    assert subscription["status"] == "skip" and "--set workspace_id=" in subscription["remediation"]


def test_offline_converted_cluster_and_pod_identity(tmp_path: Path) -> None:
    aks = write_cluster(
        tmp_path,
        sp_client_id="0b4e0c3c-1111-2222-3333-444455556666",
        podIdentityProfile={"enabled": True},
    )
    found = run(tmp_path, "--set", f"aks_json={aks}").by_check()
    by_target = {f["target"]: f for f in found["azure.identity"]}
    converted = by_target["identity"]
    assert converted["status"] == "fail"
    assert "still the service principal 0b4e0c3c" in converted["message"]
    assert "delete and recreate every node pool" in converted["remediation"]
    pod = by_target["podIdentityProfile"]
    assert pod["status"] == "fail" and "pod identity" in pod["message"]


def test_offline_authorized_ranges_without_the_service_tags_file_warn_with_the_link(
    tmp_path: Path,
) -> None:
    aks = write_cluster(tmp_path, authorized_ranges=["20.42.0.0/24"])
    result = run(tmp_path, "--set", f"aks_json={aks}")
    (finding,) = result.by_check()["azure.authorized-ip-ranges"]
    assert finding["status"] == "warn"
    assert "eastus and its pair westus" in finding["message"]
    assert "https://www.microsoft.com/download/details.aspx?id=56519" in finding["remediation"]
    assert finding["docs"] == "https://www.microsoft.com/download/details.aspx?id=56519"
    assert "AzureMachineLearning.EastUS and AzureMachineLearning.WestUS" in finding["remediation"]
    china = write_cluster(tmp_path, location="chinaeast2", authorized_ranges=["40.73.40.0/24"])
    result = run(tmp_path, "--set", f"aks_json={china}", profile="azure-china")
    (finding,) = result.by_check()["azure.authorized-ip-ranges"]
    assert "id=57062" in finding["remediation"] and "chinanorth2" in finding["message"]
    gov = write_cluster(tmp_path, location="usgovvirginia", authorized_ranges=["20.140.0.0/16"])
    result = run(tmp_path, "--set", f"aks_json={gov}", profile="azure-usgov")
    (finding,) = result.by_check()["azure.authorized-ip-ranges"]
    assert "id=57063" in finding["remediation"] and "usgovtexas" in finding["message"]


def test_offline_authorized_ranges_compared_with_the_service_tags(tmp_path: Path) -> None:
    tags = write_service_tags(tmp_path, "Public")
    # EastUS: 20.42.0.240/28, 40.71.11.64/28 (+ an IPv6 prefix); WestUS: 13.86.195.16/28,
    # 40.82.248.80/28. Two /29 halves cover 40.71.11.64/28; a bare address is a /32.
    both = write_cluster(
        tmp_path,
        authorized_ranges=[
            "203.0.113.7",
            "20.42.0.0/24",
            "40.71.11.64/29",
            "40.71.11.72/29",
            "13.86.195.0/24",
            "40.82.248.80/28",
        ],
    )
    result = run(tmp_path, "--set", f"aks_json={both}", "--set", f"service_tags={tags}")
    found = {f["target"]: f for f in result.by_check()["azure.authorized-ip-ranges"]}
    assert set(found) == {"AzureMachineLearning.EastUS", "AzureMachineLearning.WestUS"}
    assert all(f["status"] == "pass" for f in found.values()), found
    assert found["AzureMachineLearning.EastUS"]["details"]["ipv6_prefixes_considered"] is False
    assert result.code == 0

    east_only = write_cluster(tmp_path, authorized_ranges=["20.42.0.0/24", "40.71.11.0/24"])
    result = run(tmp_path, "--set", f"aks_json={east_only}", "--set", f"service_tags={tags}")
    assert result.code == 1
    found = {f["target"]: f for f in result.by_check()["azure.authorized-ip-ranges"]}
    assert found["AzureMachineLearning.EastUS"]["status"] == "pass"
    west = found["AzureMachineLearning.WestUS"]
    assert west["status"] == "fail"
    assert "leave out 2 of 2 prefix(es) of AzureMachineLearning.WestUS" in west["message"]
    assert "paired region of eastus" in west["message"]
    assert "machine learning pods" in west["message"]
    assert west["details"]["missing_prefixes"] == ["13.86.195.16/28", "40.82.248.80/28"]
    assert (
        "az aks update -g rg1 -n aks1 --api-server-authorized-ip-ranges "
        "13.86.195.16/28,20.42.0.0/24,40.71.11.0/24,40.82.248.80/28" in west["remediation"]
    )
    assert west["docs"] == "https://learn.microsoft.com/azure/aks/api-server-authorized-ip-ranges"


def test_offline_ipv6_ranges_bring_the_ipv6_prefixes_in(tmp_path: Path) -> None:
    tags = write_service_tags(tmp_path, "Public")
    aks = write_cluster(
        tmp_path,
        authorized_ranges=[
            "20.42.0.0/24",
            "40.71.11.64/28",
            "2001:db8::/32",
            "13.86.195.16/28",
            "40.82.248.80/28",
        ],
    )
    result = run(tmp_path, "--set", f"aks_json={aks}", "--set", f"service_tags={tags}")
    found = {f["target"]: f for f in result.by_check()["azure.authorized-ip-ranges"]}
    east = found["AzureMachineLearning.EastUS"]
    assert east["status"] == "fail"
    assert east["details"]["missing_prefixes"] == ["2603:1030:210::300/123"]
    assert found["AzureMachineLearning.WestUS"]["status"] == "pass"


def test_offline_service_tags_of_another_cloud_is_an_error(tmp_path: Path) -> None:
    tags = write_service_tags(tmp_path, "China")
    aks = write_cluster(tmp_path, authorized_ranges=["20.42.0.0/24"])
    result = run(tmp_path, "--set", f"aks_json={aks}", "--set", f"service_tags={tags}")
    (finding,) = result.by_check()["azure.authorized-ip-ranges"]
    assert finding["status"] == "error"
    assert "cloud China" in finding["message"] and "AzureCloud" in finding["message"]
    assert "id=56519" in finding["remediation"]


def test_offline_private_cluster_has_no_ranges_to_check(tmp_path: Path) -> None:
    aks = write_cluster(tmp_path, private=True)
    (finding,) = run(tmp_path, "--set", f"aks_json={aks}").by_check()["azure.authorized-ip-ranges"]
    assert finding["status"] == "pass" and "private cluster" in finding["message"]
    assert finding["details"]["private_cluster"] is True


def test_offline_cross_subscription(tmp_path: Path) -> None:
    aks = write_cluster(tmp_path)
    other = WORKSPACE.replace(DEFAULT_SUB, OTHER_SUB)
    result = run(tmp_path, "--set", f"aks_json={aks}", "--set", f"workspace_id={other}")
    (finding,) = result.by_check()["azure.subscription"]
    assert finding["status"] == "fail"
    assert "cross-subscription attach needs Azure Arc" in finding["message"]
    assert f"az connectedk8s connect --subscription {OTHER_SUB}" in finding["remediation"]


def test_offline_old_version_and_stopped_pool(tmp_path: Path) -> None:
    aks = write_cluster(
        tmp_path,
        kubernetes_version="1.28.3",
        pools=[
            agent_pool("system", 3, mode="System"),
            agent_pool("gpu", 2, "Standard_NC6s_v3", power_state="Stopped"),
        ],
    )
    found = {
        f["target"]: f
        for f in run(tmp_path, "--set", f"aks_json={aks}").by_check()["azure.cluster"]
    }
    assert found["kubernetesVersion"]["status"] == "fail"
    assert "older than the supported window" in found["kubernetesVersion"]["message"]
    gpu = found["agentpool/gpu"]
    assert gpu["status"] == "warn" and gpu["details"]["gpu"] is True
    assert "az aks nodepool start -g rg1 --cluster-name aks1 -n gpu" in gpu["remediation"]
    assert found["agentpool/system"]["status"] == "pass"


def test_offline_run_needs_no_azure_at_all(
    tmp_path: Path, fake_arm: Any, azure_profile: Any, ca_bundle: Path
) -> None:
    """With aks_json the cluster checks never ask ARM, even when cluster parameters are given."""
    arm = fake_arm()
    profile = azure_profile(arm=arm.url, imds="http://127.0.0.1:9")
    aks = write_cluster(tmp_path)
    result = run(
        tmp_path,
        "--ca-bundle",
        str(ca_bundle),
        "--set",
        f"aks_json={aks}",
        "--set",
        f"subscription_id={DEFAULT_SUB}",
        "--set",
        "resource_group=rg1",
        "--set",
        "cluster_name=aks1",
        profile=str(profile),
    )
    assert result.code == 0, result.stdout
    assert arm.requests == []


def test_missing_parameters_skip_with_the_set_to_add(tmp_path: Path) -> None:
    result = run(tmp_path, "--set", "cluster_name=aks1")
    assert result.code == 0
    for finding in result.findings():
        if finding["check"] in ("azure.subscription", "preflight.coverage"):
            continue
        assert finding["status"] == "skip", finding
        assert "subscription_id, resource_group not set" in finding["message"]
        assert "--set subscription_id=<subscription-id>" in finding["remediation"]
        assert "--set aks_json=" in finding["remediation"]


# -- bad input files: one line, exit 2, nothing run ------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("aks_json", '{"name": "aks1",\n "agentPoolProfiles": [', "not valid JSON (line 2"),
        ("aks_json", "[]", "a JSON list"),
        ("aks_json", '{"kind": "x"}', "not an AKS cluster"),
        ("aks_json", "", "the file is empty"),
        ("service_tags", '{"values": []}', "no AzureMachineLearning service tag"),
        ("service_tags", "{", "not valid JSON"),
    ],
)
def test_malformed_files_are_exit_2_before_the_run(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    path = tmp_path / "input.json"
    path.write_text(content)
    # even when only DNS checks are selected: a bad file named on the command line is bad input
    result = preflight("run", "--check", "dns.*", "--set", f"{name}={path}", out=tmp_path / "out")
    one_line_exit_2(result, f"--set {name}={path}: ", expected)
    assert not (tmp_path / "out" / "report.json").exists()


def test_missing_file_and_bad_workspace_id_are_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = preflight("run", "--set", f"aks_json={missing}", out=tmp_path / "out")
    one_line_exit_2(result, f"--set aks_json={missing}: cannot read: No such file or directory")
    result = preflight("run", "--set", "workspace_id=my-workspace", out=tmp_path / "out")
    one_line_exit_2(result, "--set workspace_id=my-workspace: not a workspace resource id")


def test_offline_uncertain_unpaired_and_unknown_pairs(tmp_path: Path) -> None:
    gov_tags = write_service_tags(
        tmp_path / "gov.json",
        "AzureGovernment",
        {
            "AzureMachineLearning.USGovTexas": ["20.140.48.0/28"],
            "AzureMachineLearning.USGovArizona": ["52.244.32.64/28"],
        },
    )
    texas = write_cluster(tmp_path, location="usgovtexas", authorized_ranges=["20.140.48.0/24"])
    result = run(
        tmp_path,
        "--set",
        f"aks_json={texas}",
        "--set",
        f"service_tags={gov_tags}",
        profile="azure-usgov",
    )
    found = {f["target"]: f for f in result.by_check()["azure.authorized-ip-ranges"]}
    assert found["AzureMachineLearning.USGovTexas"]["status"] == "pass"
    arizona = found["AzureMachineLearning.USGovArizona"]
    assert arizona["status"] == "warn"  # the Texas -> Arizona pair is not certain: no failure
    assert "the pair is uncertain" in arizona["message"]
    assert result.code == 0

    tags = write_service_tags(
        tmp_path / "public.json", "Public", {"AzureMachineLearning.IsraelCentral": ["51.4.0.0/28"]}
    )
    israel = write_cluster(tmp_path, location="israelcentral", authorized_ranges=["51.4.0.0/24"])
    result = run(tmp_path, "--set", f"aks_json={israel}", "--set", f"service_tags={tags}")
    found = {f["target"]: f for f in result.by_check()["azure.authorized-ip-ranges"]}
    assert found["AzureMachineLearning.IsraelCentral"]["status"] == "pass"
    assert found["paired region"]["status"] == "pass"
    assert "has no paired region" in found["paired region"]["message"]

    mars = write_cluster(tmp_path, location="marsnorth", authorized_ranges=["51.4.0.0/24"])
    result = run(tmp_path, "--set", f"aks_json={mars}", "--set", f"service_tags={tags}")
    found = {f["target"]: f for f in result.by_check()["azure.authorized-ip-ranges"]}
    assert found["paired region"]["status"] == "warn"
    assert "metadata.pairedRegion" in found["paired region"]["remediation"]
    # no regional tag for the region: compared with the global tag, as a warning
    fallback = found["AzureMachineLearning.<marsnorth>"]
    assert fallback["status"] == "pass" and "global tag" in fallback["message"]
