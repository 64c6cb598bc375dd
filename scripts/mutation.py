"""Drive cosmic-ray over the verdict-deciding modules, sampled, and summarise kill rates.

Called by ``scripts/mutation`` (which prepares the scratch tree and its environment). For each
module: ``cosmic-ray init`` (every logic mutant of the module), keep a seeded random sample of
the work items, ``cosmic-ray exec`` (apply one mutant to the file on disk, run the module's
tests, restore), then count killed / survived / incompetent. The modules and the tests that
guard each are listed in scripts/mutation.toml.
"""

from __future__ import annotations

import argparse
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
    print("\n| module | mutants run | killed | survived | kill rate |\n|---|---|---|---|---|")
    for module, r in results.items():
        rate = r["killed"] / max(1, r["killed"] + r["survived"])
        print(f"| `{module}` | {r['run']} of {r['total']} | {r['killed']} | {r['survived']} "
              f"| {rate:.0%} |")
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
    subprocess.run([cosmic, "init", str(config), str(session)], cwd=args.tree, check=True)
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
    return {"total": total, "run": kept, **counts}


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
    """killed / survived / incompetent (a mutant the interpreter rejects) / other."""
    counts = {"killed": 0, "survived": 0, "incompetent": 0, "other": 0}
    with sqlite3.connect(session) as db:
        for (outcome,) in db.execute("SELECT test_outcome FROM work_results"):
            key = str(outcome).lower()
            counts[key if key in counts else "other"] += 1
    return counts


if __name__ == "__main__":
    raise SystemExit(main())
