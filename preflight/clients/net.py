"""A phased egress probe: proxy, TCP connect, TLS handshake, one HTTP GET whose answer is read.

An HTTP library folds a dropped SYN, a refused CONNECT and an untrusted certificate into one
"connection error". A firewall change request needs to know which of them happened, so this
probe runs each phase itself on asyncio streams, with its own timeout, and says where it stopped.
It connects to the addresses the caller resolved (so ``--nameserver`` answers are what gets
tested) while SNI and Host stay the FQDN.

A status code alone proves little on enterprise networks: an inspecting proxy, a block page or
a service's own firewall answer too (docs/DESIGN.md, "What proves a network path"). So the probe
keeps what a verdict needs: which trust store verified the certificate (``trust``), the issuer,
and the answer itself (status, headers, a bounded body prefix). Judging it is the caller's job.

Plain HTTP through a proxy goes as an absolute-URI ``GET`` (as curl does); CONNECT is for TLS.
An ``https://`` proxy gets the same inside a TLS session with the proxy (verified with the run's
trust, SNI the proxy's name), so TLS to the origin runs inside TLS to the proxy. A SOCKS proxy
(``socks5h``/``socks4a``: the proxy resolves the name; ``socks5``/``socks4``: it is handed the
addresses the caller resolved) carries both plain HTTP and TLS; its refusals are named by their
SOCKS reply. A proxy setting that cannot be used (``Proxy.error``) is a ``proxy`` phase failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from preflight.clients.proxy import (
    Proxy,
    ProxySettings,
    bypasses,
    validate_proxy_url,
)
from preflight.clients.trust import (
    SYSTEM,
    UNKNOWN_ISSUER_CODES,
    Trust,
    describe_certificate,
    tls_context,
)
from preflight.redact import redact_url

__all__ = [
    "HttpAnswer",
    "ProbeResult",
    "Proxy",
    "ProxySettings",
    "Trust",
    "bypasses",
    "describe_certificate",
    "probe",
    "redact_url",
    "tls_context",
    "allow_tls_in_tls",
    "validate_proxy_url",
]

USER_AGENT = "preflight/0.1 (+egress probe)"
#: how much of an answer's body is kept (enough for an error document or a block page's title)
BODY_LIMIT = 4096
_MAX_HEADERS = 100
_MAX_LINE = 16384
_NO_BODY = {204, 304}
#: TLS failures where the certificate shown is worth naming (issuer, subject, names)
_CERTIFICATE_KINDS = {"untrusted", "expired", "hostname", "verify"}
#: response headers that may carry a secret: kept by name, value masked
_MASKED_HEADERS = {"set-cookie", "authorization", "proxy-authorization"}


@dataclass
class HttpAnswer:
    """What came back to one HTTP request: status, headers (names lower-cased, repeats joined)
    and at most ``BODY_LIMIT`` bytes of the body, with whether the body ended."""

    status: int
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_complete: bool = True
    body_error: str = ""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def looks_like_html(self) -> bool:
        if "html" in self.header("content-type").lower():
            return True
        start = self.body.lstrip()[:64].lower()
        return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))

    def to_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "status": self.status,
            "reason": self.reason,
            "headers": {k: ("***" if k in _MASKED_HEADERS else v) for k, v in self.headers.items()},
            "body_prefix": self.text[:2048],
            "body_bytes_read": len(self.body),
            "body_complete": self.body_complete,
        }
        if self.body_error:
            details["body_error"] = self.body_error
        return details


@dataclass
class ProbeResult:
    """Where the probe got to. ``phase`` is the failing phase, or ``http`` when an answer came.

    ``trust`` says which store verified the certificate: ``system``, or the label of an extra
    CA (``--ca-bundle``, ``kubeconfig``), which means the TLS session ended at whoever holds
    that CA (an inspecting proxy, for a public service). ``mode`` is how the request travelled:
    ``direct``, ``connect`` (a tunnel through the proxy), ``forward`` (plain HTTP handed to
    the proxy as an absolute URI: the proxy, not the origin, may be the one answering) or
    ``socks`` (a SOCKS tunnel). ``proxy_reply`` is a SOCKS proxy's refusal, as
    ``0x05 Connection refused by destination host``."""

    ok: bool
    phase: str
    error: str = ""
    kind: str = ""  # timeout | refused | unreachable | untrusted | expired | hostname | denied ...
    http_status: int | None = None
    address: str | None = None
    proxy: str | None = None
    proxy_status: int | None = None
    proxy_answer: HttpAnswer | None = None
    proxy_reply: str = ""
    mode: str = "direct"
    trust: str | None = None
    tls: dict[str, Any] = field(default_factory=dict)
    presented_certificate: dict[str, Any] = field(default_factory=dict)
    answer: HttpAnswer | None = None
    request: str = ""
    #: the leaf certificate (DER) of the verified session, for callers that check who else
    #: would trust it; never in details
    leaf_der: bytes = field(default=b"", repr=False)
    timings_ms: dict[str, float] = field(default_factory=dict)
    attempts: list[dict[str, str]] = field(default_factory=list)

    def to_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"phase": self.phase, "timings_ms": self.timings_ms}
        for key in (
            "error",
            "kind",
            "http_status",
            "address",
            "proxy",
            "proxy_status",
            "proxy_reply",
            "trust",
        ):
            value = getattr(self, key)
            if value not in (None, ""):
                details[key] = value
        details["mode"] = self.mode
        if self.request:
            details["request"] = self.request
        if self.tls:
            details["tls"] = self.tls
        if self.presented_certificate:
            details["presented_certificate"] = self.presented_certificate
        if self.answer is not None:
            details["answer"] = self.answer.to_details()
        if self.proxy_answer is not None:
            details["proxy_answer"] = self.proxy_answer.to_details()
        if len(self.attempts) > 1 or (self.attempts and not self.ok):
            details["attempts"] = self.attempts
        return details


class _PhaseFailed(Exception):
    def __init__(self, phase: str, kind: str, error: str) -> None:
        super().__init__(error)
        self.phase, self.kind, self.error = phase, kind, error


_Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def probe(
    host: str,
    port: int,
    *,
    addresses: list[str],
    trust: Trust | None,
    proxy: Proxy | None,
    timeout: float,
    path: str = "/",
    body_limit: int = BODY_LIMIT,
    proxy_tls: ssl.SSLContext | None = None,
) -> ProbeResult:
    """``GET path`` from ``host:port``; TLS (verified, SNI ``host``) unless ``trust`` is None.

    ``addresses`` are where to connect directly (or what a ``socks5://``/``socks4://`` proxy is
    handed); a proxy that resolves names itself needs none. ``proxy_tls`` verifies an
    ``https://`` proxy (default: ``trust``'s system + extra CAs, else the system store).
    Each phase is bounded by ``timeout`` seconds (the HTTP phase covers the request, the head
    and the body prefix). Never raises for I/O: the result says where it stopped."""
    result = ProbeResult(ok=False, phase="connect", proxy=proxy.display if proxy else None)
    if proxy is not None and proxy.error:
        result.phase, result.kind, result.error = "proxy", "config", proxy.error
        result.mode = "socks" if proxy.socks else "connect" if trust is not None else "forward"
        return result
    route = _Route(
        proxy,
        proxy_tls or (trust.combined if trust is not None else None),
        addresses,
    )
    streams: _Streams | None = None
    try:
        if trust is None:
            streams, request = await _plain(host, port, route, timeout, path, result)
        else:
            streams = await _tls_session(host, port, route, trust, timeout, result)
            request = _request(host, port, path, absolute=False, default_port=443)
        result.request = request.split("\r\n", 1)[0]
        result.answer = await _exchange(streams, request, timeout, body_limit, result, trust)
        result.http_status = result.answer.status
        result.ok, result.phase = True, "http"
    except _PhaseFailed as failure:
        result.phase, result.kind, result.error = failure.phase, failure.kind, failure.error
        if failure.phase == "tls" and failure.kind in _CERTIFICATE_KINDS:
            result.presented_certificate = await presented_certificate(
                host, port, addresses[0] if addresses else None, proxy, timeout, route.proxy_tls
            )
    finally:
        if streams is not None:
            await _close(streams[1])
    return result


# -- opening a path: direct, or through the proxy ------------------------------------------------


async def _timed(result: ProbeResult, phase: str, coro: Any, timeout: float) -> Any:
    started = time.monotonic()
    try:
        return await asyncio.wait_for(coro, timeout)
    finally:
        spent = round((time.monotonic() - started) * 1000, 1)
        result.timings_ms[phase] = round(result.timings_ms.get(phase, 0.0) + spent, 1)


def _os_error_kind(exc: OSError) -> tuple[str, str]:
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused (nothing listening, or a firewall rejecting)"
    if isinstance(exc, ConnectionResetError):
        return "reset", "connection reset (a firewall or proxy cut it)"
    text = exc.strerror or str(exc) or type(exc).__name__
    if "unreachable" in text.lower():
        return "unreachable", text
    return "error", text


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(TimeoutError, OSError, ssl.SSLError, RuntimeError, TypeError):
        await asyncio.wait_for(writer.wait_closed(), 0.5)


async def _connect(
    addresses: list[str], port: int, timeout: float, result: ProbeResult
) -> _Streams:
    if not addresses:
        raise _PhaseFailed("connect", "no-address", "no address to connect to")
    last: _PhaseFailed | None = None
    for address in addresses[:4]:
        try:
            streams = await _timed(
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
            return streams
        result.attempts.append({"address": address, "outcome": last.error})
    assert last is not None
    raise last


@dataclass(frozen=True)
class _Route:
    """How to reach the target: directly to ``addresses``, or through ``proxy`` (``proxy_tls``
    verifies an https:// proxy)."""

    proxy: Proxy | None
    proxy_tls: ssl.SSLContext | None
    addresses: list[str]


async def _open_proxy(
    proxy: Proxy, timeout: float, result: ProbeResult, proxy_tls: ssl.SSLContext | None = None
) -> _Streams:
    """A connection to an HTTP proxy; for an https:// proxy, a verified TLS session with it."""
    try:
        streams = await _timed(
            result, "proxy_connect", asyncio.open_connection(proxy.host, proxy.port), timeout
        )
    except TimeoutError:
        raise _PhaseFailed(
            "proxy", "timeout", f"proxy {proxy.display} did not accept a connection in {timeout:g}s"
        ) from None
    except OSError as exc:
        kind, msg = _os_error_kind(exc)
        raise _PhaseFailed("proxy", kind, f"proxy {proxy.display}: {msg}") from None
    if proxy.tls:
        try:
            await _proxy_handshake(streams[1], proxy, proxy_tls, timeout, result)
        except BaseException:
            await _close(streams[1])
            raise
    return streams


async def _proxy_handshake(
    writer: asyncio.StreamWriter,
    proxy: Proxy,
    context: ssl.SSLContext | None,
    timeout: float,
    result: ProbeResult,
) -> None:
    """TLS with an https:// proxy: verified (system store + the run's extra CAs), SNI and
    certificate name checked against the proxy's host."""
    context = context or ssl.create_default_context()
    try:
        await _timed(
            result, "proxy_tls", writer.start_tls(context, server_hostname=proxy.host), timeout
        )
        allow_tls_in_tls(writer)
    except TimeoutError:
        raise _PhaseFailed(
            "proxy",
            "tls",
            f"proxy {proxy.display}: the TLS handshake with the proxy did not complete within "
            f"{timeout:g}s (is this port an HTTP proxy without TLS? then use http://)",
        ) from None
    except ssl.SSLCertVerificationError as exc:
        message = getattr(exc, "verify_message", "") or str(exc)
        raise _PhaseFailed(
            "proxy",
            "tls-untrusted",
            f"proxy {proxy.display}: the proxy's own certificate failed verification: {message}",
        ) from None
    except (ssl.SSLError, OSError, EOFError, ValueError, TypeError) as exc:
        text = str(exc) or type(exc).__name__
        raise _PhaseFailed(
            "proxy",
            "tls",
            f"proxy {proxy.display}: the TLS handshake with the proxy failed: {text} (is this "
            "port an HTTP proxy without TLS? then use http://)",
        ) from None


def allow_tls_in_tls(writer: asyncio.StreamWriter) -> None:
    """Let a TLS session started inside this one (``start_tls`` again) fail cleanly.

    Up to Python 3.12, when the inner handshake fails, asyncio's SSL transport calls
    ``SSLProtocol._abort(exc)`` on the outer session, whose ``_abort`` takes no argument: the
    TypeError skips waking the inner ``start_tls``, which then hangs to its timeout and the real
    error (an untrusted certificate ...) is lost. 3.13 passes the error along; here this one
    transport gets a ``_force_close`` that aborts the outer session either way."""
    transport = writer.transport
    protocol = getattr(transport, "_ssl_protocol", None)
    if protocol is None or not hasattr(transport, "_force_close"):
        return

    def force_close(exc: BaseException | None) -> None:
        transport._closed = True  # type: ignore[attr-defined]
        try:
            protocol._abort(exc)
        except TypeError:
            protocol._abort()

    transport._force_close = force_close


async def _via_proxy(
    host: str, port: int, route: _Route, timeout: float, result: ProbeResult
) -> _Streams:
    """A tunnel to ``host:port``: HTTP CONNECT (the proxy resolves the name), or SOCKS."""
    proxy = route.proxy
    assert proxy is not None
    if proxy.socks:
        return await _via_socks(host, port, route, timeout, result)
    reader, writer = await _open_proxy(proxy, timeout, result, route.proxy_tls)
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: {USER_AGENT}\r\n"
    if proxy.authorization:
        request += f"Proxy-Authorization: {proxy.authorization}\r\n"
    writer.write((request + "\r\n").encode("ascii", "replace"))
    try:
        status, reason, headers = await _timed(result, "proxy_connect", _read_head(reader), timeout)
    except TimeoutError:
        await _close(writer)
        raise _PhaseFailed(
            "proxy", "timeout", f"proxy {proxy.display} did not answer CONNECT in {timeout:g}s"
        ) from None
    except _NotHttp as exc:
        await _close(writer)
        raise _PhaseFailed(
            "proxy", "garbage", f"proxy {proxy.display} answered CONNECT with {exc}"
        ) from None
    except (OSError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
        await _close(writer)
        raise _PhaseFailed(
            "proxy", "error", f"proxy {proxy.display} broke off the CONNECT: {exc or 'EOF'}"
        ) from None
    result.proxy_status = status
    if status // 100 != 2:
        body, complete, _ = await _read_body(reader, headers, status, 2048, min(timeout, 2.0))
        result.proxy_answer = HttpAnswer(status, reason, headers, body, complete)
        await _close(writer)
        kind = "auth" if status in (401, 407) else "denied"
        raise _PhaseFailed(
            "proxy", kind, f"proxy {proxy.display} answered CONNECT {target} with {status} {reason}"
        )
    result.address = f"via proxy {proxy.display}"
    result.mode = "connect"
    return reader, writer


#: SOCKS5 replies (RFC 1928 section 6) and SOCKS4 ones, as the kind of failure they are
_SOCKS_KINDS = {
    0x01: "error",  # general SOCKS server failure
    0x02: "denied",  # connection not allowed by ruleset
    0x03: "unreachable",  # network unreachable
    0x04: "unreachable",  # host unreachable
    0x05: "refused",  # connection refused by destination host
    0x06: "unreachable",  # TTL expired
    0x07: "error",  # command not supported
    0x08: "error",  # address type not supported
    0x5B: "denied",  # SOCKS4: request rejected or failed
    0x5C: "auth",  # SOCKS4: cannot reach identd on the client
    0x5D: "auth",  # SOCKS4: identd reports another user
}


async def _via_socks(
    host: str, port: int, route: _Route, timeout: float, result: ProbeResult
) -> _Streams:
    """A SOCKS tunnel to ``host:port`` (python-socks): the name for socks5h/socks4a, else the
    caller's addresses, tried in order while the proxy says it cannot reach one."""
    # on first use: python-socks (~35 ms) stays out of start-up (docs/ARCHITECTURE.md)
    from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError, ProxyType
    from python_socks.async_.asyncio import Proxy as SocksProxy

    proxy = route.proxy
    assert proxy is not None
    result.mode = "socks"
    version = 4 if proxy.scheme.startswith("socks4") else 5
    if proxy.remote_dns:
        targets = [host]
    else:
        targets = [a for a in route.addresses if version == 5 or _is_ipv4(a)][:4]
        if not targets:
            raise _PhaseFailed(
                "connect",
                "no-address",
                f"no {'IPv4 ' if version == 4 else ''}address for {host} to hand to the SOCKS "
                f"proxy {proxy.display} ({proxy.scheme}:// resolves names on this machine; "
                f"{proxy.scheme}{'h' if version == 5 else 'a'}:// lets the proxy resolve them)",
            )
    kind_of_proxy = ProxyType.SOCKS4 if version == 4 else ProxyType.SOCKS5
    last: _PhaseFailed | None = None
    for target in targets:
        shown = f"[{target}]:{port}" if ":" in target else f"{target}:{port}"
        socks = SocksProxy(
            kind_of_proxy,
            proxy.host,
            proxy.port,
            username=proxy.username,
            password=proxy.password if version == 5 else None,
            rdns=proxy.remote_dns,
        )
        try:
            sock = await _timed(
                result, "proxy_connect", socks.connect(target, port, timeout=timeout), timeout
            )
        except (ProxyTimeoutError, TimeoutError):
            raise _PhaseFailed(
                "proxy",
                "timeout",
                f"SOCKS proxy {proxy.display} did not complete CONNECT {shown} within {timeout:g}s",
            ) from None
        except ProxyConnectionError as exc:
            if exc.errno == errno.ECONNREFUSED:
                kind, msg = "refused", "connection refused (nothing listening, or a firewall)"
            else:
                kind, msg = "error", str(exc)
            raise _PhaseFailed("proxy", kind, f"proxy {proxy.display}: {msg}") from None
        except ProxyError as exc:
            code = exc.error_code
            text = str(exc) or "the proxy closed the connection"
            if code is not None:
                result.proxy_reply = f"{code:#04x} {text}"
                kind = _SOCKS_KINDS.get(code, "error")
                what = f"answered CONNECT {shown} with SOCKS{version} reply {result.proxy_reply}"
            else:
                result.proxy_reply = text
                lowered = text.lower()
                kind = "auth" if "authentication" in lowered else "garbage"
                if kind == "auth":
                    what = f"refused the SOCKS{version} login: {text}"
                else:
                    what = f"broke off the SOCKS{version} handshake: {text}"
            last = _PhaseFailed("proxy", kind, f"SOCKS proxy {proxy.display} {what}")
            result.attempts.append({"address": target, "outcome": last.error})
            if kind in ("unreachable", "refused") and not proxy.remote_dns:
                continue
            raise last from None
        except OSError as exc:
            kind, msg = _os_error_kind(exc)
            raise _PhaseFailed("proxy", kind, f"proxy {proxy.display}: {msg}") from None
        try:
            streams = await asyncio.open_connection(sock=sock)
        except OSError as exc:
            sock.close()
            raise _PhaseFailed("proxy", "error", f"proxy {proxy.display}: {exc}") from None
        via = f"via proxy {proxy.display}"
        result.address = via if proxy.remote_dns else f"{target} {via}"
        result.attempts.append({"address": target, "outcome": f"connected {via}"})
        result.mode = "socks"
        return streams
    assert last is not None
    raise last


def _is_ipv4(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 4
    except ValueError:
        return False


async def _plain(
    host: str,
    port: int,
    route: _Route,
    timeout: float,
    path: str,
    result: ProbeResult,
) -> tuple[_Streams, str]:
    """A plain-HTTP path: straight to the host, through a SOCKS tunnel, or handed to an HTTP(S)
    proxy as an absolute URI."""
    proxy = route.proxy
    if proxy is None:
        return await _connect(route.addresses, port, timeout, result), _request(
            host, port, path, absolute=False, default_port=80
        )
    if proxy.socks:
        streams = await _via_socks(host, port, route, timeout, result)
        return streams, _request(host, port, path, absolute=False, default_port=80)
    streams = await _open_proxy(proxy, timeout, result, route.proxy_tls)
    result.address, result.mode = f"via proxy {proxy.display}", "forward"
    request = _request(host, port, path, absolute=True, default_port=80)
    if proxy.authorization:
        head, _, rest = request.partition("\r\n")
        request = f"{head}\r\nProxy-Authorization: {proxy.authorization}\r\n{rest}"
    return streams, request


# -- TLS ------------------------------------------------------------------------------------------


async def _tls_session(
    host: str,
    port: int,
    route: _Route,
    trust: Trust,
    timeout: float,
    result: ProbeResult,
) -> _Streams:
    """A verified TLS session, and which store verified it (``result.trust``).

    Without extra CAs there is one store and one handshake. With them, the handshake trusts
    system + extras, and the leaf's issuer (name and key id) says which store was needed; an
    issuer the run has not met yet is settled once by a second handshake trusting the system
    store alone (``Trust.source_for`` keeps the answer for the run's other hosts)."""

    async def open_path_for(target: ProbeResult) -> _Streams:
        if route.proxy is not None:
            return await _via_proxy(host, port, route, timeout, target)
        return await _connect(route.addresses, port, timeout, target)

    streams = await open_path_for(result)
    context = trust.combined if trust.has_extras else trust.system
    try:
        await _handshake(streams[1], host, context, timeout, result)
    except BaseException:
        await _close(streams[1])
        raise
    if not trust.has_extras:
        result.trust = SYSTEM
        return streams

    async def system_alone() -> bool | None:
        """Does the system store alone verify this host? None when the check itself failed."""
        scratch = ProbeResult(ok=False, phase="tls", proxy=result.proxy)
        try:
            again = await open_path_for(scratch)
        except _PhaseFailed:
            return None
        try:
            await _handshake(again[1], host, trust.system, timeout, scratch)
            return True
        except _PhaseFailed as failure:
            return False if failure.kind == "untrusted" else None
        finally:
            await _close(again[1])

    issuer = str(result.tls.get("issuer", ""))
    result.trust = await trust.source_for(issuer, result.leaf_der, system_alone)
    return streams


async def _handshake(
    writer: asyncio.StreamWriter,
    host: str,
    context: ssl.SSLContext,
    timeout: float,
    result: ProbeResult,
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
        if code in UNKNOWN_ISSUER_CODES:
            kind = "untrusted"
        elif code == 10:
            kind = "expired"
        elif code == 62:
            kind = "hostname"
        else:
            kind = "verify"
        raise _PhaseFailed("tls", kind, f"certificate verification failed: {message}") from None
    except (ssl.SSLError, OSError, EOFError, ValueError) as exc:
        kind = "reset" if isinstance(exc, ConnectionResetError) else "error"
        text = str(exc) or type(exc).__name__
        raise _PhaseFailed("tls", kind, f"TLS handshake failed: {text}") from None
    except TypeError:
        # TLS inside the TLS session with an https:// proxy: asyncio (3.11) reports a failed
        # inner handshake as a TypeError from SSLProtocol._abort, without the SSL error
        raise _PhaseFailed(
            "tls",
            "error",
            f"TLS handshake with {host} failed inside the proxy's TLS session (the origin, or "
            "something between the proxy and it, broke off the handshake)",
        ) from None
    ssl_object = writer.get_extra_info("ssl_object")
    try:
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        version = ssl_object.version() if ssl_object is not None else None
    except (ValueError, ssl.SSLError, OSError) as exc:
        # the peer tore the session down as the handshake ended (a TLS 1.3 alert, a reset)
        raise _PhaseFailed(
            "tls", "aborted", f"the TLS session was aborted right after the handshake ({exc})"
        ) from None
    if der:
        info = describe_certificate(der)
        result.tls = {"version": version, **info}
        result.leaf_der = der


async def presented_certificate(
    host: str,
    port: int,
    address: str | None,
    proxy: Proxy | None,
    timeout: float,
    proxy_tls: ssl.SSLContext | None = None,
) -> dict[str, Any]:
    """What certificate was shown, fetched again without verification, to name its issuer."""
    loose = ssl.create_default_context()
    loose.check_hostname = False
    loose.verify_mode = ssl.CERT_NONE
    scratch = ProbeResult(ok=False, phase="tls")
    writer: asyncio.StreamWriter | None = None
    try:
        if proxy is not None:
            route = _Route(proxy, proxy_tls, [address] if address else [])
            _, writer = await _via_proxy(host, port, route, timeout, scratch)
        elif address:
            _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
        else:
            return {}
        assert writer is not None
        await asyncio.wait_for(writer.start_tls(loose, server_hostname=host), timeout)
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        return describe_certificate(der) if der else {}
    except (TimeoutError, OSError, ssl.SSLError, _PhaseFailed, ValueError, TypeError):
        return {}
    finally:
        if writer is not None:
            await _close(writer)


# -- HTTP -----------------------------------------------------------------------------------------


class _NotHttp(Exception):
    """The peer sent something that is not an HTTP response head (``empty``: nothing at all)."""

    def __init__(self, text: str, empty: bool = False) -> None:
        super().__init__(text)
        self.empty = empty


def _request(host: str, port: int, path: str, *, absolute: bool, default_port: int) -> str:
    authority = host if port == default_port else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        authority = f"[{host}]" if port == default_port else f"[{host}]:{port}"
    target = f"http://{authority}{path}" if absolute else path
    return (
        f"GET {target} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial
    except asyncio.LimitOverrunError:
        raise _NotHttp("a line longer than the reader's limit") from None


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, str, dict[str, str]]:
    """An HTTP response head (1xx interim answers skipped): (status, reason, headers)."""
    while True:
        line = await _read_line(reader)
        if not line:
            raise _NotHttp("nothing (the connection closed before a response)", empty=True)
        parts = line.decode("latin-1").strip().split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise _NotHttp(f"something that is not HTTP: {line[:60]!r}")
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            raw = await _read_line(reader)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep:
                continue
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        status = int(parts[1])
        if 100 <= status < 200 and status != 101:
            continue
        return status, parts[2] if len(parts) > 2 else "", headers


async def _read_body(
    reader: asyncio.StreamReader,
    headers: dict[str, str],
    status: int,
    limit: int,
    timeout: float,
) -> tuple[bytes, bool, str]:
    """At most ``limit`` bytes of the body within ``timeout``: (bytes, ended, why not)."""
    if status in _NO_BODY:
        return b"", True, ""
    chunks = bytearray()

    async def read() -> bool:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while len(chunks) < limit:
                size_line = (await _read_line(reader)).split(b";", 1)[0].strip()
                if not size_line:
                    return False
                size = int(size_line, 16)
                if size == 0:
                    return True
                data = await reader.readexactly(size)
                chunks.extend(data)
                await _read_line(reader)
            return False
        length = headers.get("content-length")
        if length is not None and length.strip().isdigit():
            wanted = int(length)
            data = await reader.read(min(wanted, limit)) if wanted else b""
            while len(data) < min(wanted, limit):
                more = await reader.read(min(wanted, limit) - len(data))
                if not more:
                    break
                data += more
            chunks.extend(data)
            return len(data) >= wanted
        while len(chunks) < limit:
            data = await reader.read(limit - len(chunks))
            if not data:
                return True
            chunks.extend(data)
        return False

    try:
        ended = await asyncio.wait_for(read(), max(timeout, 0.001))
    except TimeoutError:
        return bytes(chunks[:limit]), False, f"the body stalled after {len(chunks)} bytes"
    except (ValueError, asyncio.IncompleteReadError) as exc:
        return bytes(chunks[:limit]), False, f"malformed body framing ({exc})"
    except (OSError, ssl.SSLError) as exc:
        return bytes(chunks[:limit]), False, f"the connection broke off in the body ({exc})"
    if not ended and len(chunks) >= limit:
        return bytes(chunks[:limit]), False, ""
    return bytes(chunks[:limit]), ended, ""


async def _exchange(
    streams: _Streams,
    request: str,
    timeout: float,
    body_limit: int,
    result: ProbeResult,
    trust: Trust | None,
) -> HttpAnswer:
    reader, writer = streams
    started = time.monotonic()
    tls = trust is not None
    try:
        writer.write(request.encode("ascii", "replace"))
        await asyncio.wait_for(writer.drain(), timeout)
        status, reason, headers = await asyncio.wait_for(_read_head(reader), timeout)
    except TimeoutError:
        result.timings_ms["http"] = round((time.monotonic() - started) * 1000, 1)
        raise _PhaseFailed(
            "http", "timeout", f"connected, but no HTTP response within {timeout:g}s"
        ) from None
    except ssl.SSLError as exc:
        raise _PhaseFailed(
            "tls", "aborted", f"the TLS session was aborted before an HTTP answer ({exc})"
        ) from None
    except ConnectionResetError as exc:
        if tls:
            raise _PhaseFailed(
                "tls",
                "aborted",
                f"the connection was reset right after the TLS handshake, before an HTTP "
                f"answer ({exc})",
            ) from None
        raise _PhaseFailed(
            "http", "reset", f"connection reset before an HTTP answer ({exc})"
        ) from None
    except _NotHttp as exc:
        if exc.empty and tls:
            # the peer ended the TLS session (close_notify, FIN or RST: Python's ssl cannot
            # tell them apart) without a byte of HTTP: a TLS-level refusal, as when a TLS 1.3
            # server or an inspecting device rejects the session after the handshake
            raise _PhaseFailed(
                "tls",
                "aborted",
                "the TLS session was closed right after the handshake, before any HTTP answer",
            ) from None
        if exc.empty:
            raise _PhaseFailed(
                "http", "closed", "the connection was closed before any HTTP answer"
            ) from None
        raise _PhaseFailed("http", "garbage", f"the answer was {exc}") from None
    except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
        raise _PhaseFailed("http", "error", f"HTTP exchange failed: {exc or 'EOF'}") from None
    left = timeout - (time.monotonic() - started)
    body, ended, why = await _read_body(reader, headers, status, body_limit, left)
    result.timings_ms["http"] = round((time.monotonic() - started) * 1000, 1)
    return HttpAnswer(status, reason, headers, body, ended, why)
