"""``egress.https``'s judgement of an answer, rule by rule, in-process (DESIGN.md, "What proves a
network path"). The end-to-end tests (test_network_verdicts.py, this folder) prove the probe
gathers this evidence from real servers and proxies; these pin what each piece of evidence
concludes, so a changed rule cannot pass unnoticed (scripts/mutation)."""

from __future__ import annotations

from typing import Any

import pytest

from preflight.checks.connectivity import egress as egress
from preflight.checks.connectivity import services as services
from preflight.checks.connectivity.egress import judge
from preflight.checks.connectivity.services import SERVICES, azure_issuer, kind_for
from preflight.clients.net import HttpAnswer, ProbeResult
from preflight.context import Host
from preflight.profile import HostSpec

AZURE_ISSUER = "Microsoft Azure RSA TLS Issuing CA 04"


def host(name: str = "myacr.azurecr.io", *, port: int = 443, required: bool = True) -> Host:
    return Host(HostSpec(template=name, port=port, rule=None, tls=port != 80), name, (), required)


def answer(
    status: int, headers: dict[str, str] | None = None, body: bytes = b"", **kw: Any
) -> HttpAnswer:
    return HttpAnswer(status, "", {k.lower(): v for k, v in (headers or {}).items()}, body, **kw)


def result(
    a: HttpAnswer | None,
    *,
    trust: str | None = "system",
    issuer: str = AZURE_ISSUER,
    proxy: str | None = None,
    mode: str = "direct",
    **kw: Any,
) -> ProbeResult:
    tls = {"issuer_cn": issuer, "issuer": f"CN={issuer}", "version": "TLSv1.3"} if trust else {}
    return ProbeResult(
        ok=a is not None,
        phase="http" if a is not None else kw.pop("phase", "connect"),
        answer=a,
        http_status=a.status if a else None,
        trust=trust,
        tls=tls,
        proxy=proxy,
        mode=mode,
        timings_ms={"connect": 1.0, "tls": 2.0, "http": 3.0},
        **kw,
    )


REGISTRY = {"Docker-Distribution-Api-Version": "registry/2.0"}


# -- the origin's own answers ---------------------------------------------------------------------


def test_an_origin_answer_verified_by_the_system_store_is_open_with_its_evidence() -> None:
    verdict = judge(result(answer(401, REGISTRY)), SERVICES["acr"], host(), "HTTPS")
    assert verdict.outcome == "open" and verdict.inspected_by is None
    assert verdict.message.startswith("HTTPS path open: HTTP 401 in 6 ms")
    assert "authorization refusal: the path is open" in verdict.message
    assert "TLS verified by the system store" in verdict.details["evidence"]
    assert verdict.details["origin_marks"] == ["docker-distribution-api-version"]


@pytest.mark.parametrize(
    ("kind", "status", "headers", "body", "words"),
    [
        (
            "acr",
            403,
            {},
            b'{"errors":[{"code":"DENIED","message":"client with IP \'1.2.3.4\' is not '
            b'allowed access"}]}',
            "firewall denies",
        ),
        (
            "acr",
            403,
            {},
            b'{"errors":[{"code":"DENIED","message":"public network access is disabled"}]}',
            "public network access disabled",
        ),
        ("storage", 403, {"x-ms-error-code": "AuthorizationFailure"}, b"", "AuthorizationFailure"),
        (
            "storage",
            403,
            {},
            b"<Error><Code>AuthorizationFailure</Code></Error>",
            "AuthorizationFailure",
        ),
        (
            "keyvault",
            403,
            {},
            b'{"error":{"innererror":{"code":"ForbiddenByFirewall"}}}',
            "ForbiddenByFirewall",
        ),
        (
            "keyvault",
            403,
            {},
            b'{"error":{"innererror":{"code":"ForbiddenByConnection"}}}',
            "ForbiddenByConnection",
        ),
        (
            "aml",
            403,
            {},
            b"Access to workspace was denied based on workspace private link configuration.",
            "private link only",
        ),
        (
            "aml",
            502,
            {},
            b"none of the workspaces/registries are accessible from outside of the designated "
            b"private link",
            "private link only",
        ),
    ],
)
def test_a_services_refusal_is_closed_whoever_verified_it(
    kind: str, status: int, headers: dict[str, str], body: bytes, words: str
) -> None:
    for trust in ("system", "--ca-bundle"):
        verdict = judge(
            result(answer(status, headers, body), trust=trust), SERVICES[kind], host(), "HTTPS"
        )
        assert verdict.outcome == "closed", (kind, trust, verdict.message)
        assert words in verdict.message
        assert verdict.details["closed_by"] == "service"
        assert verdict.remediation and verdict.docs and verdict.docs.startswith("https://learn")


def test_the_same_status_without_the_signature_is_not_a_refusal() -> None:
    # a 403 from storage that is RBAC, and one from the registry without DENIED
    rbac = answer(
        403, {"x-ms-error-code": "AuthorizationPermissionMismatch", "x-ms-request-id": "r"}
    )
    verdict = judge(
        result(rbac), SERVICES["storage"], host(STORAGE := "s.blob.core.windows.net"), "HTTPS"
    )
    assert verdict.outcome == "open", verdict.message
    assert "authorization refusal" in verdict.message and STORAGE
    other = judge(
        result(answer(403, REGISTRY, b'{"errors":[{"code":"UNAUTHORIZED"}]}')),
        SERVICES["acr"],
        host(),
        "HTTPS",
    )
    assert other.outcome == "open"
    # the right body on another status is not the refusal either
    moved = judge(
        result(answer(404, REGISTRY, b"DENIED not allowed access")),
        SERVICES["acr"],
        host(),
        "HTTPS",
    )
    assert moved.outcome == "open" and "authorization refusal" not in moved.message


# -- inspection: the proxy's own answers ----------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_gateway_error_behind_an_inspecting_proxy_is_the_proxys(status: int) -> None:
    r = result(
        answer(status, {"content-type": "text/html"}, b"<html>err</html>"),
        trust="--ca-bundle",
        issuer="Contoso Inspection",
        proxy="http://proxy:3128",
        mode="connect",
    )
    verdict = judge(r, SERVICES["acr"], host(), "HTTPS")
    assert verdict.outcome == "closed" and verdict.details["closed_by"] == "proxy"
    assert f"HTTP {status}" in verdict.message and "http://proxy:3128" in verdict.message
    assert (
        "Contoso Inspection" in verdict.message and "could not reach the origin" in verdict.message
    )
    assert verdict.details["inspected_by"] == "Contoso Inspection"
    # the same status carrying the service's own marks is the origin's: open
    marked = result(
        answer(status, {**REGISTRY, "content-type": "text/html"}),
        trust="--ca-bundle",
        issuer="Contoso Inspection",
        proxy="http://proxy:3128",
        mode="connect",
    )
    assert judge(marked, SERVICES["acr"], host(), "HTTPS").outcome == "open"
    # and without inspection (TLS verified to an Azure CA end to end) a 502 is the origin's
    assert judge(result(answer(status)), SERVICES["acr"], host(), "HTTPS").outcome == "open"


@pytest.mark.parametrize("status", [200, 403])
def test_an_html_page_without_the_services_marks_behind_inspection_is_a_block_page(
    status: int,
) -> None:
    page = answer(
        status, {"content-type": "text/html"}, b"<html><title>Access Denied</title>blocked</html>"
    )
    r = result(
        page, trust="--ca-bundle", issuer="Contoso Inspection", proxy="http://p:1", mode="connect"
    )
    verdict = judge(r, SERVICES["acr"], host(), "HTTPS")
    assert verdict.outcome == "closed" and "block page" in verdict.message
    # a generic host has no marks to miss: the same page is only suspicious (warn), and a page
    # with no block words is the origin's
    generic = judge(r, SERVICES["generic"], host("files.contoso.test"), "HTTPS")
    assert generic.outcome == "unsure" and "looks like a block page" in generic.message
    plain = result(
        answer(200, {"content-type": "text/html"}, b"<html>welcome</html>"),
        trust="--ca-bundle",
        issuer="Contoso Inspection",
        proxy="http://p:1",
        mode="connect",
    )
    assert judge(plain, SERVICES["generic"], host("files.contoso.test"), "HTTPS").outcome == "open"


def test_proxy_error_pages_are_told_by_their_marks() -> None:
    squid = answer(
        403, {"x-squid-error": "ERR_ACCESS_DENIED 0", "server": "squid/5.7"}, b"<html>denied</html>"
    )
    r = result(squid, trust=None, proxy="http://squid:3128", mode="forward")
    verdict = judge(r, SERVICES["generic"], host("archive.ubuntu.com", port=80), "HTTP")
    assert verdict.outcome == "closed" and "its own error page" in verdict.message
    assert "x-squid-error" in verdict.message
    assert services.proxy_made(squid) == [
        "header x-squid-error: ERR_ACCESS_DENIED 0",
        "Server: squid/5.7",
    ]
    assert services.proxy_made(answer(200, {"server": "nginx"})) == []


def test_markless_non_html_through_inspection_is_unsure() -> None:
    r = result(
        answer(200, {"content-type": "application/json"}, b"{}"),
        trust="--ca-bundle",
        issuer="Contoso Inspection",
        proxy="http://p:1",
        mode="connect",
    )
    verdict = judge(r, SERVICES["acr"], host(), "HTTPS")
    assert verdict.outcome == "unsure" and "whose answer it was cannot be told" in verdict.message


def test_a_non_azure_issuer_on_an_azure_host_is_inspection_wherever_trusted() -> None:
    r = result(answer(200, REGISTRY), trust="system", issuer="Contoso Mirror CA")
    verdict = judge(r, SERVICES["mcr"], host("mcr.microsoft.com"), "HTTPS")
    assert verdict.outcome == "open" and verdict.inspected_by == "Contoso Mirror CA"
    assert "not one of the CAs Azure services use" in verdict.details["inspection"]
    # a generic host has no documented CAs: no inspection is inferred from its issuer
    generic = judge(r, SERVICES["generic"], host("pypi.org"), "HTTPS")
    assert generic.inspected_by is None


def test_a_stalled_body_is_unsure() -> None:
    stalled = answer(
        200, REGISTRY, b"x" * 10, body_complete=False, body_error="the body stalled after 10 bytes"
    )
    verdict = judge(result(stalled), SERVICES["acr"], host(), "HTTPS")
    assert verdict.outcome == "unsure" and "the body stalled after 10 bytes" in verdict.message
    cut = answer(200, REGISTRY, b"x" * 10, body_complete=False)  # only the limit reached
    assert judge(result(cut), SERVICES["acr"], host(), "HTTPS").outcome == "open"


# -- the service table ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("myacr.azurecr.io", "acr"),
        ("myacr.azurecr.cn", "acr"),
        ("myacr.eastus.data.azurecr.io", "acr"),
        ("mcr.microsoft.com", "mcr"),
        ("eastus.data.mcr.microsoft.com", "mcr"),
        ("s.blob.core.windows.net", "storage"),
        ("s.queue.core.chinacloudapi.cn", "storage"),
        ("v.vault.azure.net", "keyvault"),
        ("api.azureml.ms", "aml"),
        ("eastus.api.azureml.ms", "aml"),
        ("eastus.experiments.azureml.net", "aml"),
        ("management.azure.com", "arm"),
        ("login.microsoftonline.us", "login"),
        ("x.hcp.eastus.azmk8s.io", "kubernetes"),
        ("eastus.dp.kubernetesconfiguration.azure.com", "azure"),
        ("pypi.org", "generic"),
        ("notazurecr.io", "generic"),
    ],
)
def test_the_kind_follows_the_suffix_unless_declared(name: str, kind: str) -> None:
    assert kind_for(name, None) == kind
    assert kind_for(name, "generic") == "generic"


def test_azure_issuers_are_the_documented_ones() -> None:
    for name in (
        "Microsoft Azure RSA TLS Issuing CA 03",
        "Microsoft Azure ECC TLS Issuing CA 08",
        "Microsoft TLS G2 RSA CA OCSP 16",
        "DigiCert Global Root G2",
        "DigiCert Basic RSA CN CA G2",
        "GeoTrust Global TLS RSA4096 SHA256 2022 CA1",
    ):
        assert azure_issuer(name), name
    for name in ("Contoso TLS Inspection", "Zscaler Intermediate Root CA", "R3", ""):
        assert not azure_issuer(name), name


# -- failures before an answer --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "kind", "words", "fix"),
    [
        ("proxy", "denied", "the proxy refused the tunnel", "among its permitted CONNECT ports"),
        ("proxy", "garbage", "did not speak", "with the scheme it speaks"),
        ("connect", "timeout", "is blocked", "allow outbound TCP 443"),
        ("connect", "refused", "refused the connection", "DNS points at the wrong address"),
        ("connect", "unreachable", "cannot connect", "routing (UDR)"),
        ("tls", "expired", "expired certificate", "renew its certificate"),
        ("tls", "hostname", "certificate for other names", "private endpoint records"),
        ("tls", "aborted", "ended the TLS session right after the handshake", "inspection policy"),
        ("tls", "error", "TLS with myacr.azurecr.io failed", "filtering by SNI"),
        ("http", "timeout", "did not answer HTTP", "holds the request"),
    ],
)
def test_each_failure_names_its_phase_and_owner(
    phase: str, kind: str, words: str, fix: str
) -> None:
    r = result(None, trust=None, phase=phase, kind=kind, error="E")
    r.phase, r.kind = phase, kind
    message, remedy = egress._explain(r, host(), "HTTPS", proxied=phase == "proxy")
    assert words in message, message
    assert fix in remedy, remedy


def test_tls_untrusted_names_issuer_and_subject_and_what_to_pass() -> None:
    r = result(None, trust=None, phase="tls")
    r.phase, r.kind, r.error = "tls", "untrusted", "self-signed"
    r.presented_certificate = {"issuer": "CN=Contoso Root", "subject": "CN=myacr.azurecr.io"}
    message, remedy = egress._explain(r, host(), "HTTPS", proxied=False)
    assert "issued by 'CN=Contoso Root' for 'CN=myacr.azurecr.io'" in message
    assert "--ca-bundle" in remedy and "CN=Contoso Root" in remedy and "trustedCa" in remedy
    r.phase, r.kind = "tls", "expired"
    r.presented_certificate = {"issuer": "CN=Old", "not_after": "2020-01-01"}
    message, _ = egress._explain(r, host(), "HTTPS", proxied=False)
    assert "expired certificate" in message and "valid until 2020-01-01" in message


def test_407_advice_fits_what_was_sent() -> None:
    r = result(None, trust=None, phase="proxy")
    r.phase, r.kind, r.error = "proxy", "auth", "407"
    r.proxy = "http://alice:***@proxy:3128"
    _, with_credentials = egress._explain(r, host(), "HTTPS", proxied=True)
    assert "rejected the credentials" in egress._explain(r, host(), "HTTPS", proxied=True)[0]
    assert "check the user name and password" in with_credentials
    r.proxy = "http://proxy:3128"
    message, without = egress._explain(r, host(), "HTTPS", proxied=True)
    assert "wants credentials" in message and "give them in the proxy URL" in without


def test_the_messages_say_who_answered_and_what_proved_it() -> None:
    direct = result(answer(200, REGISTRY), trust="system", issuer="Contoso Mirror CA")
    text = judge(direct, SERVICES["mcr"], host("mcr.microsoft.com"), "HTTPS")
    assert text.outcome == "open"
    blocked = result(
        answer(502, {"content-type": "text/html"}, b"<html>x</html>"),
        trust="system",
        issuer="Contoso Mirror CA",
    )
    verdict = judge(blocked, SERVICES["mcr"], host("mcr.microsoft.com"), "HTTPS")
    assert "the device holding CA 'Contoso Mirror CA'" in verdict.message
    plain = result(
        answer(200, {"content-type": "text/plain"}, b"ok"),
        trust=None,
        mode="forward",
        proxy="http://squid:3128",
    )
    forwarded = judge(plain, SERVICES["generic"], host("archive.ubuntu.com", port=80), "HTTP")
    assert forwarded.outcome == "open"
    assert "plain HTTP handed to the proxy; no proxy error marks" in forwarded.details["evidence"]
    assert "via proxy http://squid:3128" in forwarded.message
    straight = judge(
        result(answer(200), trust=None), SERVICES["generic"], host("a.test", port=80), "HTTP"
    )
    assert "plain HTTP straight from the host" in straight.details["evidence"]
    assert " via proxy" not in straight.message
    r = result(None, trust=None)
    r.phase, r.kind, r.error, r.mode = "proxy", "garbage", "x", "socks"
    assert "did not speak SOCKS" in egress._explain(r, host(), "HTTPS", proxied=True)[0]
    r.phase, r.kind, r.mode = "http", "timeout", "direct"
    assert "accepted TLS" in egress._explain(r, host(), "HTTPS", proxied=False)[0]
    assert (
        "accepted the connection"
        in egress._explain(r, host("a.test", port=80), "HTTP", proxied=False)[0]
    )


def test_a_finding_carries_the_hosts_docs_unless_the_verdict_names_its_own(tmp_path: Any) -> None:
    """In-process through the real check: a stalled body (the verdict names no docs) keeps the
    host's docs link; a closed path by a service's firewall gets that service's docs."""
    import asyncio

    import trustme
    from support import DnsServer, TlsHttpServer, azure_services, write_ca_bundle
    from support.misbehave import MisbehavingServer

    from preflight.checks.connectivity.egress import EgressHttps
    from preflight.context import Context, RunOptions
    from preflight.profile import Profile

    ca = trustme.CA()
    bundle = write_ca_bundle(ca, tmp_path / "ca.pem")
    with (
        MisbehavingServer(
            "stalled_chunked", tls=True, hostnames=["files.contoso.test"], ca=ca
        ) as stall,
        TlsHttpServer(
            hostnames=["myacr.azurecr.io"],
            ca=ca,
            routes={"/v2/": azure_services.acr_firewall_denied("198.51.100.7")},
        ) as acr,
        DnsServer({"files.contoso.test": "127.0.0.1", "myacr.azurecr.io": "127.0.0.1"}) as dns,
    ):
        hosts = (
            HostSpec(template="files.contoso.test", port=stall.port, docs="https://contoso.test/f"),
            HostSpec(template="myacr.azurecr.io", port=acr.port),
        )
        name, port = dns.address.rsplit(":", 1)
        ctx = Context(
            RunOptions(
                profile=Profile(name="t", cloud="AzureCloud", hosts=hosts),
                nameservers=[(name, int(port))],
                ca_bundle=str(bundle),
                timeout=1,
            )
        )
        found = {f.target: f for f in asyncio.run(EgressHttps().run(ctx))}
    stalled = found["files.contoso.test"]
    assert stalled.status.value == "warn" and "the body stalled" in stalled.message
    assert stalled.docs == "https://contoso.test/f"
    denied = found["myacr.azurecr.io"]
    assert denied.status.value == "fail"
    assert denied.docs == services.DOCS_ACR_NETWORK
