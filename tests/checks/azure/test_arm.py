"""The Azure checks end to end: the real CLI against a fake HTTPS Azure Resource Manager (and
IMDS, and a fake ``az`` on PATH), asserting on report.json.

Every test points the profile's ``endpoints.arm`` and ``endpoints.imds`` at loopback (a fake, or
a port that refuses), takes ``az`` off PATH unless a fake one is wanted and blanks
``AZURE_ACCESS_TOKEN`` unless the test sets it, so nothing here can reach a real Azure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.arm_server import FakeImds
from support.azure_objects import (
    agent_pool,
    cluster_id,
    connected_cluster,
    provider,
    workspace,
    write_service_tags,
)
from support.azure_run import RG, SUB, TOKEN, VERSION, Azure, aks, workspace_id
from support.fake_az import FakeAz
from support.kube_objects import node

from tests.clirun import Result

OTHER_SUB = "99999999-8888-7777-6666-555555555555"
WORKSPACE = workspace_id()
AKS_PROVIDERS = (
    "Microsoft.KubernetesConfiguration",
    "Microsoft.ContainerService",
    "Microsoft.MachineLearningServices",
)
ARC_PROVIDERS = (
    "Microsoft.KubernetesConfiguration",
    "Microsoft.Kubernetes",
    "Microsoft.MachineLearningServices",
    "Microsoft.ExtendedLocation",  # Arc custom locations and cluster connect
    "Microsoft.Relay",  # the extension's relay on Arc (az k8s-extension creates one)
)
TOKEN_SOURCES = ("AZURE_ACCESS_TOKEN", "az login", "managed identity")


def providers(
    namespaces: tuple[str, ...] = AKS_PROVIDERS, sub: str = SUB, **states: str
) -> list[dict[str, Any]]:
    return [provider(ns, states.get(ns.split(".")[1], "Registered"), sub=sub) for ns in namespaces]


def assert_token_nowhere(result: Result, token: str = TOKEN) -> None:
    assert token not in result.stdout and token not in result.stderr
    assert result.out is not None
    for path in result.out.iterdir():
        assert token not in path.read_text(errors="replace"), path


# -- the happy path, and speed ---------------------------------------------------------------


def test_managed_identity_cluster_in_azure_passes_every_check(azure: Callable[..., Azure]) -> None:
    env = azure([aks(), *providers(), workspace("ws", SUB, "ml")])
    result = env.run("--set", f"workspace_id={WORKSPACE}")
    assert result.code == 0, result.stdout
    found = result.by_check()
    assert set(found) == {
        "azure.authorized-ip-ranges",
        "azure.cli",
        "azure.cluster",
        "azure.credentials",
        "azure.identity",
        "azure.local-accounts",
        "azure.monitoring",
        "azure.outbound",
        "azure.policy",
        "azure.providers",
        "azure.region",
        "azure.subscription",
    }
    for check, findings in found.items():
        expected = "skip" if check == "azure.cli" else "pass"  # no az on PATH
        assert {f["status"] for f in findings} == {expected}, (check, findings)
    credentials = result.only("azure.credentials")
    assert credentials["target"] == "env"
    assert "AZURE_ACCESS_TOKEN environment variable" in credentials["message"]
    assert credentials["details"]["tried"][0] == {"source": "env", "outcome": "used"}
    assert {f["target"] for f in found["azure.providers"]} == set(AKS_PROVIDERS)
    identity = result.only("azure.identity")
    assert identity["details"]["source"] == "arm"
    cluster = {f["target"]: f for f in found["azure.cluster"]}
    assert "aks1 (eastus)" in cluster["aks1"]["message"]
    assert cluster["aks1"]["details"]["resource_id"] == cluster_id("aks1", SUB, RG)
    # one read of the cluster for five checks, one GET per provider, current api-versions
    paths = [(r.path, r.api_version) for r in env.arm.requests]
    assert paths.count((cluster_id("aks1", SUB, RG), "2024-09-01")) == 1
    assert sorted(p for p in paths if "/providers/Microsoft." in p[0] and p[0].count("/") == 4) == [
        (f"/subscriptions/{SUB}/providers/{ns}", "2021-04-01") for ns in sorted(AKS_PROVIDERS)
    ]
    # and the workspace once (azure.region), the policy assignments that apply (azure.policy)
    assert paths.count((WORKSPACE, paths[-1][1])) <= 1
    assert_token_nowhere(result)


def test_all_arm_calls_of_a_run_are_concurrent(azure: Callable[..., Azure]) -> None:
    env = azure([aks(), *providers()])
    env.arm.inject(r"/providers/Microsoft\.", delay=2.0)
    result = env.run(
        "--set", f"workspace_id={WORKSPACE}", checks=("azure.cluster", "azure.providers")
    )
    assert result.code == 0, result.stdout
    requests = env.arm.requests
    assert len(requests) == 4
    # every request was sent before the first answer came back (each takes 2 s): concurrent
    first_answer = min(r.started + (r.duration or 0) for r in requests)
    assert all(r.started < first_answer for r in requests)


# -- identity --------------------------------------------------------------------------------


def test_user_assigned_identity(azure: Callable[..., Azure]) -> None:
    env = azure([aks(identity="UserAssigned")])
    finding = env.run(checks=("azure.identity",)).only("azure.identity")
    assert finding["status"] == "pass"
    assert "user-assigned managed identity (aks1-identity)" in finding["message"]


def test_service_principal_cluster_fails(azure: Callable[..., Azure]) -> None:
    env = azure([aks(identity=None, sp_client_id="3f2504e0-4f89-11d3-9a0c-0305e82c3301")])
    result = env.run(checks=("azure.identity",))
    assert result.code == 1
    finding = result.only("azure.identity")
    assert finding["status"] == "fail"
    assert "service principal (3f2504e0-4f89-11d3-9a0c-0305e82c3301)" in finding["message"]
    assert f"az aks update -g {RG} -n aks1 --enable-managed-identity" in finding["remediation"]
    assert finding["docs"].startswith("https://learn.microsoft.com/")


def test_local_accounts_disabled_fails(azure: Callable[..., Azure]) -> None:
    env = azure([aks(disable_local_accounts=True)])
    finding = env.run(checks=("azure.local-accounts",)).only("azure.local-accounts")
    assert finding["status"] == "fail"
    assert finding["target"] == "disableLocalAccounts"
    assert "--enable-local-accounts" in finding["remediation"]


# -- authorized IP ranges --------------------------------------------------------------------


def test_authorized_ranges_covering_both_paired_regions(
    azure: Callable[..., Azure], tmp_path: Path
) -> None:
    tags = write_service_tags(tmp_path, "Public")
    env = azure(
        [
            aks(
                authorized_ranges=[
                    "20.42.0.240/28",
                    "40.71.11.64/28",
                    "13.86.195.0/24",
                    "40.82.0.0/16",
                ]
            )
        ]
    )
    result = env.run("--set", f"service_tags={tags}", checks=("azure.authorized-ip-ranges",))
    statuses = {f["target"]: f["status"] for f in result.findings()}
    assert statuses == {
        "AzureMachineLearning.EastUS": "pass",
        "AzureMachineLearning.WestUS": "pass",
    }


def test_authorized_ranges_missing_the_paired_region(
    azure: Callable[..., Azure], tmp_path: Path
) -> None:
    tags = write_service_tags(tmp_path, "Public")
    env = azure([aks(authorized_ranges=["20.42.0.0/24", "40.71.11.64/28"])])
    result = env.run("--set", f"service_tags={tags}", checks=("azure.authorized-ip-ranges",))
    assert result.code == 1
    found = {f["target"]: f for f in result.findings()}
    assert found["AzureMachineLearning.EastUS"]["status"] == "pass"
    west = found["AzureMachineLearning.WestUS"]
    assert west["status"] == "fail"
    assert west["details"]["missing_prefixes"] == ["13.86.195.16/28", "40.82.248.80/28"]
    assert "--api-server-authorized-ip-ranges" in west["remediation"]


def test_authorized_ranges_missing_the_cluster_region_without_the_file(
    azure: Callable[..., Azure],
) -> None:
    env = azure([aks(authorized_ranges=["198.51.100.0/24"])])
    finding = env.run(checks=("azure.authorized-ip-ranges",)).only("azure.authorized-ip-ranges")
    assert finding["status"] == "warn"
    assert "details.aspx?id=56519" in finding["remediation"]
    assert finding["details"]["authorized_ip_ranges"] == ["198.51.100.0/24"]


def test_authorized_ranges_in_china_with_the_china_file(
    azure: Callable[..., Azure], tmp_path: Path
) -> None:
    tags = write_service_tags(tmp_path, "China")
    cluster = aks(location="chinaeast2", authorized_ranges=["40.73.40.64/28", "52.130.1.160/28"])
    env = azure([cluster], base="azure-china", cloud="AzureChinaCloud")
    result = env.run("--set", f"service_tags={tags}", checks=("azure.authorized-ip-ranges",))
    found = {f["target"]: f for f in result.findings()}
    assert found["AzureMachineLearning.ChinaEast2"]["status"] == "pass"
    north = found["AzureMachineLearning.ChinaNorth2"]
    assert north["status"] == "fail" and "paired region of chinaeast2" in north["message"]


def test_private_cluster(azure: Callable[..., Azure]) -> None:
    env = azure([aks(private=True)])
    finding = env.run(checks=("azure.authorized-ip-ranges",)).only("azure.authorized-ip-ranges")
    assert finding["status"] == "pass" and "private cluster" in finding["message"]


# -- Arc ---------------------------------------------------------------------------------------


def arc(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("kubernetes_version", VERSION)
    return connected_cluster("arc1", SUB, RG, **kwargs)


def test_arc_connected(azure: Callable[..., Azure]) -> None:
    env = azure([arc(), *providers(ARC_PROVIDERS)])
    result = env.run(
        "--set", "cluster_type=arc", "--set", f"workspace_id={WORKSPACE}", cluster="arc1"
    )
    assert result.code == 0, result.stdout
    found = result.by_check()
    state = next(f for f in found["azure.cluster"] if f["target"] == "arc1")
    assert state["status"] == "pass"
    assert "Connected" in state["message"] and "k3s" in state["message"]
    assert state["details"]["agent_version"] == "1.21.10"
    assert {f["target"] for f in found["azure.providers"]} == set(ARC_PROVIDERS)
    assert result.only("azure.local-accounts")["status"] == "skip"
    assert result.only("azure.authorized-ip-ranges")["status"] == "skip"
    assert result.only("azure.identity")["status"] == "pass"
    assert result.only("azure.subscription")["status"] == "pass"
    assert env.arm.count("Microsoft.Kubernetes/connectedClusters/arc1$") == 1  # read once
    assert env.arm.requests[0].api_version == "2024-01-01" or any(
        r.api_version == "2024-01-01" for r in env.arm.requests
    )


@pytest.mark.parametrize(
    ("status", "words"), [("Offline", "have not reached Azure"), ("Expired", "certificate expired")]
)
def test_arc_offline_or_expired_fails(azure: Callable[..., Azure], status: str, words: str) -> None:
    env = azure([arc(connectivity=status)])
    result = env.run("--set", "cluster_type=arc", checks=("azure.cluster",), cluster="arc1")
    assert result.code == 1
    state = next(f for f in result.findings() if f["target"] == "arc1")
    assert state["status"] == "fail"
    assert status in state["message"] and words in state["message"]


def test_arc_in_another_subscription_than_the_workspace(azure: Callable[..., Azure]) -> None:
    env = azure([arc()])
    other = WORKSPACE.replace(SUB, OTHER_SUB)
    result = env.run(
        "--set",
        "cluster_type=arc",
        "--set",
        f"workspace_id={other}",
        checks=("azure.subscription",),
        cluster="arc1",
    )
    finding = result.only("azure.subscription")
    assert finding["status"] == "fail"
    assert f"--subscription {OTHER_SUB}" in finding["remediation"]


def test_aks_in_another_subscription_needs_arc(azure: Callable[..., Azure]) -> None:
    env = azure([aks()])
    other = WORKSPACE.replace(SUB, OTHER_SUB)
    result = env.run("--set", f"workspace_id={other}", checks=("azure.subscription",))
    finding = result.only("azure.subscription")
    assert finding["status"] == "fail"
    assert "cross-subscription attach needs Azure Arc" in finding["message"]


# -- providers ---------------------------------------------------------------------------------


def test_providers_not_registered(azure: Callable[..., Azure]) -> None:
    env = azure(
        [
            aks(),
            *providers(
                KubernetesConfiguration="NotRegistered", MachineLearningServices="Registering"
            ),
        ]
    )
    result = env.run("--set", f"workspace_id={WORKSPACE}", checks=("azure.providers",))
    assert result.code == 1
    found = {f["target"]: f for f in result.findings()}
    config = found["Microsoft.KubernetesConfiguration"]
    assert config["status"] == "fail"
    assert (
        f"az provider register --namespace Microsoft.KubernetesConfiguration --subscription {SUB}"
        in config["remediation"]
    )
    assert "kubernetesconfiguration" in config["docs"]
    assert found["Microsoft.MachineLearningServices"]["status"] == "warn"
    assert found["Microsoft.ContainerService"]["status"] == "pass"


def test_workspace_providers_are_read_in_the_workspace_subscription(
    azure: Callable[..., Azure],
) -> None:
    env = azure(
        [
            aks(),
            *providers(AKS_PROVIDERS[:2]),
            provider("Microsoft.MachineLearningServices", sub=OTHER_SUB),
        ]
    )
    other = WORKSPACE.replace(SUB, OTHER_SUB)
    result = env.run("--set", f"workspace_id={other}", checks=("azure.providers",))
    found = {f["target"]: f for f in result.findings()}
    assert {f["status"] for f in found.values()} == {"pass"}
    assert found["Microsoft.MachineLearningServices"]["details"]["subscription_id"] == OTHER_SUB


# -- ARM errors --------------------------------------------------------------------------------


def test_rejected_token(azure: Callable[..., Azure]) -> None:
    env = azure([aks(), *providers()], tokens={"another-token"})
    result = env.run()
    assert result.code == 1
    found = result.by_check()
    cluster = found["azure.cluster"][0]
    assert cluster["status"] == "error"
    assert "rejected the token" in cluster["message"] and "az login" in cluster["remediation"]
    for check in ("azure.identity", "azure.local-accounts", "azure.authorized-ip-ranges"):
        (finding,) = found[check]
        assert finding["status"] == "error" and "(see azure.cluster)" in finding["message"]
    assert {f["status"] for f in found["azure.providers"]} == {"error"}
    assert_token_nowhere(result)


def test_token_for_the_wrong_cloud(azure: Callable[..., Azure]) -> None:
    env = azure(
        [aks(location="chinaeast2"), *providers()],
        base="azure-china",
        cloud="AzureChinaCloud",
        tokens=(),
        wrong_audience_tokens={TOKEN},
    )
    result = env.run()
    cluster = result.by_check()["azure.cluster"][0]
    assert cluster["status"] == "error"
    assert "AzureChinaCloud" in cluster["message"]
    assert "token is for another cloud" in cluster["message"]
    assert "az cloud set --name AzureChinaCloud" in cluster["remediation"]
    assert cluster["details"]["code"] == "InvalidAuthenticationTokenAudience"
    assert cluster["details"]["kind"] == "audience"
    assert_token_nowhere(result)


def test_forbidden_names_the_missing_permission(azure: Callable[..., Azure]) -> None:
    env = azure([aks(), *providers()])
    env.arm.inject(r"/managedClusters/aks1$", status=403)
    result = env.run(checks=("azure.cluster", "azure.identity"))
    found = result.by_check()
    cluster = found["azure.cluster"][0]
    assert cluster["status"] == "fail"
    assert "not allowed to read the AKS cluster aks1" in cluster["message"]
    assert "AuthorizationFailed" in cluster["message"]
    assert "Microsoft.ContainerService/managedClusters/read" in cluster["message"]  # ARM's text
    assert "Reader (Microsoft.ContainerService/managedClusters/read)" in cluster["remediation"]
    assert cluster["details"]["status"] == 403
    assert found["azure.identity"][0]["status"] == "error"


def test_cluster_not_found(azure: Callable[..., Azure]) -> None:
    env = azure([aks(), *providers()])
    result = env.run(checks=("azure.cluster",), cluster="nosuch")
    finding = result.only("azure.cluster")
    assert finding["status"] == "fail"
    assert finding["message"] == f"AKS cluster nosuch not found in {SUB}/{RG}"
    assert f"az aks list --subscription {SUB} -o table" in finding["remediation"]
    assert finding["details"]["code"] == "ResourceNotFound"
    found = env.run(checks=("azure.cluster",), cluster="aks1")
    state = next(f for f in found.findings() if f["target"] == "aks1")
    assert state["status"] == "pass"


def test_resource_group_not_found(azure: Callable[..., Azure]) -> None:
    env = azure([aks()])
    result = env.run("--set", "resource_group=nosuch-rg", checks=("azure.cluster",))
    finding = result.only("azure.cluster")
    assert finding["status"] == "fail"
    assert f"resource group nosuch-rg not found in subscription {SUB}" in finding["message"]


def test_throttled_then_answered(azure: Callable[..., Azure]) -> None:
    env = azure([aks()])
    env.arm.inject(r"/managedClusters/aks1$", status=429, retry_after=1, times=1)
    result = env.run(checks=("azure.cluster",))
    assert result.code == 0, result.stdout
    assert env.arm.count(r"/managedClusters/aks1$", status=429) == 1
    assert env.arm.count(r"/managedClusters/aks1$", status=200) == 1
    assert result.report()["run"]["duration_s"] >= 1.0


def test_throttled_past_the_deadline_is_an_error(azure: Callable[..., Azure]) -> None:
    env = azure([aks()])
    env.arm.inject(r"/managedClusters/aks1$", status=429, retry_after=30)
    result = env.run("--deadline", "3", checks=("azure.cluster",))
    finding = result.only("azure.cluster")
    assert finding["status"] == "error"
    assert "429" in finding["message"] or "throttl" in finding["message"]


def test_server_error(azure: Callable[..., Azure]) -> None:
    env = azure([aks()])
    env.arm.inject(r"/managedClusters/aks1$", status=500)
    finding = env.run(checks=("azure.cluster",)).only("azure.cluster")
    assert finding["status"] == "error"
    assert "InternalServerError" in finding["message"]


def test_a_token_echoed_by_the_server_is_masked_everywhere(azure: Callable[..., Azure]) -> None:
    """Defence in depth: even if ARM put the token in an error text, no output shows it."""
    env = azure([aks()])
    env.arm.inject(r"/managedClusters/aks1$", status=500, message=f"bad request with {TOKEN}")
    result = env.run(checks=("azure.cluster",))
    finding = result.only("azure.cluster")
    assert finding["status"] == "error" and "bad request with ***" in finding["message"]
    assert_token_nowhere(result)


def test_hanging_arm_is_bounded_by_the_timeout(azure: Callable[..., Azure]) -> None:
    env = azure([aks()])
    env.arm.inject(r"/managedClusters/aks1$", hang=True, hang_seconds=20)
    started = time.monotonic()
    finding = env.run("--timeout", "1", checks=("azure.cluster",)).only("azure.cluster")
    assert finding["status"] == "error" and finding["details"]["kind"] == "timeout"
    assert time.monotonic() - started < 15


# -- token sources -----------------------------------------------------------------------------


def test_managed_identity_token(
    azure: Callable[..., Azure], fake_imds: Callable[..., FakeImds]
) -> None:
    imds = fake_imds(token=TOKEN)
    env = azure([aks()], imds=imds.url)
    result = env.run(token=None, checks=("azure.credentials", "azure.identity"))
    assert result.code == 0, result.stdout
    credentials = result.only("azure.credentials")
    assert credentials["target"] == "managed-identity"
    assert credentials["details"]["imds"] == imds.url
    assert [r.resource for r in imds.requests] == ["https://management.azure.com/"]
    assert result.only("azure.identity")["status"] == "pass"
    assert_token_nowhere(result)


def test_azure_cli_token_with_another_active_cloud_warns(
    azure: Callable[..., Azure], fake_az: Callable[..., FakeAz]
) -> None:
    az = fake_az(token=TOKEN, cloud="AzureCloud")
    env = azure([aks(location="chinaeast2")], base="azure-china", cloud="AzureChinaCloud")
    result = env.run(token=None, az=az, checks=("azure.credentials", "azure.identity"))
    found = {f["target"]: f for f in result.findings("azure.credentials")}
    assert found["azure-cli"]["status"] == "pass"
    warn = found["az cloud"]
    assert warn["status"] == "warn"
    assert "active cloud is AzureCloud" in warn["message"] and "AzureChinaCloud" in warn["message"]
    assert warn["remediation"] == "az cloud set --name AzureChinaCloud && az login"
    assert az.resources() == ["https://management.chinacloudapi.cn/"]
    assert result.only("azure.identity")["status"] == "pass"
    assert_token_nowhere(result)


def test_environment_token_for_another_cloud_is_caught_before_any_call(
    azure: Callable[..., Azure],
) -> None:
    import base64
    import json

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    jwt = f"{part({'alg': 'RS256'})}.{part({'aud': 'https://management.azure.com/'})}.c2ln"
    env = azure([], base="azure-usgov", cloud="AzureUSGovernment", tokens={jwt})
    result = env.run(token=jwt, checks=("azure.credentials",), cluster=None)
    finding = result.only("azure.credentials")
    assert finding["status"] == "error"
    assert "(AzureCloud)" in finding["message"] and "AzureUSGovernment" in finding["message"]
    assert env.arm.requests == []
    assert_token_nowhere(result, jwt)


def test_no_credentials_at_all_skips_naming_three_ways(azure: Callable[..., Azure]) -> None:
    env = azure([aks(), *providers()])
    result = env.run("--set", f"workspace_id={WORKSPACE}", token=None)
    assert result.code == 0, result.stdout
    for finding in result.findings():
        if finding["check"] == "azure.subscription":
            assert finding["status"] == "pass"  # needs no Azure call
            continue
        assert finding["status"] == "skip", finding
        if finding["check"] == "azure.cli":
            continue
        assert "no Azure credentials" in finding["message"]
        for way in TOKEN_SOURCES:
            assert way in finding["remediation"], (way, finding["remediation"])
    assert env.arm.requests == []


def test_azure_cli_that_is_not_logged_in_is_named(
    azure: Callable[..., Azure], fake_az: Callable[..., FakeAz]
) -> None:
    az = fake_az(logged_in=False)
    env = azure([aks()])
    result = env.run(token=None, az=az, checks=("azure.identity",))
    finding = result.only("azure.identity")
    assert finding["status"] == "skip"
    assert "azure-cli: failed" in finding["message"] and "az login" in finding["message"]


# -- the local Azure CLI ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cli", "extensions", "statuses"),
    [
        ("2.61.0", {"k8s-extension": "1.6.1"}, {"azure-cli": "pass", "k8s-extension": "pass"}),
        ("2.40.0", {"k8s-extension": "1.2.3"}, {"azure-cli": "warn", "k8s-extension": "pass"}),
        ("2.20.0", {"k8s-extension": "1.6.1"}, {"azure-cli": "fail", "k8s-extension": "pass"}),
        ("2.61.0", {}, {"azure-cli": "pass", "k8s-extension": "fail"}),
        ("2.61.0", {"k8s-extension": "1.0.0"}, {"azure-cli": "pass", "k8s-extension": "fail"}),
    ],
)
def test_azure_cli_versions(
    azure: Callable[..., Azure],
    fake_az: Callable[..., FakeAz],
    cli: str,
    extensions: dict[str, str],
    statuses: dict[str, str],
) -> None:
    az = fake_az(cli_version=cli, extensions=extensions)
    env = azure()
    result = env.run(az=az, checks=("azure.cli",), cluster=None)
    found = {f["target"]: f for f in result.findings()}
    assert {t: f["status"] for t, f in found.items()} == statuses
    if statuses["k8s-extension"] == "fail":
        remedy = found["k8s-extension"]["remediation"]
        assert remedy in (
            "az extension add --name k8s-extension",
            "az extension update --name k8s-extension",
        )
    if statuses["azure-cli"] == "warn":
        assert "2.51.0" in found["azure-cli"]["message"]
    assert ["version", "-o", "json"] in az.calls()


def test_azure_cli_that_fails(azure: Callable[..., Azure], fake_az: Callable[..., FakeAz]) -> None:
    az = fake_az(failures={"version": {"exit": 1, "stderr": "ERROR: broken install"}})
    finding = azure().run(az=az, checks=("azure.cli",), cluster=None).only("azure.cli")
    assert finding["status"] == "error" and "broken install" in finding["message"]


# -- the cluster cross-checked with Kubernetes -------------------------------------------------


def test_node_pools_cross_checked_with_kubernetes(
    azure: Callable[..., Azure], kube_api: Any, tmp_path: Path
) -> None:
    api = kube_api(
        [
            node("aks-nodepool1-0", pool="nodepool1", kubelet_version="v1.36.2"),
            node("aks-nodepool1-1", pool="nodepool1"),
            node("aks-nodepool1-2", pool="nodepool1", ready=False),
            node("aks-ghost-0", pool="ghost", instance_type="Standard_E8s_v5"),
        ],
        version="v1.36.2",
    )
    cluster = aks(
        fqdn="127.0.0.1",
        pools=[
            agent_pool("nodepool1", 3, mode="System"),
            agent_pool("gpu", 2, "Standard_NC24ads_A100_v4"),
        ],
    )
    env = azure([cluster])
    kubeconfig = api.kubeconfig(tmp_path / "kc")
    result = env.run("--kubeconfig", str(kubeconfig), checks=("azure.cluster",))
    found = {f["target"]: f for f in result.findings()}
    assert found["kubernetesVersion"]["status"] == "pass"
    assert found["kubernetesVersion"]["details"]["api_server_version"] == "v1.36.2"
    assert found["127.0.0.1"]["status"] == "pass"  # the kubeconfig's API server is aks1's
    pool = found["agentpool/nodepool1"]
    assert pool["status"] == "pass" and "2 Ready in Kubernetes" in pool["message"]
    gpu = found["agentpool/gpu"]
    assert gpu["status"] == "warn" and "no Ready node" in gpu["message"]
    assert gpu["details"]["gpu"] is True and gpu["details"]["vm_size"] == "Standard_NC24ads_A100_v4"
    ghost = found["agentpool/ghost"]
    assert ghost["status"] == "warn" and "no such node pool in Azure" in ghost["message"]


def test_kubeconfig_for_another_cluster_is_noticed(
    azure: Callable[..., Azure], kube_api: Any, tmp_path: Path
) -> None:
    api = kube_api([node("n1", pool="nodepool1")], version="v1.35.1")
    env = azure([aks()])
    result = env.run(
        "--kubeconfig", str(api.kubeconfig(tmp_path / "kc")), checks=("azure.cluster",)
    )
    found = {f["target"]: f for f in result.findings()}
    assert found["kubernetesVersion"]["status"] == "warn"
    assert "another cluster" in found["kubernetesVersion"]["message"]
    assert found["127.0.0.1"]["status"] == "warn"
    assert "not one of aks1's" in found["127.0.0.1"]["message"]
