"""An in-process DNS server (dnslib) on 127.0.0.1, UDP and TCP on one ephemeral port.

It answers like a recursive resolver would for a small table of names, so the tool under test
can be pointed at it with ``--nameserver 127.0.0.1:PORT``::

    with DnsServer(
        records={
            "mcr.microsoft.com": ["127.0.0.1"],            # A (and/or AAAA: "::1")
            "alias.example": CNAME("target.example"),       # chain is followed
            "target.example": "127.0.0.1",
            "*.data.mcr.microsoft.com": "127.0.0.1",        # wildcard: any name below
        },
        nxdomain={"gone.example"},     # NXDOMAIN for the name and everything below it
        nodata={"v6only.example"},     # NOERROR, empty answer
        refused={"refused.example"},   # rcode REFUSED
        servfail={"broken.example"},   # rcode SERVFAIL
        silent={"slow.example"},       # recorded, never answered (per-name timeout)
        delay=0.2,                     # every answer sent 200 ms late (timers, not sleeps)
        delays={"mcr.microsoft.com": 1.0},  # per-name delay overrides ``delay``
        truncate={"big.example"},      # UDP answer: header + question, TC bit, no records;
                                       # the full answer comes over TCP
        tcp_refused=False,             # True: TCP on the port is refused (RST), UDP answers
    ) as dns:
        ...  # dns.address == "127.0.0.1:PORT"
        # dns.queries == [Query("mcr.microsoft.com", "A", "udp")]

Names are case-insensitive and may carry a trailing dot. A name with records but not of the
asked type (e.g. only A, asked AAAA) gets NOERROR/no-data, as real DNS does. Names not in any
table get ``unknown`` (default ``"nxdomain"``; also ``"refused"``, ``"servfail"``, ``"nodata"``,
``"silent"``). The tables are plain attributes read at query time, so a test may change them
while the server runs.

``truncate`` plus ``tcp_refused=True`` is a resolver (or a middlebox in front of one) that
truncates over UDP while TCP 53 is blocked: a client's TCP retry gets "connection refused".
The port's TCP side stays bound (not listening) so nothing else can take it.

Delays never block other queries: a delayed UDP answer is sent from a ``threading.Timer``; each
TCP connection has its own thread. 30 concurrent queries with ``delay=0.2`` finish in ~0.2 s.

``SilentDnsServer`` binds the same UDP+TCP port pair, reads every query and never answers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import selectors
import socket
import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSHeader, DNSRecord
from dnslib import CNAME as _CNAME_RDATA

from ._base import THREAD_PREFIX, BackgroundServer, bind_udp_tcp_pair, close_quietly

__all__ = ["CNAME", "DnsServer", "Query", "RecordSpec", "SilentDnsServer"]

_OUTCOMES = ("nxdomain", "refused", "servfail", "nodata", "silent")
_MAX_CHAIN = 16


@dataclass(frozen=True)
class CNAME:
    """A CNAME record value: ``records={"alias.example": CNAME("target.example")}``."""

    target: str


#: What a name in ``records`` maps to: an address, a list of addresses (IPv4 and/or IPv6), or a
#: CNAME to another name.
RecordSpec = str | Sequence[str] | CNAME


@dataclass(frozen=True)
class Query:
    """One query the server received: lower-case name without trailing dot, type, transport."""

    name: str
    qtype: str
    transport: str  # "udp" | "tcp"


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _matches(name: str, pattern: str, subtree: bool = False) -> bool:
    """Exact match, ``*.suffix`` wildcard (any name strictly below), or with ``subtree`` also
    any name below ``pattern``."""
    pattern = _norm(pattern)
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    if name == pattern:
        return True
    return subtree and name.endswith("." + pattern)


def _in(name: str, patterns: Iterable[str], subtree: bool = False) -> bool:
    return any(_matches(name, p, subtree) for p in patterns)


class DnsServer(BackgroundServer):
    """An in-process DNS server answering from configurable tables (see module docstring)."""

    def __init__(
        self,
        records: Mapping[str, RecordSpec] | None = None,
        *,
        nxdomain: Iterable[str] = (),
        nodata: Iterable[str] = (),
        refused: Iterable[str] = (),
        servfail: Iterable[str] = (),
        silent: Iterable[str] = (),
        truncate: Iterable[str] = (),
        unknown: str = "nxdomain",
        delay: float = 0.0,
        delays: Mapping[str, float] | None = None,
        ttl: int = 60,
        tcp_refused: bool = False,
    ) -> None:
        """Configure the tables; nothing is bound until ``start()``.

        ``truncate``: names whose UDP answers carry only the TC bit (clients must retry over TCP).
        ``tcp_refused``: keep the TCP side of the port bound but not listening (connect: RST).
        """
        super().__init__()
        if unknown not in _OUTCOMES:
            raise ValueError(f"unknown= must be one of {_OUTCOMES}, not {unknown!r}")
        self.records: dict[str, RecordSpec] = {_norm(k): v for k, v in (records or {}).items()}
        self.nxdomain: set[str] = {_norm(n) for n in nxdomain}
        self.nodata: set[str] = {_norm(n) for n in nodata}
        self.refused: set[str] = {_norm(n) for n in refused}
        self.servfail: set[str] = {_norm(n) for n in servfail}
        self.silent: set[str] = {_norm(n) for n in silent}
        self.truncate: set[str] = {_norm(n) for n in truncate}
        self.unknown = unknown
        self.delay = delay
        self.delays: dict[str, float] = {_norm(k): v for k, v in (delays or {}).items()}
        self.ttl = ttl
        self.tcp_refused = tcp_refused
        self._queries: list[Query] = []
        self._lock = threading.Lock()
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._timers: set[threading.Timer] = set()
        self._conns: set[socket.socket] = set()

    # -- public helpers ------------------------------------------------------------------------
    @property
    def queries(self) -> list[Query]:
        """A snapshot of every query received so far, in arrival order."""
        with self._lock:
            return list(self._queries)

    def queried_names(self, qtype: str | None = None) -> list[str]:
        """Names queried (optionally only of ``qtype``), in arrival order, duplicates kept."""
        return [q.name for q in self.queries if qtype is None or q.qtype == qtype]

    def clear_queries(self) -> None:
        """Forget the queries recorded so far."""
        with self._lock:
            self._queries.clear()

    @property
    def nameserver(self) -> str:
        """Same as ``address``: the value for ``--nameserver``."""
        return self.address

    # -- resolution ----------------------------------------------------------------------------
    def _lookup(self, name: str) -> RecordSpec | None:
        if name in self.records:
            return self.records[name]
        # Most specific wildcard wins.
        best: tuple[int, RecordSpec] | None = None
        for pattern, spec in self.records.items():
            if (
                pattern.startswith("*.")
                and name.endswith(pattern[1:])
                and (best is None or len(pattern) > best[0])
            ):
                best = (len(pattern), spec)
        return best[1] if best else None

    def _outcome(self, name: str) -> str | None:
        """The configured rcode-style outcome for ``name``, or None if it has records."""
        if _in(name, self.silent):
            return "silent"
        if _in(name, self.refused):
            return "refused"
        if _in(name, self.servfail):
            return "servfail"
        if _in(name, self.nxdomain, subtree=True):
            return "nxdomain"
        if _in(name, self.nodata):
            return "nodata"
        if self._lookup(name) is not None:
            return None
        return self.unknown

    def delay_for(self, name: str) -> float:
        """The artificial delay applied to answers for ``name``."""
        name = _norm(name)
        for pattern, value in self.delays.items():
            if _matches(name, pattern):
                return value
        return self.delay

    def build_reply(self, request: DNSRecord, transport: str = "udp") -> DNSRecord | None:
        """The reply to ``request`` (None: stay silent). Public so tests can inspect the logic."""
        reply = DNSRecord(
            DNSHeader(id=request.header.id, qr=1, aa=1, ra=1, rd=request.header.rd),
            q=request.q,
        )
        qname = _norm(str(request.q.qname))
        qtype = request.q.qtype
        if transport == "udp" and _in(qname, self.truncate):
            reply.header.tc = 1
            return reply

        name = qname
        seen: set[str] = set()
        for _ in range(_MAX_CHAIN):
            outcome = self._outcome(name)
            if outcome == "silent":
                # Silent at the top: no answer at all. Silent mid-chain: a resolver would time
                # out upstream and answer SERVFAIL.
                if name == qname:
                    return None
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            if outcome is not None:
                reply.header.rcode = {
                    "nxdomain": RCODE.NXDOMAIN,
                    "refused": RCODE.REFUSED,
                    "servfail": RCODE.SERVFAIL,
                    "nodata": RCODE.NOERROR,
                }[outcome]
                if outcome in ("refused", "servfail"):
                    reply.rr = []  # a resolver does not hand out partial chains on failure
                return reply
            spec = self._lookup(name)
            assert spec is not None
            if isinstance(spec, CNAME):
                target = _norm(spec.target)
                reply.add_answer(RR(name, QTYPE.CNAME, rdata=_CNAME_RDATA(target), ttl=self.ttl))
                if qtype == QTYPE.CNAME or target in seen:
                    return reply
                seen.add(name)
                name = target
                continue
            for address in [spec] if isinstance(spec, str) else list(spec):
                ip = ipaddress.ip_address(address)
                if ip.version == 4 and qtype in (QTYPE.A, QTYPE.ANY):
                    reply.add_answer(RR(name, QTYPE.A, rdata=A(address), ttl=self.ttl))
                elif ip.version == 6 and qtype in (QTYPE.AAAA, QTYPE.ANY):
                    reply.add_answer(RR(name, QTYPE.AAAA, rdata=AAAA(address), ttl=self.ttl))
            return reply
        reply.header.rcode = RCODE.SERVFAIL  # chain too long
        reply.rr = []
        return reply

    def _handle(self, data: bytes, transport: str) -> tuple[bytes | None, float]:
        """Parse, record, and build the wire answer plus the delay to apply."""
        try:
            request = DNSRecord.parse(data)
        except Exception:  # malformed: ignore, like many servers do
            return None, 0.0
        if not request.questions:
            return None, 0.0
        qname = _norm(str(request.q.qname))
        with self._lock:
            self._queries.append(Query(qname, QTYPE.get(request.q.qtype), transport))
        reply = self.build_reply(request, transport)
        if reply is None:
            return None, 0.0
        return reply.pack(), self.delay_for(qname)

    # -- serving -------------------------------------------------------------------------------
    def _start(self) -> None:
        self._udp, self._tcp = bind_udp_tcp_pair(self.host)
        self.port = self._udp.getsockname()[1]
        for _ in range(20):
            if not self.tcp_refused:
                break
            try:
                self._tcp = _unlisten(self._tcp)
                break
            except OSError:  # someone took the TCP port between close and bind: new pair
                close_quietly(self._udp)
                self._udp, self._tcp = bind_udp_tcp_pair(self.host)
                self.port = self._udp.getsockname()[1]
        else:
            raise OSError("could not hold a non-listening TCP port next to the UDP one")
        self._wake_r, self._wake_w = socket.socketpair()
        self._spawn(self._serve, name=f"dns-{self.port}")

    def _stop(self) -> None:
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        with self._lock:
            timers = list(self._timers)
            conns = list(self._conns)
        for timer in timers:
            timer.cancel()
        for timer in timers:
            timer.join(5.0)
        for conn in conns:
            close_quietly(conn)
        self._join_threads()
        for sock in (self._udp, self._tcp, self._wake_r, self._wake_w):
            close_quietly(sock)
        self._udp = self._tcp = self._wake_r = self._wake_w = None

    def _serve(self) -> None:
        assert self._udp and self._tcp and self._wake_r
        sel = selectors.DefaultSelector()
        sel.register(self._udp, selectors.EVENT_READ, "udp")
        if not self.tcp_refused:
            sel.register(self._tcp, selectors.EVENT_READ, "tcp")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while not self._stopping.is_set():
                for key, _ in sel.select(timeout=1.0):
                    if key.data == "wake":
                        return
                    if key.data == "udp":
                        self._on_udp()
                    else:
                        self._on_tcp_accept()
        finally:
            sel.close()

    def _on_udp(self) -> None:
        assert self._udp is not None
        try:
            data, peer = self._udp.recvfrom(65535)
        except OSError:
            return
        wire, delay = self._handle(data, "udp")
        if wire is None:
            return
        if delay <= 0:
            self._send_udp(wire, peer)
            return
        timer: threading.Timer = threading.Timer(
            delay, lambda: self._send_udp_timer(wire, peer, timer)
        )
        timer.name = f"{THREAD_PREFIX}dns-delay-{self.port}"
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def _send_udp_timer(self, wire: bytes, peer: tuple[str, int], timer: threading.Timer) -> None:
        with self._lock:
            self._timers.discard(timer)
        if not self._stopping.is_set():
            self._send_udp(wire, peer)

    def _send_udp(self, wire: bytes, peer: tuple[str, int]) -> None:
        udp = self._udp
        if udp is None:
            return
        with contextlib.suppress(OSError):
            udp.sendto(wire, peer)

    def _on_tcp_accept(self) -> None:
        assert self._tcp is not None
        try:
            conn, _ = self._tcp.accept()
        except OSError:
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._conns.add(conn)
        self._spawn(self._serve_tcp, conn, name=f"dns-tcp-{self.port}")

    def _serve_tcp(self, conn: socket.socket) -> None:
        try:
            while not self._stopping.is_set():
                header = _recv_exactly(conn, 2)
                if header is None:
                    return
                (length,) = struct.unpack("!H", header)
                data = _recv_exactly(conn, length)
                if data is None:
                    return
                wire, delay = self._handle(data, "tcp")
                if wire is None:
                    continue  # silent: keep reading, never answer
                if delay > 0 and self._stopping.wait(delay):
                    return
                conn.sendall(struct.pack("!H", len(wire)) + wire)
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            close_quietly(conn)


def _unlisten(listening: socket.socket) -> socket.socket:
    """A TCP socket bound to the same address as ``listening`` but not listening.

    A listening socket cannot go back to not listening, so it is closed and the address re-bound
    at once (``OSError`` if another process took it in between: the caller retries with a new
    pair). Connections to the bound, non-listening socket are refused with RST.
    """
    address = listening.getsockname()
    listening.close()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _recv_exactly(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class SilentDnsServer(BackgroundServer):
    """A UDP+TCP "DNS server" on one loopback port that reads queries and never answers.

    ``received`` counts UDP datagrams and TCP connections seen, so a test can prove the client
    really asked (and timed out) rather than failing early.
    """

    def __init__(self) -> None:
        super().__init__()
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.datagrams = 0
        self.connections = 0

    @property
    def received(self) -> int:
        """UDP datagrams plus TCP connections received so far."""
        with self._lock:
            return self.datagrams + self.connections

    @property
    def nameserver(self) -> str:
        """Same as ``address``: the value for ``--nameserver``."""
        return self.address

    def _start(self) -> None:
        self._udp, self._tcp = bind_udp_tcp_pair(self.host)
        self.port = self._udp.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._spawn(self._serve, name=f"silent-dns-{self.port}")

    def _stop(self) -> None:
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        self._join_threads()
        with self._lock:
            conns, self._conns = self._conns, []
        for sock in [*conns, self._udp, self._tcp, self._wake_r, self._wake_w]:
            close_quietly(sock)
        self._udp = self._tcp = self._wake_r = self._wake_w = None

    def _serve(self) -> None:
        assert self._udp and self._tcp and self._wake_r
        sel = selectors.DefaultSelector()
        sel.register(self._udp, selectors.EVENT_READ, "udp")
        sel.register(self._tcp, selectors.EVENT_READ, "tcp")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while not self._stopping.is_set():
                for key, _ in sel.select(timeout=1.0):
                    if key.data == "wake":
                        return
                    if key.data == "udp":
                        try:
                            self._udp.recvfrom(65535)
                        except OSError:
                            continue
                        with self._lock:
                            self.datagrams += 1
                    elif key.data == "tcp":
                        try:
                            conn, _ = self._tcp.accept()
                        except OSError:
                            continue
                        conn.setblocking(False)
                        with self._lock:
                            self.connections += 1
                            self._conns.append(conn)
                        sel.register(conn, selectors.EVENT_READ, conn)
                    else:  # a TCP client: read and discard; forget it when it closes
                        conn = key.data
                        try:
                            data = conn.recv(65535)
                        except OSError:
                            data = b""
                        if not data:
                            sel.unregister(conn)
                            with self._lock:
                                if conn in self._conns:
                                    self._conns.remove(conn)
                            close_quietly(conn)
        finally:
            sel.close()
