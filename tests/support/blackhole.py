"""Loopback addresses that black-hole TCP SYNs, and ports that refuse connections.

``Blackhole`` — a TCP ``host:port`` on 127.0.0.1 where ``connect()`` hangs until the client's
own timeout, with no root, no iptables and no packet ever leaving loopback:

1. a listening socket is created with ``listen(0)`` and never ``accept()``-ed;
2. one (sometimes two, depending on the kernel) client connections are completed, which fills
   the listener's accept queue (Linux admits ``backlog + 1`` = 1 connection for backlog 0);
3. from then on the kernel *drops* every new SYN to that port (``tcp_conn_request``: accept
   queue full -> drop, counted as ``ListenOverflows``), with no RST, so the client retransmits
   its SYN and ``connect()`` blocks until its timeout expires — exactly what a firewall that
   silently drops traffic looks like.

Verified empirically on this project's machines (stock Linux 6.18 kernel in a Firecracker VM,
``tcp_syncookies=1``, ``tcp_abort_on_overflow=0``):
``socket.create_connection(blackhole.sockaddr, timeout=1)`` raises ``TimeoutError`` after
~1.0 s (the test-suite asserts 0.9-2.0 s).

``start()`` fills the queue adaptively and then *verifies* the trick with a short non-blocking
probe (``verify_s``, default 0.1 s): if a probe connection completes or is refused, it raises
``RuntimeError`` instead of handing out an address that does not black-hole. The queue stays
full for the life of the object (the filler connections are held open), so any number of
clients, in parallel, hang on it.

``net.ipv4.tcp_abort_on_overflow=1`` would turn the drops into RSTs (refused); it is 0 by
default, and ``start()`` detects the difference.

``RefusedPort`` / ``refused_port()`` — a port where ``connect()`` fails at once with
``ECONNREFUSED``. ``RefusedPort`` keeps a TCP socket *bound but not listening* on the port for
its lifetime: the kernel answers SYNs to it with RST and no other process can take the port.
``refused_port()`` returns just a number (bound, then closed) and is subject to the usual
ephemeral-port reuse race; prefer ``RefusedPort`` in fixtures.
"""

from __future__ import annotations

import errno
import select
import socket

from ._base import LOOPBACK, BackgroundServer, close_quietly

__all__ = ["Blackhole", "RefusedPort", "refused_port"]


class Blackhole(BackgroundServer):
    """A loopback ``host:port`` whose SYNs are silently dropped (see module docstring)."""

    def __init__(self, verify_s: float = 0.1, max_fill: int = 8) -> None:
        super().__init__()
        self.verify_s = verify_s
        self.max_fill = max_fill
        self._listener: socket.socket | None = None
        self._fillers: list[socket.socket] = []

    @property
    def fill_count(self) -> int:
        """How many connections it took to fill the accept queue."""
        return len(self._fillers)

    def _start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((LOOPBACK, 0))
        listener.listen(0)
        self._listener = listener
        self.port = listener.getsockname()[1]
        try:
            for _ in range(self.max_fill):
                sock, state = _try_connect(self.sockaddr, self.verify_s)
                if state == "connected":
                    self._fillers.append(sock)
                    continue
                close_quietly(sock)
                if state == "pending":
                    return  # queue full and SYNs dropped: the hole works
                raise RuntimeError(
                    f"blackhole trick failed on this kernel: probe connect was {state} "
                    "(is net.ipv4.tcp_abort_on_overflow=1?)"
                )
            raise RuntimeError(
                f"blackhole trick failed: {self.max_fill} connections were accepted into a "
                "listen(0) queue that is never drained"
            )
        except BaseException:
            self._stop()
            raise

    def _stop(self) -> None:
        for sock in self._fillers:
            close_quietly(sock)
        self._fillers = []
        close_quietly(self._listener)
        self._listener = None


def _try_connect(addr: tuple[str, int], wait_s: float) -> tuple[socket.socket, str]:
    """Non-blocking connect; returns the socket and "connected", "pending" or "refused"."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    rc = sock.connect_ex(addr)
    if rc == 0:
        return sock, "connected"
    if rc not in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
        return sock, f"error {errno.errorcode.get(rc, rc)}"
    _, writable, _ = select.select([], [sock], [], wait_s)
    if not writable:
        return sock, "pending"
    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err == 0:
        return sock, "connected"
    if err == errno.ECONNREFUSED:
        return sock, "refused"
    return sock, f"error {errno.errorcode.get(err, err)}"


class RefusedPort:
    """A 127.0.0.1 port that refuses connections (bound, not listening) while this lives.

    Use as a context manager or call ``close()``; ``port`` and ``address`` as on the servers.
    """

    host = LOOPBACK

    def __init__(self) -> None:
        self._sock: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((LOOPBACK, 0))
        self.port: int = self._sock.getsockname()[1]

    @property
    def address(self) -> str:
        """``"127.0.0.1:PORT"``."""
        return f"{self.host}:{self.port}"

    @property
    def sockaddr(self) -> tuple[str, int]:
        """``("127.0.0.1", PORT)``."""
        return (self.host, self.port)

    def close(self) -> None:
        """Release the port."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> RefusedPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def refused_port() -> int:
    """A port on 127.0.0.1 with nothing listening right now (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])
