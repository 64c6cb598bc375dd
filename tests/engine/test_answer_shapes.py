"""Answers of the wrong shape and connections that end early (issue 16, parts 4 and 5).

Every JSON preflight reads from outside may be the wrong type, cut short, huge or missing fields:
each is a finding (or a one-line usage error for the user's own files) naming the endpoint and
what was wrong, never "the check failed inside preflight". And every client says in which phase
a connection failed (``connect``, ``tls``, ``http``) however the peer chose to close: a TLS
server that aborts right after the handshake is a TLS problem for the Kubernetes client, ARM and
the load generator alike, as it is for the egress probe.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
from support.kube_objects import namespace, node

from preflight import jsonshape
from preflight.jsonshape import ShapeError
from tests.clirun import preflight, run_cluster

# -- the helper -------------------------------------------------------------------------------


def test_loads_says_what_the_body_is() -> None:
    cases = {
        b"": "an empty body, not JSON",
        b'{"items": [1, 2': "JSON that ends too early",
        b"<html>login</html>": "HTML or XML, not JSON",
        b"\xff\xfe\x00": "bytes that are not UTF-8 text",
        b'{"a": 1} trailing': "something that is not JSON (line 1, column 10)",
        b"[" * 300 + b"]" * 300: "nested more than 200 levels deep",
    }
    for body, said in cases.items():
        with pytest.raises(ShapeError) as caught:
            jsonshape.loads(body, "GET /version")
        assert caught.value.message.startswith("GET /version answered "), caught.value.message
        assert said in caught.value.message, (body, caught.value.message)
    with pytest.raises(ShapeError, match="more than 1 KiB"):
        jsonshape.loads(b" " * 2048, "GET /x", limit=1024)
    assert jsonshape.loads(b'{"a": [1]}', "GET /x") == {"a": [1]}


def test_check_names_the_place_and_both_types() -> None:
    shape = jsonshape.Obj(
        {"items": jsonshape.Arr(jsonshape.Obj({"metadata": jsonshape.Obj(values=jsonshape.STR)}))},
        required=("items",),
    )
    endpoint = "GET /api/v1/nodes"
    bad = {
        "[]": "GET /api/v1/nodes answered JSON that is a list, not an object",
        "{}": "GET /api/v1/nodes answered an object without items",
        '{"items": {}}': "GET /api/v1/nodes answered items as an object, not a list",
        '{"items": [null]}': "GET /api/v1/nodes answered items[0] as null, not an object",
        '{"items": [{"metadata": {"kubernetes.io/os": 1}}]}': (
            'GET /api/v1/nodes answered items[0].metadata["kubernetes.io/os"] as a number, '
            "not a string"
        ),
    }
    for text, message in bad.items():
        with pytest.raises(ShapeError) as caught:
            jsonshape.check(json.loads(text), shape, endpoint)
        assert caught.value.message == message
    # missing and null optional fields are fine; unnamed keys are not looked at
    ok = {"items": [{"metadata": {"a": "b", "n": None}}, {}], "other": [1]}
    assert jsonshape.check(ok, shape, endpoint) is ok
    # the same problem as a sentence of its own (for a file rather than an answer)
    with pytest.raises(ShapeError) as caught:
        jsonshape.check({"items": 3}, shape, "")
    assert caught.value.message == "items is a number, not a list"


def test_field_reads_one_value_on_the_way() -> None:
    doc = {"status": {"capacity": {"cpu": "4"}, "phase": 3}}
    assert jsonshape.field(doc, "status.capacity.cpu", str, "GET /x") == "4"
    assert jsonshape.field(doc, "status.missing.cpu", str, "GET /x", default="?") == "?"
    with pytest.raises(ShapeError, match=r"status.phase as a number, not a string"):
        jsonshape.field(doc, "status.phase", str, "GET /x")
    with pytest.raises(ShapeError, match=r"status.capacity.cpu as a string, not an object"):
        jsonshape.field(doc, "status.capacity.cpu.x", str, "GET /x")


def test_a_shape_error_a_check_lets_escape_is_a_finding_in_the_users_terms() -> None:
    from preflight.context import internal_error
    from preflight.model import Status

    error = ShapeError("GET /apis/x", "spec as a list, not an object", at="spec")
    finding = internal_error("t", error)
    assert finding.status == Status.ERROR
    assert finding.message == "GET /apis/x answered spec as a list, not an object"
    assert "preflight bug" not in finding.remediation and finding.remediation
    assert finding.details["endpoint"] == "GET /apis/x"


# -- the Kubernetes client ------------------------------------------------------------------------


def test_version_that_is_valid_json_but_not_an_object_is_a_finding_and_a_report(
    tmp_path: Path, kube_api: Any
) -> None:
    """Tried as a new user would: such an API server crashed the run, no report written."""
    api = kube_api([node("n1"), namespace("default")])
    api.inject("^/version/?$", body=b'["v1.36.2"]')
    result = run_cluster(api, tmp_path, "--check", "cluster.*", formats="json")
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr
    found = {f["check"]: f for f in result.findings()}
    reachable = found["cluster.reachable"]
    assert reachable["status"] == "fail"
    assert "GET /version answered JSON that is a list, not an object" in reachable["message"]
    assert reachable["details"]["kind"] == "malformed"
    assert "kubectl get --raw '/version'" in reachable["remediation"]
    assert result.report()["target"]["kubernetes_version"] is None


def _client(kubeconfig: Path, timeout: float = 2.0) -> Any:
    from preflight.clients.kube import KubeClient, KubeSettings

    return KubeClient(KubeSettings(str(kubeconfig), None, timeout))


def test_node_lists_of_the_wrong_shape_are_malformed_errors_naming_the_place(
    tmp_path: Path, kube_api: Any
) -> None:
    from preflight.clients.kube import KubeError

    api = kube_api([node("n1")])
    kubeconfig = api.kubeconfig(tmp_path / "kc")
    cases = {
        b'{"items": {"a": 1}}': "GET /api/v1/nodes answered items as an object, not a list",
        b'{"items": [1]}': "GET /api/v1/nodes answered items[0] as a number, not an object",
        b'{"items": [{"metadata": {"name": "a", "labels": ["x"]}}]}': (
            "items[0].metadata.labels as a list, not an object"
        ),
        b'{"items": [{"metadata": {}}]}': "items[0].metadata without name",
        b'{"kind": "Status"}': "an object without items",
        b'{"items": [{"metadata": {"name": "a"}}': "JSON that ends too early",
    }
    for body, said in cases.items():
        api.clear_faults()
        api.inject("^/api/v1/nodes$", body=body)
        with pytest.raises(KubeError) as caught:
            _client(kubeconfig).list("/api/v1/nodes")
        assert caught.value.kind == "malformed" and caught.value.phase == "http"
        assert said in caught.value.message, caught.value.message


def test_a_continue_token_given_twice_ends_the_list(tmp_path: Path, kube_api: Any) -> None:
    from preflight.clients.kube import KubeError

    api = kube_api([])
    api.inject("^/api/v1/nodes$", body=b'{"items": [], "metadata": {"continue": "again"}}')
    with pytest.raises(KubeError, match="continue token it had already given"):
        _client(api.kubeconfig(tmp_path / "kc")).list("/api/v1/nodes")
    assert api.path_counts()["/api/v1/nodes"] == 2


def test_a_huge_or_endless_answer_is_cut_off(
    tmp_path: Path, kube_api: Any, misbehaving_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preflight.clients import kube
    from preflight.clients.kube import KubeError

    api = kube_api([node(f"n{i}") for i in range(20)])
    monkeypatch.setattr(kube, "MAX_BODY", 4096)
    with pytest.raises(KubeError) as caught:
        _client(api.kubeconfig(tmp_path / "kc")).list("/api/v1/nodes")
    assert caught.value.kind == "malformed"
    assert "GET /api/v1/nodes answered more than 4 KiB" in caught.value.message
    monkeypatch.setattr(kube, "MAX_BODY", 64 * 1024 * 1024)
    monkeypatch.setattr(kube, "BODY_SECONDS", 1.0)
    endless = misbehaving_server("endless_body")
    kubeconfig = api.kubeconfig(tmp_path / "kc2", server=endless.url)
    with pytest.raises(KubeError) as caught:
        _client(kubeconfig, timeout=0.2).get_raw("/version")
    assert caught.value.kind == "timeout" and "kept coming for 1s" in caught.value.message


def _tls_kubeconfig(tmp_path: Path, server: Any, ca: trustme.CA) -> Path:
    import base64

    import yaml

    path = tmp_path / "kc-tls"
    cluster = {
        "server": server.url,
        "certificate-authority-data": base64.b64encode(ca.cert_pem.bytes()).decode(),
    }
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


@pytest.mark.parametrize("abort", ["close_notify", "fin", "rst"])
def test_kube_client_tls_abort_after_the_handshake_is_tls(
    tmp_path: Path, misbehaving_server: Any, tls_ca: trustme.CA, abort: str
) -> None:
    from preflight.clients.kube import KubeError

    server = misbehaving_server("tls_abort", abort=abort, hostnames=("127.0.0.1", "localhost"))
    with pytest.raises(KubeError) as caught:
        _client(_tls_kubeconfig(tmp_path, server, tls_ca)).get_raw("/version")
    assert (caught.value.kind, caught.value.phase) == ("tls", "tls"), caught.value.message
    assert "closed the TLS session before any HTTP answer" in caught.value.message
    assert "client certificate" in caught.value.remediation()


@pytest.mark.parametrize(
    ("behaviour", "kind", "said"),
    [
        ("no_response", "closed", "closed the connection before answering"),
        ("garbage", "protocol", "answered something that is not HTTP"),
    ],
)
def test_kube_client_plain_http_failures_are_http(
    tmp_path: Path, kube_api: Any, misbehaving_server: Any, behaviour: str, kind: str, said: str
) -> None:
    from preflight.clients.kube import KubeError

    server = misbehaving_server(behaviour)
    kubeconfig = kube_api([]).kubeconfig(tmp_path / "kc", server=server.url)
    with pytest.raises(KubeError) as caught:
        _client(kubeconfig).get_raw("/version")
    assert (caught.value.kind, caught.value.phase) == (kind, "http"), caught.value.message
    assert said in caught.value.message
    assert "Error" not in caught.value.message  # said in words, not Python


def test_kube_client_refused_is_connect(tmp_path: Path, kube_api: Any, refused_port: int) -> None:
    from preflight.clients.kube import KubeError

    kubeconfig = kube_api([]).kubeconfig(tmp_path / "kc", server=f"http://127.0.0.1:{refused_port}")
    with pytest.raises(KubeError) as caught:
        _client(kubeconfig).get_raw("/version")
    assert (caught.value.kind, caught.value.phase) == ("refused", "connect")


# -- Azure Resource Manager and IMDS ------------------------------------------------------------


def _arm(endpoint: str, ca: trustme.CA | None = None, **kwargs: Any) -> Any:
    from preflight.clients.arm import ArmClient

    verify: Any = True
    if ca is not None:
        verify = ssl.create_default_context()
        ca.configure_trust(verify)
    client = ArmClient(
        endpoint,
        "https://management.core.windows.net/",
        imds=kwargs.pop("imds", None),
        verify=verify,
        proxy_for=lambda *_: None,
        timeout=kwargs.pop("timeout", 2.0),
        remaining=lambda: 30.0,
        environ={"AZURE_ACCESS_TOKEN": "token-value", "PATH": "/nonexistent"},
    )
    assert client.token() is not None
    return client


def _arm_get(client: Any, path: str = "/subscriptions/s", shape: Any = None) -> Any:
    return asyncio.run(client.get(path, "2024-01-01", shape))


@pytest.mark.parametrize("abort", ["close_notify", "fin", "rst"])
def test_arm_tls_abort_after_the_handshake_is_tls(
    misbehaving_server: Any, tls_ca: trustme.CA, abort: str
) -> None:
    from preflight.clients.arm import ArmError

    server = misbehaving_server("tls_abort", abort=abort, hostnames=("127.0.0.1", "localhost"))
    with pytest.raises(ArmError) as caught:
        _arm_get(_arm(server.url, tls_ca))
    assert (caught.value.kind, caught.value.phase) == ("tls", "tls"), caught.value.message
    assert "closed the TLS session before any HTTP answer" in caught.value.message


@pytest.mark.parametrize(
    ("behaviour", "said"),
    [
        ("no_response", "closed the connection before answering"),
        ("garbage", "answered something that is not HTTP"),
    ],
)
def test_arm_plain_http_failures_are_http(
    misbehaving_server: Any, behaviour: str, said: str
) -> None:
    from preflight.clients.arm import ArmError

    with pytest.raises(ArmError) as caught:
        _arm_get(_arm(misbehaving_server(behaviour).url))
    assert (caught.value.kind, caught.value.phase) == ("network", "http"), caught.value.message
    assert said in caught.value.message


def test_arm_refused_is_connect(refused_port: int) -> None:
    from preflight.clients.arm import ArmError

    with pytest.raises(ArmError) as caught:
        _arm_get(_arm(f"http://127.0.0.1:{refused_port}"))
    assert (caught.value.kind, caught.value.phase) == ("network", "connect")
    assert "refused the connection" in caught.value.message


def test_arm_answers_of_the_wrong_shape_are_malformed(
    http_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preflight.checks._shared.cluster_resource import AKS_RESOURCE
    from preflight.clients import arm
    from preflight.clients.arm import ArmError

    json_headers = {"Content-Type": "application/json"}
    server = http_server(
        routes={
            "/subscriptions/list": (200, json_headers, b"[1, 2]"),
            "/subscriptions/cut": (200, json_headers, b'{"id": "x", "prop'),
            "/subscriptions/aks": (200, json_headers, b'{"properties": {"powerState": "On"}}'),
            "/subscriptions/page": (200, json_headers, b'{"value": {"a": 1}}'),
            "/subscriptions/big": (200, json_headers, b'{"a": "' + b"x" * 5000 + b'"}'),
        }
    )
    client = _arm(server.url)
    expected = {
        "/subscriptions/list": "GET /subscriptions/list answered JSON that is a list",
        "/subscriptions/cut": "GET /subscriptions/cut answered JSON that ends too early",
        "/subscriptions/aks": "properties.powerState as a string, not an object",
    }
    for path, said in expected.items():
        with pytest.raises(ArmError) as caught:
            _arm_get(client, path, AKS_RESOURCE)
        assert caught.value.kind == "malformed" and said in caught.value.message
    with pytest.raises(ArmError, match="value as an object, not a list"):
        asyncio.run(client.list("/subscriptions/page", "2024-01-01"))
    monkeypatch.setattr(arm, "MAX_BODY", 1024)
    with pytest.raises(ArmError, match="over 1 KiB"):
        _arm_get(client, "/subscriptions/big")


def test_a_malformed_cluster_resource_is_an_error_finding(tmp_path: Path) -> None:
    from preflight.checks._shared import cluster_resource as common
    from preflight.clients.arm import ArmError
    from preflight.model import Status

    class Ctx:
        profile = type(
            "P",
            (),
            {
                "endpoints": {"arm": "https://arm"},
                "audiences": {},
                "cloud": "AzureCloud",
                "name": "p",
            },
        )()
        arm = type("A", (), {"token": staticmethod(lambda: None)})()

    problem = common.arm_error_problem(
        Ctx(),  # type: ignore[arg-type]
        ArmError("malformed", "GET /x answered properties as a list, not an object", 200),
        what="the AKS cluster c",
        permission="",
    )
    assert problem.status == Status.ERROR
    assert "properties as a list, not an object" in problem.message
    assert "Azure Resource Manager itself" in problem.remediation


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'["token"]', "JSON that is a list, not an object"),
        (b'{"access_token": 5}', "access_token as a number, not a string"),
        (b'{"access_token": ""}', "returned no access_token"),
        (b'{"access_tok', "JSON that ends too early"),
    ],
)
def test_imds_token_answers_of_the_wrong_shape(http_server: Any, body: bytes, said: str) -> None:
    from preflight.clients.arm import ArmClient, ArmError

    server = http_server(routes={"/metadata/identity/oauth2/token": (200, {}, body)})
    client = ArmClient(
        "https://arm.invalid",
        "https://management.core.windows.net/",
        imds=server.url,
        verify=True,
        proxy_for=lambda *_: None,
        timeout=2.0,
        remaining=lambda: 30.0,
        environ={"PATH": "/nonexistent"},
    )
    with pytest.raises(ArmError) as caught:
        client._from_imds()
    assert caught.value.kind == "malformed" and said in caught.value.message
    assert "managed-identity endpoint" in caught.value.message


def test_imds_that_closes_before_answering_is_http(misbehaving_server: Any) -> None:
    from preflight.clients.arm import ArmClient, ArmError

    client = ArmClient(
        "https://arm.invalid",
        "https://management.core.windows.net/",
        imds=misbehaving_server("no_response").url,
        verify=True,
        proxy_for=lambda *_: None,
        timeout=2.0,
        remaining=lambda: 30.0,
        environ={"PATH": "/nonexistent"},
    )
    with pytest.raises(ArmError) as caught:
        client._from_imds()
    assert (caught.value.kind, caught.value.phase) == ("network", "http")
    assert "ConnectError" not in caught.value.message and "RemoteProtocolError" not in str(
        caught.value.message
    )


# -- the load generator ---------------------------------------------------------------------------


@pytest.mark.parametrize("abort", ["close_notify", "fin", "rst"])
def test_load_generator_tls_abort_after_the_handshake_is_tls(
    tmp_path: Path, misbehaving_server: Any, tls_ca: trustme.CA, abort: str
) -> None:
    from preflight.workload.loadgen import run_load

    server = misbehaving_server("tls_abort", abort=abort, hostnames=("127.0.0.1", "localhost"))
    bundle = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(bundle))
    result = run_load(server.url + "/score", 5, 0.4, warmup=0, timeout=1, ca_bundle=str(bundle))
    assert set(result["errors_by_kind"]) == {"tls"}, result["errors_by_kind"]
    assert "closed right after the handshake" in result["error_examples"]["tls"]


def test_load_generator_plain_close_is_still_closed(misbehaving_server: Any) -> None:
    from preflight.workload.loadgen import run_load

    server = misbehaving_server("no_response")
    result = run_load(server.url + "/score", 5, 0.4, warmup=0, timeout=1)
    assert set(result["errors_by_kind"]) == {"closed"}


# -- probe pods, the load Job, the scoring service -------------------------------------------------


def test_probe_lines_of_the_wrong_shape_are_error_lines() -> None:
    from preflight.probe_output import parse_probe_output

    text = "\n".join(
        [
            '{"check": "egress.https", "status": "pass", "target": "a", "message": "ok"}',
            '{"check": "egress.https", "status": "pass", "target": "b", "details": [1]}',
            '{"check": "dns.resolve", "status": "great", "target": "c"}',
            '{"resolve": "kubernetes.default", "addresses": "10.0.0.1"}',
            '{"level": "info", "msg": "a library log line"}',
            "{" * 5000,
            '{"probe": "done", "count": 4}',
        ]
    )
    lines, complete = parse_probe_output(text)
    assert complete
    assert lines[0]["status"] == "pass"
    assert lines[1]["status"] == "error" and lines[1]["target"] == "b"
    assert "details is a list, not an object, line 2" in lines[1]["message"]
    assert lines[1]["remediation"]
    assert lines[2]["status"] == "error"
    assert "'great' is not a finding's status" in lines[2]["message"]
    assert lines[3] == {
        "resolve": "kubernetes.default",
        "outcome": "error",
        "addresses": [],
        "error": "the probe printed a line preflight cannot read (addresses is a string, not a "
        "list, line 4)",
    }


def test_load_job_results_of_the_wrong_shape() -> None:
    from preflight.checks.smoke.compare import number
    from preflight.checks.smoke.load_result import parse_load_log

    ok = {"latency_ms": {"p50": 1.0}, "requests": 10, "errors": 0}
    assert parse_load_log("noise\n" + json.dumps(ok)) == ok
    assert parse_load_log("no json at all\n{not json") is None
    with pytest.raises(ShapeError) as caught:
        parse_load_log(json.dumps({"latency_ms": [1], "requests": 10}))
    assert caught.value.statement == "latency_ms is a list, not an object"
    with pytest.raises(ShapeError, match="requests as a string, not a whole number"):
        parse_load_log(json.dumps({"latency_ms": {}, "requests": "ten"}))
    assert number(10**400) is None and number(float("nan")) is None and number(3) == 3.0


@pytest.mark.parametrize(
    "body",
    [b"1" * 5000, b"[" * 5000, b'{"data": [[' + b"9" * 400 + b", 1, 1, 1]]}", b"\xff"],
)
def test_the_scoring_service_refuses_odd_bodies_with_400(body: bytes) -> None:
    from preflight.workload.scoring import BadInput, parse_request

    with pytest.raises(BadInput) as caught:
        parse_request(body)
    assert "\n" not in str(caught.value)


# -- the user's own files --------------------------------------------------------------------------


def test_a_recursive_yaml_alias_is_one_line_not_a_hang(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("name: &x [*x]\ncloud: AzureCloud\nhosts: []\n")
    result = preflight("run", "--profile", str(profile), out=tmp_path / "out", timeout=60)
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "an alias refers to its own anchor" in result.stderr


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("current-context: {a: 1}\n", "current-context is an object, not a string"),
        ("contexts: 5\n", "contexts is a number, not a list"),
        ("contexts: [{name: x, context: [1]}]\n", "contexts[0].context is a list, not an object"),
    ],
)
def test_kubeconfigs_of_the_wrong_shape_are_one_line(tmp_path: Path, text: str, said: str) -> None:
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(text)
    result = preflight("run", "--kubeconfig", str(kubeconfig), "--check", "cluster.*")
    assert result.code == 2, result.stdout
    expected = f"preflight: error: kubeconfig {kubeconfig}: {said}"
    assert result.stderr.strip() == expected, result.stderr


@pytest.mark.parametrize("body", [b"[" * 5000, b"1" * 5000, b"\xff\xfe"])
def test_aks_json_and_service_tags_files_that_are_no_json_are_one_line(
    tmp_path: Path, body: bytes
) -> None:
    from preflight.checks._shared.cluster_resource import validate_aks_json
    from preflight.checks.azure.service_tags import validate_service_tags

    path = tmp_path / "file.json"
    path.write_bytes(body)
    for validate in (validate_aks_json, validate_service_tags):
        with pytest.raises(ValueError) as caught:
            validate(str(path))
        assert "\n" not in str(caught.value) and str(caught.value).startswith("not ")
