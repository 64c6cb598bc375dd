"""What ``preflight load`` sends: the target URL, headers and payload, checked before anything is
sent (exit code 2 on bad input), and the fixed request bytes built once.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from preflight.errors import UsageError
from preflight.redact import redact_url

USER_AGENT = "preflight-load/0.1"


#: Framing headers the generator owns: a user value would desynchronise the keep-alive stream.
_RESERVED_HEADERS = {"content-length", "transfer-encoding", "connection", "upgrade", "te"}


BODY_METHODS = {"POST", "PUT", "PATCH"}


@dataclass(frozen=True)
class Target:
    """Where the requests go. ``display`` is the URL with any credentials masked."""

    scheme: str
    host: str
    port: int
    request_target: str = field(repr=False)  # path and query as sent (the query may hold a key)
    host_header: str
    display: str
    basic_auth: str | None = field(default=None, repr=False)


def parse_url(url: str) -> Target:
    """Validate an ``http(s)://host[:port]/path`` URL; ``UsageError`` (redacted) if malformed."""
    shown = redact_url(url)
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise UsageError(f"URL {shown!r}: contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"URL {shown!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UsageError(f"URL {shown!r}: expected http:// or https://")
    host = parts.hostname
    if not host:
        raise UsageError(f"URL {shown!r}: no host")
    port = port or (443 if scheme == "https" else 80)
    default_port = port == (443 if scheme == "https" else 80)
    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if default_port else f"{bracketed}:{port}"
    request_target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    basic = None
    if parts.username is not None:
        raw = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        basic = "Basic " + base64.b64encode(raw.encode()).decode()
    return Target(scheme, host, port, request_target, host_header, shown, basic)


def parse_number(name: str, value: Any, minimum: float = 0.0, inclusive: bool = False) -> float:
    """A finite number ``> minimum`` (``>=`` with ``inclusive``) or a one-line ``UsageError``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} {value!r}: expected a number") from None
    ok = number >= minimum if inclusive else number > minimum
    if not math.isfinite(number) or not ok:
        relation = ">=" if inclusive else ">"
        raise UsageError(f"{name} {value!r}: must be a number {relation} {minimum:g}")
    return number


def parse_headers(raw: Iterable[str]) -> list[tuple[str, str]]:
    """``'K: V'`` strings -> pairs. Errors never echo a value (it may be a credential)."""
    headers: list[tuple[str, str]] = []
    for text in raw:
        name, sep, value = text.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not name or any(c in name for c in " \t\r\n"):
            raise UsageError(f"--header {name[:40]!r}...: expected 'Name: value'")
        if any(c in value for c in "\r\n\0") or any(ord(c) > 0xFF for c in value):
            raise UsageError(f"--header {name!r}: the value has line breaks or non-Latin-1 text")
        if name.lower() in _RESERVED_HEADERS:
            raise UsageError(f"--header {name!r}: set by preflight load itself; leave it out")
        headers.append((name, value))
    return headers


def load_payload(payload: str | None) -> bytes | None:
    """``--payload``: inline JSON (checked, so a shell-quoting slip is caught here) or ``@file``
    (sent byte for byte)."""
    if payload is None:
        return None
    if payload.startswith("@"):
        path = payload[1:]
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise UsageError(f"--payload @{path}: cannot read: {exc.strerror or exc}") from None
    try:
        json.loads(payload)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--payload: not valid JSON ({exc.msg} at column {exc.colno})") from None
    return payload.encode()


def build_request(
    target: Target, method: str, body: bytes | None, headers: Sequence[tuple[str, str]]
) -> bytes:
    """The request, built once and written verbatim for every request of the run."""
    user = {name.lower() for name, _ in headers}
    lines = [f"{method} {target.request_target} HTTP/1.1"]
    if "host" not in user:
        lines.append(f"Host: {target.host_header}")
    if "user-agent" not in user:
        lines.append(f"User-Agent: {USER_AGENT}")
    if "accept" not in user:
        lines.append("Accept: */*")
    if target.basic_auth and "authorization" not in user:
        lines.append(f"Authorization: {target.basic_auth}")
    if body is not None and "content-type" not in user:
        lines.append("Content-Type: application/json")
    if body is not None or method in BODY_METHODS:
        lines.append(f"Content-Length: {len(body or b'')}")
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
