"""The real squid HTTP proxy on loopback, with Debian's default access rules.

``Squid`` runs the ``squid`` binary (apt package ``squid``; checked against Debian 12's
``Squid Cache: Version 5.7``) in the foreground (``squid -N -f CONF -n NAME``) with a generated
config on a free 127.0.0.1 port. The access rules are the ones Debian ships in
``/etc/squid/squid.conf``, kept verbatim, so a test sees what a stock corporate squid answers::

    acl SSL_ports port 443
    acl Safe_ports port 80 21 443 70 210 1025-65535 280 488 591 777
    http_access deny !Safe_ports
    http_access deny CONNECT !SSL_ports
    http_access allow localhost manager
    http_access deny manager
    http_access allow localhost
    http_access deny all

Usage::

    with Squid(ssl_ports=[tls.port], hosts={"mcr.microsoft.com": "127.0.0.1"}) as proxy:
        ... --proxy proxy.url ...          # CONNECT mcr.microsoft.com:<tls.port> is allowed
        proxy.wait_for_requests(1)
        proxy.requests[0]   # SquidRequest(method="CONNECT", target="mcr.microsoft.com:PORT",
                            #              status=200, result="TCP_TUNNEL", user=None)

    Squid()                          # CONNECT only to 443: any other port gets the 403 below
    Squid(auth=("user", "s3cret"))   # basic auth through basic_ncsa_auth: no or wrong creds: 407

Options: ``ssl_ports`` (extra ports added to ``SSL_ports``, so a CONNECT to a test TLS server's
ephemeral port is allowed), ``hosts={name: ip}`` (squid's ``hosts_file``: how *squid* resolves
names; ``localhost`` -> ``127.0.0.1`` is always there, IPv4 only), ``auth=(user, password)``.

squid facts this module relies on (observed with squid 5.7 on Debian 12, by this module's
self-tests in ``tests/support_tests/test_network.py``):

- A refused CONNECT (port not in ``SSL_ports``) is answered by squid itself::

      HTTP/1.1 403 Forbidden
      Server: squid/5.7
      Mime-Version: 1.0
      Content-Type: text/html;charset=utf-8
      Content-Length: 3075              (about 3 KB: the page embeds the URL; this is for
                                         CONNECT mcr.microsoft.com:8443)
      X-Squid-Error: ERR_ACCESS_DENIED 0
      Vary: Accept-Language
      Content-Language: en
      X-Cache: MISS from preflight-squid
      X-Cache-Lookup: NONE from preflight-squid:PORT
      Via: 1.1 preflight-squid (squid/5.7)
      Connection: keep-alive

  and an HTML body ``<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN" ...>`` whose
  ``<title>`` is ``ERROR: The requested URL could not be retrieved``, with
  ``<body id=ERR_ACCESS_DENIED>``, ``<p><b>Access Denied.</b></p>``, "Access control
  configuration prevents your request from being allowed at this time." and a footer
  ``Generated <date> by preflight-squid (squid/5.7)`` then ``<!-- ERR_ACCESS_DENIED -->``.
  The access log line is ``TCP_DENIED/403 ... CONNECT host:port``. The same 403 answers a
  plain request to a port outside ``Safe_ports`` (e.g. ``GET http://host:25/``).
- The connection stays open after the 403 (``Connection: keep-alive``): read the response by its
  ``Content-Length``, do not wait for EOF.
- An allowed CONNECT whose target refuses: ``HTTP/1.1 503 Service Unavailable`` with
  ``X-Squid-Error: ERR_CONNECT_FAIL 111`` and ``<b>Connection to 127.0.0.1 failed.</b>`` /
  ``The system returned: <i>(111) Connection refused</i>`` in the page (logged
  ``NONE_NONE/503``). A name squid cannot resolve gets ``500 Internal Server Error`` with
  ``X-Squid-Error: ERR_CANNOT_FORWARD 0`` here (the sandbox resolver fails fast; with a
  resolver that answers NXDOMAIN it is ``503`` ``ERR_DNS_FAIL``): use ``hosts`` and never
  depend on squid's DNS.
- A tunnelled CONNECT succeeds with ``HTTP/1.1 200 Connection established`` and is logged
  (``TCP_TUNNEL/200``) only when the tunnel *closes*: ``wait_for_requests`` after closing.
- Plain (absolute-URI) requests are forwarded with ``Via: 1.1 preflight-squid (squid/5.7)``
  and ``X-Forwarded-For: 127.0.0.1`` added; the origin's status, headers and body come back
  with squid's ``Via``/``X-Cache`` headers added (logged ``TCP_MISS/<status>``).
- With ``auth``: no ``Proxy-Authorization`` *or wrong credentials* both get
  ``407 Proxy Authentication Required`` with ``Proxy-Authenticate: Basic realm="preflight-squid"``
  and ``X-Squid-Error: ERR_CACHE_ACCESS_DENIED 0`` (unlike tinyproxy, which answers wrong
  credentials with 401); the access log names the user it was given even when the password was
  wrong. The port rules come first: a CONNECT to a non-SSL port gets the 403 even without
  credentials.
- Started as root, squid switches to ``cache_effective_user`` (``proxy`` on Debian) and refuses
  to run as root, so the work directory is a fresh ``/tmp/squid-*`` owned by that user (not the
  test's ``tmp_path``, which that user cannot reach). Logs are copied into memory at ``stop()``.
- A clean shutdown takes >= 1 s even with ``shutdown_lifetime 0`` (SIGTERM 1 s, SIGINT 2 s), so
  ``stop()`` SIGKILLs the process group; the access log is unbuffered, so only tunnels still
  open at ``stop()`` go unlogged.
- Its own DNS client reads ``/etc/resolv.conf``; names in ``hosts_file`` never reach DNS.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ._base import LOOPBACK, ForegroundDaemon, tail, terminate_process, wait_until
from .proxy import ProxyRequest, ToolUnavailable, _ProxyBase

__all__ = ["DEBIAN_SAFE_PORTS", "SQUID_HOSTNAME", "Squid", "SquidRequest", "squid_available"]

#: ``visible_hostname``: appears in ``Via``, ``X-Cache`` and the error pages' footer.
SQUID_HOSTNAME = "preflight-squid"

#: Debian 12's ``acl Safe_ports port ...`` lines, in their order.
DEBIAN_SAFE_PORTS = ("80", "21", "443", "70", "210", "1025-65535", "280", "488", "591", "777")

_READY_MARK = "Accepting HTTP Socket connections at"
_BIND_ERRORS = ("Address already in use", "Cannot bind socket", "Unable to open HTTP Socket")
_HELPER_DIRS = ("/usr/lib/squid", "/usr/lib64/squid", "/usr/libexec/squid", "/usr/lib/squid3")
_LOGFORMAT = "%ts.%03tu %>a %Ss/%03>Hs %rm %ru %[un"
_LOG_RE = re.compile(r"^\S+ \S+ (\S+)/(\d{3}) (\S+) (\S+) (\S+)$")


@dataclass(frozen=True)
class SquidRequest(ProxyRequest):
    """One access.log line: ``method``/``target`` as ``ProxyRequest``, plus what squid did."""

    status: int = 0  # status squid sent to the client (0: none, e.g. client went away)
    result: str = ""  # squid's result code: TCP_DENIED, TCP_TUNNEL, TCP_MISS, NONE_NONE, ...
    user: str | None = None  # authenticated user name, if any


def squid_available() -> bool:
    """True if a ``squid`` binary is on PATH (or in /usr/sbin)."""
    return _find_squid() is not None


def _find_squid() -> str | None:
    return shutil.which("squid") or shutil.which("squid", path="/usr/sbin:/usr/local/sbin")


def _find_helper(name: str) -> str | None:
    for folder in _HELPER_DIRS:
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def _sha512_crypt(password: str) -> str:
    """``$6$`` crypt(3) hash for an htpasswd line (libcrypt, else ``openssl passwd -6``)."""
    salt = secrets.token_hex(8)
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    with contextlib.suppress(OSError, AttributeError):
        lib = ctypes.CDLL(name)
        lib.crypt.restype = ctypes.c_char_p
        lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        hashed = lib.crypt(password.encode(), f"$6${salt}$".encode())
        if hashed and hashed.startswith(b"$6$"):
            return hashed.decode()
    openssl = shutil.which("openssl")
    if openssl:
        out = subprocess.run(
            [openssl, "passwd", "-6", "-salt", salt, "-stdin"],
            input=password.encode(),
            capture_output=True,
            check=True,
        )
        return out.stdout.decode().strip()
    raise ToolUnavailable("cannot hash a password for basic_ncsa_auth (no libcrypt, no openssl)")


class Squid(ForegroundDaemon, _ProxyBase):
    """The real squid on a free loopback port (see module docstring)."""

    daemon = "squid"
    bind_errors = _BIND_ERRORS

    def __init__(
        self,
        *,
        ssl_ports: Iterable[int] = (),
        hosts: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        connect_timeout: int = 5,
        workdir: str | os.PathLike[str] | None = None,
        start_timeout: float = 15.0,
        binary: str | None = None,
    ) -> None:
        """``ssl_ports``: ports added to ``SSL_ports`` (CONNECT allowed besides 443).

        ``workdir``: where config, logs and pid file go (default: a fresh ``/tmp/squid-*``
        removed at ``stop()``). As root it must be reachable by the squid user.
        """
        super().__init__()
        self.binary = binary or _find_squid() or ""
        if not self.binary:
            raise ToolUnavailable("squid not found (apt-get install -y squid)")
        self.ssl_ports = [int(p) for p in ssl_ports]
        self.hosts = {k.lower(): v for k, v in (hosts or {}).items()}
        self.auth = auth
        self.connect_timeout = connect_timeout
        self.start_timeout = start_timeout
        self._helper = ""
        if auth is not None:
            self._helper = _find_helper("basic_ncsa_auth") or ""
            if not self._helper:
                raise ToolUnavailable("squid's basic_ncsa_auth helper not found")
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self._user = _squid_user()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="squid-"))
        self.conf_path = self.workdir / "squid.conf"
        self.access_log_path = self.workdir / "access.log"
        self.cache_log_path = self.workdir / "cache.log"
        self.stderr_path = self.workdir / "squid.stderr"
        self.pid_path = self.workdir / "squid.pid"
        self.hosts_path = self.workdir / "hosts"
        self.passwd_path = self.workdir / "passwd"
        self.proc: subprocess.Popen[bytes] | None = None
        self._last_access_log = ""
        self._last_cache_log = ""

    # -- config ---------------------------------------------------------------------------------
    def config_text(self) -> str:
        """The squid.conf this instance runs with."""
        w = self.workdir
        lines = [
            "# Debian 12 default access rules (/etc/squid/squid.conf), kept verbatim",
            "acl SSL_ports port 443",
            *(f"acl SSL_ports port {p}" for p in self.ssl_ports),
            *(f"acl Safe_ports port {p}" for p in DEBIAN_SAFE_PORTS),
            "http_access deny !Safe_ports",
            "http_access deny CONNECT !SSL_ports",
            "http_access allow localhost manager",
            "http_access deny manager",
        ]
        if self.auth is not None:
            lines += [
                f"auth_param basic program {self._helper} {self.passwd_path}",
                "auth_param basic children 2 startup=1 idle=1",
                f"auth_param basic realm {SQUID_HOSTNAME}",
                "auth_param basic credentialsttl 1 minute",
                "acl authenticated proxy_auth REQUIRED",
                "http_access deny !authenticated",
            ]
        lines += [
            "http_access allow localhost",
            "http_access deny all",
            "# test harness: loopback port, private files, no cache, fast shutdown",
            f"http_port {LOOPBACK}:{self.port}",
            f"visible_hostname {SQUID_HOSTNAME}",
            f"pid_filename {w / 'squid.pid'}",
            f"cache_log {self.cache_log_path}",
            f"logformat preflight {_LOGFORMAT}",
            f"access_log stdio:{self.access_log_path} preflight",
            "buffered_logs off",
            "strip_query_terms off",  # log URLs whole (squid's default logs "/path?")
            "logfile_rotate 0",
            "cache deny all",
            "cache_mem 0 MB",
            f"coredump_dir {w}",
            "shutdown_lifetime 0 seconds",
            "pinger_enable off",
            "max_filedescriptors 1024",
            f"hosts_file {self.hosts_path}",
            f"connect_timeout {self.connect_timeout} seconds",
            "dns_timeout 5 seconds",
        ]
        if self._user is not None:
            lines.append(f"cache_effective_user {self._user.pw_name}")
        return "\n".join(lines) + "\n"

    def _write_files(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # IPv4 only: with "::1 localhost" squid 5.7 tried ::1, got "connection refused" from
        # the IPv4-only test servers and answered 503 without trying 127.0.0.1.
        entries = ["127.0.0.1 localhost"]
        entries += [f"{ip} {name}" for name, ip in self.hosts.items()]
        self.hosts_path.write_text("\n".join(entries) + "\n")
        if self.auth is not None:
            user, password = self.auth
            self.passwd_path.write_text(f"{user}:{_sha512_crypt(password)}\n")
        self.conf_path.write_text(self.config_text())
        for path in (self.access_log_path, self.cache_log_path, self.stderr_path, self.pid_path):
            path.unlink(missing_ok=True)
        os.chmod(self.workdir, 0o755)
        for path in self.workdir.iterdir():
            os.chmod(path, 0o644)
        if self._user is not None:
            os.chown(self.workdir, self._user.pw_uid, self._user.pw_gid)

    # -- lifecycle -----------------------------------------------------------------------------
    def _launch(self) -> tuple[list[str], Path]:
        self._write_files()
        return [
            self.binary,
            "-N",
            "-f",
            str(self.conf_path),
            "-n",
            f"pf{self.port}",
        ], self.stderr_path

    def _ready(self) -> bool:
        return (
            self.proc is not None
            and self.proc.poll() is None
            and _READY_MARK in tail(self.cache_log_path, 400)
        )

    def _diagnostics(self) -> str:
        rc = None if self.proc is None else self.proc.poll()
        return (
            f"exit code: {rc}\n--- config ---\n{self.config_text()}"
            f"--- cache.log tail ---\n{tail(self.cache_log_path)}\n"
            f"--- stderr ---\n{tail(self.stderr_path)}"
        )

    def _kill(self) -> None:
        """SIGKILL the process group (squid and its auth helpers) and reap.

        A clean shutdown costs a second or more even with ``shutdown_lifetime 0`` (SIGTERM 1 s,
        SIGINT 2 s, measured); every finished transaction is already in the unbuffered
        access.log, so nothing is lost but the lines of tunnels still open at ``stop()``.
        """
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        terminate_process(proc)  # reaps (and sweeps the group once more)

    def _cleanup_files(self) -> None:
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop(self) -> None:
        self._kill()
        self._last_access_log = _read(self.access_log_path)
        self._last_cache_log = _read(self.cache_log_path)
        self._cleanup_files()

    # -- records -------------------------------------------------------------------------------
    def access_log_text(self) -> str:
        """The whole access.log so far (after ``stop()``: as it was at stop)."""
        if self.running:
            return _read(self.access_log_path)
        return self._last_access_log

    def cache_log_text(self) -> str:
        """The whole cache.log (squid's diagnostics) so far, or as it was at ``stop()``."""
        if self.running:
            return _read(self.cache_log_path)
        return self._last_cache_log

    @property
    def requests(self) -> list[SquidRequest]:  # type: ignore[override]
        """Every request squid logged, in the order the transactions *ended*."""
        out: list[SquidRequest] = []
        for line in self.access_log_text().splitlines():
            m = _LOG_RE.match(line.strip())
            if not m:
                continue
            result, status, method, target, user = m.groups()
            out.append(
                SquidRequest(
                    method=method,
                    target=target,
                    status=int(status),
                    result=result,
                    user=None if user == "-" else user,
                )
            )
        return out

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[SquidRequest]:
        """Poll the access log until it holds at least ``count`` requests; returns them.

        A denied request is logged right after its answer; a tunnel only when it closes.
        """
        wait_until(lambda: len(self.requests) >= count, timeout)
        return self.requests


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _squid_user() -> pwd.struct_passwd:
    for name in ("proxy", "squid", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ToolUnavailable("no unprivileged user (proxy/squid/nobody) for squid to run as")
