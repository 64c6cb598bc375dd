"""The import rules of docs/ARCHITECTURE.md hold, and breaking one fails the build.

scripts/lint_imports.py runs import-linter on the package as it installs; these tests run it on
this tree (it must pass) and on copies with one forbidden import added (each must fail, naming
the contract), so a contract that could never fail would show here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import lint_imports  # noqa: E402

LINTER = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(not LINTER.exists(), reason="import-linter is not installed")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINTER), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    lint_imports.assemble(tmp_path)
    result = lint(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # the engine reaching into a check
        ("preflight/runner.py", "import preflight.checks.connectivity.dns", "layers"),
        # a lower layer importing a higher one (the model knowing the session)
        ("preflight/model.py", "import preflight.session", "layers"),
        # a check going around preflight.api
        ("preflight/checks/gpu/health.py", "import preflight.context", "through preflight.api"),
        # one family importing another
        (
            "preflight/checks/gpu/health.py",
            "import preflight.checks.extension.config",
            "each other",
        ),
        # shared code importing a family
        ("preflight/checks/_shared/pods.py", "import preflight.checks.smoke", "imports no family"),
        # a renderer called from below the command layer
        ("preflight/runner.py", "import preflight.reports.html", "command layer"),
    ],
)
def test_a_forbidden_import_breaks_the_build(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    lint_imports.assemble(tmp_path)
    path = tmp_path / module
    path.write_text(path.read_text() + f"\n{line}  # added by the test\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    broken = result.stdout[result.stdout.index("Broken contracts") :]
    assert contract in broken, broken[:2000]
