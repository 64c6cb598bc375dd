"""The HTML report opened in a real headless Chromium: no injected script runs, and it renders.

Skipped only when Chromium is not installed (Debian package ``chromium``).
"""

from __future__ import annotations

import re
from pathlib import Path

from support.chromium import dump_dom, html_page, run_chromium
from support.sample_reports import hostile_report, sample_report


def test_hostile_data_stays_text_in_a_real_browser(tmp_path: Path) -> None:
    page = html_page(hostile_report(), tmp_path)
    result = dump_dom(tmp_path, page)
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
    page = html_page(sample_report(), tmp_path)
    shot = tmp_path / "report.png"
    result = run_chromium(
        tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.resolve().as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2000)

    pdf = tmp_path / "report.pdf"
    result = run_chromium(
        tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.resolve().as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert pdf.read_bytes()[:5] == b"%PDF-"
