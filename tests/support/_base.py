"""Shared plumbing for the loopback test servers: lifecycle, threads, port helpers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

LOOPBACK = "127.0.0.1"

#: Every thread a support server starts has a name starting with this prefix, so tests can
#: assert that nothing was leaked (see ``support_threads()``).
THREAD_PREFIX = "test-support-"

_S = TypeVar("_S", bound="BackgroundServer")


class BackgroundServer:
    """Base class: ``start()``/``stop()`` plus the context-manager protocol.

    Subclasses implement ``_start()`` and ``_stop()``; ``start()`` and ``stop()`` are idempotent,
    ``stop()`` joins every thread the server started.
    """

    host: str = LOOPBACK
    port: int = 0

    def __init__(self) -> None:
        self._started = False
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self: _S) -> _S:
        """Bind and start serving in daemon threads; returns ``self``."""
        if not self._started:
            self._stopping.clear()
            self._start()
            self._started = True
        return self

    def stop(self) -> None:
        """Stop serving, close every socket and join every thread (idempotent)."""
        if not self._started:
            return
        self._started = False
        self._stopping.set()
        self._stop()
        self._join_threads()

    def _start(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _stop(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- for the socketserver-based fakes, which hold ``_server``, ``_open`` and ``_lock`` ------
    def _track(self, conn: socket.socket, add: bool) -> None:
        """Remember (or forget) an open client connection, so that stop() can close it."""
        with self._lock:  # type: ignore[attr-defined]
            if add:
                self._open.add(conn)  # type: ignore[attr-defined]
            else:
                self._open.discard(conn)  # type: ignore[attr-defined]
        if add and self._stopping.is_set():
            close_quietly(conn)

    def _close_socketserver(self) -> None:
        """Stop accepting, close every open client connection, join the threads, free the port."""
        server = self._server  # type: ignore[attr-defined]
        assert server is not None
        server.shutdown()
        with self._lock:  # type: ignore[attr-defined]
            conns = list(self._open)  # type: ignore[attr-defined]
        for conn in conns:
            close_quietly(conn)
        self._join_threads()
        server.server_close()
        self._server = None

    def _serve_maybe_tls(
        self,
        raw: socket.socket,
        context: ssl.SSLContext | None,
        handle: Callable[[socket.socket], Any],
    ) -> None:
        """One accepted connection: TLS handshake when ``context`` is given (bounded), then
        ``handle(conn)``; tracked for stop() and closed at the end whatever happens."""
        self._track(raw, True)
        conn: socket.socket | None = None
        try:
            if context is not None:
                raw.settimeout(10)
                try:
                    conn = context.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                conn.settimeout(None)
                self._track(conn, True)
            else:
                conn = raw
            handle(conn)
        except Exception:  # noqa: BLE001 - a client vanishing mid-request is not our business
            pass
        finally:
            for sock in (raw, conn):
                if sock is not None:
                    self._track(sock, False)
                    close_quietly(sock)

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._started

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """``"127.0.0.1:PORT"``."""
        return f"{self.host}:{self.port}"

    @property
    def sockaddr(self) -> tuple[str, int]:
        """``("127.0.0.1", PORT)`` for ``socket.connect``."""
        return (self.host, self.port)

    # -- threads -------------------------------------------------------------------------------
    def _spawn(self, target: Callable[..., Any], *args: Any, name: str) -> threading.Thread:
        """Start a daemon thread that ``stop()`` will join."""
        thread = threading.Thread(
            target=target, args=args, name=f"{THREAD_PREFIX}{name}", daemon=True
        )
        with self._threads_lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def _join_threads(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._threads_lock:
                threads = [t for t in self._threads if t.is_alive()]
                self._threads = threads
            current = threading.current_thread()
            threads = [t for t in threads if t is not current]
            if not threads:
                return
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                alive = [t.name for t in threads if t.is_alive()]
                if alive:
                    raise RuntimeError(f"{type(self).__name__}: threads did not stop: {alive}")
                return


class ForegroundDaemon(BackgroundServer):
    """A real daemon (tinyproxy, squid, dnsmasq) run in the foreground on a free loopback port.

    Between picking a free port and the daemon binding it another process may take it: then the
    daemon is started again on a new port (five tries), whatever else goes wrong ends the tries
    with its diagnostics. Subclasses say how to launch it and when it is ready."""

    daemon = "daemon"
    #: markers in the diagnostics that mean "the port was taken": try another
    bind_errors: tuple[str, ...] = ()
    #: the daemon also listens on the UDP port of the same number (DNS)
    udp_too = False
    start_timeout: float = 10.0
    proc: subprocess.Popen[bytes] | None = None

    def _launch(self) -> tuple[list[str], Path]:  # pragma: no cover - abstract
        """Prepare this try's files (``self.port`` is set); the command and its output file."""
        raise NotImplementedError

    def _ready(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def _diagnostics(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _cleanup_files(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        terminate_process(proc)

    def _ready_or_dead(self) -> bool:
        return self.proc is None or self.proc.poll() is not None or self._ready()

    def _start(self) -> None:
        last_error = ""
        for _ in range(5):
            self.port = pick_free_port(udp_too=self.udp_too)
            command, output = self._launch()
            with open(output, "wb") as out:
                self.proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            if wait_until(self._ready_or_dead, self.start_timeout) and self._ready():
                return
            last_error = self._diagnostics()
            self._kill()
            if not any(marker in last_error for marker in self.bind_errors):
                break
        self._cleanup_files()
        raise RuntimeError(f"{self.daemon} did not start on {LOOPBACK}:{self.port}:\n{last_error}")


def support_threads() -> list[threading.Thread]:
    """Live threads started by support servers (for leak assertions)."""
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


def close_quietly(sock: socket.socket | None) -> None:
    """Shut down (waking any thread blocked on it) and close a socket, ignoring errors."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def bind_udp_tcp_pair(
    host: str = LOOPBACK, attempts: int = 50
) -> tuple[socket.socket, socket.socket]:
    """Bind a UDP socket and a listening TCP socket on the same ephemeral port.

    The kernel picks the UDP port; the TCP bind on the same number is retried with a new UDP
    port if it is taken (parallel test workers).
    """
    last: OSError | None = None
    for _ in range(attempts):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((host, 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((host, port))
            tcp.listen(128)
        except OSError as exc:
            last = exc
            udp.close()
            tcp.close()
            continue
        return udp, tcp
    raise OSError(f"could not bind UDP+TCP on one port of {host}: {last}")


def pick_free_port(host: str = LOOPBACK, udp_too: bool = False) -> int:
    """A port that is free right now on ``host`` (TCP, and UDP with ``udp_too``).

    For subprocesses that must be told a port. There is a small race between closing the probe
    socket and the subprocess binding; callers retry on "address in use".
    """
    if udp_too:
        udp, tcp = bind_udp_tcp_pair(host)
        port = int(udp.getsockname()[1])
        udp.close()
        tcp.close()
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    """True if a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: str | os.PathLike[str], lines: int = 30) -> str:
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def terminate_process(proc: subprocess.Popen[bytes] | None, timeout: float = 5.0) -> None:
    """Stop ``proc`` and its process group (it must have been started with
    ``start_new_session=True``): SIGTERM, wait up to ``timeout``, then SIGKILL whatever is left
    of the group (e.g. dnsmasq's per-TCP-connection children), then reap.

    The group is signalled only while the leader is not yet reaped, so its id cannot have been
    recycled for someone else's process.
    """
    if proc is None or proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # WNOWAIT: notice the exit without reaping, keeping the pid (and group id) ours.
        if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            break
        time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout)
