"""Drive cosmic-ray over the verdict-deciding modules, sampled, and summarise kill rates.

Called by ``scripts/mutation`` (which prepares the scratch tree and its environment). For each
module: ``cosmic-ray init`` (every logic mutant of the module), keep a seeded random sample of
the work items, ``cosmic-ray exec`` (apply one mutant to the file on disk, run the module's
tests, restore), then count killed / survived / incompetent. The modules and the tests that
guard each are listed in scripts/mutation.toml.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=60, help="mutants per module; 0: all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("modules", nargs="*", help="paths as in scripts/mutation.toml")
    args = parser.parse_args()

    table = tomllib.loads((HERE / "mutation.toml").read_text())["module"]
    chosen = args.modules or list(table)
    unknown = [m for m in chosen if m not in table]
    if unknown:
        print(f"mutation: not in scripts/mutation.toml: {', '.join(unknown)}", file=sys.stderr)
        return 2
    venv = Path(sys.executable).parent
    results = {}
    for module in chosen:
        results[module] = run_module(module, table[module], args, venv)
    print(
        "\n| module | logic mutants run | killed | survived | syntax errors | kill rate |"
        "\n|---|---|---|---|---|---|"
    )
    for module, r in results.items():
        rate = r["killed"] / max(1, r["killed"] + r["survived"])
        print(
            f"| `{module}` | {r['run']} of {r['total']} | {r['killed']} | {r['survived']} "
            f"| {r['incompetent']} | {rate:.0%} |"
        )
    print("\n(survivors with their diffs: .mutation/survivors-<module>.txt)")
    (args.work / "summary.json").write_text(json.dumps(results, indent=2))
    return 0


def run_module(module: str, spec: dict, args: argparse.Namespace, venv: Path) -> dict:
    tests = " ".join(spec["tests"])
    slug = module.replace("/", "_").removesuffix(".py")
    config = args.work / f"{slug}.toml"
    session = args.work / f"{slug}.sqlite"
    session.unlink(missing_ok=True)
    pytest = f"{venv / 'python'} -m pytest -x -q -p no:cacheprovider -p no:randomly {tests}"
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        f"timeout = {float(spec.get('timeout', 300))}\n"
        "excluded-modules = []\n"
        f'test-command = "{pytest}"\n'
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )
    cosmic = str(venv / "cosmic-ray")
    # the unmutated tree must pass its tests, or every mutant would look killed
    baseline = subprocess.run(pytest.split(), cwd=args.tree, capture_output=True, text=True)
    if baseline.returncode != 0:
        tail = "\n".join((baseline.stdout + baseline.stderr).splitlines()[-15:])
        raise SystemExit(f"mutation: the tests of {module} fail without any mutant:\n{tail}")
    subprocess.run([cosmic, "init", str(config), str(session)], cwd=args.tree, check=True)
    inert = drop_annotation_mutants(session, (args.tree / module).read_text())
    total, kept = sample(session, args.sample, args.seed)
    print(f"mutation: {module}: {kept} of {total} mutants, tests: {tests}", flush=True)
    subprocess.run([cosmic, "exec", str(config), str(session)], cwd=args.tree, check=True)
    counts = outcomes(session)
    report = subprocess.run(
        [str(venv / "cr-report"), str(session), "--show-output"],
        cwd=args.tree,
        capture_output=True,
        text=True,
        check=False,
    )
    (args.work / f"report-{slug}.txt").write_text(report.stdout)
    (args.work / f"survivors-{slug}.txt").write_text(survivors(session))
    return {"total": total, "run": kept, "annotation_mutants_dropped": inert, **counts}


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the module's type annotations are: under ``from __future__ import annotations``
    they are never evaluated, so a mutant there (``str | None`` -> ``str - None``) changes no
    behaviour and is not a logic mutant."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        for expr in found:
            if expr is not None and expr.end_lineno is not None and expr.end_col_offset is not None:
                spans.append(
                    ((expr.lineno, expr.col_offset), (expr.end_lineno, expr.end_col_offset))
                )
    return spans


def drop_annotation_mutants(session: Path, source: str) -> int:
    """Remove the work items that mutate a type annotation; how many."""
    spans = annotation_spans(source)
    with sqlite3.connect(session) as db:
        rows = db.execute(
            "SELECT job_id, start_pos_row, start_pos_col FROM mutation_specs"
        ).fetchall()
        drop = [
            (job,)
            for job, row, col in rows
            if any(start <= (row, col) < end for start, end in spans)
        ]
        db.executemany("DELETE FROM mutation_specs WHERE job_id = ?", drop)
        db.executemany("DELETE FROM work_items WHERE job_id = ?", drop)
    return len(drop)


def sample(session: Path, size: int, seed: int) -> tuple[int, int]:
    """Keep a seeded random ``size`` of the work items (all when size is 0)."""
    with sqlite3.connect(session) as db:
        ids = [row[0] for row in db.execute("SELECT job_id FROM work_items ORDER BY job_id")]
        if size and len(ids) > size:
            keep = set(random.Random(seed).sample(ids, size))
            drop = [(i,) for i in ids if i not in keep]
            db.executemany("DELETE FROM mutation_specs WHERE job_id = ?", drop)
            db.executemany("DELETE FROM work_items WHERE job_id = ?", drop)
            return len(ids), size
        return len(ids), len(ids)


def outcomes(session: Path) -> dict[str, int]:
    """killed / survived / incompetent (a mutant Python rejects: a syntax error is no logic
    mutant, however the tests fail on it) / other."""
    counts = {"killed": 0, "survived": 0, "incompetent": 0, "other": 0}
    with sqlite3.connect(session) as db:
        for outcome, output in db.execute("SELECT test_outcome, output FROM work_results"):
            key = str(outcome).lower()
            if "SyntaxError" in (output or "") and key == "killed":
                key = "incompetent"
            counts[key if key in counts else "other"] += 1
    return counts


def survivors(session: Path) -> str:
    """Each surviving mutant's line and change, for a person to judge (or kill)."""
    lines = []
    with sqlite3.connect(session) as db:
        for op, row, diff in db.execute(
            "SELECT s.operator_name, s.start_pos_row, r.diff FROM work_results r "
            "JOIN mutation_specs s ON r.job_id = s.job_id WHERE r.test_outcome = 'SURVIVED' "
            "ORDER BY s.start_pos_row"
        ):
            changed = [
                line
                for line in (diff or "").splitlines()
                if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
            ]
            lines.append(f"line {row} {op}: " + " | ".join(changed))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
