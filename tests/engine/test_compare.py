"""Before and after (``--baseline``): preflight.compare on report dicts, then end to end: a real
pre-install run against the fake API server, a real ``--set phase=after`` run against the fake
ARM with the first as baseline, and the comparison in report.json, report.html (also in a real
headless Chromium), summary.md and ``preflight report --baseline``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.arm_server import FakeArm
from support.azure_objects import cluster_id, extension, managed_cluster
from support.chromium import dump_dom, html_page
from support.kube_objects import nodes

from preflight.compare import compare
from tests.clirun import preflight

SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-ml"
TOKEN = "tok-C0mpare-never-printed"


def finding(check: str, target: str | None, status: str, message: str = "m", **details: Any):
    return {
        "check": check,
        "title": check,
        "category": "extension",
        "status": status,
        "target": target,
        "message": message,
        "remediation": "r",
        "docs": None,
        "duration_s": 0.0,
        "details": details,
    }


def report(results: list[dict[str, Any]], phase: str = "before") -> dict[str, Any]:
    return {
        "schema": "preflight.report/v1",
        "run": {"id": f"run-{phase}", "started_at": "2026-11-21T10:00:00+00:00"},
        "phase": phase,
        "summary": {"verdict": "warn", "pass": 1, "warn": 1, "fail": 0, "skip": 0, "error": 0},
        "results": results,
    }


def rows_by_change(result: dict[str, Any]) -> dict[str, list[tuple[str, str | None]]]:
    out: dict[str, list[tuple[str, str | None]]] = {}
    for row in result["rows"]:
        out.setdefault(row["change"], []).append((row["check"], row["target"]))
    return out


def test_rows_say_what_changed_and_what_one_run_did_not_check() -> None:
    before = [
        finding("dns.resolve", "mcr.microsoft.com", "fail"),
        finding("dns.resolve", "login.microsoftonline.com", "pass"),
        finding("dns.resolve", "old.example", "warn"),
        finding("nodes.capacity", "aks-1", "pass"),
        finding("extension.conflicts", "prometheus", "warn"),
    ]
    after = [
        finding("dns.resolve", "mcr.microsoft.com", "pass"),
        finding("dns.resolve", "login.microsoftonline.com", "pass"),
        finding("dns.resolve", "new.example", "pass"),
        finding("nodes.capacity", "aks-1", "fail"),
        finding("extension.installed", "azureml", "pass"),
    ]
    result = compare(report(after, "after"), after, report(before))
    changes = rows_by_change(result)
    assert changes["better"] == [("dns.resolve", "mcr.microsoft.com")]
    assert changes["worse"] == [("nodes.capacity", "aks-1")]
    assert changes["new"] == [("dns.resolve", "new.example")]
    assert changes["gone"] == [("dns.resolve", "old.example")]
    assert changes["same"] == [("dns.resolve", "login.microsoftonline.com")]
    assert changes["only before"] == [("extension.conflicts", "prometheus")]
    assert changes["only after"] == [("extension.installed", "azureml")]
    assert result["rows"][0]["change"] == "worse"  # the reader's eye goes first where it hurts
    assert result["counts"] == {
        "worse": 1,
        "new": 1,
        "better": 1,
        "gone": 1,
        "only after": 1,
        "only before": 1,
        "same": 1,
    }
    assert result["baseline"]["run_id"] == "run-before"
    assert result["current"]["phase"] == "after"


def test_findings_sharing_a_target_are_paired_in_order() -> None:
    before = [finding("c", None, "warn", "a"), finding("c", None, "pass", "b")]
    after = [finding("c", None, "warn", "a"), finding("c", None, "fail", "b")]
    changes = rows_by_change(compare(report(after), after, report(before)))
    assert changes == {"same": [("c", None)], "worse": [("c", None)]}


def test_came_true_by_check_target_and_mentions() -> None:
    before = [
        finding("egress.https", "mcr.microsoft.com", "fail", "TLS handshake timed out"),
        finding("nodes.capacity", "cluster", "warn", "2 nodes", health_check="E40002 X"),
        finding("extension.tls", "sslSecret", "warn", "expires soon"),
        finding("dns.resolve", "mcr.microsoft.com", "pass", "resolves"),  # a pass foresees nothing
    ]
    after = [
        finding(
            "extension.components",
            "Deployment/gateway",
            "fail",
            "ImagePullBackOff",
            foreseen_by=[
                {"check": "egress.https", "target": "MCR.microsoft.com"},
                {"check": "dns.resolve", "target": "mcr.microsoft.com"},
            ],
        ),
        finding(
            "extension.healthcheck",
            "test/node",
            "fail",
            "E40002",
            foreseen_by=[{"mentions": "e40002"}],
        ),
        finding("extension.healthcheck", "test/x", "pass", "ok", foreseen_by=[{"mentions": "E4"}]),
        finding("extension.installed", "ml", "fail", "bad", foreseen_by=["junk", {}, {"x": 1}]),
    ]
    result = compare(report(after, "after"), after, report(before))
    came = {(c["check"], c["target"]): c["foreseen"] for c in result["came_true"]}
    assert set(came) == {
        ("extension.components", "Deployment/gateway"),
        ("extension.healthcheck", "test/node"),
    }
    assert [f["check"] for f in came[("extension.components", "Deployment/gateway")]] == [
        "egress.https"
    ]
    assert [f["check"] for f in came[("extension.healthcheck", "test/node")]] == ["nodes.capacity"]
    warned = {(w["check"], w["target"]): w for w in result["baseline_warnings"]}
    assert warned[("egress.https", "mcr.microsoft.com")]["came_true"] is True
    assert warned[("extension.tls", "sslSecret")]["came_true"] is False
    assert warned[("extension.tls", "sslSecret")]["still"] is None  # not checked after


def test_a_baseline_with_odd_results_still_compares() -> None:
    odd = report([{"check": "x", "status": "warn"}, "junk", {"status": "fail"}])  # type: ignore[list-item]
    result = compare(report([]), [], odd)
    assert result["counts"] == {"only before": 2}


# -- end to end ------------------------------------------------------------------------------


@pytest.fixture
def before_and_after(
    tmp_path: Path,
    kube_api: Callable[..., Any],
    fake_arm: Callable[..., FakeArm],
    azure_profile: Callable[..., Path],
    ca_bundle: Path,
    refused_port: int,
) -> tuple[Path, Path, Any]:
    """A pre-install run on a 2-node cluster (nodes.capacity warns: the router's HA needs 3,
    E40002), then the after run whose extension failed with E40002, against that baseline."""
    api = kube_api(nodes(2))
    kubeconfig = str(api.kubeconfig(tmp_path / "kubeconfig"))
    before = preflight(
        "run",
        "--check",
        "nodes.capacity",
        "--kubeconfig",
        kubeconfig,
        "--extension-config",
        "enableInference=True inferenceRouterServiceType=loadBalancer "
        "allowInsecureConnections=True",
        out=tmp_path / "before",
    )
    assert before.code == 1, before.stderr  # HA with 2 nodes: the install would fail
    assert "E40002" in json.dumps(before.findings("nodes.capacity"))
    aks_id = cluster_id("aks1", SUB, RG)
    error = {"code": "HealthCheckFailed", "message": "Error: E40002 INSUFFICIENT_NODE"}
    arm = fake_arm(
        [
            managed_cluster("aks1", SUB, RG),
            extension("azureml", aks_id, provisioning_state="Failed", error_detail=error),
        ],
        tokens={TOKEN},
    )
    profile = azure_profile(arm=arm.url, imds=f"http://127.0.0.1:{refused_port}")
    (tmp_path / "bin").mkdir()
    after = preflight(
        "run",
        "--set",
        "phase=after",
        "--profile",
        str(profile),
        "--ca-bundle",
        str(ca_bundle),
        "--check",
        "extension.installed",
        "--check",
        "nodes.capacity",
        "--kubeconfig",
        kubeconfig,
        "--set",
        f"subscription_id={SUB}",
        "--set",
        f"resource_group={RG}",
        "--set",
        "cluster_name=aks1",
        "--baseline",
        str(tmp_path / "before" / "report.json"),
        "--format",
        "json,html,md",
        env={"PATH": str(tmp_path / "bin"), "AZURE_ACCESS_TOKEN": TOKEN},
        out=tmp_path / "after",
    )
    return tmp_path / "before", tmp_path / "after", after


def test_after_run_with_baseline_names_the_warning_that_came_true(
    before_and_after: tuple[Path, Path, Any],
) -> None:
    _before, after_dir, after = before_and_after
    assert after.code == 1, after.stderr
    document = after.report()
    assert document["phase"] == "after"
    comparison = document["comparison"]
    assert comparison["baseline"]["phase"] == "before"
    (came,) = comparison["came_true"]
    assert came["check"] == "extension.installed" and came["status"] == "fail"
    assert [f["check"] for f in came["foreseen"]] == ["nodes.capacity"]
    assert any(w["came_true"] for w in comparison["baseline_warnings"])
    assert comparison["counts"].get("only after") == 1  # extension.installed: after only
    (ha,) = [
        r
        for r in comparison["rows"]
        if "inferenceRouterHA" in (r["before"] or {}).get("message", "")
        and r["before"]["status"] == "fail"
    ]
    assert ha["change"] == "better" and ha["after"]["status"] == "warn"  # paired by likeness

    html = (after_dir / "report.html").read_text()
    assert "Before and after" in html and "Baseline warnings that came true" in html
    assert "Not healthy" in html and "after the install (verifying it)" in html
    md = (after_dir / "summary.md").read_text()
    assert "### Before and after" in md and "came true: extension.installed" in md
    assert "came true: extension.installed" in after.stdout  # the terminal summary
    assert "Verdict: FAIL: the installation needs attention" in after.stdout
    assert md.startswith("## preflight: FAIL: the installation needs attention")
    assert TOKEN not in html + md + after.stdout


def test_report_command_compares_after_the_fact(
    tmp_path: Path, before_and_after: tuple[Path, Path, Any]
) -> None:
    before_dir, after_dir, _after = before_and_after
    saved = json.loads((after_dir / "report.json").read_text())
    del saved["comparison"]
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(saved))
    result = preflight(
        "report",
        str(plain),
        "--baseline",
        str(before_dir / "report.json"),
        "--format",
        "json,html",
        "--out",
        str(tmp_path / "rerendered"),
    )
    assert result.code == 0, result.stderr
    again = json.loads((tmp_path / "rerendered" / "report.json").read_text())
    assert [c["check"] for c in again["comparison"]["came_true"]] == ["extension.installed"]


def test_bad_baseline_is_one_line_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    result = preflight("report", str(junk), "--baseline", str(junk), "--out", str(tmp_path / "o"))
    assert result.code == 2 and result.stderr.count("\n") == 1


def test_comparison_section_in_a_real_browser_keeps_hostile_text_inert(tmp_path: Path) -> None:
    hostile = "<script>document.title='pwned'</script>"
    before = [finding("egress.https", "mcr.microsoft.com", "fail", hostile)]
    after = [
        finding(
            "extension.components",
            f"Deployment/{hostile}",
            "fail",
            "ImagePullBackOff <img src=x onerror=alert(1)>",
            foreseen_by=[{"check": "egress.https", "target": "mcr.microsoft.com"}],
        )
    ]
    document = report(after, "after")
    document.update(
        tool={"name": "preflight", "version": "0.1.0"},
        profile={"name": "azure-public", "cloud": "AzureCloud"},
        parameters={},
        target=None,
    )
    document["summary"] = {
        "verdict": "fail",
        "pass": 0,
        "warn": 0,
        "fail": 1,
        "skip": 0,
        "error": 0,
    }
    document["comparison"] = compare(document, after, report(before), "before/report.json")
    result = dump_dom(tmp_path, html_page(document, tmp_path))
    dom = result.stdout
    assert result.returncode == 0 and "<html" in dom, result.stderr[-2000:]
    section = re.search(r'<section class="compare".*?</section>', dom, flags=re.S)
    assert section is not None
    text = section.group(0)
    assert "Baseline warnings that came true" in text and "came true" in text
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in text
    assert "<script" not in dom and "<img" not in dom
    assert "pwned" not in (re.search(r"<title>(.*?)</title>", dom, flags=re.S) or [""])[0]
