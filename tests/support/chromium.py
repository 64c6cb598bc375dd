"""A real headless Chromium for the HTML reports: one bounded run with a throw-away profile and
no network chatter. A test that needs it is skipped only when Chromium is not installed (Debian
package ``chromium``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from preflight import reports

TIMEOUT_S = 60


def chromium() -> str:
    """The browser's executable, or skip the test."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (apt-get install chromium)")


def run_chromium(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``chromium --headless ARGS`` with its profile in ``folder``, bounded by TIMEOUT_S."""
    profile = folder / "chromium-profile"
    profile.mkdir(exist_ok=True)
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def dump_dom(folder: Path, page: Path) -> subprocess.CompletedProcess[str]:
    """The DOM of ``page`` after its scripts had 2 s of virtual time (``.stdout``)."""
    return run_chromium(folder, "--virtual-time-budget=2000", "--dump-dom", page.resolve().as_uri())


def html_page(report: dict[str, Any], folder: Path) -> Path:
    """``report`` rendered as folder/out/report.html by the real renderer."""
    (path,) = reports.write_reports(report, folder / "out", ["html"])
    return path
