"""Waivers (docs/DESIGN.md, "Waivers"): ``--ignore CHECK[:TARGET-GLOB]`` and the config file's
``ignore:`` list accept a known finding without switching its check off. The findings come from a
real run: ``dns.resolve`` against a real DNS server that answers NXDOMAIN for two hosts."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from clirun import Result, host_profile, one_line_exit_2, preflight

HOSTS = ["alpha.example.test", "beta.example.test"]


@pytest.fixture
def nxdomain_run(tmp_path: Path, dns_server: Any) -> Any:
    """A ``preflight run --check dns.resolve`` in which both profile hosts fail (NXDOMAIN)."""
    dns = dns_server(nxdomain=HOSTS)
    profile = host_profile(tmp_path, [{"host": h, "port": 443} for h in HOSTS])

    def run(*args: str, out: str = "out") -> Result:
        return preflight(
            "run",
            "--profile",
            str(profile),
            "--nameserver",
            dns.address,
            "--check",
            "dns.resolve",
            "--format",
            "json,md,junit,html",
            *args,
            out=tmp_path / out,
        )

    return run


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "preflight.yaml"
    path.write_text(text)
    return str(path)


def test_without_waivers_both_hosts_fail(nxdomain_run: Any) -> None:
    result = nxdomain_run()
    assert result.code == 1, result.stdout + result.stderr
    summary = result.report()["summary"]
    assert (summary["fail"], summary["ignored"], summary["verdict"]) == (2, 0, "fail")
    assert all("ignored" not in f for f in result.findings())


def test_ignore_one_target_keeps_the_other_in_the_verdict(nxdomain_run: Any) -> None:
    result = nxdomain_run("--ignore", "dns.resolve:ALPHA.*")  # the target glob ignores case
    assert result.code == 1, result.stdout + result.stderr
    alpha, beta = (result.by_target("dns.resolve")[h] for h in HOSTS)
    assert alpha["status"] == "fail", "an ignored finding keeps its status"
    assert alpha["ignored"] == {"reason": "", "expires": None, "source": "--ignore"}
    assert beta["status"] == "fail" and "ignored" not in beta
    summary = result.report()["summary"]
    assert (summary["fail"], summary["ignored"], summary["verdict"]) == (1, 1, "fail")


def test_ignoring_every_failure_holds_the_gate(nxdomain_run: Any) -> None:
    result = nxdomain_run("--ignore", "dns.*")
    assert result.code == 0, result.stdout + result.stderr
    summary = result.report()["summary"]
    assert (summary["fail"], summary["ignored"], summary["verdict"]) == (0, 2, "pass")
    assert not result.findings("preflight.coverage"), "accepted findings are not 'nothing'"


def test_config_waivers_show_as_accepted_with_reason_in_every_output(
    tmp_path: Path, nxdomain_run: Any
) -> None:
    path = config(
        tmp_path,
        "ignore:\n"
        "  - check: dns.resolve\n"
        "    target: 'alpha.*'\n"
        "    reason: resolved by the branch DNS only (CHG-1234)\n"
        "    expires: 2999-12-31\n",
    )
    result = nxdomain_run("--config", path)
    assert result.code == 1
    alpha = result.by_target("dns.resolve")[HOSTS[0]]
    assert alpha["ignored"] == {
        "reason": "resolved by the branch DNS only (CHG-1234)",
        "expires": "2999-12-31",
        "source": f"config {path}",
    }
    # terminal
    assert "FAIL (accepted)" in result.stdout
    assert "CHG-1234" in "".join(result.stdout.split())  # the table may fold the reason
    assert "1 accepted by waivers" in " ".join(result.stdout.split())
    out = result.out
    assert out is not None
    # Markdown
    markdown = (out / "summary.md").read_text()
    accepted = markdown.split("### Accepted findings (waivers)")[1]
    assert "alpha.example.test" in accepted and "CHG-1234" in accepted
    attention = markdown.split("### Findings that need attention")[1].split("### Accepted")[0]
    assert "beta.example.test" in attention and "alpha.example.test" not in attention
    # JUnit: the accepted failure is a skipped test case with the reason, not a failure
    root = ET.parse(out / "junit.xml").getroot()
    assert root.get("failures") == "1"
    cases = {c.get("name"): c for c in root.iter("testcase")}
    skipped = cases[HOSTS[0]].find("skipped")
    assert skipped is not None and "CHG-1234" in (skipped.get("message") or "")
    assert cases[HOSTS[0]].find("failure") is None
    assert cases[HOSTS[1]].find("failure") is not None
    # HTML
    html = (out / "report.html").read_text()
    assert "FAIL · ACCEPTED" in html and "CHG-1234" in html


def test_expired_waiver_stops_applying_and_warns(tmp_path: Path, nxdomain_run: Any) -> None:
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    path = config(
        tmp_path,
        "ignore:\n"
        f"  - {{check: dns.resolve, target: 'alpha.*', reason: old, expires: '{yesterday}'}}\n"
        f"  - {{check: dns.resolve, target: 'beta.*', reason: today, expires: {today}}}\n",
    )
    result = nxdomain_run("--config", path)
    alpha, beta = (result.by_target("dns.resolve")[h] for h in HOSTS)
    assert "ignored" not in alpha, "expired yesterday: no longer applies"
    assert beta["ignored"]["expires"] == today, "applies through its expiry day"
    notes = result.findings("preflight.waivers")
    assert [(n["status"], n["target"]) for n in notes] == [("warn", "dns.resolve:alpha.*")]
    assert yesterday in notes[0]["message"] and notes[0]["remediation"]


def test_stale_waiver_is_a_warning_naming_it(nxdomain_run: Any) -> None:
    result = nxdomain_run("--ignore", "dns.resolve:gamma.example.test")
    notes = result.findings("preflight.waivers")
    assert len(notes) == 1 and notes[0]["status"] == "warn"
    assert notes[0]["target"] == "dns.resolve:gamma.example.test"
    assert "matches no warn, fail or error finding" in notes[0]["message"]
    assert result.report()["summary"]["warn"] == 1


def test_waiver_for_a_check_that_did_not_run_is_neither_used_nor_stale(
    nxdomain_run: Any,
) -> None:
    """A shared config file's waivers for other checks stay quiet in a narrower run."""
    result = nxdomain_run("--ignore", "egress.https")
    assert not result.findings("preflight.waivers")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--ignore", ""), "empty waiver"),
        (("--ignore", ":::"), "no check before ':'"),
        (("--ignore", "dns.resolve:"), "nothing after ':'"),
        (("--ignore", "dns.reslove"), "did you mean dns.resolve?"),
        (("--ignore", "dns resolve"), "not a check id or glob"),
    ],
)
def test_malformed_flag_is_exit_2(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    result = preflight("run", "--check", "dns.resolve", *args, out=tmp_path / "out")
    one_line_exit_2(result, "--ignore", expected)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("{check: dns.resolve, expires: 31/12/2027}", "expected a date as YYYY-MM-DD"),
        ("{check: dns.resolve, expires: '2027-02-30'}", "expected a date as YYYY-MM-DD"),
        ("{check: dns.resolve, reasn: typo}", "did you mean reason?"),
        ("{target: 'x.*'}", "'check' is required"),
        ("[1, 2]", "expected a mapping"),
    ],
)
def test_malformed_config_waiver_is_exit_2_with_file_and_line(
    tmp_path: Path, entry: str, expected: str
) -> None:
    path = config(tmp_path, f"timeout: 5\nignore:\n  - {entry}\n")
    result = preflight("run", "--config", path, "--check", "dns.resolve", out=tmp_path / "o")
    one_line_exit_2(result, f"{path}:3", "ignore[0]", expected)


def test_environment_default_is_validated_like_the_flag(tmp_path: Path) -> None:
    result = preflight(
        "run", "--check", "dns.resolve", env={"PREFLIGHT_IGNORE": ":x"}, out=tmp_path / "o"
    )
    one_line_exit_2(result, "PREFLIGHT_IGNORE", "no check before ':'")


def test_re_rendered_report_keeps_the_acceptance(tmp_path: Path, nxdomain_run: Any) -> None:
    result = nxdomain_run("--ignore", "dns.resolve:alpha.*")
    assert result.out is not None
    again = preflight(
        "report", str(result.out / "report.json"), "--format", "md", "--out", str(tmp_path / "r")
    )
    assert again.code == 0, again.stderr
    assert "### Accepted findings (waivers)" in (tmp_path / "r" / "summary.md").read_text()
    document = json.loads((result.out / "report.json").read_text())
    assert document["summary"]["ignored"] == 1
