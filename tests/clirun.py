"""Running the real ``preflight`` command in a subprocess, as a user or CI job would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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

    def by_target(self, check: str) -> dict[str, dict[str, Any]]:
        return {r["target"]: r for r in self.findings(check)}


def preflight(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
    out: Path | None = None,
) -> Result:
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
    }
    full_env.setdefault("KUBECONFIG", "/nonexistent/kubeconfig")
    full_env.update(env or {})
    argv = [sys.executable, "-m", "preflight", *args]
    if out is not None and args and args[0] == "run":
        argv += ["--out", str(out)]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, out)
