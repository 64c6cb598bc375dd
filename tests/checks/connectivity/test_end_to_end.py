"""dns.resolve and egress.https end to end: the real CLI against real DNS servers (dnslib,
dnsmasq, a silent socket), TLS servers with a test CA, tinyproxy, and a black-holed port."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.clirun import Result, host_profile, preflight, run_profile

CHECKS = ("--check", "dns.resolve", "--check", "egress.https")


def run(tmp_path: Path, prof: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return run_profile(tmp_path, prof, *CHECKS, *args, formats="json,html,junit,md", env=env)


# -- DNS ----------------------------------------------------------------------------------------


def test_dns_outcomes_are_told_apart(tmp_path: Path, dns_server: Any) -> None:
    from support import CNAME

    dns = dns_server(
        records={
            "ok.test": "127.0.0.1",
            "private.test": "10.1.2.3",
            "alias.test": CNAME("ok.test"),
            "sinkhole.test": "0.0.0.0",
        },
        nxdomain=["gone.test", "optional-gone.test"],
        nodata=["empty.test"],
        refused=["refused.test"],
        servfail=["broken.test"],
    )
    hosts = [
        {"host": n, "port": 9}
        for n in (
            "ok.test",
            "private.test",
            "alias.test",
            "sinkhole.test",
            "gone.test",
            "empty.test",
            "refused.test",
            "broken.test",
        )
    ]
    hosts.append({"host": "optional-gone.test", "port": 9, "required": False})
    hosts.append({"host": "{acr}.azurecr.test", "port": 9})
    result = run(
        tmp_path,
        host_profile(tmp_path, hosts),
        "--check",
        "dns.resolve",
        "--nameserver",
        dns.address,
        "--timeout",
        "2",
    )
    assert result.code == 1
    found = result.by_target("dns.resolve")
    assert found["ok.test"]["status"] == "pass"
    assert found["ok.test"]["details"]["addresses"] == ["127.0.0.1"]
    assert found["ok.test"]["details"]["address_classes"] == {"127.0.0.1": "loopback"}
    assert found["private.test"]["status"] == "pass"
    assert "private address" in found["private.test"]["message"]
    assert found["alias.test"]["details"]["cname_chain"] == ["ok.test"]
    assert "via ok.test" in found["alias.test"]["message"]
    expectations = {
        "sinkhole.test": ("fail", "sinkhole"),
        "gone.test": ("fail", "NXDOMAIN"),
        "optional-gone.test": ("warn", "NXDOMAIN"),
        "empty.test": ("fail", "no A or AAAA record"),
        "refused.test": ("fail", "refused"),
        "broken.test": ("fail", "SERVFAIL"),
    }
    for name, (status, text) in expectations.items():
        assert found[name]["status"] == status, (name, found[name])
        assert text in found[name]["message"], (name, found[name]["message"])
        assert found[name]["remediation"]
    assert "conditional forwarder for gone.test" in found["gone.test"]["remediation"]
    skipped = found["{acr}.azurecr.test"]
    assert skipped["status"] == "skip"
    assert "--set acr=<name>" in skipped["remediation"]
    outcomes = {t: f["details"].get("outcome") for t, f in found.items()}
    assert outcomes["refused.test"] == "refused" and outcomes["broken.test"] == "servfail"


def test_silent_dns_server_is_a_timeout_finding_within_the_bound(
    tmp_path: Path, silent_dns: Any
) -> None:
    hosts = [{"host": f"h{i}.test", "port": 9} for i in range(5)]
    started = time.monotonic()
    result = run(
        tmp_path,
        host_profile(tmp_path, hosts),
        "--nameserver",
        silent_dns.address,
        "--timeout",
        "1",
    )
    elapsed = time.monotonic() - started
    assert result.code == 1
    for finding in result.findings("dns.resolve"):
        assert finding["status"] == "fail"
        assert finding["details"]["outcome"] == "timeout"
        assert "no DNS answer" in finding["message"]
    for finding in result.findings("egress.https"):
        assert finding["details"]["phase"] == "dns"
    assert elapsed < 8, "five silent lookups with --timeout 1 run concurrently, not in series"
    assert (tmp_path / "out" / "report.html").exists()


def test_dnsmasq_as_the_custom_dns_server(tmp_path: Path, dnsmasq: Any) -> None:
    server = dnsmasq(records={"mcr.contoso.test": "127.0.0.1"})
    hosts = [{"host": "mcr.contoso.test", "port": 9}, {"host": "nothere.contoso.test", "port": 9}]
    result = run(
        tmp_path,
        host_profile(tmp_path, hosts),
        "--check",
        "dns.resolve",
        "--nameserver",
        server.address,
        "--timeout",
        "2",
    )
    found = result.by_target("dns.resolve")
    assert found["mcr.contoso.test"]["status"] == "pass"
    assert found["nothere.contoso.test"]["details"]["outcome"] in ("nxdomain", "refused")
    assert found["nothere.contoso.test"]["status"] == "fail"


# -- egress -------------------------------------------------------------------------------------


def test_egress_pins_the_resolved_address_and_keeps_sni_and_host(
    tmp_path: Path, dns_server: Any, tls_server: Any, ca_bundle: Path
) -> None:
    tls = tls_server(hostnames=["mcr.contoso.test"], status=404)
    dns = dns_server(records={"mcr.contoso.test": "127.0.0.1"})
    result = run(
        tmp_path,
        host_profile(tmp_path, [{"host": "mcr.contoso.test", "port": tls.port}]),
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
    )
    assert result.code == 0, result.stdout
    finding = result.by_target("egress.https")["mcr.contoso.test"]
    assert finding["status"] == "pass"
    assert "HTTP 404" in finding["message"], "any HTTP status proves the path"
    assert finding["details"]["address"] == "127.0.0.1"
    assert finding["details"]["tls"]["version"].startswith("TLS")
    request = tls.requests[-1]
    assert request.sni == "mcr.contoso.test"
    assert request.host == f"mcr.contoso.test:{tls.port}"


def test_unknown_issuer_suggests_tls_inspection_and_ca_bundle(
    tmp_path: Path, dns_server: Any, tls_server: Any, ca_bundle: Path
) -> None:
    inspected = tls_server(hostnames=["mcr.contoso.test"], untrusted=True)
    dns = dns_server(records={"mcr.contoso.test": "127.0.0.1"})
    prof = host_profile(tmp_path, [{"host": "mcr.contoso.test", "port": inspected.port}])
    result = run(tmp_path, prof, "--nameserver", dns.address, "--ca-bundle", str(ca_bundle))
    finding = result.by_target("egress.https")["mcr.contoso.test"]
    assert finding["status"] == "fail"
    assert finding["details"]["phase"] == "tls" and finding["details"]["kind"] == "untrusted"
    assert "TLS-inspecting proxy?" in finding["message"]
    assert "Contoso Inspection CA" in finding["message"]
    assert "--ca-bundle" in finding["remediation"]
    # without --ca-bundle even our own test CA is unknown: the same finding
    plain = run(tmp_path, prof, "--nameserver", dns.address)
    assert plain.by_target("egress.https")["mcr.contoso.test"]["details"]["kind"] == "untrusted"


def test_each_failing_phase_is_named(
    tmp_path: Path,
    dns_server: Any,
    tls_server: Any,
    ca_bundle: Path,
    blackhole: Any,
    refused_port: int,
) -> None:
    no_tls = tls_server(hostnames=["stall-tls.test"], accept_then_silence=True)
    no_http = tls_server(hostnames=["stall-http.test"], tls_then_silence=True)
    names = ["blackhole.test", "refused.test", "stall-tls.test", "stall-http.test", "opt.test"]
    dns = dns_server(records={n: "127.0.0.1" for n in names})
    hosts = [
        {"host": "blackhole.test", "port": blackhole.port},
        {"host": "refused.test", "port": refused_port},
        {"host": "stall-tls.test", "port": no_tls.port},
        {"host": "stall-http.test", "port": no_http.port},
        {"host": "opt.test", "port": refused_port, "required": False},
    ]
    started = time.monotonic()
    result = run(
        tmp_path,
        host_profile(tmp_path, hosts),
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
        "--timeout",
        "1.5",
    )
    elapsed = time.monotonic() - started
    found = result.by_target("egress.https")
    expected = {
        "blackhole.test": ("connect", "timeout", "blocked"),
        "refused.test": ("connect", "refused", "refused the connection"),
        "stall-tls.test": ("tls", "timeout", "TLS"),
        "stall-http.test": ("http", "timeout", "did not answer HTTP"),
    }
    for name, (phase, kind, text) in expected.items():
        finding = found[name]
        assert finding["status"] == "fail", finding
        assert (finding["details"]["phase"], finding["details"]["kind"]) == (phase, kind), finding
        assert text in finding["message"]
        assert finding["remediation"]
    assert found["opt.test"]["status"] == "warn", "an optional host that fails is a warning"
    assert "allow outbound TCP" in found["blackhole.test"]["remediation"]
    assert elapsed < 15, "phases are bounded by --timeout and hosts probed concurrently"


def test_plain_http_host(tmp_path: Path, dns_server: Any, http_server: Any) -> None:
    server = http_server(status=301)
    dns = dns_server(records={"archive.test": "127.0.0.1"})
    prof = host_profile(tmp_path, [{"host": "archive.test", "port": server.port, "tls": False}])
    result = run(tmp_path, prof, "--nameserver", dns.address)
    finding = result.by_target("egress.https")["archive.test"]
    assert finding["status"] == "pass" and "HTTP path open: HTTP 301" in finding["message"]


# -- proxy --------------------------------------------------------------------------------------


def test_through_tinyproxy_allowed_refused_and_no_proxy(
    tmp_path: Path, tls_server: Any, ca_bundle: Path, tinyproxy: Any, dns_server: Any
) -> None:
    allowed = tls_server(hostnames=["localhost"])
    denied = tls_server(hostnames=["localhost"])
    proxy = tinyproxy(connect_ports=[allowed.port])
    # the tool's own resolver knows nothing: through a proxy, the proxy resolves
    dns = dns_server(records={})
    prof = host_profile(
        tmp_path,
        [{"host": "localhost", "port": allowed.port}, {"host": "localhost", "port": denied.port}],
    )
    result = run(
        tmp_path,
        prof,
        "--proxy",
        proxy.url,
        "--ca-bundle",
        str(ca_bundle),
        "--nameserver",
        dns.address,
        "--check",
        "egress.https",
        "--skip",
        "dns.*",
    )
    findings = {f["details"]["port"]: f for f in result.findings("egress.https")}
    ok, refused = findings[allowed.port], findings[denied.port]
    assert ok["status"] == "pass" and f"via proxy {proxy.url}" in ok["message"]
    assert refused["status"] == "fail"
    assert refused["details"]["phase"] == "proxy" and refused["details"]["proxy_status"] == 403
    assert "allow CONNECT to localhost" in refused["remediation"]
    assert f"localhost:{allowed.port}" in proxy.connect_targets
    # HTTPS_PROXY from the environment, and NO_PROXY sending localhost direct
    env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": "example.com,localhost"}
    direct = preflight(
        "run",
        "--profile",
        str(prof),
        "--check",
        "egress.https",
        "--ca-bundle",
        str(ca_bundle),
        env=env,
        out=tmp_path / "direct",
    )
    for finding in direct.findings("egress.https"):
        assert finding["status"] == "pass", finding
        assert "proxy" not in finding["details"]


def test_proxy_credentials_are_used_and_never_shown(
    tmp_path: Path, tls_server: Any, ca_bundle: Path, tinyproxy: Any
) -> None:
    server = tls_server(hostnames=["localhost"])
    proxy = tinyproxy(connect_ports=[server.port], auth=("ops", "Hunter2-s3cret"))
    prof = host_profile(tmp_path, [{"host": "localhost", "port": server.port}])
    without = run(
        tmp_path,
        prof,
        "--proxy",
        proxy.url,
        "--ca-bundle",
        str(ca_bundle),
        "--check",
        "egress.https",
        "--skip",
        "dns.*",
    )
    finding = without.findings("egress.https")[0]
    assert finding["details"]["kind"] == "auth" and finding["details"]["proxy_status"] == 407
    secret_url = proxy.url.replace("http://", "http://ops:Hunter2-s3cret@")
    with_auth = run(
        tmp_path,
        prof,
        "--proxy",
        secret_url,
        "--ca-bundle",
        str(ca_bundle),
        "--check",
        "egress.https",
        "--skip",
        "dns.*",
    )
    assert with_auth.findings("egress.https")[0]["status"] == "pass"
    outputs = [with_auth.stdout, with_auth.stderr]
    outputs += [p.read_text() for p in (tmp_path / "out").iterdir() if p.is_file()]
    for text in outputs:
        assert "Hunter2-s3cret" not in text
    assert "ops:***@" in with_auth.findings("egress.https")[0]["message"]


# -- reports from a real run ------------------------------------------------------------------


def test_hostile_parameter_is_escaped_in_every_report(tmp_path: Path, dns_server: Any) -> None:
    dns = dns_server(records={})
    prof = host_profile(tmp_path, [{"host": "{acr}.azurecr.test", "port": 9}])
    hostile = "<script>alert(1)</script>"
    result = run(tmp_path, prof, "--nameserver", dns.address, "--set", f"acr={hostile}")
    assert result.code == 1
    finding = result.findings("dns.resolve")[0]
    assert finding["status"] == "fail" and "not a valid DNS host name" in finding["message"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert hostile not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert hostile not in (tmp_path / "out" / "summary.md").read_text()
    import xml.etree.ElementTree as ET

    ET.parse(tmp_path / "out" / "junit.xml")  # still well-formed XML


def test_fail_on_warn_gates_an_optional_failure(tmp_path: Path, dns_server: Any) -> None:
    dns = dns_server(records={}, nxdomain=["opt.test"])
    prof = host_profile(tmp_path, [{"host": "opt.test", "port": 9, "required": False}])
    base = ("--nameserver", dns.address, "--check", "dns.resolve")
    assert run(tmp_path, prof, *base).code == 0
    assert run(tmp_path, prof, *base, "--fail-on", "warn").code == 1
