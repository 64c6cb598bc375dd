"""Azure control-plane checks: how long do they take beyond process start-up?

Run: ``.venv/bin/python benchmarks/bench_azure.py`` (from the repo root).

A fake HTTPS ARM server (tests/support/arm_server.py) serves an AKS cluster, its providers and a
workspace subscription; preflight runs every ``azure.*`` check against it with a token from
``AZURE_ACCESS_TOKEN``. The same command with ``--check azure.cli`` (no ``az`` on PATH: it skips
at once) measures start-up, report writing and exit. The two alternate; the difference of
medians is the cost of the ARM checks themselves.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import trustme  # noqa: E402
from _timing import timed  # noqa: E402 - benchmarks/ is the script directory
from support.arm_server import FakeArm, write_azure_profile  # noqa: E402
from support.azure_objects import agent_pool, managed_cluster, provider  # noqa: E402
from support.tls import write_ca_bundle  # noqa: E402

SUB = "00000000-0000-0000-0000-000000000001"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    ca = trustme.CA()
    cluster = managed_cluster(
        "myaks",
        SUB,
        "ml-rg",
        "eastus",
        pools=[agent_pool("system", 3), agent_pool("gpu", 2, "Standard_NC6s_v3")],
    )
    resources = [
        cluster,
        *(
            provider(ns, sub=SUB)
            for ns in (
                "Microsoft.KubernetesConfiguration",
                "Microsoft.ContainerService",
                "Microsoft.MachineLearningServices",
            )
        ),
    ]
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    env.update(
        AZURE_ACCESS_TOKEN="good-token",
        KUBECONFIG="/nonexistent",
        PATH=os.path.dirname(sys.executable) + ":/usr/bin:/bin",
    )
    with tempfile.TemporaryDirectory() as tmp_text, FakeArm(resources, ca=ca) as arm:
        tmp = Path(tmp_text)
        bundle = write_ca_bundle(ca, tmp / "ca.pem")
        profile = write_azure_profile(tmp / "profile.yaml", "azure-public", arm=arm.url)
        base = [
            sys.executable,
            "-m",
            "preflight",
            "run",
            "--profile",
            str(profile),
            "--ca-bundle",
            str(bundle),
            "--format",
            "json",
            "--quiet",
            "--out",
            str(tmp / "out"),
            "--set",
            f"subscription_id={SUB}",
            "--set",
            "resource_group=ml-rg",
            "--set",
            "cluster_name=myaks",
            "--set",
            f"workspace_id=/subscriptions/{SUB}/resourceGroups/ml-rg/providers/"
            "Microsoft.MachineLearningServices/workspaces/ws",
        ]
        azure: list[float] = []
        startup: list[float] = []
        for _ in range(args.repeat):
            azure.append(timed([*base, "--check", "azure.*"], env))
            startup.append(timed([*base, "--check", "azure.cli"], env))
        calls = len(arm.requests)
    a, s = statistics.median(azure), statistics.median(startup)
    print(
        f"median of {args.repeat} alternating runs, {os.cpu_count()} CPU(s); "
        f"ARM requests served: {calls}\n"
    )
    print("| measure | result | target |\n|---|---|---|")
    print(f"| every azure.* check, whole process | {a:.2f} s | |")
    print(f"| start-up, report and exit only (azure.cli skipping) | {s:.2f} s | |")
    print(f"| the ARM checks beyond start-up | {a - s:.2f} s | < 1 s |")


if __name__ == "__main__":
    main()
