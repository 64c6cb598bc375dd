"""Raw HTTP/1.1 over asyncio streams for the load generator: a pool of keep-alive connections
(plain, TLS, or through an HTTP CONNECT proxy) opened only when all are busy, and a minimal
response reader. Why not an HTTP library: see workload/loadgen.py.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl
from typing import Any

from preflight.clients.net import allow_tls_in_tls
from preflight.clients.proxy import credentials_advice
from preflight.workload.request import Target


class Stopped(Exception):
    """The caller asked the run to end early."""


class RequestFailure(Exception):
    """A request that got no usable response; ``kind`` goes into ``errors_by_kind``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Connection:
    __slots__ = ("reader", "writer", "used")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False  # has answered a request (so an EOF now may just be an idle close)

    def alive(self) -> bool:
        return not self.reader.at_eof() and not self.writer.transport.is_closing()

    def abort(self) -> None:
        self.writer.transport.abort()


def connect_failure(exc: BaseException) -> RequestFailure:
    if isinstance(exc, socket.gaierror):
        return RequestFailure("dns", f"cannot resolve host: {exc.strerror or exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return RequestFailure("tls", f"TLS certificate not trusted: {exc.verify_message or exc}")
    if isinstance(exc, ssl.SSLError):
        return RequestFailure("tls", f"TLS handshake failed: {exc.reason or exc}")
    if isinstance(exc, ConnectionRefusedError):
        return RequestFailure("connect", "connection refused")
    if isinstance(exc, OSError):
        return RequestFailure("connect", f"cannot connect: {exc.strerror or exc}")
    return RequestFailure("connect", f"cannot connect: {exc}")


class ConnectionPool:
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
        self.idle: list[Connection] = []
        self.live: set[Connection] = set()
        self.slots = 0  # connections open or being opened
        self.opened = 0
        self.peak = 0
        self.waiters: collections.deque[asyncio.Future[Connection | None]] = collections.deque()
        self._addresses: list[tuple[Any, ...]] | None = None

    async def acquire(self) -> Connection:
        while self.idle:
            conn = self.idle.pop()
            if conn.alive():
                return conn
            self._forget(conn)
            self.slots -= 1
        if self.slots < self.limit:
            self.slots += 1
            return await self._open_in_slot()
        future: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
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

    def release(self, conn: Connection) -> None:
        """A connection is free again: to the longest waiter, else to the idle stack."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self.idle.append(conn)

    def discard(self, conn: Connection) -> None:
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

    def _forget(self, conn: Connection) -> None:
        conn.abort()
        self.live.discard(conn)

    def _free_slot(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.slots -= 1

    async def _open_in_slot(self) -> Connection:
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

    async def _open(self) -> Connection:
        if self.proxy is not None:
            return await self._open_via_proxy()
        try:
            addresses = await self._resolve()
        except OSError as exc:
            raise connect_failure(exc) from None
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
                return Connection(reader, writer)
            except ssl.SSLError as exc:  # the TCP path works: another address will not help
                raise connect_failure(exc) from None
            except OSError as exc:
                last = exc
        raise connect_failure(last or OSError("no address to connect to"))

    async def _open_via_proxy(self) -> Connection:
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
                raise connect_failure(exc) from None
            except TypeError:  # TLS inside an https:// proxy's TLS: asyncio's abort path
                writer.close()
                raise RequestFailure(
                    "tls", f"TLS handshake with {host}:{port} failed inside the proxy's TLS"
                ) from None
        return Connection(reader, writer)

    async def _connect_tunnel(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        proxy, host, port = self.proxy, self.target.host, self.target.port
        try:
            reader, writer = await asyncio.open_connection(proxy.host, proxy.port, limit=1 << 16)
        except OSError as exc:
            raise RequestFailure("proxy", f"proxy {proxy.display}: {exc.strerror or exc}") from None
        if proxy.tls:
            context = self.proxy_tls or ssl.create_default_context()
            try:
                await writer.start_tls(context, server_hostname=proxy.host)
                allow_tls_in_tls(writer)
            except (ssl.SSLError, OSError, TypeError) as exc:
                writer.close()
                why = getattr(exc, "verify_message", "") or str(exc) or type(exc).__name__
                raise RequestFailure(
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
            raise RequestFailure("proxy", f"proxy {proxy.display} broke off the CONNECT") from None
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].startswith("2"):
            writer.close()
            message = (
                f"proxy {proxy.display} answered CONNECT {authority} with "
                f"{' '.join(parts[1:]) or status_line!r}"
            )
            if len(parts) > 1 and parts[1] == "407":
                said, todo = credentials_advice(proxy.display)
                message += f": {said}; {todo}"
            raise RequestFailure("proxy", message)
        return reader, writer

    async def _open_via_socks(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        # on first use: python-socks (~35 ms) stays out of start-up (docs/ARCHITECTURE.md)
        from python_socks import ProxyError, ProxyTimeoutError, ProxyType
        from python_socks.async_.asyncio import Proxy as SocksProxy

        proxy, host, port = self.proxy, self.target.host, self.target.port
        version = 4 if proxy.scheme.startswith("socks4") else 5
        target = host
        if not proxy.remote_dns:
            try:
                addresses = [a[0] for a in await self._resolve()]
            except OSError as exc:
                raise connect_failure(exc) from None
            if version == 4:
                addresses = [a for a in addresses if ":" not in a]
            if not addresses:
                raise RequestFailure(
                    "dns", f"no IPv4 address for {host} to hand to the SOCKS4 proxy"
                )
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
            raise RequestFailure(
                "proxy", f"SOCKS proxy {proxy.display} did not complete CONNECT {shown}"
            ) from None
        except ProxyError as exc:
            code = exc.error_code
            reply = f"reply {code:#04x} {exc}" if code is not None else str(exc)
            message = f"SOCKS proxy {proxy.display} refused CONNECT {shown}: {reply}"
            if code is None and "authentication" in str(exc).lower():
                said, todo = credentials_advice(proxy.display)
                message += f": {said}; {todo}"
            raise RequestFailure("proxy", message) from None
        except OSError as exc:  # python-socks' ProxyConnectionError included
            raise RequestFailure("proxy", f"proxy {proxy.display}: {exc.strerror or exc}") from None
        return await asyncio.open_connection(sock=sock, limit=1 << 16)


async def read_response(reader: asyncio.StreamReader, head_only: bool) -> tuple[int, bool]:
    """Read one whole response; return its status and whether the connection may be reused."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise RequestFailure("http", "response header block over 64 KiB") from None
        status_line, _, rest = head.partition(b"\r\n")
        fields = status_line.split(None, 2)
        if len(fields) < 2 or not fields[0].startswith(b"HTTP/1.") or not fields[1].isdigit():
            raise RequestFailure("http", f"not an HTTP/1.x status line: {status_line[:60]!r}")
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
                raise RequestFailure("http", f"bad Content-Length {value.strip()[:40]!r}") from None
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
                raise RequestFailure("http", f"bad chunk size {size_line[:40]!r}") from None
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return status, keep
            await discard_bytes(reader, size + 2)
    if length is not None:
        await discard_bytes(reader, length)
        return status, keep
    while await reader.read(1 << 16):  # no framing: the body ends with the connection
        pass
    return status, False


async def discard_bytes(reader: asyncio.StreamReader, count: int) -> None:
    while count > 0:
        chunk = await reader.readexactly(min(count, 1 << 16))
        count -= len(chunk)


TLS_CLOSED = "the TLS session was closed right after the handshake, before any HTTP answer"
