"""DNS resolution that tells failure modes apart (NXDOMAIN, no data, timeout, refused, servfail).

getaddrinfo() folds all of these into "name not known"; a platform engineer needs to know whether
the custom DNS server lacks a conditional forwarder (NXDOMAIN), refuses the client (REFUSED) or is
unreachable (timeout). So names are resolved with dnspython against ``--nameserver`` servers, or
the system's /etc/resolv.conf servers, after looking in /etc/hosts as the system resolver would.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preflight.concurrency import run_in_daemon_thread
from preflight.errors import UsageError

OUTCOMES = (
    "ok",
    "nxdomain",
    "nodata",
    "timeout",
    "refused",
    "servfail",
    "truncated",
    "error",
    "invalid",
)


@dataclass
class Resolution:
    """The outcome of resolving one name."""

    name: str
    outcome: str
    addresses: list[str] = field(default_factory=list)
    cnames: list[str] = field(default_factory=list)
    nameserver: str | None = None
    source: str = "dns"  # dns | hosts-file | literal | system
    error: str = ""
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def to_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "outcome": self.outcome,
            "addresses": self.addresses,
            "resolved_by": self.source,
        }
        if self.cnames:
            details["cname_chain"] = self.cnames
        if self.nameserver:
            details["nameserver"] = self.nameserver
        if self.error:
            details["error"] = self.error
        return details


def parse_nameserver(text: str) -> tuple[str, int]:
    """``1.2.3.4``, ``1.2.3.4:5353``, ``::1``, ``[::1]:5353`` -> (ip, port)."""
    value = text.strip()
    host, port_text = value, ""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise UsageError(f"--nameserver {text!r}: expected HOST[:PORT], e.g. 10.0.0.4:53")
        port_text = rest[1:]
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(
            f"--nameserver {text!r}: expected an IP address with an optional port, "
            "e.g. 168.63.129.16 or 10.0.0.4:5353"
        ) from None
    port = 53
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise UsageError(f"--nameserver {text!r}: port must be a number from 1 to 65535")
        port = int(port_text)
    return host, port


def is_valid_hostname(name: str) -> bool:
    """RFC 1123 host name (letters, digits, hyphens; labels of 1-63; total <= 253)."""
    if not name or len(name) > 253:
        return False
    labels = name.rstrip(".").split(".")
    for label in labels:
        if not 1 <= len(label) <= 63 or label.startswith("-") or label.endswith("-"):
            return False
        if not all(c.isascii() and (c.isalnum() or c == "-" or c == "_") for c in label):
            return False
    return True


_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_ULA = ipaddress.ip_network("fc00::/7")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


#: classes of addresses nobody can open a TCP connection to: a DNS filter's answer, not a host
UNUSABLE = frozenset({"sinkhole", "multicast", "reserved"})


def classify_address(address: str) -> str:
    """public | private | shared | loopback | link-local | sinkhole | multicast | reserved |
    special.

    Reported, not judged: private (RFC 1918, IPv6 ULA) is normal with private endpoints. The
    unusable classes (``UNUSABLE``): ``0.0.0.0``/``::`` and the rest of 0.0.0.0/8 (sinkholes),
    multicast, and the reserved 240.0.0.0/4 and broadcast."""
    ip = ipaddress.ip_address(address)
    if ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip.packed[0] == 0):
        return "sinkhole"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and (ip.is_reserved or ip == _BROADCAST):
        return "reserved"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if isinstance(ip, ipaddress.IPv4Address):
        if any(ip in net for net in _RFC1918):
            return "private"
        if ip in _SHARED:
            return "shared"
    elif ip in _ULA:
        return "private"
    # documentation and benchmarking ranges (192.0.2.0/24, 2001:db8::/32 ...): routable in
    # form, not globally; reported as "special", judged like public addresses
    return "public" if ip.is_global else "special"


def _hosts_file(path: Path = Path("/etc/hosts")) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return table
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            ipaddress.ip_address(fields[0])
        except ValueError:
            continue
        for name in fields[1:]:
            table.setdefault(name.lower().rstrip("."), []).append(fields[0])
    return table


class DnsClient:
    """Resolves names once per run (callers share the answer) with a bound on every query."""

    def __init__(
        self,
        nameservers: list[tuple[str, int]] | None,
        timeout: float,
        hosts_file: Path | None = Path("/etc/hosts"),
    ) -> None:
        self.explicit = bool(nameservers)
        self.timeout = timeout
        self._nameservers = list(nameservers or [])
        self._hosts = _hosts_file(hosts_file) if (hosts_file and not self.explicit) else {}
        self._cache: dict[str, asyncio.Future[Resolution]] = {}
        self._resolver: Any = None
        self._system_error = ""

    def describe(self) -> str:
        if self.explicit:
            return ", ".join(f"{h}:{p}" for h, p in self._nameservers)
        self._build()
        if self._resolver is None:
            return "system resolver (getaddrinfo)"
        return "system resolver (" + self._servers_text() + ")"

    def _build(self) -> None:
        if self._resolver is not None or self._system_error:
            return
        # on first use: dnspython (~55 ms) stays out of start-up (docs/ARCHITECTURE.md)
        import dns.asyncresolver
        import dns.nameserver
        import dns.resolver

        try:
            resolver = dns.asyncresolver.Resolver(configure=not self.explicit)
        except (dns.resolver.NoResolverConfiguration, OSError) as exc:
            self._system_error = str(exc) or "no /etc/resolv.conf"
            return
        if self.explicit:
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port) for host, port in self._nameservers
            ]
        resolver.cache = None
        resolver.timeout = self.timeout
        resolver.lifetime = self.timeout
        self._resolver = resolver

    async def resolve(self, name: str) -> Resolution:
        """Resolve ``name``; concurrent callers for the same name share one lookup."""
        key = name.lower().rstrip(".")
        future = self._cache.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._cache[key] = future
            try:
                future.set_result(await self._resolve(key))
            except BaseException as exc:  # cancelled: let the next caller try again
                del self._cache[key]
                future.cancel()
                raise exc
        return await asyncio.shield(future)

    async def _resolve(self, name: str) -> Resolution:
        started = time.monotonic()
        result = await self._lookup(name)
        result.elapsed_s = time.monotonic() - started
        return result

    async def _lookup(self, name: str) -> Resolution:
        try:
            ipaddress.ip_address(name)
            return Resolution(name, "ok", [name], source="literal")
        except ValueError:
            pass
        if not is_valid_hostname(name):
            return Resolution(name, "invalid", error="not a valid DNS host name")
        if name in self._hosts:
            return Resolution(name, "ok", list(self._hosts[name]), source="hosts-file")
        self._build()
        if self._resolver is None:
            return await self._getaddrinfo(name)
        first = await self._query(name, "A")
        if first.outcome != "nodata":
            return first
        second = await self._query(name, "AAAA")
        if second.outcome == "nodata":
            second.cnames = second.cnames or first.cnames
        return second

    async def _query(self, name: str, rdtype: str) -> Resolution:
        # on first use: dnspython (~55 ms) stays out of start-up (docs/ARCHITECTURE.md)
        import dns.exception
        import dns.resolver

        try:
            answer = await self._resolver.resolve(name + ".", rdtype, search=False)
        except dns.resolver.NXDOMAIN as exc:
            chain = _chain_from_responses(list(exc.responses().values()), name)
            return Resolution(name, "nxdomain", cnames=chain, error="NXDOMAIN")
        except dns.resolver.NoAnswer as exc:
            response = exc.kwargs.get("response")
            chain = _chain_from_responses([response] if response else [], name)
            return Resolution(name, "nodata", cnames=chain, error=f"no {rdtype} record")
        except dns.resolver.LifetimeTimeout as exc:
            truncated = _truncated_then(exc)
            if truncated is not None:
                return Resolution(
                    name, "truncated", error=truncated, nameserver=self._servers_text()
                )
            return Resolution(
                name,
                "timeout",
                error=f"no answer within {self.timeout:g}s",
                nameserver=self._servers_text(),
            )
        except dns.resolver.NoNameservers as exc:
            outcome, error, server = _classify_no_nameservers(exc)
            return Resolution(name, outcome, error=error, nameserver=server)
        except dns.exception.DNSException as exc:
            return Resolution(name, "error", error=f"{type(exc).__name__}: {exc}")
        chain = [str(c).rstrip(".") for c in answer.chaining_result.cnames[1:]]
        chain = _chain_from_responses([answer.response], name) or chain
        addresses = [r.address for r in answer.rrset] if answer.rrset else []
        return Resolution(
            name,
            "ok",
            addresses,
            cnames=chain,
            nameserver=f"{answer.nameserver}:{answer.port}",
        )

    def _servers_text(self) -> str:
        return ", ".join(_server_text(n) for n in getattr(self._resolver, "nameservers", []))

    async def _getaddrinfo(self, name: str) -> Resolution:
        """Fallback when there is no resolv.conf: the platform resolver, bounded by a timeout."""

        try:
            infos = await asyncio.wait_for(
                run_in_daemon_thread(socket.getaddrinfo, name, None, 0, socket.SOCK_STREAM),
                self.timeout,
            )
        except TimeoutError:
            return Resolution(name, "timeout", source="system", error="getaddrinfo timed out")
        except socket.gaierror as exc:
            outcome = "nxdomain" if exc.errno == socket.EAI_NONAME else "error"
            return Resolution(name, outcome, source="system", error=str(exc))
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        return Resolution(name, "ok", addresses, source="system")


def _server_text(nameserver: Any) -> str:
    address = getattr(nameserver, "address", None)
    port = getattr(nameserver, "port", 53)
    return f"{address}:{port}" if address else str(nameserver)


def _chain_from_responses(responses: list[Any], name: str) -> list[str]:
    """The CNAME chain starting at ``name`` as the server returned it (targets, in order)."""
    # on first use: dnspython (~55 ms) stays out of start-up (docs/ARCHITECTURE.md)
    import dns.rdatatype

    links: dict[str, str] = {}
    for response in responses:
        for rrset in getattr(response, "answer", []):
            if rrset.rdtype == dns.rdatatype.CNAME:
                for rdata in rrset:
                    links[str(rrset.name).rstrip(".").lower()] = str(rdata.target).rstrip(".")
    chain: list[str] = []
    current = name.lower()
    while current in links and len(chain) < 16:
        current = links[current]
        chain.append(current)
        current = current.lower()
    return chain


def _truncated_then(exc: Exception) -> str | None:
    """When a UDP answer came back truncated (TC) and the retry over TCP failed: how."""
    # on first use: dnspython (~55 ms) stays out of start-up (docs/ARCHITECTURE.md)
    import dns.message

    errors = getattr(exc, "kwargs", {}).get("errors") or []
    if not any(isinstance(e[3], dns.message.Truncated) for e in errors):
        return None
    tcp = [e for e in errors if e[1] and not isinstance(e[3], dns.message.Truncated)]
    if any(isinstance(e[3], ConnectionRefusedError) for e in tcp):
        how = "TCP port 53 is closed (connection refused)"
    elif any(isinstance(e[3], TimeoutError | OSError) for e in tcp) or not tcp:
        how = "TCP port 53 did not answer (blocked?)"
    else:
        how = f"the TCP answer failed ({tcp[-1][3]})"
    return f"the UDP answer was truncated (too large for UDP) and the retry over TCP failed: {how}"


def _classify_no_nameservers(exc: Exception) -> tuple[str, str, str | None]:
    errors = getattr(exc, "kwargs", {}).get("errors") or []
    truncated = _truncated_then(exc)
    if truncated is not None:
        return "truncated", truncated, f"{errors[-1][0]}:{errors[-1][2]}" if errors else None
    rcodes = [str(e[3]) for e in errors if isinstance(e[3], str)]
    server = f"{errors[-1][0]}:{errors[-1][2]}" if errors else None
    if "REFUSED" in rcodes:
        return "refused", "the DNS server answered REFUSED", server
    if "SERVFAIL" in rcodes:
        return "servfail", "the DNS server answered SERVFAIL", server
    texts = "; ".join(f"{e[0]}: {e[3]}" for e in errors) or str(exc)
    if any(isinstance(e[3], ConnectionRefusedError) for e in errors):
        return "refused", f"connection refused by the DNS server ({texts})", server
    return "error", texts, server
