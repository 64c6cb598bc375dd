"""``azure.region`` end to end: the real CLI against the fake ARM (tests/support/arm_server.py),
asserting on report.json. Each rule of checks/azure/region.py and each row kind of
region_data.py has a test here that fails without it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.azure_objects import managed_cluster, workspace
from support.azure_run import RG, SUB, VERSION, WS_RG, Azure, aks, workspace_id

from tests.clirun import no_azure_credentials, preflight

CHECK = ("azure.region",)


def ws(location: str = "eastus") -> dict[str, Any]:
    return workspace("ws", SUB, WS_RG, location)


def test_public_region_of_cluster_and_workspace_passes(azure: Callable[..., Azure]) -> None:
    env = azure([aks(), ws()])
    result = env.run("--set", f"workspace_id={workspace_id()}", checks=CHECK)
    assert result.code == 0, result.stdout
    found = result.by_target("azure.region")
    assert set(found) == {"eastus", "workspace/cluster"}
    region = found["eastus"]
    assert region["status"] == "pass"
    assert region["details"]["of"] == ["cluster aks1", "workspace ws"]
    urls = [s["url"] for s in region["details"]["sources"]]
    assert any("reference-machine-learning-cloud-parity" in u for u in urls)
    assert all(s["date"] for s in region["details"]["sources"])
    assert found["workspace/cluster"]["status"] == "pass"
    # the workspace is read with its own api-version
    assert env.arm.count(r"/workspaces/ws$") == 1
    assert any(r.api_version == "2024-04-01" for r in env.arm.requests if "workspaces" in r.path)


def test_workspace_in_another_region_warns_with_what_it_costs(
    azure: Callable[..., Azure],
) -> None:
    env = azure([aks("eastus"), ws("westeurope")])
    result = env.run("--set", f"workspace_id={workspace_id()}", checks=CHECK)
    found = result.by_target("azure.region")
    assert found["eastus"]["status"] == "pass" and found["westeurope"]["status"] == "pass"
    mismatch = found["workspace/cluster"]
    assert mismatch["status"] == "warn"
    assert "fetch their tokens from the workspace's region" in mismatch["message"]
    assert "westeurope.api.azureml.ms" in mismatch["message"]
    assert "--set region=westeurope" in mismatch["remediation"]
    assert mismatch["docs"].startswith("https://learn.microsoft.com/azure/machine-learning/v1/")
    assert mismatch["details"]["cluster_region"] == "eastus"


def test_china_docs_disagree_warn_citing_both(azure: Callable[..., Azure]) -> None:
    env = azure([aks("chinaeast2")], base="azure-china", cloud="AzureChinaCloud")
    result = env.run(checks=CHECK)
    finding = result.only("azure.region")
    assert finding["status"] == "warn"
    assert "documents disagree" in finding["message"]
    urls = {s["url"] for s in finding["details"]["sources"]}
    assert any("docs.azure.cn" in u for u in urls)
    assert any("reference-machine-learning-cloud-parity" in u for u in urls)
    assert "21Vianet" in finding["remediation"]


def test_china_region_without_data_warns_naming_it(azure: Callable[..., Azure]) -> None:
    env = azure([aks("chinanorth2")], base="azure-china", cloud="AzureChinaCloud")
    finding = env.run(checks=CHECK).only("azure.region")
    assert finding["status"] == "warn"
    assert finding["target"] == "chinanorth2"
    assert "no data" in finding["message"] and "chinanorth2" in finding["message"]


def test_us_government_region_fails_per_the_parity_page(azure: Callable[..., Azure]) -> None:
    env = azure([aks("usgovvirginia")], base="azure-usgov", cloud="AzureUSGovernment")
    result = env.run(checks=CHECK)
    assert result.code == 1
    finding = result.only("azure.region")
    assert finding["status"] == "fail"
    assert "does not offer Kubernetes compute" in finding["message"]
    assert "2025-02-28" in finding["message"]
    assert "cloud-parity" in finding["docs"]


def test_qatar_central_has_no_cluster_extensions_on_aks(azure: Callable[..., Azure]) -> None:
    env = azure([aks("qatarcentral")])
    finding = env.run(checks=CHECK).only("azure.region")
    assert finding["status"] == "fail"
    assert "Qatar Central" in finding["message"]
    assert finding["docs"] == "https://learn.microsoft.com/azure/aks/cluster-extensions"


def test_region_typed_by_hand_is_not_confirmed(tmp_path: Path) -> None:
    """Without ARM, a public region is not shown to exist: warn, never pass; a sovereign region
    the table names is judged all the same."""
    env = no_azure_credentials(tmp_path)
    public = preflight(
        "run", "--check", "azure.region", "--set", "region=eastus", "--format", "json",
        env=env, out=tmp_path / "a",
    )  # fmt: skip
    finding = public.only("azure.region")
    assert finding["status"] == "warn" and "not confirmed" in finding["message"]
    gov = preflight(
        "run", "--profile", "azure-usgov", "--check", "azure.region", "--set",
        "region=usgovarizona", "--format", "json", env=env, out=tmp_path / "b",
    )  # fmt: skip
    assert gov.code == 1 and gov.only("azure.region")["status"] == "fail"


def test_nothing_named_skips(tmp_path: Path) -> None:
    result = preflight(
        "run", "--check", "azure.region", "--format", "json",
        env=no_azure_credentials(tmp_path), out=tmp_path / "out",
    )  # fmt: skip
    finding = result.only("azure.region")
    assert finding["status"] == "skip" and "--set region" in finding["remediation"]


def test_region_parameter_other_than_the_workspace_region_warns(
    azure: Callable[..., Azure],
) -> None:
    env = azure([aks(), ws()])
    result = env.run(
        "--set", f"workspace_id={workspace_id()}", "--set", "region=westus2", checks=CHECK
    )
    stale = result.by_target("azure.region")["--set region"]
    assert stale["status"] == "warn"
    assert "--set region=eastus" in stale["remediation"]


def test_unreadable_workspace_warns_and_the_cluster_region_is_still_judged(
    azure: Callable[..., Azure],
) -> None:
    env = azure([aks()])
    env.arm.inject(r"/workspaces/ws$", status=403)
    result = env.run("--set", f"workspace_id={workspace_id()}", checks=CHECK)
    found = result.by_target("azure.region")
    assert found["workspace"]["status"] == "warn"
    assert "not allowed to read" in found["workspace"]["message"]
    assert found["eastus"]["status"] == "pass"
    assert "workspace/cluster" not in found


def test_workspace_answer_of_the_wrong_shape_warns(azure: Callable[..., Azure]) -> None:
    env = azure([aks()])
    env.arm.inject(r"/workspaces/ws$", body={"id": "x", "location": 42})
    result = env.run("--set", f"workspace_id={workspace_id()}", checks=CHECK)
    found = result.by_target("azure.region")
    assert found["workspace"]["status"] in ("warn", "error")
    assert "location" in found["workspace"]["message"]
    assert found["workspace"]["status"] != "pass"


def test_offline_cluster_file_gives_the_region(tmp_path: Path) -> None:
    body = managed_cluster("aks1", SUB, RG, "chinaeast2", kubernetes_version=VERSION)
    path = tmp_path / "aks.json"
    path.write_text(json.dumps(body))
    result = preflight(
        "run", "--profile", "azure-china", "--check", "azure.region", "--set",
        f"aks_json={path}", "--format", "json",
        env=no_azure_credentials(tmp_path), out=tmp_path / "out",
    )  # fmt: skip
    finding = result.only("azure.region")
    assert finding["target"] == "chinaeast2" and finding["status"] == "warn"
