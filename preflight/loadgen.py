"""``preflight load``: an open-loop, constant-rate HTTP load generator (DESIGN.md, smoke test).

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

Latencies go into a log-linear histogram (1 % buckets from 10 µs to 60 s, HDR-style) instead of a
list: constant memory for any rate or duration, percentiles within 1 %, and a compact histogram
in the JSON for the report.

Entry points: ``run_load`` (sync; runs its own event loop) and ``run_load_async`` (await it from a
running loop, e.g. a check; the load still runs on its own thread and loop). Both return the
dict that ``preflight load --json`` prints; ``run_bound_s`` is how long a run can take at most.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import functools
import json
import math
import selectors
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from preflight.errors import UsageError
from preflight.redact import Redactor, redact_url

SCHEMA = "preflight.load/v1"
USER_AGENT = "preflight-load/0.1"
DEFAULT_CONNECTIONS = 256
#: Query parameters that carry credentials even though their names do not say "key"/"token"
#: (Azure Functions' ``code``, a SAS ``sig``...); their values are masked in the echoed URL.
#: Framing headers the generator owns: a user value would desynchronise the keep-alive stream.
_RESERVED_HEADERS = {"content-length", "transfer-encoding", "connection", "upgrade", "te"}
_BODY_METHODS = {"POST", "PUT", "PATCH"}
#: How long before a due time the scheduler stops sleeping and yields until it comes.
_SPIN_S = 0.00025
_PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999))


# -- histogram ---------------------------------------------------------------------------------
class Histogram:
    """Log-linear latency histogram: bucket ``k`` holds values in ``(lo*g**(k-1), lo*g**k]``.

    ``g = 1 + precision``, so any percentile read from it is within ``precision`` of a real
    sample (reported as the bucket's upper bound, clamped to the exact min and max seen, so
    ``p50 <= ... <= max`` always holds and ``max`` is exact). Values below ``lowest_s`` share
    bucket 0; values above ``highest_s`` share the last bucket."""

    def __init__(
        self, lowest_s: float = 10e-6, highest_s: float = 60.0, precision: float = 0.01
    ) -> None:
        self.lowest = lowest_s
        self.growth = 1.0 + precision
        self._log_growth = math.log(self.growth)
        self.size = math.ceil(math.log(highest_s / lowest_s) / self._log_growth) + 2
        self.counts = [0] * self.size
        self.total = 0
        self.min = math.inf
        self.max = 0.0

    def record(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        if seconds <= self.lowest:
            index = 0
        else:
            index = min(
                self.size - 1, math.ceil(math.log(seconds / self.lowest) / self._log_growth)
            )
        self.counts[index] += 1
        self.total += 1
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)

    def upper(self, index: int) -> float:
        """Upper bound of bucket ``index`` in seconds (the exact max for the overflow bucket)."""
        if index >= self.size - 1:
            return self.max
        return float(self.lowest * self.growth**index)

    def percentile(self, q: float) -> float | None:
        """The value at quantile ``q`` (0..1), in seconds; None when nothing was recorded."""
        if self.total == 0:
            return None
        rank = max(1, math.ceil(q * self.total))
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return min(max(self.upper(index), self.min), self.max)
        return self.max

    def summary_ms(self, points: Iterable[tuple[str, float]] = _PERCENTILES) -> dict[str, Any]:
        """``{"p50": ms, ..., "max": ms}`` rounded to the microsecond (None values when empty)."""
        out: dict[str, Any] = {}
        for name, q in points:
            value = self.percentile(q)
            out[name] = None if value is None else round(value * 1000.0, 3)
        out["max"] = round(self.max * 1000.0, 3) if self.total else None
        return out

    def compact_ms(self) -> dict[str, list[Any]]:
        """Only the non-empty buckets: their upper bounds in ms and their counts."""
        uppers: list[float] = []
        counts: list[int] = []
        for index, count in enumerate(self.counts):
            if count:
                uppers.append(round(self.upper(index) * 1000.0, 4))
                counts.append(count)
        return {"bucket_upper_ms": uppers, "counts": counts}


# -- input -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """Where the requests go. ``display`` is the URL with any credentials masked."""

    scheme: str
    host: str
    port: int
    request_target: str = field(repr=False)  # path and query as sent (the query may hold a key)
    host_header: str
    display: str
    basic_auth: str | None = field(default=None, repr=False)


def parse_url(url: str) -> Target:
    """Validate an ``http(s)://host[:port]/path`` URL; ``UsageError`` (redacted) if malformed."""
    shown = redact_url(url)
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise UsageError(f"URL {shown!r}: contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"URL {shown!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UsageError(f"URL {shown!r}: expected http:// or https://")
    host = parts.hostname
    if not host:
        raise UsageError(f"URL {shown!r}: no host")
    port = port or (443 if scheme == "https" else 80)
    default_port = port == (443 if scheme == "https" else 80)
    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if default_port else f"{bracketed}:{port}"
    request_target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    basic = None
    if parts.username is not None:
        raw = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        basic = "Basic " + base64.b64encode(raw.encode()).decode()
    return Target(scheme, host, port, request_target, host_header, shown, basic)


def parse_number(name: str, value: Any, minimum: float = 0.0, inclusive: bool = False) -> float:
    """A finite number ``> minimum`` (``>=`` with ``inclusive``) or a one-line ``UsageError``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} {value!r}: expected a number") from None
    ok = number >= minimum if inclusive else number > minimum
    if not math.isfinite(number) or not ok:
        relation = ">=" if inclusive else ">"
        raise UsageError(f"{name} {value!r}: must be a number {relation} {minimum:g}")
    return number


def parse_headers(raw: Iterable[str]) -> list[tuple[str, str]]:
    """``'K: V'`` strings -> pairs. Errors never echo a value (it may be a credential)."""
    headers: list[tuple[str, str]] = []
    for text in raw:
        name, sep, value = text.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not name or any(c in name for c in " \t\r\n"):
            raise UsageError(f"--header {name[:40]!r}...: expected 'Name: value'")
        if any(c in value for c in "\r\n\0") or any(ord(c) > 0xFF for c in value):
            raise UsageError(f"--header {name!r}: the value has line breaks or non-Latin-1 text")
        if name.lower() in _RESERVED_HEADERS:
            raise UsageError(f"--header {name!r}: set by preflight load itself; leave it out")
        headers.append((name, value))
    return headers


def load_payload(payload: str | None) -> bytes | None:
    """``--payload``: inline JSON (checked, so a shell-quoting slip is caught here) or ``@file``
    (sent byte for byte)."""
    if payload is None:
        return None
    if payload.startswith("@"):
        path = payload[1:]
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise UsageError(f"--payload @{path}: cannot read: {exc.strerror or exc}") from None
    try:
        json.loads(payload)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--payload: not valid JSON ({exc.msg} at column {exc.colno})") from None
    return payload.encode()


def build_request(
    target: Target, method: str, body: bytes | None, headers: Sequence[tuple[str, str]]
) -> bytes:
    """The request, built once and written verbatim for every request of the run."""
    user = {name.lower() for name, _ in headers}
    lines = [f"{method} {target.request_target} HTTP/1.1"]
    if "host" not in user:
        lines.append(f"Host: {target.host_header}")
    if "user-agent" not in user:
        lines.append(f"User-Agent: {USER_AGENT}")
    if "accept" not in user:
        lines.append("Accept: */*")
    if target.basic_auth and "authorization" not in user:
        lines.append(f"Authorization: {target.basic_auth}")
    if body is not None and "content-type" not in user:
        lines.append("Content-Type: application/json")
    if body is not None or method in _BODY_METHODS:
        lines.append(f"Content-Length: {len(body or b'')}")
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


# -- HTTP exchange -----------------------------------------------------------------------------
class _Stopped(Exception):
    """The caller asked the run to end early."""


class _Failure(Exception):
    """A request that got no usable response; ``kind`` goes into ``errors_by_kind``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Conn:
    __slots__ = ("reader", "writer", "used")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False  # has answered a request (so an EOF now may just be an idle close)

    def alive(self) -> bool:
        return not self.reader.at_eof() and not self.writer.transport.is_closing()

    def abort(self) -> None:
        self.writer.transport.abort()


def _connect_failure(exc: BaseException) -> _Failure:
    if isinstance(exc, socket.gaierror):
        return _Failure("dns", f"cannot resolve host: {exc.strerror or exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _Failure("tls", f"TLS certificate not trusted: {exc.verify_message or exc}")
    if isinstance(exc, ssl.SSLError):
        return _Failure("tls", f"TLS handshake failed: {exc.reason or exc}")
    if isinstance(exc, ConnectionRefusedError):
        return _Failure("connect", "connection refused")
    if isinstance(exc, OSError):
        return _Failure("connect", f"cannot connect: {exc.strerror or exc}")
    return _Failure("connect", f"cannot connect: {exc}")


class _Pool:
    """Keep-alive connections to one target, opened on demand up to ``limit``.

    A request takes an idle connection, else opens one if fewer than ``limit`` exist, else queues
    (first come, first served) for the next one released. A dead connection's slot passes to the
    next waiter, which opens a fresh one."""

    def __init__(
        self,
        target: Target,
        tls: ssl.SSLContext | None,
        limit: int,
        proxy: Any = None,
        proxy_tls: ssl.SSLContext | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self.target = target
        self.tls = tls
        self.proxy = proxy  # a preflight.clients.proxy.Proxy: a tunnel through it, TLS inside
        self.proxy_tls = proxy_tls  # verifies an https:// proxy
        self.connect_timeout = connect_timeout
        self.limit = limit
        self.idle: list[_Conn] = []
        self.live: set[_Conn] = set()
        self.slots = 0  # connections open or being opened
        self.opened = 0
        self.peak = 0
        self.waiters: collections.deque[asyncio.Future[_Conn | None]] = collections.deque()
        self._addresses: list[tuple[Any, ...]] | None = None

    async def acquire(self) -> _Conn:
        while self.idle:
            conn = self.idle.pop()
            if conn.alive():
                return conn
            self._forget(conn)
            self.slots -= 1
        if self.slots < self.limit:
            self.slots += 1
            return await self._open_in_slot()
        future: asyncio.Future[_Conn | None] = asyncio.get_running_loop().create_future()
        self.waiters.append(future)
        try:
            handed_over = await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # handed over as we were cancelled
                handed = future.result()
                if handed is None:
                    self._free_slot()
                else:
                    self.release(handed)
            else:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(future)
            raise
        if handed_over is None:  # a slot, not a connection: open one in it
            return await self._open_in_slot()
        return handed_over

    def release(self, conn: _Conn) -> None:
        """A connection is free again: to the longest waiter, else to the idle stack."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self.idle.append(conn)

    def discard(self, conn: _Conn) -> None:
        """Close a connection whose state is unknown or bad, and free its slot."""
        conn.abort()
        self._forget(conn)
        self._free_slot()

    def close(self) -> None:
        for conn in list(self.live):
            conn.abort()
        self.live.clear()
        self.idle.clear()
        for waiter in self.waiters:
            waiter.cancel()
        self.waiters.clear()

    def _forget(self, conn: _Conn) -> None:
        conn.abort()
        self.live.discard(conn)

    def _free_slot(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.slots -= 1

    async def _open_in_slot(self) -> _Conn:
        try:
            conn = await self._open()
        except BaseException:
            self._free_slot()
            raise
        self.live.add(conn)
        self.opened += 1
        self.peak = max(self.peak, len(self.live))
        return conn

    async def _resolve(self) -> list[tuple[Any, ...]]:
        """Addresses of the host, looked up once per run (a Service name does not move)."""
        if self._addresses is None:
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(
                self.target.host, self.target.port, type=socket.SOCK_STREAM
            )
            if not infos:
                raise socket.gaierror(socket.EAI_NONAME, "no addresses")
            self._addresses = [info[4] for info in infos]
        return self._addresses

    async def _open(self) -> _Conn:
        if self.proxy is not None:
            return await self._open_via_proxy()
        try:
            addresses = await self._resolve()
        except OSError as exc:
            raise _connect_failure(exc) from None
        last: BaseException | None = None
        for address in addresses:
            try:
                reader, writer = await asyncio.open_connection(
                    address[0],
                    address[1],
                    ssl=self.tls,
                    server_hostname=self.target.host if self.tls else None,
                    limit=1 << 16,
                )
                return _Conn(reader, writer)
            except ssl.SSLError as exc:  # the TCP path works: another address will not help
                raise _connect_failure(exc) from None
            except OSError as exc:
                last = exc
        raise _connect_failure(last or OSError("no address to connect to"))

    async def _open_via_proxy(self) -> _Conn:
        """A tunnel through the proxy, then TLS inside it: HTTP CONNECT (the proxy resolves the
        host; inside a verified TLS session for an https:// proxy), or SOCKS (python-socks;
        socks5:// and socks4:// are handed the address resolved here)."""
        proxy, host, port = self.proxy, self.target.host, self.target.port
        if proxy.socks:
            reader, writer = await self._open_via_socks()
        else:
            reader, writer = await self._connect_tunnel()
        if self.tls is not None:
            try:
                await writer.start_tls(self.tls, server_hostname=host)
            except (ssl.SSLError, OSError) as exc:
                writer.close()
                raise _connect_failure(exc) from None
            except TypeError:  # TLS inside an https:// proxy's TLS: asyncio's abort path
                writer.close()
                raise _Failure(
                    "tls", f"TLS handshake with {host}:{port} failed inside the proxy's TLS"
                ) from None
        return _Conn(reader, writer)

    async def _connect_tunnel(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        proxy, host, port = self.proxy, self.target.host, self.target.port
        try:
            reader, writer = await asyncio.open_connection(proxy.host, proxy.port, limit=1 << 16)
        except OSError as exc:
            raise _Failure("proxy", f"proxy {proxy.display}: {exc.strerror or exc}") from None
        if proxy.tls:
            from preflight.clients.net import allow_tls_in_tls

            context = self.proxy_tls or ssl.create_default_context()
            try:
                await writer.start_tls(context, server_hostname=proxy.host)
                allow_tls_in_tls(writer)
            except (ssl.SSLError, OSError, TypeError) as exc:
                writer.close()
                why = getattr(exc, "verify_message", "") or str(exc) or type(exc).__name__
                raise _Failure(
                    "proxy", f"proxy {proxy.display}: no TLS session with the proxy: {why}"
                ) from None
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        request = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
        if proxy.authorization:
            request += f"Proxy-Authorization: {proxy.authorization}\r\n"
        writer.write((request + "\r\n").encode("ascii", "replace"))
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            raise _Failure("proxy", f"proxy {proxy.display} broke off the CONNECT") from None
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].startswith("2"):
            writer.close()
            message = (
                f"proxy {proxy.display} answered CONNECT {authority} with "
                f"{' '.join(parts[1:]) or status_line!r}"
            )
            if len(parts) > 1 and parts[1] == "407":
                from preflight.clients.proxy import credentials_advice

                said, todo = credentials_advice(proxy.display)
                message += f": {said}; {todo}"
            raise _Failure("proxy", message)
        return reader, writer

    async def _open_via_socks(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        from python_socks import ProxyError, ProxyTimeoutError, ProxyType
        from python_socks.async_.asyncio import Proxy as SocksProxy

        proxy, host, port = self.proxy, self.target.host, self.target.port
        version = 4 if proxy.scheme.startswith("socks4") else 5
        target = host
        if not proxy.remote_dns:
            try:
                addresses = [a[0] for a in await self._resolve()]
            except OSError as exc:
                raise _connect_failure(exc) from None
            if version == 4:
                addresses = [a for a in addresses if ":" not in a]
            if not addresses:
                raise _Failure("dns", f"no IPv4 address for {host} to hand to the SOCKS4 proxy")
            target = addresses[0]
        socks = SocksProxy(
            ProxyType.SOCKS4 if version == 4 else ProxyType.SOCKS5,
            proxy.host,
            proxy.port,
            username=proxy.username,
            password=proxy.password if version == 5 else None,
            rdns=proxy.remote_dns,
        )
        shown = f"[{target}]:{port}" if ":" in target else f"{target}:{port}"
        try:
            sock = await socks.connect(target, port, timeout=self.connect_timeout)
        except ProxyTimeoutError:
            raise _Failure(
                "proxy", f"SOCKS proxy {proxy.display} did not complete CONNECT {shown}"
            ) from None
        except ProxyError as exc:
            code = exc.error_code
            reply = f"reply {code:#04x} {exc}" if code is not None else str(exc)
            message = f"SOCKS proxy {proxy.display} refused CONNECT {shown}: {reply}"
            if code is None and "authentication" in str(exc).lower():
                from preflight.clients.proxy import credentials_advice

                said, todo = credentials_advice(proxy.display)
                message += f": {said}; {todo}"
            raise _Failure("proxy", message) from None
        except OSError as exc:  # python-socks' ProxyConnectionError included
            raise _Failure("proxy", f"proxy {proxy.display}: {exc.strerror or exc}") from None
        return await asyncio.open_connection(sock=sock, limit=1 << 16)


async def _read_response(reader: asyncio.StreamReader, head_only: bool) -> tuple[int, bool]:
    """Read one whole response; return its status and whether the connection may be reused."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise _Failure("http", "response header block over 64 KiB") from None
        status_line, _, rest = head.partition(b"\r\n")
        fields = status_line.split(None, 2)
        if len(fields) < 2 or not fields[0].startswith(b"HTTP/1.") or not fields[1].isdigit():
            raise _Failure("http", f"not an HTTP/1.x status line: {status_line[:60]!r}")
        status = int(fields[1])
        if 100 <= status < 200 and status != 101:
            continue  # interim response (100 Continue, 103 Early Hints): the real one follows
        break
    length: int | None = None
    chunked = False
    connection = b""
    for line in rest.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        name = name.strip().lower()
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise _Failure("http", f"bad Content-Length {value.strip()[:40]!r}") from None
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            connection = value.strip().lower()
    keep = b"close" not in connection
    if fields[0] == b"HTTP/1.0":
        keep = b"keep-alive" in connection
    if head_only or status in (204, 304):
        return status, keep
    if chunked:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _Failure("http", f"bad chunk size {size_line[:40]!r}") from None
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return status, keep
            await _discard(reader, size + 2)
    if length is not None:
        await _discard(reader, length)
        return status, keep
    while await reader.read(1 << 16):  # no framing: the body ends with the connection
        pass
    return status, False


async def _discard(reader: asyncio.StreamReader, count: int) -> None:
    while count > 0:
        chunk = await reader.readexactly(min(count, 1 << 16))
        count -= len(chunk)


# -- the run -----------------------------------------------------------------------------------
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
        pool: _Pool,
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
        except _Failure as failure:
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
                status, keep = await _read_response(conn.reader, self.head_only)
            except asyncio.IncompleteReadError as exc:
                self.pool.discard(conn)
                if reused and not exc.partial and attempt == 0:
                    continue  # the server closed an idle keep-alive connection: retry once
                if not reused and not exc.partial and self.pool.tls is not None:
                    raise _Failure("tls", _TLS_CLOSED) from None
                raise _Failure("closed", "connection closed before the response ended") from None
            except (ConnectionError, OSError) as exc:
                self.pool.discard(conn)
                if reused and attempt == 0:
                    continue
                if not reused and self.pool.tls is not None:
                    # close_notify, FIN or RST right after the handshake (ssl cannot tell them
                    # apart): the TLS session was refused, as net.py's egress probe says too
                    raise _Failure("tls", f"{_TLS_CLOSED} ({exc.strerror or exc})") from None
                raise _Failure("closed", f"connection lost: {exc.strerror or exc}") from None
            except BaseException:  # timeout, cancel, protocol error: the stream is unusable
                self.pool.discard(conn)
                raise
            conn.used = True
            if keep:
                self.pool.release(conn)
            else:
                self.pool.discard(conn)
            return status
        raise _Failure("closed", "connection closed before the response ended")


_TLS_CLOSED = "the TLS session was closed right after the handshake, before any HTTP answer"


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
        if body is None and method in _BODY_METHODS:
            from preflight.scoring import SAMPLE_PAYLOAD

            body = SAMPLE_PAYLOAD.encode()
        tls = None
        if target.scheme == "https":
            from preflight.clients.net import tls_context

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
        from preflight.clients.net import Proxy

        proxy = Proxy.from_url(proxy)  # UsageError (one line, password masked) when malformed
    if proxy is not None and proxy.error:  # a proxy variable that cannot be used
        raise UsageError(proxy.error)
    proxy_tls = None
    if proxy is not None and proxy.tls:
        from preflight.clients.net import tls_context

        proxy_tls = tls_context(ca_bundle)
    request = build_request(target, method, body, checked)
    pool = _Pool(target, tls, int(pool_size), proxy, proxy_tls, limit_s)
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
                    raise _Stopped
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
    except _Stopped:
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
    from preflight.concurrency import run_in_daemon_thread

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


# -- human output ------------------------------------------------------------------------------
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


__all__ = [
    "Histogram",
    "Target",
    "format_table",
    "load_payload",
    "parse_headers",
    "parse_number",
    "parse_url",
    "redact_url",
    "run_bound_s",
    "run_load",
    "run_load_async",
]
