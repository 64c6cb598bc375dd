"""gpu.health on an 8-GPU node: how long beyond the XID sampling window?

Run: ``/work/venv/bin/python benchmarks/bench_gpu.py`` (from the repo root; needs gcc).

The fake ``libnvidia-ml.so.1`` (tests/support/fake_nvml) is built once and loaded by the real
``pynvml`` binding in a ``preflight run --check gpu.health`` subprocess, exactly as a GPU host
loads the driver's library. Target (issue #6): the check completes within 2 s plus the XID
window (``--set xid_window``, default 5s). Reported per window: the whole process (start-up,
NVML, the window, reports, exit) and the check's own duration from report.json, each minus the
window, as medians of ``--repeat`` runs. A variant makes the fake's ``nvmlInit`` take 0.5 s, as a
real driver does without persistence mode, to show that the queries and the window overlap
with nothing but init. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.fake_nvml import CONFIG_ENV, build, config_text  # noqa: E402

TARGET_S = 2.0


def one_run(env: dict[str, str], window: str, out: Path) -> tuple[float, float]:
    """(process wall time, the check's duration in report.json)."""
    argv = [
        sys.executable,
        "-m",
        "preflight",
        "run",
        "--check",
        "gpu.health",
        "--set",
        f"xid_window={window}",
        "--format",
        "json",
        "--out",
        str(out),
    ]
    started = time.perf_counter()
    subprocess.run(
        argv,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        timeout=120,
    )
    wall = time.perf_counter() - started
    report = json.loads((out / "report.json").read_text())
    findings = [f for f in report["results"] if f["check"] == "gpu.health"]
    assert len(findings) == 9, [f["message"] for f in findings]  # node + 8 GPUs
    return wall, max(f["duration_s"] for f in findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    library = build(work / "build")
    cases = [
        ("1s", 1.0, {}),
        ("5s", 5.0, {}),
        ("1s", 1.0, {"init_delay_ms": 500}),
    ]
    rows = []
    for window, seconds, extra in cases:
        config = work / f"nvml-{window}-{len(rows)}.conf"
        config.write_text(config_text({"count": 8, "xid": [(3, 13, 200)], **extra}))
        env = {
            **os.environ,
            "LD_LIBRARY_PATH": str(library.parent),
            CONFIG_ENV: str(config),
            "PREFLIGHT_NODE_NAME": "bench-gpu-0",
            "KUBECONFIG": "/nonexistent",
        }
        walls, checks = [], []
        for i in range(args.repeat):
            wall, check = one_run(env, window, work / f"out-{len(rows)}-{i}")
            walls.append(wall - seconds)
            checks.append(check - seconds)
        label = f"xid_window={window}" + (", nvmlInit 0.5 s" if extra else "")
        rows.append((label, statistics.median(walls), statistics.median(checks)))
    print(f"gpu.health, 8 GPUs on the fake NVML library, median of {args.repeat} runs\n")
    print("| case | whole process − window | the check − window | target |")
    print("|---|---|---|---|")
    for label, wall, check in rows:
        print(f"| {label} | {wall:.2f} s | {check:.2f} s | < {TARGET_S:g} s |")


if __name__ == "__main__":
    main()
