"""Outbound proxies as users configure them: ``--proxy`` or HTTPS_PROXY / HTTP_PROXY / NO_PROXY.

Which proxy serves a host (NO_PROXY read as curl and Go read it), and how to show a proxy URL
without its password.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from preflight.errors import UsageError


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
