"""extension.config: every documented rule of the planned settings, through the real CLI.

Most rules need no cluster (``KUBECONFIG`` points nowhere); the node-count and nodeSelector
rules run against the fake Kubernetes API server.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import pytest

from tests.clirun import Result, preflight

CHECK = "extension.config"
INFERENCE = "enableInference=True inferenceRouterServiceType=nodePort inferenceRouterHA=False"
HTTP = INFERENCE + " allowInsecureConnections=True"


def validate(tmp_path: Path, settings: str | None, *args: str) -> Result:
    extra = ["--extension-config", settings] if settings is not None else []
    return preflight(
        "run", "--check", CHECK, *extra, "--format", "json", *args, out=tmp_path / "out"
    )


def assert_actionable(finding: dict[str, Any]) -> None:
    assert finding["message"] and finding["remediation"], finding
    assert finding["docs"] and finding["docs"].startswith("https://learn.microsoft.com/"), finding


def test_no_settings_is_a_skip_that_says_how(tmp_path: Path) -> None:
    result = validate(tmp_path, None)
    [finding] = result.findings(CHECK)
    assert finding["status"] == "skip" and finding["target"] is None
    assert finding["message"] == "no planned extension settings to validate"
    assert 'preflight run --extension-config "enableInference=True' in finding["remediation"]
    assert result.code == 0
    assert "recommendation" not in result.report()


def test_a_valid_training_plan_is_one_pass(tmp_path: Path) -> None:
    result = validate(tmp_path, "enableTraining=True")
    assert result.statuses(CHECK) == {"--extension-config": "pass"}
    finding = result.by_target(CHECK, unique=True)["--extension-config"]
    assert finding["message"].startswith("1 planned setting(s) are valid: training")
    assert finding["details"]["settings"] == {"enableTraining": "True"}
    assert result.code == 0


def test_values_match_in_any_case_keys_exactly(tmp_path: Path) -> None:
    """The extension compares booleans and the service type in any case, but reads keys
    exactly: a key in another case is ignored (MicrosoftDocs/azure-ai-docs PR 458)."""
    result = validate(
        tmp_path,
        "enableInference=TRUE inferenceRouterServiceType=LOADBALANCER "
        "allowInsecureConnections=true inferenceRouterHA=FALSE",
    )
    assert result.statuses(CHECK) == {"--extension-config": "pass"}
    assert (
        "router LOADBALANCER with 1 replica"
        in result.by_target(CHECK, unique=True)["--extension-config"]["message"]
    )

    wrong = validate(
        tmp_path,
        "ENABLEINFERENCE=true InferenceRouterServiceType=LOADBALANCER "
        "allowinsecureconnections=TRUE InferenceRouterHA=false",
    )
    found = wrong.by_target(CHECK, unique=True)
    for given, right in [
        ("ENABLEINFERENCE", "enableInference"),
        ("InferenceRouterServiceType", "inferenceRouterServiceType"),
        ("allowinsecureconnections", "allowInsecureConnections"),
        ("InferenceRouterHA", "inferenceRouterHA"),
    ]:
        assert found[given]["status"] == "fail", found[given]
        assert f"knows this one as {right}" in found[given]["message"]
    assert found["enableTraining/enableInference"]["status"] == "fail"


@pytest.mark.parametrize("settings", ["enableTraining=False", "installPromOp=False", "a=b"])
def test_a_workload_must_be_enabled(tmp_path: Path, settings: str) -> None:
    finding = validate(tmp_path, settings).by_target(CHECK, unique=True)[
        "enableTraining/enableInference"
    ]
    assert finding["status"] == "fail"
    assert finding["message"] == (
        "neither enableTraining nor enableInference is True: the extension would run no workload"
    )
    assert_actionable(finding)


def test_inference_needs_a_router_service_type(tmp_path: Path) -> None:
    result = validate(
        tmp_path, "enableInference=True allowInsecureConnections=True inferenceRouterHA=False"
    )
    assert result.statuses(CHECK) == {"inferenceRouterServiceType": "fail"}
    finding = result.by_target(CHECK, unique=True)["inferenceRouterServiceType"]
    assert finding["message"] == (
        "inferenceRouterServiceType is required with enableInference=True"
    )
    assert "loadBalancer" in finding["remediation"] and "clusterIP" in finding["remediation"]
    assert_actionable(finding)
    assert result.code == 1


def test_router_service_type_must_be_a_documented_choice(tmp_path: Path) -> None:
    result = validate(tmp_path, HTTP.replace("nodePort", "LoadBalancr"))
    finding = result.by_target(CHECK, unique=True)["inferenceRouterServiceType"]
    assert finding["status"] == "fail"
    assert finding["message"] == (
        "inferenceRouterServiceType=LoadBalancr: must be one of loadBalancer, nodePort, "
        "clusterIP (did you mean loadBalancer?)"
    )
    assert finding["details"]["recommend"] == {"inferenceRouterServiceType": "loadBalancer"}
    finding = validate(tmp_path, HTTP.replace("nodePort", "ingress")).by_target(CHECK, unique=True)[
        "inferenceRouterServiceType"
    ]
    assert finding["status"] == "fail" and "recommend" not in finding["details"]


def test_booleans_must_be_true_or_false(tmp_path: Path) -> None:
    result = validate(tmp_path, "enableTraining=yes installPromOp=maybe")
    found = result.by_target(CHECK, unique=True)
    assert found["enableTraining"]["status"] == "fail"
    assert found["enableTraining"]["message"] == (
        "enableTraining=yes: must be True or False (did you mean True?)"
    )
    assert found["enableTraining"]["details"]["recommend"] == {"enableTraining": "True"}
    assert found["installPromOp"]["message"] == "installPromOp=maybe: must be True or False"
    assert "recommend" not in found["installPromOp"]["details"]
    assert_actionable(found["installPromOp"])


def test_https_needs_a_cname_and_a_certificate(tmp_path: Path) -> None:
    result = validate(tmp_path, INFERENCE)
    assert result.statuses(CHECK) == {"sslCname": "fail", "sslSecret": "fail"}
    found = result.by_target(CHECK, unique=True)
    assert found["sslCname"]["message"] == (
        "sslCname is required for HTTPS inference endpoints (allowInsecureConnections=False, "
        "the default): the install's health check reports E40007 INVALID_SSL_SETTING"
    )
    assert found["sslSecret"]["message"].startswith(
        "HTTPS inference endpoints (allowInsecureConnections=False, the default) need a "
        "certificate: sslSecret, or sslCertPemFile and sslKeyPemFile in --config-protected"
    )
    for finding in found.values():
        assert finding["details"]["health_check"] == "E40007 INVALID_SSL_SETTING"
        assert "allowInsecureConnections=True" in finding["remediation"]
        assert_actionable(finding)

    explicit = validate(tmp_path, INFERENCE + " allowInsecureConnections=False")
    assert (
        "(allowInsecureConnections=False)"
        in explicit.by_target(CHECK, unique=True)["sslCname"]["message"]
    )

    good = validate(tmp_path, INFERENCE + " sslCname=ml.contoso.com sslSecret=ml-tls")
    assert good.statuses(CHECK) == {"--extension-config": "pass"}
    assert (
        "HTTPS via sslSecret" in good.by_target(CHECK, unique=True)["--extension-config"]["message"]
    )


def test_pem_files_belong_in_config_protected_and_must_exist(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not parsed here\n")
    key.write_text("not parsed here\n")
    https = INFERENCE + " sslCname=ml.contoso.com"

    result = validate(tmp_path, f"{https} sslCertPemFile={cert}")
    assert result.statuses(CHECK) == {"sslCertPemFile": "warn", "sslKeyPemFile": "fail"}
    found = result.by_target(CHECK, unique=True)
    assert found["sslCertPemFile"]["message"].endswith("it belongs in --config-protected")
    assert found["sslKeyPemFile"]["message"].startswith(
        "sslCertPemFile is given without sslKeyPemFile"
    )
    assert found["sslKeyPemFile"]["details"]["health_check"] == "E40007 INVALID_SSL_SETTING"

    both = validate(tmp_path, f"{https} sslCertPemFile={cert} sslKeyPemFile={key}")
    assert both.statuses(CHECK) == {"sslCertPemFile": "warn", "sslKeyPemFile": "warn"}

    missing = tmp_path / "nowhere" / "key.pem"
    bad = validate(tmp_path, f"{https} sslCertPemFile={tmp_path} sslKeyPemFile={missing}")
    # one finding per problem: the placement warning and the path failure share a target
    problems = [(f["target"], f["status"]) for f in bad.findings(CHECK)]
    assert sorted(problems) == [
        ("sslCertPemFile", "fail"),
        ("sslCertPemFile", "warn"),
        ("sslKeyPemFile", "fail"),
        ("sslKeyPemFile", "warn"),
    ]
    failures = {f["target"]: f for f in bad.findings(CHECK) if f["status"] == "fail"}
    assert failures["sslCertPemFile"]["message"].startswith(
        f"sslCertPemFile names {tmp_path}, which is a directory"
    )
    assert failures["sslKeyPemFile"]["message"].startswith(
        f"sslKeyPemFile names {missing}, which does not exist here"
    )
    assert failures["sslKeyPemFile"]["details"]["health_check"] == "E40007 INVALID_SSL_SETTING"

    if os.geteuid() != 0:  # root reads any file
        key.chmod(0)
        unreadable = validate(tmp_path, f"{https} sslCertPemFile={cert} sslKeyPemFile={key}")
        assert "which is not readable" in str(unreadable.findings(CHECK))


def test_tls_settings_that_conflict_or_are_malformed(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    result = validate(
        tmp_path,
        f"{INFERENCE} sslCname=ml.contoso.com sslSecret=ml-tls sslCertPemFile={cert}",
    )
    both = [f for f in result.findings(CHECK) if f["target"] == "sslSecret"]
    assert [f["status"] for f in both] == ["warn"]
    assert both[0]["message"].startswith("both sslSecret and sslCertPemFile/sslKeyPemFile")

    result = validate(tmp_path, f"{INFERENCE} 'sslCname=not a host!' sslSecret=Bad_Name")
    found = result.by_target(CHECK, unique=True)
    assert found["sslCname"]["status"] == "warn"
    assert found["sslCname"]["message"] == "sslCname=not a host! does not look like a DNS name"
    assert found["sslSecret"]["status"] == "fail"
    assert "is not a valid Kubernetes Secret name" in found["sslSecret"]["message"]

    result = validate(tmp_path, f"{INFERENCE} sslCname= sslSecret=ml-tls")
    assert result.by_target(CHECK, unique=True)["sslCname"]["message"] == "sslCname is empty"


def test_internal_load_balancer_only_on_aks(tmp_path: Path) -> None:
    settings = HTTP.replace("nodePort", "loadBalancer") + " internalLoadBalancerProvider=azure"
    assert validate(tmp_path, settings).statuses(CHECK) == {"--extension-config": "pass"}

    result = validate(tmp_path, settings, "--set", "cluster_type=arc")
    finding = result.by_target(CHECK, unique=True)["internalLoadBalancerProvider"]
    assert finding["status"] == "fail"
    assert "E40003 INTERNAL_LOAD_BALANCER_NOT_SUPPORT" in finding["message"]
    assert finding["details"]["health_check"] == "E40003 INTERNAL_LOAD_BALANCER_NOT_SUPPORT"
    assert finding["details"]["recommend"] == {"internalLoadBalancerProvider": None}
    assert_actionable(finding)

    # az k8s-extension create refuses it (MutuallyExclusiveArgumentError); a template does not
    node_port = validate(tmp_path, HTTP + " internalLoadBalancerProvider=Azure")
    finding = node_port.by_target(CHECK, unique=True)["internalLoadBalancerProvider"]
    assert finding["status"] == "fail", finding

    wrong = validate(tmp_path, settings.replace("=azure", "=aws"))
    assert wrong.by_target(CHECK, unique=True)["internalLoadBalancerProvider"]["status"] == "fail"


def test_unknown_keys_are_warned_with_the_nearest_known_one(tmp_path: Path) -> None:
    result = validate(
        tmp_path,
        "enableTraining=True enableInferance=True nodeSelector=ml fooBar=1 "
        "nodeSelector.agentpool=ml nodeSelector.kubernetes.io/os=linux",
    )
    found = result.by_target(CHECK, unique=True)
    assert {t for t, f in found.items() if f["status"] not in ("pass", "skip")} == {
        "enableInferance",
        "nodeSelector",
        "fooBar",
    }
    typo = found["enableInferance"]
    assert typo["status"] == "warn"
    assert typo["message"] == (
        "enableInferance is not a documented setting of the Azure ML extension (did you mean "
        "enableInference?): the extension ignores it"
    )
    assert typo["details"]["nearest"] == "enableInference"
    assert typo["details"]["recommend"] == {"enableInferance": None, "enableInference": "True"}
    assert found["nodeSelector"]["details"]["nearest"] == "nodeSelector.<label>"
    assert "recommend" not in found["nodeSelector"]["details"]
    assert found["fooBar"]["details"]["nearest"] is None
    assert "known settings: enableTraining" in found["fooBar"]["remediation"]


def test_node_selector_keys_and_values_must_be_labels(tmp_path: Path) -> None:
    result = validate(
        tmp_path, "enableTraining=True nodeSelector.-bad=x 'nodeSelector.pool=a b' nodeSelector.=x"
    )
    found = result.by_target(CHECK, unique=True)
    assert found["nodeSelector.-bad"]["status"] == "fail"
    assert "is not a valid Kubernetes label key" in found["nodeSelector.-bad"]["message"]
    assert found["nodeSelector."]["status"] == "fail"
    assert "is not a valid Kubernetes label value" in found["nodeSelector.pool"]["message"]


def test_inference_settings_without_inference_have_no_effect(tmp_path: Path) -> None:
    result = validate(tmp_path, "enableTraining=True allowInsecureConnections=True")
    finding = result.by_target(CHECK, unique=True)["allowInsecureConnections"]
    assert finding["status"] == "warn"
    assert finding["message"] == (
        "allowInsecureConnections=True has no effect: it configures inference, and "
        "enableInference is not True"
    )


def test_an_unknown_cluster_type_is_a_warning(tmp_path: Path) -> None:
    result = validate(tmp_path, "enableTraining=True", "--set", "cluster_type=gke")
    finding = result.by_target(CHECK, unique=True)["cluster_type"]
    assert finding["status"] == "warn" and "AKS assumed" in finding["message"]


def test_malformed_settings_are_a_usage_error(tmp_path: Path) -> None:
    result = validate(tmp_path, "enableTraining")
    assert result.code == 2 and "has no '='" in result.stderr


def test_cluster_rules_are_skipped_without_a_cluster(tmp_path: Path) -> None:
    result = validate(
        tmp_path,
        "enableInference=True inferenceRouterServiceType=nodePort allowInsecureConnections=True "
        "nodeSelector.agentpool=ml",
    )
    found = result.by_target(CHECK, unique=True)
    assert found[None]["status"] == "skip"
    assert found[None]["message"].startswith(
        "not compared with the cluster (inferenceRouterHA against the eligible node count, "
        "nodeSelector against the nodes' labels): no cluster given"
    )
    assert "--kubeconfig" in found[None]["remediation"]
    assert found["--extension-config"]["status"] == "pass"


# -- against a cluster ---------------------------------------------------------------------------


def against(tmp_path: Path, kube_api: Any, objects: list[Any], settings: str) -> Result:
    api = kube_api(objects=objects)
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    return validate(tmp_path, settings, "--kubeconfig", str(kubeconfig))


def test_ha_router_against_the_eligible_nodes(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import node

    ha = HTTP.replace(" inferenceRouterHA=False", "")
    two = [node("a"), node("b"), node("c", unschedulable=True)]
    result = against(tmp_path, kube_api, two, ha)
    finding = result.by_target(CHECK, unique=True)["inferenceRouterHA"]
    assert finding["status"] == "fail"
    assert finding["message"].startswith(
        "needs 3 eligible nodes for inferenceRouterHA=True (the default), found 2: the install's "
        "health check reports E40002 INSUFFICIENT_NODE"
    )
    assert finding["details"]["recommend"] == {"inferenceRouterHA": "False"}
    assert finding["details"]["health_check"] == "E40002 INSUFFICIENT_NODE"
    assert "add 1 eligible node(s)" in finding["remediation"]
    # 3 nodes in all: the CLI counts them all and leaves HA on (AML-Kubernetes issue 271)
    assert "counts all 3 nodes" in finding["message"]
    assert finding["details"]["source"] == "https://github.com/Azure/AML-Kubernetes/issues/271"
    assert_actionable(finding)

    # one node in all: the CLI would switch HA off itself, a template would not
    alone = against(tmp_path, kube_api, [node("a")], ha)
    finding = alone.by_target(CHECK, unique=True)["inferenceRouterHA"]
    assert finding["status"] == "fail"
    assert "add 2 eligible node(s)" in finding["remediation"]
    assert "would itself set inferenceRouterHA=false" in finding["message"]
    assert "source" not in finding["details"]

    three = [node("a"), node("b"), node("c")]
    assert against(tmp_path, kube_api, three, ha).statuses(CHECK) == {"--extension-config": "pass"}
    four = [*three, node("d")]
    assert against(tmp_path, kube_api, four, ha).statuses(CHECK) == {"--extension-config": "pass"}
    # HA off: fewer nodes are fine
    assert against(tmp_path, kube_api, two, HTTP).statuses(CHECK) == {"--extension-config": "pass"}


def test_node_selector_against_the_nodes_labels(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import node

    objects = [node("a", pool="ml"), node("b", pool="ml", labels={"gpu": "yes"}), node("c")]
    result = against(tmp_path, kube_api, objects, HTTP + " nodeSelector.agentpool=gpu")
    finding = result.by_target(CHECK, unique=True)["nodeSelector.agentpool"]
    assert finding["status"] == "fail"
    assert finding["message"] == (
        "nodeSelector.agentpool=gpu: no node carries the label agentpool=gpu, so the "
        "extension's pods would stay Pending"
    )
    assert "kubectl label node NODE agentpool=gpu" in finding["remediation"]

    result = against(
        tmp_path, kube_api, objects, HTTP + " nodeSelector.agentpool=nodepool1 nodeSelector.gpu=yes"
    )
    finding = result.by_target(CHECK, unique=True)["nodeSelector"]
    assert finding["status"] == "fail"
    assert finding["message"].startswith("no node carries all nodeSelector labels together")

    result = against(
        tmp_path, kube_api, objects, HTTP + " nodeSelector.agentpool=ml nodeSelector.gpu=yes"
    )
    assert result.statuses(CHECK) == {"--extension-config": "pass"}


def test_settings_round_trip_through_shell_quoting(tmp_path: Path) -> None:
    settings = shlex.join(["enableTraining=True", "nodeSelector.team=ml-a"])
    # the nodeSelector is compared with the nodes only when there is a cluster: a skip here
    assert validate(tmp_path, settings).statuses(CHECK) == {
        "--extension-config": "pass",
        None: "skip",
    }


def test_a_403_listing_nodes_is_a_skip_naming_the_permission(tmp_path: Path, kube_api: Any) -> None:
    """The cluster rules cannot be compared when the nodes cannot be listed: a skip saying why
    and what to grant, never a crash (an error finding "inside preflight")."""
    from support.kube_objects import node

    api = kube_api(objects=[node("n1")])
    api.inject("^/api/v1/nodes", status=403)
    result = preflight(
        "run",
        "--check",
        "extension.config",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kc")),
        "--extension-config",
        HTTP.replace(" inferenceRouterHA=False", "") + " nodeSelector.pool=ml",
        out=tmp_path / "out",
    )
    found = result.by_target(CHECK, unique=True)
    skipped = [f for f in found.values() if f["status"] == "skip"]
    assert skipped, found
    assert "cannot list nodes" in skipped[0]["message"]
    assert skipped[0]["details"]["kind"] == "forbidden"
    assert "deploy/rbac.yaml" in skipped[0]["remediation"]
    assert all(f["status"] != "error" for f in found.values())
