"""Connectivity checks: does checking 30 hosts cost about as much as checking one? And does
the --concurrency bound cost only what it must for 500 hosts?

Run: ``.venv/bin/python benchmarks/bench_connectivity.py`` (from the repo root).

Everything runs on loopback against the project's test servers: a DNS server that answers every
query after 200 ms, a TLS server with a test CA, and a black-holed port. The 1-host and 30-host
runs alternate, so machine noise hits both alike, and the ratio of medians is reported.
The bounded case: 500 hosts whose DNS answers after 200 ms and whose TLS handshake takes
100 ms more, at --concurrency 64, against one such host; with the preflight process's peak
open sockets (sampled from /proc every 5 ms) and peak RSS (wait4). At most 64 probes in flight
means ceil(500/64) = 8 rounds, so the ideal is start-up + 8 x (one host's probe time).

Figures go to stdout as a Markdown table (paste into the README's benchmark section) and, with
``--json PATH``, as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _timing import measured, timed  # noqa: E402 - benchmarks/ is the script directory
from support import Blackhole, DnsServer, TlsHttpServer, write_ca_bundle  # noqa: E402


def write_profile(directory: Path, names: list[str], port: int, label: str) -> Path:
    hosts = [
        {
            "host": n,
            "port": port,
            "purpose": "benchmark",
            "needed_for": ["aks"],
            "source": "benchmark",
        }
        for n in names
    ]
    path = directory / f"{label}.yaml"
    path.write_text(yaml.safe_dump({"name": label, "cloud": "AzureCloud", "hosts": hosts}))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    env["KUBECONFIG"] = "/nonexistent"
    exe = [sys.executable, "-m", "preflight"]
    names = [f"host{i:02d}.bench.test" for i in range(30)]
    import trustme

    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        bundle = write_ca_bundle(ca, tmp / "ca.pem")
        with (
            DnsServer({n: "127.0.0.1" for n in names}, delay=0.2) as dns,
            TlsHttpServer(hostnames=names, ca=ca) as tls,
            Blackhole() as hole,
        ):
            one = write_profile(tmp, names[:1], tls.port, "one")
            thirty = write_profile(tmp, names, tls.port, "thirty")
            blackholed = write_profile(tmp, names[:10], hole.port, "blackholed")
            common = [
                "run",
                "--check",
                "dns.resolve",
                "--check",
                "egress.https",
                "--nameserver",
                dns.address,
                "--ca-bundle",
                str(bundle),
                "--format",
                "json",
                "--quiet",
                "--out",
                str(tmp / "out"),
            ]
            walls: dict[str, list[float]] = {
                "one": [],
                "thirty": [],
                "blackholed": [],
                "help": [],
                "checks": [],
            }
            for _ in range(args.repeat):
                walls["one"].append(timed([*exe, *common, "--profile", str(one)], env))
                walls["thirty"].append(timed([*exe, *common, "--profile", str(thirty)], env))
                walls["blackholed"].append(
                    timed([*exe, *common, "--profile", str(blackholed), "--timeout", "2"], env)
                )
                walls["help"].append(timed([*exe, "--help"], env))
                walls["checks"].append(timed([*exe, "checks"], env))
            report = json.loads((tmp / "out" / "report.json").read_text())
            assert all(
                r["details"].get("phase") == "connect" and r["details"].get("kind") == "timeout"
                for r in report["results"]
                if r["check"] == "egress.https"
            ), "the black-holed run must end in connect timeouts"

    bounded = bounded_runs(exe, env, args.repeat)
    walls.update({k: v for k, v in bounded.items() if k.startswith("wall_")})
    med = {k: statistics.median(v) for k, v in walls.items()}
    ratio = med["thirty"] / med["one"]
    rows = [
        ("wall, 1 host (DNS answers after 200 ms)", f"{med['one']:.2f} s", ""),
        ("wall, 30 hosts (same)", f"{med['thirty']:.2f} s", ""),
        ("ratio 30 / 1", f"{ratio:.2f}", "<= 1.5"),
        ("10 black-holed hosts, --timeout 2", f"{med['blackholed']:.2f} s", "< 3.5 s"),
        ("preflight --help", f"{med['help']:.3f} s", "< 0.3 s"),
        ("preflight checks", f"{med['checks']:.3f} s", "< 0.5 s"),
        (
            "wall, 1 host (DNS +200 ms, TLS +100 ms)",
            f"{med['wall_one_slow']:.2f} s",
            "",
        ),
        (
            "wall, 500 hosts (same), --concurrency 64",
            f"{med['wall_500']:.2f} s",
            "",
        ),
        (
            "ratio 500 / 1",
            f"{med['wall_500'] / med['wall_one_slow']:.2f}",
            f"about {bounded['ideal_ratio']:.1f} (8 rounds)",
        ),
        (
            "wall, 500 hosts, no added latency (the CPU floor: handshakes, parsing, report)",
            f"{med['wall_500_fast']:.2f} s",
            "",
        ),
        (
            "what the latency cost at --concurrency 64 (500 slow - 500 fast)",
            f"{med['wall_500'] - med['wall_500_fast']:.2f} s",
            "8 rounds x 0.3 s = 2.4 s",
        ),
        (
            "wall, 500 hosts (slow), --concurrency 4096 (unbounded)",
            f"{med['wall_500_unbounded']:.2f} s",
            "",
        ),
        (
            "peak open sockets, 500 hosts, --concurrency 64",
            f"{max(bounded['sockets'])}",
            "<= 64 + a few",
        ),
        ("peak open sockets, 500 hosts, unbounded", f"{max(bounded['sockets_unbounded'])}", ""),
        ("peak RSS, 500 hosts, --concurrency 64", f"{max(bounded['rss_mb']):.0f} MiB", ""),
        ("peak RSS, 500 hosts, unbounded", f"{max(bounded['rss_unbounded_mb']):.0f} MiB", ""),
    ]
    print(
        f"median of {args.repeat} alternating runs, {os.cpu_count()} CPU(s), "
        f"Python {sys.version.split()[0]}\n"
    )
    print("| measure | result | target |\n|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")
    if args.json:
        args.json.write_text(json.dumps({"medians_s": med, "ratio": ratio, "raw": walls}, indent=2))


def bounded_runs(exe: list[str], env: dict[str, str], repeat: int) -> dict[str, Any]:
    """500 slow hosts at --concurrency 64 against one slow host, alternating."""
    import trustme

    names = [f"h{i:03d}.bounded.test" for i in range(500)]
    ca = trustme.CA()
    result: dict[str, Any] = {
        k: []
        for k in (
            "wall_one_slow",
            "wall_500",
            "wall_500_unbounded",
            "wall_500_fast",
            "sockets",
            "sockets_unbounded",
            "rss_mb",
            "rss_unbounded_mb",
        )
    }
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        bundle = write_ca_bundle(ca, tmp / "ca.pem")
        with (
            DnsServer({n: "127.0.0.1" for n in names}, delay=0.2) as dns,
            TlsHttpServer(hostnames=names, ca=ca, handshake_delay=0.1) as tls,
        ):
            one = write_profile(tmp, names[:1], tls.port, "one-slow")
            many = write_profile(tmp, names, tls.port, "five-hundred")

            def argv(profile: Path, concurrency: int = 64) -> list[str]:
                return [
                    *exe,
                    "run",
                    "--check",
                    "egress.https",
                    "--nameserver",
                    dns.address,
                    "--ca-bundle",
                    str(bundle),
                    "--concurrency",
                    str(concurrency),
                    "--format",
                    "json",
                    "--quiet",
                    "--out",
                    str(tmp / "out"),
                    "--profile",
                    str(profile),
                ]

            for _ in range(repeat):
                wall, _, _ = measured(argv(one), env)
                result["wall_one_slow"].append(wall)
                wall, sockets, rss = measured(argv(many), env)
                result["wall_500"].append(wall)
                result["sockets"].append(sockets)
                result["rss_mb"].append(rss)
                wall, sockets, rss = measured(argv(many, 4096), env)
                result["wall_500_unbounded"].append(wall)
                result["sockets_unbounded"].append(sockets)
                result["rss_unbounded_mb"].append(rss)
                dns.delay, tls.handshake_delay = 0.0, 0.0
                wall, _, _ = measured(argv(many), env)
                result["wall_500_fast"].append(wall)
                dns.delay, tls.handshake_delay = 0.2, 0.1
            report = json.loads((tmp / "out" / "report.json").read_text())
            statuses = {r["status"] for r in report["results"]}
            assert statuses == {"pass"}, f"every one of the 500 hosts must pass: {statuses}"
            assert len(report["results"]) == 500
    one = statistics.median(result["wall_one_slow"])
    probe = 0.2 + 0.1  # the slow parts of one host's probe
    result["ideal_ratio"] = (one + 7 * probe) / one  # start-up + 8 rounds vs start-up + 1
    return result


if __name__ == "__main__":
    main()
