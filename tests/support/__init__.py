"""Reusable loopback test servers for preflight's test-suite (DESIGN.md, "Testing").

Everything binds 127.0.0.1 on an ephemeral port, runs in daemon threads (or a foreground
subprocess for tinyproxy/dnsmasq/squid), has ``start()``/``stop()`` and is a context manager.
The pytest fixtures wrapping these live in ``tests/conftest.py``.
"""

from . import azure_services
from ._base import LOOPBACK, support_threads
from .blackhole import Blackhole, RefusedPort, refused_port
from .dns_server import CNAME, DnsServer, Query, SilentDnsServer
from .dnsmasq import Dnsmasq, dnsmasq_available
from .misbehave import MisbehavingServer
from .mitm import INSPECTION_ORG, InspectedRequest, InspectingProxy
from .proxy import MiniConnectProxy, ProxyRequest, Tinyproxy, ToolUnavailable
from .socks import SocksRequest, SocksServer, TlsFront
from .squid import Squid, SquidRequest, squid_available
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
    "INSPECTION_ORG",
    "LOOPBACK",
    "Blackhole",
    "DnsServer",
    "Dnsmasq",
    "Handshake",
    "HttpRequest",
    "HttpServer",
    "InspectedRequest",
    "InspectingProxy",
    "MiniConnectProxy",
    "MisbehavingServer",
    "ProxyRequest",
    "Query",
    "RefusedPort",
    "SilentDnsServer",
    "SocksRequest",
    "SocksServer",
    "Squid",
    "SquidRequest",
    "Tinyproxy",
    "TlsFront",
    "TlsHttpServer",
    "ToolUnavailable",
    "azure_services",
    "client_ssl_context",
    "dnsmasq_available",
    "refused_port",
    "squid_available",
    "support_threads",
    "write_ca_bundle",
]
