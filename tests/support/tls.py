"""Loopback HTTP(S) servers with a trustme test CA, for egress probes.

``TlsHttpServer`` presents a leaf certificate for the given host names (SANs), signed by a
``trustme.CA`` that the test hands to the tool with ``--ca-bundle`` (``write_ca_bundle``). It
answers *any* request method with the configured status and records what it saw::

    ca = trustme.CA()
    with TlsHttpServer(hostnames=["mcr.microsoft.com"], ca=ca, status=204) as srv:
        # point DNS for mcr.microsoft.com at 127.0.0.1, use port srv.port
        ...
        srv.requests[0]  # HttpRequest(method="HEAD", path="/", host="mcr.microsoft.com:PORT",
                         #             sni="mcr.microsoft.com", ...)

Variants (keyword arguments):

- ``untrusted=True``: the leaf is signed by a *different* CA named ``O=Contoso Inspection CA``
  (``srv.issuer_ca``), like a TLS-inspecting proxy; clients trusting ``ca`` fail verification.
- ``expired=True``: signed by ``ca`` but valid only from 30 days ago until yesterday.
- ``tls_then_silence=True``: completes the TLS handshake (SNI recorded) and never sends HTTP.
- ``accept_then_silence=True``: accepts TCP and never sends a byte (TLS handshake never ends).
- ``handshake_delay=0.1``: waits that long before answering the ClientHello (a distant peer).

``HttpServer`` is the plain-HTTP twin (port-80-style hosts); it records requests the same way.

Different answers per request (both servers): ``routes`` maps ``"/path"`` or ``"METHOD /path"``
to a response ``(status, headers, body)`` or to a callable ``request -> response``; a path with a
query string also matches its bare-path key. ``responder`` is a callable ``HttpRequest ->
(status, headers, body) | None`` consulted first (``None``: fall through). Anything unmatched
gets ``status``/``headers``/``body``. ``support.azure_services`` has ready-made responses::

    TlsHttpServer(["myacr.azurecr.io"], ca, status=404,
                  routes={"/v2/": azure_services.acr_v2_challenge("myacr.azurecr.io")})

Handshakes the *client* aborts (e.g. "unknown ca") are recorded in ``tls_errors``, so a test can
show the client really connected and rejected the certificate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import trustme

from ._base import BackgroundServer, close_quietly

__all__ = [
    "INSPECTION_CA_NAME",
    "Handshake",
    "HttpRequest",
    "HttpServer",
    "Response",
    "Responder",
    "TlsHttpServer",
    "client_ssl_context",
    "write_ca_bundle",
]

#: Organization name of the CA that signs ``untrusted=True`` certificates.
INSPECTION_CA_NAME = "Contoso Inspection CA"

_NO_BODY_STATUSES = {204, 304}

#: What a route or responder answers: ``(status, headers, body)``; a ``str`` body is UTF-8.
Response = tuple[int, Mapping[str, str], bytes | str]
#: ``request -> response``, or ``None`` to fall through to ``routes`` and the default answer.
Responder = Callable[["HttpRequest"], Response | None]


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request a server answered."""

    method: str
    path: str
    host: str | None  # the Host header
    sni: str | None  # TLS server name the client sent (None: plain HTTP or no SNI)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Handshake:
    """One completed TLS handshake."""

    sni: str | None
    version: str | None
    alpn: str | None


def write_ca_bundle(ca: trustme.CA, path: str | os.PathLike[str], *more: trustme.CA) -> Path:
    """Write the PEM of ``ca`` (and of any ``more`` CAs) to ``path`` for ``--ca-bundle``."""
    path = Path(path)
    path.write_bytes(b"".join(c.cert_pem.bytes() for c in (ca, *more)))
    return path


def client_ssl_context(ca: trustme.CA | None = None) -> ssl.SSLContext:
    """A verifying client context trusting ``ca`` (system roots if None)."""
    ctx = ssl.create_default_context()
    if ca is not None:
        ctx = ssl.create_default_context(cadata=ca.cert_pem.bytes().decode())
    return ctx


class _Handler(BaseHTTPRequestHandler):
    """Answers every method with the owner's status; records the request."""

    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    timeout = 30  # socket timeout for idle keep-alive connections
    server: _Server

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._respond
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # keep test output clean

    def _respond(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        sni = getattr(self.connection, "test_sni", None)
        request = HttpRequest(
            method=self.command,
            path=self.path,
            host=self.headers.get("Host"),
            sni=sni,
            headers={k: v for k, v in self.headers.items()},
            body=body,
        )
        owner._record(request)
        status, headers, payload = owner._answer(request)
        given = {k.lower() for k in headers}
        self.send_response_only(status)
        if "server" not in given:  # a route's own Server/Date replace the stdlib's
            self.send_header("Server", self.version_string())
        if "date" not in given:
            self.send_header("Date", self.date_time_string())
        for key, value in headers.items():
            self.send_header(key, value)
        if (
            status not in _NO_BODY_STATUSES
            and not 100 <= status < 200
            and not given & {"content-length", "transfer-encoding"}
        ):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and status not in _NO_BODY_STATUSES:
            self.wfile.write(payload)


class _Server(HTTPServer):
    """An HTTPServer whose per-connection work (TLS handshake included) runs in owner threads."""

    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, owner: HttpServer) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._spawn(
            self.owner._serve_connection, request, client_address, name=f"http-{self.owner.port}"
        )


class HttpServer(BackgroundServer):
    """A threaded plain-HTTP server on 127.0.0.1 answering any request with ``status``."""

    scheme = "http"

    def __init__(
        self,
        status: int = 204,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        accept_then_silence: bool = False,
        routes: Mapping[str, Response | Responder] | None = None,
        responder: Responder | None = None,
    ) -> None:
        super().__init__()
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})
        self.body = body
        self.accept_then_silence = accept_then_silence
        #: ``"/path"`` or ``"METHOD /path"`` -> response or ``request -> response``.
        self.routes: dict[str, Response | Responder] = dict(routes or {})
        self.responder = responder
        self.connections = 0
        self._requests: list[HttpRequest] = []
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server: _Server | None = None

    # -- records -------------------------------------------------------------------------------
    @property
    def requests(self) -> list[HttpRequest]:
        """Snapshot of the requests answered so far."""
        with self._lock:
            return list(self._requests)

    def _record(self, request: HttpRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _answer(self, request: HttpRequest) -> tuple[int, Mapping[str, str], bytes]:
        """``responder``, then ``routes`` (method+path, path, bare path), then the default."""
        found: Response | None = None
        if self.responder is not None:
            found = self.responder(request)
        if found is None:
            bare = request.path.split("?", 1)[0]
            for key in (
                f"{request.method} {request.path}",
                request.path,
                f"{request.method} {bare}",
                bare,
            ):
                if key in self.routes:
                    route = self.routes[key]
                    found = route(request) if callable(route) else route
                    if found is not None:
                        break
        if found is None:
            return self.status, self.headers, self.body
        status, headers, body = found
        return int(status), dict(headers), body.encode() if isinstance(body, str) else body

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT``."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def url_for(self, hostname: str, path: str = "/") -> str:
        """``scheme://hostname:PORT/path`` (resolve ``hostname`` to 127.0.0.1 yourself)."""
        return f"{self.scheme}://{hostname}:{self.port}{path}"

    # -- lifecycle -----------------------------------------------------------------------------
    def _start(self) -> None:
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self._spawn(self._server.serve_forever, 0.05, name=f"http-accept-{self.port}")

    def _stop(self) -> None:
        self._close_socketserver()

    # -- per connection ------------------------------------------------------------------------
    def _hold(self, conn: socket.socket) -> None:
        """Read and discard until the peer closes or the server stops; never write."""
        conn.settimeout(0.2)
        while not self._stopping.is_set():
            try:
                if not conn.recv(65536):
                    return
            except TimeoutError:
                continue
            except (OSError, ssl.SSLError):
                return

    def _serve_connection(self, raw: socket.socket, client_address: Any) -> None:
        with self._lock:
            self.connections += 1
        self._track(raw, True)
        conn: socket.socket | None = None
        try:
            if self.accept_then_silence:
                self._hold(raw)
                return
            conn = self._wrap(raw)
            if conn is None:
                return
            assert self._server is not None
            _Handler(conn, client_address, self._server)
        except Exception:  # noqa: BLE001 - a client vanishing mid-request is not our business
            pass
        finally:
            for sock in (raw, conn):
                if sock is not None:
                    self._track(sock, False)
                    close_quietly(sock)

    def _wrap(self, conn: socket.socket) -> socket.socket | None:
        return conn  # plain HTTP


class TlsHttpServer(HttpServer):
    """A threaded HTTPS server on 127.0.0.1 (see module docstring)."""

    scheme = "https"

    def __init__(
        self,
        hostnames: Iterable[str] = ("localhost",),
        ca: trustme.CA | None = None,
        status: int = 204,
        *,
        untrusted: bool = False,
        expired: bool = False,
        tls_then_silence: bool = False,
        accept_then_silence: bool = False,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        handshake_timeout: float = 10.0,
        handshake_delay: float = 0.0,
        routes: Mapping[str, Response | Responder] | None = None,
        responder: Responder | None = None,
    ) -> None:
        """``ca`` is the CA clients are meant to trust (a new one if None)."""
        super().__init__(
            status,
            headers=headers,
            body=body,
            accept_then_silence=accept_then_silence,
            routes=routes,
            responder=responder,
        )
        self.hostnames = list(hostnames)
        if not self.hostnames:
            raise ValueError("TlsHttpServer needs at least one hostname")
        self.ca = ca if ca is not None else trustme.CA()
        #: The CA that actually signed the leaf (``ca`` unless ``untrusted``).
        self.issuer_ca = trustme.CA(organization_name=INSPECTION_CA_NAME) if untrusted else self.ca
        self.untrusted = untrusted
        self.expired = expired
        self.tls_then_silence = tls_then_silence
        self.handshake_timeout = handshake_timeout
        #: seconds the server waits before answering the ClientHello (a far-away TLS peer)
        self.handshake_delay = handshake_delay
        not_before = not_after = None
        if expired:
            now = dt.datetime.now(dt.UTC)
            not_before, not_after = now - dt.timedelta(days=30), now - dt.timedelta(days=1)
        self.leaf = self.issuer_ca.issue_cert(
            *self.hostnames, not_before=not_before, not_after=not_after
        )
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.leaf.configure_cert(self.ssl_context)
        self.ssl_context.set_alpn_protocols(["http/1.1"])
        self.ssl_context.sni_callback = _remember_sni
        self._handshakes: list[Handshake] = []
        self._tls_errors: list[str] = []

    @property
    def handshakes(self) -> list[Handshake]:
        """Snapshot of the completed TLS handshakes."""
        with self._lock:
            return list(self._handshakes)

    @property
    def sni_names(self) -> list[str | None]:
        """The SNI of every completed handshake, in order."""
        return [h.sni for h in self.handshakes]

    @property
    def tls_errors(self) -> list[str]:
        """Handshakes that failed on the server side (often: the client rejected our cert)."""
        with self._lock:
            return list(self._tls_errors)

    def write_ca_bundle(self, path: str | os.PathLike[str]) -> Path:
        """Write the PEM of the CA clients should trust (``self.ca``) to ``path``."""
        return write_ca_bundle(self.ca, path)

    def _wrap(self, conn: socket.socket) -> socket.socket | None:
        conn.settimeout(self.handshake_timeout)
        if self.handshake_delay:
            self._stopping.wait(self.handshake_delay)
        try:
            tls = self.ssl_context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            with self._lock:
                self._tls_errors.append(str(exc))
            return None
        self._track(tls, True)
        tls.settimeout(None)
        with self._lock:
            self._handshakes.append(
                Handshake(
                    sni=getattr(tls, "test_sni", None),
                    version=tls.version(),
                    alpn=tls.selected_alpn_protocol(),
                )
            )
        if self.tls_then_silence:
            try:
                self._hold(tls)
            finally:
                self._track(tls, False)
                close_quietly(tls)
            return None
        return tls


def _remember_sni(sslsock: Any, server_name: str | None, ctx: ssl.SSLContext) -> None:
    """``sni_callback``: stash the client's server name on the socket for the handler."""
    with contextlib.suppress(AttributeError):  # an SSLObject without __dict__
        sslsock.test_sni = server_name
