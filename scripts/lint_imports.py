"""Run import-linter on preflight as it installs.

``checks/`` and ``reports/`` live beside ``preflight/`` in the repository but install as
``preflight.checks`` and ``preflight.reports`` (pyproject.toml, package-dir). import-linter builds
its graph from one package directory, so this copies the Python files into that installed shape
in a temporary folder and runs ``lint-imports`` there with the contracts of pyproject.toml
(``[tool.importlinter]``). Exit code: lint-imports' own (non-zero when a contract is broken).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: repository folder -> where it lands inside the package (as package-dir says)
LAYOUT = {"preflight": "preflight", "checks": "preflight/checks", "reports": "preflight/reports"}


def assemble(into: Path) -> None:
    for source, target in LAYOUT.items():
        for path in (ROOT / source).rglob("*.py"):
            dest = into / target / path.relative_to(ROOT / source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)


def main() -> int:
    linter = Path(sys.executable).with_name("lint-imports")
    with tempfile.TemporaryDirectory(prefix="preflight-imports-") as tmp:
        assemble(Path(tmp))
        env = {**os.environ, "PYTHONPATH": tmp}
        command = [str(linter), "--no-cache", str(ROOT / "pyproject.toml"), *sys.argv[1:]]
        return subprocess.run(command, cwd=tmp, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
