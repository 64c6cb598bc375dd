"""``azure.monitoring`` and the Azure Monitor hosts joining ``dns.resolve`` / ``egress.https``:
the real CLI against the fake ARM and a fake DNS server. The hosts come from the built-in
profiles' ``host_sets`` (profiles/*.yaml), through checks/_shared/cluster_hosts.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.azure_objects import (
    connected_cluster,
    extension,
    log_analytics_workspace,
    managed_cluster,
    oms_addon,
)
from support.azure_run import RG, SUB, VERSION, Azure, aks

from preflight.profile import load_profile
from tests.clirun import no_azure_credentials, preflight

LA = log_analytics_workspace(
    "logs", SUB, "rg-logs", customer_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
)
GUID = LA["properties"]["customerId"]
CI_HOSTS = {
    f"{GUID}.ods.opinsights.azure.com",
    f"{GUID}.oms.opinsights.azure.com",
    "dc.services.visualstudio.com",
    "global.handler.control.monitor.azure.com",
    "eastus.handler.control.monitor.azure.com",
}


@pytest.fixture
def nxdomain(dns_server: Callable[..., Any]) -> Any:
    """A resolver that knows no name (each host's dns.resolve finding is a quick fail)."""
    return dns_server()


def targets(result: Any, check: str) -> set[str]:
    return {f["target"] for f in result.findings(check)}


def test_container_insights_hosts_join_dns_and_egress(
    azure: Callable[..., Azure], nxdomain: Any
) -> None:
    env = azure([aks(addonProfiles=oms_addon(LA["id"])), LA])
    result = env.run(
        checks=("azure.monitoring", "dns.resolve", "egress.https"), nameserver=nxdomain.address
    )
    finding = result.only("azure.monitoring")
    assert finding["status"] == "pass", finding
    assert "Container Insights" in finding["message"]
    assert finding["details"]["source"] == "addonProfiles.omsagent"
    assert finding["details"]["log_analytics_workspace_id"] == GUID
    assert {h["host"] for h in finding["details"]["hosts"]} == CI_HOSTS
    assert targets(result, "dns.resolve") >= CI_HOSTS
    assert targets(result, "egress.https") >= CI_HOSTS
    ods = result.by_target("dns.resolve")[f"{GUID}.ods.opinsights.azure.com"]
    assert (
        ods["details"]["rule"] == "*.ods.opinsights.azure.com"
        or ods["details"].get("template") == "{log_analytics_workspace_id}.ods.opinsights.azure.com"
    )
    asked = {q.name.rstrip(".").lower() for q in nxdomain.queries}
    assert asked >= CI_HOSTS
    # the Log Analytics workspace was read once, with its api-version
    assert [r.api_version for r in env.arm.requests if "operationalinsights" in r.path.lower()] == [
        "2022-10-01"
    ]


def test_monitoring_off_adds_no_hosts(azure: Callable[..., Azure], nxdomain: Any) -> None:
    env = azure([aks(addonProfiles=oms_addon(LA["id"], enabled=False)), LA])
    result = env.run(checks=("azure.monitoring", "dns.resolve"), nameserver=nxdomain.address)
    finding = result.only("azure.monitoring")
    assert finding["status"] == "pass" and "neither" in finding["message"]
    assert not CI_HOSTS & targets(result, "dns.resolve")
    assert "host_sets" not in targets(result, "dns.resolve")


def test_managed_prometheus_hosts(azure: Callable[..., Azure], nxdomain: Any) -> None:
    env = azure([aks(azureMonitorProfile={"metrics": {"enabled": True}})])
    result = env.run(checks=("azure.monitoring", "dns.resolve"), nameserver=nxdomain.address)
    finding = result.only("azure.monitoring")
    assert finding["status"] == "pass" and "managed Prometheus" in finding["message"]
    hosts = targets(result, "dns.resolve")
    assert {"eastus.monitoring.azure.com", "global.handler.control.monitor.azure.com"} <= hosts
    assert not any("opinsights" in h for h in hosts)


def test_unreadable_log_analytics_workspace(azure: Callable[..., Azure], nxdomain: Any) -> None:
    env = azure([aks(addonProfiles=oms_addon(LA["id"])), LA])
    env.arm.inject(r"operationalinsights", status=403)
    result = env.run(checks=("azure.monitoring", "dns.resolve"), nameserver=nxdomain.address)
    finding = result.only("azure.monitoring")
    assert finding["status"] == "warn"
    assert "--set log_analytics_workspace_id=" in finding["remediation"]
    dns = result.by_target("dns.resolve")
    ods = dns["{log_analytics_workspace_id}.ods.opinsights.azure.com"]
    assert ods["status"] == "skip" and "log_analytics_workspace_id" in ods["message"]
    assert dns["global.handler.control.monitor.azure.com"]["status"] == "fail"
    # the user can name the workspace GUID instead
    again = env.run(
        "--set", f"log_analytics_workspace_id={GUID}", checks=("dns.resolve",),
        nameserver=nxdomain.address,
    )  # fmt: skip
    assert f"{GUID}.ods.opinsights.azure.com" in targets(again, "dns.resolve")


def test_arc_container_insights_extension(azure: Callable[..., Azure], nxdomain: Any) -> None:
    arc = connected_cluster("arc1", SUB, RG, kubernetes_version=VERSION)
    monitor = extension(
        "azuremonitor-containers",
        arc["id"],
        extension_type="Microsoft.AzureMonitor.Containers",
        release_namespace="kube-system",
        config={"logAnalyticsWorkspaceResourceID": LA["id"]},
    )
    env = azure([arc, monitor, LA])
    result = env.run(
        "--set", "cluster_type=arc", checks=("azure.monitoring", "dns.resolve"),
        cluster="arc1", nameserver=nxdomain.address,
    )  # fmt: skip
    finding = result.only("azure.monitoring")
    assert finding["status"] == "pass", finding
    assert "azuremonitor-containers" in finding["details"]["source"]
    assert targets(result, "dns.resolve") >= CI_HOSTS


def test_addon_of_a_shape_we_do_not_know_warns_naming_it(azure: Callable[..., Azure]) -> None:
    env = azure([aks(addonProfiles={"omsagent": {"enabled": "yes", "config": {}}})])
    result = env.run(checks=("azure.monitoring",))
    found = result.findings("azure.monitoring")
    assert found and all(f["status"] == "warn" for f in found)
    assert any("addonProfiles.omsagent.enabled" in f["message"] for f in found)


def test_addon_profiles_not_an_object_warns(azure: Callable[..., Azure]) -> None:
    env = azure([aks(addonProfiles=["omsagent"])])
    found = env.run(checks=("azure.monitoring",)).findings("azure.monitoring")
    assert {f["status"] for f in found} == {"warn"}
    assert any("addonProfiles is a list" in f["message"] for f in found)


def test_egress_without_credentials_says_the_hosts_are_not_known(
    azure: Callable[..., Azure], nxdomain: Any
) -> None:
    env = azure([aks(addonProfiles=oms_addon(LA["id"]))])
    result = env.run(checks=("egress.https",), token=None, nameserver=nxdomain.address)
    note = result.by_target("egress.https")["host_sets"]
    assert note["status"] == "skip"
    assert "not known" in note["message"] and "Azure credentials" in note["message"]
    assert note["details"]["host_sets"] == ["container_insights", "managed_prometheus"]
    assert not CI_HOSTS & targets(result, "egress.https")
    # no cluster named: nothing to say about it
    plain = env.run(checks=("egress.https",), token=None, cluster=None, nameserver=nxdomain.address)
    assert "host_sets" not in targets(plain, "egress.https")
    assert env.arm.requests == []


def test_offline_cluster_file_without_credentials(tmp_path: Path, dns_server: Any) -> None:
    body = managed_cluster(
        "aks1", SUB, RG, kubernetes_version=VERSION, addonProfiles=oms_addon(LA["id"])
    )
    path = tmp_path / "aks.json"
    path.write_text(json.dumps(body))
    dns = dns_server()
    result = preflight(
        "run", "--check", "azure.monitoring", "--check", "dns.resolve", "--set",
        f"aks_json={path}", "--nameserver", dns.address, "--timeout", "2", "--format", "json",
        env=no_azure_credentials(tmp_path), out=tmp_path / "out",
    )  # fmt: skip
    finding = result.only("azure.monitoring")
    assert finding["status"] == "warn" and "GUID could not be read" in finding["message"]
    hosts = targets(result, "dns.resolve")
    assert "eastus.handler.control.monitor.azure.com" in hosts
    assert "{log_analytics_workspace_id}.oms.opinsights.azure.com" in hosts


def test_profile_host_sets_are_validated(tmp_path: Path) -> None:
    profile = tmp_path / "bad.yaml"
    profile.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "cloud": "AzureCloud",
                "hosts": [{"host": "a.example"}],
                "host_sets": {"container_insights": [{"host": "b.example", "prot": 1}]},
            }
        )
    )
    result = preflight("run", "--profile", str(profile), "--check", "dns.resolve")
    assert result.code == 2
    assert "bad.yaml:" in result.stderr and "'prot'" in result.stderr
    assert "Traceback" not in result.stderr
    profile.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "cloud": "AzureCloud",
                "hosts": [{"host": "a.example"}],
                "host_sets": {"container_insights": "b.example"},
            }
        )
    )
    result = preflight("run", "--profile", str(profile), "--check", "dns.resolve")
    assert result.code == 2 and "host_sets.container_insights" in result.stderr


def test_builtin_profiles_carry_the_monitor_hosts_of_their_cloud() -> None:
    suffixes = {"azure-public": "azure.com", "azure-china": "azure.cn", "azure-usgov": "azure.us"}
    for name, suffix in suffixes.items():
        profile = load_profile(name)
        templates = {h.template for h in profile.host_sets["container_insights"]}
        assert f"{{log_analytics_workspace_id}}.ods.opinsights.{suffix}" in templates
        assert f"global.handler.control.monitor.{suffix}" in templates
        assert f"{{cluster_region}}.handler.control.monitor.{suffix}" in templates
        assert all(
            "outbound-rules-control-egress" in (h.docs or "")
            for h in profile.host_sets["container_insights"]
        )


def test_a_host_in_both_sets_is_checked_once(azure: Callable[..., Azure], nxdomain: Any) -> None:
    cluster = aks(
        addonProfiles=oms_addon(LA["id"]), azureMonitorProfile={"metrics": {"enabled": True}}
    )
    env = azure([cluster, LA])
    result = env.run(checks=("azure.monitoring", "dns.resolve"), nameserver=nxdomain.address)
    finding = result.only("azure.monitoring")
    assert finding["details"]["host_sets"] == ["container_insights", "managed_prometheus"]
    listed = [f["target"] for f in result.findings("dns.resolve")]
    assert listed.count("global.handler.control.monitor.azure.com") == 1
    assert "eastus.monitoring.azure.com" in listed and set(listed) >= CI_HOSTS
