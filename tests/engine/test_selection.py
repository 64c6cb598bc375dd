"""A gate that cannot be green by accident (issue 18, part 5): a selection of no check is a usage
error, and a run that concluded nothing (every finding skip) is a warn that says what to supply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clirun import host_profile, no_azure_credentials, one_line_exit_2, preflight


@pytest.mark.parametrize(
    "args",
    [
        ("--check", "dns.*", "--skip", "dns.*"),
        ("--skip", "*"),
        ("--check", "cluster.reachable", "--skip", "cluster.*"),
    ],
)
def test_selection_of_nothing_is_exit_2_naming_the_patterns(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    result = preflight("run", *args, out=tmp_path / "out")
    one_line_exit_2(result, "select no check", *(repr(a) for a in args[1::2]))
    assert not (tmp_path / "out" / "report.json").exists()


def test_unknown_pattern_says_did_you_mean(tmp_path: Path) -> None:
    result = preflight("run", "--check", "cluster.reachabel", out=tmp_path / "out")
    one_line_exit_2(result, "matches no check", "did you mean cluster.reachable?")


def test_all_skip_run_is_a_warning_saying_what_to_supply(tmp_path: Path) -> None:
    """No kubeconfig: every cluster check skips. The verdict is warn, not pass."""
    result = preflight(
        "run", "--check", "cluster.*", env=no_azure_credentials(tmp_path), out=tmp_path / "o"
    )
    assert result.code == 0, result.stdout + result.stderr
    report = result.report()
    assert report["summary"]["verdict"] == "warn"
    coverage = result.only("preflight.coverage")
    assert coverage["status"] == "warn"
    assert coverage["message"].startswith("nothing was checked")
    assert "--kubeconfig" in coverage["remediation"], coverage
    assert "nothing was checked" in result.stdout
    gated = preflight(
        "run",
        "--check",
        "cluster.*",
        "--fail-on",
        "warn",
        env=no_azure_credentials(tmp_path),
        out=tmp_path / "gated",
    )
    assert gated.code == 1, "with --fail-on warn an all-skip run breaks the gate"


def test_a_run_with_a_conclusion_gets_no_coverage_warning(tmp_path: Path, dns_server: Any) -> None:
    dns = dns_server(records={"ok.example.test": "127.0.0.1"})
    profile = host_profile(tmp_path, [{"host": "ok.example.test", "port": 443}])
    result = preflight(
        "run",
        "--profile",
        str(profile),
        "--nameserver",
        dns.address,
        "--check",
        "dns.resolve",
        out=tmp_path / "o",
    )
    assert result.code == 0, result.stdout + result.stderr
    assert result.report()["summary"]["verdict"] == "pass"
    assert not result.findings("preflight.coverage")
