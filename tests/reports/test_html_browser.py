"""The HTML report opened in a real headless Chromium: no injected script runs, and it renders.

Skipped only when Chromium is not installed (Debian package ``chromium``).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from preflight import reports

CHROMIUM_TIMEOUT_S = 60
SCRIPT = "<script>document.title='pwned'</script>"
IMG = "<img src=x onerror=alert(1)>"


def _samples() -> ModuleType:
    """The sample reports of test_renderers.py, loaded by path (tests/ is not a package)."""
    path = Path(__file__).with_name("test_renderers.py")
    spec = importlib.util.spec_from_file_location("_preflight_report_samples", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (apt-get install chromium)")


def _run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One bounded headless Chromium run with a throw-away profile and no network chatter."""
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    command = [
        _chromium(),
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
    return subprocess.run(
        command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S, check=False
    )


def _write(report: dict[str, Any], tmp_path: Path) -> Path:
    (path,) = reports.write_reports(report, tmp_path / "out", ["html"])
    return path


def test_hostile_data_stays_text_in_a_real_browser(tmp_path: Path) -> None:
    page = _write(_samples().hostile_report(), tmp_path)
    result = _run_chromium(
        tmp_path, "--virtual-time-budget=2000", "--dump-dom", page.resolve().as_uri()
    )
    dom = result.stdout
    assert result.returncode == 0 and "<html" in dom, result.stderr[-2000:]

    title = re.search(r"<title>(.*?)</title>", dom, flags=re.S)
    assert title and title.group(1) == "preflight: Not ready · azure-china · aks-prod-cn"
    assert "pwned" not in title.group(1)

    # The injections are in the page as visible text, never as elements.
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;.azurecr.cn" in dom
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom
    assert "<script" not in dom and "<img" not in dom
    assert 'href="javascript' not in dom
    assert "javascript:alert(1)" in dom  # the hostile docs URL, shown as text


def test_screenshot_and_print(tmp_path: Path) -> None:
    page = _write(_samples().sample_report(), tmp_path)
    shot = tmp_path / "report.png"
    result = _run_chromium(
        tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.resolve().as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2000)

    pdf = tmp_path / "report.pdf"
    result = _run_chromium(
        tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.resolve().as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert pdf.read_bytes()[:5] == b"%PDF-"
