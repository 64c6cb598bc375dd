"""The in-cluster probe fleet: ``preflight probe`` in one Job per node pool (or per node), and
what their logs said. Shared by ``connectivity.in-cluster`` (what the pods found of the profile's
hosts) and ``cluster.dns`` (whether the cluster's own DNS name resolves from each pool); no
checks here. The fleet runs once per run, whichever check asks first (the ``PROBE_FLEET`` fact).

A laptop's network is not the nodes' network: a firewall rule or a custom DNS zone can be right
for a jump box and wrong for a node pool (a GPU pool in another subnet, behind another route
table). With ``--in-cluster`` this module starts ``preflight probe`` in one Job per node pool
(``--set probe_per=node``: per node), all at once, and reads each pod's log: one JSON line per
finding, then a ``done`` line.

Check ids. ``dns.resolve`` and ``egress.https`` keep meaning "from where preflight runs" (their
findings say ``vantage: local``). What the pods found is reported by ``connectivity.in-cluster``,
one finding per host, per probe check, per pool: ``target`` is the host, and ``details`` carry
``probe_check`` (``dns.resolve`` / ``egress.https``), ``node``, ``node_pool`` and
``vantage: in-cluster``. So a CI gate on ``dns.resolve`` means the same with and without
``--in-cluster``, and a JUnit/Markdown reader sees the in-cluster results as their own check.

A probe pod that cannot run (image pull, unschedulable, admission, crash, timeout) is one finding
for its pool, quoting the pod's events and saying what to change (the runtime's ``explain``); the
other pools still report. Everything the run creates lives in the run's namespace, which the
runtime deletes when the run ends.

``cluster.dns`` asks whether the cluster's own DNS works: the CoreDNS pods (``k8s-app=kube-dns``
in kube-system) are ready, and, from the same probe pods, ``kubernetes.default.svc.cluster.local``
resolves on every pool.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from preflight.api import (
    Context,
    Fact,
    Finding,
    Host,
    KubeError,
    Status,
    explain,
    path_for,
    run_namespace,
)
from preflight.checks._shared.nodes import pod_tolerations
from preflight.checks._shared.probe_pods import (
    INCOMPLETE_REMEDY,
    POOL_ENV,
    STOPPED_REMEDY,
    job_name,
    probe_job,
    read_log,
    stopped_why,
)

#: node labels naming a node's pool, most specific first (AKS, kubeadm-style AKS, EKS, GKE)
POOL_LABELS = (
    "kubernetes.azure.com/agentpool",
    "agentpool",
    "eks.amazonaws.com/nodegroup",
    "cloud.google.com/gke-nodepool",
)
DEFAULT_POOL = "default"
CLUSTER_DNS_NAME = "kubernetes.default.svc.cluster.local"
PROBE_CHECKS = ("dns.resolve", "egress.https")
#: how a probe pod gets the run's profile and CA bundle (text: a pod cannot read our files);
#: not PREFLIGHT_<OPTION>, which are the environment defaults of ``preflight run``'s options
PROFILE_ENV, CA_ENV = "PREFLIGHT_PROBE_PROFILE", "PREFLIGHT_PROBE_CA_BUNDLE"


IN_CLUSTER_DOCS = "https://learn.microsoft.com/azure/aks/outbound-rules-control-egress"
ENABLE = "add --in-cluster to `preflight run` (it needs a cluster, and an image the nodes can pull)"

PARAMETERS = {
    "probe_per": "pool (default: one probe pod per node pool) or node (one per node)",
    "probe_max_pods": "most probe pods in the cluster at once (default 20); more pools or "
    "nodes than that are probed in waves",
    "probe_nameserver": "DNS server the probe pods resolve with, HOST[:PORT] (default: the "
    "pods' own resolver, i.e. the cluster's DNS)",
}


def validate_probe_per(value: str) -> None:
    if value.strip().lower() not in ("pool", "node"):
        raise ValueError("expected pool or node")


def validate_max_pods(value: str) -> None:
    if not value.strip().isdigit() or not 1 <= int(value) <= 500:
        raise ValueError("expected a whole number from 1 to 500")


def validate_nameserver(value: str) -> None:
    """``10.0.0.4``, ``10.0.0.4:5353``, ``[fd00::10]:53``: what ``preflight probe --nameserver``
    takes, checked before any pod starts (a typo would otherwise fail every probe pod)."""
    text = value.strip()
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError("expected an IP address with an optional port, e.g. 10.0.0.4:53") from None
    if port and (not port.isdigit() or not 1 <= int(port) <= 65535):
        raise ValueError("the port must be a number from 1 to 65535")


# -- what to probe -------------------------------------------------------------------------------
@dataclass
class Target:
    """One probe pod to start: a pool (scheduler picks the node) or one node of it."""

    pool: str
    pool_label: str | None
    node: str | None  # pinned node (probe_per=node), else None
    nodes: list[str]
    tolerations: list[dict[str, str]]
    job: str = ""


@dataclass
class Skipped:
    """A pool with nothing to probe on (no Ready Linux node), and why."""

    pool: str
    reason: str


@dataclass
class ProbeRun:
    """What one probe pod gave: its findings and resolutions, or why it gave nothing."""

    target: Target
    lines: list[dict[str, Any]] = field(default_factory=list)
    resolutions: list[dict[str, Any]] = field(default_factory=list)
    node: str | None = None
    problem: Finding | None = None
    #: the pod's probe was stopped (SIGTERM: its deadline, its deletion) after printing
    #: ``lines``: an error for the pool, beside the lines it finished
    cut_short: Finding | None = None


@dataclass
class FleetResult:
    runs: list[ProbeRun] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: the run could not start any probe (namespace refused, no nodes): one finding says why
    failure: Finding | None = None


def pool_of(node: Mapping[str, Any]) -> tuple[str, str | None]:
    """(pool name, the label that names it) for a node; (``default``, None) when unlabelled."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key in POOL_LABELS:
        if labels.get(key):
            return str(labels[key]), key
    return DEFAULT_POOL, None


def _name(node: Mapping[str, Any]) -> str:
    return str((node.get("metadata") or {}).get("name") or "")


def _usable(node: Mapping[str, Any]) -> str | None:
    """None when a probe can run on the node, else why not (in a few words)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    if labels.get("kubernetes.io/os", "linux") != "linux":
        return f"{labels.get('kubernetes.io/os')} node"
    if (node.get("spec") or {}).get("unschedulable"):
        return "cordoned"
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if not ready or ready.get("status") != "True":
        return "NotReady"
    return None


def plan(nodes: list[dict[str, Any]], per_node: bool) -> tuple[list[Target], list[Skipped]]:
    """Which probe pods to start: one per pool with a usable node (or one per usable node)."""
    pools: dict[str, list[dict[str, Any]]] = {}
    labels: dict[str, str | None] = {}
    for node in sorted(nodes, key=_name):
        pool, label = pool_of(node)
        pools.setdefault(pool, []).append(node)
        labels.setdefault(pool, label)
    targets: list[Target] = []
    skipped: list[Skipped] = []
    for pool, members in sorted(pools.items()):
        usable = [n for n in members if _usable(n) is None]
        if not usable:
            why = ", ".join(f"{_name(n)} ({_usable(n)})" for n in members[:5])
            more = f" and {len(members) - 5} more" if len(members) > 5 else ""
            skipped.append(Skipped(pool, f"no node of pool {pool} can run a probe: {why}{more}"))
            continue
        # exactly the taints the pool's nodes carry (sick nodes are left out, not probed)
        tolerations = pod_tolerations(
            t for n in usable for t in (n.get("spec") or {}).get("taints") or []
        )
        names = [_name(n) for n in usable]
        if per_node:
            targets += [Target(pool, labels[pool], n, [n], tolerations) for n in names]
        elif labels[pool] is None:  # no pool label to select on: pin to one of its nodes
            targets.append(Target(pool, None, names[0], names, tolerations))
        else:
            targets.append(Target(pool, labels[pool], None, names, tolerations))
    for index, target in enumerate(targets):
        target.job = job_name("probe", index, target.node or target.pool)
    return targets, skipped


# -- running the probes --------------------------------------------------------------------------
def _profile_text(ctx: Context) -> str:
    """The run's profile, merged, as a document ``preflight probe --profile env:VAR`` loads:
    the pod checks exactly the hosts this run checks, whatever profile files its image has."""
    profile = ctx.profile
    hosts = []
    for spec in profile.hosts:
        entry = {
            k: v
            for k, v in dataclasses.asdict(spec).items()
            if v not in (None, "", ()) and k != "locations"
        }
        entry["host"] = entry.pop("template")
        entry["needed_for"] = list(spec.needed_for)
        entry["required"], entry["tls"], entry["port"] = spec.required, spec.tls, spec.port
        hosts.append(entry)
    document: dict[str, Any] = {"name": profile.name, "cloud": profile.cloud, "hosts": hosts}
    for key in ("endpoints", "audiences", "kubernetes", "scenarios", "parameters"):
        value = getattr(profile, key)
        if value:
            document[key] = json.loads(json.dumps(value, default=dict))
    return json.dumps(document, separators=(",", ":"))


def _probe_args(ctx: Context, deadline: float) -> list[str]:
    """``preflight probe`` arguments: the parameters the hosts need (never the secrets a run
    may hold: only template placeholders and scenario keys travel), timeouts, what to resolve."""
    wanted = set(ctx.profile.placeholders())
    wanted |= {c.partition("=")[0].rstrip("!").strip() for c in ctx.profile.scenarios.values()}
    args = ["--profile", f"env:{PROFILE_ENV}"]
    for key in sorted(wanted):
        value = ctx.param(key)
        if value is not None:
            args += ["--set", f"{key}={value}"]
    for check in PROBE_CHECKS:
        args += ["--check", check]
    if ctx.options.ca_bundle:
        args += ["--ca-bundle", f"env:{CA_ENV}"]
    if ctx.param("probe_nameserver"):
        args += ["--nameserver", str(ctx.param("probe_nameserver"))]
    args += ["--timeout", f"{ctx.timeout:g}", "--deadline", f"{deadline:.0f}"]
    args += ["--resolve", CLUSTER_DNS_NAME]
    return args


def _manifest(
    ctx: Context, target: Target, args: list[str], env: dict[str, str], limit: float
) -> dict[str, Any]:
    """The Job for one target: pinned to its node (probe_per=node) or its pool's label,
    tolerating the pool's taints, telling the probe where it runs through the downward API."""
    selector = {target.pool_label: target.pool} if target.pool_label and not target.node else None
    manifest = probe_job(
        ctx,
        target.job,
        args,
        limit=limit,
        env={**env, POOL_ENV: target.pool},
        tolerations=target.tolerations,
        node_name=target.node,
        node_selector=selector,
    )
    labels = manifest["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {})
    labels["preflight.io/node-pool"] = (
        re.sub(r"[^A-Za-z0-9_.-]", "-", target.pool)[:63].strip("-_.") or DEFAULT_POOL
    )
    return manifest


_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def _certificates(path: str) -> str:
    """The certificates of ``--ca-bundle`` and nothing else: a bundle that also holds a private
    key by mistake must not put that key into a Job spec."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "\n".join(_CERTIFICATE.findall(handle.read())) + "\n"


def _run_fleet(ctx: Context) -> FleetResult:
    result = FleetResult()
    try:
        nodes = ctx.kube.list(path_for("v1", "nodes"))
    except KubeError as exc:
        result.failure = Finding.failed(
            "cluster",
            f"cannot list the nodes to place probe pods on: {exc.message}",
            exc.remediation(),
        )
        return result
    per_node = (ctx.param("probe_per") or "pool").strip().lower() == "node"
    targets, result.skipped = plan(nodes, per_node)
    if not targets:
        if not result.skipped:
            result.failure = Finding.failed(
                "cluster", "the cluster has no nodes to probe from", "add a node pool"
            )
        return result
    # the pods' time: what is left of the run, less a margin to collect logs and write reports
    limit = max(5.0, ctx.remaining() - 10)
    deadline = max(5.0, min(limit - 5, 30 + 8 * ctx.timeout))
    args = _probe_args(ctx, deadline)
    env = {PROFILE_ENV: _profile_text(ctx)}
    if ctx.options.ca_bundle:
        env[CA_ENV] = _certificates(ctx.options.ca_bundle)
    namespace = run_namespace(ctx)
    try:
        namespace.ensure()
    except KubeError as exc:
        message, remedy = explain(exc)
        result.failure = Finding.failed(
            namespace.name, f"cannot create the probes' namespace: {message}", remedy
        )
        return result
    runs = [ProbeRun(t) for t in targets]

    def start(run: ProbeRun) -> bool:
        try:
            namespace.apply(_manifest(ctx, run.target, args, env, limit))
            return True
        except KubeError as exc:
            if exc.kind == "cancelled":  # the run was interrupted: no conclusion about the pool
                run.problem = _interrupted(ctx, run.target, "the probe pod on {where} was created")
                return False
            message, remedy = explain(exc)
            run.problem = _pod_problem(
                run.target,
                f"the probe could not be created: {message}",
                remedy,
                {"pod_outcome": f"create refused ({exc.kind})"},
            )
            return False

    def one(run: ProbeRun) -> None:
        if not ctx.cancelled.is_set() and start(run):
            _collect_guarded(ctx, namespace, run, limit)

    # at most probe_max_pods probe pods exist at once (a 300-node cluster with probe_per=node
    # gets waves, not 300 pods): each worker creates a pod, waits for it, then takes the next
    with ThreadPoolExecutor(max_workers=min(max_pods(ctx), len(runs))) as pool:
        list(pool.map(one, runs))
    for run in runs:
        if not run.lines and run.problem is None and ctx.cancelled.is_set():
            run.problem = _interrupted(
                ctx, run.target, "{where} was probed (its turn had not come)"
            )
    result.runs = runs
    return result


DEFAULT_MAX_PODS = 20


def max_pods(ctx: Context) -> int:
    """``--set probe_max_pods`` (validated at start-up), default ``DEFAULT_MAX_PODS``."""
    value = ctx.param("probe_max_pods")
    return int(value) if value else DEFAULT_MAX_PODS


#: the run's probe pods and what they found: ``connectivity.in-cluster`` and ``cluster.dns`` read
#: the same pods, so a run starts one pod per pool, not one per pool per check
PROBE_FLEET: Fact[FleetResult] = Fact("the in-cluster probe pods", _run_fleet)


def pod_place(target: Target, node: str | None = None) -> str:
    shown = node or target.node
    return f"pool {target.pool}" + (f" (node {shown})" if shown else "")


def _interrupted(ctx: Context, target: Target, what: str) -> Finding:
    """An error for a pool the interrupted run did not finish probing: "interrupted (SIGINT)
    before ``what``" (``{where}`` names the pool) concludes nothing about it (never a fail)."""
    return ctx.interrupted_finding(
        pod_place(target),
        what.format(where=pod_place(target)),
        node_pool=target.pool,
        node=target.node,
        vantage="in-cluster",
        pod_outcome="interrupted",
    )


def _cut_short(target: Target, signame: str, outcome: Any, details: dict[str, Any]) -> Finding:
    """A probe pod stopped by a signal (its deadline, its deletion, a node drain) that still
    printed what it had: an error for the pool, not a crash."""
    return Finding(
        Status.ERROR,
        pod_place(target),
        f"{pod_place(target)}: the probe was interrupted ({signame}) before it finished "
        f"({stopped_why(outcome)}); the targets it finished are reported, the others say "
        "interrupted",
        STOPPED_REMEDY,
        IN_CLUSTER_DOCS,
        details={
            **details,
            "node_pool": target.pool,
            "vantage": "in-cluster",
            "pod_outcome": "interrupted",
            "interrupted": signame,
        },
    )


def _pod_problem(target: Target, message: str, remedy: str, details: dict[str, Any]) -> Finding:
    """One finding for a pool whose probe gave no results: the other pools still report."""
    facts = {**details, "node_pool": target.pool, "vantage": "in-cluster"}
    facts["node"] = details.get("node") or target.node
    return Finding(
        Status.FAIL,
        pod_place(target),
        f"{pod_place(target)}: {message}",
        remedy,
        IN_CLUSTER_DOCS,
        details=facts,
    )


def _collect_guarded(ctx: Context, namespace: Any, run: ProbeRun, limit: float) -> None:
    """``_collect``, with an unexpected error (an API call that fails mid-wait) kept to the
    one pool it happened on: the other pools still report."""
    try:
        _collect(ctx, namespace, run, limit)
    except KubeError as exc:
        run.problem = _pod_problem(
            run.target,
            f"lost track of the probe: {exc.message}",
            exc.remediation(),
            {"pod_outcome": exc.kind},
        )
    except Exception as exc:  # noqa: BLE001 - one pool's bug must not sink the others
        run.problem = Finding.errored(
            pod_place(run.target),
            f"{pod_place(run.target)}: the check failed inside preflight: "
            f"{type(exc).__name__}: {exc}",
            "this is a preflight bug: report it with report.json",
            node_pool=run.target.pool,
            vantage="in-cluster",
            pod_outcome="error",
        )


def _collect(ctx: Context, namespace: Any, run: ProbeRun, limit: float) -> None:
    """Wait for one probe Job, then read its JSON lines (or say plainly why there are none)."""
    target = run.target
    outcome = namespace.wait_job(target.job, timeout=limit)
    run.node = outcome.node or target.node
    if outcome.reason == "Cancelled":  # this run was interrupted while the pod ran
        run.problem = _interrupted(ctx, target, "the probe pod on {where} finished")
        return
    if outcome.reason == "DryRun":
        run.problem = Finding.skipped(
            pod_place(target),
            f"{pod_place(target)}: dry run, the probe Job was printed, not applied",
            "run without --dry-run to probe from the cluster",
            node_pool=target.pool,
            vantage="in-cluster",
            pod_outcome="DryRun",
        )
        return
    details = {"pod_outcome": outcome.reason, **_outcome_details(outcome)}
    log = read_log(namespace, outcome)
    if log.error is not None and outcome.ok:
        run.problem = _pod_problem(
            target,
            f"the probe finished but its log could not be read: {log.error.message}",
            log.error.remediation(),
            details,
        )
        return
    if log.signame:  # stopped by a signal, said so: what it finished, and an error for the rest
        run.cut_short = _cut_short(target, log.signame, outcome, details)
    elif not outcome.ok:
        message, remedy = explain(outcome)
        run.problem = _pod_problem(
            target, message + _quoted_events(outcome, message), remedy, details
        )
        return
    if not log.complete:
        run.problem = _pod_problem(
            target,
            f"the probe's output is incomplete (no done line; it printed: {log.tail()})",
            INCOMPLETE_REMEDY,
            details,
        )
        return
    for line in log.lines:
        if "resolve" in line:
            run.resolutions.append(line)
        elif line.get("check") in PROBE_CHECKS:
            run.lines.append(line)
        run.node = run.node or line.get("node")


def _quoted_events(outcome: Any, message: str) -> str:
    """The pod's warning events that the explanation does not already quote (the kubelet's
    own words: "Failed to pull image ...: 401 Unauthorized"), longest first, at most two."""
    said = {" ".join(e.message.split()) for e in outcome.events if e.type == "Warning"}
    fresh = sorted((m for m in said if m and m not in message), key=len, reverse=True)[:2]
    return "; events: " + " | ".join(fresh) if fresh else ""


def _outcome_details(outcome: Any) -> dict[str, Any]:
    """The pod's side of the story for ``details``: its phase, node, exit code and events
    (``pod_message`` is what Kubernetes said; the finding's message explains it)."""
    data = outcome.details()
    keep = ("pod", "phase", "node", "exit_code", "events", "waited_s")
    facts = {k: data[k] for k in keep if k in data}
    if data.get("message"):
        facts["pod_message"] = data["message"]
    return facts


# -- turning pod lines into findings -------------------------------------------------------------
def probe_finding(hosts: Mapping[str, Host], run: ProbeRun, line: Mapping[str, Any]) -> Finding:
    """One pod line as a ``connectivity.in-cluster`` finding, judged with this run's view of
    the host (required or optional: ``hosts`` by FQDN) and saying where it was measured."""
    try:
        status = Status(str(line.get("status")))
    except ValueError:
        status = Status.ERROR
    target = line.get("target")
    host = hosts.get(str(target)) if target else None
    details = dict(line.get("details") or {})
    node = line.get("node") or run.node
    if host is not None:
        details.update(host.details())
        if status == Status.FAIL and not host.required:  # optional for this run: never fail
            status = Status.WARN
    raw_proxy = line.get("proxy")
    proxy: Mapping[str, Any] = raw_proxy if isinstance(raw_proxy, dict) else {}
    used = proxy.get("url") or "none"
    source = {
        "platform": "from the pod's environment, as the platform injects it",
        "probe_proxy": "--set probe_proxy",
        "none": "opted out of the platform's proxy",
    }.get(str(proxy.get("source")), "from the pod's environment")
    details.update(
        probe_check=line.get("check"),
        node=node,
        node_pool=run.target.pool,
        vantage="in-cluster",
        proxy_used=used,
        proxy_source=source,
    )
    where = pod_place(run.target, node)
    via = f"proxy {used} ({source})" if used != "none" else f"no proxy ({source})"
    message = str(line.get("message") or "")
    return Finding(
        status,
        str(target) if target is not None else None,
        f"from {where}, {via}: {message}" if message else f"from {where}, {via}",
        str(line.get("remediation") or ""),
        line.get("docs"),
        details=details,
        duration_s=float(line.get("duration_s") or 0.0),
    )
