"""``preflight load`` against established tools, on loopback against ``preflight serve-model``.

Run: ``.venv/bin/python benchmarks/bench_load.py [--rounds 3] [--only a,b,c] [--json PATH]``
(from the repo root; needs ``wrk`` and ``hey`` on PATH for (a) and (b); ``taskset`` is used to
pin the generator to one CPU and the server to the others when it and two CPUs are there).

(a) **p50 against wrk.** The server sleeps 5 ms per request (``--service-time-ms 5``), so any
    honest client sees ~5 ms. wrk is closed loop with no rate option (that is wrk2); its Lua
    ``delay()`` hook (a pause before each connection's next request) is the nearest thing, so
    wrk runs twice on the same 2 connections: paced by ``delay()`` to ~100 requests/s — the
    rate ``preflight load`` sends, open loop — and flat out (~350/s). The load level matters
    on its own (an idle CPU wakes up slower), so the paced run is the like-for-like reference.
    Rounds alternate the three so machine noise hits all alike; the ratio of the medians of the
    per-round p50s is reported (target: within 10 %).
(b) **A 1 s stall.** The server stalls every request for 1 s, 5 s into a 10 s run at 50
    requests/s. ``preflight load`` (open loop, latency from the intended send time) should show
    p99 near the stall (target >= 500 ms); ``hey -q 50 -c 1`` (closed loop) sends nothing
    while its one request waits, so the stall is one sample of ~450 and its p99 stays near the
    service time: coordinated omission, measured.
(c) **500 requests/s on one core.** The generator pinned to one CPU, the server (with workers)
    on the others; achieved rate vs target (target: within 2 %), send lag, and the CPU the
    generator used.

Figures go to stdout as Markdown (paste into the README) and, with ``--json PATH``, as JSON.
Nothing here is asserted: the tests check the properties, this measures them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from preflight.workload.scoring import SAMPLE_PAYLOAD  # noqa: E402

PREFLIGHT = [sys.executable, "-m", "preflight"]
_LISTENING = re.compile(r"listening on http://([^:\s]+):(\d+)")


# -- CPU placement -----------------------------------------------------------------------------
def cpu_plan() -> tuple[list[str], list[str], str]:
    """taskset prefixes for (generator, server) and a description of the placement."""
    cpus = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") and len(cpus) >= 2:
        gen, rest = cpus[0], cpus[1:]
        server = ",".join(str(c) for c in rest)
        return (
            ["taskset", "-c", str(gen)],
            ["taskset", "-c", server],
            f"generator on CPU {gen}, server on CPU {server}",
        )
    return [], [], "not pinned (taskset or a second CPU missing)"


GEN_PIN, SERVER_PIN, PLACEMENT = cpu_plan()
SERVER_WORKERS = max(1, min(4, len(os.sched_getaffinity(0)) - 1))


# -- processes ---------------------------------------------------------------------------------
@contextmanager
def model_server(*args: str, workers: int = 1) -> Iterator[str]:
    """``preflight serve-model`` on 127.0.0.1 (port from its startup line); yields its URL."""
    proc = subprocess.Popen(
        [*SERVER_PIN, *PREFLIGHT, "serve-model", "--host", "127.0.0.1", "--port", "0"]
        + ["--workers", str(workers), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stderr is not None
    line = b""
    deadline = time.monotonic() + 30
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 0.1)[0]:
            chunk = os.read(proc.stderr.fileno(), 1)
            if not chunk:
                break
            line += chunk
    match = _LISTENING.search(line.decode(errors="replace"))
    try:
        if not match:
            raise RuntimeError(f"serve-model did not start: {line!r}")
        yield f"http://127.0.0.1:{match.group(2)}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        proc.stderr.close()


def run_timed(argv: list[str], timeout: float) -> tuple[str, float, float]:
    """Run a command; its stdout, wall seconds and CPU seconds (user+system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0:4]}... exit {proc.returncode}: {proc.stderr[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.stdout, wall, cpu


def preflight_load(url: str, *args: str, timeout: float = 120) -> tuple[dict[str, Any], float]:
    out, _, cpu = run_timed([*GEN_PIN, *PREFLIGHT, "load", url, *args, "--json"], timeout)
    return json.loads(out), cpu


# -- wrk and hey -------------------------------------------------------------------------------
_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk_p50(url: str, connections: int, seconds: int, script: Path) -> tuple[float, float]:
    """wrk's p50 (ms) and its requests/s."""
    out, _, _ = run_timed(
        [*GEN_PIN, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
        + ["-s", str(script), url],
        timeout=seconds + 30,
    )
    match = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    if not match or not rps:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return float(match.group(1)) * _WRK_UNITS[match.group(2)], float(rps.group(1))


def hey_latencies(url: str, qps: int, seconds: int) -> list[float]:
    """hey's per-request response times in ms (from its CSV output)."""
    out, _, _ = run_timed(
        [*GEN_PIN, "hey", "-q", str(qps), "-z", f"{seconds}s", "-c", "1", "-m", "POST"]
        + ["-T", "application/json", "-d", SAMPLE_PAYLOAD, "-o", "csv", url],
        timeout=seconds + 30,
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    return sorted(float(r["response-time"]) * 1000.0 for r in rows)


def quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile (the definition preflight's histogram uses)."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


# -- the three benchmarks ----------------------------------------------------------------------
def bench_p50(rounds: int, seconds: int) -> dict[str, Any]:
    connections = 2
    rate = 100
    service_ms = 5.0
    # each connection: request (~service time) + delay = connections/rate seconds per cycle
    pause_ms = round(1000 * connections / rate - service_ms - 0.6)
    body = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(SAMPLE_PAYLOAD)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    wrk: dict[str, list[float]] = {"paced": [], "paced_rps": [], "flat": [], "flat_rps": []}
    ours: list[float] = []
    ours_p99: list[float] = []
    lag: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        flat = Path(tmp) / "flat.lua"
        flat.write_text(body)
        paced = Path(tmp) / "paced.lua"
        paced.write_text(body + f"function delay()\n  return {pause_ms}\nend\n")
        with model_server("--service-time-ms", f"{service_ms:g}") as base:
            url = f"{base}/score"
            preflight_load(url, "--rate", "50", "--duration", "1", "--warmup", "0")  # warm up
            for _ in range(rounds):
                p50, rps = wrk_p50(url, connections, seconds, paced)
                wrk["paced"].append(p50)
                wrk["paced_rps"].append(rps)
                result, _ = preflight_load(
                    url,
                    *("--rate", str(rate), "--duration", str(seconds), "--warmup", "1"),
                    *("--connections", str(connections)),
                )
                ours.append(result["latency_ms"]["p50"])
                ours_p99.append(result["latency_ms"]["p99"])
                lag.append(result["send_lag_ms"]["p50"])
                p50, rps = wrk_p50(url, connections, seconds, flat)
                wrk["flat"].append(p50)
                wrk["flat_rps"].append(rps)
    ours_median = statistics.median(ours)
    paced_median = statistics.median(wrk["paced"])
    flat_median = statistics.median(wrk["flat"])
    return {
        "service_time_ms": service_ms,
        "connections": connections,
        "seconds_per_round": seconds,
        "rounds": rounds,
        "wrk_delay_ms": pause_ms,
        "wrk_paced_p50_ms": wrk["paced"],
        "wrk_paced_rps": wrk["paced_rps"],
        "wrk_flat_p50_ms": wrk["flat"],
        "wrk_flat_rps": wrk["flat_rps"],
        "preflight_rate": rate,
        "preflight_p50_ms": ours,
        "preflight_p99_ms": ours_p99,
        "preflight_send_lag_p50_ms": lag,
        "wrk_paced_p50_median_ms": round(paced_median, 3),
        "wrk_flat_p50_median_ms": round(flat_median, 3),
        "preflight_p50_median_ms": round(ours_median, 3),
        "ratio_vs_paced": round(ours_median / paced_median, 4),
        "ratio_vs_flat": round(ours_median / flat_median, 4),
    }


def bench_stall(seconds: int = 10, rate: int = 50, stall: float = 1.0) -> dict[str, Any]:
    warmup = 1.0
    middle = seconds / 2
    # the server's stall clock starts at the first scoring request: preflight's first warm-up
    # request, hey's first request
    with model_server("--stall-after", str(warmup + middle), "--stall-for", str(stall)) as base:
        ours, _ = preflight_load(
            f"{base}/score",
            *("--rate", str(rate), "--duration", str(seconds), "--warmup", str(warmup)),
        )
    with model_server("--stall-after", str(middle), "--stall-for", str(stall)) as base:
        hey = hey_latencies(f"{base}/score", rate, seconds)
    slow_ours = sum(
        c
        for upper, c in zip(
            ours["histogram"]["bucket_upper_ms"], ours["histogram"]["counts"], strict=True
        )
        if upper > 100
    )
    return {
        "rate": rate,
        "seconds": seconds,
        "stall_s": stall,
        "preflight": {
            "requests": ours["requests"],
            "errors": ours["errors"],
            "p50_ms": ours["latency_ms"]["p50"],
            "p99_ms": ours["latency_ms"]["p99"],
            "max_ms": ours["latency_ms"]["max"],
            "over_100ms": slow_ours,
        },
        "hey": {
            "requests": len(hey),
            "p50_ms": round(quantile(hey, 0.5), 3),
            "p99_ms": round(quantile(hey, 0.99), 3),
            "max_ms": round(hey[-1], 3),
            "over_100ms": sum(1 for v in hey if v > 100),
        },
    }


def bench_rate(rounds: int, rate: int = 500, seconds: int = 10) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    with model_server(workers=SERVER_WORKERS) as base:
        url = f"{base}/score"
        for _ in range(rounds):
            result, cpu = preflight_load(
                url, "--rate", str(rate), "--duration", str(seconds), "--warmup", "2"
            )
            runs.append(
                {
                    "achieved_rps": result["achieved_rps"],
                    "deviation_pct": round(100 * (result["achieved_rps"] / rate - 1), 3),
                    "requests": result["requests"],
                    "errors": result["errors"],
                    "p50_ms": result["latency_ms"]["p50"],
                    "p99_ms": result["latency_ms"]["p99"],
                    "send_lag_p50_ms": result["send_lag_ms"]["p50"],
                    "send_lag_p99_ms": result["send_lag_ms"]["p99"],
                    "connections_opened": result["connections"]["opened"],
                    # the whole process: interpreter start-up and warm-up included
                    "generator_cpu_pct": round(100 * cpu / (seconds + 2), 1),
                }
            )
    worst = max(runs, key=lambda r: abs(r["deviation_pct"]))
    return {
        "rate": rate,
        "seconds": seconds,
        "server_workers": SERVER_WORKERS,
        "runs": runs,
        "worst_deviation_pct": worst["deviation_pct"],
    }


# -- report ------------------------------------------------------------------------------------
def markdown(results: dict[str, Any]) -> str:
    lines = [f"Placement: {PLACEMENT}; {os.cpu_count()} CPUs.", ""]
    if "a" in results:
        a = results["a"]

        def per_round(values: list[float]) -> str:
            return ", ".join(f"{v:.2f}" for v in values)

        lines += [
            f"**(a) p50 vs wrk** (server sleeps {a['service_time_ms']:g} ms; {a['connections']} "
            f"connections each; {a['rounds']} alternating rounds of {a['seconds_per_round']} s)",
            "",
            "| tool | load | p50 per round (ms) | median p50 (ms) | preflight / this |",
            "|---|---|---|---|---|",
            f"| preflight load (open loop) | {a['preflight_rate']} req/s "
            f"| {per_round(a['preflight_p50_ms'])} | {a['preflight_p50_median_ms']:.3f} | |",
            f"| wrk 4.1, delay() {a['wrk_delay_ms']} ms (closed loop, paced) "
            f"| ~{statistics.median(a['wrk_paced_rps']):.0f} req/s "
            f"| {per_round(a['wrk_paced_p50_ms'])} | {a['wrk_paced_p50_median_ms']:.3f} "
            f"| {a['ratio_vs_paced']:.3f} |",
            f"| wrk 4.1 (closed loop, flat out) "
            f"| ~{statistics.median(a['wrk_flat_rps']):.0f} req/s "
            f"| {per_round(a['wrk_flat_p50_ms'])} | {a['wrk_flat_p50_median_ms']:.3f} "
            f"| {a['ratio_vs_flat']:.3f} |",
            "",
        ]
    if "b" in results:
        b = results["b"]
        p, h = b["preflight"], b["hey"]
        lines += [
            f"**(b) {b['stall_s']:g} s server stall** in a {b['seconds']} s run at "
            f"{b['rate']} req/s",
            "",
            "| tool | requests | p50 (ms) | p99 (ms) | max (ms) | requests > 100 ms |",
            "|---|---|---|---|---|---|",
            f"| preflight load (open loop) | {p['requests']} | {p['p50_ms']:.2f} "
            f"| {p['p99_ms']:.1f} | {p['max_ms']:.1f} | {p['over_100ms']} |",
            f"| hey -q {b['rate']} -c 1 (closed loop) | {h['requests']} | {h['p50_ms']:.2f} "
            f"| {h['p99_ms']:.1f} | {h['max_ms']:.1f} | {h['over_100ms']} |",
            "",
        ]
    if "c" in results:
        c = results["c"]
        lines += [
            f"**(c) {c['rate']} req/s from one core** ({c['seconds']} s + 2 s warm-up; server "
            f"with {c['server_workers']} worker(s))",
            "",
            "| run | achieved req/s | deviation | errors | p50 (ms) | p99 (ms) "
            "| send lag p50/p99 (ms) | generator CPU |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for i, r in enumerate(c["runs"], 1):
            lines.append(
                f"| {i} | {r['achieved_rps']:.1f} | {r['deviation_pct']:+.2f} % | {r['errors']} "
                f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
                f"| {r['send_lag_p50_ms']:.3f} / {r['send_lag_p99_ms']:.3f} "
                f"| {r['generator_cpu_pct']:.0f} % |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="per round of (a)")
    parser.add_argument("--only", default="a,b,c", help="comma list of a,b,c")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    missing = [t for t in ("wrk", "hey") if shutil.which(t) is None]
    if missing and wanted & {"a", "b"}:
        sys.exit(f"bench_load: {', '.join(missing)} not found (apt-get install wrk; hey)")
    results: dict[str, Any] = {"placement": PLACEMENT, "cpus": os.cpu_count()}
    if "a" in wanted:
        results["a"] = bench_p50(args.rounds, args.seconds)
    if "b" in wanted:
        results["b"] = bench_stall()
    if "c" in wanted:
        results["c"] = bench_rate(args.rounds)
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
