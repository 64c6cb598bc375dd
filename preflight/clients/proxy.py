"""Outbound proxies as users configure them: ``--proxy`` or HTTPS_PROXY / HTTP_PROXY / ALL_PROXY
(and their lower-case forms) with NO_PROXY.

Schemes: ``http://`` (CONNECT tunnels, absolute-URI GETs), ``https://`` (the same inside a TLS
session with the proxy, verified with the run's trust), ``socks5h://`` and ``socks4a://`` (the
proxy resolves names), ``socks5://`` and ``socks4://`` (names resolved here, the proxy is handed
the address). A URL without a scheme is ``http://``.

A bad ``--proxy`` is the user's typo: ``validate_proxy_url`` raises a one-line ``UsageError``.
A bad proxy variable comes from the environment (a CI agent's ``ALL_PROXY=socks5://...`` or a
stray ``HTTPS_PROXY``): ``ProxySettings.build`` keeps it as an unusable ``Proxy`` (its ``error``
says which variable and why) and in ``ProxySettings.problems``, so the checks that would use it
report it as a finding while the checks that do not touch the network run as usual.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from preflight.errors import UsageError
from preflight.redact import redact_url

#: proxy URL schemes and their default ports
SCHEMES: dict[str, int] = {
    "http": 80,
    "https": 443,
    "socks5": 1080,
    "socks5h": 1080,
    "socks4": 1080,
    "socks4a": 1080,
}
#: schemes whose proxy resolves the target's name itself
REMOTE_DNS_SCHEMES = frozenset({"http", "https", "socks5h", "socks4a"})
#: the environment variables read, in the order they are looked up
ENV_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_EXAMPLES = "http://proxy:3128, https://proxy:443, socks5h://proxy:1080"


@dataclass(frozen=True)
class Proxy:
    """One proxy. ``display`` never carries the password; ``origin`` is where it came from
    (``--proxy``, ``HTTPS_PROXY`` ...). A proxy from the environment that cannot be used has
    ``error`` set (one line naming the variable, the scheme and why) and no host."""

    host: str
    port: int
    display: str
    #: ``Proxy-Authorization`` for http(s) proxies (Basic, from the URL's user info)
    authorization: str | None = field(default=None, repr=False)
    scheme: str = "http"
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    origin: str = "--proxy"
    error: str = ""

    @classmethod
    def from_url(cls, url: str, origin: str = "--proxy") -> Proxy:
        """The proxy a URL names; ``UsageError`` (one line, password masked) when it names
        none this tool can use."""
        text = url.strip()
        if "://" not in text:
            text = "http://" + text
        shown = redact_url(url.strip())
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise UsageError(f"{origin} {shown!r}: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise UsageError(
                f"{origin} {shown!r}: unsupported proxy scheme {scheme + '://'!r} (use "
                "http://, https://, socks5://, socks5h://, socks4:// or socks4a://)"
            )
        if not parts.hostname:
            raise UsageError(f"{origin} {shown!r}: no proxy host; e.g. {_EXAMPLES}")
        if not _valid_host(parts.hostname):
            raise UsageError(
                f"{origin} {shown!r}: {parts.hostname!r} is not a host name or IP address"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise UsageError(
                f"{origin} {shown!r}: a proxy URL is scheme://[user:password@]host[:port] "
                f"(no path); e.g. {_EXAMPLES}"
            )
        username = password = auth = None
        if parts.username is not None:
            username, password = unquote(parts.username), unquote(parts.password or "")
            if scheme.startswith("socks5") and (
                len(username.encode()) > 255 or len(password.encode()) > 255
            ):
                raise UsageError(
                    f"{origin} {shown!r}: SOCKS5 user names and passwords are at most 255 bytes"
                )
            if scheme in ("http", "https"):
                raw = f"{username}:{password}"
                auth = "Basic " + base64.b64encode(raw.encode()).decode()
        return cls(
            parts.hostname,
            port or SCHEMES[scheme],
            redact_url(text),
            auth,
            scheme,
            username,
            password,
            origin,
        )

    @classmethod
    def unusable(cls, url: str, origin: str, why: str) -> Proxy:
        """A proxy setting that cannot be used; ``why`` is the one-line reason."""
        shown = redact_url(url.strip())
        scheme = shown.split("://", 1)[0].lower() if "://" in shown else "http"
        return cls("", 0, shown, scheme=scheme, origin=origin, error=why)

    @property
    def tls(self) -> bool:
        """TLS to the proxy itself (``https://``)."""
        return self.scheme == "https"

    @property
    def socks(self) -> bool:
        return self.scheme.startswith("socks")

    @property
    def remote_dns(self) -> bool:
        """Does the proxy resolve target names (so a local NXDOMAIN is not the verdict)?"""
        return not self.error and self.scheme in REMOTE_DNS_SCHEMES

    @property
    def has_credentials(self) -> bool:
        """Did the URL carry a user name (so a 407 means they were rejected)?"""
        return self.username is not None or "@" in self.display

    def url(self, *, credentials: bool = True) -> str:
        """``scheme://[user:password@]host:port`` (user info percent-encoded again)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        userinfo = ""
        if credentials and self.username is not None:
            userinfo = quote(self.username, safe="")
            if self.password is not None:
                userinfo += ":" + quote(self.password, safe="")
            userinfo += "@"
        return f"{self.scheme}://{userinfo}{host}:{self.port}"


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63 and all(c.isalnum() or c in "-_" for c in label) and label.isascii()
        for label in labels
    )


def validate_proxy_url(url: str, origin: str = "--proxy") -> None:
    """Raise ``UsageError`` (one line naming ``origin``, the password masked) unless ``url``
    names a proxy this tool can use (see the module docstring for the schemes)."""
    Proxy.from_url(url, origin)


def credentials_advice(proxy_shown: str | None, status: int = 407) -> tuple[str, str]:
    """What a 407 (or a SOCKS authentication failure) means, given the proxy URL as shown:
    (what happened, what to do). With credentials in the URL the proxy rejected them; without,
    it wants some."""
    shown = proxy_shown or ""
    scheme = shown.split("://", 1)[0] if "://" in shown else "http"
    if "@" in shown:
        return (
            "the proxy rejected the credentials in the proxy URL",
            "check the user name and password in the proxy URL (--proxy or HTTPS_PROXY; special "
            "characters must be percent-encoded), and that this account may use the proxy",
        )
    return (
        "the proxy wants credentials",
        f"give them in the proxy URL (--proxy {scheme}://user:password@proxy:port or "
        "HTTPS_PROXY); they are redacted from every report",
    )


@dataclass(frozen=True)
class ProxySettings:
    """Which proxy serves a host: --proxy or HTTPS_PROXY/HTTP_PROXY/ALL_PROXY, minus NO_PROXY.

    ``problems`` lists the proxy variables that cannot be used (one line each); the matching
    ``https``/``http`` entry is then a ``Proxy`` with ``error`` set, so the checks that would go
    through it report the problem and the others are unaffected."""

    https: Proxy | None = None
    http: Proxy | None = None
    no_proxy: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @classmethod
    def build(cls, flag: str | None, environ: Mapping[str, str] | None = None) -> ProxySettings:
        """``flag`` (``--proxy``) wins over the environment; a bad flag raises ``UsageError``, a
        bad variable never raises (see the class docstring)."""
        env = os.environ if environ is None else environ

        def pick(*names: str) -> tuple[str | None, str]:
            for name in names:
                value = env.get(name)
                if value and value.strip():
                    return value, name
            return None, ""

        no_proxy_text, _ = pick("NO_PROXY", "no_proxy")
        no_proxy = tuple(e.strip().lower() for e in (no_proxy_text or "").split(",") if e.strip())
        if flag:
            proxy = Proxy.from_url(flag)
            return cls(proxy, proxy, no_proxy)
        built: dict[str, Proxy] = {}

        def from_env(url: str | None, variable: str) -> Proxy | None:
            if url is None:
                return None
            if variable not in built:
                try:
                    built[variable] = Proxy.from_url(url, variable)
                except UsageError as exc:
                    built[variable] = Proxy.unusable(url, variable, str(exc))
            return built[variable]

        https_url, https_var = pick("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
        http_url, http_var = pick("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
        https = from_env(https_url, https_var)
        http = from_env(http_url, http_var)
        problems = tuple(p.error for p in built.values() if p.error)
        return cls(https, http, no_proxy, problems)

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
