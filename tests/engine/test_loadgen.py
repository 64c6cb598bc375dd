"""``preflight load``: open-loop load against real servers on loopback.

The properties checked are correctness properties of the measurement, not benchmarks: counts,
error accounting, percentile order, that a server stall shows up in the high percentiles (the
point of measuring from the intended send time), the hard bound on a run against a server that
never answers, and that a key never reaches any output. Timing bounds are deliberately loose
(the suite runs in parallel on small machines).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from support import HttpServer, RefusedPort, TlsHttpServer, write_ca_bundle
from support.model_server import ModelServer, serve_model

from preflight.errors import UsageError
from preflight.redact import redact_url
from preflight.workload.histogram import Histogram
from preflight.workload.loadgen import run_bound_s, run_load, run_load_async
from preflight.workload.request import parse_headers, parse_url

SECRET = "sk-test-Zq8v2NcY4pRw7Lm1"
ORDER = ("p50", "p90", "p95", "p99", "p999", "max")


def load_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preflight", "load", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def assert_ordered(latency: dict[str, Any]) -> None:
    values = [latency[k] for k in ORDER]
    assert all(v is not None for v in values), latency
    assert values == sorted(values), latency


@pytest.fixture(scope="module")
def model() -> Iterator[ModelServer]:
    with serve_model() as server:
        yield server


# -- the histogram -------------------------------------------------------------------------
def test_histogram_percentiles_within_one_percent() -> None:
    rng = random.Random(7)
    samples = [rng.lognormvariate(-6, 1.5) for _ in range(20000)]  # ~0.1 ms .. 1 s
    hist = Histogram()
    for value in samples:
        hist.record(value)
    samples.sort()
    for q in (0.5, 0.9, 0.99, 0.999):
        exact = samples[math.ceil(q * len(samples)) - 1]
        got = hist.percentile(q)
        assert got is not None
        assert exact <= got <= exact * 1.0101  # the bucket's upper bound: within 1 %
    assert hist.percentile(1.0) == max(samples)
    summary = hist.summary_ms()
    assert_ordered(summary)
    compact = hist.compact_ms()
    assert sum(compact["counts"]) == len(samples)
    assert compact["bucket_upper_ms"] == sorted(compact["bucket_upper_ms"])
    assert len(hist.counts) < 2000  # bounded memory, whatever the run length


def test_histogram_edges() -> None:
    hist = Histogram()
    assert hist.percentile(0.5) is None
    assert hist.summary_ms()["max"] is None
    for value in (0.0, 1e-9, 120.0):  # below the lowest bucket, and past the highest
        hist.record(value)
    assert hist.percentile(1.0) == 120.0
    assert hist.percentile(0.01) == 10e-6  # bucket 0: everything up to 10 µs


# -- input -------------------------------------------------------------------------------------
def test_redact_url_masks_credentials_and_secret_query_values() -> None:
    url = f"https://user:{SECRET}@ep.example:8443/score?code={SECRET}&api-key={SECRET}&x=1"
    shown = redact_url(url)
    assert SECRET not in shown
    assert shown.startswith("https://user:***@ep.example:8443/score?")
    assert "x=1" in shown
    target = parse_url(url)
    assert SECRET not in repr(target)
    assert target.host == "ep.example" and target.port == 8443
    assert target.host_header == "ep.example:8443"
    assert target.request_target.startswith("/score?code=")


def test_redact_url_is_one_function_for_proxies_and_endpoints() -> None:
    # proxy settings come without a scheme; a URL with nothing secret comes back as given
    assert redact_url(f"proxyuser:{SECRET}@proxy.corp:3128") == "proxyuser:***@proxy.corp:3128"
    assert redact_url("http://proxy.corp:3128") == "http://proxy.corp:3128"
    assert redact_url("proxy.corp:3128/#frag") == "proxy.corp:3128/#frag"
    # a userinfo with no password may itself be the token
    assert redact_url(f"https://{SECRET}@ep.example/x") == "https://***@ep.example/x"
    assert redact_url(f"https://acct.blob.core.windows.net/c?sv=1&sig={SECRET}").endswith("sig=***")


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "http://", "127.0.0.1:5001/score", "http://h:99999/", "http://a b/"]
)
def test_malformed_urls(url: str) -> None:
    with pytest.raises(UsageError):
        parse_url(url)


def test_header_errors_never_echo_values() -> None:
    with pytest.raises(UsageError) as info:
        parse_headers([f"Authorization Bearer {SECRET}"])
    assert SECRET not in str(info.value)
    with pytest.raises(UsageError):
        parse_headers(["Content-Length: 5"])  # framing is ours
    assert parse_headers(["X-A:  b c "]) == [("X-A", "b c")]


# -- against the model server --------------------------------------------------------------
def test_constant_rate_against_the_model(model: ModelServer) -> None:
    result = run_load(f"{model.url}/score", rate=100, duration=2, warmup=0.5)
    assert result["requests"] == 200
    assert result["errors"] == 0 and result["error_rate"] == 0.0
    assert result["status_codes"] == {"200": 200}
    assert_ordered(result["latency_ms"])
    assert 70 <= result["achieved_rps"] <= 130
    assert sum(result["histogram"]["counts"]) == 200
    assert result["payload_bytes"] > 0 and result["method"] == "POST"
    # keep-alive: a handful of connections, not one per request
    assert result["connections"]["opened"] <= 20


def test_async_wrapper_from_a_running_loop(model: ModelServer) -> None:
    """A check awaits it on the runner's loop; other coroutines keep running meanwhile."""

    async def main() -> tuple[dict[str, Any], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        other = asyncio.create_task(ticker())
        result = await run_load_async(f"{model.url}/score", 50, 0.5, warmup=0)
        other.cancel()
        return result, ticks

    result, ticks = asyncio.run(main())
    assert result["requests"] == 25 and result["errors"] == 0
    assert ticks >= 10


def test_cancelling_the_async_wrapper_ends_the_run() -> None:
    async def main() -> None:
        await asyncio.wait_for(run_load_async(server.url, 20, 30, warmup=0, timeout=20), 0.5)

    with HttpServer(accept_then_silence=True) as server:
        with pytest.raises(TimeoutError):
            asyncio.run(main())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            t.name == "preflight-run_load" for t in threading.enumerate()
        ):
            time.sleep(0.05)
        assert not any(t.name == "preflight-run_load" for t in threading.enumerate())


def test_cli_json_prints_exactly_one_object(model: ModelServer) -> None:
    proc = load_cli(
        f"{model.url}/score", "--rate", "50", "--duration", "1", "--warmup", "0.2", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1  # one line, one object
    result = json.loads(proc.stdout)
    for key in (
        "requests",
        "errors",
        "error_rate",
        "target_rps",
        "achieved_rps",
        "latency_ms",
        "histogram",
        "status_codes",
        "errors_by_kind",
        "rate",
        "duration_s",
        "warmup_s",
        "payload_bytes",
        "method",
        "url",
    ):
        assert key in result
    assert result["requests"] == 50 and result["target_rps"] == 50
    assert_ordered(result["latency_ms"])


def test_cli_table(model: ModelServer) -> None:
    proc = load_cli(f"{model.url}/healthz", "--rate", "20", "--duration", "0.5", "--method", "GET")
    assert proc.returncode == 0, proc.stderr
    assert "p99" in proc.stdout and "requests 10" in proc.stdout


def test_a_stall_shows_in_the_high_percentiles() -> None:
    """Open loop: every request due during a 1 s stall waits for its end, so ~50 of 200
    requests are slow and p99 is close to the stall. A closed-loop tool would see one."""
    # the stall clock starts with the first scoring request (the first warm-up request)
    with serve_model("--stall-after", "2.0", "--stall-for", "1.0") as server:
        result = run_load(f"{server.url}/score", rate=50, duration=4, warmup=0.5, timeout=5)
    assert result["errors"] == 0, result["errors_by_kind"]
    assert result["requests"] == 200
    assert result["latency_ms"]["p99"] >= 400
    assert result["latency_ms"]["max"] >= 800
    assert_ordered(result["latency_ms"])


def test_requests_given_up_on_are_timeouts_and_the_server_stays_quiet() -> None:
    with serve_model("--stall-after", "0.5", "--stall-for", "1.0") as server:
        result = run_load(f"{server.url}/score", rate=50, duration=2, warmup=0, timeout=0.3)
        code, stderr = server.stop()
    assert result["errors_by_kind"].get("timeout", 0) >= 10
    assert result["requests"] == 100
    assert sum(result["status_codes"].values()) + result["errors_by_kind"]["timeout"] == 100
    assert code == 0
    assert stderr == ""  # clients hanging up mid-request are not logged


def test_busy_connections_queue_and_latency_counts_from_the_due_time() -> None:
    with serve_model("--service-time-ms", "20") as server:
        result = run_load(
            f"{server.url}/score", rate=100, duration=1, warmup=0, connections=1, timeout=10
        )
    assert result["connections"]["peak_open"] == 1
    assert result["errors"] == 0
    # 100 requests of 20 ms on one connection: the last one waits ~1 s after its due time
    assert result["latency_ms"]["max"] >= 500


# -- errors ------------------------------------------------------------------------------------
def test_500s_are_errors() -> None:
    with HttpServer(status=500, body=b'{"error": "boom"}') as server:
        result = run_load(server.url + "/score", rate=50, duration=1, warmup=0.2)
    assert result["requests"] == 50
    assert result["errors"] == 50 and result["error_rate"] == 1.0
    assert result["status_codes"] == {"500": 50}
    assert result["errors_by_kind"] == {"status": 50}
    assert result["latency_ms"]["p50"] is not None  # answered: latency is measured


def test_refused_port_is_connect_errors() -> None:
    with RefusedPort() as refused:
        result = run_load(
            f"http://{refused.address}/score", rate=50, duration=1, warmup=0, timeout=2
        )
    assert result["requests"] == 50
    assert result["errors"] == 50
    assert result["errors_by_kind"] == {"connect": 50}
    assert "refused" in result["error_examples"]["connect"]
    assert result["latency_ms"]["p50"] is None


def test_hanging_server_run_is_bounded() -> None:
    warmup, duration, timeout = 0.5, 1.0, 1.0
    with HttpServer(accept_then_silence=True) as server:
        started = time.monotonic()
        result = run_load(
            server.url + "/score", rate=20, duration=duration, warmup=warmup, timeout=timeout
        )
        elapsed = time.monotonic() - started
    assert elapsed <= warmup + duration + timeout + 1.0 == run_bound_s(warmup, duration, timeout)
    assert result["requests"] == 20
    assert result["errors_by_kind"] == {"timeout": 20}


def test_hanging_server_cli_is_bounded() -> None:
    with HttpServer(accept_then_silence=True) as server:
        started = time.monotonic()
        proc = load_cli(
            server.url, "--rate", "20", "--duration", "1", "--warmup", "0.5", "--timeout", "1"
        )
        elapsed = time.monotonic() - started
    assert proc.returncode == 0
    assert "timeout: 20" in proc.stdout
    assert elapsed <= 0.5 + 1 + 1 + 1 + 5  # + interpreter start-up on a busy machine


def test_https_with_ca_bundle(tmp_path: Path) -> None:
    ca = trustme.CA()
    bundle = write_ca_bundle(ca, tmp_path / "ca.pem")
    with TlsHttpServer(hostnames=["localhost"], ca=ca, status=200) as server:
        url = server.url_for("localhost", "/score")
        ok = run_load(url, rate=40, duration=0.5, warmup=0, ca_bundle=str(bundle))
        untrusted = run_load(url, rate=40, duration=0.5, warmup=0, timeout=2)
    assert ok["errors"] == 0 and ok["requests"] == 20
    assert ok["connections"]["opened"] <= 5
    assert untrusted["errors_by_kind"] == {"tls": 20}


# -- secrets and bad input ---------------------------------------------------------------------
def test_key_is_sent_and_never_printed() -> None:
    with HttpServer(status=401) as server:
        url = f"{server.url}/score?code={SECRET}"
        for extra in ([], ["--json"]):
            proc = load_cli(
                url, "--rate", "20", "--duration", "0.5", "--warmup", "0", "--key", SECRET, *extra
            )
            assert proc.returncode == 0, proc.stderr
            assert SECRET not in proc.stdout + proc.stderr
            assert "401" in proc.stdout
        seen = server.requests
    assert seen and all(r.headers.get("Authorization") == f"Bearer {SECRET}" for r in seen)


@pytest.mark.parametrize(
    "args",
    [
        ["http://h:1/x?code=" + SECRET, "--rate", "0", "--duration", "1"],
        ["ftp://h/" + SECRET, "--rate", "1", "--duration", "1"],
        ["http://h/", "--rate", "1", "--duration", "1", "--header", f"Authorization {SECRET}"],
        ["http://h/", "--rate", "1", "--duration", "1", "--header", f"Authorization: {SECRET}"],
        ["http://h/", "--rate", "1", "--duration", "1", "--payload", "{bad" + SECRET],
    ],
)
def test_errors_do_not_leak_the_key(args: list[str]) -> None:
    proc = load_cli(*args, "--key", SECRET)
    assert proc.returncode == 2
    assert SECRET not in proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["http://127.0.0.1:1/", "--rate", "0", "--duration", "1"],
        ["http://127.0.0.1:1/", "--rate", "-5", "--duration", "1"],
        ["http://127.0.0.1:1/", "--rate", "abc", "--duration", "1"],
        ["http://127.0.0.1:1/", "--rate", "10", "--duration", "0"],
        ["http://127.0.0.1:1/", "--rate", "10", "--duration", "nan"],
        ["http://127.0.0.1:1/", "--rate", "10", "--duration", "1", "--warmup", "-1"],
        ["http://127.0.0.1:1/", "--rate", "10", "--duration", "1", "--connections", "0"],
        ["not a url", "--rate", "10", "--duration", "1"],
        ["http:///nohost", "--rate", "10", "--duration", "1"],
        ["http://127.0.0.1:1/", "--rate", "10", "--duration", "1", "--payload", "@/nonexistent"],
        ["http://127.0.0.1:1/", "--rate", "10", "--duration", "1", "--header", "NoColon"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str]) -> None:
    proc = load_cli(*args, "--json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("preflight: error:"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_payload_from_file_is_sent_verbatim(tmp_path: Path) -> None:
    body = b'{"data": [[1, 2, 3, 4]]}'
    path = tmp_path / "body.json"
    path.write_bytes(body)
    with HttpServer(status=200) as server:
        proc = load_cli(
            server.url + "/score",
            *("--rate", "10", "--duration", "0.3", "--warmup", "0", "--json"),
            *("--payload", f"@{path}", "--header", "X-Trace: abc"),
        )
        seen = server.requests
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["payload_bytes"] == len(body)
    assert seen and all(r.body == body and r.headers.get("X-Trace") == "abc" for r in seen)
    assert all(r.method == "POST" and r.path == "/score" for r in seen)


def test_load_tunnels_through_tinyproxy_and_names_a_refusal(tinyproxy: Any) -> None:
    """Scoring traffic honours the proxy settings like every other outbound call (DESIGN.md):
    through the real tinyproxy, every request goes inside one CONNECT tunnel per connection;
    a proxy that refuses the port is an error of kind 'proxy', not a hang."""
    with serve_model() as server:
        url = f"http://localhost:{server.port}/score"
        allowed = tinyproxy(connect_ports=[server.port])
        result = run_load(url, 20, 1, warmup=0, proxy=allowed.url)
        assert result["requests"] >= 15 and result["errors"] == 0, result
        assert f"localhost:{server.port}" in allowed.connect_targets
        refusing = tinyproxy(connect_ports=[])
        refused = run_load(url, 10, 0.5, warmup=0, proxy=refusing.url)
        assert refused["errors"] == refused["requests"] > 0
        assert set(refused["errors_by_kind"]) == {"proxy"}
        assert "403" in refused["error_examples"]["proxy"]
        # the CLI takes HTTPS_PROXY/HTTP_PROXY from the environment and honours NO_PROXY
        env = {**os.environ, "HTTP_PROXY": allowed.url, "NO_PROXY": ""}
        through = subprocess.run(
            [
                sys.executable,
                "-m",
                "preflight",
                "load",
                url,
                "--rate",
                "10",
                "--duration",
                "0.5",
                "--warmup",
                "0",
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert json.loads(through.stdout)["errors"] == 0, through.stderr
        assert allowed.connect_targets.count(f"localhost:{server.port}") >= 2
