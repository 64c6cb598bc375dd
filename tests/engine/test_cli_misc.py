"""The other commands and contracts: report re-rendering, profiles, progress only on a TTY,
and the installed layout (no top-level ``checks``/``reports`` modules in site-packages)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support.paths import ROOT

from tests.clirun import preflight


def test_report_rerenders_a_saved_run(tmp_path: Path, dns_server) -> None:  # type: ignore[no-untyped-def]
    dns = dns_server(records={"mcr.microsoft.com": "127.0.0.1"})
    first = preflight(
        "run",
        "--profile",
        "azure-china",
        "--check",
        "dns.resolve",
        "--nameserver",
        dns.address,
        "--set",
        "region=chinaeast2",
        "--format",
        "json",
        out=tmp_path / "run",
    )
    assert first.code == 1
    assert not (tmp_path / "run" / "report.html").exists()
    again = preflight(
        "report",
        str(tmp_path / "run" / "report.json"),
        "--format",
        "html,junit,md",
        "--out",
        str(tmp_path / "again"),
    )
    assert again.code == 0, again.stderr
    html = (tmp_path / "again" / "report.html").read_text()
    assert "mcr.microsoft.com" in html and "azure-china" in html
    assert (tmp_path / "again" / "junit.xml").exists() and (
        tmp_path / "again" / "summary.md"
    ).exists()
    # the saved document is the contract: schema, summary, results
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["schema"] == "preflight.report/v1"
    assert set(report) >= {"tool", "run", "profile", "parameters", "target", "summary", "results"}
    assert report["target"] is None
    assert report["summary"]["verdict"] == "fail"
    assert set(report["results"][0]) == {
        "check",
        "title",
        "category",
        "status",
        "target",
        "message",
        "remediation",
        "docs",
        "duration_s",
        "details",
    }


def test_profiles_lists_and_resolves() -> None:
    listing = preflight("profiles")
    assert listing.code == 0
    assert {"azure-public", "azure-china", "azure-usgov"} <= {
        line.split()[0] for line in listing.stdout.splitlines()
    }
    shown = preflight("profiles", "azure-usgov", "--set", "region=usgovvirginia", "--set", "acr=x")
    assert shown.code == 0
    assert "x.azurecr.us:443" in shown.stdout
    assert "management.usgovcloudapi.net" in shown.stdout
    assert "(set storage_account)" in shown.stdout


def test_progress_goes_to_stderr_only_on_a_tty(tmp_path: Path, dns_server) -> None:  # type: ignore[no-untyped-def]
    dns = dns_server(records={})
    args = [
        sys.executable,
        "-m",
        "preflight",
        "run",
        "--profile",
        "azure-public",
        "--check",
        "dns.resolve",
        "--nameserver",
        dns.address,
        "--format",
        "json",
        "--out",
        str(tmp_path / "o"),
    ]
    env = {**os.environ, "KUBECONFIG": "/nonexistent"}
    piped = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert piped.stderr == ""
    assert "Verdict:" in piped.stdout
    leader, follower = pty.openpty()
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=follower, env=env) as proc:
        os.close(follower)
        stdout, _ = proc.communicate(timeout=60)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    tty_err = b"".join(chunks).decode(errors="replace")
    assert "running 1 check" in tty_err and "dns.resolve:" in tty_err
    assert b"running 1 check" not in stdout


@pytest.mark.slow
def test_wheel_installs_namespaced(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {built.stderr.strip()[-200:]}")
    wheel = next(tmp_path.glob("preflight-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert "checks" not in top and "reports" not in top and "profiles" not in top
    # every family package ships (the packages list in pyproject.toml names each one)
    for family in ("_shared", "azure", "cluster", "connectivity", "extension", "gpu", "smoke"):
        assert f"preflight/checks/{family}/__init__.py" in names, family
    assert "preflight/checks/connectivity/dns.py" in names
    assert "preflight/reports/templates/report.html.j2" in names
    assert {
        "preflight/profiles/azure-public.yaml",
        "preflight/profiles/azure-china.yaml",
        "preflight/profiles/azure-usgov.yaml",
    } <= set(names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[preflight.checks]" in text and "connectivity = preflight.checks.connectivity" in text
