"""``preflight load``: an open-loop, constant-rate HTTP load generator (the smoke test's load).

Why open loop: a closed-loop tool (each connection sends its next request when the previous one
answered) stops sending while the server stalls, so a one-second stall costs it *one* slow
sample and the percentiles look healthy — "coordinated omission". Here request ``i`` is due at
``t0 + i/rate`` whatever happened before, and its latency is measured from that *intended* send
time to the end of its response. A stall therefore shows in every request scheduled during it,
and so does the generator's own lag (a late send is latency the client would have seen).

Why raw HTTP/1.1 on asyncio streams rather than an HTTP library: the generator has to keep
hundreds of requests a second on time on one core, open connections only when all are busy, and
end at a hard bound even if the server hangs; a fixed request (bytes built once) written to a
pooled keep-alive connection, and a minimal response reader, keep the per-request cost in tens
of microseconds and the behaviour fully under our control.

Latencies go into a log-linear histogram (workload/histogram.py) instead of a list. The request
is built by workload/request.py, connections come from workload/http_pool.py.

Entry points: ``run_load`` (sync; runs its own event loop) and ``run_load_async`` (await it from a
running loop, e.g. a check; the load still runs on its own thread and loop). Both return the
dict that ``preflight load --json`` prints; ``run_bound_s`` is how long a run can take at most.
"""

from __future__ import annotations

import asyncio
import functools
import math
import selectors
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from preflight.clients.net import Proxy, tls_context
from preflight.concurrency import run_in_daemon_thread
from preflight.errors import UsageError
from preflight.redact import Redactor
from preflight.workload.histogram import Histogram
from preflight.workload.http_pool import (
    TLS_CLOSED,
    ConnectionPool,
    RequestFailure,
    Stopped,
    read_response,
)
from preflight.workload.request import (
    BODY_METHODS,
    Target,
    build_request,
    parse_headers,
    parse_number,
    parse_url,
)
from preflight.workload.scoring import SAMPLE_PAYLOAD

SCHEMA = "preflight.load/v1"


DEFAULT_CONNECTIONS = 256


#: How long before a due time the scheduler stops sleeping and yields until it comes.
_SPIN_S = 0.00025


@dataclass
class _Tally:
    """What the measured requests came to."""

    latency: Histogram = field(default_factory=Histogram)
    lag: Histogram = field(default_factory=Histogram)
    requests: int = 0
    finished: int = 0
    errors: int = 0
    status_codes: dict[str, int] = field(default_factory=dict)
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    error_examples: dict[str, str] = field(default_factory=dict)
    last_end: float = 0.0

    def failure(self, kind: str, message: str) -> None:
        self.errors += 1
        self.errors_by_kind[kind] = self.errors_by_kind.get(kind, 0) + 1
        self.error_examples.setdefault(kind, message)


class _Runner:
    def __init__(
        self,
        target: Target,
        request: bytes,
        head_only: bool,
        timeout: float,
        pool: ConnectionPool,
    ) -> None:
        self.target = target
        self.request = request
        self.head_only = head_only
        self.timeout = timeout
        self.pool = pool
        self.tally = _Tally()
        #: an interrupted run leaves unanswered requests out instead of counting timeouts
        self.partial = False

    async def one(self, due: float, measured: bool) -> None:
        """Send one request due at ``due`` (loop time) and record its outcome if measured."""
        loop = asyncio.get_running_loop()
        if measured:
            self.tally.lag.record(loop.time() - due)
        try:
            async with asyncio.timeout_at(due + self.timeout):
                status = await self._exchange()
        except TimeoutError:
            if measured:
                self.tally.failure("timeout", f"no response within {self.timeout:g}s")
        except RequestFailure as failure:
            if measured:
                self.tally.failure(failure.kind, str(failure))
        except asyncio.CancelledError:
            if measured and self.partial:  # interrupted: unanswered is unknown, left out
                self.tally.requests -= 1
                measured = False
            elif measured:  # the run's hard end came first: outstanding is a timeout
                self.tally.failure("timeout", f"no response within {self.timeout:g}s")
            raise
        else:
            if measured:
                end = loop.time()
                self.tally.latency.record(end - due)
                code = str(status)
                self.tally.status_codes[code] = self.tally.status_codes.get(code, 0) + 1
                if not 200 <= status < 300:
                    self.tally.failure("status", f"HTTP {status}")
        finally:
            if measured:
                self.tally.finished += 1
                self.tally.last_end = max(self.tally.last_end, loop.time())

    async def _exchange(self) -> int:
        for attempt in (0, 1):
            conn = await self.pool.acquire()
            reused = conn.used
            try:
                conn.writer.write(self.request)
                status, keep = await read_response(conn.reader, self.head_only)
            except asyncio.IncompleteReadError as exc:
                self.pool.discard(conn)
                if reused and not exc.partial and attempt == 0:
                    continue  # the server closed an idle keep-alive connection: retry once
                if not reused and not exc.partial and self.pool.tls is not None:
                    raise RequestFailure("tls", TLS_CLOSED) from None
                raise RequestFailure(
                    "closed", "connection closed before the response ended"
                ) from None
            except (ConnectionError, OSError) as exc:
                self.pool.discard(conn)
                if reused and attempt == 0:
                    continue
                if not reused and self.pool.tls is not None:
                    # close_notify, FIN or RST right after the handshake (ssl cannot tell them
                    # apart): the TLS session was refused, as net.py's egress probe says too
                    raise RequestFailure("tls", f"{TLS_CLOSED} ({exc.strerror or exc})") from None
                raise RequestFailure("closed", f"connection lost: {exc.strerror or exc}") from None
            except BaseException:  # timeout, cancel, protocol error: the stream is unusable
                self.pool.discard(conn)
                raise
            conn.used = True
            if keep:
                self.pool.release(conn)
            else:
                self.pool.discard(conn)
            return status
        raise RequestFailure("closed", "connection closed before the response ended")


def _schedule(
    t0: float, rate: float, warmup: float, duration: float
) -> Iterator[tuple[float, bool]]:
    """``(due, measured)`` for every request: the warm-up's, then ``rate*duration`` measured."""
    warm = math.ceil(warmup * rate - 1e-9) if warmup > 0 else 0
    for i in range(warm):
        yield t0 + i / rate, False
    start = t0 + warmup
    for j in range(max(1, round(duration * rate))):
        yield start + j / rate, True


async def _run(
    url: str,
    rate: float | str,
    duration: float | str,
    *,
    warmup: float | str = 2.0,
    timeout: float | str = 5.0,
    method: str = "POST",
    payload: bytes | str | None = None,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    key: str | None = None,
    connections: int | str = DEFAULT_CONNECTIONS,
    ca_bundle: str | None = None,
    stop: threading.Event | None = None,
    proxy: Any = None,
    partial: bool = False,
) -> dict[str, Any]:
    """The run itself, on the current event loop (see ``run_load`` for the arguments)."""
    secrets = [key] if key else []
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    secrets += [v for _, v in pairs]
    redactor = Redactor(secrets)
    try:
        target = parse_url(url)
        rps = parse_number("--rate", rate)
        seconds = parse_number("--duration", duration)
        warm = parse_number("--warmup", warmup, inclusive=True)
        limit_s = parse_number("--timeout", timeout)
        pool_size = parse_number("--connections", connections, minimum=1, inclusive=True)
        if pool_size != int(pool_size):
            raise UsageError(f"--connections {connections!r}: expected a whole number")
        method = method.strip().upper()
        if not method.isalpha():
            raise UsageError(f"--method {method!r}: expected an HTTP method such as GET or POST")
        checked = parse_headers(f"{k}: {v}" for k, v in pairs)
        if key is not None:
            if not key.strip() or any(c in key for c in "\r\n\0 "):
                raise UsageError("--key: empty or contains spaces or line breaks")
            if any(name.lower() == "authorization" for name, _ in checked):
                raise UsageError("give either --key or an Authorization header, not both")
            checked.append(("Authorization", f"Bearer {key}"))
        body = payload.encode() if isinstance(payload, str) else payload
        if body is None and method in BODY_METHODS:
            body = SAMPLE_PAYLOAD.encode()
        tls = None
        if target.scheme == "https":
            tls = tls_context(ca_bundle)
            tls.set_alpn_protocols(["http/1.1"])
    except UsageError as exc:
        raise UsageError(redactor.text(str(exc))) from None
    if target.basic_auth:
        redactor.add(target.basic_auth.split(" ", 1)[1])
        parts = urlsplit(url)
        if parts.password:
            redactor.add(unquote(parts.password))

    if isinstance(proxy, str):
        proxy = Proxy.from_url(proxy)  # UsageError (one line, password masked) when malformed
    if proxy is not None and proxy.error:  # a proxy variable that cannot be used
        raise UsageError(proxy.error)
    proxy_tls = None
    if proxy is not None and proxy.tls:
        proxy_tls = tls_context(ca_bundle)
    request = build_request(target, method, body, checked)
    pool = ConnectionPool(target, tls, int(pool_size), proxy, proxy_tls, limit_s)
    runner = _Runner(target, request, method == "HEAD", limit_s, pool)
    stopped_at: float | None = None
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()
    t0 = loop.time() + 0.001
    measure_start = t0 + warm
    last_due = t0
    # Wake a little before each due time and yield to the loop until it comes: a timer alone
    # wakes ~0.1 ms late (kernel timer slack, wake-up latency), which would count as latency.
    # Spinning costs CPU, so it is capped at 10 % of a core whatever the rate.
    spin = min(_SPIN_S, 0.1 / rps)
    try:
        for due, measured in _schedule(t0, rps, warm, seconds):
            while True:
                if stop is not None and stop.is_set():
                    stopped_at = loop.time()
                    raise Stopped
                wait = due - spin - loop.time()
                if wait <= 0:
                    break
                await asyncio.sleep(min(wait, 0.1) if stop is not None else wait)
            while loop.time() < due:
                await asyncio.sleep(0)  # other requests' responses are handled meanwhile
            if measured:
                runner.tally.requests += 1
            task = loop.create_task(runner.one(due, measured))
            pending.add(task)
            task.add_done_callback(pending.discard)
            last_due = due
        # every request carries its own deadline (due + timeout); this is the backstop
        hard_end = last_due + limit_s + 0.25
        while pending and loop.time() < hard_end:
            if stop is not None and stop.is_set():
                stopped_at = loop.time()
                break
            await asyncio.wait(set(pending), timeout=min(0.1, max(0.0, hard_end - loop.time())))
    except Stopped:
        pass  # asked to end early: what was sent and not answered counts as a timeout
    finally:
        leftovers = list(pending)
        runner.partial = partial and stopped_at is not None
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=0.5)
        pool.close()

    tally = runner.tally
    if runner.partial:  # sent, never started, then interrupted: unknown, left out
        tally.requests = tally.finished
    for _ in range(tally.requests - tally.finished):  # cancelled before it could say so
        tally.failure("timeout", f"no response within {limit_s:g}s")
        tally.finished += 1
    elapsed = max(tally.last_end - measure_start, 1e-9) if tally.finished else seconds
    if runner.partial and stopped_at is not None:  # measured until the interruption
        elapsed = max(min(stopped_at, measure_start + seconds) - measure_start, 1e-9)
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "requests": tally.requests,
        "errors": tally.errors,
        "error_rate": round(tally.errors / tally.requests, 6) if tally.requests else 0.0,
        "target_rps": rps,
        "achieved_rps": round(tally.finished / elapsed, 3),
        "latency_ms": tally.latency.summary_ms(),
        "histogram": tally.latency.compact_ms(),
        "status_codes": dict(sorted(tally.status_codes.items())),
        "errors_by_kind": dict(sorted(tally.errors_by_kind.items())),
        "error_examples": {k: redactor.text(v) for k, v in sorted(tally.error_examples.items())},
        "send_lag_ms": tally.lag.summary_ms((("p50", 0.5), ("p99", 0.99))),
        "connections": {"limit": int(pool_size), "opened": pool.opened, "peak_open": pool.peak},
        "rate": rps,
        "duration_s": seconds,
        "warmup_s": warm,
        "timeout_s": limit_s,
        "elapsed_s": round(elapsed, 3),
        "payload_bytes": len(body or b""),
        "method": method,
        "url": target.display,
    }
    if runner.partial:
        result["partial"] = True
        result["measured_s"] = round(elapsed, 3)
    return result


def _precise_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose timers fire within tens of microseconds.

    The default epoll selector rounds every wait up to a whole millisecond, which would make the
    average send ~0.5 ms late — 10 % of a 5 ms service time, all of it counted as latency.
    ``select()`` takes microseconds; its cost grows with the number of sockets, which stays
    small here (the pool's connections)."""
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


def run_load(
    url: str,
    rate: float | str,
    duration: float | str,
    *,
    warmup: float | str = 2.0,
    timeout: float | str = 5.0,
    method: str = "POST",
    payload: bytes | str | None = None,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    key: str | None = None,
    connections: int | str = DEFAULT_CONNECTIONS,
    ca_bundle: str | None = None,
    stop: threading.Event | None = None,
    proxy: Any = None,
    partial: bool = False,
) -> dict[str, Any]:
    """Send ``rate`` requests/s to ``url`` for ``warmup + duration`` s; the measured summary
    (the dict ``preflight load --json`` prints).

    ``payload`` None with a body method sends the smoke model's sample scoring request; a str
    or bytes is sent as is. ``headers`` are extra request headers; ``key`` is sent as
    ``Authorization: Bearer KEY`` and masked everywhere. ``connections`` bounds the keep-alive
    pool. ``ca_bundle`` adds trusted CAs for https. ``proxy`` (a URL or a
    ``preflight.clients.net.Proxy``: http://, https://, socks5(h):// or socks4(a)://) tunnels
    every connection (CONNECT, or SOCKS); an unusable proxy variable is a ``UsageError`` naming
    it. Setting ``stop``
    ends the run early (unanswered requests count as timeouts; with ``partial``, for an
    interruption, they are left out and the result adds ``"partial": true`` and
    ``measured_s``, the measured time until the stop).

    Bad arguments raise ``UsageError`` (one line, secrets masked). Returns by ``warmup +
    duration + timeout + 1`` s whatever the server does. Runs its own event loop (precise
    timers, see ``_precise_loop``), so call it from a thread, not from a running loop: await
    ``run_load_async`` there."""
    factory = _precise_loop if _select_fits(connections) else None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(
            _run(
                url,
                rate,
                duration,
                warmup=warmup,
                timeout=timeout,
                method=method,
                payload=payload,
                headers=headers,
                key=key,
                connections=connections,
                ca_bundle=ca_bundle,
                stop=stop,
                proxy=proxy,
                partial=partial,
            )
        )


async def run_load_async(
    url: str,
    rate: float | str,
    duration: float | str,
    *,
    warmup: float | str = 2.0,
    timeout: float | str = 5.0,
    method: str = "POST",
    payload: bytes | str | None = None,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    key: str | None = None,
    connections: int | str = DEFAULT_CONNECTIONS,
    ca_bundle: str | None = None,
    proxy: Any = None,
) -> dict[str, Any]:
    """``run_load`` for a coroutine (e.g. a check): same arguments, same result.

    The load runs on its own daemon thread and event loop, not on the caller's: other
    coroutines sharing the caller's loop (other checks, a slow callback) would otherwise delay
    sends, and every such delay would be measured as server latency. Cancelling the await ends
    the run within ~0.1 s."""

    stop = threading.Event()
    work = functools.partial(
        run_load,
        url,
        rate,
        duration,
        warmup=warmup,
        timeout=timeout,
        method=method,
        payload=payload,
        headers=headers,
        key=key,
        connections=connections,
        ca_bundle=ca_bundle,
        stop=stop,
        proxy=proxy,
    )
    functools.update_wrapper(work, run_load)  # names the thread "preflight-run_load"
    try:
        return await run_in_daemon_thread(work)
    except asyncio.CancelledError:
        stop.set()
        raise


def _select_fits(connections: int | str) -> bool:
    """``select()`` handles descriptors below 1024 only; leave room for the process's others."""
    try:
        return float(connections) <= 768
    except (TypeError, ValueError):
        return False


def format_table(result: Mapping[str, Any]) -> str:
    """A short summary for a terminal."""
    lat = result["latency_ms"]

    def ms(value: Any) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = [
        f"{result['method']} {result['url']}",
        f"rate {result['target_rps']:g}/s for {result['duration_s']:g}s "
        f"(after {result['warmup_s']:g}s warm-up); achieved {result['achieved_rps']:.1f}/s",
        f"requests {result['requests']}  errors {result['errors']} "
        f"({100 * result['error_rate']:.2f}%)",
        "",
        "latency ms (from intended send time)",
        "  " + "  ".join(f"{k:>8}" for k in ("p50", "p90", "p95", "p99", "p99.9", "max")),
        "  " + "  ".join(f"{ms(lat[k]):>8}" for k in ("p50", "p90", "p95", "p99", "p999", "max")),
    ]
    if result["status_codes"]:
        codes = ", ".join(f"{k}: {v}" for k, v in result["status_codes"].items())
        lines.append(f"status codes: {codes}")
    if result["errors_by_kind"]:
        kinds = ", ".join(f"{k}: {v}" for k, v in result["errors_by_kind"].items())
        lines.append(f"errors: {kinds}")
        for kind, message in result.get("error_examples", {}).items():
            lines.append(f"  {kind}: {message}")
    return "\n".join(lines)


def run_bound_s(warmup: float, duration: float, timeout: float) -> float:
    """The promised bound on one run, in seconds (for a caller setting its own deadline)."""
    return warmup + duration + timeout + 1.0
