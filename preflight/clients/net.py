"""A phased egress probe: proxy CONNECT, TCP connect, TLS handshake, one HTTP request.

An HTTP library folds a dropped SYN, a refused CONNECT and an untrusted certificate into one
"connection error". A firewall change request needs to know which of them happened, so this
probe runs each phase itself on asyncio streams, with its own timeout, and says where it stopped.
It connects to the addresses the caller resolved (so ``--nameserver`` answers are what gets
tested) while SNI and Host stay the FQDN.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from preflight.errors import UsageError

USER_AGENT = "preflight/0.1 (+egress probe)"
# verify codes meaning "the issuer is not one we trust": a TLS-inspecting proxy's usual signature
_UNKNOWN_ISSUER_CODES = {18, 19, 20, 21, 27}


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy that tunnels with CONNECT. ``display`` never carries the password."""

    host: str
    port: int
    display: str
    authorization: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str, origin: str = "--proxy") -> Proxy:
        text = url.strip()
        if "://" not in text:
            text = "http://" + text
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise UsageError(f"{origin} {redact_url(url)!r}: {exc}") from None
        if parts.scheme != "http":
            raise UsageError(
                f"{origin} {redact_url(url)!r}: only http:// proxies are supported "
                "(TLS to the target runs end to end inside the CONNECT tunnel)"
            )
        if not parts.hostname:
            raise UsageError(f"{origin} {redact_url(url)!r}: no proxy host; e.g. http://proxy:3128")
        auth = None
        if parts.username is not None:
            raw = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = "Basic " + base64.b64encode(raw.encode()).decode()
        return cls(parts.hostname, port or 80, redact_url(text), auth)


def redact_url(url: str) -> str:
    """``http://user:secret@host`` -> ``http://user:***@host``."""
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
    except ValueError:
        return "***"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return url.replace(parts.netloc, f"{user}:***@{netloc}", 1)


@dataclass(frozen=True)
class ProxySettings:
    """Which proxy serves a host: --proxy or HTTPS_PROXY/HTTP_PROXY, minus NO_PROXY."""

    https: Proxy | None = None
    http: Proxy | None = None
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def build(cls, flag: str | None, environ: Mapping[str, str] | None = None) -> ProxySettings:
        env = os.environ if environ is None else environ

        def pick(*names: str) -> tuple[str | None, str]:
            for name in names:
                if env.get(name):
                    return env[name], name
            return None, ""

        no_proxy_text, _ = pick("NO_PROXY", "no_proxy")
        no_proxy = tuple(e.strip().lower() for e in (no_proxy_text or "").split(",") if e.strip())
        if flag:
            proxy = Proxy.from_url(flag)
            return cls(proxy, proxy, no_proxy)
        https_url, https_var = pick("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
        http_url, http_var = pick("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
        return cls(
            Proxy.from_url(https_url, https_var) if https_url else None,
            Proxy.from_url(http_url, http_var) if http_url else None,
            no_proxy,
        )

    def for_host(self, host: str, port: int, tls: bool) -> Proxy | None:
        proxy = self.https if tls else self.http
        if proxy is None or bypasses(host, port, self.no_proxy):
            return None
        return proxy


def bypasses(host: str, port: int, entries: tuple[str, ...]) -> bool:
    """NO_PROXY as curl and Go read it: ``*``, domain suffixes, IPs, CIDRs, optional :port."""
    host = host.lower().rstrip(".")
    try:
        host_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        host_ip = None
    for raw in entries:
        entry = raw
        if entry == "*":
            return True
        entry_port = None
        if entry.count(":") == 1 and not entry.startswith("["):
            entry, _, port_text = entry.partition(":")
            entry_port = int(port_text) if port_text.isdigit() else None
        if entry_port is not None and entry_port != port:
            continue
        if host_ip is not None:
            try:
                if host_ip in ipaddress.ip_network(entry.strip("[]"), strict=False):
                    return True
            except ValueError:
                pass
            continue
        domain = entry.lstrip("*").lstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


@dataclass
class ProbeResult:
    """Where the probe got to. ``phase`` is the failing phase, or ``http`` when it succeeded."""

    ok: bool
    phase: str
    error: str = ""
    kind: str = (
        ""  # timeout | refused | unreachable | untrusted | expired | hostname | denied | ...
    )
    http_status: int | None = None
    address: str | None = None
    proxy: str | None = None
    proxy_status: int | None = None
    tls: dict[str, Any] = field(default_factory=dict)
    presented_certificate: dict[str, Any] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    attempts: list[dict[str, str]] = field(default_factory=list)

    def to_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"phase": self.phase, "timings_ms": self.timings_ms}
        for key in ("error", "kind", "http_status", "address", "proxy", "proxy_status"):
            value = getattr(self, key)
            if value not in (None, ""):
                details[key] = value
        if self.tls:
            details["tls"] = self.tls
        if self.presented_certificate:
            details["presented_certificate"] = self.presented_certificate
        if len(self.attempts) > 1 or (self.attempts and not self.ok):
            details["attempts"] = self.attempts
        return details


class _PhaseFailed(Exception):
    def __init__(self, phase: str, kind: str, error: str) -> None:
        super().__init__(error)
        self.phase, self.kind, self.error = phase, kind, error


async def probe(
    host: str,
    port: int,
    *,
    addresses: list[str],
    tls_context: ssl.SSLContext | None,
    proxy: Proxy | None,
    timeout: float,
) -> ProbeResult:
    """Probe ``host:port``. Each phase is bounded by ``timeout`` seconds. Never raises for I/O."""
    result = ProbeResult(ok=False, phase="connect", proxy=proxy.display if proxy else None)
    writer: asyncio.StreamWriter | None = None
    try:
        if proxy is not None:
            reader, writer = await _via_proxy(host, port, proxy, timeout, result)
        else:
            reader, writer = await _connect(addresses, port, timeout, result)
        if tls_context is not None:
            await _handshake(writer, host, port, tls_context, timeout, result, addresses, proxy)
        await _http(reader, writer, host, port, timeout, result)
        result.ok, result.phase = True, "http"
    except _PhaseFailed as failure:
        result.phase, result.kind, result.error = failure.phase, failure.kind, failure.error
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(TimeoutError, OSError, ssl.SSLError):
                await asyncio.wait_for(writer.wait_closed(), 0.5)
    return result


async def _timed(result: ProbeResult, phase: str, coro: Any, timeout: float) -> Any:
    started = time.monotonic()
    try:
        return await asyncio.wait_for(coro, timeout)
    finally:
        result.timings_ms[phase] = round((time.monotonic() - started) * 1000, 1)


def _os_error_kind(exc: OSError) -> tuple[str, str]:
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused (nothing listening, or a firewall rejecting)"
    if isinstance(exc, ConnectionResetError):
        return "reset", "connection reset (a firewall or proxy cut it)"
    text = exc.strerror or str(exc) or type(exc).__name__
    if "unreachable" in text.lower():
        return "unreachable", text
    return "error", text


async def _connect(
    addresses: list[str], port: int, timeout: float, result: ProbeResult
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if not addresses:
        raise _PhaseFailed("connect", "no-address", "no address to connect to")
    last: _PhaseFailed | None = None
    for address in addresses[:4]:
        try:
            reader, writer = await _timed(
                result, "connect", asyncio.open_connection(address, port), timeout
            )
        except TimeoutError:
            msg = f"no answer to TCP SYN within {timeout:g}s (packets dropped: a firewall?)"
            last = _PhaseFailed("connect", "timeout", f"{address}:{port}: {msg}")
        except OSError as exc:
            kind, msg = _os_error_kind(exc)
            last = _PhaseFailed("connect", kind, f"{address}:{port}: {msg}")
        else:
            result.address = address
            result.attempts.append({"address": address, "outcome": "connected"})
            return reader, writer
        result.attempts.append({"address": address, "outcome": last.error})
    assert last is not None
    raise last


async def _via_proxy(
    host: str, port: int, proxy: Proxy, timeout: float, result: ProbeResult
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        reader, writer = await _timed(
            result, "proxy_connect", asyncio.open_connection(proxy.host, proxy.port), timeout
        )
    except TimeoutError:
        raise _PhaseFailed(
            "proxy", "timeout", f"proxy {proxy.display} did not accept a connection in {timeout:g}s"
        ) from None
    except OSError as exc:
        kind, msg = _os_error_kind(exc)
        raise _PhaseFailed("proxy", kind, f"proxy {proxy.display}: {msg}") from None
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: {USER_AGENT}\r\n"
    if proxy.authorization:
        request += f"Proxy-Authorization: {proxy.authorization}\r\n"
    writer.write((request + "\r\n").encode("ascii", "replace"))
    try:
        status, reason = await _timed(result, "proxy_connect", _read_head(reader), timeout)
    except TimeoutError:
        writer.close()
        raise _PhaseFailed(
            "proxy", "timeout", f"proxy {proxy.display} did not answer CONNECT in {timeout:g}s"
        ) from None
    except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
        writer.close()
        raise _PhaseFailed(
            "proxy", "error", f"proxy {proxy.display} broke off the CONNECT: {exc or 'EOF'}"
        ) from None
    result.proxy_status = status
    if status // 100 != 2:
        writer.close()
        kind = "auth" if status in (401, 407) else "denied"
        raise _PhaseFailed(
            "proxy", kind, f"proxy {proxy.display} answered CONNECT {target} with {status} {reason}"
        )
    result.address = f"via proxy {proxy.display}"
    return reader, writer


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, str]:
    """Read an HTTP response head; return (status, reason)."""
    line = await reader.readline()
    if not line:
        raise ValueError("connection closed before a response")
    parts = line.decode("latin-1").strip().split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {line[:60]!r}")
    for _ in range(100):  # skip headers
        header = await reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
    return int(parts[1]), parts[2] if len(parts) > 2 else ""


async def _handshake(
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    context: ssl.SSLContext,
    timeout: float,
    result: ProbeResult,
    addresses: list[str],
    proxy: Proxy | None,
) -> None:
    try:
        await _timed(result, "tls", writer.start_tls(context, server_hostname=host), timeout)
    except TimeoutError:
        raise _PhaseFailed(
            "tls", "timeout", f"TLS handshake did not complete within {timeout:g}s"
        ) from None
    except ssl.SSLCertVerificationError as exc:
        code = getattr(exc, "verify_code", 0)
        message = getattr(exc, "verify_message", "") or str(exc)
        result.presented_certificate = await _presented_certificate(
            host, port, result.address, proxy, timeout
        )
        if code in _UNKNOWN_ISSUER_CODES:
            kind = "untrusted"
        elif code == 10:
            kind = "expired"
        elif code == 62:
            kind = "hostname"
        else:
            kind = "verify"
        raise _PhaseFailed("tls", kind, f"certificate verification failed: {message}") from None
    except (ssl.SSLError, OSError, EOFError) as exc:
        kind = "reset" if isinstance(exc, ConnectionResetError) else "error"
        text = str(exc) or type(exc).__name__
        raise _PhaseFailed("tls", kind, f"TLS handshake failed: {text}") from None
    ssl_object = writer.get_extra_info("ssl_object")
    if ssl_object is not None:
        cert = ssl_object.getpeercert() or {}
        result.tls = {
            "version": ssl_object.version(),
            "issuer": _dn(cert.get("issuer", ())),
            "subject": _dn(cert.get("subject", ())),
            "not_after": cert.get("notAfter"),
        }


def _dn(rdns: Any) -> str:
    return ", ".join(f"{k}={v}" for rdn in rdns for k, v in rdn)


async def _presented_certificate(
    host: str, port: int, address: str | None, proxy: Proxy | None, timeout: float
) -> dict[str, Any]:
    """What certificate was shown, fetched again without verification, to name its issuer."""
    loose = ssl.create_default_context()
    loose.check_hostname = False
    loose.verify_mode = ssl.CERT_NONE
    scratch = ProbeResult(ok=False, phase="tls")
    writer: asyncio.StreamWriter | None = None
    try:
        if proxy is not None:
            _, writer = await _via_proxy(host, port, proxy, timeout, scratch)
        elif address:
            _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
        else:
            return {}
        assert writer is not None
        await asyncio.wait_for(writer.start_tls(loose, server_hostname=host), timeout)
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        return describe_certificate(der) if der else {}
    except (TimeoutError, OSError, ssl.SSLError, _PhaseFailed, ValueError):
        return {}
    finally:
        if writer is not None:
            writer.close()


def describe_certificate(der: bytes) -> dict[str, Any]:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    info: dict[str, Any] = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        info["dns_names"] = san.value.get_values_for_type(x509.DNSName)[:20]
    except x509.ExtensionNotFound:
        pass
    return info


async def _http(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    timeout: float,
    result: ProbeResult,
) -> None:
    default_port = 443 if writer.get_extra_info("ssl_object") else 80
    host_header = host if port == default_port else f"{host}:{port}"
    request = (
        f"HEAD / HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    )
    try:
        writer.write(request.encode("ascii", "replace"))
        status, _ = await _timed(result, "http", _read_head(reader), timeout)
    except TimeoutError:
        raise _PhaseFailed(
            "http", "timeout", f"connected, but no HTTP response within {timeout:g}s"
        ) from None
    except (OSError, ValueError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
        raise _PhaseFailed("http", "error", f"HTTP exchange failed: {exc or 'EOF'}") from None
    result.http_status = status


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verified TLS: the system trust store plus the optional ``--ca-bundle`` PEM file."""
    context = ssl.create_default_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UsageError(
                f"--ca-bundle {ca_bundle}: cannot load PEM certificates ({reason})"
            ) from None
    return context
