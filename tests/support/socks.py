"""A SOCKS5 server (RFC 1928 CONNECT, RFC 1929 username/password) and a TLS front for proxies.

``SocksServer`` is a pure-Python threaded SOCKS5 server on 127.0.0.1 for the proxy-scheme tests::

    with SocksServer() as socks:                           # no authentication
        ... ALL_PROXY=socks.url ("socks5h://127.0.0.1:PORT") ...
        assert socks.connect_targets == ["files.contoso.test:8443"]

    SocksServer(auth=("u", "p"))           # username/password required (method 0x02, RFC 1929)
    SocksServer(resolve={"files.contoso.test": "127.0.0.1"})   # how the *server* resolves names
    SocksServer(reply=0x02)                # answer every CONNECT with this reply code
                                           # (0x02 not allowed by ruleset, 0x05 refused ...)

Each CONNECT is recorded as a ``SocksRequest``: the target as the client sent it (``kind`` is
``domain``, ``ipv4`` or ``ipv6``: whether the client let the server resolve the name), the user
name it authenticated as, and the reply code sent. An unreachable target is answered with the
reply RFC 1928 gives for the error (0x05 refused, 0x04 host unreachable, 0x03 network
unreachable, 0x01 general failure); a name the server cannot resolve gets 0x04.

``TlsFront`` terminates TLS with a certificate from the test CA and relays the plain bytes to
another loopback server (what stunnel does in front of a proxy): an ``https://`` proxy made from
squid or ``MiniConnectProxy``. ``handshakes`` counts the TLS sessions it accepted and
``server_names`` records the SNI each client sent.
"""

from __future__ import annotations

import errno
import ipaddress
import select
import socket
import ssl
import struct
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import trustme

from ._base import LOOPBACK, BackgroundServer, close_quietly

__all__ = ["SocksRequest", "SocksServer", "TlsFront"]

#: RFC 1928 section 6 reply codes
SUCCEEDED = 0x00
GENERAL_FAILURE = 0x01
NOT_ALLOWED = 0x02
NETWORK_UNREACHABLE = 0x03
HOST_UNREACHABLE = 0x04
CONNECTION_REFUSED = 0x05
COMMAND_NOT_SUPPORTED = 0x07
ADDRESS_TYPE_NOT_SUPPORTED = 0x08


@dataclass(frozen=True)
class SocksRequest:
    """One SOCKS request: ``target`` is ``host:port`` as sent (``[v6]:port`` for IPv6)."""

    target: str
    kind: str  # domain | ipv4 | ipv6
    user: str | None
    reply: int


class _Relay(BackgroundServer):
    """Accept loop + one thread per connection, bytes pumped both ways until either side ends."""

    _name = "relay"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    def _start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(128)
        listener.settimeout(0.05)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop, name=f"{self._name}-accept-{self.port}")

    def _stop(self) -> None:
        close_quietly(self._listener)
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            close_quietly(conn)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10)
            self._hold(conn)
            self._spawn(self._serve, conn, name=f"{self._name}-{self.port}")

    def _hold(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)
        if self._stopping.is_set():
            close_quietly(sock)

    def _release(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._open.discard(sock)
        close_quietly(sock)

    def _serve(self, conn: socket.socket) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        a.settimeout(None)
        b.settimeout(None)
        peers = {a: b, b: a}
        try:
            while not self._stopping.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.2)
                for sock in readable:
                    if isinstance(sock, ssl.SSLSocket):
                        data = _ssl_recv(sock)
                        if data is None:
                            continue
                    else:
                        data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
                    # an SSL socket may hold decrypted bytes select() does not see
                    while isinstance(sock, ssl.SSLSocket) and sock.pending():
                        more = sock.recv(sock.pending())
                        if not more:
                            return
                        peers[sock].sendall(more)
        except OSError:
            return


def _ssl_recv(sock: ssl.SSLSocket) -> bytes | None:
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return None
    finally:
        sock.setblocking(True)


class SocksServer(_Relay):
    """A threaded SOCKS5 server on 127.0.0.1 (see the module docstring)."""

    _name = "socks"

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        resolve: Mapping[str, str] | None = None,
        reply: int | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        super().__init__()
        self.auth = auth
        self.resolve = {k.lower(): v for k, v in (resolve or {}).items()}
        self.reply = reply
        self.connect_timeout = connect_timeout
        self._requests: list[SocksRequest] = []
        #: greetings whose offered methods did not include what the server needs
        self.rejected_greetings = 0
        #: username/password attempts that failed (the user names tried)
        self.failed_logins: list[str] = []

    @property
    def url(self) -> str:
        """``socks5h://127.0.0.1:PORT`` (the server resolves names)."""
        return f"socks5h://{self.host}:{self.port}"

    def url_with(self, scheme: str = "socks5h", user: str | None = None, password: str = "") -> str:
        """``SCHEME://[USER:PASSWORD@]127.0.0.1:PORT``."""
        userinfo = f"{user}:{password}@" if user is not None else ""
        return f"{scheme}://{userinfo}{self.host}:{self.port}"

    @property
    def requests(self) -> list[SocksRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def connect_targets(self) -> list[str]:
        return [r.target for r in self.requests]

    def _serve(self, conn: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            user = self._negotiate(conn)
            if user is False:
                return
            upstream = self._connect(conn, user if isinstance(user, str) else None)
            if upstream is not None:
                self._pump(conn, upstream)
        except (OSError, ValueError):
            pass
        finally:
            self._release(upstream)
            self._release(conn)

    def _negotiate(self, conn: socket.socket) -> str | bool | None:
        """The method negotiation and RFC 1929 login: the user name, None (no auth) or False
        (refused: the connection is to be closed)."""
        version, count = _read(conn, 2)
        if version != 5:
            return False
        methods = _read(conn, count)
        wanted = 0x02 if self.auth is not None else 0x00
        if wanted not in methods:
            self.rejected_greetings += 1
            conn.sendall(b"\x05\xff")
            return False
        conn.sendall(bytes([5, wanted]))
        if self.auth is None:
            return None
        (sub_version,) = _read(conn, 1)
        (ulen,) = _read(conn, 1)
        user = _read(conn, ulen).decode("utf-8", "replace")
        (plen,) = _read(conn, 1)
        password = _read(conn, plen).decode("utf-8", "replace")
        if sub_version != 1 or (user, password) != self.auth:
            self.failed_logins.append(user)
            conn.sendall(b"\x01\x01")
            return False
        conn.sendall(b"\x01\x00")
        return user

    def _connect(self, conn: socket.socket, user: str | None) -> socket.socket | None:
        version, command, _reserved, address_type = _read(conn, 4)
        if version != 5:
            return None
        if address_type == 1:
            host = str(ipaddress.IPv4Address(_read(conn, 4)))
            kind = "ipv4"
        elif address_type == 4:
            host = str(ipaddress.IPv6Address(_read(conn, 16)))
            kind = "ipv6"
        elif address_type == 3:
            (length,) = _read(conn, 1)
            host = _read(conn, length).decode("idna")
            kind = "domain"
        else:
            self._answer(conn, ADDRESS_TYPE_NOT_SUPPORTED)
            return None
        (port,) = struct.unpack("!H", _read(conn, 2))
        target = f"[{host}]:{port}" if kind == "ipv6" else f"{host}:{port}"

        def record(reply: int) -> None:
            with self._lock:
                self._requests.append(SocksRequest(target, kind, user, reply))

        if command != 1:
            record(COMMAND_NOT_SUPPORTED)
            self._answer(conn, COMMAND_NOT_SUPPORTED)
            return None
        if self.reply is not None:
            record(self.reply)
            self._answer(conn, self.reply)
            return None
        address = self.resolve.get(host.lower(), host) if kind == "domain" else host
        try:
            upstream = socket.create_connection((address, port), timeout=self.connect_timeout)
        except socket.gaierror:
            record(HOST_UNREACHABLE)
            self._answer(conn, HOST_UNREACHABLE)
            return None
        except OSError as exc:
            code = {
                errno.ECONNREFUSED: CONNECTION_REFUSED,
                errno.EHOSTUNREACH: HOST_UNREACHABLE,
                errno.ENETUNREACH: NETWORK_UNREACHABLE,
            }.get(exc.errno or 0, GENERAL_FAILURE)
            if isinstance(exc, TimeoutError):
                code = HOST_UNREACHABLE
            record(code)
            self._answer(conn, code)
            return None
        self._hold(upstream)
        record(SUCCEEDED)
        bound_host, bound_port = upstream.getsockname()[:2]
        self._answer(conn, SUCCEEDED, bound_host, bound_port)
        return upstream

    @staticmethod
    def _answer(conn: socket.socket, reply: int, host: str = "0.0.0.0", port: int = 0) -> None:
        packed = ipaddress.ip_address(host).packed
        address_type = 1 if len(packed) == 4 else 4
        conn.sendall(bytes([5, reply, 0, address_type]) + packed + struct.pack("!H", port))


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ValueError("the client closed the connection mid-request")
        data += chunk
    return data


class TlsFront(_Relay):
    """TLS on 127.0.0.1 (a leaf from ``ca`` for ``hostnames``) relayed in plain to
    ``upstream`` (``(host, port)``): stunnel in front of an HTTP proxy."""

    _name = "tls-front"

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        ca: trustme.CA | None = None,
        hostnames: Iterable[str] = ("localhost", LOOPBACK),
    ) -> None:
        super().__init__()
        self.upstream = upstream
        self.ca = ca or trustme.CA()
        self.hostnames = tuple(hostnames)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*self.hostnames).configure_cert(self.context)
        self.server_names: list[str | None] = []
        self.handshakes = 0

        def remember(sock: Any, name: str | None, _context: Any) -> None:
            with self._lock:
                self.server_names.append(name)

        self.context.sni_callback = remember

    def url(self, host: str = "localhost", user: str | None = None, password: str = "") -> str:
        """``https://[USER:PASSWORD@]HOST:PORT``."""
        userinfo = f"{user}:{password}@" if user is not None else ""
        return f"https://{userinfo}{host}:{self.port}"

    def _serve(self, conn: socket.socket) -> None:
        tls: ssl.SSLSocket | None = None
        upstream: socket.socket | None = None
        try:
            try:
                tls = self.context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                return
            self._hold(tls)
            with self._lock:
                self.handshakes += 1
            upstream = socket.create_connection(self.upstream, timeout=5)
            self._hold(upstream)
            self._pump(tls, upstream)
        except OSError:
            pass
        finally:
            self._release(upstream)
            self._release(tls)
            self._release(conn)
