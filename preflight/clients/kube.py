"""The Kubernetes API as checks need it: bounded, paginated, cached per run, errors classified.

Reads are cached per run (a snapshot of the cluster every check agrees on). In-cluster runs also
write: ``create``/``delete``/``log`` and the uncached ``get_fresh``/``list_fresh`` that polling
needs (preflight/kube/); those go through the same client, timeout and classification.

It drives the official ``kubernetes`` client (kubeconfig, in-cluster config, token users, TLS);
``exec`` credential plugins run through preflight.clients.kube_exec instead, bounded and killed
with their children (the client's own runner has no timeout). It asks for raw JSON pages
(``_preload_content=False``): turning 5,000 nodes into the client's model objects costs seconds
and hundreds of megabytes that a read-only check never uses.
Every list is paginated with ``limit``/``continue``; every call carries a timeout; each distinct
list is fetched once per run however many checks read it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from preflight import jsonshape
from preflight.clients.kube_errors import REMEDIES, KubeError
from preflight.clients.kube_exec import config_with, exec_plan, run_plugin
from preflight.clients.kubeshapes import OBJECT, envelope_for, resolve, shape_for
from preflight.kubeconfig import candidate_paths, find_target

PAGE_SIZE = 500
#: the largest answer read from the API server (a page of 500 nodes is a few MiB; a log asked
#: for with tailLines far less): beyond it the read stops and is a ``malformed`` KubeError
MAX_BODY = jsonshape.MAX_BODY
#: at least this long may one answer's body keep coming (else four timeouts)
BODY_SECONDS = 30.0
IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


class BodyTooSlow(Exception):
    """An answer whose body kept coming past the time allowed to read it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the answer did not end within {seconds:g}s")
        self.seconds = seconds


class BodyTooLarge(Exception):
    """An answer longer than ``MAX_BODY``: the read stopped there."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {jsonshape.size_text(limit)}")
        self.limit = limit


@dataclass
class KubeSettings:
    kubeconfig: str | None
    context: str | None
    timeout: float
    #: the run's time left (``Context.remaining``): bounds an exec credential plugin too
    remaining: Callable[[], float] | None = None
    #: set when the run is interrupted: a running exec plugin is stopped
    cancelled: threading.Event | None = None


@dataclass
class Reachability:
    ok: bool
    server: str = ""
    context: str = ""
    version: dict[str, Any] = field(default_factory=dict)
    error: KubeError | None = None
    source: str = ""  # kubeconfig path or "in-cluster"


def config_present(settings: KubeSettings) -> tuple[bool, str]:
    """Whether there is any cluster to talk to (without loading or contacting it)."""

    paths = candidate_paths(settings.kubeconfig)
    existing = [p for p in paths if p.is_file()]
    if existing:
        return True, str(existing[0])
    if os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(IN_CLUSTER_TOKEN):
        return True, "in-cluster"
    return False, str(paths[0])


class KubeClient:
    """One per run (``Context.kube``). Thread-safe; checks call it from worker threads."""

    def __init__(self, settings: KubeSettings) -> None:
        self.settings = settings
        self._api: Any = None
        self._lock = threading.Lock()
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._inflight: dict[tuple[Any, ...], threading.Event] = {}
        self.calls: list[str] = []
        self.source = ""
        self.server = ""
        self._connect_lock = threading.Lock()
        self._connect_error: KubeError | None = None
        self._secrets: list[str] = []

    def secrets(self) -> list[str]:
        """Values every output must mask: the token or client key an exec plugin gave (a
        token has no shape a pattern could catch). Empty until the client has connected."""
        with self._lock:
            return list(self._secrets)

    # -- connection ------------------------------------------------------------------------------

    def _client(self) -> Any:
        if self._api is not None:
            return self._api
        with self._connect_lock:  # one exec plugin run per client, however many threads ask
            if self._api is not None:
                return self._api
            if self._connect_error is not None:
                raise self._connect_error
            return self._connect()

    def _connect(self) -> Any:
        # on first use: the kubernetes client (~160 ms) stays out of start-up (docs/ARCHITECTURE.md)
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        logging.getLogger("kubernetes").setLevel(logging.CRITICAL)  # we report errors ourselves
        configuration = client.Configuration()
        present, source = config_present(self.settings)
        try:
            plan = None
            if source != "in-cluster":
                plan = exec_plan(self.settings.kubeconfig, self.settings.context)
            if source == "in-cluster":
                config.load_incluster_config(client_configuration=configuration)
            elif plan is not None:
                config.load_kube_config_from_dict(
                    self._exec_config(plan),
                    context=plan.context,
                    client_configuration=configuration,
                    persist_config=False,
                )
            else:
                config.load_kube_config(
                    config_file=self.settings.kubeconfig,
                    context=self.settings.context,
                    client_configuration=configuration,
                    persist_config=False,
                )
        except KubeError as exc:  # the exec plugin: it would fail the same way again
            self.source = source
            self._connect_error = exc
            raise
        except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
            raise KubeError("config", f"cannot load the kubeconfig ({source}): {exc}") from None
        except Exception as exc:  # YAML errors and the client's own surface as many types
            raise KubeError(
                "config", f"cannot load the kubeconfig ({source}): {type(exc).__name__}: {exc}"
            ) from None
        configuration.retries = 0
        self.source = source
        self.server = configuration.host
        self._api = client.ApiClient(configuration)
        return self._api

    def _exec_config(self, plan: Any) -> dict[str, Any]:
        """Run the user's exec plugin within --timeout and the run's deadline; the kubeconfig
        to load with its credential in place of ``exec``. Raises KubeError("exec")."""

        self.server = str(plan.cluster.get("server") or "")  # the finding's target if it fails
        remaining = self.settings.remaining
        deadline = time.monotonic() + remaining() if remaining is not None else None
        credential = run_plugin(
            plan,
            timeout=self.settings.timeout,
            deadline=deadline,
            cancel=self.settings.cancelled,
        )
        with self._lock:
            self._secrets += credential.secrets()
        return config_with(plan, credential)

    def reachability(self) -> Reachability:
        """GET /version then GET /api: reachable, and our credentials accepted. Once per run."""
        reach: Reachability = self._cached(("reachability",), self._probe)
        return reach

    @property
    def probed(self) -> Reachability | None:
        """The reachability result if some check already asked for it (for the report)."""
        with self._lock:
            value = self._cache.get(("reachability",))
        return value if isinstance(value, Reachability) else None

    def _probe(self) -> Reachability:
        try:
            self._client()
            version = self.get_raw("/version")
            self.get_raw("/api")  # discovery needs an authenticated user
            return Reachability(
                True, self.server, self._context_name(), version, source=self.source
            )
        except KubeError as exc:
            return Reachability(
                False, self.server, self._context_name(), error=exc, source=self.source
            )

    def _context_name(self) -> str:
        if self.settings.context:
            return self.settings.context
        try:
            target = find_target(self.settings.kubeconfig, None)
            return target.context if target else "in-cluster"
        except Exception:  # noqa: BLE001 - only a label for the report
            return ""

    # -- raw calls --------------------------------------------------------------------------------

    def get_raw(
        self,
        path: str,
        query: list[tuple[str, Any]] | None = None,
        shape: jsonshape.Shape | None = None,
    ) -> Any:
        """GET ``path`` and return the parsed JSON, checked against ``shape`` (by default the
        shape the Kubernetes API gives that path: preflight.clients.kubeshapes). Raises
        KubeError (``malformed`` for an answer that is not JSON, too big, or of another shape)."""

        api = self._client()
        self.calls.append(path)
        try:
            data = self._get_bytes(api, path, query or [])
        except Exception as exc:  # noqa: BLE001 - classified below
            raise classify(exc, self.settings.timeout, path, tls=self._tls()) from None
        endpoint = f"GET {path}"
        try:
            value = jsonshape.loads(data, endpoint, limit=MAX_BODY)
            return jsonshape.check(value, shape or shape_for(path), endpoint)
        except jsonshape.ShapeError as exc:
            raise malformed(exc, path) from None

    def _tls(self) -> bool:
        return self.server.lower().startswith("https:")

    def _get_bytes(self, api: Any, path: str, query: list[tuple[str, Any]]) -> bytes:
        """One GET through the client's own auth, TLS and proxy handling; raw body back."""
        return self._call_bytes(api, "GET", path, query)

    def _call_bytes(
        self,
        api: Any,
        method: str,
        path: str,
        query: list[tuple[str, Any]],
        body: Any = None,
        accept: str = "application/json",
    ) -> bytes:
        """One request through the client's own auth, TLS and proxy handling; raw body back.

        Raises what the client raises (``ApiException`` for non-2xx); callers classify."""
        timeout = (self.settings.timeout, self.settings.timeout)
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if hasattr(api, "param_serialize"):  # kubernetes >= 35 (new generator)
            # on first use: the kubernetes client stays out of start-up (docs/ARCHITECTURE.md)
            from kubernetes.client.exceptions import ApiException

            request = api.param_serialize(
                method=method,
                resource_path=path,
                query_params=query,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = api.call_api(*request, _request_timeout=timeout)
            response.data = _read_capped(response.response, MAX_BODY, self._body_seconds())
            if not 200 <= response.status <= 299:
                text = response.data.decode("utf-8", "replace") if response.data else None
                ApiException.from_response(http_resp=response, body=text, data=None)  # raises
            data: bytes = response.data
            return data
        response = api.call_api(  # kubernetes < 35
            path,
            method,
            query_params=query,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=timeout,
        )
        raw = response[0] if isinstance(response, tuple) else response
        return _read_capped(raw, MAX_BODY, self._body_seconds())

    def _body_seconds(self) -> float:
        """How long one answer's body may keep coming: a few timeouts (a page of nodes over a
        slow VPN), never past the run's deadline."""
        allowed = max(4 * self.settings.timeout, BODY_SECONDS)
        remaining = self.settings.remaining
        if remaining is not None:
            allowed = min(allowed, max(remaining(), 0.5))
        return allowed

    def _write(
        self,
        method: str,
        path: str,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        accept: str = "application/json",
    ) -> bytes:
        api = self._client()
        self.calls.append(f"{method} {path}")
        try:
            return self._call_bytes(api, method, path, query or [], body, accept)
        except Exception as exc:  # noqa: BLE001 - classified below
            raise classify(exc, self.settings.timeout, path, tls=self._tls()) from None

    # -- writes and fresh reads (in-cluster runs) -------------------------------------------------
    #
    # The cached reads above answer "what does the cluster look like"; a run that creates pods
    # must instead see each change as it happens, so these bypass the cache. Each is one request
    # bounded by the client timeout, errors classified like every other call.

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to the collection ``path``; the object as stored. Raises KubeError
        (``conflict`` when it already exists, ``forbidden`` for RBAC, quota and admission
        denials: the message says which)."""
        endpoint = f"POST {path}"
        try:
            value = jsonshape.loads(self._write("POST", path, body=body), endpoint)
            created: dict[str, Any] = jsonshape.check(value, jsonshape.Obj(), endpoint)
        except jsonshape.ShapeError as exc:
            raise malformed(exc, path) from None
        return created

    def delete(self, path: str, *, propagation: str = "Background") -> bool:
        """DELETE one object, its dependents going as ``propagation`` says. True if it was
        there, False if it was already gone (404 is not an error: deleting is idempotent)."""
        try:
            self._write("DELETE", path, [("propagationPolicy", propagation)])
        except KubeError as exc:
            if exc.kind == "notfound":
                return False
            raise
        return True

    def delete_collection(self, path: str, label_selector: str) -> None:
        """DELETE every object of a collection matching ``label_selector`` (never unfiltered)."""
        if not label_selector.strip():
            raise ValueError("delete_collection needs a label selector")
        self._write(
            "DELETE",
            path,
            [("labelSelector", label_selector), ("propagationPolicy", "Background")],
        )

    def log(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        tail_lines: int | None = None,
        *,
        previous: bool = False,
    ) -> str:
        """A container's log as text (``previous``: of its last terminated run)."""
        query: list[tuple[str, Any]] = []
        if container:
            query.append(("container", container))
        if tail_lines is not None:
            query.append(("tailLines", int(tail_lines)))
        if previous:
            query.append(("previous", "true"))
        path = path_for("v1", "pods", namespace, pod) + "/log"
        data = self._write("GET", path, query, accept="text/plain, */*")
        return data.decode("utf-8", "replace")

    def get_fresh(self, path: str, shape: jsonshape.Shape | None = None) -> dict[str, Any] | None:
        """One object read now (not from the per-run cache), or None when it does not exist;
        checked against ``shape`` (by default the resource's own, kubeshapes)."""
        try:
            value: dict[str, Any] = self.get_raw(path, shape=shape)
        except KubeError as exc:
            if exc.kind == "notfound":
                return None
            raise
        return value

    def list_fresh(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = PAGE_SIZE,
        shape: jsonshape.Shape | None = None,
    ) -> list[dict[str, Any]]:
        """Every item of a collection read now (not from the per-run cache), page by page;
        each checked against ``shape`` (by default the resource's own, kubeshapes)."""
        return list(
            self.stream(
                path,
                label_selector=label_selector,
                field_selector=field_selector,
                page_size=page_size,
                shape=shape,
            )
        )

    def list(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = PAGE_SIZE,
        shape: jsonshape.Shape | None = None,
    ) -> list[dict[str, Any]]:
        """Every item of a collection (``/api/v1/nodes``), page by page; cached per run.

        Each item is checked against ``shape``: by default the fields of the resource that
        checks read (kubeshapes); a reader that judges odd objects itself passes a looser one
        (``kubeshapes.OBJECT``: a named object). KubeError ``malformed`` names the item."""
        key = ("list", path, label_selector, field_selector)
        items: list[dict[str, Any]] = self._cached(
            key, lambda: list(self._pages(path, label_selector, field_selector, page_size))
        )
        item_shape = shape or _item_shape(path)
        self._cached(
            ("valid", key, id(item_shape)), lambda: self._check_items(path, items, item_shape)
        )
        return items

    def stream(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = PAGE_SIZE,
        shape: jsonshape.Shape | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a collection, one page (``limit``/``continue``) in memory at a time:
        for collections too big to keep (every pod of a large cluster), read once by one
        reader and summed as they pass. Not cached. Each item is checked against ``shape`` as
        in ``list``; KubeError ``malformed`` names the first bad item."""
        item_shape = shape or _item_shape(path)
        for index, item in enumerate(self._pages(path, label_selector, field_selector, page_size)):
            self._check_item(path, index, item, item_shape)
            yield item

    @classmethod
    def _check_items(cls, path: str, items: Sequence[Any], shape: jsonshape.Shape) -> bool:
        for index, item in enumerate(items):
            cls._check_item(path, index, item, shape)
        return True

    @staticmethod
    def _check_item(path: str, index: int, item: Any, shape: jsonshape.Shape) -> None:
        """KubeError ``malformed`` naming ``items[index]`` when the item does not fit."""
        try:
            shape.validate(item, f"items[{index}]", f"GET {path}")
        except jsonshape.ShapeError as exc:
            raise malformed(exc, path) from None

    def _pages(
        self, path: str, label_selector: str | None, field_selector: str | None, page_size: int
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        seen: set[str] = set()
        for _ in range(100_000):  # a bound: 50 million objects
            query: list[tuple[str, Any]] = [("limit", page_size)]
            if token:
                query.append(("continue", token))
            if label_selector:
                query.append(("labelSelector", label_selector))
            if field_selector:
                query.append(("fieldSelector", field_selector))
            page = self.get_raw(path, query, envelope_for(path))  # a list of named objects
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            if token in seen:  # the same page again: paging would never end
                raise KubeError(
                    "malformed",
                    f"GET {path} answered a continue token it had already given: the list "
                    "would never end",
                    remedy=f"{REMEDIES['malformed']}; `kubectl get --raw '{path}'` shows the "
                    "answer",
                )
            seen.add(token)

    def get(self, path: str, shape: jsonshape.Shape | None = None) -> dict[str, Any] | None:
        """One object, or None when it does not exist (404); cached per run, checked against
        ``shape`` (by default the resource's own, kubeshapes; see ``list``)."""

        try:
            value: dict[str, Any] = self._cached(
                ("get", path), lambda: self.get_raw(path, shape=envelope_for(path))
            )
        except KubeError as exc:
            if exc.kind == "notfound":
                return None
            raise
        wanted = shape or shape_for(path)

        def check() -> bool:
            try:
                jsonshape.check(value, wanted, f"GET {path}")
            except jsonshape.ShapeError as exc:
                raise malformed(exc, path) from None
            return True

        self._cached(("valid", "get", path, id(wanted)), check)
        return value

    def resources(self, group_version: str) -> dict[str, dict[str, Any]]:
        """Discovery: resource name -> APIResource for ``v1`` or ``apps/v1``; {} if not served."""
        path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        document = self.get(path)
        if document is None:
            return {}
        return {r["name"]: r for r in document.get("resources", []) if "name" in r}

    def _cached(self, key: tuple[Any, ...], fetch: Any) -> Any:
        while True:
            with self._lock:
                if key in self._cache:
                    value = self._cache[key]
                    if isinstance(value, KubeError):
                        raise value
                    return value
                event = self._inflight.get(key)
                if event is None:
                    event = self._inflight[key] = threading.Event()
                    break
            event.wait()
        try:
            value = fetch()
        except KubeError as exc:
            value = exc
        with self._lock:
            self._cache[key] = value
            del self._inflight[key]
        event.set()
        if isinstance(value, KubeError):
            raise value
        return value


def path_for(
    group_version: str, plural: str, namespace: str | None = None, name: str | None = None
) -> str:
    """``("apps/v1", "deployments", "azureml")`` -> ``/apis/apps/v1/namespaces/azureml/...``."""
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    if namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{plural}"
    if name:
        base += f"/{quote(name, safe='')}"
    return base


def _item_shape(path: str) -> jsonshape.Shape:
    kind, shape = resolve(path)
    return shape if kind == "list" else OBJECT


def malformed(exc: jsonshape.ShapeError, path: str) -> KubeError:
    """A KubeError for an answer of the wrong shape, naming the request and the place in it."""
    return KubeError(
        "malformed",
        exc.message,
        remedy=f"{REMEDIES['malformed']}; `kubectl get --raw '{path}'` shows the answer",
    )


def _read_capped(raw: Any, limit: int, seconds: float) -> bytes:
    """The body of a urllib3 response read without preloading, at most ``limit`` bytes within
    ``seconds`` (the connection is dropped, not reused, past either). Raises BodyTooLarge,
    BodyTooSlow, or what urllib3 raises for a body cut short."""

    ends = time.monotonic() + seconds
    headers = getattr(raw, "headers", None) or {}
    length = str(headers.get("Content-Length") or "")
    if length.isdigit() and int(length) > limit:
        _drop(raw)
        raise BodyTooLarge(limit)
    if not hasattr(raw, "stream"):  # already read (a preloaded response)
        data: bytes = raw.data or b""
        if len(data) > limit:
            raise BodyTooLarge(limit)
        return data
    chunks: list[bytes] = []
    total = 0
    for chunk in raw.stream(1 << 16):
        total += len(chunk)
        if total > limit:
            _drop(raw)
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if time.monotonic() > ends:
            _drop(raw)
            raise BodyTooSlow(seconds)
    raw.release_conn()
    return b"".join(chunks)


def _drop(raw: Any) -> None:
    with contextlib.suppress(Exception):  # best effort: the connection is not reused
        raw.close()


# what http.client / ssl / urllib3 say when the peer closed before any HTTP answer
_CLOSED = (
    "remotedisconnected",
    "remote end closed connection",
    "connection reset",
    "connectionreseterror",
    "connection aborted",
    "sslzeroreturnerror",
    "ssleoferror",
    "eof occurred in violation of protocol",
    "unexpected eof",
    "tlsv13 alert",
    "sslv3 alert",
)


def classify(exc: BaseException, timeout: float, path: str, *, tls: bool = False) -> KubeError:
    """Turn what the client or urllib3 raised into a KubeError with a kind a user can act on and
    the phase it happened in (``tls``: the API server URL is https)."""
    if isinstance(exc, BodyTooLarge):
        return KubeError(
            "malformed",
            f"GET {path} answered more than {jsonshape.size_text(exc.limit)}: the read was "
            "stopped there",
            remedy=f"{REMEDIES['malformed']}; `kubectl get --raw '{path}'` shows the answer",
        )
    if isinstance(exc, BodyTooSlow):
        return KubeError(
            "timeout",
            f"the API server's answer to GET {path} kept coming for {exc.seconds:g}s: the read "
            "was stopped there",
        )
    status = getattr(exc, "status", None)
    if (isinstance(status, int) and status >= 400) or type(exc).__name__ == "ApiException":
        message = _status_message(exc) or getattr(exc, "reason", "") or str(exc)
        kind = {
            401: "unauthorized",
            403: "forbidden",
            404: "notfound",
            409: "conflict",
            429: "throttled",
        }.get(status or 0, "server" if (status or 0) >= 500 else "error")
        return KubeError(kind, f"{status} {message} ({path})", status)
    text = _innermost(exc)
    lowered = text.lower()
    chain = _chain_text(exc).lower()
    if "timed out" in lowered or "timeout" in type(exc).__name__.lower() or "timeout" in lowered:
        if "connecttimeout" in chain or ("connection to" in chain and "timed out" in chain):
            error = KubeError(
                "timeout", f"no connection to the API server within {timeout:g}s ({path})"
            )
            error.phase = "connect"
            return error
        return KubeError("timeout", f"no answer from the API server within {timeout:g}s ({path})")
    if any(
        s in lowered
        for s in (
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
            "no address associated",
            "failed to resolve",
            "getaddrinfo failed",
        )
    ):
        return KubeError("dns", f"the API server's host name does not resolve ({text})")
    if "refused" in lowered:
        return KubeError("refused", f"connection refused by the API server ({text})")
    if "badstatusline" in chain or "not http" in lowered or "invalid http" in chain:
        return KubeError(
            "protocol",
            f"the API server address answered something that is not HTTP ({path})",
        )
    if any(s in chain for s in ("incompleteread", "invalidchunklength", "ended prematurely")):
        return KubeError(
            "closed", f"the API server's answer was cut short: the connection ended ({path})"
        )
    if any(s in chain for s in _CLOSED) and "certificate" not in lowered:
        if tls:
            # the TLS session ended (close_notify, FIN or RST: ssl cannot tell them apart)
            # without a byte of HTTP: a TLS-level refusal, as when a TLS 1.3 server rejects a
            # client certificate after the handshake, or a TLS-inspecting device drops the session
            return KubeError(
                "tls",
                "the API server (or something in between) closed the TLS session before any "
                f"HTTP answer ({path})",
                remedy="the API server (or a device in between) ended the TLS session: check the "
                "client certificate of the kubeconfig user (expired, or not signed by the "
                "cluster's CA), the server URL, and any TLS-inspecting proxy or firewall",
            )
        return KubeError(
            "closed", f"the API server closed the connection before answering ({path})"
        )
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return KubeError("tls", f"TLS with the API server failed ({text})")
    return KubeError("error", f"{type(exc).__name__}: {text}")


def _status_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if not body:
        return ""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return ""
    return str(data.get("message") or "") if isinstance(data, dict) else ""


def _chain_text(exc: BaseException) -> str:
    """Every exception on the way to the cause, type names and text (for classification)."""
    parts: list[str] = []
    seen: BaseException | None = exc
    for _ in range(12):
        if seen is None:
            break
        parts.append(f"{type(seen).__name__}: {seen!s} {seen.args!r}")
        reason = getattr(seen, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else None
        nxt = nxt or seen.__cause__ or seen.__context__
        if nxt is seen:
            break
        seen = nxt
    return " | ".join(parts)


def _innermost(exc: BaseException) -> str:
    seen = exc
    reason = getattr(seen, "reason", None)
    while isinstance(reason, BaseException):
        seen = reason
        reason = getattr(seen, "reason", None)
    while seen.__cause__ is not None or seen.__context__ is not None:
        nxt = seen.__cause__ or seen.__context__
        if nxt is None or nxt is seen:
            break
        seen = nxt
    return str(seen) or type(seen).__name__


def server_host(server: str) -> str | None:
    try:
        return urlsplit(server).hostname
    except ValueError:
        return None
