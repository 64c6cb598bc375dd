"""``--set phase=before|after``: which checks and summaries a run has, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.clirun import preflight

AFTER_ONLY = {"extension.installed", "extension.components", "extension.healthcheck"}


def test_checks_json_lists_each_checks_phases() -> None:
    result = preflight("checks", "--json")
    assert result.code == 0, result.stderr
    phases = {c["id"]: c["phases"] for c in json.loads(result.stdout)}
    for check in AFTER_ONLY:
        assert phases[check] == ["after"]
    assert phases["extension.conflicts"] == ["before"]
    assert phases["dns.resolve"] == ["before", "after"]
    text = preflight("checks").stdout
    assert "[phase after only]" in text and "[phase before only]" in text


def checks_run(tmp_path: Path, kube_api: Any, *args: str) -> tuple[set[str], dict[str, Any]]:
    api = kube_api()
    result = preflight(
        "run",
        "--check",
        "extension.*",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kc")),
        "--extension-config",
        "enableInference=True inferenceRouterServiceType=nodePort allowInsecureConnections=True",
        "--format",
        "json",
        *args,
        out=tmp_path / "out",
    )
    assert result.code in (0, 1), result.stderr
    return {f["check"] for f in result.findings()}, result.report()


def test_before_is_the_default_and_leaves_the_after_checks_out(
    tmp_path: Path, kube_api: Any
) -> None:
    ran, report = checks_run(tmp_path, kube_api)
    assert report["phase"] == "before"
    assert "extension.conflicts" in ran and not ran & AFTER_ONLY
    assert "recommendation" in report  # the create command, before the install


def test_after_runs_the_install_checks_and_drops_what_only_an_install_changes(
    tmp_path: Path, kube_api: Any
) -> None:
    ran, report = checks_run(tmp_path, kube_api, "--set", "phase=after")
    assert report["phase"] == "after"
    assert ran >= AFTER_ONLY
    assert "extension.conflicts" not in ran and "extension.config" in ran
    assert "recommendation" not in report


def test_naming_a_check_of_the_other_phase_is_exit_2(tmp_path: Path) -> None:
    result = preflight(
        "run", "--check", "extension.conflicts", "--set", "phase=after", out=tmp_path / "o"
    )
    assert result.code == 2
    assert result.stderr.strip() == (
        "preflight: error: check pattern 'extension.conflicts' matches only checks of phase "
        "before: add --set phase=before"
    )


def test_an_unknown_phase_is_exit_2(tmp_path: Path) -> None:
    result = preflight("run", "--set", "phase=during", out=tmp_path / "o")
    assert result.code == 2 and result.stderr.count("\n") == 1
    assert "--set phase=during: expected before" in result.stderr
