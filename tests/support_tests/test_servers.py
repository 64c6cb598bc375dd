"""Self-tests of the loopback test servers in ``tests/support`` with plain, independent clients.

If one of these fails, every test built on that server is suspect: fix this first.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import httpx
import pytest
import trustme
from support import (
    CNAME,
    INSPECTION_CA_NAME,
    Blackhole,
    Dnsmasq,
    DnsServer,
    HttpServer,
    MiniConnectProxy,
    RefusedPort,
    SilentDnsServer,
    Tinyproxy,
    TlsHttpServer,
    client_ssl_context,
    refused_port,
    support_threads,
    write_ca_bundle,
)

from tests.support_tests.clients import answers, basic, proxy_connect


# -- helpers -----------------------------------------------------------------------------------
def ask(
    server: DnsServer | SilentDnsServer | Dnsmasq,
    name: str,
    qtype: str = "A",
    *,
    tcp: bool = False,
    timeout: float = 2.0,
) -> dns.message.Message:
    """One query with dnspython, straight at the server (no resolver logic)."""
    query = dns.message.make_query(name, qtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, server.host, port=server.port, timeout=timeout)


def rcode(msg: dns.message.Message) -> str:
    return dns.rcode.to_text(msg.rcode())


def https_request(
    port: int,
    server_hostname: str,
    ctx: ssl.SSLContext,
    method: str = "HEAD",
    path: str = "/",
    sock: socket.socket | None = None,
) -> tuple[int, str | None]:
    """One HTTPS request to 127.0.0.1:port with the given SNI/verification name.

    Returns ``(status, the DNS names of the peer certificate's subjectAltName, comma-joined)``.
    """
    raw = sock or socket.create_connection(("127.0.0.1", port), timeout=5)
    with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
        tls.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: {server_hostname}:{port}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        response = http.client.HTTPResponse(tls, method=method)
        response.begin()
        response.read()
        cert: dict[str, Any] = dict(tls.getpeercert() or {})
        sans = ",".join(v for k, v in cert.get("subjectAltName", ()) if k == "DNS")
        return response.status, sans


# -- DnsServer ---------------------------------------------------------------------------------
def test_dns_a_and_aaaa_over_udp_and_tcp(dns_server: Callable[..., DnsServer]) -> None:
    server = dns_server(records={"MCR.microsoft.com.": ["127.0.0.1", "127.0.0.2", "::1"]})
    assert server.address == f"127.0.0.1:{server.port}"

    udp = ask(server, "mcr.microsoft.com", "A")
    assert rcode(udp) == "NOERROR"
    assert sorted(v for *_, v in answers(udp)) == ["127.0.0.1", "127.0.0.2"]
    assert udp.flags & dns.flags.AA and udp.flags & dns.flags.RA

    tcp = ask(server, "mcr.microsoft.com", "AAAA", tcp=True)
    assert answers(tcp) == [("mcr.microsoft.com", "AAAA", "::1")]
    assert [(q.name, q.qtype, q.transport) for q in server.queries] == [
        ("mcr.microsoft.com", "A", "udp"),
        ("mcr.microsoft.com", "AAAA", "tcp"),
    ]


def test_dns_missing_type_is_nodata(dns_server: Callable[..., DnsServer]) -> None:
    server = dns_server(records={"v4only.example": "127.0.0.1"}, nodata={"empty.example"})
    for name, qtype in [("v4only.example", "AAAA"), ("empty.example", "A")]:
        msg = ask(server, name, qtype)
        assert rcode(msg) == "NOERROR" and msg.answer == []


def test_dns_nxdomain_refused_servfail(dns_server: Callable[..., DnsServer]) -> None:
    server = dns_server(
        records={"ok.example": "127.0.0.1"},
        nxdomain={"gone.example"},
        refused={"refused.example"},
        servfail={"broken.example"},
    )
    assert rcode(ask(server, "gone.example")) == "NXDOMAIN"
    assert rcode(ask(server, "deep.below.gone.example")) == "NXDOMAIN"
    assert rcode(ask(server, "refused.example")) == "REFUSED"
    assert rcode(ask(server, "broken.example", tcp=True)) == "SERVFAIL"
    assert rcode(ask(server, "unknown.example")) == "NXDOMAIN"  # default for unknown names

    server.unknown = "refused"  # tables are live
    assert rcode(ask(server, "unknown.example")) == "REFUSED"


def test_dns_cname_chain_like_a_recursive_resolver(dns_server: Callable[..., DnsServer]) -> None:
    server = dns_server(
        records={
            "myacr.azurecr.io": CNAME("myacr.privatelink.azurecr.io"),
            "myacr.privatelink.azurecr.io": CNAME("eastus.fe.azcr.io"),
            "eastus.fe.azcr.io": ["127.0.0.1"],
            "dangling.example": CNAME("gone.example"),
        },
        nxdomain={"gone.example"},
    )
    msg = ask(server, "myacr.azurecr.io")
    assert rcode(msg) == "NOERROR"
    assert answers(msg) == [
        ("myacr.azurecr.io", "CNAME", "myacr.privatelink.azurecr.io."),
        ("myacr.privatelink.azurecr.io", "CNAME", "eastus.fe.azcr.io."),
        ("eastus.fe.azcr.io", "A", "127.0.0.1"),
    ]
    # The stub resolver of dnspython follows it the same way preflight's would.
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    result = resolver.resolve("myacr.azurecr.io", "A")
    assert [r.address for r in result] == ["127.0.0.1"]
    assert result.canonical_name.to_text() == "eastus.fe.azcr.io."

    dangling = ask(server, "dangling.example")
    assert rcode(dangling) == "NXDOMAIN"
    assert answers(dangling) == [("dangling.example", "CNAME", "gone.example.")]


def test_dns_wildcard(dns_server: Callable[..., DnsServer]) -> None:
    server = dns_server(records={"*.data.mcr.microsoft.com": "127.0.0.1"})
    assert answers(ask(server, "eastus.data.mcr.microsoft.com")) == [
        ("eastus.data.mcr.microsoft.com", "A", "127.0.0.1")
    ]
    assert rcode(ask(server, "data.mcr.microsoft.com")) == "NXDOMAIN"


def test_dns_delay_is_concurrent(dns_server: Callable[..., DnsServer]) -> None:
    server = dns_server(records={f"h{i}.example": "127.0.0.1" for i in range(30)}, delay=0.2)
    durations: list[float] = []

    def one(i: int) -> str:
        started = time.monotonic()
        msg = ask(server, f"h{i}.example", timeout=5)
        durations.append(time.monotonic() - started)
        return rcode(msg)

    started = time.monotonic()
    with ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(one, range(30)))
    total = time.monotonic() - started
    assert codes == ["NOERROR"] * 30
    assert min(durations) >= 0.19  # every answer was really delayed...
    assert total < 1.5  # ...but not one after the other (would be 6 s)
    assert len(server.queries) == 30


def test_dns_per_name_delay_and_tcp_delay(dns_server: Callable[..., DnsServer]) -> None:
    server = dns_server(
        records={"slow.example": "127.0.0.1", "fast.example": "127.0.0.1"},
        delays={"slow.example": 0.3},
    )
    started = time.monotonic()
    ask(server, "fast.example")
    assert time.monotonic() - started < 0.25
    started = time.monotonic()
    ask(server, "slow.example", tcp=True)
    assert time.monotonic() - started >= 0.29


def test_dns_silent_name_times_out_others_answer(dns_server: Callable[..., DnsServer]) -> None:
    server = dns_server(records={"ok.example": "127.0.0.1"}, silent={"hang.example"})
    with pytest.raises(dns.exception.Timeout):
        ask(server, "hang.example", timeout=0.3)
    assert rcode(ask(server, "ok.example")) == "NOERROR"
    assert server.queried_names() == ["hang.example", "ok.example"]


def test_dns_truncate_forces_tcp(dns_server: Callable[..., DnsServer]) -> None:
    server = dns_server(records={"big.example": "127.0.0.1"}, truncate={"big.example"})
    udp = ask(server, "big.example")
    assert udp.flags & dns.flags.TC and udp.answer == []
    msg, used_tcp = dns.query.udp_with_fallback(
        dns.message.make_query("big.example", "A"), server.host, port=server.port, timeout=2
    )
    assert used_tcp and answers(msg) == [("big.example", "A", "127.0.0.1")]


def test_silent_dns_never_answers(silent_dns: SilentDnsServer) -> None:
    started = time.monotonic()
    with pytest.raises(dns.exception.Timeout):
        ask(silent_dns, "mcr.microsoft.com", timeout=0.5)
    assert time.monotonic() - started >= 0.45
    with pytest.raises(dns.exception.Timeout):
        ask(silent_dns, "mcr.microsoft.com", tcp=True, timeout=0.5)
    assert silent_dns.datagrams == 1 and silent_dns.connections == 1


def test_dns_server_context_manager_stops_threads() -> None:
    with DnsServer(records={"a.example": "127.0.0.1"}, delay=0.5) as server:
        assert support_threads()
        with pytest.raises(dns.exception.Timeout):
            ask(server, "a.example", timeout=0.1)  # leaves a pending delay timer behind
    assert not server.running
    assert support_threads() == []


# -- dnsmasq -----------------------------------------------------------------------------------
def test_dnsmasq_answers_from_table(dnsmasq: Callable[..., Dnsmasq]) -> None:
    server = dnsmasq(
        records={
            "mcr.microsoft.com": ["127.0.0.1", "::1"],
            "alias.example": CNAME("mcr.microsoft.com"),
            "*.data.mcr.microsoft.com": "127.0.0.1",
        },
        nxdomain={"gone.example"},
        sinkhole={"blocked.example"},
    )
    assert answers(ask(server, "mcr.microsoft.com")) == [("mcr.microsoft.com", "A", "127.0.0.1")]
    assert answers(ask(server, "mcr.microsoft.com", "AAAA", tcp=True)) == [
        ("mcr.microsoft.com", "AAAA", "::1")
    ]
    assert answers(ask(server, "alias.example")) == [
        ("alias.example", "CNAME", "mcr.microsoft.com."),
        ("mcr.microsoft.com", "A", "127.0.0.1"),
    ]
    assert answers(ask(server, "eastus.data.mcr.microsoft.com")) == [
        ("eastus.data.mcr.microsoft.com", "A", "127.0.0.1")
    ]
    assert rcode(ask(server, "x.gone.example")) == "NXDOMAIN"
    assert answers(ask(server, "blocked.example")) == [("blocked.example", "A", "0.0.0.0")]
    assert rcode(ask(server, "unknown.example")) == "NXDOMAIN"
    assert ("alias.example", "A") in [(q.name, q.qtype) for q in server.queries]


def test_dnsmasq_unknown_refused(dnsmasq: Callable[..., Dnsmasq]) -> None:
    server = dnsmasq(records={"ok.example": "127.0.0.1"}, unknown="refused")
    assert rcode(ask(server, "unknown.example")) == "REFUSED"
    assert rcode(ask(server, "ok.example")) == "NOERROR"
    # dnsmasq quirk: without the catch-all, a type it lacks is "forwarded" -> REFUSED too.
    assert rcode(ask(server, "ok.example", "AAAA")) == "REFUSED"


def test_dnsmasq_process_is_reaped(dnsmasq: Callable[..., Dnsmasq]) -> None:
    server = dnsmasq(records={"ok.example": "127.0.0.1"})
    assert server.proc is not None
    pid = server.proc.pid
    server.stop()
    assert server.proc is None
    assert not Path(f"/proc/{pid}").exists()


# -- TLS / HTTP --------------------------------------------------------------------------------
def test_tls_server_sni_and_verification(
    tls_server: Callable[..., TlsHttpServer], tls_ca: trustme.CA, ca_bundle: Path
) -> None:
    srv = tls_server(hostnames=["mcr.microsoft.com", "*.data.mcr.microsoft.com"], status=204)
    ctx = ssl.create_default_context(cafile=str(ca_bundle))  # what --ca-bundle would do
    status, sans = https_request(srv.port, "mcr.microsoft.com", ctx)
    assert status == 204
    assert sans == "mcr.microsoft.com,*.data.mcr.microsoft.com"
    status, _ = https_request(srv.port, "eastus.data.mcr.microsoft.com", ctx, "GET", "/v2/")
    assert status == 204

    assert srv.sni_names == ["mcr.microsoft.com", "eastus.data.mcr.microsoft.com"]
    first, second = srv.requests
    assert (first.method, first.path, first.sni) == ("HEAD", "/", "mcr.microsoft.com")
    assert first.host == f"mcr.microsoft.com:{srv.port}"
    assert (second.method, second.path) == ("GET", "/v2/")
    assert srv.handshakes[0].alpn is None and (srv.handshakes[0].version or "").startswith("TLS")


def test_tls_server_any_method_any_status(tls_server: Callable[..., TlsHttpServer]) -> None:
    srv = tls_server(
        hostnames=["login.microsoftonline.com"], status=401, headers={"X-Test": "1"}, body=b"no"
    )
    for method in ("GET", "POST", "OPTIONS", "FROB"):
        status, _ = https_request(
            srv.port, "login.microsoftonline.com", client_ssl_context(srv.ca), method
        )
        assert status == 401
    assert [r.method for r in srv.requests] == ["GET", "POST", "OPTIONS", "FROB"]


def test_tls_server_with_httpx(tls_server: Callable[..., TlsHttpServer]) -> None:
    srv = tls_server(hostnames=["localhost"], status=404)
    with httpx.Client(verify=client_ssl_context(srv.ca)) as client:
        response = client.head(srv.url_for("localhost"))
    assert response.status_code == 404
    assert srv.requests[0].sni == "localhost"
    assert srv.handshakes[0].alpn == "http/1.1"


def test_tls_server_untrusted_variant(tls_server: Callable[..., TlsHttpServer]) -> None:
    srv = tls_server(hostnames=["mcr.microsoft.com"], untrusted=True)
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        https_request(srv.port, "mcr.microsoft.com", client_ssl_context(srv.ca))
    # The certificate names the inspecting CA, and trusting *that* CA makes it pass.
    no_verify = ssl.create_default_context()
    no_verify.check_hostname = False
    no_verify.verify_mode = ssl.CERT_NONE
    with no_verify.wrap_socket(socket.create_connection(srv.sockaddr, timeout=5)) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    from cryptography import x509

    assert INSPECTION_CA_NAME in x509.load_der_x509_certificate(der).issuer.rfc4514_string()
    status, _ = https_request(srv.port, "mcr.microsoft.com", client_ssl_context(srv.issuer_ca))
    assert status == 204
    assert srv.tls_errors  # the first client aborted the handshake


def test_tls_server_expired_variant(tls_server: Callable[..., TlsHttpServer]) -> None:
    srv = tls_server(hostnames=["mcr.microsoft.com"], expired=True)
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        https_request(srv.port, "mcr.microsoft.com", client_ssl_context(srv.ca))


def test_tls_server_wrong_name(tls_server: Callable[..., TlsHttpServer]) -> None:
    srv = tls_server(hostnames=["other.example"])
    with pytest.raises(ssl.SSLCertVerificationError, match="match|mismatch"):
        https_request(srv.port, "mcr.microsoft.com", client_ssl_context(srv.ca))


def test_tls_then_silence(tls_server: Callable[..., TlsHttpServer]) -> None:
    srv = tls_server(hostnames=["mcr.microsoft.com"], tls_then_silence=True)
    raw = socket.create_connection(srv.sockaddr, timeout=0.5)
    with client_ssl_context(srv.ca).wrap_socket(raw, server_hostname="mcr.microsoft.com") as tls:
        tls.sendall(b"HEAD / HTTP/1.1\r\nHost: mcr.microsoft.com\r\n\r\n")
        with pytest.raises(TimeoutError):
            tls.recv(1)
    assert srv.sni_names == ["mcr.microsoft.com"]
    assert srv.requests == []


def test_accept_then_silence(tls_server: Callable[..., TlsHttpServer]) -> None:
    srv = tls_server(hostnames=["mcr.microsoft.com"], accept_then_silence=True)
    raw = socket.create_connection(srv.sockaddr, timeout=0.5)  # TCP connects at once...
    with pytest.raises(TimeoutError):  # ...but the handshake never completes
        client_ssl_context(srv.ca).wrap_socket(raw, server_hostname="mcr.microsoft.com")
    raw.close()
    assert srv.handshakes == [] and srv.connections == 1


def test_plain_http_server(http_server: Callable[..., HttpServer]) -> None:
    srv = http_server(status=301, headers={"Location": "https://example.invalid/"})
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/healthz", headers={"Host": "crl.microsoft.com"})
    response = conn.getresponse()
    assert response.status == 301 and response.getheader("Location") == "https://example.invalid/"
    conn.close()
    assert [(r.method, r.path, r.host, r.sni) for r in srv.requests] == [
        ("GET", "/healthz", "crl.microsoft.com", None)
    ]


def test_write_ca_bundle(tmp_path: Path) -> None:
    ca1, ca2 = trustme.CA(), trustme.CA()
    path = write_ca_bundle(ca1, tmp_path / "bundle.pem", ca2)
    assert path.read_bytes().count(b"BEGIN CERTIFICATE") == 2
    with TlsHttpServer(hostnames=["a.example"], ca=ca2) as srv:
        ctx = ssl.create_default_context(cafile=str(path))
        assert https_request(srv.port, "a.example", ctx)[0] == 204


def test_server_stop_closes_idle_keepalive_connections(
    tls_server: Callable[..., TlsHttpServer],
) -> None:
    srv = tls_server(hostnames=["localhost"])
    client = httpx.Client(verify=client_ssl_context(srv.ca))
    assert client.get(srv.url_for("localhost")).status_code == 204  # connection kept alive
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 2
    client.close()


# -- blackhole / refused -----------------------------------------------------------------------
def test_blackhole_connect_times_out(blackhole: Blackhole) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        socket.create_connection(blackhole.sockaddr, timeout=1)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.0, elapsed


def test_blackhole_holds_for_parallel_clients(blackhole: Blackhole) -> None:
    def attempt(_: int) -> str:
        try:
            socket.create_connection(blackhole.sockaddr, timeout=0.5).close()
            return "connected"
        except TimeoutError:
            return "timeout"
        except OSError as exc:
            return repr(exc)

    with ThreadPoolExecutor(10) as pool:
        assert list(pool.map(attempt, range(10))) == ["timeout"] * 10


def test_blackhole_with_httpx(blackhole: Blackhole) -> None:
    with pytest.raises(httpx.ConnectTimeout):
        httpx.get(f"https://{blackhole.address}/", timeout=0.5)


def test_refused_port(refused_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", refused_port), timeout=2)
    assert time.monotonic() - started < 0.5


def test_refused_port_helpers() -> None:
    with RefusedPort() as reserved, pytest.raises(ConnectionRefusedError):
        socket.create_connection(reserved.sockaddr, timeout=2)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", refused_port()), timeout=2)


# -- tinyproxy ---------------------------------------------------------------------------------
def test_tinyproxy_connect_allowed_port_tunnels_tls(
    tinyproxy: Callable[..., Tinyproxy], tls_server: Callable[..., TlsHttpServer]
) -> None:
    srv = tls_server(hostnames=["localhost"])
    proxy = tinyproxy(connect_ports=[srv.port])
    status, sock = proxy_connect(proxy.port, f"localhost:{srv.port}")
    assert status == 200
    assert https_request(srv.port, "localhost", client_ssl_context(srv.ca), sock=sock)[0] == 204
    assert proxy.connect_targets == [f"localhost:{srv.port}"]
    assert srv.requests[0].sni == "localhost"


def test_tinyproxy_refuses_port_with_403(
    tinyproxy: Callable[..., Tinyproxy], tls_server: Callable[..., TlsHttpServer]
) -> None:
    srv = tls_server(hostnames=["localhost"])
    proxy = tinyproxy(connect_ports=[])
    status, sock = proxy_connect(proxy.port, f"localhost:{srv.port}")
    sock.close()
    assert status == 403
    assert proxy.refused_ports == [srv.port]
    assert proxy.connect_targets == [f"localhost:{srv.port}"]
    assert srv.connections == 0  # never reached the target


def test_tinyproxy_with_httpx_and_hosts_mapping(
    tinyproxy: Callable[..., Tinyproxy], tls_server: Callable[..., TlsHttpServer]
) -> None:
    srv = tls_server(hostnames=["mcr.microsoft.com"])
    proxy = tinyproxy(connect_ports=[srv.port], hosts={"mcr.microsoft.com": "127.0.0.1"})
    with httpx.Client(proxy=proxy.url, verify=client_ssl_context(srv.ca)) as client:
        response = client.head(srv.url_for("mcr.microsoft.com"))
    assert response.status_code == 204
    assert proxy.connect_targets == [f"mcr.microsoft.com:{srv.port}"]
    assert srv.requests[0].sni == "mcr.microsoft.com"


def test_tinyproxy_basic_auth(
    tinyproxy: Callable[..., Tinyproxy], tls_server: Callable[..., TlsHttpServer]
) -> None:
    srv = tls_server(hostnames=["localhost"])
    proxy = tinyproxy(connect_ports=[srv.port], auth=("user", "s3cret"))
    target = f"localhost:{srv.port}"
    for headers, expected in [
        ({}, 407),
        (basic("user", "wrong"), 401),  # tinyproxy quirk: wrong credentials -> 401
        (basic("user", "s3cret"), 200),
    ]:
        status, sock = proxy_connect(proxy.port, target, headers)
        sock.close()
        assert status == expected, headers
    with httpx.Client(
        proxy=proxy.url_with_credentials(), verify=client_ssl_context(srv.ca)
    ) as client:
        assert client.head(srv.url_for("localhost")).status_code == 204


def test_tinyproxy_process_is_reaped(tinyproxy: Callable[..., Tinyproxy]) -> None:
    proxy = tinyproxy()
    assert proxy.proc is not None
    pid = proxy.proc.pid
    proxy.stop()
    assert not Path(f"/proc/{pid}").exists()
    assert proxy.log_text()  # the log survives stop() for post-mortem asserts


def test_tinyproxy_start_failure_is_explained(tmp_path: Path) -> None:
    proxy = Tinyproxy(workdir=tmp_path, binary="/bin/false", start_timeout=2)
    with pytest.raises(RuntimeError, match="did not start"):
        proxy.start()


# -- MiniConnectProxy --------------------------------------------------------------------------
def test_mini_proxy_tunnels_refuses_and_authenticates(
    mini_proxy: Callable[..., MiniConnectProxy], tls_server: Callable[..., TlsHttpServer]
) -> None:
    srv = tls_server(hostnames=["mcr.microsoft.com"])
    ok = mini_proxy(resolve={"mcr.microsoft.com": "127.0.0.1"})
    with httpx.Client(proxy=ok.url, verify=client_ssl_context(srv.ca)) as client:
        assert client.head(srv.url_for("mcr.microsoft.com")).status_code == 204
    assert ok.connect_targets == [f"mcr.microsoft.com:{srv.port}"]

    refusing = mini_proxy(refuse_status=403)
    status, sock = proxy_connect(refusing.port, f"mcr.microsoft.com:{srv.port}")
    sock.close()
    assert status == 403

    authed = mini_proxy(auth=("u", "p"), resolve={"mcr.microsoft.com": "127.0.0.1"})
    status, sock = proxy_connect(authed.port, f"mcr.microsoft.com:{srv.port}")
    sock.close()
    assert status == 407
    status, sock = proxy_connect(authed.port, f"mcr.microsoft.com:{srv.port}", basic("u", "p"))
    sock.close()
    assert status == 200


def test_mini_proxy_unreachable_target_is_502(
    mini_proxy: Callable[..., MiniConnectProxy], refused_port: int
) -> None:
    proxy = mini_proxy()
    status, sock = proxy_connect(proxy.port, f"127.0.0.1:{refused_port}")
    sock.close()
    assert status == 502


# -- no leaks across the module ----------------------------------------------------------------
def test_no_threads_left_behind_by_previous_tests() -> None:
    assert support_threads() == []
    assert threading.active_count() < 50
