"""Report renderers: a finished run (the ``preflight.report/v1`` dict) into files people read.

Renderers never run checks; ``preflight report RUN.json`` re-renders a saved run with the same code.
Each format lives in its own module and is imported only when asked for, so ``preflight --help``
does not pay for jinja2 or rich.
"""

from __future__ import annotations

import importlib
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

FORMATS: tuple[str, ...] = ("html", "json", "junit", "md")
FILENAMES: dict[str, str] = {
    "html": "report.html",
    "json": "report.json",
    "junit": "junit.xml",
    "md": "summary.md",
}
_MODULES = {"html": "html", "json": "json_report", "junit": "junit", "md": "markdown"}

__all__ = ["FILENAMES", "FORMATS", "render", "write_reports"]


def render(
    report: Mapping[str, Any],
    fmt: str,
    categories: Mapping[str, tuple[int, str]] | None = None,
) -> str:
    """The text of one report format (see FORMATS) for a finished run. ``categories`` (id ->
    (order, title), from the installed checks) orders and names the HTML sections."""
    if fmt not in _MODULES:
        raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    module = importlib.import_module(f"{__name__}.{_MODULES[fmt]}")
    text: str = module.render(report, categories) if fmt == "html" else module.render(report)
    return text


def write_reports(
    report: Mapping[str, Any],
    out_dir: pathlib.Path,
    formats: Sequence[str],
    categories: Mapping[str, tuple[int, str]] | None = None,
) -> list[pathlib.Path]:
    """Write the selected formats into ``out_dir`` (created if needed); return the paths written.

    Every format is rendered before any file is touched, and each file is replaced atomically, so
    a failure never leaves a half-written report or a mix of old and new files from one call.
    """
    wanted = list(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    for fmt in wanted:
        if fmt not in FORMATS:
            raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    rendered = [(FILENAMES[fmt], render(report, fmt, categories)) for fmt in wanted]
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered:
        path = out_dir / name
        _atomic_write(path, text.encode("utf-8"))
        written.append(path)
    return written


def _atomic_write(path: pathlib.Path, data: bytes) -> None:
    """Write via a temporary file in the same directory and os.replace, so readers (a CI upload
    step, a browser reloading the page) never see a partial file. The file gets the usual
    permissions (0666 minus umask), not the private mode of tempfile."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
