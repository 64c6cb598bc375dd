"""A pass only when the origin answered (DESIGN.md, "What proves a network path"; issue 15).

The real CLI against what enterprise networks put between a cluster and Azure: services whose
own firewall answers (tests/support/azure_services.py: status, headers and bodies as the services
send them, each cited there), a TLS-inspecting proxy that passes through, answers 502/504 itself
or serves block pages (tests/support/mitm.py), real squid with Debian's default rules (CONNECT
only to SSL ports), DNS answers through ``privatelink.`` zones, a mirror whose CA this machine
trusts, and peers that misbehave after the handshake or mid-body.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import CNAME, azure_services

from tests.clirun import Result, host_profile, preflight, run_profile

ACR = "myacr.azurecr.io"
STORAGE = "mystore.blob.core.windows.net"
VAULT = "myvault.vault.azure.net"
AML = "eastus.api.azureml.ms"
GENERIC = "files.contoso.test"


def run(tmp_path: Path, prof: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return run_profile(tmp_path, prof, "--timeout", "3", *args, formats="json,html", env=env)


def serve(tls_server: Any, dns_server: Any, routes: dict[str, Any], host: str) -> tuple[Any, Any]:
    server = tls_server(hostnames=[host], status=404, routes=routes)
    dns = dns_server(records={host: "127.0.0.1"})
    return server, dns


# -- the services' own firewalls -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "path", "answer", "status", "words", "fix"),
    [
        (
            ACR,
            "/v2/",
            azure_services.acr_firewall_denied("198.51.100.7"),
            "fail",
            "registry's firewall denies this client",
            "az acr network-rule add",
        ),
        (
            STORAGE,
            "/",
            azure_services.storage_firewall_denied(),
            "fail",
            "AuthorizationFailure",
            "network-rule add",
        ),
        (
            VAULT,
            "/secrets",
            azure_services.keyvault_firewall_denied(),
            "fail",
            "ForbiddenByFirewall",
            "privatelink.vaultcore.azure.net",
        ),
        (
            AML,
            "/",
            azure_services.azureml_private_link_denied(),
            "fail",
            "no public network access",
            "privatelink.api.azureml.ms",
        ),
    ],
)
def test_a_services_own_firewall_refusal_is_a_closed_path(
    tmp_path: Path,
    tls_server: Any,
    dns_server: Any,
    ca_bundle: Path,
    host: str,
    path: str,
    answer: Any,
    status: str,
    words: str,
    fix: str,
) -> None:
    server, dns = serve(tls_server, dns_server, {path: answer}, host)
    prof = host_profile(tmp_path, [{"host": host, "port": server.port}])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
    )
    finding = result.finding("egress.https", host)
    assert finding["status"] == status, finding
    assert words in finding["message"], finding["message"]
    assert fix in finding["remediation"], finding["remediation"]
    assert finding["details"]["closed_by"] == "service"
    assert finding["details"]["answer"]["status"] == answer.status
    assert finding["details"]["request"].startswith(f"GET {path}")
    assert server.requests[0].method == "GET"
    assert result.code == 1


@pytest.mark.parametrize(
    ("host", "path", "answer", "mark"),
    [
        (ACR, "/v2/", azure_services.acr_v2_challenge(ACR), "docker-distribution-api-version"),
        (STORAGE, "/", azure_services.storage_permission_mismatch(), "x-ms-request-id"),
        (VAULT, "/secrets", azure_services.keyvault_challenge(), "x-ms-request-id"),
    ],
)
def test_rbac_refusals_and_challenges_mean_the_path_is_open(
    tmp_path: Path,
    tls_server: Any,
    dns_server: Any,
    ca_bundle: Path,
    host: str,
    path: str,
    answer: Any,
    mark: str,
) -> None:
    server, dns = serve(tls_server, dns_server, {path: answer}, host)
    prof = host_profile(tmp_path, [{"host": host, "port": server.port}])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
    )
    finding = result.finding("egress.https", host)
    assert finding["status"] == "pass", finding
    assert mark in finding["details"]["origin_marks"]
    assert f"HTTP {answer.status}" in finding["message"]
    # the test CA is only in --ca-bundle: named as an inspection, and the cluster's trust as
    # the open question
    assert finding["details"]["trust"] == "--ca-bundle"
    assert finding["details"]["inspected_by"]
    assert "must trust it too" in finding["message"]


# -- a TLS-inspecting proxy -----------------------------------------------------------------------


def test_an_inspecting_proxy_is_named_and_its_own_answers_are_not_a_pass(
    tmp_path: Path,
    tls_server: Any,
    tls_ca: Any,
    inspecting_proxy: Any,
) -> None:
    origin = tls_server(
        hostnames=[ACR, GENERIC], status=204, routes={"/v2/": azure_services.acr_v2_challenge(ACR)}
    )
    hosts = {
        ACR: "pass",
        "bad502.azurecr.io": "502",
        "bad504.azurecr.io": "504",
        "blocked.azurecr.io": "block403",
        "blockpage.azurecr.io": "block200",
        GENERIC: "pass",
    }
    proxy = inspecting_proxy(
        modes=hosts,
        upstream={ACR: ("127.0.0.1", origin.port), GENERIC: ("127.0.0.1", origin.port)},
        upstream_ca=tls_ca,
    )
    bundle = proxy.write_ca_bundle(tmp_path / "inspection.pem")
    prof = host_profile(tmp_path, [{"host": h, "port": origin.port} for h in hosts])
    result = run(
        tmp_path, prof, "--check", "egress.https", "--proxy", proxy.url, "--ca-bundle", str(bundle)
    )
    found = result.by_target("egress.https")
    for host in hosts:
        details = found[host]["details"]
        assert details["inspected_by"] and "Contoso TLS Inspection" in details["tls"]["issuer"]
        assert details["trust"] == "--ca-bundle"
    assert found[ACR]["status"] == "pass", found[ACR]
    assert "docker-distribution-api-version" in found[ACR]["details"]["origin_marks"]
    assert found[GENERIC]["status"] == "pass", found[GENERIC]
    for host in ("bad502.azurecr.io", "bad504.azurecr.io"):
        assert found[host]["status"] == "fail", found[host]
        assert "could not reach the origin" in found[host]["message"]
        assert proxy.url in found[host]["message"]
        assert found[host]["details"]["closed_by"] == "proxy"
    for host in ("blocked.azurecr.io", "blockpage.azurecr.io"):
        assert found[host]["status"] == "fail", found[host]
        assert "block page" in found[host]["message"]
    assert {r.host for r in proxy.inspected} == set(hosts)


def test_an_inspecting_proxy_signing_through_an_intermediate_is_named_too(
    tmp_path: Path, tls_server: Any, tls_ca: Any, inspecting_proxy: Any
) -> None:
    origin = tls_server(hostnames=[ACR], routes={"/v2/": azure_services.acr_v2_challenge(ACR)})
    proxy = inspecting_proxy(
        upstream={ACR: ("127.0.0.1", origin.port)}, upstream_ca=tls_ca, intermediate=True
    )
    bundle = proxy.write_ca_bundle(tmp_path / "inspection.pem")
    prof = host_profile(tmp_path, [{"host": ACR, "port": origin.port}])
    result = run(
        tmp_path, prof, "--check", "egress.https", "--proxy", proxy.url, "--ca-bundle", str(bundle)
    )
    finding = result.finding("egress.https", ACR)
    assert finding["status"] == "pass", finding
    assert finding["details"]["trust"] == "--ca-bundle"
    assert "Issuing CA 01" in finding["details"]["tls"]["issuer"]


def test_without_the_inspecting_ca_the_failure_names_issuer_subject_and_what_to_pass(
    tmp_path: Path, tls_server: Any, tls_ca: Any, inspecting_proxy: Any
) -> None:
    origin = tls_server(hostnames=[ACR])
    proxy = inspecting_proxy(upstream={ACR: ("127.0.0.1", origin.port)}, upstream_ca=tls_ca)
    prof = host_profile(tmp_path, [{"host": ACR, "port": origin.port}])
    result = run(tmp_path, prof, "--check", "egress.https", "--proxy", proxy.url)
    finding = result.finding("egress.https", ACR)
    assert finding["status"] == "fail" and finding["details"]["phase"] == "tls"
    assert "Contoso TLS Inspection" in finding["message"]
    assert ACR in finding["details"]["presented_certificate"]["dns_names"]
    assert "--ca-bundle" in finding["remediation"] and "trustedCa" in finding["remediation"]


def _system_bundle_with(tmp_path: Path, ca: Any) -> Path:
    """An OpenSSL default CA file holding the system store plus ``ca`` (SSL_CERT_FILE): how an
    enterprise pushes its inspection or mirror CA into the OS trust store."""
    import ssl

    system = ssl.get_default_verify_paths().cafile
    text = Path(system).read_text() if system and Path(system).exists() else ""
    path = tmp_path / "os-store.pem"
    path.write_text(text + "\n" + ca.cert_pem.bytes().decode())
    return path


def test_an_azure_host_answered_by_a_mirror_the_os_trusts_is_not_a_pass(
    tmp_path: Path, tls_server: Any, dns_server: Any, tls_ca: Any
) -> None:
    """A resolver that sends mcr.microsoft.com to a local mirror whose CA is in the OS store:
    every verification succeeds, the registry marks are there, but the certificate is not from
    a CA Azure uses, so the answer is the mirror's and the nodes must trust it too."""
    server = tls_server(hostnames=["mcr.microsoft.com"], routes={"/v2/": azure_services.mcr_v2()})
    dns = dns_server(records={"mcr.microsoft.com": "127.0.0.1"})
    prof = host_profile(tmp_path, [{"host": "mcr.microsoft.com", "port": server.port}])
    env = {"SSL_CERT_FILE": str(_system_bundle_with(tmp_path, tls_ca))}
    result = run(tmp_path, prof, "--check", "egress.https", "--nameserver", dns.address, env=env)
    finding = result.finding("egress.https", "mcr.microsoft.com")
    assert finding["status"] == "warn", finding
    assert finding["details"]["trust"] == "system"
    assert "not one of the CAs Azure services use" in finding["details"]["inspection"]
    assert "x509: certificate signed by unknown authority" in finding["message"]
    assert "trustedCa" in finding["remediation"]

    # the cluster trusts that CA (az aks show: httpProxyConfig.trustedCa): then it is a pass
    aks = {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/"
        "managedClusters/aks1",
        "name": "aks1",
        "type": "Microsoft.ContainerService/managedClusters",
        "location": "eastus",
        "properties": {
            "agentPoolProfiles": [],
            "httpProxyConfig": {
                "httpsProxy": "http://proxy.corp:3128",
                "trustedCa": base64.b64encode(tls_ca.cert_pem.bytes()).decode(),
            },
        },
    }
    aks_json = tmp_path / "aks.json"
    aks_json.write_text(json.dumps(aks))
    trusted = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--nameserver",
        dns.address,
        "--set",
        f"aks_json={aks_json}",
        env=env,
    )
    finding = trusted.finding("egress.https", "mcr.microsoft.com")
    assert finding["status"] == "pass", finding
    assert finding["details"]["cluster_trusts_ca"] is True
    assert "which the cluster trusts" in finding["message"]


# -- squid: plain HTTP is forwarded, CONNECT only to SSL ports -----------------------------------


def test_plain_http_through_squid_is_an_absolute_uri_get(
    tmp_path: Path, http_server: Any, squid: Any
) -> None:
    origin = http_server(status=200, headers={"Content-Type": "text/plain"}, body=b"ubuntu\n")
    proxy = squid(hosts={"archive.contoso.test": "127.0.0.1"})
    prof = host_profile(
        tmp_path, [{"host": "archive.contoso.test", "port": origin.port, "tls": False}]
    )
    result = run(
        tmp_path, prof, "--check", "egress.https", "--proxy", proxy.url, env={"NO_PROXY": ""}
    )
    finding = result.finding("egress.https", "archive.contoso.test")
    assert finding["status"] == "pass", finding
    assert finding["details"]["mode"] == "forward"
    assert finding["details"]["request"].startswith(
        f"GET http://archive.contoso.test:{origin.port}/"
    )
    methods = [r.method for r in proxy.wait_for_requests(1)]
    assert methods == ["GET"], methods  # not CONNECT, which squid denies to non-SSL ports
    assert origin.requests[0].path == "/"


def test_squid_refusing_connect_to_a_non_ssl_port_names_its_page(
    tmp_path: Path, tls_server: Any, squid: Any, ca_bundle: Path
) -> None:
    origin = tls_server(hostnames=[GENERIC])
    proxy = squid(hosts={GENERIC: "127.0.0.1"})  # origin.port is not among SSL_ports
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": origin.port}])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--proxy",
        proxy.url,
        "--ca-bundle",
        str(ca_bundle),
    )
    finding = result.finding("egress.https", GENERIC)
    assert finding["status"] == "fail" and finding["details"]["phase"] == "proxy"
    assert finding["details"]["proxy_status"] == 403
    assert "x-squid-error" in finding["message"].lower()
    assert f"port {origin.port}" in finding["remediation"]
    allowed = squid(ssl_ports=[origin.port], hosts={GENERIC: "127.0.0.1"})
    ok = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--proxy",
        allowed.url,
        "--ca-bundle",
        str(ca_bundle),
    )
    assert ok.finding("egress.https", GENERIC)["status"] == "pass", ok.finding(
        "egress.https", GENERIC
    )


def test_squids_own_error_page_for_plain_http_is_not_the_origins_answer(
    tmp_path: Path, squid: Any, refused_port: int
) -> None:
    proxy = squid(hosts={"archive.contoso.test": "127.0.0.1"})
    prof = host_profile(
        tmp_path, [{"host": "archive.contoso.test", "port": refused_port, "tls": False}]
    )
    result = run(tmp_path, prof, "--check", "egress.https", "--proxy", proxy.url)
    finding = result.finding("egress.https", "archive.contoso.test")
    assert finding["status"] == "fail", finding
    assert finding["details"]["answer"]["headers"]["x-squid-error"].startswith("ERR_CONNECT_FAIL")
    assert "could not reach the origin" in finding["message"]
    assert finding["details"]["closed_by"] == "proxy"


# -- DNS: private endpoints, mixed answers, truncation, proxies ------------------------------------


def test_privatelink_cnames_public_answer_warns_naming_the_zone(
    tmp_path: Path, dns_server: Any
) -> None:
    dns = dns_server(
        records={
            ACR: CNAME("myacr.privatelink.azurecr.io"),
            "myacr.privatelink.azurecr.io": "20.62.1.2",
            STORAGE: CNAME("mystore.privatelink.blob.core.windows.net"),
            "mystore.privatelink.blob.core.windows.net": "10.1.2.3",
            "broken.azurecr.io": CNAME("broken.privatelink.azurecr.io"),
        },
        nxdomain=["broken.privatelink.azurecr.io"],
    )
    prof = host_profile(
        tmp_path,
        [{"host": h, "port": 443} for h in (ACR, STORAGE, "broken.azurecr.io")],
    )
    result = run(tmp_path, prof, "--check", "dns.resolve", "--nameserver", dns.address)
    found = result.by_target("dns.resolve")
    public = found[ACR]
    assert public["status"] == "warn", public
    assert "privatelink.azurecr.io" in public["message"]
    assert "20.62.1.2" in public["message"]
    assert "link the private DNS zone privatelink.azurecr.io" in public["remediation"]
    assert "forwarder for azurecr.io" in public["remediation"]
    private = found[STORAGE]
    assert private["status"] == "pass" and "private endpoint" in private["message"]
    assert private["details"]["private_link_zone"] == "privatelink.blob.core.windows.net"
    broken = found["broken.azurecr.io"]
    assert broken["status"] == "fail"
    assert "private DNS zone privatelink.azurecr.io" in broken["remediation"]


def test_unusable_addresses_are_told_apart(tmp_path: Path, dns_server: Any) -> None:
    dns = dns_server(
        records={
            "mixed.test": ["0.0.0.0", "127.0.0.1"],
            "multicast.test": "224.0.0.5",
            "reserved.test": "240.1.2.3",
            "sinkhole.test": "0.0.0.0",
        }
    )
    names = ("mixed.test", "multicast.test", "reserved.test", "sinkhole.test")
    prof = host_profile(tmp_path, [{"host": n, "port": 443} for n in names])
    result = run(tmp_path, prof, "--check", "dns.resolve", "--nameserver", dns.address)
    found = result.by_target("dns.resolve")
    assert found["mixed.test"]["status"] == "warn"
    assert "beside real addresses" in found["mixed.test"]["message"]
    for name, kind in (
        ("multicast.test", "multicast"),
        ("reserved.test", "reserved"),
        ("sinkhole.test", "sinkhole"),
    ):
        assert found[name]["status"] == "fail", found[name]
        assert kind in found[name]["message"]


def test_truncated_answer_with_tcp_53_closed_is_named(tmp_path: Path, dns_server: Any) -> None:
    dns = dns_server(records={"big.test": "127.0.0.1"}, truncate=["big.test"], tcp_refused=True)
    prof = host_profile(tmp_path, [{"host": "big.test", "port": 443}])
    result = run(tmp_path, prof, "--check", "dns.resolve", "--nameserver", dns.address)
    finding = result.by_target("dns.resolve")["big.test"]
    assert finding["status"] == "fail", finding
    assert finding["details"]["outcome"] == "truncated"
    assert "TCP port 53 is closed" in finding["message"]
    assert "TCP port 53" in finding["remediation"]


def test_through_a_proxy_a_local_nxdomain_is_not_the_verdict(
    tmp_path: Path, dns_server: Any, tls_server: Any, mini_proxy: Any, ca_bundle: Path
) -> None:
    origin = tls_server(hostnames=[GENERIC])
    dns = dns_server(records={}, nxdomain=[GENERIC])
    proxy = mini_proxy(resolve={GENERIC: "127.0.0.1"})
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": origin.port}])
    result = run(
        tmp_path,
        prof,
        "--nameserver",
        dns.address,
        "--proxy",
        proxy.url,
        "--ca-bundle",
        str(ca_bundle),
        "--check",
        "dns.resolve",
        "--check",
        "egress.https",
    )
    local = result.by_target("dns.resolve")[GENERIC]
    assert local["status"] == "skip", local
    assert local["details"]["decided_by"] == "egress.https"
    assert local["details"]["outcome"] == "nxdomain"
    assert result.finding("egress.https", GENERIC)["status"] == "pass"
    assert result.code == 0


# -- the API server: its port and its own CA ------------------------------------------------------


def test_the_api_server_is_probed_on_the_kubeconfigs_port_with_its_ca(
    tmp_path: Path, kube_api: Any
) -> None:
    api = kube_api([], tls=True)
    kubeconfig = api.kubeconfig(tmp_path / "kc")
    prof = host_profile(
        tmp_path, [{"host": "{api_server}", "port": 443, "service": "kubernetes"}], "api"
    )
    result = run(tmp_path, prof, "--kubeconfig", str(kubeconfig), "--check", "egress.https")
    finding = result.finding("egress.https", "127.0.0.1")
    assert finding["details"]["port"] == api.port != 443
    assert finding["status"] == "pass", finding
    assert finding["details"]["trust"] == "kubeconfig"
    assert finding["details"]["request"] == "GET /version HTTP/1.1"
    assert result.report()["parameters"]["api_server"] == f"127.0.0.1:{api.port}"


def test_an_unknown_service_kind_is_exit_2_with_file_and_line(tmp_path: Path) -> None:
    prof = tmp_path / "bad.yaml"
    prof.write_text("name: bad\ncloud: AzureCloud\nhosts:\n  - host: x.test\n    service: acrr\n")
    result = preflight("run", "--profile", str(prof), out=tmp_path / "out")
    assert result.code == 2, result.stderr
    assert f"{prof}:5" in result.stderr and "'acrr'" in result.stderr
    assert "did you mean 'acr'" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    shown = preflight("profiles", str(prof))
    assert shown.code == 2 and f"{prof}:5" in shown.stderr


# -- peers that misbehave: each a finding with its phase, within --timeout ------------------------


@pytest.mark.parametrize(
    ("behaviour", "tls", "status", "phase", "words"),
    [
        ("endless_body", True, "pass", "http", "HTTP 200"),
        ("stalled_chunked", True, "warn", "http", "the body stalled after"),
        ("garbage", False, "fail", "http", "not HTTP"),
        ("tls_abort", True, "fail", "tls", "right after the handshake"),
        ("no_response", False, "fail", "http", "closed before any HTTP answer"),
    ],
)
def test_misbehaving_peers_end_as_findings_in_their_phase(
    tmp_path: Path,
    misbehaving_server: Any,
    dns_server: Any,
    ca_bundle: Path,
    behaviour: str,
    tls: bool,
    status: str,
    phase: str,
    words: str,
) -> None:
    server = misbehaving_server(behaviour, tls=tls, hostnames=[GENERIC])
    dns = dns_server(records={GENERIC: "127.0.0.1"})
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": server.port, "tls": tls}])
    started = time.monotonic()
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
        "--timeout",
        "1",
    )
    finding = result.finding("egress.https", GENERIC)
    assert (finding["status"], finding["details"]["phase"]) == (status, phase), finding
    assert words in finding["message"], finding["message"]
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30


def test_a_proxy_that_answers_garbage_is_a_proxy_phase_finding(
    tmp_path: Path, garbage_proxy: Any, ca_bundle: Path
) -> None:
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": 443}])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--proxy",
        garbage_proxy.url,
        "--ca-bundle",
        str(ca_bundle),
    )
    finding = result.finding("egress.https", GENERIC)
    assert finding["status"] == "fail" and finding["details"]["phase"] == "proxy"
    assert finding["details"]["kind"] == "garbage"
    assert "not HTTP" in finding["message"]


# -- bounded concurrency --------------------------------------------------------------------------


def test_no_more_than_concurrency_probes_are_in_flight(
    tmp_path: Path, tls_server: Any, dns_server: Any, ca_bundle: Path
) -> None:
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def slow(request: Any) -> tuple[int, dict[str, str], bytes]:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return 204, {}, b""

    names = [f"h{i}.contoso.test" for i in range(12)]
    server = tls_server(hostnames=names, responder=slow)
    dns = dns_server(records={n: "127.0.0.1" for n in names})
    prof = host_profile(tmp_path, [{"host": n, "port": server.port} for n in names])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
        "--concurrency",
        "3",
    )
    assert {f["status"] for f in result.findings("egress.https")} == {"pass"}
    assert len(server.requests) == 12
    assert 1 <= state["peak"] <= 3, state


def test_concurrency_must_be_a_positive_whole_number(tmp_path: Path) -> None:
    for value in ("0", "x", "-3", "100000"):
        result = preflight("run", "--concurrency", value, out=tmp_path / "o")
        assert result.code == 2 and "--concurrency" in result.stderr, (value, result.stderr)


@pytest.mark.parametrize("abort", ["close_notify", "fin", "rst"])
def test_a_tls13_abort_after_the_handshake_is_a_tls_finding_however_it_closes(
    tmp_path: Path, misbehaving_server: Any, dns_server: Any, ca_bundle: Path, abort: str
) -> None:
    server = misbehaving_server("tls_abort", hostnames=[GENERIC], abort=abort)
    dns = dns_server(records={GENERIC: "127.0.0.1"})
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": server.port}])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
        "--timeout",
        "1",
    )
    finding = result.finding("egress.https", GENERIC)
    assert (finding["status"], finding["details"]["phase"]) == ("fail", "tls"), finding
    assert finding["details"]["tls"]["version"] == "TLSv1.3"
    assert "handshake" in finding["message"] and "internal" not in finding["message"]


def test_a_chain_the_clusters_trusted_ca_verifies_is_inspection_the_cluster_accepts(
    tmp_path: Path, tls_server: Any, tls_ca: Any, inspecting_proxy: Any
) -> None:
    """No --ca-bundle: the inspecting proxy's CA is known only as the cluster's
    httpProxyConfig.trustedCa. The chain verifies through it; the origin's marks came back."""
    origin = tls_server(hostnames=[ACR], routes={"/v2/": azure_services.acr_v2_challenge(ACR)})
    proxy = inspecting_proxy(upstream={ACR: ("127.0.0.1", origin.port)}, upstream_ca=tls_ca)
    aks = {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/"
        "managedClusters/aks1",
        "name": "aks1",
        "type": "Microsoft.ContainerService/managedClusters",
        "location": "eastus",
        "properties": {
            "agentPoolProfiles": [],
            "httpProxyConfig": {
                "httpsProxy": proxy.url,
                "trustedCa": base64.b64encode(proxy.ca.cert_pem.bytes()).decode(),
            },
        },
    }
    aks_json = tmp_path / "aks.json"
    aks_json.write_text(json.dumps(aks))
    prof = host_profile(tmp_path, [{"host": ACR, "port": origin.port}])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--proxy",
        proxy.url,
        "--set",
        f"aks_json={aks_json}",
    )
    finding = result.finding("egress.https", ACR)
    assert finding["status"] == "pass", finding
    assert finding["details"]["trust"] == "httpProxyConfig.trustedCa"
    assert finding["details"]["cluster_trusts_ca"] is True
    assert "Contoso TLS Inspection" in finding["details"]["inspected_by"]
