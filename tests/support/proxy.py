"""HTTP CONNECT proxies on loopback: real tinyproxy (main) and a tiny pure-Python one.

``Tinyproxy`` runs the ``tinyproxy`` binary (apt package ``tinyproxy``, tested with 1.11.1) in
the foreground (``tinyproxy -d -c CONF``) with a generated config on a free 127.0.0.1 port::

    with Tinyproxy(connect_ports=[tls.port]) as proxy:      # CONNECT only to tls.port
        ... --proxy proxy.url ...
        assert proxy.connect_targets == [f"mcr.microsoft.com:{tls.port}"]

    Tinyproxy(connect_ports=[])            # refuses every CONNECT: "403 Access violation"
    Tinyproxy(connect_ports=None)          # no ConnectPort line: CONNECT to any port
    Tinyproxy(auth=("user", "pass"))       # no credentials -> 407; *wrong* ones -> 401 (!)
    Tinyproxy(hosts={"mcr.microsoft.com": "127.0.0.1"})   # how the *proxy* resolves names

tinyproxy facts this module relies on (checked against 1.11.1):

- No ``ConnectPort`` line at all means CONNECT to *every* port is allowed. To refuse all, the
  config carries ``ConnectPort 0``: a real port never matches it (a CONNECT to ``host:0`` is
  treated as port 443 and also refused).
- A refused CONNECT is answered ``HTTP/1.1 403 Access violation`` and logged as
  ``Refused CONNECT method on port N``.
- An allowed CONNECT whose target does not resolve or does not accept is answered
  ``HTTP/1.1 500 Unable to connect``; success is ``HTTP/1.0 200 Connection established``.
- With ``BasicAuth``, a request without ``Proxy-Authorization`` gets ``407``, but one with
  *wrong* credentials gets ``401 Unauthorized`` (with ``WWW-Authenticate``), not 407.
- Running as root it only warns ("You SHOULD set a UserName") and keeps running as root, so
  no ``User``/``Group`` lines are written (with them it could not write the log in our temp dir).
- The proxy resolves CONNECT targets with the system resolver (``getaddrinfo``), *not* with the
  test's DNS server. Pass ``hosts={name: ip}`` to run tinyproxy in a private mount namespace
  (``unshare --mount``, needs root) with a generated file bind-mounted over ``/etc/hosts``;
  without it, use names the system already maps to loopback (``localhost``) or IP literals.
- The log is written line by line (no buffering), so ``requests`` is up to date as soon as the
  client has its answer.

``MiniConnectProxy`` is a pure-Python threaded CONNECT proxy for cases tinyproxy cannot cover
(no binary, no root for ``hosts``): it can refuse every CONNECT with a chosen status, require
credentials (407), map names to addresses, and records CONNECT targets.
"""

from __future__ import annotations

import base64
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from ._base import (
    LOOPBACK,
    BackgroundServer,
    ForegroundDaemon,
    close_quietly,
    tail,
)

__all__ = ["MiniConnectProxy", "ProxyRequest", "Tinyproxy", "ToolUnavailable"]


class ToolUnavailable(RuntimeError):
    """The external binary (or privilege) a helper needs is missing; fixtures skip on it."""


@dataclass(frozen=True)
class ProxyRequest:
    """One request line a proxy received, e.g. ``("CONNECT", "mcr.microsoft.com:443")``."""

    method: str
    target: str


_REQUEST_RE = re.compile(r"Request \(file descriptor \d+\): (\S+) (\S+) HTTP/")
_REFUSED_RE = re.compile(r"Refused CONNECT method on port (\d+)")
_READY_MARK = "Accepting connections"
_BIND_ERRORS = ("Address already in use", "Could not create listening sockets", "bind")


class _ProxyBase(BackgroundServer):
    auth: tuple[str, str] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no credentials)."""
        return f"http://{self.host}:{self.port}"

    def url_with_credentials(self, user: str | None = None, password: str | None = None) -> str:
        """``http://USER:PASS@127.0.0.1:PORT`` (defaults: the configured ``auth``)."""
        if user is None or password is None:
            if self.auth is None:
                raise ValueError("no credentials configured or given")
            user, password = self.auth
        return f"http://{user}:{password}@{self.host}:{self.port}"

    @property
    def requests(self) -> list[ProxyRequest]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def connect_targets(self) -> list[str]:
        """``host:port`` of every CONNECT received (allowed or not), in order."""
        return [r.target for r in self.requests if r.method == "CONNECT"]


class Tinyproxy(ForegroundDaemon, _ProxyBase):
    """The real tinyproxy on a free loopback port (see module docstring)."""

    daemon = "tinyproxy"
    bind_errors = _BIND_ERRORS

    def __init__(
        self,
        connect_ports: Iterable[int] | None = (443,),
        *,
        auth: tuple[str, str] | None = None,
        hosts: Mapping[str, str] | None = None,
        max_clients: int = 100,
        timeout: int = 30,
        workdir: str | os.PathLike[str] | None = None,
        start_timeout: float = 10.0,
        binary: str | None = None,
    ) -> None:
        """``connect_ports``: ports CONNECT may reach; ``[]`` refuses all, ``None`` allows all."""
        super().__init__()
        self.binary = binary or shutil.which("tinyproxy") or ""
        if not self.binary:
            raise ToolUnavailable("tinyproxy not found (apt-get install -y tinyproxy)")
        if hosts and not _can_unshare():
            raise ToolUnavailable("Tinyproxy(hosts=...) needs root and unshare(1) --mount")
        self.connect_ports = None if connect_ports is None else [int(p) for p in connect_ports]
        self.auth = auth
        self.hosts = dict(hosts or {})
        self.max_clients = max_clients
        self.timeout = timeout
        self.start_timeout = start_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="tinyproxy-"))
        self.conf_path = self.workdir / "tinyproxy.conf"
        self.log_path = self.workdir / "tinyproxy.log"
        self.stderr_path = self.workdir / "tinyproxy.stderr"
        self.hosts_path = self.workdir / "hosts"
        self.proc: subprocess.Popen[bytes] | None = None

    # -- config ---------------------------------------------------------------------------------
    def config_text(self) -> str:
        """The tinyproxy.conf this instance runs with."""
        lines = [
            f"Port {self.port}",
            f"Listen {LOOPBACK}",
            f"Timeout {self.timeout}",
            f'LogFile "{self.log_path}"',
            "LogLevel Info",
            f"MaxClients {self.max_clients}",
            f"Allow {LOOPBACK}",
        ]
        if self.connect_ports is not None:
            # No ConnectPort line would allow every port; "0" never matches a real one.
            lines += [f"ConnectPort {p}" for p in (self.connect_ports or [0])]
        if self.auth is not None:
            lines.append(f"BasicAuth {self.auth[0]} {self.auth[1]}")
        return "\n".join(lines) + "\n"

    def _command(self) -> list[str]:
        cmd = [self.binary, "-d", "-c", str(self.conf_path)]
        if not self.hosts:
            return cmd
        entries = ["127.0.0.1 localhost", "::1 localhost"]
        entries += [f"{ip} {name}" for name, ip in self.hosts.items()]
        self.hosts_path.write_text("\n".join(entries) + "\n")
        script = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
        # unshare --mount makes mounts private by default: the host's /etc/hosts is untouched.
        return ["unshare", "--mount", "sh", "-c", script, "sh", str(self.hosts_path), *cmd]

    # -- lifecycle -----------------------------------------------------------------------------
    def _launch(self) -> tuple[list[str], Path]:
        self.conf_path.write_text(self.config_text())
        for path in (self.log_path, self.stderr_path):
            path.unlink(missing_ok=True)
        return self._command(), self.stderr_path

    def _ready(self) -> bool:
        return (
            self.proc is not None
            and self.proc.poll() is None
            and _READY_MARK in tail(self.log_path, 200)
        )

    def _diagnostics(self) -> str:
        rc = None if self.proc is None else self.proc.poll()
        return (
            f"exit code: {rc}\n--- config ---\n{self.config_text()}"
            f"--- log tail ---\n{tail(self.log_path)}\n--- stderr ---\n{tail(self.stderr_path)}"
        )

    def _cleanup_files(self) -> None:
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop(self) -> None:
        self._kill()
        self._last_log = self.log_text()  # after exit: the log is complete
        self._cleanup_files()

    # -- records -------------------------------------------------------------------------------
    def log_text(self) -> str:
        """The whole tinyproxy log so far (after ``stop()``: as it was at stop)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return getattr(self, "_last_log", "")

    @property
    def requests(self) -> list[ProxyRequest]:
        """Every request line tinyproxy logged (CONNECT and plain), in order."""
        return [ProxyRequest(*m.groups()) for m in _REQUEST_RE.finditer(self.log_text())]

    @property
    def refused_ports(self) -> list[int]:
        """Ports of CONNECTs refused by ``ConnectPort`` rules (answered 403)."""
        return [int(p) for p in _REFUSED_RE.findall(self.log_text())]

    @property
    def errors(self) -> list[str]:
        """ERROR lines of the log (e.g. "Could not establish a connection to ...")."""
        return [line for line in self.log_text().splitlines() if line.startswith("ERROR")]


def _can_unshare() -> bool:
    return os.geteuid() == 0 and bool(shutil.which("unshare")) and bool(shutil.which("mount"))


# ---------------------------------------------------------------------------------------------
# MiniConnectProxy
# ---------------------------------------------------------------------------------------------
class _ConnectHandler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    timeout = 30
    rbufsize = 0  # never read past the CONNECT head: the tunnel bytes belong to upstream
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _reply(self, status: int, extra: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def do_CONNECT(self) -> None:  # noqa: N802 - stdlib naming
        owner = self.server.owner
        owner._record(ProxyRequest("CONNECT", self.path))
        if owner.auth is not None:
            token = base64.b64encode(f"{owner.auth[0]}:{owner.auth[1]}".encode()).decode()
            if self.headers.get("Proxy-Authorization", "") != f"Basic {token}":
                self._reply(407, {"Proxy-Authenticate": 'Basic realm="mini"'})
                return
        if owner.refuse_status is not None:
            self._reply(owner.refuse_status)
            return
        host, _, port_text = self.path.rpartition(":")
        host = host.strip("[]")
        try:
            port = int(port_text)
        except ValueError:
            self._reply(400)
            return
        address = owner.resolve.get(host.lower(), host)
        try:
            upstream = socket.create_connection((address, port), timeout=owner.connect_timeout)
        except OSError:
            self._reply(502)
            return
        try:
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            owner._pump(self.connection, upstream)
        finally:
            close_quietly(upstream)
        self.close_connection = True

    def _not_supported(self) -> None:
        self.server.owner._record(ProxyRequest(self.command, self.path))
        self._reply(501)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = _not_supported  # noqa: N815


class _ProxyServer(HTTPServer):
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, owner: MiniConnectProxy) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), _ConnectHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._spawn(
            self.owner._serve_connection, request, client_address, name=f"proxy-{self.owner.port}"
        )


class MiniConnectProxy(_ProxyBase):
    """A pure-Python threaded HTTP CONNECT proxy on 127.0.0.1.

    ``refuse_status``: answer every CONNECT with this status (e.g. 403) instead of tunnelling.
    ``auth``: require ``Proxy-Authorization: Basic`` with these credentials (else 407).
    ``resolve``: ``{name: ip}`` used for CONNECT targets; other names go to the system resolver.
    Unreachable targets get 502. Non-CONNECT requests get 501.
    """

    def __init__(
        self,
        *,
        refuse_status: int | None = None,
        auth: tuple[str, str] | None = None,
        resolve: Mapping[str, str] | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        super().__init__()
        self.refuse_status = refuse_status
        self.auth = auth
        self.resolve = {k.lower(): v for k, v in (resolve or {}).items()}
        self.connect_timeout = connect_timeout
        self._requests: list[ProxyRequest] = []
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server: _ProxyServer | None = None

    @property
    def requests(self) -> list[ProxyRequest]:
        """Every request received, in order."""
        with self._lock:
            return list(self._requests)

    def _record(self, request: ProxyRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _start(self) -> None:
        self._server = _ProxyServer(self)
        self.port = self._server.server_address[1]
        self._spawn(self._server.serve_forever, 0.05, name=f"proxy-accept-{self.port}")

    def _stop(self) -> None:
        self._close_socketserver()

    def _serve_connection(self, conn: socket.socket, client_address: Any) -> None:
        with self._lock:
            self._open.add(conn)
        try:
            if not self._stopping.is_set():
                assert self._server is not None
                _ConnectHandler(conn, client_address, self._server)
        except Exception:  # noqa: BLE001 - a client vanishing mid-request
            pass
        finally:
            with self._lock:
                self._open.discard(conn)
            close_quietly(conn)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until either side closes or the proxy stops."""
        with self._lock:
            self._open.add(upstream)
        try:
            client.settimeout(None)
            upstream.settimeout(None)
            peers = {client: upstream, upstream: client}
            while not self._stopping.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._open.discard(upstream)
