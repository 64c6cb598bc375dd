"""Cluster checks against 5,000 nodes: wall time, peak memory, and kubectl as the yardstick.

Run: ``.venv/bin/python benchmarks/bench_cluster.py`` (from the repo root).

A fake API server (tests/support/kube_api.py, real HTTP) serves 5,000 nodes in pages; preflight
runs the cluster, capacity and extension checks against it, and ``kubectl get nodes -o json``
lists the same nodes. The two alternate, so noise hits both; medians and their ratio are reported,
with preflight's peak RSS (whole process) measured by the kernel (``ru_maxrss`` of the child).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.kube_api import FakeKubeApi  # noqa: E402
from support.kube_objects import namespace, node  # noqa: E402

PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def measured(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one run of ``argv`` in its own process."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *argv],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return time.perf_counter() - started, int(out.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    objects = [node(f"aks-nodepool1-{i:05d}", pool=f"pool{i % 7}") for i in range(args.nodes)]
    objects.append(namespace("default"))
    kubectl = shutil.which("kubectl")
    settings = (
        "enableInference=True inferenceRouterServiceType=loadBalancer "
        "allowInsecureConnections=True enableTraining=True"
    )
    with tempfile.TemporaryDirectory() as tmp_text, FakeKubeApi(objects) as api:
        tmp = Path(tmp_text)
        kubeconfig = str(api.kubeconfig(tmp / "kubeconfig"))
        ours = [
            sys.executable,
            "-m",
            "preflight",
            "run",
            "--kubeconfig",
            kubeconfig,
            "--check",
            "cluster.*",
            "--check",
            "nodes.*",
            "--check",
            "extension.*",
            "--extension-config",
            settings,
            "--format",
            "json",
            "--quiet",
            "--out",
            str(tmp / "out"),
        ]
        theirs = (
            [kubectl, "--kubeconfig", kubeconfig, "get", "nodes", "-o", "json"] if kubectl else None
        )
        runs: dict[str, list[float]] = {"preflight": [], "kubectl": []}
        rss: list[float] = []
        for _ in range(args.repeat):
            wall, peak = measured(ours, env)
            runs["preflight"].append(wall)
            rss.append(peak)
            if theirs:
                runs["kubectl"].append(measured(theirs, env)[0])
        report = json.loads((tmp / "out" / "report.json").read_text())
        capacity = [r for r in report["results"] if r["check"] == "nodes.capacity"]
        assert capacity, "nodes.capacity ran"
        pages = sum(1 for r in api.requests if r.attributes[:3] == ("list", "", "nodes"))

    ours_s = statistics.median(runs["preflight"])
    print(
        f"{args.nodes} nodes, median of {args.repeat} alternating runs, {os.cpu_count()} CPU(s)"
        f"; node list pages served, all runs of both tools: {pages}\n"
    )
    print("| measure | result | target |\n|---|---|---|")
    print(f"| preflight cluster + capacity + extension checks, wall | {ours_s:.2f} s | < 5 s |")
    print(f"| preflight peak RSS | {max(rss):.0f} MiB | < 400 MB |")
    if runs["kubectl"]:
        theirs_s = statistics.median(runs["kubectl"])
        print(f"| kubectl get nodes -o json, wall | {theirs_s:.2f} s | |")
        print(f"| ratio preflight / kubectl | {ours_s / theirs_s:.2f} | <= 2 |")
    else:
        print("| kubectl | not installed: no comparison | |")


if __name__ == "__main__":
    main()
