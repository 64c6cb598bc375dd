"""extension.installed end to end: the real CLI (``--set phase=after``) against the fake HTTPS
Azure Resource Manager serving the cluster's ``Microsoft.KubernetesConfiguration/extensions`` in
Succeeded, Pending and Failed, asserting on report.json."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.arm_server import FakeArm
from support.azure_objects import cluster_id, connected_cluster, extension, managed_cluster
from support.azure_run import OWN, RG, SUB, TOKEN, Azure

from tests.clirun import Result, preflight

CHECK = "extension.installed"
AKS_ID = cluster_id("aks1", SUB, RG)
ARC_ID = cluster_id("arc1", SUB, RG, kind="arc")
ML_SETTINGS = {
    "enableInference": "True",
    "inferenceRouterServiceType": "loadBalancer",
    "allowInsecureConnections": "True",
    "inferenceRouterHA": "False",
}


@pytest.fixture
def installed(azure: Callable[..., Azure]) -> Callable[..., Any]:
    """``installed(resources, **fake_arm_kwargs)`` -> ``run(*args, cluster="aks1", token=OWN)``:
    the after-install phase of this one check against that fake Azure (``run.arm`` is it)."""

    def make(resources: Any = (), **kwargs: Any) -> Any:
        env = azure(resources, **kwargs)

        def run(*args: str, cluster: str | None = "aks1", token: str | None = OWN) -> Result:
            return env.run(
                "--set", "phase=after", *args, checks=(CHECK,), cluster=cluster, token=token
            )

        run.arm = env.arm  # type: ignore[attr-defined]
        return run

    return make


def aks() -> dict[str, Any]:
    return managed_cluster("aks1", SUB, RG)


def ago(minutes: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)


def test_succeeded_passes_with_version_and_settings_found_by_type(installed: Any) -> None:
    run = installed(
        [
            aks(),
            extension("flux", AKS_ID, extension_type="microsoft.flux"),
            extension(
                "ml-ext",
                AKS_ID,
                version="1.1.63",
                config=ML_SETTINGS,
                protected_keys=("sslCertPemFile", "sslKeyPemFile"),
            ),
        ]
    )
    result = run("--set", "extension_name=azureml")
    finding = result.only(CHECK)
    assert result.code == 0
    assert finding["status"] == "pass"
    assert finding["target"] == "ml-ext"
    assert "Succeeded, version 1.1.63" in finding["message"]
    assert "enableInference=True" in finding["message"]
    assert "found by type" in finding["message"]
    details = finding["details"]
    assert details["settings"] == ML_SETTINGS
    assert details["auto_upgrade"] is True and details["release_train"] == "stable"
    assert details["protected_settings"] == "not read"
    text = (result.out / "report.json").read_text() + (result.out / "report.html").read_text()
    assert "sslKeyPemFile" not in text and TOKEN not in text


def test_failed_fails_with_error_detail_and_health_check_code(installed: Any) -> None:
    error = {
        "code": "ExtensionOperationFailed",
        "message": "The extension operation failed with the following error: Error: "
        "[ InnerError: [Helm installation failed : Pre-install hook failed]]",
        "details": [
            {"code": "HealthCheckFailed", "message": "E40002 INSUFFICIENT_NODE: need 3 nodes"}
        ],
    }
    run = installed(
        [aks(), extension("azureml", AKS_ID, provisioning_state="Failed", error_detail=error)]
    )
    result = run()
    finding = result.only(CHECK)
    assert result.code == 1
    assert finding["status"] == "fail"
    assert "Failed: ExtensionOperationFailed" in finding["message"]
    assert "Pre-install hook failed" in finding["message"]
    assert "E40002" in finding["message"] and "extension.healthcheck" in finding["message"]
    assert {"mentions": "E40002"} in finding["details"]["foreseen_by"]
    assert {"check": "nodes.capacity"} in finding["details"]["foreseen_by"]
    assert "E40002 INSUFFICIENT_NODE: " in finding["message"]
    assert finding["details"]["error"]["details"][0]["code"] == "HealthCheckFailed"
    assert "az k8s-extension delete" in finding["remediation"]


def test_failed_without_error_detail_says_so(installed: Any) -> None:
    run = installed([aks(), extension("azureml", AKS_ID, provisioning_state="Failed")])
    finding = run().only(CHECK)
    assert finding["status"] == "fail" and "gives no error detail" in finding["message"]


def test_recent_pending_warns_still_installing(installed: Any) -> None:
    run = installed(
        [aks(), extension("azureml", AKS_ID, provisioning_state="Pending", last_modified=ago(3))]
    )
    result = run()
    finding = result.only(CHECK)
    assert result.code == 0
    assert finding["status"] == "warn"
    assert "still Pending (3m so far" in finding["message"]
    assert "extension_wait" in finding["remediation"]


def test_pending_past_the_bound_warns_with_its_duration(installed: Any) -> None:
    run = installed(
        [
            aks(),
            extension(
                "azureml",
                AKS_ID,
                provisioning_state="Pending",
                last_modified=ago(125),
                statuses=[
                    {
                        "code": "InstallPending",
                        "displayStatus": "Pending",
                        "level": "Warning",
                        "message": "waiting for pods in azureml",
                    }
                ],
            ),
        ]
    )
    finding = run("--set", "extension_pending_minutes=30").only(CHECK)
    assert finding["status"] == "warn"
    assert "has been Pending for 2h 5m, longer than the 30 minutes" in finding["message"]
    assert "waiting for pods in azureml" in finding["message"]
    assert finding["details"]["pending_limit_minutes"] == 30
    assert 7400 <= finding["details"]["pending_s"] <= 7600
    assert "extension.components" in finding["remediation"]


def test_extension_wait_polls_until_it_settles(installed: Any) -> None:
    run = installed(
        [aks(), extension("azureml", AKS_ID, provisioning_state="Pending", last_modified=ago(1))]
    )
    arm: FakeArm = run.arm
    done = extension("azureml", AKS_ID, provisioning_state="Succeeded", config=ML_SETTINGS)
    stop = threading.Event()

    def settle_after_the_first_look() -> None:  # the install finishes while preflight polls
        while not stop.is_set() and arm.count(r"/extensions$") == 0:
            stop.wait(0.05)
        arm.put(done)

    flipper = threading.Thread(target=settle_after_the_first_look, daemon=True)
    flipper.start()
    try:
        result = run("--set", "extension_wait=10")
    finally:
        stop.set()
        flipper.join(5)
    finding = result.only(CHECK)
    assert finding["status"] == "pass", finding
    gets = arm.count(r"/extensions/azureml$")
    assert gets >= 1  # the resource itself was read again while it was Pending


def test_no_extension_fails_and_lists_what_is_there(installed: Any) -> None:
    run = installed([aks(), extension("flux", AKS_ID, extension_type="microsoft.flux")])
    result = run()
    finding = result.only(CHECK)
    assert result.code == 1
    assert finding["status"] == "fail" and finding["target"] == "aks1"
    assert "no Azure ML extension (type Microsoft.AzureML.Kubernetes)" in finding["message"]
    assert "flux (microsoft.flux)" in finding["message"]
    assert "az k8s-extension create" in finding["remediation"]


def test_arc_cluster_is_read_as_connected_cluster(installed: Any) -> None:
    run = installed([connected_cluster("arc1", SUB, RG), extension("azureml", ARC_ID)])
    result = run("--set", "cluster_type=arc", cluster="arc1")
    finding = result.only(CHECK)
    assert finding["status"] == "pass"
    assert "Microsoft.Kubernetes/connectedClusters/arc1" in finding["details"]["resource_id"]


def test_paged_list_is_followed(installed: Any) -> None:
    others = [extension(f"other{i}", AKS_ID, extension_type="microsoft.flux") for i in range(4)]
    run = installed([aks(), *others, extension("zz-ml", AKS_ID)], page_size=2)
    finding = run().only(CHECK)
    assert finding["status"] == "pass" and finding["target"] == "zz-ml"


def test_missing_cluster_parameters_skip(installed: Any) -> None:
    finding = installed([aks()])(cluster=None).only(CHECK)
    assert finding["status"] == "skip"
    assert "--set subscription_id=" in finding["remediation"]


def test_no_credentials_skip(installed: Any) -> None:
    finding = installed([aks()])(token=None).only(CHECK)
    assert finding["status"] == "skip"
    assert finding["details"]["missing"] == "arm"


def test_cluster_not_found_fails(installed: Any) -> None:
    finding = installed([aks()])(cluster="nope").only(CHECK)
    assert finding["status"] == "fail"
    assert "nope not found" in finding["message"]


def test_forbidden_list_fails_naming_the_permission(installed: Any) -> None:
    run = installed([aks(), extension("azureml", AKS_ID)])
    run.arm.inject(r"/extensions$", status=403)
    finding = run().only(CHECK)
    assert finding["status"] == "fail"
    assert "Microsoft.KubernetesConfiguration/extensions/read" in finding["remediation"]


@pytest.mark.parametrize("value", ["soon", "-1", "inf"])
def test_bad_wait_value_is_usage_error(installed: Any, value: str) -> None:
    result = installed([aks()])("--set", f"extension_wait={value}")
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and "extension_wait" in result.stderr


def test_before_phase_refuses_the_check_by_name(tmp_path: Path) -> None:
    result = preflight("run", "--check", CHECK, out=tmp_path / "out")
    assert result.code == 2
    assert "add --set phase=after" in result.stderr


def test_next_link_to_another_host_is_not_followed(installed: Any) -> None:
    """The bearer token goes to the profile's ARM endpoint only, whatever a page links to."""
    run = installed([aks()])
    run.arm.inject(
        r"/extensions$", body={"value": [], "nextLink": "https://attacker.example/steal?x=1"}
    )
    finding = run().only(CHECK)
    assert finding["status"] == "error"
    assert "nextLink points away" in finding["message"]
