"""Running the real ``preflight`` command in a subprocess, as a user or CI job would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: the proxy variables of this machine, never passed on: each test sets its own in ``env=``
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    out: Path | None = None

    def report(self) -> dict[str, Any]:
        assert self.out is not None
        return json.loads((self.out / "report.json").read_text())

    def findings(self, check: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.report()["results"] if check is None or r["check"] == check]

    def by_target(self, check: str, unique: bool = False) -> dict[str, dict[str, Any]]:
        """The findings of ``check`` by target (``unique``: fails if a target comes twice)."""
        found = self.findings(check)
        targets = [f["target"] for f in found]
        assert not unique or len(targets) == len(set(targets)), targets
        return {f["target"]: f for f in found}

    def statuses(self, check: str) -> dict[str, str]:
        """``{target: status}`` of ``check``'s findings, each target once."""
        return {t: f["status"] for t, f in self.by_target(check, unique=True).items()}

    def by_check(self) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for finding in self.findings():
            found.setdefault(finding["check"], []).append(finding)
        return found

    def finding(self, check: str, target: str | None) -> dict[str, Any]:
        """The finding of ``check`` on ``target`` (fails, listing the targets, if there is none)."""
        found = self.by_target(check)
        assert target in found, (target, sorted(found, key=str))
        return found[target]

    def only(self, check: str) -> dict[str, Any]:
        """The one finding of ``check`` (fails, listing them, if there are more or none)."""
        found = self.findings(check)
        assert len(found) == 1, [(f["target"], f["status"], f["message"]) for f in found]
        return found[0]


def environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its proxy variables and with no kubeconfig (a test
    names its own), then ``env``."""
    full_env = {k: v for k, v in os.environ.items() if k.upper() not in PROXY_VARIABLES}
    full_env.setdefault("KUBECONFIG", "/nonexistent/kubeconfig")
    full_env.update(env or {})
    return full_env


def preflight(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
    out: Path | None = None,
) -> Result:
    argv = [sys.executable, "-m", "preflight", *args]
    if out is not None and args and args[0] == "run":
        argv += ["--out", str(out)]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=environment(env),
        timeout=timeout,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, out)


def run_profile(
    folder: Path,
    profile: Path,
    *args: str,
    formats: str = "json",
    env: dict[str, str] | None = None,
    out: str = "out",
) -> Result:
    """``preflight run --profile PROFILE --format FORMATS ARGS``, the reports in folder/out."""
    return preflight(
        "run", "--profile", str(profile), "--format", formats, *args, env=env, out=folder / out
    )


def run_cluster(
    api: Any, folder: Path, *args: str, formats: str | None = None, **kwargs: Any
) -> Result:
    """``preflight run --kubeconfig KUBECONFIG [--format FORMATS] ARGS`` against the fake API
    server ``api`` (its kubeconfig written to folder/kubeconfig), the reports in folder/out."""
    kubeconfig = str(api.kubeconfig(folder / "kubeconfig"))
    selected = ["--format", formats] if formats else []
    return preflight(
        "run", "--kubeconfig", kubeconfig, *selected, *args, out=folder / "out", **kwargs
    )


def run_checks(
    api: Any,
    folder: Path,
    checks: str | tuple[str, ...],
    *args: str,
    config: str | None = None,
    formats: str | None = "json",
    **kwargs: Any,
) -> Result:
    """``run_cluster`` of ``--check`` each of ``checks`` [``--extension-config CONFIG``] ARGS
    (``--format json`` unless ``formats`` says otherwise; ``None``: the default formats)."""
    names = (checks,) if isinstance(checks, str) else checks
    selected = [arg for name in names for arg in ("--check", name)]
    extra = ["--extension-config", config] if config is not None else []
    return run_cluster(api, folder, *selected, *extra, *args, formats=formats, **kwargs)


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.stderr, result.stderr


def one_line_exit_2(result: Result, *expected: str) -> None:
    """A usage error: exit 2 and one line on stderr (containing each of ``expected``), no
    traceback (README, "CLI contract")."""
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("preflight: error: "), lines[0]
    for text in expected:
        assert text in lines[0], (text, lines[0])


def assert_actionable(result: Result, check: str | None = None, *, errors: bool = True) -> None:
    """Every non-pass finding (of ``check``) says what is wrong and what to do, a docs link is
    an https URL, and no finding is ``error`` unless ``errors`` allows it."""
    for finding in result.findings(check):
        assert errors or finding["status"] != "error", finding
        if finding["status"] != "pass":
            assert finding["message"] and finding["remediation"], finding
        if finding["docs"] is not None:
            assert finding["docs"].startswith("https://"), finding


def host_profile(
    folder: Path, hosts: list[dict[str, Any]], name: str = "loopback", **document: Any
) -> Path:
    """A user profile ``folder/NAME.yaml`` listing exactly these hosts (each needs host and
    port; a host's own keys win over the test defaults)."""
    entries = [
        {"purpose": f"test host {h['host']}", "needed_for": ["aks"], "source": "test", **h}
        for h in hosts
    ]
    path = folder / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump({"name": name, "cloud": "AzureCloud", **document, "hosts": entries})
    )
    return path


def no_azure_credentials(folder: Path) -> dict[str, str]:
    """An environment with no ``az`` on PATH (an empty folder) and no token in it."""
    empty = folder / "empty-bin"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty), "AZURE_ACCESS_TOKEN": ""}
