"""Cluster checks against 5,000 nodes: wall time, peak memory, and kubectl as the yardstick.

Run: ``.venv/bin/python benchmarks/bench_cluster.py`` (from the repo root).

A fake API server (tests/support/kube_api.py, real HTTP) serves 5,000 nodes in pages; preflight
runs the cluster, capacity and extension checks against it, and ``kubectl get nodes -o json``
lists the same nodes. The two alternate, so noise hits both; medians and their ratio are reported,
with preflight's peak RSS (whole process) measured by the kernel (``ru_maxrss`` of the child).

Then ``deployment.capacity`` against 5,000 nodes and 50,000 running pods (``--pods``; 0 skips
it): preflight's run alternates with the listing alone (a process that reads the same node list
and pod pages with preflight's own client and keeps nothing), with the same listing keeping
every pod (what not streaming would cost in memory) and with ``kubectl get`` of both lists. The
target: under 2 s beyond the listing, and peak memory near the listing's, not the kept list's.
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
from typing import Any

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
    parser.add_argument("--pods", type=int, default=50_000, help="0: skip deployment.capacity")
    parser.add_argument("--pod-repeat", type=int, default=3)
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
    if args.pods:
        deployment_capacity(args.nodes, args.pods, args.pod_repeat, env, kubectl)


# -- deployment.capacity: 5,000 nodes, 50,000 running pods ----------------------------------------

#: the listing alone, with preflight's client: the nodes (kept, as the node survey keeps them)
#: and every active pod page by page; ``keep`` keeps the pods too
LISTING = (
    "import sys\n"
    "from preflight.clients.kube import KubeClient, KubeSettings\n"
    "client = KubeClient(KubeSettings(sys.argv[1], None, 60))\n"
    "nodes = client.list('/api/v1/nodes')\n"
    "pods = client.stream('/api/v1/pods', field_selector=sys.argv[2])\n"
    "kept = list(pods) if sys.argv[3] == 'keep' else None\n"
    "count = len(kept) if kept is not None else sum(1 for _ in pods)\n"
)


def running_pod(index: int, node_name: str) -> dict[str, Any]:
    """A running pod as small as real ones get in a list (requests and limits count)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"app-{index:06d}",
            "namespace": f"team-{index % 50}",
            "uid": f"00000000-0000-0000-0000-{index:012d}",
            "labels": {"app": f"app-{index % 300}"},
        },
        "spec": {
            "nodeName": node_name,
            "containers": [
                {
                    "name": "app",
                    "image": "contoso.azurecr.io/app:1.0",
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"cpu": "500m", "memory": "512Mi"},
                    },
                }
            ],
        },
        "status": {"phase": "Running"},
    }


def deployment_capacity(
    nodes: int, pods: int, repeat: int, env: dict[str, str], kubectl: str | None
) -> None:
    """deployment.capacity beside the listing it cannot avoid (see the module docstring)."""
    names = [f"aks-nodepool1-{i:05d}" for i in range(nodes)]
    objects = [node(name, pool=f"pool{i % 7}") for i, name in enumerate(names)]
    objects += [namespace("default")]
    objects += [running_pod(i, names[i % nodes]) for i in range(pods)]
    deployment = (
        "name: blue\nendpoint_name: churn\nenvironment: azureml:env:1\ninstance_count: 200\n"
        "scale_settings: {type: default}\nresources:\n  requests: {cpu: 500m, memory: 1Gi}\n"
    )
    active = "status.phase!=Succeeded,status.phase!=Failed"
    with tempfile.TemporaryDirectory() as tmp_text, FakeKubeApi(objects) as api:
        tmp = Path(tmp_text)
        (tmp / "blue.yml").write_text(deployment)
        kubeconfig = str(api.kubeconfig(tmp / "kubeconfig"))
        ours = [
            sys.executable, "-m", "preflight", "run", "--kubeconfig", kubeconfig,
            "--check", "deployment.capacity", "--deployment", str(tmp / "blue.yml"),
            "--format", "json", "--quiet", "--out", str(tmp / "out"),
        ]  # fmt: skip
        listing = [sys.executable, "-c", LISTING, kubeconfig, active]
        theirs = (
            [
                "sh",
                "-c",
                f"{kubectl} --kubeconfig {kubeconfig} get nodes -o json >/dev/null && "
                f"{kubectl} --kubeconfig {kubeconfig} get pods -A --chunk-size=500 "
                f"--field-selector={active} -o json >/dev/null",
            ]  # fmt: skip
            if kubectl
            else None
        )
        walls: dict[str, list[float]] = {"ours": [], "listing": [], "kept": [], "kubectl": []}
        peaks: dict[str, list[float]] = {"ours": [], "listing": [], "kept": []}
        for _ in range(repeat):
            for name, argv in (
                ("ours", ours),
                ("listing", [*listing, "stream"]),
                ("kept", [*listing, "keep"]),
            ):
                wall, peak = measured(argv, env)
                walls[name].append(wall)
                peaks[name].append(peak)
            if theirs:
                walls["kubectl"].append(measured(theirs, env)[0])
        report = json.loads((tmp / "out" / "report.json").read_text())
        [finding] = [r for r in report["results"] if r["check"] == "deployment.capacity"]
        assert finding["details"]["pods_counted"] == pods, finding
        check_s = finding["duration_s"]
    ours_s, listing_s = statistics.median(walls["ours"]), statistics.median(walls["listing"])
    print(
        f"\n{nodes} nodes and {pods} running pods, median of {repeat} alternating runs, "
        f"{os.cpu_count()} CPU(s); deployment.capacity: {finding['status']}, "
        f"{finding['details']['replicas_fitting']} replicas fit\n"
    )
    print("| measure | result | target |\n|---|---|---|")
    print(f"| preflight run --check deployment.capacity, wall | {ours_s:.2f} s | |")
    print(
        f"| the listing alone (nodes + pod pages, preflight's client), wall | {listing_s:.2f} s | |"
    )
    print(
        f"| beyond the listing (difference of the medians) | {ours_s - listing_s:.2f} s | < 2 s |"
    )
    print(f"| the check's own duration_s in report.json (listing included) | {check_s:.2f} s | |")
    print(f"| preflight peak RSS | {max(peaks['ours']):.0f} MiB | bounded |")
    print(f"| the listing's peak RSS, streamed | {max(peaks['listing']):.0f} MiB | |")
    print(f"| the listing's peak RSS, every pod kept | {max(peaks['kept']):.0f} MiB | |")
    if walls["kubectl"]:
        theirs_s = statistics.median(walls["kubectl"])
        print(f"| kubectl get nodes + pods -o json, wall | {theirs_s:.2f} s | |")
        print(f"| ratio preflight / kubectl | {ours_s / theirs_s:.2f} | |")


if __name__ == "__main__":
    main()
