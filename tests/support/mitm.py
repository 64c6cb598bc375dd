"""A TLS-inspecting HTTP proxy on loopback, like a corporate secure web gateway.

``InspectingProxy`` accepts ``CONNECT host:port``, answers ``200 Connection established``, then
terminates TLS itself with a leaf for ``host`` (or the client's SNI) signed by its own CA
(``.ca``, a ``trustme.CA`` with organization ``Contoso TLS Inspection``), reads the HTTP
request inside the tunnel and answers according to the host's *mode*::

    proxy = InspectingProxy(
        modes={"mcr.microsoft.com": "pass", "blocked.example": "block403"},
        default_mode="502",
        upstream={"mcr.microsoft.com": ("127.0.0.1", tls.port)},  # where "pass" connects
        upstream_ca=tls.ca,                                       # verifies the real origin
    )
    proxy.write_ca_bundle(tmp_path / "inspection.pem")   # what the user would pass as --ca-bundle
    proxy.requests   # [InspectedRequest(method="CONNECT", ...), InspectedRequest("GET", ...)]

Modes (``modes={host_or_*.suffix: mode}``, else ``default_mode``):

- ``"pass"``: opens TLS to the real origin (``upstream[host]``, else ``host:port`` itself),
  verified against ``upstream_ca`` (system roots if None) with the host name, forwards the
  request (``Connection: close``) and relays the origin's bytes verbatim: status line, headers,
  body (chunked or endless included); the client connection is closed after that response.
  If the origin cannot be reached or fails verification, the proxy answers ``502`` itself
  (``error`` in the record says why), as real gateways do.
- ``"502"`` / ``"503"`` / ``"504"``: the proxy answers itself, as when it could not reach the
  origin: ``HTTP/1.1 502 Bad Gateway`` (``503 Service Unavailable``, ``504 Gateway Timeout``)
  with ``Server: ContosoGateway``, ``Content-Type: text/html; charset=utf-8``,
  ``Cache-Control: no-cache``, ``Pragma: no-cache``, ``Content-Length`` and an HTML page titled
  ``Contoso Secure Web Gateway - Error`` naming the host ("The gateway could not connect to the
  requested site", "did not respond in time", "temporarily unavailable").
- ``"block403"`` / ``"block200"``: the proxy's block page with status 403 (``Forbidden``) or
  200 (``OK``), same headers, titled ``Access Denied`` and saying "Access to this site is
  blocked by your organization's policy." with the URL and ``Category: Uncategorized``.

The origin never sees a request in any mode but ``pass``. Plain absolute-URI requests
(``GET http://host:port/path HTTP/1.1``) get the same modes, ``pass`` forwarding them over TCP
to ``upstream[host]`` (else ``host:port``) without TLS. Anything else (a request without an
absolute URI) gets ``400``.

``intermediate=True``: the leaves are signed by an intermediate CA (organization ``Contoso TLS
Inspection``, unit ``Issuing CA 01``) that the root ``.ca`` signed, and the server sends the chain
``leaf + intermediate``, as enterprise appliances do; clients trusting only ``.ca`` verify.

Every request is recorded (``requests``) *before* the answer is sent, so a client that got its
answer sees its record. Client handshakes that fail (the client rejected the inspection CA)
land in ``tls_errors``.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import socketserver
import ssl
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trustme

from ._base import BackgroundServer, close_quietly

__all__ = [
    "GATEWAY_SERVER",
    "INSPECTION_ORG",
    "MODES",
    "InspectedRequest",
    "InspectingProxy",
]

#: Organization of the inspection root (and intermediate) CA.
INSPECTION_ORG = "Contoso TLS Inspection"
#: ``Server`` header of every answer the proxy makes itself.
GATEWAY_SERVER = "ContosoGateway"
MODES = ("pass", "502", "503", "504", "block403", "block200")

_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_HOP_BY_HOP = {
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
}
_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class InspectedRequest:
    """One request the proxy handled (CONNECT, a request inside a tunnel, or a plain one)."""

    method: str  # "CONNECT", "GET", "HEAD", ...
    host: str  # lower-case, no port
    port: int
    path: str  # origin-form path ("" for CONNECT)
    mode: str  # the mode that applied to ``host``
    scheme: str  # "connect" | "https" (inside a tunnel) | "http" (absolute URI)
    status: int | None  # status sent to the client (pass: the origin's)
    sni: str | None = None  # the client's SNI inside the tunnel
    headers: tuple[tuple[str, str], ...] = ()
    error: str | None = None  # pass mode: why the origin could not be used


class _Reader:
    """Buffered reads from a socket without consuming past what is asked."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def head(self) -> bytes | None:
        """Bytes up to and including the blank line; None on EOF before any byte."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > _MAX_HEAD:
                raise ValueError("request head too large")
            if not self._fill():
                if self.buf:
                    raise ValueError("connection closed inside a request head")
                return None
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head + b"\r\n\r\n"

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ValueError("connection closed inside a body")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise ValueError("connection closed inside a chunk")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def chunked(self) -> bytes:
        """A chunked body, returned re-encoded as a single chunk stream (verbatim enough)."""
        out = b""
        while True:
            size_line = self.line()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.line():  # trailers up to the blank line
                    pass
                return out
            out += self.exactly(size)
            self.exactly(2)


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("Connection") or self.header("Proxy-Connection") or "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close"


def _read_request(reader: _Reader) -> _Request | None:
    head = reader.head()
    if head is None:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ValueError(f"bad request line {lines[0]!r}")
    method, target, version = parts
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line!r}")
        headers.append((key.strip(), value.strip()))
    request = _Request(method, target, version, headers, b"")
    if method != "CONNECT":
        length = request.header("Content-Length")
        if (request.header("Transfer-Encoding") or "").lower() == "chunked":
            request.body = reader.chunked()
            request.headers = [
                (k, v) for k, v in headers if k.lower() not in ("transfer-encoding",)
            ] + [("Content-Length", str(len(request.body)))]
        elif length:
            request.body = reader.exactly(int(length))
    return request


def _split_host_port(authority: str, default: int) -> tuple[str, int]:
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else default
        return host.lower(), port
    host, sep, port_text = authority.rpartition(":")
    if not sep:
        return authority.lower(), default
    return host.lower(), int(port_text)


def _page(status: int, host: str, url: str) -> bytes:
    """The gateway's own HTML for ``status`` (error page or block page)."""
    h, u = escape(host), escape(url)
    if status in (200, 403):
        title = "Access Denied"
        text = (
            "<h1>Access Denied</h1>\n"
            "<p>Access to this site is blocked by your organization's policy.</p>\n"
            f"<p>URL: {u}</p>\n<p>Category: Uncategorized</p>\n"
            "<p>If you believe this is an error, contact your IT help desk and quote the "
            "reference below.</p>\n"
            f"<p>Reference: {uuid.uuid4().hex[:16]}</p>\n"
        )
    else:
        title = "Contoso Secure Web Gateway - Error"
        reason = {
            502: f"The gateway could not connect to the requested site {h}.",
            503: f"The requested site {h} is temporarily unavailable.",
            504: f"The requested site {h} did not respond in time.",
        }.get(status, "The request could not be processed.")
        text = (
            f"<h1>{status} {_REASONS.get(status, 'Error')}</h1>\n<p>{reason}</p>\n<p>URL: {u}</p>\n"
        )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n{text}"
        f"<hr><p>{GATEWAY_SERVER} - Contoso Secure Web Gateway</p>\n</body></html>\n"
    ).encode()


def _own_response(status: int, body: bytes, keep_alive: bool, head_only: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        f"Server: {GATEWAY_SERVER}",
        "Content-Type: text/html; charset=utf-8",
        "Cache-Control: no-cache",
        "Pragma: no-cache",
        f"Content-Length: {len(body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head_only else body)


class _TCPServer(socketserver.TCPServer):
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, owner: InspectingProxy) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), socketserver.BaseRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._spawn(self.owner._serve, request, name=f"mitm-{self.owner.port}")


class InspectingProxy(BackgroundServer):
    """A threaded TLS-inspecting proxy on 127.0.0.1 (see module docstring)."""

    def __init__(
        self,
        *,
        modes: Mapping[str, str] | None = None,
        default_mode: str = "pass",
        upstream: Mapping[str, tuple[str, int]] | None = None,
        upstream_ca: trustme.CA | None = None,
        intermediate: bool = False,
        connect_timeout: float = 5.0,
        io_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self.modes = {k.lower(): v for k, v in (modes or {}).items()}
        for mode in [*self.modes.values(), default_mode]:
            if mode not in MODES:
                raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.default_mode = default_mode
        self.upstream = {k.lower(): (v[0], int(v[1])) for k, v in (upstream or {}).items()}
        self.upstream_ca = upstream_ca
        self.connect_timeout = connect_timeout
        self.io_timeout = io_timeout
        #: The root CA a client must trust to accept the proxy's certificates.
        self.ca = trustme.CA(organization_name=INSPECTION_ORG)
        self.intermediate = intermediate
        #: The CA that signs the leaves (an intermediate under ``ca`` with ``intermediate``).
        self.issuer = (
            trustme.CA(
                parent_cert=self.ca,
                organization_name=INSPECTION_ORG,
                organization_unit_name="Issuing CA 01",
            )
            if intermediate
            else self.ca
        )
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._requests: list[InspectedRequest] = []
        self._tls_errors: list[str] = []
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server: _TCPServer | None = None

    # -- public helpers -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the value for ``--proxy`` / ``HTTPS_PROXY``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[InspectedRequest]:
        """Snapshot of every request handled so far, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def connect_targets(self) -> list[str]:
        """``host:port`` of every CONNECT, in order."""
        return [f"{r.host}:{r.port}" for r in self.requests if r.method == "CONNECT"]

    @property
    def inspected(self) -> list[InspectedRequest]:
        """The HTTP requests (not the CONNECTs) the proxy answered or forwarded."""
        return [r for r in self.requests if r.method != "CONNECT"]

    @property
    def tls_errors(self) -> list[str]:
        """Client handshakes that failed (e.g. the client does not trust ``ca``)."""
        with self._lock:
            return list(self._tls_errors)

    def write_ca_bundle(self, path: str | os.PathLike[str]) -> Path:
        """Write the inspection root CA's PEM to ``path`` (what a user passes as --ca-bundle)."""
        path = Path(path)
        path.write_bytes(self.ca.cert_pem.bytes())
        return path

    def mode_for(self, host: str) -> str:
        """The mode that applies to ``host`` (exact name, then the longest ``*.suffix``)."""
        host = host.lower().rstrip(".")
        if host in self.modes:
            return self.modes[host]
        best = ""
        for pattern in self.modes:
            if pattern.startswith("*.") and host.endswith(pattern[1:]) and len(pattern) > len(best):
                best = pattern
        return self.modes[best] if best else self.default_mode

    # -- lifecycle -----------------------------------------------------------------------------
    def _start(self) -> None:
        self._server = _TCPServer(self)
        self.port = self._server.server_address[1]
        self._spawn(self._server.serve_forever, 0.05, name=f"mitm-accept-{self.port}")

    def _stop(self) -> None:
        self._close_socketserver()

    # -- internals -----------------------------------------------------------------------------
    def _record(self, request: InspectedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _context_for(self, name: str) -> ssl.SSLContext:
        name = name.lower()
        with self._lock:
            ctx = self._contexts.get(name)
        if ctx is not None:
            return ctx
        leaf = self.issuer.issue_cert(name, organization_name=INSPECTION_ORG)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        leaf.configure_cert(ctx)  # leaf + intermediate (if any): the chain is sent
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.sni_callback = self._on_sni
        with self._lock:
            self._contexts.setdefault(name, ctx)
            return self._contexts[name]

    def _on_sni(self, sslsock: Any, server_name: str | None, ctx: ssl.SSLContext) -> None:
        with contextlib.suppress(AttributeError):
            sslsock.test_sni = server_name
        if server_name:
            sslsock.context = self._context_for(server_name)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._open.add(conn)
            else:
                self._open.discard(conn)
        if add and self._stopping.is_set():
            close_quietly(conn)

    def _serve(self, raw: socket.socket) -> None:
        self._track(raw, True)
        tls: socket.socket | None = None
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.settimeout(self.io_timeout)
            reader = _Reader(raw)
            first = _read_request(reader)
            if first is None:
                return
            if first.method == "CONNECT":
                tls = self._tunnel(raw, reader, first)
                return
            self._plain(raw, reader, first)
        except Exception:  # noqa: BLE001 - a client vanishing mid-request is not our business
            pass
        finally:
            for sock in (raw, tls):
                if sock is not None:
                    self._track(sock, False)
                    close_quietly(sock)

    def _tunnel(self, raw: socket.socket, reader: _Reader, req: _Request) -> socket.socket | None:
        host, port = _split_host_port(req.target, 443)
        mode = self.mode_for(host)
        self._record(
            InspectedRequest(
                "CONNECT", host, port, "", mode, "connect", 200, None, tuple(req.headers)
            )
        )
        raw.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            tls = self._context_for(host).wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            with self._lock:
                self._tls_errors.append(f"{host}: {exc}")
            return None
        self._track(tls, True)
        sni = getattr(tls, "test_sni", None)
        inner = _Reader(tls)
        while not self._stopping.is_set():
            request = _read_request(inner)
            if request is None:
                break
            if not self._answer(tls, request, host, port, "https", sni):
                break
        return tls

    def _plain(self, raw: socket.socket, reader: _Reader, req: _Request) -> None:
        request: _Request | None = req
        while request is not None and not self._stopping.is_set():
            parts = urlsplit(request.target)
            if parts.scheme != "http" or not parts.hostname:
                self._record(
                    InspectedRequest(
                        request.method,
                        "",
                        0,
                        request.target,
                        "",
                        "http",
                        400,
                        None,
                        tuple(request.headers),
                        "not an absolute http:// URI",
                    )
                )
                raw.sendall(_own_response(400, _page(400, "", request.target), False, False))
                return
            host = parts.hostname.lower()
            port = parts.port or 80
            request.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            if not self._answer(raw, request, host, port, "http", None):
                return
            request = _read_request(reader)

    def _answer(
        self,
        client: socket.socket,
        req: _Request,
        host: str,
        port: int,
        scheme: str,
        sni: str | None,
    ) -> bool:
        """Answer one request per the host's mode; True if the connection may carry another."""
        mode = self.mode_for(host)
        headers = tuple(req.headers)
        url = f"{scheme}://{host}{'' if port in (80, 443) else f':{port}'}{req.target}"
        if mode == "pass":
            self._forward(client, req, host, port, scheme, sni)
            return False
        status = 200 if mode == "block200" else 403 if mode == "block403" else int(mode)
        self._record(
            InspectedRequest(req.method, host, port, req.target, mode, scheme, status, sni, headers)
        )
        keep = req.keep_alive
        client.sendall(_own_response(status, _page(status, host, url), keep, req.method == "HEAD"))
        return keep

    def _forward(
        self,
        client: socket.socket,
        req: _Request,
        host: str,
        port: int,
        scheme: str,
        sni: str | None,
    ) -> None:
        address = self.upstream.get(host, (host, port))
        url = f"{scheme}://{host}:{port}{req.target}"
        upstream: socket.socket | None = None
        try:
            try:
                upstream = socket.create_connection(address, timeout=self.connect_timeout)
                self._track(upstream, True)
                if scheme == "https":
                    ctx = ssl.create_default_context(
                        cadata=self.upstream_ca.cert_pem.bytes().decode()
                        if self.upstream_ca is not None
                        else None
                    )
                    ctx.set_alpn_protocols(["http/1.1"])
                    wrapped = ctx.wrap_socket(upstream, server_hostname=host)
                    self._track(wrapped, True)
                    upstream = wrapped
                upstream.settimeout(self.io_timeout)
                lines = [f"{req.method} {req.target} HTTP/1.1"]
                lines += [f"{k}: {v}" for k, v in req.headers if k.lower() not in _HOP_BY_HOP]
                lines.append("Connection: close")
                upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body)
                reader = _Reader(upstream)
                head = reader.head()
                if head is None:
                    raise OSError("origin closed the connection without a response")
            except (OSError, ssl.SSLError, ValueError) as exc:
                self._record(
                    InspectedRequest(
                        req.method,
                        host,
                        port,
                        req.target,
                        "pass",
                        scheme,
                        502,
                        sni,
                        tuple(req.headers),
                        f"{type(exc).__name__}: {exc}",
                    )
                )
                client.sendall(_own_response(502, _page(502, host, url), False, False))
                return
            status = int(head.split(b" ", 2)[1])
            self._record(
                InspectedRequest(
                    req.method,
                    host,
                    port,
                    req.target,
                    "pass",
                    scheme,
                    status,
                    sni,
                    tuple(req.headers),
                )
            )
            client.sendall(head + reader.buf)
            self._relay(upstream, client)
        finally:
            if upstream is not None:
                self._track(upstream, False)
                close_quietly(upstream)

    def _relay(self, upstream: socket.socket, client: socket.socket) -> None:
        """Copy the origin's bytes to the client until the origin closes (or the client does)."""
        upstream.settimeout(None)
        while not self._stopping.is_set():
            pending = isinstance(upstream, ssl.SSLSocket) and upstream.pending() > 0
            readable, _, _ = select.select([upstream, client], [], [], 0 if pending else 0.2)
            if client in readable:
                try:
                    if not client.recv(65536):
                        return  # the client hung up
                except (OSError, ssl.SSLError):
                    return
            if pending or upstream in readable:
                data = upstream.recv(65536)
                if not data:
                    return
                client.sendall(data)
