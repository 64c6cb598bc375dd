"""Third-party check plugins as a user installs them: a package and its ``*.dist-info`` with
entry points in the group ``preflight.checks``, under a folder put on ``PYTHONPATH`` (the real
CLI finds them through importlib.metadata like any installed distribution)."""

from __future__ import annotations

from pathlib import Path


def install_plugin(
    site: Path,
    package: str,
    source: str,
    entry_points: dict[str, str],
    modules: dict[str, str] | None = None,
) -> Path:
    """``site/package/__init__.py`` holding ``source``, top-level ``modules`` (name -> source)
    beside it, and the distribution's metadata declaring ``entry_points`` (name -> module).
    Returns ``site`` (for ``PYTHONPATH``)."""
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text(source)
    for name, text in (modules or {}).items():
        (site / f"{name}.py").write_text(text)
    info = site / f"{package}-1.0.dist-info"
    info.mkdir()
    name = package.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    points = "".join(f"{key} = {module}\n" for key, module in entry_points.items())
    (info / "entry_points.txt").write_text(f"[preflight.checks]\n{points}")
    return site
