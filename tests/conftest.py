"""Shared pytest fixtures: real servers on loopback (DESIGN.md, "Testing").

Import the classes themselves with ``from support import DnsServer, CNAME, ...`` (pytest puts
``tests/`` on ``sys.path``). Every fixture binds 127.0.0.1 on ephemeral ports, so the suite
runs under ``pytest -n auto``; everything a fixture starts is stopped at teardown.

Factories (call them as often as needed inside one test)::

    def test_x(dns_server, tls_server, tinyproxy, ca_bundle):
        tls = tls_server(hostnames=["mcr.microsoft.com"])           # HTTPS, status 204
        dns = dns_server(records={"mcr.microsoft.com": "127.0.0.1"})
        proxy = tinyproxy(connect_ports=[tls.port])
        # preflight run --nameserver dns.address --ca-bundle ca_bundle --proxy proxy.url ...

The suite mirrors the code: tests/engine (preflight/), tests/checks/<family> (checks/<family>),
tests/reports, tests/profiles, and tests/support_tests (the fakes' own tests). What several test
files need is written once: running the real CLI and reading its report in ``tests/clirun.py``
(``preflight``, ``run_cluster``, ``run_profile``, ``host_profile``, ``Result.finding``/``only``/
``by_target``, ``one_line_exit_2``, ``assert_actionable``), the fakes and builders in
``tests/support/`` (``azure_run``, ``runtime_plugin``, ``leftovers``, ``chromium``, ...), the
fixtures here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trustme
from hypothesis import HealthCheck, settings

# ``support`` lives next to this file; make it importable however pytest was started
# (rootdir-relative, ``python -m pytest``, or with a tests/__init__.py added later).
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from support import (  # noqa: E402
    Blackhole,
    Dnsmasq,
    DnsServer,
    HttpServer,
    InspectingProxy,
    MiniConnectProxy,
    MisbehavingServer,
    RefusedPort,
    SilentDnsServer,
    SocksServer,
    Squid,
    Tinyproxy,
    TlsFront,
    TlsHttpServer,
    ToolUnavailable,
    dnsmasq_available,
    squid_available,
    write_ca_bundle,
)
from support._base import BackgroundServer  # noqa: E402

# -- hypothesis ----------------------------------------------------------------------------------
# "ci" (the default): reproducible (derandomized) with 1,000 examples per property unless a test
# asks for its own count; "nightly" (HYPOTHESIS_PROFILE=nightly): randomized, ten times as many.
# No deadline: the machines running the suite are shared and slow; the budget is the suite's.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "ci", max_examples=1000, derandomize=True, deadline=None, suppress_health_check=_SLOW_OK
)
settings.register_profile(
    "nightly", max_examples=10_000, derandomize=False, deadline=None, suppress_health_check=_SLOW_OK
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_T = TypeVar("_T", bound=BackgroundServer)


def _factory(cls: Callable[..., _T], **defaults: Any) -> Iterator[Callable[..., _T]]:
    """Yield a function that builds+starts ``cls`` servers; stop them all afterwards."""
    started: list[_T] = []

    def make(*args: Any, **kwargs: Any) -> _T:
        try:
            server = cls(*args, **{**defaults, **kwargs})
        except ToolUnavailable as exc:
            pytest.skip(str(exc))
        started.append(server)
        return server.start()

    try:
        yield make
    finally:
        errors: list[BaseException] = []
        for server in reversed(started):
            try:
                server.stop()
            except BaseException as exc:  # noqa: BLE001 - stop the rest, then re-raise
                errors.append(exc)
        if errors:
            raise errors[0]


# -- DNS ---------------------------------------------------------------------------------------
@pytest.fixture
def dns_server() -> Iterator[Callable[..., DnsServer]]:
    """Factory: ``dns_server(records={...}, nxdomain=..., nodata=..., refused=..., servfail=...,
    silent=..., truncate=..., unknown="nxdomain", delay=0.0, delays={...}, ttl=60)`` ->
    a started ``DnsServer``; ``.address`` is ``"127.0.0.1:PORT"`` for ``--nameserver``."""
    yield from _factory(DnsServer)


@pytest.fixture
def silent_dns() -> Iterator[SilentDnsServer]:
    """A started ``SilentDnsServer``: reads queries on UDP+TCP, never answers."""
    with SilentDnsServer() as server:
        yield server


@pytest.fixture
def dnsmasq() -> Iterator[Callable[..., Dnsmasq]]:
    """Factory: ``dnsmasq(records={...}, nxdomain=..., sinkhole=..., unknown="nxdomain")`` ->
    a started real ``Dnsmasq``. Skips the test if the binary is missing."""
    if not dnsmasq_available():
        pytest.skip("dnsmasq not installed (apt-get install -y dnsmasq-base)")
    yield from _factory(Dnsmasq)


# -- TLS / HTTP --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    """The test CA (one per test session/worker) that ``tls_server`` certificates chain to."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a PEM file holding ``tls_ca``: the value for ``--ca-bundle``."""
    return write_ca_bundle(tls_ca, tmp_path_factory.mktemp("ca") / "ca.pem")


@pytest.fixture
def tls_server(tls_ca: trustme.CA) -> Iterator[Callable[..., TlsHttpServer]]:
    """Factory: ``tls_server(hostnames=["localhost"], status=204, *, untrusted=False,
    expired=False, tls_then_silence=False, accept_then_silence=False, headers=None, body=b"",
    routes=None, responder=None, ca=tls_ca)`` -> a started ``TlsHttpServer`` whose certificate
    chains to ``tls_ca`` (unless ``untrusted``). ``routes``/``responder``: see ``http_server``."""
    yield from _factory(TlsHttpServer, ca=tls_ca)


@pytest.fixture
def http_server() -> Iterator[Callable[..., HttpServer]]:
    """Factory: ``http_server(status=204, *, headers=None, body=b"",
    accept_then_silence=False, routes=None, responder=None)`` -> a started plain
    ``HttpServer``. ``routes={"/path" or "METHOD /path": (status, headers, body) or callable}``
    and ``responder(request) -> (status, headers, body) | None`` answer per request (also on
    ``tls_server``); ``support.azure_services`` has Azure's real answers."""
    yield from _factory(HttpServer)


@pytest.fixture
def misbehaving_server(tls_ca: trustme.CA) -> Iterator[Callable[..., MisbehavingServer]]:
    """Factory: ``misbehaving_server(behaviour, *, tls=False, hostnames=("localhost",),
    ca=tls_ca, framing="chunked", chunk=b"x"*1024, interval=0.01, garbage=DEFAULT_GARBAGE,
    abort="close_notify")`` -> a started ``MisbehavingServer``. ``behaviour``:
    ``"endless_body"`` (200, body never ends), ``"stalled_chunked"`` (first chunk, then
    silence), ``"garbage"`` (non-HTTP bytes), ``"no_response"`` (close after the request),
    ``"tls_abort"`` (TLS 1.3 handshake, then close_notify / fin / rst before the request)."""
    yield from _factory(MisbehavingServer, ca=tls_ca)


@pytest.fixture
def garbage_proxy() -> Iterator[MisbehavingServer]:
    """A started "proxy" that answers garbage to CONNECT (and to anything else): ``.url``
    is ``http://127.0.0.1:PORT``."""
    with MisbehavingServer("garbage") as server:
        yield server


# -- TCP failure modes -------------------------------------------------------------------------
@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    """A started ``Blackhole``: ``connect()`` to ``.sockaddr`` hangs until the client's timeout."""
    with Blackhole() as hole:
        yield hole


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections (held bound, not listening, for the test)."""
    with RefusedPort() as reserved:
        yield reserved.port


# -- proxies -----------------------------------------------------------------------------------
@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[Callable[..., Tinyproxy]]:
    """Factory: ``tinyproxy(connect_ports=(443,), *, auth=None, hosts=None)`` -> a started real
    ``Tinyproxy``; ``connect_ports=[]`` refuses every CONNECT (403), ``None`` allows any port,
    ``auth=("u", "p")`` requires credentials (407), ``hosts={name: ip}`` is how the proxy
    resolves names. Skips if tinyproxy (or, for ``hosts``, root+unshare) is unavailable."""
    counter = iter(range(1_000_000))

    def workdir() -> Path:
        path = tmp_path / f"tinyproxy-{next(counter)}"
        path.mkdir()
        return path

    started: list[Tinyproxy] = []

    def make(*args: Any, **kwargs: Any) -> Tinyproxy:
        kwargs.setdefault("workdir", workdir())
        try:
            proxy = Tinyproxy(*args, **kwargs)
        except ToolUnavailable as exc:
            pytest.skip(str(exc))
        started.append(proxy)
        return proxy.start()

    try:
        yield make
    finally:
        for proxy in reversed(started):
            proxy.stop()


@pytest.fixture
def squid() -> Iterator[Callable[..., Squid]]:
    """Factory: ``squid(*, ssl_ports=(), hosts=None, auth=None)`` -> a started real ``Squid``
    with Debian's default access rules: CONNECT only to 443 and ``ssl_ports`` (else the real
    ``403`` ``X-Squid-Error: ERR_ACCESS_DENIED 0``), plain requests to ``Safe_ports``;
    ``hosts={name: ip}`` is how squid resolves names; ``auth=("u", "p")`` requires basic
    credentials (407 without or with wrong ones). See ``support/squid.py``. Skips if squid is
    not installed."""
    if not squid_available():
        pytest.skip("squid not installed (apt-get install -y squid)")
    yield from _factory(Squid)


@pytest.fixture
def inspecting_proxy(tls_ca: trustme.CA) -> Iterator[Callable[..., InspectingProxy]]:
    """Factory: ``inspecting_proxy(*, modes=None, default_mode="pass", upstream=None,
    upstream_ca=tls_ca, intermediate=False)`` -> a started ``InspectingProxy``: a TLS-inspecting
    proxy whose own CA (``.ca``, organization "Contoso TLS Inspection"; ``.write_ca_bundle``)
    signs a leaf per CONNECT host; per-host mode ``"pass"`` (forward to ``upstream[host]``,
    verified with ``upstream_ca``), ``"502"``/``"503"``/``"504"`` (gateway error page) or
    ``"block403"``/``"block200"`` (block page). See ``support/mitm.py``."""
    yield from _factory(InspectingProxy, upstream_ca=tls_ca)


@pytest.fixture
def mini_proxy() -> Iterator[Callable[..., MiniConnectProxy]]:
    """Factory: ``mini_proxy(*, refuse_status=None, auth=None, resolve=None)`` -> a started
    pure-Python ``MiniConnectProxy``."""
    yield from _factory(MiniConnectProxy)


@pytest.fixture
def socks_server() -> Iterator[Callable[..., SocksServer]]:
    """Factory: ``socks_server(*, auth=None, resolve=None, reply=None)`` -> a started
    pure-Python SOCKS5 server (RFC 1928 CONNECT; ``auth=("u", "p")`` requires RFC 1929
    username/password; ``resolve={name: ip}`` is how it resolves names; ``reply=0x02`` answers
    every CONNECT with that reply code). ``.url`` is ``socks5h://127.0.0.1:PORT``,
    ``.connect_targets`` what it was asked for. See ``support/socks.py``."""
    yield from _factory(SocksServer)


@pytest.fixture
def tls_front(tls_ca: trustme.CA) -> Iterator[Callable[..., TlsFront]]:
    """Factory: ``tls_front((host, port), *, hostnames=("localhost", "127.0.0.1"), ca=tls_ca)``
    -> a started TLS terminator relaying to a plain server (stunnel in front of a proxy: an
    ``https://`` proxy). ``.url()`` is ``https://localhost:PORT``."""
    yield from _factory(TlsFront, ca=tls_ca)


# -- Kubernetes API ----------------------------------------------------------------------------
from support.kube_api import FakeKubeApi, load_client  # noqa: E402


@pytest.fixture
def kube_api() -> Iterator[Callable[..., FakeKubeApi]]:
    """Factory: ``kube_api(objects=[...], version="v1.30.4", token=None, *, tls=False,
    tokens=None, user="kubernetes-admin", require_namespace=True, ...)`` -> a started
    ``FakeKubeApi`` (see ``support/kube_api.py``). Stopped at teardown, which also fails if the
    fake itself raised while answering (``server_errors``: a bug in the fake, not the tool)."""
    started: list[FakeKubeApi] = []

    def make(objects: Any = (), **kwargs: Any) -> FakeKubeApi:
        api = FakeKubeApi(objects, **kwargs)
        started.append(api)
        return api.start()

    try:
        yield make
    finally:
        for api in reversed(started):
            api.stop()
        errors = [error for api in started for error in api.server_errors]
        if errors:
            pytest.fail("FakeKubeApi raised while answering:\n" + errors[0])


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``kubeconfig(api, **kwargs)`` -> path of a fresh kubeconfig for ``api`` under
    ``tmp_path`` (keyword arguments as ``FakeKubeApi.kubeconfig``: token, context, namespace,
    user_exec, insecure, ...)."""
    counter = iter(range(1_000_000))

    def make(api: FakeKubeApi, **kwargs: Any) -> Path:
        return api.kubeconfig(tmp_path / f"kubeconfig-{next(counter)}", **kwargs)

    return make


@pytest.fixture
def kube_client(kubeconfig: Callable[..., Path]) -> Iterator[Callable[..., Any]]:
    """Factory: ``kube_client(api_or_kubeconfig_path, *, context=None, **configuration)`` -> a
    fresh ``kubernetes.client.ApiClient`` with its own ``Configuration`` (loaded through
    ``load_kube_config(client_configuration=...)``; the global default is never touched).
    ``configuration`` sets ``Configuration`` attributes first (e.g. ``retries=False``).
    Closed at teardown."""
    clients: list[Any] = []

    def make(target: FakeKubeApi | str | Path, *, context: str | None = None, **config: Any) -> Any:
        path = kubeconfig(target) if isinstance(target, FakeKubeApi) else target
        client = load_client(path, context=context, **config)
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.close()


# -- Azure: ARM, IMDS, the az CLI, profiles ------------------------------------------------------
from support.arm_server import FakeArm, FakeImds, write_azure_profile  # noqa: E402
from support.azure_run import TOKEN as AZURE_TOKEN  # noqa: E402
from support.azure_run import Azure  # noqa: E402
from support.fake_az import FakeAz, write_fake_az  # noqa: E402


def _fake_servers_fail_on_bugs(servers: list[Any], what: str) -> None:
    errors = [error for server in servers for error in server.server_errors]
    if errors:
        pytest.fail(f"{what} raised while answering:\n" + errors[0])


@pytest.fixture
def fake_arm(tls_ca: trustme.CA) -> Iterator[Callable[..., FakeArm]]:
    """Factory: ``fake_arm(resources=(), *, tokens={"good-token"}, wrong_audience_tokens=(),
    cloud="AzureCloud", ca=tls_ca, hostnames=(), api_versions=None, page_size=None)`` -> a
    started ``FakeArm`` (HTTPS; pass ``--ca-bundle ca_bundle``). ``.url`` goes into a profile's
    ``endpoints.arm`` (``azure_profile``). Stopped at teardown, which fails the test if the fake
    itself raised (``server_errors``)."""
    started: list[FakeArm] = []

    def make(resources: Any = (), **kwargs: Any) -> FakeArm:
        kwargs.setdefault("ca", tls_ca)
        arm = FakeArm(resources, **kwargs)
        started.append(arm)
        return arm.start()

    try:
        yield make
    finally:
        for arm in reversed(started):
            arm.stop()
        _fake_servers_fail_on_bugs(started, "FakeArm")


@pytest.fixture
def fake_imds(tls_ca: trustme.CA) -> Iterator[Callable[..., FakeImds]]:
    """Factory: ``fake_imds(token="imds-token", *, tokens=None, identity=True, tls=False,
    ca=tls_ca, ...)`` -> a started ``FakeImds`` (plain HTTP like the real IMDS unless ``tls``).
    ``.url`` goes into a profile's ``endpoints.imds``."""
    started: list[FakeImds] = []

    def make(*args: Any, **kwargs: Any) -> FakeImds:
        kwargs.setdefault("ca", tls_ca)
        imds = FakeImds(*args, **kwargs)
        started.append(imds)
        return imds.start()

    try:
        yield make
    finally:
        for imds in reversed(started):
            imds.stop()
        _fake_servers_fail_on_bugs(started, "FakeImds")


@pytest.fixture
def fake_az(tmp_path: Path) -> Callable[..., FakeAz]:
    """Factory: ``fake_az(token="az-token", *, tokens=None, logged_in=True, cloud="AzureCloud",
    cli_version="2.61.0", extensions={"k8s-extension": "1.6.1"}, delay=0, failures={}, ...)`` ->
    a ``FakeAz`` written to a fresh directory under ``tmp_path``. ``str(fake)`` is that
    directory (prepend it to ``PATH``; ``fake.env()`` does), ``fake.calls()`` the argv of every
    run, ``fake.resources()`` the ``--resource`` audiences asked for."""
    counter = iter(range(1_000_000))

    def make(**config: Any) -> FakeAz:
        return write_fake_az(tmp_path / f"fake-az-{next(counter)}", **config)

    return make


@pytest.fixture
def azure_profile(tmp_path: Path) -> Callable[..., Path]:
    """Helper: ``azure_profile([directory], base="azure-public", *, arm=None, imds=None,
    login=None, name=None, extra=None)`` -> path of a user profile that ``extends`` the
    built-in ``base`` (azure-public / azure-china / azure-usgov) with ``endpoints.arm`` /
    ``endpoints.imds`` pointed at fakes; audiences and hosts stay the built-in's. Written under
    ``directory`` (default ``tmp_path``), a fresh file per call."""
    counter = iter(range(1_000_000))

    def make(directory: Path | None = None, base: str = "azure-public", **kwargs: Any) -> Path:
        folder = Path(directory) if directory is not None else tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        return write_azure_profile(folder / f"{base}-fake-{next(counter)}.yaml", base, **kwargs)

    return make


@pytest.fixture
def azure(
    tmp_path: Path,
    fake_arm: Callable[..., FakeArm],
    azure_profile: Callable[..., Path],
    ca_bundle: Path,
    refused_port: int,
) -> Callable[..., Azure]:
    """Factory: ``azure(resources, base="azure-public", imds=None, token=TOKEN,
    **fake_arm_kwargs)`` -> an ``Azure`` (support/azure_run.py): a ``FakeArm`` accepting
    ``token``, and a profile whose IMDS is ``imds`` (a FakeImds url) or a port that refuses.
    ``.run(*args, checks=..., token=..., az=..., cluster=...)`` runs the real CLI against it."""

    def make(
        resources: Any = (),
        base: str = "azure-public",
        imds: str | None = None,
        token: str = AZURE_TOKEN,
        **kwargs: Any,
    ) -> Azure:
        kwargs.setdefault("tokens", {token})
        arm = fake_arm(resources, **kwargs)
        profile = azure_profile(
            base=base, arm=arm.url, imds=imds or f"http://127.0.0.1:{refused_port}"
        )
        return Azure(tmp_path, arm, profile, ca_bundle, token)

    return make


# -- Kubernetes: pods that run (support/kube_runner.py) ------------------------------------------
from support.kube_runner import KubeRunner  # noqa: E402
from support.runtime_plugin import install as install_runtime_plugin  # noqa: E402


@pytest.fixture
def kube_runner(tmp_path: Path) -> Iterator[Callable[..., KubeRunner]]:
    """Factory: ``kube_runner(api, *, env=None, pull_delay=0.05, backoff=0.3)`` -> a
    ``KubeRunner`` that makes ``api`` (a ``kube_api`` server) run what it is asked to: Jobs
    and Deployments get pods, pods are scheduled onto the seeded nodes and their command runs
    here as a process (``preflight ...`` = this interpreter's ``-m preflight``) whose output is
    the pod log; Services resolve to those processes. ``runner.fault("image_pull" | "crash" |
    "unschedulable" | "admission" | "quota" | "hang", name=GLOB)`` injects failures. Every
    process is killed at teardown, which fails the test if the runner itself raised."""
    started: list[KubeRunner] = []
    counter = iter(range(1_000_000))

    def make(api: FakeKubeApi, **kwargs: Any) -> KubeRunner:
        kwargs.setdefault("workdir", tmp_path / f"kube-runner-{next(counter)}")
        runner = KubeRunner(api, **kwargs)
        started.append(runner)
        return runner

    try:
        yield make
    finally:
        for runner in reversed(started):
            runner.stop()
        errors = [error for runner in started for error in runner.errors]
        if errors:
            pytest.fail("KubeRunner raised:\n" + errors[0])


@pytest.fixture(scope="session")
def runtime_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder (for ``PYTHONPATH``) holding the test check ``test.runtime``, which drives
    the in-cluster runtime as checks do (support/runtime_plugin.py)."""
    return install_runtime_plugin(tmp_path_factory.mktemp("runtime-plugin"))


# -- NVML: a fake libnvidia-ml.so.1 (support/fake_nvml.py) -------------------------------------
from support import fake_nvml as _fake_nvml  # noqa: E402


@pytest.fixture(scope="session")
def fake_nvml_builds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this session's builds of the fake NVML library go (one per source hash and set of
    omitted functions)."""
    return tmp_path_factory.mktemp("fake-nvml")


@pytest.fixture
def fake_nvml(fake_nvml_builds: Path, tmp_path: Path) -> Callable[..., tuple[Path, dict[str, str]]]:
    """Factory: ``fake_nvml(*, omit=(), **config)`` -> ``(lib_path, env)``: the fake
    ``libnvidia-ml.so.1`` (built with gcc; ``omit`` leaves functions out of it, as an older
    driver's library) and the environment a subprocess needs to load it through the real
    ``pynvml`` (``LD_LIBRARY_PATH`` and ``FAKE_NVML_CONFIG``, a fresh config file written from
    ``config``: ``count=8``, ``gpus={3: {"ecc_volatile": 2}}``, ``xid=[(3, 79, 200)]``,
    ``init_error=9``, ``unsupported=[...]``; see support/fake_nvml/fake_nvml.c). Skips when gcc
    is missing."""
    counter = iter(range(1_000_000))

    def make(*, omit: tuple[str, ...] = (), **config: Any) -> tuple[Path, dict[str, str]]:
        try:
            library = _fake_nvml.build(fake_nvml_builds, omit)
        except _fake_nvml.CompilerMissing as exc:
            pytest.skip(str(exc))
        path = tmp_path / f"fake-nvml-{next(counter)}.conf"
        path.write_text(_fake_nvml.config_text(config))
        env = {"LD_LIBRARY_PATH": str(library.parent), _fake_nvml.CONFIG_ENV: str(path)}
        return library, env

    return make


@pytest.fixture
def nvml_in_process(
    fake_nvml: Callable[..., tuple[Path, dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Any]]:
    """Factory: ``nvml_in_process(*, omit=(), **config)`` -> the ``pynvml`` module with the fake
    library (configured as ``fake_nvml``) in place of its handle; restored at teardown."""

    def make(**kwargs: Any) -> Any:
        library, env = fake_nvml(**kwargs)
        monkeypatch.setenv(_fake_nvml.CONFIG_ENV, env[_fake_nvml.CONFIG_ENV])
        return _fake_nvml.use_in_process(library)

    try:
        yield make
    finally:
        _fake_nvml.restore_in_process()
