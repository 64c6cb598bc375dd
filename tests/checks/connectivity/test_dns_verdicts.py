"""``dns.resolve`` rule by rule, in-process: the real check and the real resolver against a real
DNS server (dnslib, tests/support/dns_server.py), without a CLI process per case. Pins every
outcome's status, message and remedy so a changed rule cannot pass unnoticed (scripts/mutation);
the CLI path is covered end to end in test_end_to_end.py and test_network_verdicts.py (this
folder)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from support import CNAME, DnsServer

from preflight.checks.connectivity.dns import (
    DnsResolve,
    private_link_zone,
    usable_addresses,
    zone_of,
)
from preflight.context import Context, RunOptions
from preflight.model import Finding
from preflight.profile import HostSpec, Profile

RECORDS: dict[str, Any] = {
    "ok.test": "127.0.0.1",
    "public.test": "20.30.40.50",
    "two.test": CNAME("hop.test"),
    "hop.test": CNAME("end.privatelink.azurecr.io"),
    "private.test": "10.1.2.3",
    "alias.test": CNAME("ok.test"),
    "mixed.test": ["0.0.0.0", "127.0.0.1"],
    "sinkhole.test": "0.0.0.0",
    "multicast.test": "224.0.0.9",
    "reserved.test": "240.0.0.1",
    "slow.test": "127.0.0.1",
    "myacr.azurecr.io": CNAME("myacr.privatelink.azurecr.io"),
    "myacr.privatelink.azurecr.io": "20.1.2.3",
    "doc.azurecr.io": CNAME("doc.privatelink.azurecr.io"),
    "doc.privatelink.azurecr.io": "203.0.113.7",
    "good.blob.core.windows.net": CNAME("good.privatelink.blob.core.windows.net"),
    "good.privatelink.blob.core.windows.net": "10.9.8.7",
    "lost.azurecr.io": CNAME("lost.privatelink.azurecr.io"),
}


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    with DnsServer(
        RECORDS,
        nxdomain={
            "gone.test",
            "optional.test",
            "lost.privatelink.azurecr.io",
            "end.privatelink.azurecr.io",
        },
        delays={"slow.test": 0.2},
        nodata={"empty.test"},
        refused={"refused.test"},
        servfail={"broken.test"},
    ) as server:
        yield server


def run(dns: DnsServer, hosts: list[HostSpec], **options: Any) -> dict[str, Finding]:
    host, port = dns.address.rsplit(":", 1)
    profile = Profile(name="t", cloud="AzureCloud", hosts=tuple(hosts))
    ctx = Context(
        RunOptions(profile=profile, nameservers=[(host, int(port))], timeout=2, **options)
    )
    findings = asyncio.run(DnsResolve().run(ctx))
    return {str(f.target): f for f in findings}


def spec(name: str, required: bool = True, port: int = 443) -> HostSpec:
    return HostSpec(template=name, port=port, required=required)


@pytest.mark.parametrize(
    ("name", "status", "words", "fix"),
    [
        ("gone.test", "fail", "NXDOMAIN", "conditional forwarder for gone.test"),
        ("empty.test", "fail", "has no A or AAAA record", "add the address record"),
        ("refused.test", "fail", "refused to resolve", "allow recursive queries"),
        ("broken.test", "fail", "SERVFAIL", "check the forwarder or upstream resolver"),
        ("sinkhole.test", "fail", "sinkhole", "remove sinkhole.test (or sinkhole.test) from"),
        ("multicast.test", "fail", "multicast", "fix its record"),
        ("reserved.test", "fail", "reserved", "fix its record"),
        ("mixed.test", "warn", "beside real addresses", "holds only routable addresses"),
    ],
)
def test_outcomes(dns: DnsServer, name: str, status: str, words: str, fix: str) -> None:
    finding = run(dns, [spec(name)])[name]
    assert finding.status.value == status, finding.message
    assert words in finding.message, finding.message
    assert fix in finding.remediation, finding.remediation
    assert finding.details["vantage"] == "local"


def test_passes_say_what_they_resolved(dns: DnsServer) -> None:
    found = run(dns, [spec("ok.test"), spec("alias.test"), spec("private.test")])
    assert found["ok.test"].status.value == "pass"
    assert found["ok.test"].message == "resolves to 127.0.0.1"
    assert found["alias.test"].message == "resolves to 127.0.0.1 via ok.test"
    assert found["alias.test"].details["cname_chain"] == ["ok.test"]
    assert "private address: a private endpoint?" in found["private.test"].message
    assert found["private.test"].details["address_classes"] == {"10.1.2.3": "private"}


def test_an_optional_host_warns_instead_of_failing(dns: DnsServer) -> None:
    finding = run(dns, [spec("optional.test", required=False)])["optional.test"]
    assert finding.status.value == "warn" and "NXDOMAIN" in finding.message


def test_private_endpoints(dns: DnsServer) -> None:
    found = run(
        dns,
        [
            spec("myacr.azurecr.io"),
            spec("doc.azurecr.io"),
            spec("good.blob.core.windows.net"),
            spec("lost.azurecr.io"),
        ],
    )
    public = found["myacr.azurecr.io"]
    assert public.status.value == "warn"
    assert "private endpoint (CNAME into privatelink.azurecr.io)" in public.message
    assert "public address 20.1.2.3" in public.message
    assert public.remediation.startswith("link the private DNS zone privatelink.azurecr.io")
    assert "conditional forwarder for azurecr.io to Azure DNS (168.63.129.16)" in public.remediation
    assert public.details["private_link_zone"] == "privatelink.azurecr.io"
    # a documentation-range answer is as public as any for this rule
    assert found["doc.azurecr.io"].status.value == "warn"
    healthy = found["good.blob.core.windows.net"]
    assert healthy.status.value == "pass"
    assert healthy.message.startswith("resolves to the private endpoint 10.9.8.7")
    lost = found["lost.azurecr.io"]
    assert lost.status.value == "fail" and "NXDOMAIN" in lost.message
    assert "(followed CNAMEs to lost.privatelink.azurecr.io)" in lost.message
    assert "the private DNS zone privatelink.azurecr.io is not linked" in lost.remediation


def test_a_typo_in_a_parameter_is_suggested(dns: DnsServer) -> None:
    found = run(dns, [HostSpec(template="{acr}.test")], params={"acr": "gone"})
    finding = found["gone.test"]
    assert finding.status.value == "fail"
    assert "check the value of acr (it forms gone.test)" in finding.remediation
    plain = run(dns, [spec("gone.test")])["gone.test"]
    assert "check the value of" not in plain.remediation


def test_a_missing_parameter_skips_with_the_set_to_add(dns: DnsServer) -> None:
    found = run(dns, [HostSpec(template="{acr}.azurecr.io")])
    (finding,) = found.values()
    assert finding.status.value == "skip"
    assert finding.remediation == "--set acr=<name> to check {acr}.azurecr.io"


def test_through_a_proxy_a_failure_is_not_judged_here(dns: DnsServer) -> None:
    found = run(dns, [spec("gone.test"), spec("ok.test")], proxy="http://127.0.0.1:9")
    assert found["gone.test"].status.value == "skip"
    assert found["gone.test"].details["decided_by"] == "egress.https"
    assert "the proxy http://127.0.0.1:9" in found["gone.test"].message
    assert found["ok.test"].status.value == "pass"
    assert "through the proxy" in found["ok.test"].message


def test_helpers() -> None:
    assert zone_of("a.b.c") == "b.c" and zone_of("b.c") == "b.c"
    assert usable_addresses(["0.0.0.0", "127.0.0.1", "224.0.0.1", "10.0.0.1", "::"]) == [
        "127.0.0.1",
        "10.0.0.1",
    ]
    assert private_link_zone(["x.privatelink.azurecr.io", "y"]) == "privatelink.azurecr.io"
    assert private_link_zone(["a.privatelink.eastus.azmk8s.io"]) == "privatelink.eastus.azmk8s.io"
    assert private_link_zone(["notprivatelink.example"]) is None
    assert private_link_zone([]) is None


def test_details_and_docs_of_a_finding(dns: DnsServer) -> None:
    from preflight.checks.connectivity.dns import DOCS

    found = run(
        dns,
        [spec("slow.test"), spec("public.test"), spec("gone.test"), spec("two.test")],
    )
    slow = found["slow.test"].details["duration_ms"]
    assert 150 <= slow < 5000, slow  # milliseconds, not seconds
    assert "private address" not in found["public.test"].message
    assert found["public.test"].details["address_classes"] == {"20.30.40.50": "public"}
    assert found["gone.test"].docs == DOCS
    with_docs = run(dns, [HostSpec(template="gone.test", docs="https://contoso.test/dns")])
    assert with_docs["gone.test"].docs == "https://contoso.test/dns"
    chain = found["two.test"]
    assert chain.status.value == "fail"
    assert "(followed CNAMEs to end.privatelink.azurecr.io)" in chain.message
    assert "privatelink.azurecr.io is not linked" in chain.remediation
