"""Azure Resource Manager over httpx, in the cloud the profile names.

The base URL and token audience come from the profile (``endpoints.arm``, ``audiences.arm``), so a
China or US Gov run never asks the public cloud. A token comes from the first source that has
one, in this order, and the report names which: the ``AZURE_ACCESS_TOKEN`` variable, the Azure
CLI (``az account get-access-token``), the managed-identity endpoint (IMDS) when running in Azure.
Calls honour ``--ca-bundle`` and the proxy settings, retry 429 after ``Retry-After`` while the
run's deadline allows, and never let the token reach a message.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from preflight import jsonshape
from preflight.clients.proxy import credentials_advice
from preflight.subprocesses import run

# Azure VMs (and AKS nodes, and pods on them) carry this DMI chassis asset tag: IMDS is only
# asked when it is there, so a laptop never waits on 169.254.169.254.
AZURE_ASSET_TAG = "7783-7084-3265-9085-8269-3286-77"
ASSET_TAG_PATH = Path("/sys/class/dmi/id/chassis_asset_tag")
DEFAULT_IMDS = "http://169.254.169.254"
ENV_TOKEN = "AZURE_ACCESS_TOKEN"
SOURCES_HELP = (
    f"set {ENV_TOKEN} (e.g. from `az account get-access-token --resource <audience>`), "
    "log in with the Azure CLI (`az login`, `az cloud set` for China or US Gov), or run inside "
    "Azure with a managed identity"
)


def az_timeout(timeout: float) -> float:
    """How long one ``az`` command may take: --timeout, but at least 15 s (az is a Python
    program that may refresh its token over the network before answering)."""
    return max(timeout, 15.0)


class ArmError(Exception):
    """An ARM call that failed, classified so a finding can say what to do."""

    def __init__(
        self,
        kind: str,
        message: str,
        status: int | None = None,
        code: str = "",
        *,
        phase: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind  # auth | audience | forbidden | notfound | throttled | server |
        #                   timeout | network | tls | malformed | error
        self.message = message
        self.status = status
        self.code = code  # ARM's error.code, e.g. AuthorizationFailed, ResourceNotFound
        #: where it happened: ``connect`` (name, TCP), ``tls`` (handshake, or the session ended
        #: before any HTTP answer), ``http`` (the request and its answer); None for a token
        #: source or a setting that never reached the network
        self.phase = phase if phase is not None else ("http" if status is not None else None)


@dataclass
class Token:
    value: str
    source: str  # env | azure-cli | managed-identity
    detail: str = ""  # e.g. the CLI's active cloud, or the IMDS endpoint
    cli_cloud: str | None = None

    def __repr__(self) -> str:  # never print the token itself
        return f"Token(source={self.source!r}, detail={self.detail!r})"


@dataclass
class TokenAttempt:
    source: str
    outcome: str  # used | absent | failed


class ArmClient:
    """One per run (``Context.arm``): token acquired once, calls made concurrently."""

    def __init__(
        self,
        endpoint: str,
        audience: str,
        *,
        imds: str | None,
        verify: Any,
        proxy_for: Callable[[str, int, bool], Any],
        timeout: float,
        remaining: Callable[[], float],
        environ: dict[str, str] | None = None,
        unless_interrupted: Callable[[Any, str], Awaitable[Any]] | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.audience = audience
        self.imds = (imds or DEFAULT_IMDS).rstrip("/")
        self.verify = verify
        self.proxy_for = proxy_for
        self.timeout = timeout
        self.remaining = remaining
        #: ``Context.unless_interrupted``: a call or a Retry-After wait under way when the run
        #: is interrupted ends at once (``preflight.context.Interrupted``)
        self.unless_interrupted = unless_interrupted
        self.environ = dict(os.environ if environ is None else environ)
        self.attempts: list[TokenAttempt] = []
        self._token: Token | None = None
        self._token_error: str | None = None
        self._acquired = False
        self._clients: dict[int, Any] = {}
        self._token_lock = threading.Lock()

    # -- token ----------------------------------------------------------------------------------

    def secrets(self) -> list[str]:
        """The token, if one was acquired: every output must mask it (it has no fixed shape)."""
        token = self._token
        return [token.value] if token is not None and token.value else []

    def token(self) -> Token | None:
        """The first token any source gives (blocking; once per run, whichever thread asks
        first: the others wait rather than run ``az`` again). None when none has one."""
        with self._token_lock:
            return self._acquire()

    def _acquire(self) -> Token | None:
        if self._acquired:
            return self._token
        for name, source in (
            ("env", self._from_env),
            ("azure-cli", self._from_cli),
            ("managed-identity", self._from_imds),
        ):
            try:
                token = source()
            except ArmError as exc:
                self.attempts.append(TokenAttempt(name, f"failed: {exc.message}"))
                continue
            if token is None:
                self.attempts.append(TokenAttempt(name, "absent"))
                continue
            self.attempts.append(TokenAttempt(name, "used"))
            self._token = token
            break
        self._acquired = True
        return self._token

    def _from_env(self) -> Token | None:
        value = self.environ.get(ENV_TOKEN, "").strip()
        if value.lower().startswith("bearer "):
            value = value[7:].strip()
        return Token(value, "env", f"${ENV_TOKEN}") if value else None

    def _from_cli(self) -> Token | None:
        az = shutil.which("az", path=self.environ.get("PATH"))
        if not az:
            return None
        argv = [az, "account", "get-access-token", "--resource", self.audience, "-o", "json"]
        done = self._az(argv)
        if done is None:
            raise ArmError("error", "the Azure CLI cannot be started")
        if done.timed_out or done.cancelled:
            raise ArmError("timeout", f"the Azure CLI did not answer: {done.failure()}")
        if done.returncode != 0:
            first = done.stderr_line() or "no output"
            raise ArmError("auth", f"az account get-access-token failed: {first}")
        said = "az account get-access-token"
        try:
            document = jsonshape.loads(done.stdout, said, limit=1 << 20)
            value = jsonshape.field(document, "accessToken", str, said)
        except jsonshape.ShapeError:
            value = None
        if not value or not value.strip():
            raise ArmError("error", f"{said} printed no accessToken")
        return Token(value.strip(), "azure-cli", az, cli_cloud=self._cli_cloud(az))

    def _az(self, argv: list[str]) -> Any:
        """One ``az`` command in its own process group (killed with its children on timeout,
        on the run's deadline, on SIGINT/SIGTERM and at exit); None if it cannot start."""

        try:
            return run(
                argv,
                timeout=az_timeout(self.timeout),
                deadline=time.monotonic() + self.remaining() - 1.0,  # leave time to report
                env=self.environ,
            )
        except OSError:
            return None

    def _cli_cloud(self, az: str) -> str | None:
        done = self._az([az, "cloud", "show", "--query", "name", "-o", "tsv"])
        if done is None or not done.ok:
            return None
        return done.stdout.decode("utf-8", "replace").strip() or None

    def _from_imds(self) -> Token | None:
        if self.imds == DEFAULT_IMDS and not _on_azure():
            return None
        # on first use: httpx (~75 ms) stays out of start-up (docs/ARCHITECTURE.md)
        import httpx

        url = f"{self.imds}/metadata/identity/oauth2/token"
        params = {"api-version": "2018-02-01", "resource": self.audience}
        timeout = min(self.timeout, 5.0)
        where = f"managed-identity endpoint {self.imds}"
        try:
            with (
                httpx.Client(verify=self.verify, trust_env=False, timeout=timeout) as client,
                client.stream("GET", url, params=params, headers={"Metadata": "true"}) as reply,
            ):
                status = reply.status_code
                body = _read_sync(reply, IMDS_MAX_BODY, max(4 * timeout, BODY_SECONDS / 3))
        except httpx.HTTPError as exc:
            raise transport_error(exc, where, self.imds, timeout) from None
        except _BodyProblem as exc:
            raise ArmError(exc.kind, f"{where}: {exc}", phase="http") from None
        if status != 200:
            raise ArmError("auth", f"{where} answered {status}: {_error_text(body)}", status)
        endpoint = f"the {where} (GET {urlsplit(url).path})"
        try:
            document = jsonshape.loads(body, endpoint, limit=IMDS_MAX_BODY)
            value = jsonshape.field(document, "access_token", str, endpoint)
        except jsonshape.ShapeError as exc:
            raise ArmError("malformed", exc.message, status) from None
        if not value or not value.strip():
            raise ArmError("malformed", f"{where} returned no access_token", status)
        return Token(value.strip(), "managed-identity", self.imds)

    # -- calls ----------------------------------------------------------------------------------

    def _client(self) -> Any:
        # on first use: httpx (~75 ms) stays out of start-up (docs/ARCHITECTURE.md)
        import httpx

        loop_id = id(asyncio.get_running_loop())
        client = self._clients.get(loop_id)
        if client is None:
            proxy = self._proxy()
            headers = {"User-Agent": "preflight/0.1"}
            if proxy is not None:
                mounts = {
                    "all://": httpx.AsyncHTTPTransport(
                        verify=self.verify, proxy=_httpx_proxy(proxy, self.verify)
                    )
                }
                client = httpx.AsyncClient(
                    mounts=mounts, trust_env=False, headers=headers, timeout=self.timeout
                )
            else:
                client = httpx.AsyncClient(
                    verify=self.verify,
                    trust_env=False,
                    headers=headers,
                    timeout=self.timeout,
                )
            self._clients[loop_id] = client
        return client

    def _proxy(self) -> Any:
        """The proxy ARM calls go through (a ``preflight.clients.proxy.Proxy``), or None;
        ``ArmError`` when the proxy setting cannot be used for them."""
        proxy = self.proxy_for(*_host_port(self.endpoint))
        if proxy is None:
            return None
        if proxy.error:
            raise ArmError("network", f"the proxy setting cannot be used: {proxy.error}")
        if proxy.scheme.startswith("socks4"):
            raise ArmError(
                "network",
                f"the proxy {proxy.display} ({proxy.origin}) is a {proxy.scheme}:// proxy: Azure "
                "Resource Manager calls go through http://, https://, socks5:// or socks5h:// "
                "proxies only",
            )
        return proxy

    def _proxy_failure(self, exc: Exception) -> ArmError:
        """An ``httpx.ProxyError`` (a refused CONNECT, a SOCKS refusal) as an ArmError naming the
        proxy; a 407 or a SOCKS authentication failure says whether credentials were sent."""

        text = str(exc)[:200]
        proxy = self.proxy_for(*_host_port(self.endpoint))
        shown = proxy.display if proxy is not None else "(none)"
        message = f"the proxy {shown} refused the tunnel to {self.endpoint}: {text}"
        lowered = text.lower()
        if "407" in text or "username" in lowered or "authenticat" in lowered:
            said, todo = credentials_advice(shown)
            message = f"{said} ({shown}, to {self.endpoint}: {text}); {todo}"
        return ArmError("network", message)

    async def get(
        self, path: str, api_version: str, shape: jsonshape.Shape | None = None
    ) -> dict[str, Any]:
        """GET ``{endpoint}{path}?api-version=...``: a JSON object (checked against ``shape``
        when given); 429 retried after Retry-After; ArmError (``malformed`` for an answer that
        is not JSON, too big, or of another shape)."""
        document = await self._get(f"{self.endpoint}{path}", {"api-version": api_version}, path)
        if shape is not None:
            _checked(document, shape, f"GET {path}")
        return document

    async def list(
        self,
        path: str,
        api_version: str,
        *,
        max_pages: int = 50,
        item_shape: jsonshape.Shape | None = None,
    ) -> list[Any]:
        """Every item of an ARM collection: ``value`` of each page, following ``nextLink``.

        A ``nextLink`` is followed only to this client's own endpoint (scheme, host and port):
        the bearer token never goes anywhere else. ``max_pages`` bounds a server that links on
        forever. Each page must be ``{"value": [objects], "nextLink": "..."}`` with items of
        ``item_shape`` when given (ArmError ``malformed`` otherwise)."""
        page_shape = jsonshape.Obj(
            {"value": jsonshape.Arr(item_shape or jsonshape.Obj()), "nextLink": jsonshape.STR}
        )
        page = await self.get(path, api_version, page_shape)
        items = list(page.get("value") or [])
        origin = urlsplit(self.endpoint)
        for _ in range(max_pages - 1):
            link = page.get("nextLink")
            if not isinstance(link, str) or not link:
                return items
            parts = urlsplit(link)
            if (parts.scheme, parts.netloc.lower()) != (origin.scheme, origin.netloc.lower()):
                raise ArmError(
                    "error", f"ARM nextLink points away from {self.endpoint}: not followed"
                )
            page = _checked(
                await self._get(link, None, path), page_shape, f"GET {path} (next page)"
            )
            items += list(page.get("value") or [])
        raise ArmError("error", f"ARM listed more than {max_pages} pages ({path}): stopped")

    async def _get(self, url: str, params: dict[str, str] | None, path: str) -> dict[str, Any]:
        # on first use: httpx (~75 ms) stays out of start-up (docs/ARCHITECTURE.md)
        import httpx

        token = self._token
        if token is None:
            raise ArmError("auth", "no Azure token: " + SOURCES_HELP)
        for attempt in range(6):
            try:
                response, body = await self._interruptible(
                    self._fetch(url, params, token.value),
                    f"Azure Resource Manager answered GET {path}",
                )
            except httpx.ProxyError as exc:
                raise self._proxy_failure(exc) from None
            except httpx.HTTPError as exc:
                raise transport_error(
                    exc, "Azure Resource Manager", self.endpoint, self.timeout, path=path
                ) from None
            except _BodyProblem as exc:
                raise ArmError(exc.kind, f"GET {path}: {exc}", phase="http") from None
            if response.status_code == 429 and attempt < 5:
                wait = _retry_after(response.headers.get("Retry-After"))
                if wait + 0.5 < self.remaining():
                    await self._interruptible(
                        asyncio.sleep(wait),
                        f"the retry of GET {path} (Azure Resource Manager answered 429 and "
                        f"Retry-After {wait:g}s)",
                    )
                    continue
            return _json_or_raise(response.status_code, response.headers, body, path, self.audience)
        raise ArmError("throttled", f"ARM kept answering 429 ({path})", 429)

    async def _fetch(self, url: str, params: dict[str, str] | None, token: str) -> Any:
        """One GET, its body read as it streams in: at most ``MAX_BODY`` bytes, and for no
        longer than a few timeouts (an answer that never ends is bounded too)."""
        client = self._client()
        request = client.build_request(
            "GET", url, params=params, headers={"Authorization": f"Bearer {token}"}
        )
        response = await client.send(request, stream=True)
        try:
            seconds = min(max(4 * self.timeout, BODY_SECONDS), max(self.remaining(), 0.5))
            body = await _read_async(response, MAX_BODY, seconds)
        finally:
            await response.aclose()
        return response, body

    async def _interruptible(self, work: Any, what: str) -> Any:
        if self.unless_interrupted is None:
            return await work
        return await self.unless_interrupted(work, what)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


#: the largest ARM answer read (a page of a collection is well under 1 MiB)
MAX_BODY = 16 * 1024 * 1024
#: the largest managed-identity token answer read
IMDS_MAX_BODY = 1024 * 1024
#: at least this long may one answer's body keep coming (else four timeouts)
BODY_SECONDS = 30.0


def _checked(document: Any, shape: jsonshape.Shape, endpoint: str) -> Any:
    try:
        return jsonshape.check(document, shape, endpoint)
    except jsonshape.ShapeError as exc:
        raise ArmError("malformed", exc.message, 200) from None


class _BodyProblem(Exception):
    """A body that did not come as it should: too big, or still coming past its time."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


def _too_big(headers: Any, limit: int) -> None:
    length = str(headers.get("Content-Length", ""))
    if length.isdigit() and int(length) > limit:
        raise _BodyProblem("malformed", f"the answer is over {jsonshape.size_text(limit)}")


async def _read_async(response: Any, limit: int, seconds: float) -> bytes:
    """A streamed httpx response's body: at most ``limit`` bytes within ``seconds``."""

    _too_big(response.headers, limit)
    ends = time.monotonic() + seconds
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise _BodyProblem("malformed", f"the answer is over {jsonshape.size_text(limit)}")
        chunks.append(chunk)
        if time.monotonic() > ends:
            raise _BodyProblem("timeout", f"the answer kept coming for {seconds:g}s")
    return b"".join(chunks)


def _read_sync(response: Any, limit: int, seconds: float) -> bytes:
    """As ``_read_async``, for a blocking httpx response."""

    _too_big(response.headers, limit)
    ends = time.monotonic() + seconds
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > limit:
            raise _BodyProblem("malformed", f"the answer is over {jsonshape.size_text(limit)}")
        chunks.append(chunk)
        if time.monotonic() > ends:
            raise _BodyProblem("timeout", f"the answer kept coming for {seconds:g}s")
    return b"".join(chunks)


def transport_error(
    exc: Exception, what: str, url: str, timeout: float, *, path: str = ""
) -> ArmError:
    """An httpx transport error as an ArmError with the phase it happened in: ``connect``
    (name, TCP), ``tls`` (the handshake, or a TLS session the peer ended before any HTTP
    answer, however it chose to close), ``http`` (no answer in time, a closed or broken
    answer)."""
    # on first use: httpx (~75 ms) stays out of start-up (docs/ARCHITECTURE.md)
    import httpx

    tls = url.lower().startswith("https:")
    where = what if url in what else f"{what} ({url})"
    suffix = f" ({path})" if path else ""
    text = _cause_text(exc)
    lowered = text.lower()
    if isinstance(exc, httpx.ConnectTimeout):
        return ArmError(
            "timeout", f"no connection to {where} within {timeout:g}s{suffix}", phase="connect"
        )
    if isinstance(exc, httpx.TimeoutException):
        return ArmError(
            "timeout", f"{where} did not answer within {timeout:g}s{suffix}", phase="http"
        )
    if isinstance(exc, httpx.ConnectError):
        if any(s in lowered for s in ("certificate", "ssl", "tls", "handshake", "wrong version")):
            return ArmError("tls", f"TLS with {where} failed: {text[:200]}", phase="tls")
        if any(
            s in lowered for s in ("name or service", "name resolution", "nodename", "no address")
        ):
            return ArmError(
                "network", f"the name of {where} does not resolve ({text[:200]})", phase="connect"
            )
        if any(s in lowered for s in ("refused", "connect call failed", "errno 111")):
            return ArmError("network", f"{where} refused the connection", phase="connect")
        return ArmError("network", f"cannot reach {where}: {text[:200]}", phase="connect")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        closed = not text.strip() or any(
            s in lowered for s in ("without sending", "disconnected", "reset", "eof", "closed")
        )
        if closed and tls:
            # close_notify, FIN or RST right after the handshake: ssl cannot tell them apart,
            # and a TLS 1.3 server (or an inspecting device) refuses a session this way
            return ArmError(
                "tls", f"{where} closed the TLS session before any HTTP answer{suffix}", phase="tls"
            )
        if closed:
            return ArmError(
                "network", f"{where} closed the connection before answering{suffix}", phase="http"
            )
        return ArmError(
            "network", f"{where} answered something that is not HTTP{suffix}", phase="http"
        )
    return ArmError(
        "network", f"talking to {where} failed: {text[:200] or 'no detail'}{suffix}", phase="http"
    )


def _cause_text(exc: BaseException) -> str:
    """The message of ``exc`` and of what caused it, for classification."""
    parts: list[str] = []
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        text = str(seen)
        if text and text not in parts:
            parts.append(text)
        seen = seen.__cause__ or seen.__context__
    return "; ".join(parts)


def _host_port(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    return parts.hostname or "", parts.port or (443 if tls else 80), tls


def _httpx_proxy(proxy: Any, verify: Any) -> Any:
    """An ``httpx.Proxy`` for a ``preflight.clients.proxy.Proxy``: http(s) with the
    ``Proxy-Authorization`` the URL implies, an https:// proxy verified like every other TLS
    session of the run (``verify``: system store + --ca-bundle), SOCKS5 through httpx's socks
    support (socksio), which hands the proxy the name for socks5:// as for socks5h://."""

    # on first use: httpx (~75 ms) stays out of start-up (docs/ARCHITECTURE.md)
    import httpx

    if proxy.socks:
        auth = (proxy.username, proxy.password or "") if proxy.username is not None else None
        address = proxy.url(credentials=False).split("://", 1)[1]
        return httpx.Proxy(f"socks5://{address}", auth=auth)
    headers = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
    context = verify if proxy.tls and isinstance(verify, ssl.SSLContext) else None
    return httpx.Proxy(proxy.url(credentials=False), headers=headers, ssl_context=context)


def _on_azure() -> bool:
    try:
        return ASSET_TAG_PATH.read_text().strip() == AZURE_ASSET_TAG
    except OSError:
        return False


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, min(float(value or 1), 60.0))
    except ValueError:
        return 1.0


def _error_text(data: bytes) -> str:
    try:
        body = jsonshape.loads(data, "", limit=MAX_BODY)
    except jsonshape.ShapeError:
        return " ".join(data[:200].decode("utf-8", "replace").split())
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code', '')}: {error.get('message', '')}"[:300]
    if isinstance(body, dict) and "error_description" in body:
        return str(body["error_description"])[:300]
    return str(body)[:200]


def _json_or_raise(
    status: int, headers: Any, body: bytes, path: str, audience: str
) -> dict[str, Any]:
    if 200 <= status < 300:
        endpoint = f"GET {path}"
        try:
            data = jsonshape.loads(body, endpoint, limit=MAX_BODY)
        except jsonshape.ShapeError as exc:
            raise ArmError("malformed", exc.message, status) from None
        document: dict[str, Any] = _checked(data, jsonshape.Obj(), endpoint)
        return document
    code, message = "", ""
    try:
        parsed = jsonshape.loads(body, "", limit=MAX_BODY)
    except jsonshape.ShapeError:
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or "")[:100]
        message = str(error.get("message") or "")[:500]
    elif isinstance(parsed, dict):
        other = error or parsed.get("message") or parsed.get("Message") or ""
        message = " ".join(str(other).split())[:500]
    else:
        message = " ".join(body[:200].decode("utf-8", "replace").split())
    header = headers.get("WWW-Authenticate", "")
    if status == 401:
        wrong_audience = "audience" in (message + code + header).lower()
        kind = "audience" if wrong_audience else "auth"
        return_text = (
            f"401 {code or 'Unauthorized'}: {message}"
            if message
            else f"401 {code or 'Unauthorized'}"
        )
        if wrong_audience:
            return_text += f" (the token is not for {audience}: a token for another cloud?)"
        raise ArmError(kind, return_text, status, code)
    kinds = {403: "forbidden", 404: "notfound", 429: "throttled"}
    kind = kinds.get(status, "server" if status >= 500 else "error")
    raise ArmError(kind, f"{status} {code}: {message} ({path})".replace("  ", " "), status, code)


def parse_resource_id(resource_id: str) -> dict[str, str]:
    """``/subscriptions/S/resourceGroups/G/providers/NS/type/name`` -> parts (lower-case keys)."""
    parts = [p for p in resource_id.strip().split("/") if p]
    result: dict[str, str] = {}
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        result["subscription_id"] = parts[1]
    if len(parts) >= 4 and parts[2].lower() == "resourcegroups":
        result["resource_group"] = parts[3]
    if len(parts) >= 8 and parts[4].lower() == "providers":
        result["provider"] = parts[5]
        result["type"] = parts[6]
        result["name"] = parts[7]
    return result
