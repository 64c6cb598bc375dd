"""Keeping secrets out of every output: stdout, logs and report files.

Two nets: values of secret-named keys (``scoring_key``, ``password``, ``token`` ...) are replaced
wherever they appear, and well-known secret shapes (bearer tokens, JWTs, SAS signatures, storage
keys, PEM private keys, passwords in URLs) are masked in any string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

MASK = "***"
#: query parameters that carry a credential although their names do not say so (SAS ``sig``,
#: Azure Functions' ``code``)
_SECRET_QUERY_NAMES = {"code", "sig", "signature", "sas", "auth", "api-key", "apikey"}
_SECRET_WORDS = {
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "key",
    "apikey",
    "sas",
    "sig",
    "signature",
    "credential",
    "credentials",
    "authorization",
    "connectionstring",
    "passphrase",
}
# keys whose values name a secret rather than hold one (the extension's sslSecret setting is the
# name of a Kubernetes Secret)
_NAMES_NOT_SECRETS = {"sslsecret", "secret_name", "secretname"}
_SPLIT = re.compile(r"[_\-.\s]+|(?<=[a-z0-9])(?=[A-Z])")
_PATTERNS = [
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL
        ),
        MASK,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"(?i)([?&;]sig=)[^&\s\"']+"), r"\1" + MASK),
    (re.compile(r"(?i)((?:AccountKey|SharedAccessKey|Password|Pwd)=)[^;\s\"']+"), r"\1" + MASK),
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), r"\1" + MASK + "@"),
]


def is_secret_key(key: str) -> bool:
    """``scoring_key``, ``clientSecret``, ``AZURE_ACCESS_TOKEN``: the last word names a secret.

    (``sslKeyPemFile`` or ``token_source`` are not secrets: their last word is not.)"""
    if key.lower() in _NAMES_NOT_SECRETS:
        return False
    parts = [p for p in _SPLIT.split(key) if p]
    return bool(parts) and parts[-1].lower() in _SECRET_WORDS


class Redactor:
    """Masks known secret values and secret-shaped strings in nested data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, value: str) -> None:
        if value and len(value) >= 4 and value not in self._values:
            self._values.append(value)
            self._values.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._values:
            value = value.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def data(self, value: Any, key: str | None = None) -> Any:
        if key is not None and is_secret_key(key) and isinstance(value, str | bytes) and value:
            return MASK
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def redact_url(url: str) -> str:
    """A URL fit to show: the password in its userinfo (or a userinfo that is only a token)
    and secret-looking query values masked; a URL with nothing to mask comes back unchanged.
    Accepts ``host:port`` forms without a scheme (proxy settings often are)."""
    schemeless = "://" not in url
    try:
        parts = urlsplit("http://" + url if schemeless else url)
    except ValueError:
        return MASK
    netloc, changed = parts.netloc, False
    if "@" in netloc:
        userinfo, hostport = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostport}" if ":" in userinfo else f"{MASK}@{hostport}"
        changed = True
    query = parts.query
    if query:
        pairs = []
        for name, value in parse_qsl(query, keep_blank_values=True):
            if is_secret_key(name) or name.lower() in _SECRET_QUERY_NAMES:
                value, changed = MASK, True
            pairs.append(f"{quote(name, safe='')}={quote(value, safe='*')}")
        query = "&".join(pairs)
    if not changed:
        return url
    shown = f"{netloc}{parts.path}" if schemeless else f"{parts.scheme}://{netloc}{parts.path}"
    return shown + (f"?{query}" if query else "")
