"""Peers that break the HTTP(S) contract in the ways real networks do, on loopback.

``MisbehavingServer(behaviour, *, tls=False, hostnames=("localhost",), ca=None, ...)``:

- ``"endless_body"``: reads the request, answers ``HTTP/1.1 200 OK`` and streams the body
  forever (``chunk`` every ``interval`` seconds) until the client hangs up or the server stops.
  ``framing="chunked"`` (``Transfer-Encoding: chunked``, the default), ``"length"``
  (``Content-Length: 1000000000000``) or ``"eof"`` (no length, ``Connection: close``).
- ``"stalled_chunked"``: ``200`` with ``Transfer-Encoding: chunked``, sends the first chunk
  (``chunk``) and then nothing, holding the connection open: a client reading the whole body
  waits forever.
- ``"garbage"``: reads the request head and answers ``garbage`` (default: bytes that are no HTTP
  at all) then closes. Sent to a CONNECT it is a "proxy" that answers garbage (the
  ``garbage_proxy`` fixture).
- ``"no_response"``: reads the request head and closes without a byte.
- ``"tls_abort"`` (implies ``tls=True``): completes a TLS 1.3 handshake and, before reading
  the request, aborts: ``abort="close_notify"`` (a TLS close_notify alert, then FIN; the
  default), ``"fin"`` (TCP close without any TLS alert) or ``"rst"`` (TCP reset).

With ``tls=True`` the server presents a leaf for ``hostnames`` signed by ``ca`` (a new
``trustme.CA`` if None) and the behaviour happens inside TLS. Records: ``connections``,
``request_lines`` (first line of every request head read), ``handshakes`` (TLS versions),
``bytes_sent`` (body bytes sent by ``endless_body``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import trustme

from ._base import BackgroundServer, close_quietly
from .tls import write_ca_bundle

__all__ = ["BEHAVIOURS", "DEFAULT_GARBAGE", "MisbehavingServer"]

BEHAVIOURS = ("endless_body", "stalled_chunked", "garbage", "no_response", "tls_abort")

#: What ``"garbage"`` answers by default: binary junk that no HTTP parser accepts.
DEFAULT_GARBAGE = b"\x00\x13\x37 GARBAGE \xff\xfe this is not HTTP \x00\r\n\r\n"


class _TCPServer(socketserver.TCPServer):
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, owner: MisbehavingServer) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), socketserver.BaseRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._spawn(self.owner._serve, request, name=f"misbehave-{self.owner.port}")


class MisbehavingServer(BackgroundServer):
    """A loopback server that misbehaves as told (see module docstring)."""

    def __init__(
        self,
        behaviour: str,
        *,
        tls: bool = False,
        hostnames: Iterable[str] = ("localhost",),
        ca: trustme.CA | None = None,
        framing: str = "chunked",
        chunk: bytes = b"x" * 1024,
        interval: float = 0.01,
        garbage: bytes = DEFAULT_GARBAGE,
        abort: str = "close_notify",
    ) -> None:
        super().__init__()
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {BEHAVIOURS}, not {behaviour!r}")
        if framing not in ("chunked", "length", "eof"):
            raise ValueError("framing must be 'chunked', 'length' or 'eof'")
        if abort not in ("close_notify", "fin", "rst"):
            raise ValueError("abort must be 'close_notify', 'fin' or 'rst'")
        self.behaviour = behaviour
        self.tls = tls or behaviour == "tls_abort"
        self.framing = framing
        self.chunk = chunk
        self.interval = interval
        self.garbage = garbage
        self.abort = abort
        self.hostnames = list(hostnames)
        self.ca = ca if ca is not None else trustme.CA()
        self.ssl_context: ssl.SSLContext | None = None
        if self.tls:
            self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ca.issue_cert(*self.hostnames).configure_cert(self.ssl_context)
            self.ssl_context.set_alpn_protocols(["http/1.1"])
            if behaviour == "tls_abort":
                self.ssl_context.minimum_version = ssl.TLSVersion.TLSv1_3
        self.connections = 0
        self.bytes_sent = 0
        self._request_lines: list[str] = []
        self._handshakes: list[str] = []
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server: _TCPServer | None = None

    # -- public helpers -------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT``."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def url_for(self, hostname: str, path: str = "/") -> str:
        """``scheme://hostname:PORT/path`` (resolve ``hostname`` to 127.0.0.1 yourself)."""
        return f"{self.scheme}://{hostname}:{self.port}{path}"

    @property
    def request_lines(self) -> list[str]:
        """First line of every request head read, e.g. ``"GET / HTTP/1.1"``."""
        with self._lock:
            return list(self._request_lines)

    @property
    def handshakes(self) -> list[str]:
        """TLS version of every completed handshake (``"TLSv1.3"``)."""
        with self._lock:
            return list(self._handshakes)

    def write_ca_bundle(self, path: str | os.PathLike[str]) -> Path:
        """Write the PEM of ``ca`` to ``path``."""
        return write_ca_bundle(self.ca, path)

    # -- lifecycle -----------------------------------------------------------------------------
    def _start(self) -> None:
        self._server = _TCPServer(self)
        self.port = self._server.server_address[1]
        self._spawn(self._server.serve_forever, 0.05, name=f"misbehave-accept-{self.port}")

    def _stop(self) -> None:
        self._close_socketserver()

    # -- per connection ------------------------------------------------------------------------
    def _serve(self, raw: socket.socket) -> None:
        with self._lock:
            self.connections += 1
        self._track(raw, True)
        conn: socket.socket = raw
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.settimeout(10)
            if self.ssl_context is not None:
                try:
                    conn = self.ssl_context.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                self._track(conn, True)
                with self._lock:
                    self._handshakes.append(str(conn.version()))  # type: ignore[attr-defined]
            if self.behaviour == "tls_abort":
                self._abort(conn)
                return
            if not self._read_head(conn):
                return
            getattr(self, f"_do_{self.behaviour}")(conn)
        except Exception:  # noqa: BLE001 - the client going away is the expected end
            pass
        finally:
            for sock in {raw, conn}:
                self._track(sock, False)
                close_quietly(sock)

    def _read_head(self, conn: socket.socket) -> bool:
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            data = conn.recv(65536)
            if not data:
                return False
            buf += data
        with self._lock:
            self._request_lines.append(buf.split(b"\r\n", 1)[0].decode("latin-1"))
        return True

    def _hold(self, conn: socket.socket) -> None:
        """Keep the connection open, reading and discarding, until the peer or stop() ends it."""
        conn.settimeout(0.2)
        while not self._stopping.is_set():
            try:
                if not conn.recv(65536):
                    return
            except TimeoutError:
                continue

    def _do_endless_body(self, conn: socket.socket) -> None:
        head = ["HTTP/1.1 200 OK", "Content-Type: application/octet-stream"]
        if self.framing == "chunked":
            head.append("Transfer-Encoding: chunked")
        elif self.framing == "length":
            head.append("Content-Length: 1000000000000")
        else:
            head.append("Connection: close")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        piece = (
            f"{len(self.chunk):x}\r\n".encode() + self.chunk + b"\r\n"
            if self.framing == "chunked"
            else self.chunk
        )
        while not self._stopping.is_set():
            conn.sendall(piece)
            with self._lock:
                self.bytes_sent += len(self.chunk)
            if self.interval and self._stopping.wait(self.interval):
                return

    def _do_stalled_chunked(self, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            + f"{len(self.chunk):x}\r\n".encode()
            + self.chunk
            + b"\r\n"
        )
        self._hold(conn)

    def _do_garbage(self, conn: socket.socket) -> None:
        conn.sendall(self.garbage)

    def _do_no_response(self, conn: socket.socket) -> None:
        return

    def _abort(self, conn: socket.socket) -> None:
        if self.abort == "close_notify":
            conn.settimeout(1)  # unwrap() waits (briefly) for the peer's close_notify
            with contextlib.suppress(OSError, ssl.SSLError):
                conn.unwrap()  # type: ignore[attr-defined]
        elif self.abort == "rst":
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # with linger 0: RST instead of FIN
        # "fin": the finally block's shutdown+close sends a plain FIN, no TLS alert
