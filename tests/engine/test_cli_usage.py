"""Bad input gets one clear line and exit code 2, never a traceback (DESIGN.md, CLI contract)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clirun import one_line_exit_2, preflight


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "profile": tmp_path / "bad-profile.yaml",
        "kubeconfig": tmp_path / "kubeconfig",
        "file": tmp_path / "plain-file",
        "config": tmp_path / "preflight.yaml",
        "ca": tmp_path / "not-a-ca.pem",
    }
    files["profile"].write_text("name: x\ncloud: c\nhosts:\n  - host: a\n    port: 'x\n")
    files["kubeconfig"].write_text("apiVersion: v1\nclusters: [\n  {name: a\n")
    files["file"].write_text("")
    files["config"].write_text("profile: azure-china\ntimeuot: 3\n")
    files["ca"].write_text("this is not PEM\n")
    return files


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--profile", "azure-chna"], ["unknown profile 'azure-chna'", "did you mean azure-china"]),
        (["--set", "regoin=eastus"], ["--set regoin", "did you mean region", "known: "]),
        (["--set", "region"], ["expected KEY=VALUE"]),
        (["--nameserver", "dns.corp"], ["--nameserver 'dns.corp'", "IP address"]),
        (["--nameserver", "10.0.0.4:99999"], ["port must be"]),
        (["--ca-bundle", "/nonexistent/ca.pem"], ["--ca-bundle '/nonexistent/ca.pem'", "no such"]),
        (["--timeout", "soon"], ["--timeout 'soon'"]),
        (["--timeout", "-1"], ["--timeout '-1'", "expected a positive number of seconds"]),
        (["--deadline", "0"], ["--deadline"]),
        (["--format", "html,pdf"], ["--format 'html,pdf'", "html, json, junit, md"]),
        (["--fail-on", "pass"], ["--fail-on 'pass'", "expected one of fail, warn"]),
        (["--extension-config", "enableInference"], ["has no '='"]),
        (["--extension-config", "=True"], ["empty key"]),
        (["--extension-config", "a=1 A=2"], ["given twice with different values"]),
        (["--check", "nosuch.*"], ["matches no check"]),
        (["--proxy", "ftp://p:1080"], ["--proxy", "unsupported proxy scheme 'ftp://'"]),
        (["--context", "missing"], ["--context missing"]),
        (["--bogus"], ["No such option '--bogus'"]),
    ],
)
def test_bad_flags(tmp_path: Path, args: list[str], expected: list[str]) -> None:
    one_line_exit_2(preflight("run", *args, out=tmp_path / "out"), *expected)
    assert not (tmp_path / "out" / "report.json").exists()


def test_bad_files(tmp_path: Path, bad_files: dict[str, Path]) -> None:
    profile = str(bad_files["profile"])
    one_line_exit_2(
        preflight("run", "--profile", profile, out=tmp_path / "o"), f"{profile}:5", "malformed YAML"
    )
    one_line_exit_2(
        preflight("run", "--kubeconfig", str(bad_files["kubeconfig"]), out=tmp_path / "o"),
        "not valid YAML",
    )
    one_line_exit_2(
        preflight("run", "--kubeconfig", "/nonexistent/kc", out=tmp_path / "o"), "no such file"
    )
    one_line_exit_2(preflight("run", "--out", str(bad_files["file"] / "sub")), "not writable")
    one_line_exit_2(
        preflight("run", "--config", str(bad_files["config"]), out=tmp_path / "o"),
        "unknown option 'timeuot'",
        "did you mean timeout",
    )
    one_line_exit_2(
        preflight("run", "--ca-bundle", str(bad_files["ca"]), out=tmp_path / "o"),
        "cannot load PEM certificates",
    )
    one_line_exit_2(preflight("report", str(bad_files["file"]), "--out", str(tmp_path / "r")))
    one_line_exit_2(preflight("profiles", "azure-china", "--set", "nope=1"), "unknown parameter")
    one_line_exit_2(preflight("profiles", "nope"), "unknown profile")


def test_config_file_supplies_options_and_flags_win(tmp_path: Path) -> None:
    config = tmp_path / "preflight.yaml"
    config.write_text(
        "profile: azure-china\nset: {region: chinaeast2, acr: fromfile}\n"
        "check: ['nosuch.*']\nformat: [json]\n"
    )
    # the file's check glob is wrong, and the flag replaces it
    bad = preflight("run", "--config", str(config), out=tmp_path / "o")
    one_line_exit_2(bad, "nosuch.*")
    plugin_free = preflight(
        "run",
        "--config",
        str(config),
        "--check",
        "dns.resolve",
        "--nameserver",
        "127.0.0.1:9",
        "--timeout",
        "0.5",
        out=tmp_path / "o",
    )
    assert plugin_free.code == 1
    report = plugin_free.report()
    assert report["profile"]["name"] == "azure-china"
    assert report["parameters"]["acr"] == "fromfile"
    assert not (tmp_path / "o" / "report.html").exists(), "format came from the file"


def test_help_teaches(tmp_path: Path) -> None:
    result = preflight("run", "--help")
    assert result.code == 0
    for text in ("--profile", "--nameserver", "--ca-bundle", "Examples:", "Exit codes:"):
        assert text in result.stdout
    assert preflight("--version").stdout.strip().endswith("0.1.0")
