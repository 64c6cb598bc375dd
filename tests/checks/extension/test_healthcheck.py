"""extension.healthcheck end to end: the real CLI (``--set phase=after``) against the fake
Kubernetes API server over HTTP, holding the extension's health-check ConfigMap in the formats
seen in the wild (arcml-healthcheck, the older amlarc-healthcheck), JSON, garbage, or nothing;
plus the pure decoding functions on odd strings."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from preflight.api import Status
from preflight.checks._shared.healthcodes import (
    CODES,
    explain,
    foreseen_by,
    health_check_text,
    normalize_code,
)
from preflight.checks._shared.kube_reads import code_details, code_text
from preflight.checks.extension import healthcheck as hc
from tests.clirun import Result, assert_actionable, preflight, run_cluster

CHECK = "extension.healthcheck"
FAILED_REPORT = "\n".join(
    [
        "Status: Passed Name: info ErrorCode: ErrorMessage: extension 1.1.62, Kubernetes 1.30",
        "Status: Failed Name: clusterresource ErrorCode: E40002 ErrorMessage: only 2 healthy "
        "nodes, inferenceRouterHA needs 3",
        "Status: Failed Name: networkconnectivity ErrorCode: E45003 ErrorMessage: "
        "mcr.microsoft.com:443 timed out",
        "Status: Failed Name: helmchart ErrorCode: E45006 ErrorMessage: chart values rejected",
        "Status: Skipped Name: instancetype",
    ]
)


def healthcheck_cm(
    data: dict[str, Any] | None = None,
    name: str = hc.CONFIGMAP,
    **extra: Any,
) -> dict[str, Any]:
    from support.kube_objects import configmap

    return configmap(name, "azureml", data=data, **extra)


def run(tmp_path: Path, api: Any, *args: str, errors: bool = False) -> Result:
    """The real CLI; no finding is ``error`` (a check that could not conclude) unless
    ``errors``: only an answer that is not Kubernetes' may be one."""
    result = run_cluster(
        api, tmp_path, "--set", "phase=after", "--check", CHECK, *args, formats="json,html,md,junit"
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.code in (0, 1), (result.code, result.stderr)
    for name in ("report.json", "report.html", "summary.md", "junit.xml"):
        assert (tmp_path / "out" / name).is_file(), name
    assert_actionable(result, CHECK, errors=errors)
    return result


def cluster(kube_api: Any, *objects: dict[str, Any]) -> Any:
    from support.kube_objects import namespace

    return kube_api([namespace("azureml"), *objects])


# -- the ConfigMap as the extension writes it ---------------------------------------------------


def test_a_passing_health_check_passes(tmp_path: Path, kube_api: Any) -> None:
    report = "Status: Passed Name: service\nStatus: Passed Name: helmchart\n"
    api = cluster(kube_api, healthcheck_cm({"status-test": "Passed", "reports-test": report}))
    result = run(tmp_path, api)
    assert result.code == 0
    findings = result.by_target(CHECK)
    assert set(findings) == {"test/service", "test/helmchart"}
    assert all(f["status"] == "pass" for f in findings.values())
    assert findings["test/service"]["details"]["summary"] == "Passed"
    assert result.report()["summary"]["verdict"] == "pass"


def test_a_failed_run_explains_each_code(tmp_path: Path, kube_api: Any) -> None:
    data = {"status-test": "Failed", "reports-test": FAILED_REPORT}
    api = cluster(kube_api, healthcheck_cm(data))
    result = run(tmp_path, api, "--set", "extension_name=ml-ext")
    assert result.code == 1
    findings = result.by_target(CHECK)
    assert findings["test/info"]["status"] == "pass"
    assert findings["test/instancetype"]["status"] == "skip"

    nodes = findings["test/clusterresource"]
    assert nodes["status"] == "fail"
    assert "E40002 INSUFFICIENT_NODE" in nodes["message"]
    assert "3 azureml-fe replicas" in nodes["message"]  # the meaning, in the user's terms
    assert "only 2 healthy nodes" in nodes["message"]  # what the health check said
    assert "inferenceRouterHA=False" in nodes["remediation"]
    assert "nodes.capacity" in nodes["remediation"]
    assert "helm test -n azureml ml-ext --logs" in nodes["remediation"]
    assert nodes["docs"].endswith("#error-code-of-healthcheck")
    details = nodes["details"]
    assert details["code"] == "E40002"
    assert details["code_name"] == "INSUFFICIENT_NODE"
    assert details["health_check"] == "E40002 INSUFFICIENT_NODE"
    assert details["checker"] == "clusterresource"
    assert details["hook"] == "test"
    assert details["configmap"] == "arcml-healthcheck"
    assert details["entry"] == "reports-test"
    assert details["line"].startswith("Status: Failed Name: clusterresource ErrorCode: E40002")
    assert details["foreseen_by"] == [
        {"check": "nodes.capacity"},
        {"check": "extension.config"},
        {"mentions": "E40002"},
    ]

    network = findings["test/networkconnectivity"]
    assert network["status"] == "fail"
    assert "BAD_NETWORK_CONNECTIVITY" in network["message"]
    checks = {e.get("check") for e in network["details"]["foreseen_by"]}
    assert checks == {"dns.resolve", "egress.https", "connectivity.in-cluster", None}
    assert "how-to-access-azureml-behind-firewall" in network["docs"]

    unknown = findings["test/helmchart"]
    assert unknown["status"] == "fail"
    assert "E45006" in unknown["message"]
    assert "not in preflight's table" in unknown["message"]
    assert "chart values rejected" in unknown["message"]
    assert "helm test -n azureml ml-ext --logs" in unknown["remediation"]
    assert unknown["details"]["foreseen_by"] == [{"mentions": "E45006"}]
    assert unknown["details"]["code_name"] is None
    # the summary says Failed and the lines carry it: no extra summary finding
    assert "test/summary" not in findings


def test_hook_keys_are_decoded_per_hook(tmp_path: Path, kube_api: Any) -> None:
    data = {
        "status-pre-install": "Failed",
        "reports-pre-install": "Status: Failed Name: service ErrorCode: E40001 ErrorMessage: "
        "LoadBalancer service azureml-fe has no external IP after 300s",
        "status-test": "Passed",
        "reports-test": "Status: Passed Name: service",
    }
    result = run(tmp_path, cluster(kube_api, healthcheck_cm(data)))
    findings = result.by_target(CHECK)
    assert list(findings) == ["pre-install/service", "test/service"]  # install order
    lb = findings["pre-install/service"]
    assert lb["status"] == "fail"
    assert "the pre-install run" in lb["message"]
    assert "extension.loadbalancer" in lb["remediation"]
    assert "inferenceRouterServiceType=NodePort" in lb["remediation"]
    assert lb["details"]["hook"] == "pre-install"
    assert lb["details"]["entry"] == "reports-pre-install"
    assert findings["test/service"]["status"] == "pass"


def test_the_old_amlarc_configmap_is_read(tmp_path: Path, kube_api: Any) -> None:
    data = {
        "status-test-success": "Failed",
        "reports-test-success": "Status: Failed Name: inferencev1 ErrorCode: E45005 "
        "ErrorMessage: Azureml Fe deployment confict",
    }
    result = run(tmp_path, cluster(kube_api, healthcheck_cm(data, name=hc.LEGACY_CONFIGMAP)))
    assert result.code == 1
    (finding,) = result.findings(CHECK)
    assert finding["target"] == "test/inferencev1"
    assert finding["details"]["configmap"] == "amlarc-healthcheck"
    assert finding["details"]["entry"] == "reports-test-success"
    assert "AZUREML_FE_DEPLOYMENT_CONFLICT" in finding["message"]
    assert "kubectl delete deploy azureml-fe" in finding["remediation"]
    assert {"check": "extension.conflicts"} in finding["details"]["foreseen_by"]


def test_the_release_name_comes_from_helm_when_not_given(tmp_path: Path, kube_api: Any) -> None:
    cm = healthcheck_cm(
        {"status-test": "Failed", "reports-test": "Status: Failed Name: x ErrorCode: E40000"},
        annotations={"meta.helm.sh/release-name": "azureml-prod"},
    )
    result = run(tmp_path, cluster(kube_api, cm))
    (finding,) = result.findings(CHECK)
    assert "helm test -n azureml azureml-prod --logs" in finding["remediation"]


def test_a_json_report_is_decoded(tmp_path: Path, kube_api: Any) -> None:
    report = {
        "status": "Failed",
        "checkers": [
            {"Name": "service", "Status": "Passed"},
            {"name": "prometheus", "status": "FAILED", "errorCode": "e45002", "message": "x"},
        ],
    }
    result = run(tmp_path, cluster(kube_api, healthcheck_cm({"reports-test": json.dumps(report)})))
    findings = result.by_target(CHECK)
    assert findings["test/service"]["status"] == "pass"
    prom = findings["test/prometheus"]
    assert prom["status"] == "fail"
    assert prom["details"]["health_check"] == "E45002 PROMETHEUS_CONFLICT"
    assert "installPromOp=False" in prom["remediation"]


def test_a_summary_without_lines_and_one_that_contradicts_them(
    tmp_path: Path, kube_api: Any
) -> None:
    data = {
        "status-pre-upgrade": "Failed",  # no report lines at all
        "status-test": "Failed",  # every line passed
        "reports-test": "Status: Passed Name: service",
    }
    result = run(tmp_path, cluster(kube_api, healthcheck_cm(data)))
    findings = result.by_target(CHECK)
    assert findings["pre-upgrade/summary"]["status"] == "fail"
    assert "wrote no checker lines" in findings["pre-upgrade/summary"]["message"]
    assert findings["test/summary"]["status"] == "fail"
    assert "none of its checker lines failed" in findings["test/summary"]["message"]
    assert "kubectl logs healthcheck -n azureml" in findings["test/summary"]["remediation"]


# -- nothing to read --------------------------------------------------------------------------


def test_no_configmap_is_a_warning(tmp_path: Path, kube_api: Any) -> None:
    result = run(tmp_path, cluster(kube_api))
    assert result.code == 0  # a warning does not break the default gate
    (finding,) = result.findings(CHECK)
    assert finding["status"] == "warn"
    assert finding["target"] == "arcml-healthcheck"
    assert "has not written its verdict" in finding["message"]
    assert "pre-install hook" in finding["message"]
    assert "helm test -n azureml <extension-name> --logs" in finding["remediation"]
    assert "az k8s-extension show" in finding["remediation"]


def test_a_forbidden_read_names_the_permission(tmp_path: Path, kube_api: Any) -> None:
    api = cluster(kube_api, healthcheck_cm({"status-test": "Passed"}))
    api.inject("GET", "/api/v1/namespaces/azureml/configmaps/arcml-healthcheck", status=403)
    result = run(tmp_path, api)
    (finding,) = result.findings(CHECK)
    assert finding["status"] == "warn"
    assert "could not verify" in finding["message"]
    assert "get configmaps arcml-healthcheck (in namespace azureml)" in finding["remediation"]
    assert finding["details"]["unverified"][0]["kind"] == "forbidden"


def test_rbac_without_configmaps_names_the_legacy_one_when_it_is_denied(
    tmp_path: Path, kube_api: Any
) -> None:
    from support.kube_objects import policy_rule

    api = cluster(kube_api)
    api.set_rbac(
        [policy_rule(["get"], ["configmaps"], resource_names=["arcml-healthcheck"])],
    )
    result = run(tmp_path, api)
    (finding,) = result.findings(CHECK)
    assert finding["status"] == "warn"
    assert finding["target"] == "amlarc-healthcheck"
    assert "get configmaps amlarc-healthcheck (in namespace azureml)" in finding["remediation"]


def test_a_server_error_is_a_warning_not_a_crash(tmp_path: Path, kube_api: Any) -> None:
    api = cluster(kube_api)
    api.inject("configmaps", verb="get", status=500)
    result = run(tmp_path, api)
    (finding,) = result.findings(CHECK)
    assert finding["status"] == "warn"
    assert finding["details"]["unverified"][0]["kind"] == "server"


# -- bad input ----------------------------------------------------------------------------------


def test_an_unknown_format_is_one_warning_listing_the_keys(tmp_path: Path, kube_api: Any) -> None:
    data = {"verdict": "ok", "log": "everything fine", "token": "s3cr3t-value"}
    result = run(tmp_path, cluster(kube_api, healthcheck_cm(data)))
    (finding,) = result.findings(CHECK)
    assert finding["status"] == "warn"
    assert finding["target"] == "arcml-healthcheck"
    assert finding["details"]["keys"] == ["log", "token", "verdict"]
    assert "log, token, verdict" in finding["message"]
    assert "kubectl describe configmap -n azureml arcml-healthcheck" in finding["remediation"]
    assert "s3cr3t" not in (tmp_path / "out" / "report.json").read_text()


def test_known_keys_with_garbage_values_are_one_warning(tmp_path: Path, kube_api: Any) -> None:
    data = {
        "status-test": "¯\\_(ツ)_/¯",
        "reports-test": "lorem ipsum\n\x00\x1b[31m dolor: sit\n" + "x" * 5000,
    }
    result = run(tmp_path, cluster(kube_api, healthcheck_cm(data)))
    (finding,) = result.findings(CHECK)
    assert finding["status"] == "warn"
    assert finding["details"]["keys"] == ["reports-test", "status-test"]
    excerpt = finding["details"]["excerpts"]["reports-test"]
    assert len(excerpt) <= hc.EXCERPT and "\x00" not in excerpt


@pytest.mark.parametrize(
    ("cm", "status", "words"),
    [
        pytest.param({}, "warn", "holds no data", id="no-data"),
        pytest.param(
            {"binaryData": {"reports-test": "//79/A=="}},
            "warn",
            "neither checker lines nor a status",
            id="binary-not-text",
        ),
        pytest.param(
            {"data": {"reports-test": 42, "status-test": None}},
            "error",
            "data.reports-test as a number, not a string",
            id="not-strings",
        ),
        pytest.param(
            {"data": {"reports-test": ["Status: Failed Name: a"]}},
            "error",
            "data.reports-test as a list, not a string",
            id="a-list",
        ),
        pytest.param(
            {"data": "not a map"}, "error", "data as a string, not an object", id="data-not-a-map"
        ),
        pytest.param(
            {"data": {"reports-test": "Status: Failed Name: \u202e\x07" + "é" * 700_000}},
            "fail",
            "failed",
            id="huge-odd-line",
        ),
    ],
)
def test_garbage_never_crashes(
    tmp_path: Path, kube_api: Any, cm: dict[str, Any], status: str, words: str
) -> None:
    """Text the decoder cannot read is a warning saying so; a ConfigMap whose fields are not
    text (which no API server returns) is an error naming the endpoint and the field."""
    obj = healthcheck_cm()
    obj.update(cm)
    result = run(tmp_path, cluster(kube_api, obj), errors=status == "error")
    findings = result.findings(CHECK)
    assert [f["status"] for f in findings] == [status], findings
    (finding,) = findings
    assert words in finding["message"], finding["message"]
    if status == "error":
        assert "configmaps/arcml-healthcheck" in finding["message"]
    assert len(finding["details"].get("line", "")) <= hc.MAX_LINE
    assert len(finding["target"]) <= len("test/") + hc.MAX_NAME


def test_binary_data_text_is_decoded(tmp_path: Path, kube_api: Any) -> None:
    report = base64.b64encode(b"Status: Failed Name: tls ErrorCode: E40007").decode()
    obj = healthcheck_cm(extra={"binaryData": {"reports-test": report}})
    result = run(tmp_path, cluster(kube_api, obj))
    (finding,) = result.findings(CHECK)
    assert finding["status"] == "fail"
    assert finding["details"]["health_check"] == "E40007 INVALID_SSL_SETTING"
    assert "extension.tls" in finding["remediation"]


# -- the before/after comparison reads foreseen_by ----------------------------------------------


def test_a_pre_install_finding_foresaw_the_failure(tmp_path: Path, kube_api: Any) -> None:
    from support.kube_objects import clusterrole

    api = cluster(kube_api, clusterrole("azureml-fe-role"))
    before = preflight(
        "run",
        "--check",
        "extension.conflicts",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kubeconfig")),
        "--format",
        "json",
        out=tmp_path / "before",
    )
    assert before.code == 1, before.stderr
    api.add(
        healthcheck_cm(
            {
                "status-pre-install": "Failed",
                "reports-pre-install": "Status: Failed Name: inferencev1 ErrorCode: E45004 "
                "ErrorMessage: Azureml Fe role conflict",
            }
        )
    )
    result = run(tmp_path, api, "--baseline", str(tmp_path / "before" / "report.json"))
    came_true = result.report()["comparison"]["came_true"]
    ours = [c for c in came_true if c["check"] == CHECK]
    assert [c["target"] for c in ours] == ["pre-install/inferencev1"]
    assert {f["check"] for f in ours[0]["foreseen"]} == {"extension.conflicts"}


# -- the pure decoding ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Status: Failed Name: inferencev1 ErrorCode: E45005 ErrorMessage: Azureml Fe "
            "deployment confict",
            {
                "status": "Failed",
                "name": "inferencev1",
                "code": "E45005",
                "message": "Azureml Fe deployment confict",
            },
        ),
        # a message quoting a key stays whole; the first Name wins
        (
            "Status: Failed Name: service ErrorCode: E40001 Message: svc Name: azureml-fe, Code: 5",
            {
                "status": "Failed",
                "name": "service",
                "code": "E40001",
                "message": "svc Name: azureml-fe, Code: 5",
            },
        ),
        ("Status=Passed, Name=info;", {"status": "Passed", "name": "info"}),
        ("Status: \"Failed\" | Name: 'x'", {"status": "Failed", "name": "x"}),
        ("HostName: a Statuses: b", {}),  # keys inside words are not keys
        ("", {}),
        ("Status:", {"status": ""}),
        ("\x00\x1b[0m Name:\u202e ok", {"name": "\u202e ok"}),
    ],
)
def test_parse_line(line: str, expected: dict[str, str]) -> None:
    assert hc.parse_line(line) == expected


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Failed", Status.FAIL),
        ("FAIL", Status.FAIL),
        ("Error", Status.FAIL),
        ("Passed", Status.PASS),
        ("success", Status.PASS),
        ("Succeeded.", Status.PASS),
        ("Warning", Status.WARN),
        ("Skipped", Status.SKIP),
        ("Failed: 2 of 5 checkers", Status.FAIL),
        ("Running", None),
        ("", None),
        (None, None),
        ("¯\\_(ツ)_/¯", None),
    ],
)
def test_parse_status(text: str | None, status: Status | None) -> None:
    assert hc.parse_status(text) == status


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("reports-test", ("reports", "test")),
        ("status-test", ("status", "test")),
        ("reports-pre-install", ("reports", "pre-install")),
        ("reports-test-success", ("reports", "test")),
        ("status-test-success", ("status", "test")),
        ("Status_Pre-Upgrade", ("status", "pre-upgrade")),
        ("reports", ("reports", "default")),
        ("reporting", None),
        ("token", None),
    ],
)
def test_parse_key(key: str, parsed: tuple[str, str] | None) -> None:
    assert hc.parse_key(key) == parsed


def test_parse_report_shapes() -> None:
    lines = hc.parse_report("== report ==\n\nStatus: Failed Name: a ErrorCode: 40001\nnoise\n")
    assert [(r.checker, r.code, r.number) for r in lines.records] == [("a", "E40001", 3)]
    per_checker = hc.parse_report('{"service": {"status": "Failed", "code": "E40001"}}')
    assert [(r.checker, r.status) for r in per_checker.records] == [("service", Status.FAIL)]
    container = hc.parse_report({"status": "Failed", "results": [{"name": "a", "status": 1}]})
    assert container.summary == "Failed"
    assert hc.parse_report("[1, null, {}]").records == []
    assert hc.parse_report("{not json").records == []
    assert hc.parse_report("   ").form == "empty"
    assert hc.parse_report("[" * 5000).records == []  # deep nesting: no RecursionError


def test_many_lines_are_capped_keeping_the_failures() -> None:
    lines = [f"Status: Passed Name: c{i}" for i in range(hc.MAX_RECORDS + 50)]
    lines.append("Status: Failed Name: last ErrorCode: E40001")
    obj = {"metadata": {"name": hc.CONFIGMAP}, "data": {"reports-test": "\n".join(lines)}}
    findings = hc.decode_configmap(obj, hc.Source(hc.CONFIGMAP, "azureml"))
    assert len(findings) == hc.MAX_RECORDS + 1
    assert any(f.target == "test/last" and f.status == Status.FAIL for f in findings)
    assert findings[-1].target == "test/more" and findings[-1].status == Status.PASS


def test_duplicate_and_nameless_checkers_get_distinct_targets() -> None:
    text = "Status: Failed Name: service\nStatus: Failed Name: service\nStatus: Passed"
    obj = {"data": {"reports-test": text}}
    findings = hc.decode_configmap(obj, hc.Source(hc.CONFIGMAP, "azureml"))
    assert [f.target for f in findings] == ["test/service", "test/service#2", "test/line-3"]


def test_a_report_key_that_decodes_to_nothing_is_listed_beside_the_rest() -> None:
    data = {"status-test": "Passed", "reports-test": "junk", "reports-pre-install": "", "x": "1"}
    findings = hc.decode_configmap({"data": data}, hc.Source(hc.CONFIGMAP, "azureml"))
    assert [(f.target, f.status) for f in findings] == [
        ("test/summary", Status.PASS),
        ("arcml-healthcheck/undecoded", Status.WARN),
    ]
    assert findings[1].details["keys"] == ["reports-pre-install", "reports-test"]
    assert findings[1].details["excerpts"] == {
        "reports-pre-install": "(empty)",
        "reports-test": "junk",
    }
    assert findings[0].details["other_keys"] == ["x"]


# -- the code table -------------------------------------------------------------------------------


def test_the_code_table_is_complete_and_agrees_with_kubeobjects() -> None:
    assert code_details("E40007") == {"health_check": "E40007 INVALID_SSL_SETTING"}
    assert code_text("E45002") == "health check E45002 PROMETHEUS_CONFLICT"
    expected = {"E40001", "E40002", "E40003", "E40007", "E45002", "E45003", "E45004", "E45005"}
    assert expected <= set(CODES)
    result = preflight("checks", "--json")
    ids = {c["id"] for c in json.loads(result.stdout)}
    for info in CODES.values():
        assert info.meaning and info.remediation and info.docs.startswith("https://")
        assert set(info.caught_by) <= ids, (info.code, info.caught_by)
    assert explain("E40001").caught_by == ("extension.loadbalancer",)
    assert explain("E45003").severity == "diagnostic"
    assert explain("E40002").severity == "critical"


def test_unknown_codes_are_not_guessed() -> None:
    info = explain("e45006")
    assert (info.code, info.name, info.known, info.caught_by) == ("E45006", "", False, ())
    assert foreseen_by("E45006") == [{"mentions": "E45006"}]
    assert health_check_text("E40003") == "E40003 INTERNAL_LOAD_BALANCER_NOT_SUPPORT"
    assert [normalize_code(v) for v in ("40001", " e40001 ", 40001, "E4000", True, None)] == [
        "E40001",
        "E40001",
        "E40001",
        None,
        None,
        None,
    ]
