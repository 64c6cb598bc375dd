"""extension.config judges the settings as the extension reads them, through the real CLI: keys
in the wrong case (ignored: MicrosoftDocs/azure-ai-docs pull request 458), booleans the CLI does
not take, old and misprinted keys, the validations only ``az k8s-extension create`` performs
(azure-cli-extensions ``partner_extensions/AzureMLKubernetes.py``), settings for the other kind
of cluster; and the recommended command stays one corrected line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.clirun import Result, preflight

CHECK = "extension.config"
HTTP = "enableInference=True inferenceRouterServiceType=nodePort allowInsecureConnections=True"
SECRET = "Zx9SuperSecretRelayKey0="


def validate(tmp_path: Path, settings: str, *args: str) -> Result:
    result = preflight(
        "run",
        "--check",
        CHECK,
        "--extension-config",
        settings,
        "--format",
        "json,md,html",
        *args,
        out=tmp_path / "out",
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def by_target(result: Result) -> dict[str | None, dict[str, Any]]:
    found = result.findings(CHECK)
    targets = [f["target"] for f in found]
    assert len(set(targets)) == len(targets), targets
    return {f["target"]: f for f in found}


def statuses(result: Result) -> dict[str | None, str]:
    return {t: f["status"] for t, f in by_target(result).items()}


def command(result: Result) -> str:
    value: str = result.report()["recommendation"]["command"]
    assert "\n" not in value
    return value


def assert_actionable(finding: dict[str, Any]) -> None:
    assert finding["message"] and finding["remediation"], finding
    assert finding["docs"] and finding["docs"].startswith("https://learn.microsoft.com/"), finding


# -- keys in the wrong case ----------------------------------------------------------------------


def test_inference_router_ha_in_the_wrong_case_is_ignored(tmp_path: Path) -> None:
    result = validate(tmp_path, HTTP + " InferenceRouterHA=False")
    finding = by_target(result)["InferenceRouterHA"]
    assert finding["status"] == "fail"
    assert finding["message"].startswith(
        "InferenceRouterHA=False is ignored: the extension reads its settings case-sensitively "
        "and knows this one as inferenceRouterHA, so inferenceRouterHA stays True (the default)"
    )
    assert "MicrosoftDocs/azure-ai-docs pull request 458" in finding["message"]
    assert finding["details"]["source"] == "https://github.com/MicrosoftDocs/azure-ai-docs/pull/458"
    assert finding["details"]["recommend"] == {"inferenceRouterHA": "False"}
    assert finding["remediation"] == "write inferenceRouterHA=False (keys are case-sensitive)"
    assert_actionable(finding)
    line = command(result)
    assert " inferenceRouterHA=False " in line and "InferenceRouterHA" not in line
    (change,) = result.report()["recommendation"]["changes"]
    assert change["given_as"] == "InferenceRouterHA" and change["setting"] == "inferenceRouterHA"
    assert result.code == 1


def test_wrong_case_keeps_ha_on_against_two_nodes(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import node

    api = kube_api(objects=[node("a"), node("b")])
    result = validate(
        tmp_path,
        HTTP + " InferenceRouterHA=False",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kc")),
    )
    ha = by_target(result)["inferenceRouterHA"]
    assert ha["status"] == "fail"
    assert ha["message"].startswith(
        "needs 3 eligible nodes for inferenceRouterHA=True (the default), found 2"
    )
    # the CLI turns HA off itself on a cluster this small; a template install does not
    assert "az k8s-extension create would itself set inferenceRouterHA=false" in ha["message"]
    assert ha["details"]["nodes_total"] == 2


def test_ha_on_three_nodes_with_one_ineligible_cites_the_cli_count(
    tmp_path: Path, kube_api: Any
) -> None:
    from support.kube_objects import node

    api = kube_api(objects=[node("a"), node("b"), node("c", unschedulable=True)])
    result = validate(tmp_path, HTTP, "--kubeconfig", str(api.kubeconfig(tmp_path / "kc")))
    ha = by_target(result)["inferenceRouterHA"]
    assert "counts all 3 nodes" in ha["message"] and "issue 271" in ha["message"]
    assert ha["details"]["source"] == "https://github.com/Azure/AML-Kubernetes/issues/271"


@pytest.mark.parametrize(
    ("base", "given", "status", "right"),
    [
        ("enableTraining=True", "InstallPromOp=True", "warn", "installPromOp"),  # the default
        ("enableTraining=True", "installpromop=False", "fail", "installPromOp"),
        ("enableInference=False", "ENABLETRAINING=True", "fail", "enableTraining"),
        ("enableTraining=True", "NodeSelector.agentpool=ml", "fail", "nodeSelector.agentpool"),
        ("enableTraining=True", "RelayServer.enabled=false", "warn", "relayserver.enabled"),
    ],
)
def test_other_keys_in_the_wrong_case(
    tmp_path: Path, base: str, given: str, status: str, right: str
) -> None:
    result = validate(tmp_path, f"{base} {given}")
    key, _, value = given.partition("=")
    finding = by_target(result)[key]
    assert finding["status"] == status, finding
    assert f"knows this one as {right}" in finding["message"]
    assert finding["details"]["setting"] == right
    assert finding["details"]["given_as"] == key
    line = command(result)
    assert f" {right}=" in line and f" {key}=" not in line


def test_a_wrongly_cased_duplicate_of_a_right_key_is_a_warning(tmp_path: Path) -> None:
    result = validate(tmp_path, HTTP + " inferenceRouterHA=False InferenceRouterHA=False")
    assert statuses(result) == {"InferenceRouterHA": "warn"}  # HA off: no node rule
    finding = by_target(result)["InferenceRouterHA"]
    assert "inferenceRouterHA=False is given too" in finding["message"]
    assert command(result).count("nferenceRouterHA=") == 1


def test_a_workload_enabled_only_in_the_wrong_case_is_no_workload(tmp_path: Path) -> None:
    result = validate(tmp_path, "EnableTraining=True")
    found = by_target(result)
    assert found["EnableTraining"]["status"] == "fail"
    workload = found["enableTraining/enableInference"]
    assert workload["status"] == "fail"
    assert workload["details"]["cli_error"].startswith(
        "To create Microsoft.AzureML.Kubernetes extension, either enable"
    )
    assert " --config enableTraining=True " in command(result)


# -- booleans ------------------------------------------------------------------------------------


def test_booleans_are_true_or_false_in_any_case(tmp_path: Path) -> None:
    ok = validate(tmp_path, "enableTraining=TRUE installVolcano=false")
    assert statuses(ok) == {"--extension-config": "pass"}


@pytest.mark.parametrize(("value", "meant"), [("yes", "True"), ("1", "True"), ("off", "False")])
def test_other_boolean_spellings_enable_nothing(tmp_path: Path, value: str, meant: str) -> None:
    """The CLI enables on str(value).lower() == 'true' only: enableInference=yes is no
    inference, so the plan runs no workload."""
    result = validate(tmp_path, f"enableTraining={value}")
    found = by_target(result)
    assert found["enableTraining"]["status"] == "fail"
    assert found["enableTraining"]["details"]["recommend"] == {"enableTraining": meant}
    assert found["enableTraining/enableInference"]["status"] == "fail"
    assert f"enableTraining={meant}" in command(result)


# -- what only the CLI validates -----------------------------------------------------------------


def test_a_certificate_needs_sslcname_even_over_http(tmp_path: Path) -> None:
    result = validate(tmp_path, HTTP + " inferenceRouterHA=False sslSecret=ml-tls")
    finding = by_target(result)["sslCname"]
    assert finding["status"] == "fail"
    assert "enables HTTPS even with allowInsecureConnections=True" in finding["message"]
    assert finding["details"]["cli_error"].startswith("To enable HTTPs endpoint, please specify")
    assert_actionable(finding)
    fine = validate(tmp_path, HTTP + " inferenceRouterHA=False")
    assert statuses(fine) == {"--extension-config": "pass"}


@pytest.mark.parametrize(
    "cname", ["https://ml.contoso.com", "ml.contoso.com:443", "ml.contoso.com/score"]
)
def test_sslcname_is_a_bare_host_name(tmp_path: Path, cname: str) -> None:
    result = validate(
        tmp_path,
        "enableInference=True inferenceRouterServiceType=nodePort inferenceRouterHA=False "
        f"sslSecret=ml-tls sslCname={cname}",
    )
    finding = by_target(result)["sslCname"]
    assert finding["status"] == "fail"
    assert finding["message"].startswith(f"sslCname={cname} is not a bare host name")
    assert finding["details"]["recommend"] == {"sslCname": "ml.contoso.com"}
    assert " sslCname=ml.contoso.com " in command(result)


def test_node_port_and_an_internal_load_balancer_are_exclusive(tmp_path: Path) -> None:
    result = validate(
        tmp_path, HTTP + " inferenceRouterHA=False internalLoadBalancerProvider=azure"
    )
    finding = by_target(result)["internalLoadBalancerProvider"]
    assert finding["status"] == "fail"
    assert "When using nodePort as inferenceRouterServiceType" in finding["message"]
    assert finding["details"]["recommend"] == {"internalLoadBalancerProvider": None}
    assert "internalLoadBalancerProvider" not in command(result)
    cluster_ip = validate(
        tmp_path,
        HTTP.replace("nodePort", "clusterIP")
        + " inferenceRouterHA=False internalLoadBalancerProvider=azure",
    )
    assert by_target(cluster_ip)["internalLoadBalancerProvider"]["status"] == "warn"


def test_case_variants_with_different_values_are_a_usage_error(tmp_path: Path) -> None:
    result = validate(tmp_path, HTTP + " inferenceRouterHA=True InferenceRouterHA=False")
    assert result.code == 2
    assert "given twice with different values" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- old, misprinted and CLI-written keys --------------------------------------------------------


def test_renamed_and_misprinted_keys_name_the_one_read(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x")
    key.write_text("x")
    result = validate(
        tmp_path,
        f"{HTTP.replace('allowInsecureConnections=True', 'sslCname=ml.contoso.com')} "
        f"inferenceLoadBalancerHA=False sslCertPemFile={cert} sslCertKeyFile={key}",
    )
    found = by_target(result)
    renamed = found["inferenceLoadBalancerHA"]
    assert renamed["status"] == "warn" and "k8s-extension 1.2.2" in renamed["message"]
    assert renamed["details"]["recommend"] == {
        "inferenceLoadBalancerHA": None,
        "inferenceRouterHA": "False",
    }
    misprint = found["sslCertKeyFile"]
    assert misprint["status"] == "fail"
    assert "Azure/AML-Kubernetes" in misprint["message"]
    line = command(result)
    assert " inferenceRouterHA=False " in line and "inferenceLoadBalancerHA" not in line
    assert f"--config-protected sslCertPemFile={cert} sslKeyPemFile={key}" in line


def test_keys_the_cli_writes_are_known(tmp_path: Path) -> None:
    result = validate(
        tmp_path, "enableTraining=True clusterPurpose=DevTest nginxIngress.controller=k8s.io/x"
    )
    assert statuses(result) == {"--extension-config": "pass"}


def test_a_secret_in_the_public_settings_is_never_printed(tmp_path: Path) -> None:
    connection = (
        f"Endpoint=sb://r.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey={SECRET}"
    )
    result = validate(tmp_path, f"enableTraining=True 'relayServerConnectionString={connection}'")
    finding = by_target(result)["relayServerConnectionString"]
    assert finding["status"] == "warn" and "holds a secret" in finding["message"]
    assert "--config-protected 'relayServerConnectionString=<secret>'" in command(result)
    for produced in (tmp_path / "out").iterdir():
        assert SECRET not in produced.read_text(errors="replace"), produced
    assert SECRET not in result.stdout + result.stderr


# -- the other kind of cluster -------------------------------------------------------------------


def test_arc_only_settings_on_aks_and_the_reverse(tmp_path: Path) -> None:
    on_aks = validate(tmp_path, "enableTraining=True relayserver.enabled=true openshift=true")
    found = by_target(on_aks)
    for key in ("relayserver.enabled", "openshift"):
        assert found[key]["status"] == "warn", found[key]
        assert "belongs on an Arc-enabled cluster" in found[key]["message"]
        assert found[key]["details"]["recommend"] == {key: None}
    assert "relayserver" not in command(on_aks) and "openshift" not in command(on_aks)
    on_arc = validate(
        tmp_path,
        "enableTraining=True relayserver.enabled=true nginxIngress.enabled=true",
        "--set",
        "cluster_type=arc",
    )
    found = by_target(on_arc)
    assert set(found) == {"nginxIngress.enabled"}
    assert "belongs on AKS" in found["nginxIngress.enabled"]["message"]
