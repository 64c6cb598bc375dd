"""gpu.health on every GPU node of the cluster: one ``preflight probe --check gpu.health`` Job per
node (``preflight run --in-cluster``).

The probe asks NVML on the node itself, so it must see all of the node's GPUs without taking
any from the workloads: the pod requests no ``nvidia.com/gpu`` (the scheduler would hand it one
GPU, and none at all on a full node) and instead sets ``NVIDIA_VISIBLE_DEVICES=all`` with
``NVIDIA_DRIVER_CAPABILITIES=utility``, which the NVIDIA container runtime (the default runtime
of AKS GPU node pools and of gpu-operator nodes) answers by mounting every GPU and the driver's
NVML library into the container: the way NVIDIA's own DCGM exporter and validators look at a
node. Each Job is pinned to its node (node affinity on ``metadata.name``), tolerates the node's
taints (GPU pools are usually tainted), runs with the restricted Pod Security profile of every
preflight pod, and lives in the run's namespace, which is deleted when the run ends.

What each pod prints (JSON lines, ``preflight.probe``) are gpu.health findings already shaped
for the node (targets ``<node>/<index>``, from ``PREFLIGHT_NODE_NAME``); they are reported as
they are, with the node pool added. A node whose pod cannot run is one ``fail`` finding for that
node quoting why (image pull, unschedulable, admission, timeout: the runtime's ``explain``); the
other nodes still report. A pod that finds no NVML library means the node lacks the driver or
the NVIDIA container runtime: a ``fail`` too, since GPU pods would fail the same way.

``--set gpu_allocation_test=true`` adds the end-to-end proof: one more short Job per GPU node
that *requests* ``nvidia.com/gpu: 1`` and runs the same probe. It passes when the scheduler
placed it, the device plugin handed it a GPU and NVML inside saw it: exactly the path of the
extension's GPU workloads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from preflight.api import (
    Context,
    Finding,
    KubeError,
    Outcome,
    RunNamespace,
    Status,
    explain,
    run_in_daemon_thread,
    run_namespace,
    truthy,
)
from preflight.checks._shared.nodes import NODES_PATH, pod_tolerations
from preflight.checks._shared.probe_pods import (
    INCOMPLETE_REMEDY,
    POOL_ENV,
    STOPPED_REMEDY,
    job_name,
    probe_job,
    read_log,
    stopped_why,
)
from preflight.checks.gpu.gpu_nodes import GpuNode, gpu_nodes

CHECK = "gpu.health"
ALLOCATION_PARAM = "gpu_allocation_test"
#: the NVIDIA container runtime mounts every GPU and the driver's utility libraries (NVML)
VISIBLE_ALL = {"NVIDIA_VISIBLE_DEVICES": "all", "NVIDIA_DRIVER_CAPABILITIES": "utility"}
#: the probe's own time on top of the XID window: start-up, NVML init, reading 8 GPUs
PROBE_OVERHEAD_S = 20.0
DOCS_RUNTIME = "https://learn.microsoft.com/azure/aks/gpu-cluster"

PARAMETERS = {
    ALLOCATION_PARAM: "true: with --in-cluster, also run a short pod requesting nvidia.com/gpu "
    "on every GPU node, proving that the device plugin allocates GPUs (default false)",
}


@dataclass
class NodeProbe:
    node: GpuNode
    job: str
    allocation: bool = False
    outcome: Outcome | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = False
    problem: Finding | None = None
    #: the probe was stopped by a signal (its pod's deadline, a deletion) after printing
    #: ``lines``: an error for the node beside the findings it finished
    cut_short: Finding | None = None

    @property
    def target(self) -> str:
        """What its findings are about: the node, or the node's allocation test."""
        return f"{self.node.name}/allocation" if self.allocation else self.node.name

    @property
    def kind(self) -> str:
        return "GPU allocation test" if self.allocation else "GPU probe"


def _manifest(ctx: Context, probe: NodeProbe, window: float, limit: float) -> dict[str, Any]:
    args = [
        "--check",
        CHECK,
        "--set",
        f"xid_window={0 if probe.allocation else window:g}s",
        "--timeout",
        f"{ctx.timeout:g}",
        "--deadline",
        f"{max(10.0, min(limit - 5, window + PROBE_OVERHEAD_S)):.0f}",
    ]
    resources: dict[str, dict[str, str]] | None = None
    env = {POOL_ENV: probe.node.pool}
    if probe.allocation:  # the device plugin decides what the pod sees
        resources = {
            "requests": {"cpu": "50m", "memory": "64Mi", "nvidia.com/gpu": "1"},
            "limits": {"cpu": "500m", "memory": "256Mi", "nvidia.com/gpu": "1"},
        }
    else:
        env.update(VISIBLE_ALL)
    return probe_job(
        ctx,
        probe.job,
        args,
        limit=limit,
        env=env,
        # exactly the node's own taints (sku=gpu:NoSchedule, nvidia.com/gpu:NoSchedule)
        tolerations=pod_tolerations(probe.node.taints),
        node_name=probe.node.name,
        resources=resources,
    )


def _node_problem(probe: NodeProbe, message: str, remedy: str, **details: Any) -> Finding:
    node = probe.node
    return Finding.failed(
        probe.target,
        f"the {probe.kind} pod on node {node.name} gave no result: {message}",
        remedy,
        DOCS_RUNTIME,
        node=node.name,
        node_pool=node.pool,
        probe_job=probe.job,
        **details,
    )


def _interrupted(ctx: Context, probe: NodeProbe, what: str) -> Finding:
    """The run was interrupted before this node's probe concluded: an error, never a fail."""
    node = probe.node
    return ctx.interrupted_finding(
        probe.target,
        f"the {probe.kind} pod on node {node.name} {what}",
        node=node.name,
        node_pool=node.pool,
        probe_job=probe.job,
        probe_outcome="interrupted",
    )


def _collect(ns: RunNamespace, probe: NodeProbe, limit: float) -> None:
    """Wait for one Job and read its lines (or say why there are none)."""
    try:
        outcome = ns.wait_job(probe.job, timeout=limit)
    except KubeError as exc:
        probe.problem = _node_problem(probe, f"lost track of it: {exc.message}", exc.remediation())
        return
    probe.outcome = outcome
    if outcome.reason == "Cancelled":  # this run was interrupted while the pod ran
        probe.problem = _interrupted(ns.ctx, probe, "finished")
        return
    facts = {k: v for k, v in outcome.details().items() if k in ("pod", "phase", "exit_code")}
    if outcome.events:
        facts["events"] = [e.line() for e in outcome.events][-5:]
    if outcome.reason == "DryRun":
        probe.problem = Finding.skipped(
            probe.node.name,
            f"dry run: the GPU probe Job for node {probe.node.name} was printed, not applied",
            "run without --dry-run to probe the GPU nodes",
            node=probe.node.name,
        )
        return
    log = read_log(ns, outcome)
    if log.error is not None and outcome.ok:
        probe.problem = _node_problem(
            probe,
            f"its log could not be read ({log.error.message})",
            log.error.remediation(),
            probe_outcome=outcome.reason,
            **facts,
        )
        return
    if log.signame:  # stopped by a signal and said so: not a crash of the node's GPU stack
        probe.cut_short = Finding.errored(
            probe.target,
            f"the GPU probe on node {probe.node.name} was interrupted ({log.signame}) before it "
            f"finished ({stopped_why(outcome)})",
            STOPPED_REMEDY,
            node=probe.node.name,
            node_pool=probe.node.pool,
            probe_job=probe.job,
            probe_outcome="interrupted",
            interrupted=log.signame,
            **facts,
        )
    elif not outcome.ok:
        message, remedy = explain(outcome)
        probe.problem = _node_problem(
            probe, message, remedy, probe_outcome=outcome.reason or "failed", **facts
        )
        return
    probe.lines, probe.complete = log.lines, log.complete
    if not probe.complete:
        probe.problem = _node_problem(
            probe,
            f"its output is incomplete (no done line; it printed: {log.tail()})",
            INCOMPLETE_REMEDY,
            probe_outcome="incomplete",
            **facts,
        )


def _findings_of(probe: NodeProbe) -> list[Finding]:
    """A finished probe's lines as findings (the probe's own, with the pool added); a probe that
    found no NVIDIA driver becomes a failure of the node."""
    node = probe.node
    results: list[Finding] = []
    for line in probe.lines:
        if line.get("check") != CHECK:
            continue
        finding = Finding.from_dict(line)
        details = dict(finding.details)
        details.setdefault("node", node.name)
        details["node_pool"] = node.pool
        finding.details = details
        if finding.status == Status.SKIP and details.get("missing") == "nvml":
            return [
                _node_problem(
                    probe,
                    "it found no NVIDIA driver (no NVML library in the container)",
                    "GPU nodes need the NVIDIA driver and the NVIDIA container runtime as the "
                    "container runtime's default (AKS GPU node pools have both unless created "
                    "with --skip-gpu-driver-install; gpu-operator installs them); GPU pods "
                    "would fail the same way",
                    probe_outcome="no-driver",
                )
            ]
        results.append(finding)
    if probe.allocation:
        return [_allocation_finding(probe, results)]
    return results or [
        _node_problem(
            probe, "it printed no gpu.health finding", "read the pod's log", probe_outcome="empty"
        )
    ]


def _allocation_finding(probe: NodeProbe, results: list[Finding]) -> Finding:
    node = probe.node
    summary = next((f for f in results if f.target == node.name), None)
    count = summary.details.get("gpu_count") if summary is not None else None
    target = f"{node.name}/allocation"
    if isinstance(count, int) and count >= 1:
        return Finding.passed(
            target,
            f"a pod requesting nvidia.com/gpu: 1 was scheduled on {node.name}, got a GPU from "
            f"the device plugin and NVML inside saw {count} GPU(s)",
            node=node.name,
            node_pool=node.pool,
            gpus_seen=count,
        )
    why = summary.message if summary is not None else "no NVML answer"
    return Finding.failed(
        target,
        f"a pod requesting nvidia.com/gpu: 1 ran on {node.name} but saw no usable GPU ({why})",
        "check the device plugin on the node (gpu.device-plugin) and the NVIDIA container runtime",
        DOCS_RUNTIME,
        node=node.name,
        node_pool=node.pool,
    )


def _run(ctx: Context, window: float) -> list[Finding]:
    """Blocking: start one Job per GPU node (and per allocation test), wait, gather."""
    try:
        nodes = gpu_nodes(ctx.kube.list(NODES_PATH))
    except KubeError as exc:
        return [
            Finding.failed(
                "cluster",
                f"cannot list the nodes to find the GPU nodes: {exc.message}",
                exc.remediation(),
            )
        ]
    if not nodes:
        return [
            Finding.skipped(
                None,
                "no GPU node in the cluster to probe",
                "add an NVIDIA GPU node pool (an N-series VM size) if you plan GPU workloads",
            )
        ]
    findings: list[Finding] = []
    usable: list[GpuNode] = []
    for node in nodes:
        if node.ready and node.schedulable:
            usable.append(node)
            continue
        state = "NotReady" if not node.ready else "cordoned"
        findings.append(
            Finding.skipped(
                node.name,
                f"GPU node {node.name} is {state}: not probed",
                "probe it once it is Ready and schedulable (kubectl get nodes)",
                node=node.name,
                node_pool=node.pool,
            )
        )
    if not usable:
        return findings
    ns = run_namespace(ctx)
    try:
        ns.ensure()
    except KubeError as exc:
        message, remedy = explain(exc)
        return [
            *findings,
            Finding.failed(ns.name, f"cannot create the probes' namespace: {message}", remedy),
        ]
    allocation = bool(truthy(ctx.param(ALLOCATION_PARAM)))
    probes = [NodeProbe(n, job_name("gpu", i, n.name)) for i, n in enumerate(usable)]
    if allocation:
        probes += [
            NodeProbe(n, job_name("gpu-alloc", i, n.name), allocation=True)
            for i, n in enumerate(usable)
        ]
    limit = max(10.0, ctx.remaining() - 10)
    started: list[NodeProbe] = []
    for probe in probes:
        try:
            ns.apply(_manifest(ctx, probe, window, limit))
            started.append(probe)
        except KubeError as exc:
            if exc.kind == "cancelled":  # the run was interrupted: nothing concluded
                probe.problem = _interrupted(ctx, probe, "was created")
                continue
            message, remedy = explain(exc)
            probe.problem = _node_problem(
                probe, f"it could not be created: {message}", remedy, probe_outcome=exc.kind
            )
    if started:
        with ThreadPoolExecutor(max_workers=min(32, len(started))) as pool:
            list(pool.map(lambda p: _collect(ns, p, limit), started))
    for probe in probes:
        if probe.problem is not None:
            findings.append(probe.problem)
        elif probe.cut_short is not None:  # what it finished, and why the rest is missing
            if not probe.allocation:
                finished = _findings_of(probe)
                findings += [f for f in finished if f.details.get("probe_outcome") != "empty"]
            findings.append(probe.cut_short)
        else:
            findings += _findings_of(probe)
    return findings


async def probe_gpu_nodes(ctx: Context, window: float) -> list[Finding]:
    """gpu.health from a probe pod on every GPU node (needs the cluster)."""
    missing = await run_in_daemon_thread(ctx.missing_need, "kube")
    if missing is not None:
        reason, how = missing
        return [Finding.skipped(None, f"GPU nodes not probed: {reason}", how, missing="kube")]
    findings: list[Finding] = await run_in_daemon_thread(_run, ctx, window)
    return findings
