"""Self-tests of the network test components that tell an origin's answer from a middlebox's:
real squid, the TLS-inspecting proxy, Azure's canned answers, misbehaving peers, DNS truncation.

Only the standard library (socket, ssl, http.client) and dnspython talk to them here: these tests
prove the components, not preflight.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import pytest
import trustme
from support import (
    CNAME,
    INSPECTION_ORG,
    DnsServer,
    HttpServer,
    InspectingProxy,
    MisbehavingServer,
    Squid,
    TlsHttpServer,
    azure_services,
    client_ssl_context,
)
from support._base import wait_until
from support.mitm import GATEWAY_SERVER
from support.squid import SQUID_HOSTNAME

from tests.support_tests.clients import (
    Answer,
    answers,
    basic,
    connect_via,
    read_answer,
    send_request,
)


# -- helpers -----------------------------------------------------------------------------------
def https_get(
    sock: socket.socket,
    hostname: str,
    ctx: ssl.SSLContext,
    path: str = "/",
    method: str = "GET",
    close: bool = True,
) -> tuple[Answer, dict[str, Any]]:
    """One HTTPS request over ``sock`` (e.g. a tunnel); returns the answer and the peer cert."""
    tls = ctx.wrap_socket(sock, server_hostname=hostname)
    try:
        send_request(tls, method, path, hostname, close=close)
        answer = read_answer(tls, method)
        return answer, dict(tls.getpeercert() or {})
    finally:
        tls.close()


def subject_field(cert: dict[str, Any], part: str, key: str) -> list[str]:
    return [v for rdn in cert.get(part, ()) for k, v in rdn if k == key]


# -- squid -------------------------------------------------------------------------------------
def test_squid_refuses_connect_outside_ssl_ports_with_its_own_403(
    squid: Callable[..., Squid], tls_server: Callable[..., TlsHttpServer]
) -> None:
    srv = tls_server(hostnames=["localhost"])
    proxy = squid()  # Debian defaults: CONNECT only to 443
    answer, sock = connect_via(proxy.port, f"localhost:{srv.port}")
    sock.close()
    assert answer is not None
    assert (answer.status, answer.reason) == (403, "Forbidden")
    assert answer.headers["Server"].startswith("squid/")
    assert answer.headers["X-Squid-Error"] == "ERR_ACCESS_DENIED 0"
    assert answer.headers["Content-Type"] == "text/html;charset=utf-8"
    assert answer.headers["Via"].startswith(f"1.1 {SQUID_HOSTNAME} (squid/")
    assert answer.headers["X-Cache"] == f"MISS from {SQUID_HOSTNAME}"
    assert answer.headers["Connection"] == "keep-alive"
    assert int(answer.headers["Content-Length"]) == len(answer.body) > 2000
    assert "<title>ERROR: The requested URL could not be retrieved</title>" in answer.text
    assert "<body id=ERR_ACCESS_DENIED>" in answer.text
    assert "<p><b>Access Denied.</b></p>" in answer.text
    assert answer.text.rstrip().endswith("</html>")
    assert "<!-- ERR_ACCESS_DENIED -->" in answer.text
    logged = proxy.wait_for_requests(1)
    assert [(r.method, r.target, r.status, r.result) for r in logged] == [
        ("CONNECT", f"localhost:{srv.port}", 403, "TCP_DENIED")
    ]
    assert proxy.connect_targets == [f"localhost:{srv.port}"]
    assert srv.connections == 0  # squid never reached the origin


def test_squid_tunnels_connect_to_added_ssl_port_and_resolves_from_hosts(
    squid: Callable[..., Squid], tls_server: Callable[..., TlsHttpServer]
) -> None:
    srv = tls_server(hostnames=["mcr.microsoft.com"])
    proxy = squid(ssl_ports=[srv.port], hosts={"mcr.microsoft.com": "127.0.0.1"})
    answer, sock = connect_via(proxy.port, f"mcr.microsoft.com:{srv.port}")
    assert answer is None  # 200 Connection established
    got, cert = https_get(sock, "mcr.microsoft.com", client_ssl_context(srv.ca))
    assert got.status == 204
    assert subject_field(cert, "issuer", "organizationName") != [INSPECTION_ORG]
    assert srv.requests[0].sni == "mcr.microsoft.com"
    logged = proxy.wait_for_requests(1)  # a tunnel is logged when it closes
    assert [(r.method, r.target, r.status, r.result) for r in logged] == [
        ("CONNECT", f"mcr.microsoft.com:{srv.port}", 200, "TCP_TUNNEL")
    ]


def test_squid_forwards_absolute_uri_get_to_an_ephemeral_port(
    squid: Callable[..., Squid], http_server: Callable[..., HttpServer]
) -> None:
    origin = http_server(200, headers={"Content-Type": "text/plain"}, body=b"origin says hi")
    proxy = squid()
    sock = socket.create_connection(proxy.sockaddr, timeout=5)
    with sock:
        url = f"http://localhost:{origin.port}/probe?x=1"
        send_request(sock, "GET", url, f"localhost:{origin.port}")
        answer = read_answer(sock)
    assert (answer.status, answer.body) == (200, b"origin says hi")
    assert SQUID_HOSTNAME in answer.headers["Via"]
    seen = origin.requests[0]
    assert seen.path == "/probe?x=1"
    assert SQUID_HOSTNAME in seen.headers["Via"]
    assert seen.headers["X-Forwarded-For"] == "127.0.0.1"
    logged = proxy.wait_for_requests(1)
    assert [(r.method, r.target, r.status, r.result) for r in logged] == [
        ("GET", url, 200, "TCP_MISS")
    ]


def test_squid_denies_plain_request_to_unsafe_port(squid: Callable[..., Squid]) -> None:
    proxy = squid()
    with socket.create_connection(proxy.sockaddr, timeout=5) as sock:
        send_request(sock, "GET", "http://localhost:25/", "localhost:25")
        answer = read_answer(sock)
    assert answer.status == 403
    assert answer.headers["X-Squid-Error"] == "ERR_ACCESS_DENIED 0"


def test_squid_connect_to_refusing_target_is_its_own_503(
    squid: Callable[..., Squid], refused_port: int
) -> None:
    proxy = squid(ssl_ports=[refused_port])
    answer, sock = connect_via(proxy.port, f"127.0.0.1:{refused_port}")
    sock.close()
    assert answer is not None
    assert (answer.status, answer.reason) == (503, "Service Unavailable")
    assert answer.headers["X-Squid-Error"] == "ERR_CONNECT_FAIL 111"
    assert "<b>Connection to 127.0.0.1 failed.</b>" in answer.text
    assert "(111) Connection refused" in answer.text
    assert proxy.wait_for_requests(1)[0].status == 503


def test_squid_basic_auth_answers_407_without_or_with_wrong_credentials(
    squid: Callable[..., Squid], tls_server: Callable[..., TlsHttpServer]
) -> None:
    srv = tls_server(hostnames=["localhost"])
    proxy = squid(ssl_ports=[srv.port], auth=("user", "s3cret"))
    target = f"localhost:{srv.port}"
    for headers in ({}, basic("user", "wrong")):
        answer, sock = connect_via(proxy.port, target, headers)
        sock.close()
        assert answer is not None and answer.status == 407, headers
        assert answer.reason == "Proxy Authentication Required"
        assert answer.headers["Proxy-Authenticate"] == f'Basic realm="{SQUID_HOSTNAME}"'
        assert answer.headers["X-Squid-Error"] == "ERR_CACHE_ACCESS_DENIED 0"
    answer, sock = connect_via(proxy.port, target, basic("user", "s3cret"))
    assert answer is None
    assert https_get(sock, "localhost", client_ssl_context(srv.ca))[0].status == 204
    # the port rules come before authentication
    answer, sock = connect_via(proxy.port, "localhost:8443")
    sock.close()
    assert answer is not None and answer.status == 403
    logged = proxy.wait_for_requests(4)  # the tunnel was closed before the last CONNECT
    assert [(r.status, r.result, r.user) for r in logged] == [
        (407, "TCP_DENIED", None),
        (407, "TCP_DENIED", "user"),  # squid logs the name it was given, even when wrong
        (200, "TCP_TUNNEL", "user"),
        (403, "TCP_DENIED", None),
    ]


def test_squid_process_is_reaped_and_logs_survive(squid: Callable[..., Squid]) -> None:
    proxy = squid()
    assert proxy.proc is not None
    pid, workdir = proxy.proc.pid, proxy.workdir
    with socket.create_connection(proxy.sockaddr, timeout=5) as sock:
        send_request(sock, "CONNECT", "localhost:25", "localhost:25")
        assert read_answer(sock).status == 403
    proxy.wait_for_requests(1)
    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 1.0
    assert not Path(f"/proc/{pid}").exists()
    assert not workdir.exists()
    assert proxy.requests[0].status == 403  # the log survives stop()
    assert "Accepting HTTP Socket connections" in proxy.cache_log_text()


def test_squid_start_failure_is_explained() -> None:
    proxy = Squid(binary="/bin/false", start_timeout=2)
    with pytest.raises(RuntimeError, match="did not start"):
        proxy.start()


# -- the TLS-inspecting proxy ------------------------------------------------------------------
def inspect_get(
    proxy: InspectingProxy, host: str, port: int, path: str = "/", method: str = "GET"
) -> tuple[Answer, dict[str, Any]]:
    """CONNECT through ``proxy`` and one HTTPS request, trusting only the proxy's CA."""
    answer, sock = connect_via(proxy.port, f"{host}:{port}")
    assert answer is None
    return https_get(sock, host, client_ssl_context(proxy.ca), path, method)


def test_inspecting_proxy_pass_relays_the_origin_verbatim(
    inspecting_proxy: Callable[..., InspectingProxy], tls_server: Callable[..., TlsHttpServer]
) -> None:
    challenge = azure_services.acr_v2_challenge("myacr.azurecr.io")
    origin = tls_server(hostnames=["myacr.azurecr.io"], status=404, routes={"/v2/": challenge})
    proxy = inspecting_proxy(upstream={"myacr.azurecr.io": ("127.0.0.1", origin.port)})
    answer, cert = inspect_get(proxy, "myacr.azurecr.io", 443, "/v2/")
    assert (answer.status, answer.body) == (401, challenge.body)
    for key, value in challenge.headers.items():
        assert answer.headers[key] == value
    assert answer.headers["Server"] == "openresty"  # the origin's, not the gateway's
    # ... but the certificate is the proxy's
    assert subject_field(cert, "issuer", "organizationName") == [INSPECTION_ORG]
    assert origin.requests[0].path == "/v2/"
    assert origin.requests[0].sni == "myacr.azurecr.io"  # the proxy verified the origin by name
    assert [(r.method, r.host, r.port, r.path, r.mode, r.status) for r in proxy.requests] == [
        ("CONNECT", "myacr.azurecr.io", 443, "", "pass", 200),
        ("GET", "myacr.azurecr.io", 443, "/v2/", "pass", 401),
    ]
    assert proxy.connect_targets == ["myacr.azurecr.io:443"]


def test_inspecting_proxy_is_rejected_by_a_client_that_trusts_only_the_origin_ca(
    inspecting_proxy: Callable[..., InspectingProxy],
    tls_server: Callable[..., TlsHttpServer],
    tls_ca: trustme.CA,
) -> None:
    origin = tls_server(hostnames=["mcr.microsoft.com"])
    proxy = inspecting_proxy(upstream={"mcr.microsoft.com": ("127.0.0.1", origin.port)})
    answer, sock = connect_via(proxy.port, "mcr.microsoft.com:443")
    assert answer is None
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        client_ssl_context(tls_ca).wrap_socket(sock, server_hostname="mcr.microsoft.com")
    sock.close()
    assert origin.connections == 0
    assert wait_until(lambda: len(proxy.tls_errors) == 1, 5)  # its side of the failed handshake
    assert "mcr.microsoft.com" in proxy.tls_errors[0]


@pytest.mark.parametrize(
    ("mode", "status", "reason", "phrase"),
    [
        ("502", 502, "Bad Gateway", "could not connect to the requested site"),
        ("503", 503, "Service Unavailable", "is temporarily unavailable"),
        ("504", 504, "Gateway Timeout", "did not respond in time"),
    ],
)
def test_inspecting_proxy_answers_gateway_errors_itself(
    inspecting_proxy: Callable[..., InspectingProxy],
    tls_server: Callable[..., TlsHttpServer],
    mode: str,
    status: int,
    reason: str,
    phrase: str,
) -> None:
    origin = tls_server(hostnames=["mcr.microsoft.com"])
    proxy = inspecting_proxy(
        modes={"mcr.microsoft.com": mode},
        upstream={"mcr.microsoft.com": ("127.0.0.1", origin.port)},
    )
    answer, cert = inspect_get(proxy, "mcr.microsoft.com", 443, "/v2/")
    assert (answer.status, answer.reason) == (status, reason)
    assert answer.headers["Server"] == GATEWAY_SERVER
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-cache"
    assert phrase in answer.text and "mcr.microsoft.com" in answer.text
    assert subject_field(cert, "issuer", "organizationName") == [INSPECTION_ORG]
    assert origin.connections == 0
    assert proxy.inspected[0].status == status and proxy.inspected[0].mode == mode


@pytest.mark.parametrize(("mode", "status"), [("block403", 403), ("block200", 200)])
def test_inspecting_proxy_serves_its_block_page(
    inspecting_proxy: Callable[..., InspectingProxy], mode: str, status: int
) -> None:
    proxy = inspecting_proxy(default_mode=mode)
    answer, _ = inspect_get(proxy, "myvault.vault.azure.net", 443, "/healthstatus")
    assert answer.status == status
    assert answer.headers["Server"] == GATEWAY_SERVER
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>Access Denied</title>" in answer.text
    assert "Access to this site is blocked by your organization's policy." in answer.text
    assert "https://myvault.vault.azure.net/healthstatus" in answer.text
    assert "Category: Uncategorized" in answer.text


def test_inspecting_proxy_keeps_the_tunnel_open_for_its_own_answers(
    inspecting_proxy: Callable[..., InspectingProxy],
) -> None:
    proxy = inspecting_proxy(default_mode="503")
    answer, sock = connect_via(proxy.port, "mcr.microsoft.com:443")
    assert answer is None
    tls = client_ssl_context(proxy.ca).wrap_socket(sock, server_hostname="mcr.microsoft.com")
    with tls:
        for path in ("/v2/", "/v2/_catalog"):
            send_request(tls, "GET", path, "mcr.microsoft.com", close=False)
            assert read_answer(tls).status == 503
        send_request(tls, "HEAD", "/", "mcr.microsoft.com", close=False)
        head = read_answer(tls, "HEAD")
        assert head.status == 503 and head.body == b""
    assert [r.path for r in proxy.inspected] == ["/v2/", "/v2/_catalog", "/"]


def test_inspecting_proxy_modes_by_host_and_wildcard() -> None:
    proxy = InspectingProxy(
        modes={"mcr.microsoft.com": "pass", "*.blob.core.windows.net": "block403"},
        default_mode="504",
    )
    assert proxy.mode_for("MCR.microsoft.com.") == "pass"
    assert proxy.mode_for("acct.blob.core.windows.net") == "block403"
    assert proxy.mode_for("blob.core.windows.net") == "504"
    assert proxy.mode_for("login.microsoftonline.com") == "504"
    with pytest.raises(ValueError, match="mode must be one of"):
        InspectingProxy(default_mode="teapot")


def test_inspecting_proxy_intermediate_chain_is_sent(
    inspecting_proxy: Callable[..., InspectingProxy], tls_server: Callable[..., TlsHttpServer]
) -> None:
    origin = tls_server(hostnames=["login.microsoftonline.com"], status=200, body=b"{}")
    proxy = inspecting_proxy(
        intermediate=True,
        upstream={"login.microsoftonline.com": ("127.0.0.1", origin.port)},
    )
    # The client trusts only the root: verification succeeds only if the server sends the
    # intermediate along with the leaf.
    answer, cert = inspect_get(proxy, "login.microsoftonline.com", 443)
    assert (answer.status, answer.body) == (200, b"{}")
    assert subject_field(cert, "issuer", "organizationName") == [INSPECTION_ORG]
    assert subject_field(cert, "issuer", "organizationalUnitName") == ["Issuing CA 01"]
    assert proxy.issuer is not proxy.ca


def test_inspecting_proxy_pass_to_an_unreachable_origin_is_its_own_502(
    inspecting_proxy: Callable[..., InspectingProxy], refused_port: int
) -> None:
    proxy = inspecting_proxy(upstream={"mcr.microsoft.com": ("127.0.0.1", refused_port)})
    answer, _ = inspect_get(proxy, "mcr.microsoft.com", 443)
    assert answer.status == 502 and answer.headers["Server"] == GATEWAY_SERVER
    record = proxy.inspected[0]
    assert (record.mode, record.status) == ("pass", 502)
    assert record.error is not None and "ConnectionRefusedError" in record.error


def test_inspecting_proxy_pass_with_an_untrusted_origin_is_its_own_502(
    inspecting_proxy: Callable[..., InspectingProxy], tls_server: Callable[..., TlsHttpServer]
) -> None:
    origin = tls_server(hostnames=["mcr.microsoft.com"], untrusted=True)
    proxy = inspecting_proxy(upstream={"mcr.microsoft.com": ("127.0.0.1", origin.port)})
    answer, _ = inspect_get(proxy, "mcr.microsoft.com", 443)
    assert answer.status == 502
    assert proxy.inspected[0].error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in proxy.inspected[0].error


def test_inspecting_proxy_pass_relays_an_endless_body_as_it_comes(
    inspecting_proxy: Callable[..., InspectingProxy],
    misbehaving_server: Callable[..., MisbehavingServer],
) -> None:
    origin = misbehaving_server(
        "endless_body", tls=True, hostnames=["mcr.microsoft.com"], interval=0
    )
    proxy = inspecting_proxy(upstream={"mcr.microsoft.com": ("127.0.0.1", origin.port)})
    answer, sock = connect_via(proxy.port, "mcr.microsoft.com:443")
    assert answer is None
    tls = client_ssl_context(proxy.ca).wrap_socket(sock, server_hostname="mcr.microsoft.com")
    with tls:
        send_request(tls, "GET", "/v2/", "mcr.microsoft.com")
        response = http.client.HTTPResponse(tls, method="GET")
        response.begin()
        assert response.status == 200
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert len(response.read(100_000)) == 100_000
    assert origin.request_lines == ["GET /v2/ HTTP/1.1"]
    assert proxy.inspected[0].status == 200


def test_inspecting_proxy_plain_absolute_uri_requests(
    inspecting_proxy: Callable[..., InspectingProxy], http_server: Callable[..., HttpServer]
) -> None:
    origin = http_server(200, body=b"plain origin")
    proxy = inspecting_proxy(
        modes={"blocked.example": "block403"},
        upstream={"imds.example": ("127.0.0.1", origin.port)},
    )
    with socket.create_connection(proxy.sockaddr, timeout=5) as sock:
        send_request(sock, "GET", "http://imds.example/metadata?x=1", "imds.example")
        answer = read_answer(sock)
    assert (answer.status, answer.body) == (200, b"plain origin")
    assert origin.requests[0].path == "/metadata?x=1"
    assert origin.requests[0].host == "imds.example"
    with socket.create_connection(proxy.sockaddr, timeout=5) as sock:
        send_request(sock, "GET", "http://blocked.example:8080/", "blocked.example:8080")
        answer = read_answer(sock)
    assert answer.status == 403 and "blocked by your organization" in answer.text
    with socket.create_connection(proxy.sockaddr, timeout=5) as sock:
        send_request(sock, "GET", "/not-absolute", "proxy")
        assert read_answer(sock).status == 400
    assert [(r.scheme, r.host, r.port, r.mode, r.status) for r in proxy.requests] == [
        ("http", "imds.example", 80, "pass", 200),
        ("http", "blocked.example", 8080, "block403", 403),
        ("http", "", 0, "", 400),
    ]


def test_inspecting_proxy_write_ca_bundle(tmp_path: Path) -> None:
    proxy = InspectingProxy(intermediate=True)
    path = proxy.write_ca_bundle(tmp_path / "inspection.pem")
    assert path.read_bytes() == proxy.ca.cert_pem.bytes()
    ctx = ssl.create_default_context(cafile=str(path))
    assert [c["issuer"] for c in ctx.get_ca_certs()] == [
        c["subject"] for c in ctx.get_ca_certs()
    ]  # the root (self-signed), not the intermediate


# -- routes, responders and Azure's answers ----------------------------------------------------
def test_tls_server_routes_and_responder(tls_server: Callable[..., TlsHttpServer]) -> None:
    ctx_for: Callable[[TlsHttpServer], ssl.SSLContext] = lambda s: client_ssl_context(s.ca)  # noqa: E731

    def get(srv: TlsHttpServer, path: str, method: str = "GET") -> Answer:
        sock = socket.create_connection(srv.sockaddr, timeout=5)
        return https_get(sock, "myacr.azurecr.io", ctx_for(srv), path, method)[0]

    challenge = azure_services.acr_v2_challenge("myacr.azurecr.io")
    srv = tls_server(
        hostnames=["myacr.azurecr.io"],
        status=404,
        body=b"404 page not found\n",
        routes={
            "/v2/": challenge,
            "POST /oauth2/token": (400, {"Content-Type": "application/json"}, '{"e":1}'),
            "/dynamic": lambda req: (200, {"X-Method": req.method}, req.method.encode()),
        },
        responder=lambda req: (418, {}, b"teapot") if req.path == "/teapot" else None,
    )
    answer = get(srv, "/v2/")
    assert (answer.status, answer.body) == (401, challenge.body)
    assert answer.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert answer.headers["Www-Authenticate"] == (
        'Bearer realm="https://myacr.azurecr.io/oauth2/token",service="myacr.azurecr.io"'
    )
    assert get(srv, "/v2/?last=1").status == 401  # a query string still matches the path
    head = get(srv, "/v2/", "HEAD")
    assert head.status == 401 and head.body == b""
    assert head.headers["Content-Length"] == str(len(challenge.body))
    assert get(srv, "/oauth2/token", "POST").body == b'{"e":1}'
    assert get(srv, "/oauth2/token").status == 404  # only POST is routed
    dynamic = get(srv, "/dynamic", "DELETE")
    assert (dynamic.status, dynamic.headers["X-Method"], dynamic.body) == (200, "DELETE", b"DELETE")
    assert get(srv, "/teapot").status == 418
    assert (get(srv, "/").status, get(srv, "/").body) == (404, b"404 page not found\n")
    assert [r.path for r in srv.requests][:2] == ["/v2/", "/v2/?last=1"]


def test_http_server_routes(http_server: Callable[..., HttpServer]) -> None:
    srv = http_server(204, routes={"/version": azure_services.kube_version("v1.29.7")})
    with socket.create_connection(srv.sockaddr, timeout=5) as sock:
        send_request(sock, "GET", "/version", "api")
        answer = read_answer(sock)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert '"gitVersion": "v1.29.7"' in answer.text


@pytest.mark.parametrize("name", sorted(azure_services.RESPONSES))
def test_azure_responses_are_served_verbatim(
    tls_server: Callable[..., TlsHttpServer], name: str
) -> None:
    canned = azure_services.RESPONSES[name]()
    srv = tls_server(hostnames=["service.example"], status=599, routes={"/probe": canned})
    sock = socket.create_connection(srv.sockaddr, timeout=5)
    answer, _ = https_get(sock, "service.example", client_ssl_context(srv.ca), "/probe")
    assert (answer.status, answer.body) == (canned.status, canned.body)
    for key, value in canned.headers.items():
        assert answer.headers[key] == value, key
    assert azure_services.MEANING[name] in ("reachable", "denied-by-service-network-rules")


def test_azure_response_signatures() -> None:
    acr = azure_services.acr_firewall_denied("203.0.113.9")
    assert acr.status == 403
    assert acr.json() == {
        "errors": [
            {
                "code": "DENIED",
                "message": "client with IP '203.0.113.9' is not allowed access. "
                "Refer https://aka.ms/acr/firewall to grant access.",
            }
        ]
    }
    storage = azure_services.storage_firewall_denied()
    assert (storage.status, storage.headers["x-ms-error-code"]) == (403, "AuthorizationFailure")
    assert storage.text().startswith(
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationFailure</Code>'
    )
    rbac = azure_services.storage_permission_mismatch()
    assert rbac.headers["x-ms-error-code"] == "AuthorizationPermissionMismatch"
    assert "<Code>AuthorizationPermissionMismatch</Code>" in rbac.text()
    vault = azure_services.keyvault_firewall_denied("203.0.113.9")
    assert vault.status == 403
    assert vault.json()["error"]["code"] == "Forbidden"
    assert vault.json()["error"]["innererror"] == {"code": "ForbiddenByFirewall"}
    assert "Client address: 203.0.113.9" in vault.json()["error"]["message"]
    challenge = azure_services.keyvault_challenge()
    assert challenge.status == 401
    assert challenge.headers["WWW-Authenticate"].endswith('resource="https://vault.azure.net"')
    aml = azure_services.azureml_private_link_denied()
    assert aml.status == 403 and "private link" in aml.json()["error"]["message"]
    arm = azure_services.arm_unauthenticated()
    assert arm.status == 401 and arm.json()["error"]["code"] == "AuthenticationFailed"
    assert {"x-ms-request-id", "x-ms-correlation-request-id"} <= set(arm.headers)
    assert azure_services.entra_openid_configuration().json()["issuer"].endswith("/v2.0")
    mcr = azure_services.mcr_v2()
    assert (mcr.status, mcr.body, mcr.headers["Docker-Distribution-Api-Version"]) == (
        200,
        b"{}",
        "registry/2.0",
    )
    assert azure_services.kube_unauthorized().json()["reason"] == "Unauthorized"
    assert len(azure_services.kube_unauthorized().body) == 129
    # request ids are fresh per call, as real services' are
    assert (
        azure_services.arm_unauthenticated().headers["x-ms-request-id"]
        != arm.headers["x-ms-request-id"]
    )
    assert set(azure_services.MEANING) == set(azure_services.RESPONSES)


# -- misbehaving peers -------------------------------------------------------------------------
def http_exchange(
    srv: MisbehavingServer, ctx: ssl.SSLContext | None = None, timeout: float = 2.0
) -> tuple[socket.socket, http.client.HTTPResponse]:
    """Send ``GET /`` and parse the status line and headers (not the body)."""
    sock: socket.socket = socket.create_connection(srv.sockaddr, timeout=timeout)
    if ctx is not None:
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    send_request(sock, "GET", "/", "localhost", close=False)
    response = http.client.HTTPResponse(sock, method="GET")
    response.begin()
    return sock, response


@pytest.mark.parametrize("framing", ["chunked", "length", "eof"])
def test_endless_body_never_ends(
    misbehaving_server: Callable[..., MisbehavingServer], framing: str
) -> None:
    srv = misbehaving_server("endless_body", framing=framing, interval=0)
    sock, response = http_exchange(srv)
    with sock:
        assert response.status == 200
        if framing == "chunked":
            assert response.getheader("Transfer-Encoding") == "chunked"
        elif framing == "length":
            assert response.getheader("Content-Length") == "1000000000000"
        else:
            assert response.getheader("Content-Length") is None
        got = 0
        while got < 2_000_000:  # far more than any probe should read
            piece = response.read(65536)
            assert piece, "the body ended"
            got += len(piece)
    assert srv.request_lines == ["GET / HTTP/1.1"]


def test_endless_body_over_tls(misbehaving_server: Callable[..., MisbehavingServer]) -> None:
    srv = misbehaving_server("endless_body", tls=True)
    sock, response = http_exchange(srv, client_ssl_context(srv.ca))
    with sock:
        assert response.status == 200 and len(response.read(10_000)) == 10_000
    assert srv.handshakes and srv.handshakes[0].startswith("TLSv1.")


def test_stalled_chunked_sends_one_chunk_then_nothing(
    misbehaving_server: Callable[..., MisbehavingServer],
) -> None:
    srv = misbehaving_server("stalled_chunked", chunk=b'{"partial": ')
    sock, response = http_exchange(srv, timeout=0.3)
    with sock:
        assert response.status == 200
        assert response.read(12) == b'{"partial": '
        with pytest.raises(TimeoutError):
            response.read()


def test_garbage_instead_of_http(misbehaving_server: Callable[..., MisbehavingServer]) -> None:
    srv = misbehaving_server("garbage")
    with pytest.raises(http.client.BadStatusLine):
        sock, _ = http_exchange(srv)
    assert srv.request_lines == ["GET / HTTP/1.1"]


def test_garbage_proxy_answers_garbage_to_connect(garbage_proxy: MisbehavingServer) -> None:
    with socket.create_connection(garbage_proxy.sockaddr, timeout=2) as sock:
        sock.sendall(
            b"CONNECT mcr.microsoft.com:443 HTTP/1.1\r\nHost: mcr.microsoft.com:443\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data and not data.startswith(b"HTTP/")
    assert garbage_proxy.request_lines == ["CONNECT mcr.microsoft.com:443 HTTP/1.1"]
    assert garbage_proxy.url == f"http://127.0.0.1:{garbage_proxy.port}"


def test_no_response(misbehaving_server: Callable[..., MisbehavingServer]) -> None:
    srv = misbehaving_server("no_response")
    with pytest.raises(http.client.RemoteDisconnected):
        http_exchange(srv)


@pytest.mark.parametrize("abort", ["close_notify", "fin", "rst"])
def test_tls13_abort_right_after_the_handshake(
    misbehaving_server: Callable[..., MisbehavingServer], abort: str
) -> None:
    srv = misbehaving_server("tls_abort", abort=abort)
    raw = socket.create_connection(srv.sockaddr, timeout=2)
    tls = client_ssl_context(srv.ca).wrap_socket(raw, server_hostname="localhost")
    with tls:
        assert tls.version() == "TLSv1.3"  # the handshake completed
        failure: BaseException | None = None
        try:
            send_request(tls, "GET", "/", "localhost")
            response = http.client.HTTPResponse(tls, method="GET")
            response.begin()
        except (OSError, http.client.HTTPException) as exc:
            failure = exc
    # Python's ssl hides which one it was (suppress_ragged_eofs): mostly RemoteDisconnected;
    # a reset may also surface as ConnectionResetError or SSLEOFError, depending on timing.
    assert isinstance(
        failure, (http.client.RemoteDisconnected, ssl.SSLEOFError, ConnectionResetError)
    ), repr(failure)
    assert srv.handshakes == ["TLSv1.3"]
    assert srv.request_lines == []  # it never read the request


def test_misbehaving_server_rejects_unknown_behaviour() -> None:
    with pytest.raises(ValueError, match="behaviour must be one of"):
        MisbehavingServer("explode")


# -- DNS: truncation and private-link chains --------------------------------------------------
def test_dns_truncated_udp_then_full_answer_over_tcp(
    dns_server: Callable[..., DnsServer],
) -> None:
    server = dns_server(
        records={
            "myacr.azurecr.io": CNAME("myacr.privatelink.azurecr.io"),
            "myacr.privatelink.azurecr.io": "10.1.2.3",
        },
        truncate={"myacr.azurecr.io"},
    )
    query = dns.message.make_query("myacr.azurecr.io", "A")
    udp = dns.query.udp(query, server.host, port=server.port, timeout=2)
    assert udp.flags & dns.flags.TC and udp.answer == []
    msg, used_tcp = dns.query.udp_with_fallback(query, server.host, port=server.port, timeout=2)
    assert used_tcp
    assert answers(msg) == [
        ("myacr.azurecr.io", "CNAME", "myacr.privatelink.azurecr.io."),
        ("myacr.privatelink.azurecr.io", "A", "10.1.2.3"),
    ]
    assert [(q.name, q.transport) for q in server.queries] == [
        ("myacr.azurecr.io", "udp"),
        ("myacr.azurecr.io", "udp"),
        ("myacr.azurecr.io", "tcp"),
    ]


def test_dns_truncated_udp_with_tcp_refused(dns_server: Callable[..., DnsServer]) -> None:
    server = dns_server(
        records={"big.example": "127.0.0.1", "small.example": "127.0.0.2"},
        truncate={"big.example"},
        tcp_refused=True,
    )
    small = dns.query.udp(
        dns.message.make_query("small.example", "A"), server.host, port=server.port, timeout=2
    )
    assert answers(small) == [("small.example", "A", "127.0.0.2")]  # UDP answers normally
    query = dns.message.make_query("big.example", "A")
    with pytest.raises(ConnectionRefusedError):
        dns.query.udp_with_fallback(query, server.host, port=server.port, timeout=2)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(server.sockaddr, timeout=2)
    assert [(q.name, q.transport) for q in server.queries] == [
        ("small.example", "udp"),
        ("big.example", "udp"),
    ]


@pytest.mark.parametrize(
    ("target", "address"), [("10.1.2.3", "10.1.2.3"), ("public", "20.38.122.73")]
)
def test_dns_cname_into_a_privatelink_zone(
    dns_server: Callable[..., DnsServer], target: str, address: str
) -> None:
    # Healthy private endpoint: the privatelink name has a private A record (the private zone).
    # Missing zone/forwarder: the chain continues to the public front end.
    records: dict[str, Any] = {"myacr.azurecr.io": CNAME("myacr.privatelink.azurecr.io")}
    if target == "public":
        records["myacr.privatelink.azurecr.io"] = CNAME("weu.fe.azcr.io")
        records["weu.fe.azcr.io"] = address
    else:
        records["myacr.privatelink.azurecr.io"] = address
    server = dns_server(records=records)
    for tcp in (False, True):
        send = dns.query.tcp if tcp else dns.query.udp
        msg = send(
            dns.message.make_query("myacr.azurecr.io", "A"),
            server.host,
            port=server.port,
            timeout=2,
        )
        chain = answers(msg)
        assert chain[0] == ("myacr.azurecr.io", "CNAME", "myacr.privatelink.azurecr.io.")
        assert chain[-1][1:] == ("A", address)
        assert any(owner.endswith(".privatelink.azurecr.io") for owner, _, _ in chain)
