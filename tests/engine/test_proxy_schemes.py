"""Proxy schemes as users and CI agents set them (issue 16): ``https://`` proxies (TLS to the
proxy, the origin's TLS inside it), SOCKS5 with and without the proxy resolving names, SOCKS
refusals named by their reply, and proxy variables that cannot be used: a finding for the checks
that would use them, never an aborted run.

Real components on loopback: squid and ``MiniConnectProxy`` behind a TLS front (stunnel's job,
``support/socks.py``) for ``https://`` proxies, an RFC 1928/1929 SOCKS5 server that records what
it was asked to reach, DNS servers that do or do not know the names, the fake ARM front door.
Everything runs through the real CLI (``tests/clirun.py``), which drops the proxy variables this
machine has: each test passes its own in ``env=``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from support import SocksServer

from preflight.clients.proxy import Proxy, ProxySettings, validate_proxy_url
from preflight.errors import UsageError
from tests.clirun import Result, host_profile, no_traceback, preflight, run_profile

GENERIC = "files.contoso.test"
ARCHIVE = "archive.contoso.test"
SUB = "11111111-2222-3333-4444-555555555555"
TOKEN = "tok-proxy-schemes-never-printed"


def run(tmp_path: Path, prof: Path, *args: str, **kwargs: Any) -> Result:
    """Every connection bounded at 3 s."""
    return run_profile(tmp_path, prof, "--timeout", "3", *args, **kwargs)


# -- https:// proxies: TLS to the proxy, then CONNECT (or an absolute-URI GET) inside it ---------


def test_https_proxy_from_the_environment_carries_tls_and_plain_http(
    tmp_path: Path,
    tls_server: Any,
    http_server: Any,
    squid: Any,
    tls_front: Any,
    ca_bundle: Path,
) -> None:
    origin = tls_server(hostnames=[GENERIC])
    archive = http_server(status=200, headers={"Content-Type": "text/plain"}, body=b"ubuntu\n")
    proxy = squid(ssl_ports=[origin.port], hosts={GENERIC: "127.0.0.1", ARCHIVE: "127.0.0.1"})
    front = tls_front(proxy.sockaddr)  # https://localhost:PORT, certificate from the test CA
    prof = host_profile(
        tmp_path,
        [
            {"host": GENERIC, "port": origin.port},
            {"host": ARCHIVE, "port": archive.port, "tls": False},
        ],
    )
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--ca-bundle",
        str(ca_bundle),
        env={"HTTPS_PROXY": front.url(), "HTTP_PROXY": front.url()},
    )
    no_traceback(result)
    tunnelled = result.finding("egress.https", GENERIC)
    assert tunnelled["status"] == "pass", tunnelled
    assert tunnelled["details"]["proxy"] == front.url()
    assert tunnelled["details"]["mode"] == "connect"
    assert tunnelled["details"]["proxy_status"] == 200
    forwarded = result.finding("egress.https", ARCHIVE)
    assert forwarded["status"] == "pass", forwarded
    assert forwarded["details"]["mode"] == "forward"
    assert forwarded["details"]["request"].startswith(f"GET http://{ARCHIVE}:{archive.port}/")
    assert result.code == 0, result.stdout
    seen = {(r.method, r.target) for r in proxy.wait_for_requests(2)}
    assert ("CONNECT", f"{GENERIC}:{origin.port}") in seen, seen
    assert any(m == "GET" and ARCHIVE in t for m, t in seen), seen
    assert front.server_names and set(front.server_names) == {"localhost"}  # SNI: the proxy
    assert origin.requests[0].sni == GENERIC  # and the origin's own TLS inside the tunnel


def test_https_proxy_credentials_and_407_advice(
    tmp_path: Path, tls_server: Any, mini_proxy: Any, tls_front: Any, ca_bundle: Path
) -> None:
    origin = tls_server(hostnames=[GENERIC])
    proxy = mini_proxy(auth=("svc", "pr0xy-pass"), resolve={GENERIC: "127.0.0.1"})
    front = tls_front(proxy.sockaddr)
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": origin.port}])
    args = ("--check", "egress.https", "--ca-bundle", str(ca_bundle))
    good = run(
        tmp_path, prof, *args, env={"HTTPS_PROXY": front.url(user="svc", password="pr0xy-pass")}
    )
    assert good.finding("egress.https", GENERIC)["status"] == "pass", good.finding(
        "egress.https", GENERIC
    )
    assert "pr0xy-pass" not in (tmp_path / "out" / "report.json").read_text()
    wrong = run(
        tmp_path,
        prof,
        *args,
        env={"HTTPS_PROXY": front.url(user="svc", password="wrong")},
        out="wrong",
    )
    finding = wrong.finding("egress.https", GENERIC)
    assert finding["details"]["phase"] == "proxy" and finding["details"]["proxy_status"] == 407
    assert "rejected the credentials in the proxy URL" in finding["message"]
    assert "check the user name and password" in finding["remediation"]
    missing = run(tmp_path, prof, *args, env={"HTTPS_PROXY": front.url()}, out="missing")
    finding = missing.finding("egress.https", GENERIC)
    assert "wants credentials" in finding["message"]
    assert "--proxy https://user:" in finding["remediation"]


def test_https_proxy_whose_certificate_is_not_trusted_is_a_proxy_finding(
    tmp_path: Path, tls_server: Any, mini_proxy: Any, tls_front: Any, ca_bundle: Path
) -> None:
    origin = tls_server(hostnames=[GENERIC])
    proxy = mini_proxy(resolve={GENERIC: "127.0.0.1"})
    stranger = tls_front(proxy.sockaddr, ca=trustme.CA())  # a CA nobody passed
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": origin.port}])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--ca-bundle",
        str(ca_bundle),
        env={"HTTPS_PROXY": stranger.url()},
    )
    finding = result.finding("egress.https", GENERIC)
    assert finding["status"] == "fail", finding
    assert finding["details"]["phase"] == "proxy"
    assert finding["details"]["kind"] == "tls-untrusted"
    assert "proxy's own certificate" in finding["message"]
    assert "--ca-bundle" in finding["remediation"]
    assert proxy.connect_targets == []  # nothing was sent to a proxy that was not verified
    # an https:// URL for a proxy that does not speak TLS names that too
    plain = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--ca-bundle",
        str(ca_bundle),
        env={"HTTPS_PROXY": f"https://127.0.0.1:{proxy.port}"},
        out="plain",
    )
    finding = plain.finding("egress.https", GENERIC)
    assert finding["details"]["phase"] == "proxy" and finding["details"]["kind"] == "tls"
    assert "http://" in finding["remediation"]


def test_origin_certificate_failure_inside_an_https_proxy_is_named_quickly(
    tmp_path: Path, tls_server: Any, mini_proxy: Any, tls_front: Any, ca_bundle: Path
) -> None:
    """TLS in TLS: the origin's untrusted certificate is a tls finding naming its issuer, in
    well under the timeout (asyncio's abort path before 3.13 would otherwise hang it)."""
    origin = tls_server(hostnames=[GENERIC], untrusted=True)
    proxy = mini_proxy(resolve={GENERIC: "127.0.0.1"})
    front = tls_front(proxy.sockaddr)
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": origin.port}])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--ca-bundle",
        str(ca_bundle),
        env={"HTTPS_PROXY": front.url()},
    )
    finding = result.finding("egress.https", GENERIC)
    assert finding["status"] == "fail", finding
    assert finding["details"]["phase"] == "tls"
    assert finding["details"]["kind"] == "untrusted"
    assert finding["details"]["timings_ms"]["tls"] < 2500
    assert finding["details"]["presented_certificate"], finding["details"]


# -- SOCKS5 ---------------------------------------------------------------------------------------


def test_all_proxy_socks5h_lets_the_proxy_resolve(
    tmp_path: Path,
    tls_server: Any,
    http_server: Any,
    socks_server: Any,
    dns_server: Any,
    ca_bundle: Path,
) -> None:
    origin = tls_server(hostnames=[GENERIC])
    archive = http_server(status=200, headers={"Content-Type": "text/plain"}, body=b"ok\n")
    socks = socks_server(resolve={GENERIC: "127.0.0.1", ARCHIVE: "127.0.0.1"})
    dns = dns_server(nxdomain=[GENERIC, ARCHIVE])  # only the proxy knows these names
    prof = host_profile(
        tmp_path,
        [
            {"host": GENERIC, "port": origin.port},
            {"host": ARCHIVE, "port": archive.port, "tls": False},
        ],
    )
    result = run(
        tmp_path,
        prof,
        "--check",
        "dns.resolve",
        "--check",
        "egress.https",
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
        env={"ALL_PROXY": socks.url},
    )
    no_traceback(result)
    assert result.code == 0, result.stdout
    for host in (GENERIC, ARCHIVE):
        finding = result.finding("egress.https", host)
        assert finding["status"] == "pass", finding
        assert finding["details"]["mode"] == "socks"
        assert finding["details"]["proxy"] == socks.url
        assert result.by_target("dns.resolve")[host]["status"] == "skip"
    assert (
        result.finding("egress.https", ARCHIVE)["details"]["request"] == "GET / HTTP/1.1"
    )  # the origin's
    requests = {(r.target, r.kind, r.reply) for r in socks.requests}
    assert (f"{GENERIC}:{origin.port}", "domain", 0) in requests, requests
    assert (f"{ARCHIVE}:{archive.port}", "domain", 0) in requests, requests
    assert archive.requests[0].path == "/"


def test_socks5_resolves_here_and_logs_in(
    tmp_path: Path, tls_server: Any, socks_server: Any, dns_server: Any, ca_bundle: Path
) -> None:
    origin = tls_server(hostnames=[GENERIC])
    socks = socks_server(auth=("svc", "s0cks-pass"))
    dns = dns_server(records={GENERIC: "127.0.0.1"})
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": origin.port}])

    def attempt(url: str, out: str) -> dict[str, Any]:
        result = run(
            tmp_path,
            prof,
            "--check",
            "egress.https",
            "--nameserver",
            dns.address,
            "--ca-bundle",
            str(ca_bundle),
            env={"HTTPS_PROXY": url},
            out=out,
        )
        no_traceback(result)
        assert "s0cks-pass" not in (tmp_path / out / "report.json").read_text()
        return result.finding("egress.https", GENERIC)

    good = attempt(socks.url_with("socks5", "svc", "s0cks-pass"), "good")
    assert good["status"] == "pass", good
    assert good["details"]["mode"] == "socks"
    assert good["details"]["address"].startswith("127.0.0.1 via proxy socks5://svc:***@")
    # socks5:// hands the proxy the address this machine resolved (--nameserver's answer)
    assert socks.requests[-1].target == f"127.0.0.1:{origin.port}"
    assert socks.requests[-1].kind == "ipv4" and socks.requests[-1].user == "svc"

    wrong = attempt(socks.url_with("socks5", "svc", "nope"), "wrong")
    assert wrong["status"] == "fail" and wrong["details"]["phase"] == "proxy"
    assert wrong["details"]["kind"] == "auth"
    assert "rejected the credentials in the proxy URL" in wrong["message"]
    assert socks.failed_logins == ["svc"]

    missing = attempt(socks.url_with("socks5"), "missing")
    assert missing["details"]["kind"] == "auth"
    assert "wants credentials" in missing["message"]
    assert "--proxy socks5://user:" in missing["remediation"]


@pytest.mark.parametrize(
    ("reply", "kind", "named", "advice"),
    [
        (0x02, "denied", "0x02 Connection not allowed by ruleset", "SOCKS proxy's rules"),
        (0x01, "error", "0x01 General SOCKS server failure", "proxy address and port"),
        (0x04, "unreachable", "0x04 Host unreachable", "from the proxy"),
    ],
)
def test_socks_refusal_is_a_proxy_finding_naming_the_reply(
    tmp_path: Path,
    tls_server: Any,
    socks_server: Any,
    ca_bundle: Path,
    reply: int,
    kind: str,
    named: str,
    advice: str,
) -> None:
    origin = tls_server(hostnames=[GENERIC])
    socks = socks_server(reply=reply)
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": origin.port}])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--ca-bundle",
        str(ca_bundle),
        env={"ALL_PROXY": socks.url},
    )
    finding = result.finding("egress.https", GENERIC)
    assert result.code == 1
    assert finding["status"] == "fail", finding
    assert finding["details"]["phase"] == "proxy"
    assert finding["details"]["kind"] == kind
    assert finding["details"]["proxy_reply"] == named
    assert named in finding["message"]
    assert advice in finding["remediation"]
    assert socks.connect_targets == [f"{GENERIC}:{origin.port}"]


def test_socks_proxy_that_cannot_reach_the_origin(
    tmp_path: Path, socks_server: Any, refused_port: int
) -> None:
    socks = socks_server(resolve={GENERIC: "127.0.0.1"})
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": refused_port}])
    result = run(tmp_path, prof, "--check", "egress.https", env={"ALL_PROXY": socks.url})
    finding = result.finding("egress.https", GENERIC)
    assert finding["details"]["phase"] == "proxy" and finding["details"]["kind"] == "refused"
    assert finding["details"]["proxy_reply"] == "0x05 Connection refused by destination host"
    assert f"SOCKS proxy could not reach {GENERIC}:{refused_port}" in finding["message"]


def test_a_socks_port_named_as_an_http_proxy_is_told(
    tmp_path: Path, tls_server: Any, socks_server: Any, ca_bundle: Path
) -> None:
    origin = tls_server(hostnames=[GENERIC])
    socks = socks_server()
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": origin.port}])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--ca-bundle",
        str(ca_bundle),
        env={"HTTPS_PROXY": f"http://127.0.0.1:{socks.port}"},
    )
    finding = result.finding("egress.https", GENERIC)
    assert finding["details"]["phase"] == "proxy", finding
    assert "socks5h://" in finding["remediation"]


# -- proxy variables that cannot be used ----------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "variable", "words"),
    [
        ({"HTTPS_PROXY": "socks5://bad url"}, "HTTPS_PROXY", "'bad url' is not a host name"),
        ({"ALL_PROXY": "ftp://proxy.corp:21"}, "ALL_PROXY", "unsupported proxy scheme 'ftp://'"),
        (
            {"https_proxy": "http://svc:hunter2@proxy.corp:99999"},
            "https_proxy",
            "Port out of range",
        ),
    ],
)
def test_a_bad_proxy_variable_never_aborts_the_run(
    tmp_path: Path,
    tls_server: Any,
    dns_server: Any,
    ca_bundle: Path,
    env: dict[str, str],
    variable: str,
    words: str,
) -> None:
    origin = tls_server(hostnames=[GENERIC])
    dns = dns_server(records={GENERIC: "127.0.0.1"})
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": origin.port}])
    # a check that does not use the network runs as if the variable were not there
    resolved = run(
        tmp_path, prof, "--check", "dns.resolve", "--nameserver", dns.address, env=env, out="dns"
    )
    no_traceback(resolved)
    assert resolved.code == 0, (resolved.stdout, resolved.stderr)
    assert resolved.by_target("dns.resolve")[GENERIC]["status"] == "pass"
    # the check that goes through the proxy reports it
    result = run(
        tmp_path,
        prof,
        "--check",
        "dns.resolve",
        "--check",
        "egress.https",
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
        env=env,
    )
    no_traceback(result)
    assert result.code == 1, (result.stdout, result.stderr)
    finding = result.finding("egress.https", GENERIC)
    assert finding["status"] == "fail"
    assert finding["details"]["phase"] == "proxy" and finding["details"]["kind"] == "config"
    assert variable in finding["message"] and words in finding["message"]
    assert "fix the variable" in finding["remediation"]
    assert "hunter2" not in (tmp_path / "out" / "report.json").read_text()
    assert origin.requests == []  # nothing went direct behind the user's back


def test_no_proxy_keeps_a_host_off_a_bad_proxy_variable(
    tmp_path: Path, tls_server: Any, dns_server: Any, ca_bundle: Path
) -> None:
    origin = tls_server(hostnames=[GENERIC])
    dns = dns_server(records={GENERIC: "127.0.0.1"})
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": origin.port}])
    result = run(
        tmp_path,
        prof,
        "--check",
        "egress.https",
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
        env={"ALL_PROXY": "ftp://proxy.corp", "NO_PROXY": ".contoso.test"},
    )
    assert result.code == 0, result.stdout
    assert result.finding("egress.https", GENERIC)["details"]["mode"] == "direct"


# -- validate_proxy_url and ProxySettings (the --proxy flag is validated by the CLI with these) --


@pytest.mark.parametrize(
    "url",
    [
        "http://proxy.corp:3128",
        "proxy.corp:3128",
        "https://proxy.corp",
        "socks5://10.0.0.9:1080",
        "socks5h://u:p%40ss@proxy.corp:1080",
        "socks4://proxy.corp",
        "socks4a://proxy.corp:1081",
        "http://[fd00::1]:3128/",
    ],
)
def test_validate_proxy_url_accepts_every_supported_scheme(url: str) -> None:
    assert validate_proxy_url(url, "--proxy") is None  # no UsageError


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://x", ["--proxy 'ftp://x'", "unsupported proxy scheme 'ftp://'", "socks5h://"]),
        ("socks5://u:t0psecret@bad host:1", ["is not a host name", "u:***@"]),
        ("http://proxy.corp:99999", ["Port out of range"]),
        ("http://:3128", ["no proxy host"]),
        ("http://proxy.corp:3128/some/path", ["no path"]),
    ],
)
def test_validate_proxy_url_rejects_with_one_line(url: str, words: list[str]) -> None:
    with pytest.raises(UsageError) as caught:
        validate_proxy_url(url, "--proxy")
    text = str(caught.value)
    assert "\n" not in text
    assert "t0psecret" not in text
    for word in words:
        assert word in text, text


def test_proxy_settings_keep_environment_problems_and_raise_for_the_flag() -> None:
    settings = ProxySettings.build(
        None, {"ALL_PROXY": "ftp://u:pw@x", "HTTP_PROXY": "http://proxy.corp:3128"}
    )
    assert settings.http is not None and not settings.http.error
    assert settings.https is not None and settings.https.error.startswith(
        "ALL_PROXY 'ftp://u:***@x'"
    )
    assert settings.problems == (settings.https.error,)
    assert settings.for_host("mcr.microsoft.com", 443, True) is settings.https
    with pytest.raises(UsageError):
        ProxySettings.build("ftp://x", {})
    flag = ProxySettings.build("socks5h://proxy.corp", {"HTTPS_PROXY": "ftp://ignored"})
    assert flag.https is not None and flag.https.scheme == "socks5h" and not flag.problems
    assert Proxy.from_url("socks5://proxy.corp").remote_dns is False
    assert Proxy.from_url("socks5h://proxy.corp").remote_dns is True


def test_cli_with_a_bad_proxy_variable_still_runs_offline_checks(tmp_path: Path) -> None:
    """``ALL_PROXY=socks5://...`` or a broken ``HTTPS_PROXY`` on a CI agent: exit 0/1, not 2."""
    prof = host_profile(tmp_path, [{"host": GENERIC, "port": 443}])
    for env in ({"ALL_PROXY": "socks5://ci-proxy.internal:1080"}, {"HTTPS_PROXY": "gopher://x"}):
        result = preflight(
            "run",
            "--profile",
            str(prof),
            "--check",
            "azure.outbound",
            "--format",
            "json",
            env=env,
            out=tmp_path / "offline",
        )
        assert result.code in (0, 1), (result.code, result.stderr)
        no_traceback(result)


# -- ARM through https:// and SOCKS proxies --------------------------------------------------------


def _arm_run(
    tmp_path: Path,
    arm: Any,
    azure_profile: Any,
    refused_port: int,
    ca_bundle: Path,
    env: dict[str, str],
    out: str,
) -> Result:
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    prof = azure_profile(arm=arm.url, imds=f"http://127.0.0.1:{refused_port}")
    return preflight(
        "run",
        "--profile",
        str(prof),
        "--ca-bundle",
        str(ca_bundle),
        "--format",
        "json",
        "--check",
        "azure.providers",
        "--set",
        f"subscription_id={SUB}",
        "--set",
        "resource_group=rg",
        "--set",
        "cluster_name=aks1",
        env={"PATH": str(empty), "AZURE_ACCESS_TOKEN": TOKEN, **env},
        out=tmp_path / out,
    )


@pytest.fixture
def arm(fake_arm: Callable[..., Any]) -> Any:
    from support.azure_objects import managed_cluster, provider

    namespaces = (
        "Microsoft.KubernetesConfiguration",
        "Microsoft.ContainerService",
        "Microsoft.MachineLearningServices",
    )
    resources = [managed_cluster("aks1", SUB, "rg"), *(provider(n, sub=SUB) for n in namespaces)]
    return fake_arm(resources, tokens={TOKEN})


def test_arm_calls_go_through_https_and_socks5_proxies(
    tmp_path: Path,
    arm: Any,
    azure_profile: Any,
    refused_port: int,
    ca_bundle: Path,
    mini_proxy: Any,
    tls_front: Any,
    socks_server: Any,
) -> None:
    connect = mini_proxy()
    front = tls_front(connect.sockaddr)
    socks = socks_server()
    for name, url, seen in (
        ("https", front.url(), lambda: connect.connect_targets),
        ("socks5h", socks.url, lambda: socks.connect_targets),
        ("socks5", socks.url_with("socks5"), lambda: socks.connect_targets),
    ):
        result = _arm_run(
            tmp_path, arm, azure_profile, refused_port, ca_bundle, {"HTTPS_PROXY": url}, name
        )
        no_traceback(result)
        statuses = {f["status"] for f in result.findings("azure.providers")}
        assert statuses == {"pass"}, (name, result.findings("azure.providers"))
        assert f"127.0.0.1:{arm.port}" in seen(), (name, seen())


def test_arm_reports_proxy_problems_as_findings(
    tmp_path: Path,
    arm: Any,
    azure_profile: Any,
    refused_port: int,
    ca_bundle: Path,
    mini_proxy: Any,
) -> None:
    def message(env: dict[str, str], out: str) -> str:
        result = _arm_run(tmp_path, arm, azure_profile, refused_port, ca_bundle, env, out)
        no_traceback(result)
        assert result.code == 1, (result.code, result.stderr)
        findings = result.findings("azure.providers")
        assert findings and {f["status"] for f in findings} == {"error"}, findings
        return " ".join(f["message"] for f in findings)

    assert "unsupported proxy scheme 'ftp://'" in message(
        {"HTTPS_PROXY": "ftp://proxy.corp"}, "ftp"
    )
    assert "HTTPS_PROXY" in message({"HTTPS_PROXY": "ftp://proxy.corp"}, "ftp2")
    assert "socks4://" in message({"HTTPS_PROXY": "socks4://proxy.corp"}, "socks4")
    guarded = mini_proxy(auth=("svc", "right"))
    wrong = message({"HTTPS_PROXY": guarded.url_with_credentials("svc", "wrong")}, "wrong")
    assert "rejected the credentials in the proxy URL" in wrong, wrong
    assert "wants credentials" in message({"HTTPS_PROXY": guarded.url}, "none")


# -- preflight load: https:// and SOCKS proxies, and a bad variable --------------------------------


def _load(
    url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    base = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
    }
    return subprocess.run(
        [sys.executable, "-m", "preflight", "load", url, "--rate", "10", "--duration", "0.5"]
        + ["--warmup", "0", "--json", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
    )


def test_load_tunnels_through_https_and_socks_proxies(
    tls_server: Any, mini_proxy: Any, tls_front: Any, socks_server: Any, ca_bundle: Path
) -> None:
    origin = tls_server(hostnames=["localhost"], status=200)
    connect = mini_proxy()
    front = tls_front(connect.sockaddr)
    socks = socks_server()
    url = f"https://localhost:{origin.port}/score"
    for proxy, seen in (
        (front.url(), lambda: connect.connect_targets),
        (socks.url, lambda: socks.connect_targets),
    ):
        proc = _load(url, "--ca-bundle", str(ca_bundle), "--proxy", proxy)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        assert summary["errors"] == 0 and summary["requests"] >= 4, summary
        assert f"localhost:{origin.port}" in seen()


def test_load_names_proxy_problems(
    tls_server: Any, socks_server: Any, mini_proxy: Any, ca_bundle: Path
) -> None:
    origin = tls_server(hostnames=["localhost"], status=200)
    url = f"https://localhost:{origin.port}/score"
    flag = _load(url, "--proxy", "ftp://proxy.corp")
    assert flag.returncode == 2 and len(flag.stderr.strip().splitlines()) == 1, flag.stderr
    assert "unsupported proxy scheme 'ftp://'" in flag.stderr
    variable = _load(url, env={"HTTPS_PROXY": "ftp://proxy.corp"})
    assert variable.returncode == 2 and "HTTPS_PROXY" in variable.stderr, variable.stderr
    assert len(variable.stderr.strip().splitlines()) == 1
    refusing = socks_server(reply=0x02)
    refused = _load(url, "--ca-bundle", str(ca_bundle), "--proxy", refusing.url)
    summary = json.loads(refused.stdout)
    assert set(summary["errors_by_kind"]) == {"proxy"}, summary
    assert "0x02" in summary["error_examples"]["proxy"]
    guarded = mini_proxy(auth=("svc", "right"))
    denied = _load(url, "--proxy", guarded.url_with_credentials("svc", "wrong"))
    example = json.loads(denied.stdout)["error_examples"]["proxy"]
    assert "407" in example and "rejected the credentials" in example, example
    bare = _load(url, "--proxy", guarded.url)
    assert "wants credentials" in json.loads(bare.stdout)["error_examples"]["proxy"]


def test_socks_server_records_what_it_was_asked(socks_server: Any) -> None:
    """The support server itself: RFC 1928 no-auth greeting, a domain CONNECT, the reply."""
    import socket
    import struct

    socks: SocksServer = socks_server(reply=0x05)
    with socket.create_connection(socks.sockaddr, timeout=5) as conn:
        conn.sendall(b"\x05\x01\x00")
        assert conn.recv(2) == b"\x05\x00"
        name = b"mcr.microsoft.com"
        conn.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", 443))
        assert conn.recv(10)[:2] == b"\x05\x05"
    assert [(r.target, r.kind, r.reply) for r in socks.requests] == [
        ("mcr.microsoft.com:443", "domain", 0x05)
    ]
