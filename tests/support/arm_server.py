"""Fake Azure Resource Manager and Instance Metadata Service on loopback (DESIGN.md, "Testing").

``FakeArm`` is a threaded HTTPS server (leaf certificate from a trustme CA) holding a table of
ARM resources keyed by resource id. The tool reaches it through a user profile whose
``endpoints.arm`` is ``arm.url`` (``write_azure_profile``) and ``--ca-bundle``::

    from support.arm_server import FakeArm, FakeImds, write_azure_profile
    from support.azure_objects import managed_cluster, provider

    with FakeArm(ca=ca, tokens={"good-token"}) as arm:
        arm.put(managed_cluster("aks1", SUB, "rg1"))
        arm.put(provider("Microsoft.KubernetesConfiguration", sub=SUB))
        httpx.get(arm.url + cluster_id, params={"api-version": "2024-09-01"},
                  headers={"Authorization": "Bearer good-token"}, verify=ctx).json()

What it answers, shaped like the real ARM front door:

- ``GET`` of any stored resource (``put(body)`` or ``put(resource_id, body)``); path matching is
  case-insensitive and ignores a trailing slash, as ARM's is. Subscriptions and resource groups
  come into being with the first resource put under them (``add_subscription`` /
  ``add_resource_group`` create empty ones); ``GET /subscriptions/S`` and
  ``GET /subscriptions/S/resourceGroups/G`` return their documents.
- Collections: a path ending in a resource *type* lists the resources directly under it as
  ``{"value": [...]}`` (empty when there are none), e.g. ``.../managedClusters/c/providers/
  Microsoft.KubernetesConfiguration/extensions``, ``/subscriptions/S/providers``,
  ``/subscriptions/S/resourceGroups/G/providers/Microsoft.ContainerService/managedClusters``,
  and subscription-wide ``/subscriptions/S/providers/<NS>/<type>`` (across resource groups).
  ``page_size`` splits lists into pages joined by ``nextLink`` (``$skiptoken``).
- ``api-version`` is required (400 ``MissingApiVersionParameter``), must look like a date
  (400 ``InvalidApiVersionParameter``) and, for types listed in ``api_versions``, be one of them
  (400 ``NoRegisteredProviderFound``).
- Bearer tokens: only ``tokens`` are accepted (a set, or a mapping token -> the caller's object
  id used in 403 messages). No ``Authorization`` header: 401 ``AuthenticationFailed``; any other
  token: 401 ``InvalidAuthenticationToken``; a token in ``wrong_audience_tokens``: 401
  ``InvalidAuthenticationTokenAudience`` naming the audience it was obtained for and the ones this
  cloud allows. Every 401 carries ``WWW-Authenticate: Bearer authorization_uri=..., error=
  "invalid_token", error_description=...``.
- Not found, in ARM's own words: ``SubscriptionNotFound``, ``ResourceGroupNotFound``,
  ``ResourceNotFound`` (with the aka.ms/ARMResourceNotFoundFix text), ``ParentResourceNotFound``
  for a child under a missing parent, ``InvalidResourceNamespace`` for an unknown provider.
- Fault injection (``inject``), per path regex: a status with ARM's real error body (403
  ``AuthorizationFailed`` naming the caller, action and scope; 429 ``Retry-After``; 500
  ``InternalServerError``; ...), for the first ``times`` requests only if asked; ``hang`` (no answer
  until ``stop()``), ``delay``, ``drop`` (close the connection), raw ``body``. Faults apply
  after authentication: a request without an accepted token still gets its 401.
- Azure Policy: tenant-level resources (built-in ``/providers/Microsoft.Authorization/
  policyDefinitions/<name>`` and ``policySetDefinitions``) are stored and read like others (404
  ``PolicyDefinitionNotFound``); ``{scope}/providers/Microsoft.Authorization/policyAssignments``
  lists the assignments at the scope and those inherited from the scopes above it, unless
  ``$filter=atExactScope()``.
- ``requests``: every request with method, path, api-version and whether its token matched
  (``token``: valid / invalid / wrong-audience / missing / malformed). Tokens themselves are never
  stored or printed.

``FakeImds`` is the managed-identity token endpoint (plain HTTP like the real one, HTTPS with
``tls=True``): ``GET /metadata/identity/oauth2/token?api-version=...&resource=...`` with header
``Metadata: true``; see its docstring.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import os
import re
import socket
import ssl
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import trustme

from ._base import BackgroundServer

__all__ = [
    "BUILTIN_PROFILES",
    "CLOUDS",
    "DEFAULT_PRINCIPAL",
    "GOOD_TOKEN",
    "IMDS_TOKEN",
    "ArmRequest",
    "CloudInfo",
    "Fault",
    "FakeArm",
    "FakeImds",
    "ImdsRequest",
    "write_azure_profile",
]

#: The token ``FakeArm`` accepts by default.
GOOD_TOKEN = "good-token"
#: The token ``FakeImds`` hands out by default.
IMDS_TOKEN = "imds-token"
#: Object id of the caller named in 403 messages when ``tokens`` is a plain set.
DEFAULT_PRINCIPAL = "8f0c5a6e-3b7d-4c1e-9a2f-5d6e7f8a9b0c"
_DEFAULT_TENANT = "72f988bf-0000-4000-8000-000000000001"


@dataclass(frozen=True)
class CloudInfo:
    """What an ARM front door of one cloud says about itself."""

    name: str  # az cloud name
    arm: str  # the ARM endpoint (also its main token audience)
    login: str  # authorization_uri in WWW-Authenticate
    audiences: tuple[str, ...]  # audiences the front door accepts, as its 401 lists them
    #: the audience a token from *another* cloud typically carries (for wrong-audience tests)
    foreign_audience: str


CLOUDS: dict[str, CloudInfo] = {
    "AzureCloud": CloudInfo(
        "AzureCloud",
        "https://management.azure.com/",
        "https://login.windows.net/",
        (
            "https://management.core.windows.net/",
            "https://management.core.windows.net",
            "https://management.azure.com/",
            "https://management.azure.com",
        ),
        "https://management.chinacloudapi.cn/",
    ),
    "AzureChinaCloud": CloudInfo(
        "AzureChinaCloud",
        "https://management.chinacloudapi.cn/",
        "https://login.chinacloudapi.cn/",
        (
            "https://management.core.chinacloudapi.cn/",
            "https://management.core.chinacloudapi.cn",
            "https://management.chinacloudapi.cn/",
            "https://management.chinacloudapi.cn",
        ),
        "https://management.azure.com/",
    ),
    "AzureUSGovernment": CloudInfo(
        "AzureUSGovernment",
        "https://management.usgovcloudapi.net/",
        "https://login.microsoftonline.us/",
        (
            "https://management.core.usgovcloudapi.net/",
            "https://management.core.usgovcloudapi.net",
            "https://management.usgovcloudapi.net/",
            "https://management.usgovcloudapi.net",
        ),
        "https://management.azure.com/",
    ),
}

#: Built-in profile name -> its cloud.
BUILTIN_PROFILES = {
    "azure-public": "AzureCloud",
    "azure-china": "AzureChinaCloud",
    "azure-usgov": "AzureUSGovernment",
}

_API_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha)?$", re.IGNORECASE)
_NOT_FOUND_FIX = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"


# -- records and faults ---------------------------------------------------------------------------
@dataclass
class ArmRequest:
    """One request ``FakeArm`` received. The bearer token is never kept: ``token`` says only
    how it fared (``valid``, ``invalid``, ``wrong-audience``, ``missing``, ``malformed``)."""

    method: str
    path: str
    query: dict[str, list[str]]
    api_version: str | None
    token: str = "missing"
    principal: str | None = None  # object id of a valid token's owner
    headers: dict[str, str] = field(default_factory=dict)  # without Authorization
    status: int | None = None  # None: dropped, hung, or still running
    started: float = 0.0
    duration: float | None = None

    @property
    def authenticated(self) -> bool:
        """True if the request carried an accepted token."""
        return self.token == "valid"


@dataclass
class ImdsRequest:
    """One request ``FakeImds`` received."""

    method: str
    path: str
    query: dict[str, list[str]]
    metadata_header: str | None  # the Metadata header's value, None if absent
    resource: str | None
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Fault:
    """An injected misbehaviour (``FakeArm.inject`` / ``FakeImds.inject``); ``hits`` counts
    the requests it took."""

    path: re.Pattern[str] | None = None
    method: str | None = None
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: int | None = None
    hang: bool = False
    hang_seconds: float = 300.0
    delay: float = 0.0
    drop: bool = False
    body: bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or bool(self.path.search(path))


class _Answered(Exception):
    """The response has been written."""


class _Drop(Exception):
    """Close the connection without answering."""


class _Reply(Exception):
    """Answer with this status, JSON body and headers."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _arm_error(status: int, code: str, message: str, **headers: str) -> _Reply:
    return _Reply(status, {"error": {"code": code, "message": message}}, headers)


# -- HTTP plumbing shared by both servers ---------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # else ~40 ms per request (Nagle + delayed ACK)
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections are closed after this
    server: _Server

    def _dispatch(self) -> None:
        self.server.owner._handle(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # keep test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, owner: _JsonServer) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._spawn(
            self.owner._serve_connection,
            request,
            client_address,
            name=f"{self.owner._thread_name}-{self.owner.port}",
        )


class _JsonServer(BackgroundServer):
    """Threaded HTTP(S) JSON server: connection tracking, faults, fake-bug capture."""

    _thread_name = "json"

    def __init__(
        self,
        *,
        tls: bool,
        ca: trustme.CA | None,
        hostnames: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self.tls = tls
        self.ca = (ca if ca is not None else trustme.CA()) if tls else ca
        self.hostnames = ["127.0.0.1", "localhost", *hostnames]
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._server_errors: list[str] = []
        self._open: set[socket.socket] = set()
        self._server: _Server | None = None
        self._ssl_context: ssl.SSLContext | None = None

    # -- addresses -------------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` (``http://`` without TLS), no trailing slash."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def url_for(self, hostname: str, path: str = "") -> str:
        """``scheme://hostname:PORT/path`` (resolve ``hostname`` to 127.0.0.1 yourself; give it
        in ``hostnames`` so the certificate covers it)."""
        return f"{self.scheme}://{hostname}:{self.port}{path}"

    def write_ca_bundle(self, path: str | os.PathLike[str]) -> Path:
        """Write the PEM of the CA that signed this server's certificate to ``path``."""
        if self.ca is None:
            raise ValueError("plain-HTTP server: there is no CA")
        out = Path(path)
        out.write_bytes(self.ca.cert_pem.bytes())
        return out

    # -- faults ----------------------------------------------------------------------------------
    def inject(
        self,
        path: str | re.Pattern[str] | None = None,
        *,
        method: str | None = None,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
        hang: bool = False,
        hang_seconds: float = 300.0,
        delay: float = 0.0,
        drop: bool = False,
        body: bytes | str | Mapping[str, Any] | None = None,
        content_type: str = "application/json; charset=utf-8",
        headers: Mapping[str, str] | None = None,
        times: int | None = None,
    ) -> Fault:
        """Make requests whose path (no query) matches ``path`` misbehave; the first matching
        fault wins. ``path`` is a regex searched case-insensitively (anchor it to be exact).

        ``status``: answer with that status and the service's real error body for it
        (``code``/``message`` override the text); 429 adds ``Retry-After: retry_after or 1``.
        ``body``: send these bytes (a mapping is JSON-encoded) instead, with ``status or 200``.
        ``hang``: never answer; wait ``hang_seconds`` or until ``stop()``, then close.
        ``delay``: sleep first, then answer (normally, or per ``status``/``body``).
        ``drop``: close the connection at once. ``times``: only the first ``times`` matching
        requests are hit; later ones are answered normally.
        """
        pattern = re.compile(path, re.IGNORECASE) if isinstance(path, str) else path
        raw: bytes | None
        if isinstance(body, Mapping):
            raw = json.dumps(body).encode()
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = body
        fault = Fault(
            path=pattern,
            method=method,
            status=status,
            code=code,
            message=message,
            retry_after=retry_after,
            hang=hang,
            hang_seconds=hang_seconds,
            delay=delay,
            drop=drop,
            body=raw,
            content_type=content_type,
            headers=dict(headers or {}),
            times=times,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            fault = next((f for f in self._faults if f.matches(method, path)), None)
            if fault is not None:
                fault.hits += 1
            return fault

    def _run_fault(self, fault: Fault, h: _Handler, on_status: Any) -> None:
        """Play ``fault``: raise _Drop, _Reply or _Answered; return to answer normally."""
        if fault.delay:
            self._stopping.wait(fault.delay)
        if fault.hang:
            self._stopping.wait(fault.hang_seconds)
            raise _Drop
        if fault.drop or self._stopping.is_set():
            raise _Drop
        if fault.body is not None:
            self._send(h, fault.status or 200, fault.body, fault.content_type, fault.headers)
            raise _Answered
        if fault.status is not None:
            reply: _Reply = on_status(fault)
            reply.headers = {**reply.headers, **fault.headers}
            raise reply

    @property
    def server_errors(self) -> list[str]:
        """Tracebacks of exceptions the fake itself raised (answered 500): bugs in the fake."""
        with self._lock:
            return list(self._server_errors)

    # -- lifecycle -------------------------------------------------------------------------------
    def _start(self) -> None:
        if self.tls:
            assert self.ca is not None
            leaf = self.ca.issue_cert(*dict.fromkeys(self.hostnames))
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            leaf.configure_cert(ctx)
            ctx.set_alpn_protocols(["http/1.1"])
            self._ssl_context = ctx
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self._spawn(
            self._server.serve_forever, 0.05, name=f"{self._thread_name}-accept-{self.port}"
        )

    def _stop(self) -> None:
        self._close_socketserver()

    def _serve_connection(self, raw: socket.socket, client_address: Any) -> None:
        server = self._server
        assert server is not None
        self._serve_maybe_tls(
            raw, self._ssl_context, lambda conn: _Handler(conn, client_address, server)
        )

    # -- responses -------------------------------------------------------------------------------
    def _send(
        self,
        h: _Handler,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _read_body(self, h: _Handler) -> bytes:
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(length) if length > 0 else b""

    def _handle(self, h: _Handler) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _guard(self, h: _Handler, work: Any, on_reply: Any) -> None:
        """Run ``work()``; turn _Reply/_Drop/_Answered and fake bugs into answers."""
        try:
            work()
        except _Reply as reply:
            on_reply(reply)
        except _Answered:
            pass
        except _Drop:
            h.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            h.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a bug in the fake: answer 500, remember it
            with self._lock:
                self._server_errors.append(traceback.format_exc())
            with contextlib.suppress(OSError):
                on_reply(_arm_error(500, "FakeServerBug", f"{type(self).__name__}: {exc!r}"))


# -- ARM path grammar -----------------------------------------------------------------------------
@dataclass
class _Route:
    """What an ARM path names (see ``_parse``)."""

    kind: str  # subscriptions | subscription | resourceGroups | resourceGroup | providers |
    #            provider | resource | collection | tenant | invalid
    sub: str = ""
    rg: str = ""
    namespace: str = ""
    types: list[str] = field(default_factory=list)  # type chain of the final provider segment
    names: list[str] = field(default_factory=list)  # names along that chain
    #: ancestors that must exist: (key, display name, is-scope-of-extension-resource)
    ancestors: list[tuple[str, str, bool]] = field(default_factory=list)

    @property
    def type_path(self) -> str:
        """``Microsoft.ContainerService/managedClusters`` (nested: ``.../agentPools``)."""
        return "/".join([self.namespace, *self.types])

    @property
    def qualified_name(self) -> str:
        """``Microsoft.ContainerService/managedClusters/aks1`` (nested types interleaved)."""
        parts = [self.namespace]
        for i, t in enumerate(self.types):
            parts.append(t)
            if i < len(self.names):
                parts.append(self.names[i])
        return "/".join(parts)


def _norm(path: str) -> str:
    """The table key of a path: lower-case, no trailing or doubled slashes."""
    return "/" + "/".join(p for p in path.strip().lower().split("/") if p)


def _parse(path: str) -> _Route:
    seg = [p for p in path.split("/") if p]
    low = [s.lower() for s in seg]
    if len(seg) >= 4 and low[0] == "providers":
        # tenant level (built-in policy definitions, management groups): looked up as stored
        return _Route("tenant", namespace=seg[1], types=seg[2::2], names=seg[3::2])
    if not seg or low[0] != "subscriptions":
        return _Route("invalid")
    if len(seg) == 1:
        return _Route("subscriptions")
    route = _Route("subscription", sub=seg[1])
    if len(seg) == 2:
        return route
    i = 2
    if low[2] == "resourcegroups":
        if len(seg) == 3:
            route.kind = "resourceGroups"
            return route
        route.rg = seg[3]
        if len(seg) == 4:
            route.kind = "resourceGroup"
            return route
        i = 4
    first = True
    while i < len(seg):
        if low[i] != "providers":
            return _Route("invalid")
        if i + 1 == len(seg):
            route.kind = "providers" if first and not route.rg else "invalid"
            return route
        namespace = seg[i + 1]
        i += 2
        if i == len(seg):
            route.kind = "provider" if first and not route.rg else "invalid"
            route.namespace = namespace
            return route
        route.namespace, route.types, route.names = namespace, [], []
        while i < len(seg) and low[i] != "providers":
            route.types.append(seg[i])
            if i + 1 == len(seg):
                route.kind = "collection"
                return route
            route.names.append(seg[i + 1])
            i += 2
            if i < len(seg):  # there is more: this resource is an ancestor
                is_scope = low[i] == "providers"
                route.ancestors.append(("/" + "/".join(seg[:i]), seg[i - 1], is_scope))
        first = False
    route.kind = "resource"
    return route


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- FakeArm --------------------------------------------------------------------------------------
class FakeArm(_JsonServer):
    """A fake ARM front door on https://127.0.0.1:PORT (see the module docstring).

    ``resources``: bodies to ``put`` at start (each with its ``id``). ``tokens``: accepted bearer
    tokens, a set or a mapping token -> caller object id. ``wrong_audience_tokens``: tokens that
    get 401 InvalidAuthenticationTokenAudience; a set (obtained for ``cloud``'s usual foreign
    audience) or a mapping token -> audience. ``cloud``: whose front door this is (audiences and
    login URI in 401s). ``ca``: the trustme CA that signs the leaf (a new one if None; the
    ``fake_arm`` fixture passes the session ``tls_ca``). ``hostnames``: extra certificate SANs.
    ``api_versions``: type (``Microsoft.ContainerService/managedClusters``) -> the api-versions
    ARM accepts for it. ``page_size``: split lists into pages with ``nextLink``.
    """

    _thread_name = "fake-arm"

    def __init__(
        self,
        resources: Iterable[Mapping[str, Any]] = (),
        *,
        tokens: Iterable[str] | Mapping[str, str] = (GOOD_TOKEN,),
        wrong_audience_tokens: Iterable[str] | Mapping[str, str] = (),
        cloud: str = "AzureCloud",
        ca: trustme.CA | None = None,
        hostnames: Iterable[str] = (),
        api_versions: Mapping[str, Iterable[str]] | None = None,
        page_size: int | None = None,
        tenant_id: str = _DEFAULT_TENANT,
        tls: bool = True,
    ) -> None:
        super().__init__(tls=tls, ca=ca, hostnames=hostnames)
        if cloud not in CLOUDS:
            raise ValueError(f"unknown cloud {cloud!r}; one of {sorted(CLOUDS)}")
        self.cloud = CLOUDS[cloud]
        self._tokens: dict[str, str] = (
            dict(tokens)
            if isinstance(tokens, Mapping)
            else dict.fromkeys(tokens, DEFAULT_PRINCIPAL)
        )
        self._wrong_audience: dict[str, str] = (
            dict(wrong_audience_tokens)
            if isinstance(wrong_audience_tokens, Mapping)
            else dict.fromkeys(wrong_audience_tokens, self.cloud.foreign_audience)
        )
        self.api_versions = {k.lower(): list(v) for k, v in (api_versions or {}).items()}
        self.page_size = page_size
        self.tenant_id = tenant_id
        self._table: dict[str, dict[str, Any]] = {}  # key -> body (insertion order kept)
        self._requests: list[ArmRequest] = []
        for body in resources:
            self.put(body)

    def __repr__(self) -> str:  # never show the tokens
        return f"FakeArm(url={self.url if self.running else None!r}, cloud={self.cloud.name!r})"

    # -- tokens ----------------------------------------------------------------------------------
    def set_tokens(self, tokens: Iterable[str] | Mapping[str, str]) -> None:
        """Replace the accepted tokens (e.g. to make the current one expire)."""
        with self._lock:
            self._tokens = (
                dict(tokens)
                if isinstance(tokens, Mapping)
                else dict.fromkeys(tokens, DEFAULT_PRINCIPAL)
            )

    # -- the resource table ----------------------------------------------------------------------
    def put(self, resource: str | Mapping[str, Any], body: Mapping[str, Any] | None = None) -> str:
        """Store a resource: ``put(body)`` (its ``id`` says where) or ``put(resource_id, body)``
        (the body's ``id`` is set to ``resource_id``). Creates the subscription and resource
        group it lives in if they are new. Returns the resource id."""
        if isinstance(resource, str):
            if body is None:
                raise TypeError("put(resource_id, body): body is missing")
            resource_id = resource
            stored = copy.deepcopy(dict(body))
            stored["id"] = resource_id
        else:
            stored = copy.deepcopy(dict(resource))
            resource_id = stored.get("id") or ""
            if not resource_id:
                raise ValueError("put(body): the body has no 'id'")
        route = _parse(resource_id)
        if route.kind in ("invalid", "subscriptions", "resourceGroups", "providers", "collection"):
            raise ValueError(f"not a resource id: {resource_id!r}")
        if route.kind == "tenant":
            with self._lock:
                self._table[_norm(resource_id)] = stored
            return resource_id
        with self._lock:
            if route.kind != "subscription":
                self._ensure_subscription(route.sub)
            if route.rg and route.kind != "resourceGroup":
                self._ensure_resource_group(route.sub, route.rg, stored.get("location"))
            self._table[_norm(resource_id)] = stored
        return resource_id

    def put_many(self, bodies: Iterable[Mapping[str, Any]]) -> list[str]:
        """``put`` each body; returns their ids."""
        return [self.put(body) for body in bodies]

    def delete(self, resource_id: str) -> bool:
        """Remove a resource (not its children); True if it was there."""
        with self._lock:
            return self._table.pop(_norm(resource_id), None) is not None

    def get(self, resource_id: str) -> dict[str, Any] | None:
        """A copy of the stored body, or None."""
        with self._lock:
            body = self._table.get(_norm(resource_id))
            return copy.deepcopy(body) if body is not None else None

    def ids(self) -> list[str]:
        """Ids of everything stored (subscriptions and resource groups included)."""
        with self._lock:
            return [str(b.get("id")) for b in self._table.values()]

    def add_subscription(
        self,
        subscription_id: str,
        *,
        display_name: str | None = None,
        state: str = "Enabled",
    ) -> str:
        """Make a subscription exist (its document as ``GET /subscriptions/S`` returns it)."""
        body = {
            "id": f"/subscriptions/{subscription_id}",
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": subscription_id,
            "tenantId": self.tenant_id,
            "displayName": display_name or f"Subscription {subscription_id[:8]}",
            "state": state,
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "EnterpriseAgreement_2014-09-01",
                "spendingLimit": "Off",
            },
        }
        with self._lock:
            self._table[_norm(body["id"])] = body
        return body["id"]

    def add_resource_group(self, subscription_id: str, name: str, location: str = "eastus") -> str:
        """Make a resource group exist (and its subscription)."""
        with self._lock:
            self._ensure_subscription(subscription_id)
            key = _norm(f"/subscriptions/{subscription_id}/resourceGroups/{name}")
            self._table[key] = self._resource_group_body(subscription_id, name, location)
            return str(self._table[key]["id"])

    def _ensure_subscription(self, sub: str) -> None:
        if _norm(f"/subscriptions/{sub}") not in self._table:
            self.add_subscription(sub)

    def _ensure_resource_group(self, sub: str, rg: str, location: Any) -> None:
        key = _norm(f"/subscriptions/{sub}/resourceGroups/{rg}")
        if key not in self._table:
            where = location if isinstance(location, str) and location else "eastus"
            self._table[key] = self._resource_group_body(sub, rg, where)

    @staticmethod
    def _resource_group_body(sub: str, rg: str, location: str) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{sub}/resourceGroups/{rg}",
            "name": rg,
            "type": "Microsoft.Resources/resourceGroups",
            "location": location,
            "properties": {"provisioningState": "Succeeded"},
        }

    # -- records ---------------------------------------------------------------------------------
    @property
    def requests(self) -> list[ArmRequest]:
        """Snapshot of every request received so far."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def count(self, path: str | re.Pattern[str] | None = None, *, status: int | None = None) -> int:
        """Requests whose path matches regex ``path`` (case-insensitive search) and, if given,
        were answered with ``status``."""
        pattern = re.compile(path, re.IGNORECASE) if isinstance(path, str) else path
        return sum(
            1
            for r in self.requests
            if (pattern is None or pattern.search(r.path))
            and (status is None or r.status == status)
        )

    # -- request handling ------------------------------------------------------------------------
    def _handle(self, h: _Handler) -> None:
        started = time.monotonic()
        split = urlsplit(h.path)
        path = split.path or "/"
        query = parse_qs(split.query, keep_blank_values=True)
        self._read_body(h)
        api_version = (query.get("api-version") or [None])[0]
        req = ArmRequest(
            method=h.command,
            path=path,
            query=query,
            api_version=api_version,
            headers={k: v for k, v in h.headers.items() if k.lower() != "authorization"},
            started=started,
        )
        with self._lock:
            self._requests.append(req)

        def reply(r: _Reply) -> None:
            self._answer(h, req, r.status, r.body, r.headers)

        def work() -> None:
            self._authenticate(h, req)
            fault = self._take_fault(req.method, path)
            if fault is not None:
                self._run_fault(fault, h, lambda f: self._fault_reply(f, req))
            self._check_api_version(req)
            self._route(req)

        try:
            self._guard(h, work, reply)
        finally:
            req.duration = time.monotonic() - started

    def _answer(
        self,
        h: _Handler,
        req: ArmRequest,
        status: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        raw = b"" if body is None else json.dumps(body).encode()
        correlation = req.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        request_id = str(uuid.uuid4())
        base = {
            "Cache-Control": "no-cache",
            "Pragma": "no-cache",
            "Expires": "-1",
            "x-ms-request-id": request_id,
            "x-ms-correlation-request-id": correlation,
            "x-ms-routing-request-id": (
                f"EASTUS:{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}:{request_id}"
            ),
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
            "X-Content-Type-Options": "nosniff",
        }
        if req.method == "GET" and status < 400:
            base["x-ms-ratelimit-remaining-subscription-reads"] = "11999"
        req.status = status  # before the body: the client may look at the records at once
        self._send(h, status, raw, "application/json; charset=utf-8", {**base, **(headers or {})})

    def _www_authenticate(self, description: str) -> dict[str, str]:
        return {
            "WWW-Authenticate": (
                f'Bearer authorization_uri="{self.cloud.login}", error="invalid_token", '
                f'error_description="{description}"'
            )
        }

    def _authenticate(self, h: _Handler, req: ArmRequest) -> None:
        header = h.headers.get("Authorization")
        if header is None or not header.strip():
            req.token = "missing"
            text = "The authentication failed because of missing 'Authorization' header."
            raise _Reply(
                401,
                {
                    "error": {
                        "code": "AuthenticationFailed",
                        "message": "Authentication failed. The 'Authorization' header is missing.",
                    }
                },
                self._www_authenticate(text),
            )
        scheme, _, presented = header.strip().partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            req.token = "malformed"
            text = "The authentication failed because of invalid 'Authorization' header format."
            raise _Reply(
                401,
                {
                    "error": {
                        "code": "AuthenticationFailed",
                        "message": (
                            "Authentication failed. The 'Authorization' header is provided in an "
                            "invalid format."
                        ),
                    }
                },
                self._www_authenticate(text),
            )
        with self._lock:
            principal = self._tokens.get(presented)
            foreign = self._wrong_audience.get(presented)
        if principal is not None:
            req.token, req.principal = "valid", principal
            return
        if foreign is not None:
            req.token = "wrong-audience"
            allowed = ",".join(f"'{a}'" for a in self.cloud.audiences)
            message = (
                f"The access token has been obtained for wrong audience or resource '{foreign}'. "
                f"It should exactly match with one of the allowed audiences {allowed}."
            )
            raise _Reply(
                401,
                {"error": {"code": "InvalidAuthenticationTokenAudience", "message": message}},
                self._www_authenticate(
                    "The access token has been obtained for wrong audience or resource."
                ),
            )
        req.token = "invalid"
        raise _Reply(
            401,
            {
                "error": {
                    "code": "InvalidAuthenticationToken",
                    "message": "The access token is invalid.",
                }
            },
            self._www_authenticate("The access token is invalid."),
        )

    def _check_api_version(self, req: ArmRequest) -> None:
        version = req.api_version
        if not version:
            raise _arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if not _API_VERSION_RE.match(version):
            raise _arm_error(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid. The supported versions are "
                "'2024-11-01,2024-07-01,2024-03-01,2023-07-01,2022-12-01,2022-09-01,2021-04-01,"
                "2020-01-01'.",
            )
        route = _parse(req.path)
        if route.kind not in ("resource", "collection"):
            return
        supported = self.api_versions.get(route.type_path.lower())
        if supported and version.lower() not in {v.lower() for v in supported}:
            location = "eastus"
            stored = self.get(req.path) if route.kind == "resource" else None
            if stored and isinstance(stored.get("location"), str):
                location = stored["location"]
            raise _arm_error(
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location '{location}' and API "
                f"version '{version}' for type '{'/'.join(route.types)}'. The supported "
                f"api-versions are '{', '.join(supported)}'. The supported locations are "
                f"'{location}'.",
            )

    def _fault_reply(self, fault: Fault, req: ArmRequest) -> _Reply:
        status = fault.status or 500
        route = _parse(req.path)
        headers: dict[str, str] = {}
        if status == 401:
            code, message = "InvalidAuthenticationToken", "The access token is invalid."
            headers = self._www_authenticate(message)
        elif status == 403:
            principal = req.principal or DEFAULT_PRINCIPAL
            code = "AuthorizationFailed"
            message = (
                f"The client '{principal}' with object id '{principal}' does not have "
                f"authorization to perform action '{_action(route, req.method)}' over scope "
                f"'{req.path.rstrip('/')}' or the scope is invalid. If access was recently "
                "granted, please refresh your credentials."
            )
        elif status == 404:
            code, message = "ResourceNotFound", self._not_found_message(route)
        elif status == 409:
            code, message = "Conflict", "The request could not be completed due to a conflict."
        elif status == 429:
            retry = fault.retry_after if fault.retry_after is not None else 1
            headers = {"Retry-After": str(retry)}
            code = "SubscriptionRequestsThrottled"
            message = (
                f"Number of 'read' requests for subscription '{route.sub or 'unknown'}' actor "
                f"'{req.principal or DEFAULT_PRINCIPAL}' exceeded. Please try after '{retry}' "
                "seconds after the last request. Please see https://aka.ms/ARMThrottling for "
                "more information."
            )
        elif status == 500:
            code = "InternalServerError"
            message = (
                "Encountered internal server error. Diagnostic information: timestamp "
                f"'{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}', subscription id "
                f"'{route.sub}', tracking id '{uuid.uuid4()}', request correlation id "
                f"'{uuid.uuid4()}'."
            )
        elif status == 502:
            code, message = "BadGateway", "The gateway did not receive a response within the "
            message += "specified time period."
        elif status == 503:
            code = "ServiceUnavailable"
            message = "The service is currently unavailable. Please try again later."
        elif status == 504:
            code = "GatewayTimeout"
            message = "The gateway did not receive a response from the service within the time"
            message += " period specified."
        else:
            code, message = "InjectedFault", f"injected fault ({status})"
        return _Reply(
            status,
            {
                "error": {
                    "code": fault.code if fault.code is not None else code,
                    "message": fault.message if fault.message is not None else message,
                }
            },
            headers,
        )

    # -- routing ---------------------------------------------------------------------------------
    def _route(self, req: ArmRequest) -> None:
        if req.method not in ("GET", "HEAD"):
            raise _arm_error(
                405,
                "MethodNotAllowed",
                f"The requested resource does not support http method '{req.method}'.",
            )
        route = _parse(req.path)
        if route.kind == "invalid":
            raise _arm_error(
                404,
                "NotFound",
                "The requested URI does not represent any resource on the server.",
            )
        key = _norm(req.path)
        with self._lock:
            if route.kind == "tenant":
                found = self._table.get(key)
                if found is None:
                    raise _arm_error(*_tenant_missing(route))
                raise _Reply(200, copy.deepcopy(found))
            self._check_scopes(route)
            if route.kind == "collection" and route.type_path.lower() == _ASSIGNMENTS:
                raise self._list_reply(req, self._assignments(key, req))
            if route.kind == "subscriptions":
                items = [copy.deepcopy(b) for k, b in self._table.items() if k.count("/") == 2]
                raise self._list_reply(req, items)
            if route.kind in ("providers", "resourceGroups", "collection"):
                raise self._list_reply(req, self._children(route, key))
            body = self._table.get(key)
            if body is None:
                raise self._missing(route)
            body = copy.deepcopy(body)
        if req.method == "HEAD":
            raise _Reply(204, None)
        raise _Reply(200, body)

    def _check_scopes(self, route: _Route) -> None:
        if route.kind == "subscriptions":
            return
        if _norm(f"/subscriptions/{route.sub}") not in self._table:
            raise _arm_error(
                404, "SubscriptionNotFound", f"The subscription '{route.sub}' could not be found."
            )
        if route.kind == "subscription":
            return
        rg_key = _norm(f"/subscriptions/{route.sub}/resourceGroups/{route.rg}")
        if route.rg and route.kind != "resourceGroup" and rg_key not in self._table:
            raise _arm_error(
                404, "ResourceGroupNotFound", f"Resource group '{route.rg}' could not be found."
            )
        for ancestor_key, name, is_scope in route.ancestors:
            if _norm(ancestor_key) in self._table:
                continue
            if is_scope:
                scope_route = _parse(ancestor_key)
                raise _arm_error(404, "ResourceNotFound", self._not_found_message(scope_route))
            raise _arm_error(
                404,
                "ParentResourceNotFound",
                "Can not perform requested operation on nested resource. Parent resource "
                f"'{name}' not found.",
            )

    def _missing(self, route: _Route) -> _Reply:
        if route.kind == "resourceGroup":
            return _arm_error(
                404, "ResourceGroupNotFound", f"Resource group '{route.rg}' could not be found."
            )
        if route.kind == "provider":
            return _arm_error(
                404,
                "InvalidResourceNamespace",
                f"The resource namespace '{route.namespace}' is invalid.",
            )
        return _arm_error(404, "ResourceNotFound", self._not_found_message(route))

    @staticmethod
    def _not_found_message(route: _Route) -> str:
        if route.kind != "resource":
            return f"The requested resource was not found. {_NOT_FOUND_FIX}"
        where = (
            f"under resource group '{route.rg}'"
            if route.rg
            else f"under subscription '{route.sub}'"
        )
        return f"The Resource '{route.qualified_name}' {where} was not found. {_NOT_FOUND_FIX}"

    def _children(self, route: _Route, key: str) -> list[dict[str, Any]]:
        items = [b for k, b in self._table.items() if k.rsplit("/", 1)[0] == key and k != key]
        if route.kind == "collection" and not route.rg and not route.ancestors:
            # /subscriptions/S/providers/NS/type: the type across every resource group
            pattern = re.compile(
                rf"^/subscriptions/{re.escape(route.sub.lower())}/resourcegroups/[^/]+/providers/"
                rf"{re.escape(route.namespace.lower())}/{re.escape(route.types[0].lower())}/[^/]+$"
            )
            items += [b for k, b in self._table.items() if pattern.match(k)]
        return [copy.deepcopy(b) for b in items]

    def _assignments(self, key: str, req: ArmRequest) -> list[dict[str, Any]]:
        """``{scope}/providers/Microsoft.Authorization/policyAssignments``: as ARM lists them
        for a scope, those at the scope and, unless ``$filter=atExactScope()``, those inherited
        from every scope above it (resource group, subscription)."""
        scope = key[: -len("/providers/" + _ASSIGNMENTS)]
        exact = "atexactscope()" in "".join(req.query.get("$filter") or []).lower().replace(" ", "")
        items = []
        for stored_key, body in self._table.items():
            owner, sep, _ = stored_key.rpartition("/providers/" + _ASSIGNMENTS + "/")
            if not sep or "/" in stored_key[len(owner) + len(sep) :]:
                continue
            if owner == scope or (not exact and scope.startswith(owner + "/")):
                items.append(copy.deepcopy(body))
        return items

    def _list_reply(self, req: ArmRequest, items: list[dict[str, Any]]) -> _Reply:
        body: dict[str, Any] = {"value": items}
        if self.page_size:
            token = (req.query.get("$skiptoken") or req.query.get("$skipToken") or ["0"])[0]
            try:
                start = max(0, int(token))
            except ValueError:
                raise _arm_error(
                    400, "InvalidSkipToken", f"The skip token '{token}' is invalid."
                ) from None
            end = start + self.page_size
            body["value"] = items[start:end]
            if end < len(items):
                body["nextLink"] = (
                    f"{self.url}{req.path}?api-version={quote(req.api_version or '')}"
                    f"&%24skiptoken={end}"
                )
        return _Reply(200, body)


_ASSIGNMENTS = "microsoft.authorization/policyassignments"


def _tenant_missing(route: _Route) -> tuple[int, str, str]:
    """ARM's 404 for a tenant-level resource (a policy definition that does not exist)."""
    kind = route.types[-1] if route.types else ""
    name = route.names[-1] if route.names else ""
    if kind.lower() == "policydefinitions":
        return (
            404,
            "PolicyDefinitionNotFound",
            f"The policy definition '{name}' could not be found.",
        )
    if kind.lower() == "policysetdefinitions":
        return (
            404,
            "PolicySetDefinitionNotFound",
            f"The policy set definition '{name}' could not be found.",
        )
    return 404, "NotFound", "The requested URI does not represent any resource on the server."


def _action(route: _Route, method: str) -> str:
    verb = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}
    suffix = verb.get(method, "action")
    if route.kind in ("resource", "collection"):
        return f"{route.type_path}/{suffix}"
    if route.kind in ("resourceGroup", "resourceGroups"):
        return f"Microsoft.Resources/subscriptions/resourceGroups/{suffix}"
    if route.kind in ("provider", "providers"):
        return f"Microsoft.Resources/subscriptions/providers/{suffix}"
    return f"Microsoft.Resources/subscriptions/{suffix}"


# -- FakeImds -------------------------------------------------------------------------------------
class FakeImds(_JsonServer):
    """The managed-identity token endpoint of IMDS, on http://127.0.0.1:PORT.

    ``GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=<aud>`` with header
    ``Metadata: true`` returns ``{"access_token", "client_id", "expires_in": "3599",
    "expires_on", "ext_expires_in", "not_before", "resource", "token_type": "Bearer"}`` (numbers
    as strings, as IMDS sends them). ``token``: what it hands out; ``tokens``: resource -> token
    instead (an unknown resource then gets 400 ``invalid_resource`` / AADSTS500011).
    ``identity=False``: no identity on the VM, 400 ``{"error": "invalid_request",
    "error_description": "Identity not found"}``. Without the Metadata header: 400
    ``bad_request_102`` "Required metadata header not specified"; without ``resource`` or
    ``api-version``: 400 too. ``tls=True`` serves HTTPS with a leaf from ``ca``. ``inject``
    works as on ``FakeArm`` (status bodies in IMDS's ``error``/``error_description`` shape).
    """

    _thread_name = "fake-imds"

    def __init__(
        self,
        token: str = IMDS_TOKEN,
        *,
        tokens: Mapping[str, str] | None = None,
        identity: bool = True,
        client_id: str = "5b2d6a48-7c3e-4f1a-9d0b-1e2f3a4b5c6d",
        expires_in: int = 3599,
        tls: bool = False,
        ca: trustme.CA | None = None,
        hostnames: Iterable[str] = (),
    ) -> None:
        super().__init__(tls=tls, ca=ca, hostnames=hostnames)
        self.token = token
        self.tokens = dict(tokens) if tokens is not None else None
        self.identity = identity
        self.client_id = client_id
        self.expires_in = expires_in
        self._requests: list[ImdsRequest] = []

    def __repr__(self) -> str:
        return f"FakeImds(url={self.url if self.running else None!r})"

    @property
    def requests(self) -> list[ImdsRequest]:
        with self._lock:
            return list(self._requests)

    def _handle(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        path = split.path or "/"
        query = parse_qs(split.query, keep_blank_values=True)
        self._read_body(h)
        req = ImdsRequest(
            method=h.command,
            path=path,
            query=query,
            metadata_header=h.headers.get("Metadata"),
            resource=(query.get("resource") or [None])[0],
            headers=dict(h.headers.items()),
        )
        with self._lock:
            self._requests.append(req)

        def reply(r: _Reply) -> None:
            req.status = r.status
            raw = json.dumps(r.body).encode()
            self._send(h, r.status, raw, "application/json; charset=utf-8", r.headers)

        def work() -> None:
            fault = self._take_fault(req.method, path)
            if fault is not None:
                self._run_fault(fault, h, self._fault_reply)
            self._serve(req)

        self._guard(h, work, reply)

    @staticmethod
    def _error(status: int, error: str, description: str, **headers: str) -> _Reply:
        return _Reply(status, {"error": error, "error_description": description}, headers)

    def _fault_reply(self, fault: Fault) -> _Reply:
        status = fault.status or 500
        defaults = {
            400: ("invalid_request", "Identity not found"),
            404: ("not_found", "IMDS endpoint is updating"),
            429: ("too_many_requests", "Too many requests"),
            500: ("unknown", "Failed to retrieve token from the Active directory."),
            503: ("service_unavailable", "The service is unavailable"),
        }
        error, description = defaults.get(status, ("unknown", f"injected fault ({status})"))
        headers: dict[str, str] = {}
        if status == 429:
            headers["Retry-After"] = str(fault.retry_after if fault.retry_after is not None else 1)
        return self._error(
            status,
            fault.code if fault.code is not None else error,
            fault.message if fault.message is not None else description,
            **headers,
        )

    def _serve(self, req: ImdsRequest) -> None:
        if req.path.rstrip("/") != "/metadata/identity/oauth2/token":
            raise self._error(404, "not_found", f"The requested path {req.path} was not found")
        if req.method != "GET":
            raise self._error(405, "method_not_allowed", "Only GET is supported")
        if (req.metadata_header or "").strip().lower() != "true":
            raise self._error(400, "bad_request_102", "Required metadata header not specified")
        if any(k.lower() == "x-forwarded-for" for k in req.headers):
            raise self._error(400, "invalid_request", "Request contains X-Forwarded-For header")
        if not req.param("api-version"):
            raise self._error(
                400, "invalid_request", "Required query variable 'api-version' is missing"
            )
        resource = req.resource
        if not resource:
            raise self._error(
                400, "invalid_request", "Required query variable 'resource' is missing"
            )
        if not self.identity:
            raise self._error(400, "invalid_request", "Identity not found")
        if self.tokens is not None:
            token = self.tokens.get(resource)
            if token is None:
                raise self._error(
                    400,
                    "invalid_resource",
                    f"AADSTS500011: The resource principal named {resource} was not found in "
                    f"the tenant named {_DEFAULT_TENANT}. This can happen if the application has "
                    "not been installed by the administrator of the tenant or consented to by "
                    "any user in the tenant.",
                )
        else:
            token = self.token
        now = int(time.time())
        raise _Reply(
            200,
            {
                "access_token": token,
                "client_id": self.client_id,
                "expires_in": str(self.expires_in),
                "expires_on": str(now + self.expires_in),
                "ext_expires_in": str(self.expires_in),
                "not_before": str(now - 300),
                "resource": resource,
                "token_type": "Bearer",
            },
        )


# -- user profiles --------------------------------------------------------------------------------
def write_azure_profile(
    path: str | os.PathLike[str],
    base: str = "azure-public",
    *,
    arm: str | None = None,
    imds: str | None = None,
    login: str | None = None,
    name: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a user profile that ``extends`` a built-in and points its endpoints at fakes.

    ``path``: a file, or a directory (then ``<dir>/<base>-fake.yaml``). Only the endpoints
    given are overridden (``endpoints.arm``, ``endpoints.imds``, ``endpoints.login``); the
    built-in's audiences and hosts are inherited. ``name`` renames the profile (inherited if
    None); ``extra`` adds more top-level keys (merged deeply by the loader).
    """
    import yaml

    out = Path(path)
    if out.is_dir():
        out = out / f"{base}-fake.yaml"
    doc: dict[str, Any] = {"extends": base}
    if name is not None:
        doc["name"] = name
    endpoints = {k: v for k, v in (("arm", arm), ("imds", imds), ("login", login)) if v}
    if endpoints:
        doc["endpoints"] = endpoints
    for key, value in (extra or {}).items():
        doc[key] = value
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out
