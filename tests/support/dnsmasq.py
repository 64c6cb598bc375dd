"""A real dnsmasq on 127.0.0.1:<free port>, a second DNS implementation next to ``DnsServer``.

Started in the foreground, reading no config, no ``/etc/hosts`` and no ``resolv.conf``::

    dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --port=P
            --listen-address=127.0.0.1 --bind-interfaces --pid-file= --log-queries
            --log-facility=- --local-ttl=TTL  <records...>

The table uses the same shapes as ``DnsServer``::

    with Dnsmasq(
        records={
            "mcr.microsoft.com": ["127.0.0.1", "::1"],     # --host-record (exact name)
            "alias.example": CNAME("mcr.microsoft.com"),    # --cname (target must be a record)
            "*.data.mcr.microsoft.com": "127.0.0.1",        # --address=/data.mcr.../127.0.0.1
        },                                   # (unlike DnsServer: the bare domain matches too)
        nxdomain={"gone.example"},      # --address=/gone.example/  (name and all below)
        sinkhole={"blocked.example"},   # --address=/blocked.example/#  -> 0.0.0.0 and ::
        unknown="nxdomain",             # --address=/#/ ; "refused": dnsmasq's own answer
    ) as dns:
        dns.address  # "127.0.0.1:P"

dnsmasq facts (2.90):

- With no upstream servers an unknown name is answered ``REFUSED``, so ``unknown="nxdomain"``
  adds the catch-all ``--address=/#/``. With ``unknown="refused"`` even a known name asked for
  a type it lacks (AAAA of an IPv4-only record) is REFUSED, not no-data.
- ``--address=/d/IP`` covers ``d`` *and* every name below it, and a type it has no address for
  (AAAA for an IPv4 entry) falls through to the catch-all, i.e. NXDOMAIN; that is why exact
  names use ``--host-record`` (missing type: NOERROR, no data).
- ``--cname`` targets must be dnsmasq-local names; a CNAME to an unknown name is answered with
  the dangling CNAME and NOERROR.
- Local answers carry TTL 0 unless ``--local-ttl`` is set.
- Running as root, dnsmasq drops to user ``nobody`` after binding; logging to stderr still works.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ._base import (
    LOOPBACK,
    ForegroundDaemon,
    port_accepts,
    tail,
    terminate_process,
)
from .dns_server import CNAME, Query, RecordSpec
from .proxy import ToolUnavailable

__all__ = ["Dnsmasq", "dnsmasq_available"]

_QUERY_RE = re.compile(r"query\[(\w+)\] (\S+) from ")
_BIND_ERRORS = ("Address already in use", "failed to create listening socket")


def dnsmasq_available() -> bool:
    """True if a ``dnsmasq`` binary is on PATH (or in /usr/sbin)."""
    return bool(_find_binary())


def _find_binary() -> str | None:
    return shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")


class Dnsmasq(ForegroundDaemon):
    """A dnsmasq subprocess answering from a table (see module docstring)."""

    daemon = "dnsmasq"
    bind_errors = _BIND_ERRORS
    udp_too = True

    def __init__(
        self,
        records: Mapping[str, RecordSpec] | None = None,
        *,
        nxdomain: Iterable[str] = (),
        sinkhole: Iterable[str] = (),
        unknown: str = "nxdomain",
        ttl: int = 60,
        extra_args: Sequence[str] = (),
        start_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        binary = _find_binary()
        if not binary:
            raise ToolUnavailable("dnsmasq not found (apt-get install -y dnsmasq-base)")
        if unknown not in ("nxdomain", "refused"):
            raise ValueError("unknown= must be 'nxdomain' or 'refused' for dnsmasq")
        self.binary = binary
        self.records = dict(records or {})
        self.nxdomain = list(nxdomain)
        self.sinkhole = list(sinkhole)
        self.unknown = unknown
        self.ttl = ttl
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.workdir = Path(tempfile.mkdtemp(prefix="dnsmasq-"))
        self.log_path = self.workdir / "dnsmasq.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._last_log = ""

    @property
    def nameserver(self) -> str:
        """Same as ``address``: the value for ``--nameserver``."""
        return self.address

    def record_args(self) -> list[str]:
        """The dnsmasq options expressing the table."""
        args: list[str] = []
        for raw_name, spec in self.records.items():
            name = raw_name.rstrip(".").lower()
            if isinstance(spec, CNAME):
                if name.startswith("*."):
                    raise ValueError("dnsmasq cannot serve a wildcard CNAME")
                args.append(f"--cname={name},{spec.target.rstrip('.').lower()}")
                continue
            addresses = [spec] if isinstance(spec, str) else list(spec)
            for address in addresses:
                ipaddress.ip_address(address)  # validate early
                if name.startswith("*."):
                    args.append(f"--address=/{name[2:]}/{address}")
                else:
                    args.append(f"--host-record={name},{address}")
        args += [f"--address=/{n.rstrip('.').lower()}/" for n in self.nxdomain]
        args += [f"--address=/{n.rstrip('.').lower()}/#" for n in self.sinkhole]
        if self.unknown == "nxdomain":
            args.append("--address=/#/")
        return args

    def command(self) -> list[str]:
        """The full dnsmasq command line."""
        return [
            self.binary,
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            f"--port={self.port}",
            f"--listen-address={LOOPBACK}",
            "--bind-interfaces",
            "--pid-file=",
            "--log-queries",
            "--log-facility=-",
            f"--local-ttl={self.ttl}",
            *self.record_args(),
            *self.extra_args,
        ]

    def _launch(self) -> tuple[list[str], Path]:
        self.log_path.unlink(missing_ok=True)
        return self.command(), self.log_path

    def _diagnostics(self) -> str:
        rc = None if self.proc is None else self.proc.poll()
        return f"exit code {rc}:\n{' '.join(self.command())}\n{tail(self.log_path)}"

    def _cleanup_files(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _ready(self) -> bool:
        return (
            self.proc is not None
            and self.proc.poll() is None
            and "started, version" in tail(self.log_path, 50)
            and port_accepts(self.host, self.port)
        )

    def _stop(self) -> None:
        terminate_process(self.proc)
        self.proc = None
        self._last_log = self.log_text()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_text(self) -> str:
        """dnsmasq's stderr log so far (after ``stop()``: as it was at stop)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return self._last_log

    @property
    def queries(self) -> list[Query]:
        """Queries dnsmasq logged (transport is not logged: ``""``)."""
        return [
            Query(name.rstrip(".").lower(), qtype, "")
            for qtype, name in _QUERY_RE.findall(self.log_text())
        ]
