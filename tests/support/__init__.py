"""Reusable loopback test servers for preflight's test-suite (DESIGN.md, "Testing").

Everything binds 127.0.0.1 on an ephemeral port, runs in daemon threads (or a foreground
subprocess for tinyproxy/dnsmasq), has ``start()``/``stop()`` and is a context manager.
The pytest fixtures wrapping these live in ``tests/conftest.py``.
"""

from ._base import LOOPBACK, support_threads
from .blackhole import Blackhole, RefusedPort, refused_port
from .dns_server import CNAME, DnsServer, Query, SilentDnsServer
from .dnsmasq import Dnsmasq, dnsmasq_available
from .proxy import MiniConnectProxy, ProxyRequest, Tinyproxy, ToolUnavailable
from .tls import (
    INSPECTION_CA_NAME,
    Handshake,
    HttpRequest,
    HttpServer,
    TlsHttpServer,
    client_ssl_context,
    write_ca_bundle,
)

__all__ = [
    "CNAME",
    "INSPECTION_CA_NAME",
    "LOOPBACK",
    "Blackhole",
    "DnsServer",
    "Dnsmasq",
    "Handshake",
    "HttpRequest",
    "HttpServer",
    "MiniConnectProxy",
    "ProxyRequest",
    "Query",
    "RefusedPort",
    "SilentDnsServer",
    "Tinyproxy",
    "TlsHttpServer",
    "ToolUnavailable",
    "client_ssl_context",
    "dnsmasq_available",
    "refused_port",
    "support_threads",
    "write_ca_bundle",
]
