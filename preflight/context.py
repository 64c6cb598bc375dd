"""What a check sees of a run: parameters, the profile's hosts, and lazily built clients.

Clients (DNS, TLS, proxy settings, and later Kubernetes, ARM, NVML) are built on first use, so a
run that selects only DNS checks never imports the Kubernetes client, and ``preflight --help``
stays fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from preflight.clients.arm import SOURCES_HELP, ArmClient
from preflight.clients.dns import DnsClient
from preflight.clients.kube import KubeClient, KubeSettings, config_present
from preflight.clients.net import ProxySettings
from preflight.clients.nvml import NvmlClient, need
from preflight.clients.trust import load_trust
from preflight.jsonshape import ShapeError
from preflight.model import Finding, Status
from preflight.params import CaseInsensitiveDict
from preflight.plugin import Fact
from preflight.profile import template_fields
from preflight.redact import is_secret_key
from preflight.report import new_run_id

if TYPE_CHECKING:
    from preflight.clients.arm import ArmClient
    from preflight.clients.dns import DnsClient
    from preflight.clients.kube import KubeClient
    from preflight.clients.net import ProxySettings
    from preflight.clients.nvml import NvmlClient
    from preflight.clients.trust import Trust
    from preflight.kubeconfig import KubeTarget
    from preflight.profile import HostSpec, Profile

T = TypeVar("T")


@dataclass
class RunOptions:
    """Everything ``preflight run`` was told, after parsing and validation."""

    profile: Profile
    params: dict[str, str] = field(default_factory=dict)
    extension_settings: CaseInsensitiveDict = field(default_factory=CaseInsensitiveDict)
    nameservers: list[tuple[str, int]] = field(default_factory=list)
    ca_bundle: str | None = None
    proxy: str | None = None
    timeout: float = 5.0
    deadline: float = 300.0
    kubeconfig: str | None = None
    kube_context: str | None = None
    param_sources: dict[str, str] = field(default_factory=dict)
    #: this run's id (report.json ``run.id``; names and labels what the run creates in-cluster)
    run_id: str = ""
    #: in-cluster steps record their manifests (Context.manifests) instead of applying them
    dry_run: bool = False
    #: vantage-dependent checks also run from pods inside the cluster (``--in-cluster``)
    in_cluster: bool = False
    #: where network probes leave from: "local" (this machine), "in-cluster" (a probe pod)
    vantage: str = "local"
    #: the ``--check`` globs as given (a check that acts on the cluster, such as
    #: smoke.inference, runs only when a glob names it explicitly)
    check_patterns: tuple[str, ...] = ()
    #: ``--set phase``: ``before`` an install (the default) or ``after`` it
    phase: str = "before"
    #: ``--baseline``: a saved report.json (already validated) that checks compare with
    baseline: dict[str, Any] | None = None
    baseline_path: str | None = None
    #: ``--ca-bundle`` given as text rather than a path (a probe pod reads it from env)
    ca_text: str | None = None
    #: how errors name the bundle (``env:VAR`` for text from the environment)
    ca_label: str | None = None
    #: at most this many probes in flight at once, across every check (``--concurrency``)
    concurrency: int = 64
    #: the cluster the kubeconfig points at (server URL, CA), when one was given
    kube_target: KubeTarget | None = None
    #: input files named by run options (``--instance-types FILE``): option name -> path,
    #: already judged by the checks' ``input_validators``
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Host:
    """A profile host for this run: rendered FQDN (None when a parameter is missing)."""

    spec: HostSpec
    fqdn: str | None
    missing: tuple[str, ...]
    required: bool
    why_optional: str = ""
    _rule: str | None = None
    #: a port given with the parameter that names the host (``api_server=k3s.lan:6443``)
    port_override: int | None = None

    @property
    def port(self) -> int:
        return self.port_override or self.spec.port

    @property
    def tls(self) -> bool:
        return self.spec.tls

    @property
    def target(self) -> str:
        return self.fqdn or self.spec.template

    @property
    def rule(self) -> str:
        """The firewall application rule to allow (a wildcard where the profile names one)."""
        return self.rendered_rule or self.target

    @property
    def rendered_rule(self) -> str | None:
        return None if self.spec.rule is None else self._rule

    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "port": self.port,
            "purpose": self.spec.purpose,
            "source": self.spec.source,
            "required": self.required,
            "needed_for": list(self.spec.needed_for),
            "template": self.spec.template,
        }
        if self.spec.rule:
            details["rule"] = self.rendered_rule
        if self.why_optional:
            details["optional_because"] = self.why_optional
        return details


class Interrupted(BaseException):
    """Raised where a wait notices that the run was interrupted (SIGINT/SIGTERM): the runner
    (and ``probe_each``, for one target) turn it into ``error`` findings saying what the
    interruption cut short. A BaseException, so that a check's ``except Exception`` does not
    mistake it for an answer about the target."""

    def __init__(self, what: str = "") -> None:
        super().__init__(what)
        #: what it was waiting for, completing "interrupted (SIGINT) before ..."
        self.what = what


class Progress:
    """What a running check has finished so far (``probe_each`` records each target), so a
    deadline or an interruption keeps the finished findings and names the pending targets."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.pending: dict[int, str | None] = {}


#: the progress of the check running in this task (set by the runner around each check)
CURRENT_PROGRESS: contextvars.ContextVar[Progress | None] = contextvars.ContextVar(
    "preflight_progress", default=None
)

#: need name -> function returning None when available, else (reason, how to supply it)
NeedProvider = Callable[["Context"], "tuple[str, str] | None"]
_NEED_PROVIDERS: dict[str, NeedProvider] = {}


def need_provider(name: str) -> Callable[[NeedProvider], NeedProvider]:
    """Register how the engine tells whether a need (``kube``, ``arm``, ...) can be met."""

    def decorate(func: NeedProvider) -> NeedProvider:
        _NEED_PROVIDERS[name] = func
        return func

    return decorate


@need_provider("network")
def _network(ctx: Context) -> tuple[str, str] | None:
    return None


@need_provider("kubeconfig")
def _kubeconfig(ctx: Context) -> tuple[str, str] | None:
    present, where = config_present(ctx.kube.settings)
    if present:
        return None
    return (
        f"no cluster given (no kubeconfig at {where}, not running in a pod)",
        "pass --kubeconfig PATH (and --context NAME), set KUBECONFIG, or run preflight "
        "inside the cluster",
    )


@need_provider("arm")
def _arm(ctx: Context) -> tuple[str, str] | None:
    if not ctx.profile.endpoints.get("arm") or not ctx.profile.audiences.get("arm"):
        return (
            f"profile {ctx.profile.name} names no ARM endpoint and audience",
            "add endpoints.arm and audiences.arm to the profile",
        )
    if ctx.arm.token() is not None:
        return None

    failures = [f"{a.source}: {a.outcome}" for a in ctx.arm.attempts if a.outcome != "absent"]
    tried = f" ({'; '.join(failures)})" if failures else ""
    return (f"no Azure credentials{tried}", SOURCES_HELP)


@need_provider("nvml")
def _nvml(ctx: Context) -> tuple[str, str] | None:
    return need(ctx.nvml, ctx.in_cluster)


@need_provider("kube")
def _kube(ctx: Context) -> tuple[str, str] | None:
    missing = _kubeconfig(ctx)
    if missing is not None:
        return missing
    reach = ctx.kube.reachability()
    if reach.ok or reach.error is None:
        return None
    return (
        f"the cluster is not reachable: {reach.error.message} (see cluster.reachable)",
        reach.error.remediation(),
    )


class Context:
    """The run as a check sees it. Read-only for checks; built once per run by the CLI."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.profile = options.profile
        self.params: Mapping[str, str] = dict(options.params)
        self.extension_settings = options.extension_settings
        self.timeout = options.timeout
        self.started = time.monotonic()
        self.deadline_at = self.started + options.deadline
        self._dns: DnsClient | None = None
        self._kube: KubeClient | None = None
        self._arm: ArmClient | None = None
        self._nvml: NvmlClient | None = None
        self._tls: ssl.SSLContext | None = None
        self._trust: Trust | None = None
        self._slots: asyncio.Semaphore | None = None
        self._proxies: ProxySettings | None = None
        self._facts: dict[Fact[Any], _FactEntry] = {}
        self._fact_tasks: dict[Fact[Any], asyncio.Future[Any]] = {}
        self._facts_lock = threading.Lock()
        if not options.run_id:
            options.run_id = new_run_id()
        #: the run's id: what the run creates in a cluster is named and labelled with it
        self.run_id = options.run_id
        #: in-cluster steps record manifests instead of applying them (``--dry-run``)
        self.dry_run = options.dry_run
        #: ``--in-cluster``: checks that depend on where they run also run from pods
        self.in_cluster = options.in_cluster
        #: where network probes leave from (findings say so: the same host can pass from a
        #: laptop and fail from a node pool)
        self.vantage = options.vantage
        #: set when the run is interrupted (SIGINT/SIGTERM): long waits stop early
        self.cancelled = threading.Event()
        #: the signal's name ("SIGINT", "SIGTERM") once ``interrupt`` was called
        self.interruption = ""
        #: (loop, event) pairs that ``interrupt`` sets: ``until_cancelled`` awaits them
        self._wakeups: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        #: manifests recorded by a dry run, in the order they would have been applied
        self.manifests: list[dict[str, Any]] = []
        self._cleanups: list[tuple[str, Callable[[], object]]] = []
        self._cleanup_lock = threading.Lock()
        #: set by a second interrupt: stop waiting for cleanups and leave
        self.abandon_cleanup = threading.Event()

    # -- parameters and hosts -----------------------------------------------------------------

    def param(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        return value if value not in (None, "") else default

    def input_file(self, name: str) -> str | None:
        """The path given to the run option ``name`` (``"deployment"`` for ``--deployment``),
        or None when it was not given."""
        return self.options.inputs.get(name) or None

    def scenario_active(self, scenario: str) -> bool:
        """A scenario with a condition in the profile (``arc: "cluster_type=arc"``) is active
        when the condition holds in --set parameters or the planned extension settings."""
        condition = self.profile.scenarios.get(scenario)
        if condition is None:
            return True
        negate = "!=" in condition
        key, _, expected = condition.replace("!=", "=", 1).partition("=")
        value = self.params.get(key.strip())
        if value is None and key.strip() in self.extension_settings:
            value = self.extension_settings[key.strip()]
        equal = value is not None and value.strip().lower() == expected.strip().lower()
        return not equal if negate else equal

    def hosts(self) -> list[Host]:
        """The profile's hosts rendered with this run's parameters, with effective requiredness."""
        return [self._host(spec) for spec in self.profile.hosts]

    def host_set(self, name: str, values: Mapping[str, str] | None = None) -> list[Host]:
        """The hosts of the profile's ``host_sets.<name>`` (none when the profile has no such
        set), rendered like ``hosts()`` with ``values`` (what a check found out, e.g. a region
        read from Azure) on top of this run's parameters."""
        return [self._host(spec, values) for spec in self.profile.host_sets.get(name, ())]

    def _host(self, spec: HostSpec, values: Mapping[str, str] | None = None) -> Host:
        params = {**self.params, **{k: v for k, v in (values or {}).items() if v}}
        missing = tuple(name for name in spec.placeholders if not params.get(name))
        fqdn = None if missing else spec.render(params)
        port = None
        if fqdn is not None:
            fqdn, port = split_host_port(fqdn)
        required, why = spec.required, ""
        if required and spec.needed_for:
            inactive = [s for s in spec.needed_for if not self.scenario_active(s)]
            if len(inactive) == len(spec.needed_for):
                required = False
                conditions = [f"{s} ({self.profile.scenarios[s]})" for s in inactive]
                why = "needed only for " + ", ".join(conditions) + ", which this run does not plan"
        rule = None
        if spec.rule:
            filled = {n: params.get(n) or "{" + n + "}" for n in template_fields(spec.rule)}
            rule = spec.rule.format_map(filled)
        return Host(spec, fqdn, missing, required, why, rule, port)

    # -- clients --------------------------------------------------------------------------------

    @property
    def kube(self) -> KubeClient:
        """The Kubernetes API (built on first use; importing the client costs ~0.5 s)."""
        if self._kube is None:
            self._kube = KubeClient(
                KubeSettings(
                    self.options.kubeconfig,
                    self.options.kube_context,
                    self.timeout,
                    remaining=self.remaining,
                    cancelled=self.cancelled,
                )
            )
        return self._kube

    @property
    def arm(self) -> ArmClient:
        """Azure Resource Manager for the profile's cloud (token acquired on first need)."""
        if self._arm is None:
            self._arm = ArmClient(
                self.profile.endpoints.get("arm", ""),
                self.profile.audiences.get("arm", ""),
                imds=self.profile.endpoints.get("imds"),
                verify=self.tls_context(),
                proxy_for=self.proxies.for_host,
                timeout=self.timeout,
                remaining=self.remaining,
                unless_interrupted=self.unless_interrupted,
            )
        return self._arm

    @property
    def nvml(self) -> NvmlClient:
        """NVML on this host (the library is loaded on first use, not here)."""
        with self._facts_lock:
            if self._nvml is None:
                self._nvml = NvmlClient()
        return self._nvml

    @property
    def dns(self) -> DnsClient:
        if self._dns is None:
            self._dns = DnsClient(self.options.nameservers or None, self.timeout)
        return self._dns

    def tls_context(self) -> ssl.SSLContext:
        """Verified TLS: the system trust store plus ``--ca-bundle``."""
        if self._tls is None:
            self._tls = self.trust().combined
        return self._tls

    def trust(self) -> Trust:
        """The system trust store and ``--ca-bundle`` kept apart, so a probe can tell which
        one verified a certificate (a chain known only to the bundle ends at an inspecting
        proxy, not at the origin)."""
        if self._trust is None:
            self._trust = load_trust(
                self.options.ca_bundle,
                ca_text=self.options.ca_text,
                label=self.options.ca_label,
            )
        return self._trust

    async def probe_slot(self) -> asyncio.Semaphore:
        """The run-wide bound on probes in flight (``--concurrency``): ``async with await
        ctx.probe_slot(): ...``. ``probe_each`` takes a slot for every target."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(max(1, self.options.concurrency))
        return self._slots

    @property
    def proxies(self) -> ProxySettings:
        if self._proxies is None:
            self._proxies = ProxySettings.build(self.options.proxy)
        return self._proxies

    def fact(self, fact: Fact[T]) -> T:
        """``fact`` gathered once per run (its ``gather`` is a plain function): the first
        caller gathers it, concurrent callers in other threads wait for that value, and every
        later caller gets it (or the same exception) at once."""
        with self._facts_lock:
            entry = self._facts.get(fact)
            if entry is None:
                entry = self._facts[fact] = _FactEntry()
        with entry.lock:
            if not entry.done:
                try:
                    entry.value = fact.gather(self)
                except Exception as exc:
                    entry.error = exc
                entry.done = True
        if entry.error is not None:
            raise entry.error
        value: T = entry.value
        return value

    async def fact_async(self, fact: Fact[T]) -> T:
        """``fact`` gathered once per run by its coroutine function ``gather``: concurrent
        callers await the same task, shielded, so the deadline ending one check does not
        cancel the gathering for the others."""
        with self._facts_lock:
            task = self._fact_tasks.get(fact)
            if task is None:
                gathered = fact.gather(self)
                task = self._fact_tasks[fact] = asyncio.ensure_future(gathered)  # type: ignore[arg-type]
        value: T = await asyncio.shield(task)
        return value

    @property
    def kube_probed(self) -> Any:
        """What connecting to the cluster found (server, context, version), or None when no
        check asked for the cluster."""
        return self._kube.probed if self._kube is not None else None

    async def aclose(self) -> None:
        """Close what the clients hold open (ARM's connections, inside the loop that opened
        them)."""
        if self._arm is not None:
            await self._arm.aclose()

    # -- what a run leaves behind ---------------------------------------------------------------

    def on_cleanup(self, action: Callable[[], object], label: str = "") -> None:
        """Run ``action`` when the run ends, however it ends (success, failure, deadline,
        Ctrl-C, SIGTERM). Actions run once, last registered first, each in a bounded time;
        one that raises does not stop the others. An action may return a string: a problem
        the report should show (e.g. "namespace x was not deleted")."""
        with self._cleanup_lock:
            self._cleanups.append((label or getattr(action, "__name__", "cleanup"), action))

    def run_cleanups(self, timeout: float = 60.0) -> list[str]:
        """Run the registered cleanups (newest first) within ``timeout`` seconds in all; return
        the problems they reported. Safe to call more than once: each action runs once.
        ``abandon_cleanup`` (a second Ctrl-C) stops waiting at once."""
        with self._cleanup_lock:
            actions, self._cleanups = list(reversed(self._cleanups)), []
        problems: list[str] = []
        ends = time.monotonic() + timeout
        for label, action in actions:
            outcome: list[object] = []
            worker = threading.Thread(
                target=_call_into, args=(action, outcome), name=f"preflight-cleanup-{label}"
            )
            worker.daemon = True  # a hung API call must not keep the process alive
            worker.start()
            while worker.is_alive() and not self.abandon_cleanup.is_set():
                left = ends - time.monotonic()
                if left <= 0:
                    break
                worker.join(min(left, 0.1))
            if worker.is_alive():
                why = "was abandoned" if self.abandon_cleanup.is_set() else "did not finish in time"
                problems.append(f"{label}: {why}")
            elif outcome and isinstance(outcome[0], str) and outcome[0]:
                problems.append(outcome[0])
        return problems

    def secrets(self) -> list[str]:
        """Every value the run's outputs must mask: secret-named parameters and settings, and
        what the clients obtained (an ARM token, an exec plugin's token), whose values have no
        shape a pattern could catch."""

        found = [v for k, v in self.params.items() if is_secret_key(k)]
        found += [v for k, v in self.extension_settings.items() if is_secret_key(k)]
        for client in (self._arm, self._kube):
            if client is not None:
                found += client.secrets()
        return [v for v in found if v]

    def record_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Keep a manifest a dry run would have applied (printed and saved at the end)."""
        self.manifests.append(copy.deepcopy(dict(manifest)))

    def missing_need(self, need: str) -> tuple[str, str] | None:
        provider = _NEED_PROVIDERS.get(need)
        if provider is None:
            return (
                f"needs {need!r}, which this installation cannot provide",
                f"install the plugin that provides {need!r}",
            )
        return provider(self)

    # -- interruption ---------------------------------------------------------------------------

    def interrupt(self, signame: str) -> None:
        """The run was interrupted (``signame``: SIGINT, SIGTERM): set ``cancelled`` and wake
        every ``until_cancelled``. Safe in a signal handler (no lock taken)."""
        if not self.interruption:
            self.interruption = signame
        self.cancelled.set()
        for loop, event in tuple(self._wakeups):
            with contextlib.suppress(RuntimeError):  # that loop has ended
                loop.call_soon_threadsafe(event.set)

    async def until_cancelled(self) -> None:
        """Return once the run is interrupted (at once if it already was)."""
        if self.cancelled.is_set():
            return
        loop = asyncio.get_running_loop()
        event = next((e for owner, e in tuple(self._wakeups) if owner is loop), None)
        if event is None:
            event = asyncio.Event()
            self._wakeups.append((loop, event))
        if self.cancelled.is_set():  # set between the check and the registration
            return
        await event.wait()

    async def unless_interrupted(self, work: Awaitable[T], what: str = "") -> T:
        """``await work``, unless the run is interrupted first: then ``work`` is cancelled and
        ``Interrupted(what)`` raised (the runner reports what it cut short as ``error``)."""
        task = asyncio.ensure_future(work)
        if self.cancelled.is_set() and not task.done():
            task.cancel()
            raise Interrupted(what)
        waiter = asyncio.ensure_future(self.until_cancelled())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            waiter.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)  # let it unwind (close its sockets)
        raise Interrupted(what)

    def interrupted_finding(
        self, target: str | None, what: str, *, remediation: str = "", **details: Any
    ) -> Finding:
        """``error``: the interruption cut ``what`` short ("interrupted (SIGINT) before
        ``what``"); it concludes nothing about the target."""
        signame = self.interruption or "a signal"
        return Finding(
            Status.ERROR,
            target,
            f"interrupted ({signame}) before {what}",
            remediation or INTERRUPTED_REMEDY,
            details={**details, "interrupted": signame},
        )

    # -- concurrency ----------------------------------------------------------------------------

    def remaining(self) -> float:
        return max(0.0, self.deadline_at - time.monotonic())

    async def probe_each(
        self,
        targets: Sequence[T],
        probe: Callable[[T], Awaitable[Finding | Iterable[Finding]]],
        label: Callable[[T], str | None] = lambda t: None,
    ) -> list[Finding]:
        """Run ``probe`` for every target concurrently; each target ends as a finding.

        An exception in one probe becomes an ``error`` finding for that target only. Finished
        findings are kept if the run's deadline stops the rest. SIGINT/SIGTERM ends the probes
        still running at once: their targets become ``error`` "interrupted (SIGINT) before ...",
        the finished ones keep their findings.
        """
        collector = CURRENT_PROGRESS.get()
        findings: list[Finding] = []

        slots = await self.probe_slot()

        async def attempt(target: T, clock: list[float]) -> Finding | Iterable[Finding]:
            async with slots:
                clock[0] = time.monotonic()
                return await probe(target)

        async def one(index: int, target: T) -> None:
            key = id(target) ^ index
            if collector is not None:
                collector.pending[key] = label(target)
            clock = [time.monotonic()]
            try:
                # an interruption (SIGINT/SIGTERM) ends a probe still waiting (a silent DNS
                # server, a black-holed host) at once: its target is an error, never a fail
                produced = await self.unless_interrupted(
                    attempt(target, clock), "its probe finished"
                )
                batch = [produced] if isinstance(produced, Finding) else list(produced)
            except Interrupted as stop:
                batch = [self.interrupted_finding(label(target), stop.what)]
            except Exception as exc:  # noqa: BLE001 - one target's bug must not sink the others
                batch = [internal_error(label(target), exc)]
            elapsed = time.monotonic() - clock[0]
            for finding in batch:
                finding.duration_s = finding.duration_s or elapsed
            findings.extend(batch)
            if collector is not None:
                collector.findings.extend(batch)
                collector.pending.pop(key, None)

        await asyncio.gather(*(one(i, t) for i, t in enumerate(targets)))
        return findings


#: what an interrupted target or check should do next
INTERRUPTED_REMEDY = (
    "nothing was concluded about it: run preflight again; what the run created was deleted "
    "(a preflight.cleanup warning names anything left, which `preflight cleanup` removes)"
)


class _FactEntry:
    """A fact's value once gathered (or the exception gathering it raised)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.value: Any = None
        self.error: Exception | None = None


def _call_into(action: Callable[[], object], outcome: list[object]) -> None:
    """Run one cleanup action; its result, or its exception as a one-line problem."""
    try:
        outcome.append(action())
    except Exception as exc:  # noqa: BLE001 - reported; the other cleanups still run
        outcome.append(f"{type(exc).__name__}: {exc}")


def internal_error(target: str | None, exc: BaseException) -> Finding:
    if isinstance(exc, ShapeError):  # an answer of the wrong shape: the peer's fault, said so
        return Finding(
            Status.ERROR,
            target,
            exc.message,
            exc.remediation,
            details={"endpoint": exc.endpoint, "at": exc.at or None},
        )
    return Finding(
        Status.ERROR,
        target,
        f"the check failed inside preflight: {type(exc).__name__}: {exc}",
        "this is a preflight bug: re-run with --check for this check alone and report it "
        "with report.json",
        details={"exception": type(exc).__name__},
    )


def split_host_port(text: str) -> tuple[str, int | None]:
    """``k3s.lan:6443`` -> (``k3s.lan``, 6443); ``[fd00::1]:6443`` and bare names or IPv6
    literals as expected. A port that is not a number from 1 to 65535 stays part of the name
    (DNS then reports it as an invalid host name)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        return text, None
    if port_text.isdigit() and 1 <= int(port_text) <= 65535:
        return host, int(port_text)
    return (text, None) if port_text else (host, None)
