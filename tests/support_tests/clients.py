"""Plain, independent clients for the self-tests of tests/support: the standard library
(socket, ssl, http.client) and dnspython only, so that what they prove is the component, not
preflight."""

from __future__ import annotations

import base64
import http.client
import io
import socket
from typing import Any

import dns.message
import dns.rdatatype


class Answer:
    """A parsed HTTP response: status, reason, headers (case-insensitive), body."""

    def __init__(self, status: int, reason: str, headers: Any, body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def read_answer(sock: socket.socket, method: str = "GET") -> Answer:
    """Read one response from ``sock`` (by its framing, never waiting for EOF if it has one)."""
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    return Answer(response.status, response.reason, response.headers, response.read())


def send_request(
    sock: socket.socket,
    method: str,
    target: str,
    host: str,
    headers: dict[str, str] | None = None,
    close: bool = True,
) -> None:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    conn = "Connection: close\r\n" if close else ""
    sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{extra}{conn}\r\n".encode())


def connect_via(
    proxy_port: int, target: str, headers: dict[str, str] | None = None
) -> tuple[Answer | None, socket.socket]:
    """``CONNECT target`` through a proxy. Returns (the proxy's answer unless it is 200, the
    socket; after a 200 it is positioned at the start of the tunnel)."""
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=5)
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)  # byte by byte: do not eat into the tunnel
        if not chunk:
            break
        head += chunk
    status_line, _, header_block = head.partition(b"\r\n")
    _, status, reason = status_line.decode("latin-1").split(" ", 2)
    if status == "200":
        return None, sock
    parsed = http.client.parse_headers(io.BytesIO(header_block))
    body = b""
    length = int(parsed.get("Content-Length") or 0)
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return Answer(int(status), reason, parsed, body), sock


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Proxy-Authorization": f"Basic {token}"}


def answers(msg: dns.message.Message) -> list[tuple[str, str, str]]:
    """``(owner, type, value)`` for every answer record."""
    return [
        (rrset.name.to_text(omit_final_dot=True), dns.rdatatype.to_text(rrset.rdtype), rd.to_text())
        for rrset in msg.answer
        for rd in rrset
    ]


def proxy_connect(
    proxy_port: int, target: str, headers: dict[str, str] | None = None
) -> tuple[int, socket.socket]:
    """``CONNECT target`` through a proxy: (its status, the socket; after a 200 it is positioned
    at the start of the tunnel)."""
    answer, sock = connect_via(proxy_port, target, headers)
    return (200 if answer is None else answer.status), sock
