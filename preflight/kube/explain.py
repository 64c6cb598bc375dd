"""A failed wait or a refused create, told plainly: what Kubernetes said (the Event, the admission
denial, the last log lines) and what to change, with the ``--set`` that helps (image pulls,
scheduling, quota, Pod Security and other admission, crash loops, timeouts).
"""

from __future__ import annotations

import re

from preflight import __version__
from preflight.clients.kube import KubeError
from preflight.kube.image import DEFAULT_IMAGE
from preflight.kube.labels import MANAGED_BY, NAMESPACE_PREFIX
from preflight.kube.manifests import DEFAULT_RESOURCES
from preflight.kube.outcome import EventRecord, Outcome
from preflight.kube.params import PULL_SECRETS_NAMESPACE
from preflight.kube.podstate import PULL_REASONS


def registry_of(image: str) -> str:
    """The registry host an image reference pulls from (``docker.io`` when it names none)."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def explain(subject: Outcome | KubeError) -> tuple[str, str]:
    """(message, remediation) for an outcome that is not ok, or for a create that was refused.

    The message quotes what Kubernetes said (the Event, the admission denial, the last log
    lines); the remediation names what to change, with the ``--set`` to use where one helps."""
    if isinstance(subject, KubeError):
        return _explain_error(subject)
    outcome = subject
    if outcome.ok:
        return (f"{outcome.kind} {outcome.name} is {outcome.reason.lower() or 'ok'}", "")
    reason = outcome.reason
    where = f"pod {outcome.pod}" if outcome.pod else f"{outcome.kind} {outcome.name}"
    if reason in PULL_REASONS or _event(outcome, "Failed", "pull"):
        return _explain_pull(outcome, where)
    if reason == "Unschedulable" or (reason == "Timeout" and "Unschedulable" in outcome.state):
        return _explain_unschedulable(outcome, where)
    if reason in ("FailedCreate", "ReplicaFailure"):
        message, remedy = _explain_denial(outcome.message or _last_message(outcome))
        return (f"{outcome.kind} {outcome.name} could not create its pod: {message}", remedy)
    if reason in (
        "CrashLoopBackOff",
        "Error",
        "OOMKilled",
        "StartError",
        "RunContainerError",
        "ContainerCannotRun",
        "BackoffLimitExceeded",
        "Completed",
    ):
        return _explain_crash(outcome, where)
    if reason in ("CreateContainerConfigError", "CreateContainerError"):
        return (
            f"{where} could not start its container: {outcome.message or _last_message(outcome)}",
            "fix what the message names (a missing Secret or ConfigMap, a security setting the "
            "image does not allow); preflight's own pods reference only objects it creates",
        )
    if reason == "DeadlineExceeded":
        return (
            f"{where} ran longer than its deadline and was stopped{_last_events(outcome)}",
            "the pod itself was slow or stuck: read its log; raise --deadline for a slow cluster",
        )
    if reason == "Evicted":
        return (
            f"{where} was evicted from node {outcome.node}: {outcome.message}",
            "the node ran short of memory or disk: free capacity on it or pin preflight's pods "
            "elsewhere (--set probe_node_selector=...)",
        )
    if reason == "Timeout" and outcome.phase == "Running":
        lines = [ln for ln in outcome.log_tail.splitlines() if ln.strip()][-5:]
        log = f"; last log lines: {' | '.join(lines)}" if lines else "; it printed nothing"
        return (
            f"{outcome.message}{log}",
            "it started but did not finish in time: its log says where it stands; raise "
            "--deadline for a slow cluster or network",
        )
    if reason == "Timeout":
        return (
            f"{outcome.message}{_last_events(outcome)}",
            "the events above say what it waited for (image pull, scale-up, readiness); fix "
            "that, or raise --deadline for a slow cluster",
        )
    if reason == "Cancelled":
        return (outcome.message, "run preflight again; `preflight cleanup` removes any leftovers")
    if reason == "Deleted":
        return (
            f"{outcome.message} while preflight waited",
            "something deleted preflight's objects (a policy controller, another run of "
            "`preflight cleanup`, an operator): exempt namespaces labelled "
            f"{MANAGED_BY}=preflight from it",
        )
    if reason == "DryRun":
        return (
            "dry run: the manifests were printed, nothing was applied",
            "apply them yourself or run without --dry-run",
        )
    if reason == "ProgressDeadlineExceeded":
        return (
            f"{where} did not become ready: {outcome.message}{_last_events(outcome)}",
            "the events above say what it waited for",
        )
    return (
        f"{where} failed ({reason}): {outcome.message or _last_message(outcome)}",
        "read the pod's events and log above",
    )


def _event(outcome: Outcome, reason: str, needle: str) -> EventRecord | None:
    for event in reversed(outcome.events):
        if event.reason == reason and needle in event.message.lower():
            return event
    return None


def _last_message(outcome: Outcome) -> str:
    warnings = [e for e in outcome.events if e.type == "Warning"]
    return warnings[-1].message if warnings else outcome.message


def _last_events(outcome: Outcome) -> str:
    warnings = [e for e in outcome.events if e.type == "Warning"][-3:]
    if not warnings:
        return ""
    return "; events: " + " | ".join(f"{e.reason}: {e.message}" for e in warnings)


def _explain_pull(outcome: Outcome, where: str) -> tuple[str, str]:
    image = outcome.image or DEFAULT_IMAGE
    registry = registry_of(image)
    event = (
        _event(outcome, "Failed", "failed to pull")
        or _event(outcome, "Failed", "pull")
        or _event(outcome, "Failed", "image")
    )
    said = event.message if event else (outcome.message or outcome.reason)
    lowered = said.lower()
    message = f"{where} could not pull image {image} from {registry}: {said}"
    node = f" (node {outcome.node})" if outcome.node else ""
    mirror = (
        "build preflight's image (the Dockerfile in its repository) and push it to a registry "
        "the nodes can pull from, then pass --set probe_image=REGISTRY/preflight:" + __version__
    )
    if outcome.reason == "InvalidImageName" or "invalidimagename" in lowered:
        return (message, f"fix --set probe_image={image}: not a valid image reference")
    if image == DEFAULT_IMAGE:  # the default names no registry that holds it (yet)
        return (
            message + node,
            f"preflight's image is not published: {mirror} (and --set image_pull_secrets=NAME "
            f"if that registry needs credentials); a cluster that preloaded {DEFAULT_IMAGE} "
            "on its nodes runs it as is",
        )
    if any(
        s in lowered
        for s in (
            "i/o timeout",
            "no such host",
            "connection refused",
            "dial tcp",
            "tls handshake timeout",
            "context deadline exceeded",
            "network is unreachable",
            "connection reset",
            "x509",
        )
    ):
        return (
            message + node,
            f"the nodes cannot reach {registry}: allow egress from the node network to "
            f"{registry}:443 (firewall or proxy rule; the egress findings for {registry} say "
            "whether this machine can), or mirror the image to a registry the nodes reach "
            "and pass --set probe_image=...",
        )
    auth = any(
        s in lowered
        for s in (
            "unauthorized",
            "401",
            "403",
            "authentication required",
            "denied",
            "insufficient_scope",
            "failed to authorize",
            "forbidden",
        )
    )
    missing = any(
        s in lowered
        for s in ("not found", "manifest unknown", "name unknown", "does not exist", "notfound")
    )
    secrets = (
        "give the nodes pull access to it: create a docker-registry Secret in namespace "
        f"{PULL_SECRETS_NAMESPACE} and pass --set image_pull_secrets=NAME (or grant the nodes' "
        "identity pull rights on the registry)"
    )
    if auth and not missing:
        return (message, f"{registry} refused the nodes' credentials: {secrets}; or {mirror}")
    if missing and not auth:
        return (message, f"{image} is not in {registry}: {mirror}")
    return (message, f"{mirror}; if it is there, {secrets}")


_SCHEDULING_RE = re.compile(r"\d+/\d+ nodes are available: (?P<body>.*?)(?:\. preemption:|\.$|$)")


def _explain_unschedulable(outcome: Outcome, where: str) -> tuple[str, str]:
    event = _event(outcome, "FailedScheduling", "")
    said = event.message if event else (outcome.message or "no node fits")
    fixes: list[str] = []
    spec = outcome.pod_spec
    match = _SCHEDULING_RE.search(said)
    parts = [p.strip() for p in match["body"].split(", ")] if match else [said]
    for part in parts:
        text = re.sub(r"^\d+\s+", "", part)
        if text.startswith("Insufficient "):
            resource = text.split(" ", 1)[1]
            requests = ((spec.get("containers") or [{}])[0].get("resources") or {}).get(
                "requests"
            ) or {}
            asked = (
                f" (the pod requests {resource} {requests[resource]})"
                if (resource in requests)
                else ""
            )
            fixes.append(
                f"free {resource} on the eligible nodes or add nodes{asked}; preflight's pods "
                "ask for little, so the nodes are full"
            )
        elif "untolerated taint" in text:
            taint = re.search(r"\{([^:}]+):\s*([^}]*)\}", text)
            key, value = (taint[1].strip(), taint[2].strip()) if taint else ("KEY", "VALUE")
            spelled = f"{key}={value}" if value else key
            fixes.append(
                f"to run on the tainted nodes pass --set probe_tolerations={spelled} (or leave "
                "them out with --set probe_node_selector=...)"
            )
        elif "node affinity/selector" in text or "didn't match" in text:
            selector = ",".join(f"{k}={v}" for k, v in (spec.get("nodeSelector") or {}).items())
            fixes.append(
                f"no node matches the pod's node selection ({selector or 'affinity'}): check "
                "--set probe_node_selector against `kubectl get nodes --show-labels`"
            )
        elif "were unschedulable" in text:
            fixes.append("nodes are cordoned: uncordon them (kubectl uncordon) or add nodes")
        elif "Too many pods" in text:
            fixes.append("the nodes run their maximum number of pods: add nodes or raise maxPods")
        elif "no nodes available" in text:
            fixes.append("the cluster has no nodes to run pods on: add a node pool")
        elif text:
            fixes.append(f"resolve: {text}")
    return (
        f"{where} cannot be scheduled: {said}",
        "; ".join(dict.fromkeys(fixes)) or "read the scheduler's message above",
    )


def _explain_crash(outcome: Outcome, where: str) -> tuple[str, str]:
    code = f" with exit code {outcome.exit_code}" if outcome.exit_code is not None else ""
    restarts = f" after {outcome.restarts} restart(s)" if outcome.restarts else ""
    reason = outcome.reason
    lines = [ln for ln in outcome.log_tail.splitlines() if ln.strip()][-10:]
    log = f"; last log lines: {' | '.join(lines)}" if lines else ""
    if reason == "Completed":
        return (
            f"{where} exited{code} although it should keep serving{log}",
            "read its log above: the server stopped by itself",
        )
    if reason == "OOMKilled" or outcome.exit_code == 137 and "OOM" in outcome.message:
        limit = (
            ((outcome.pod_spec.get("containers") or [{}])[0].get("resources") or {}).get("limits")
            or {}
        ).get("memory", "?")
        return (
            f"{where} ran out of memory (limit {limit}) and was killed{restarts}{log}",
            "a LimitRange or policy may have lowered the limit preflight set; otherwise report "
            "it with this log",
        )
    said = outcome.message or _last_message(outcome)
    if outcome.exit_code in (126, 127, 128) or "executable file not found" in said:
        return (
            f"{where} could not start its command{code}: {said}",
            f"the image {outcome.image} is not preflight's: --set probe_image must name a copy "
            f"of preflight {__version__}'s image",
        )
    return (
        f"{where} failed{code} ({reason}){restarts}{log}",
        "the log above says why; with --set probe_image, make sure the image is preflight "
        f"{__version__}'s (a stale mirror runs other code)",
    )


def _explain_error(exc: KubeError) -> tuple[str, str]:
    if exc.kind == "forbidden":
        return _explain_denial(exc.message)
    if exc.kind == "cancelled":
        return (exc.message, "run preflight again")
    if exc.kind == "notfound" and "image_pull_secrets" in exc.message:
        return (
            exc.message,
            "create it (kubectl create secret docker-registry NAME -n "
            f"{PULL_SECRETS_NAMESPACE} --docker-server=REGISTRY --docker-username=... "
            "--docker-password=...) or name one that exists as NAMESPACE/NAME",
        )
    if exc.kind == "conflict":
        return (
            exc.message,
            "a leftover of an earlier run with the same id: run `preflight "
            "cleanup`, then run again",
        )
    return (exc.message, exc.remediation())


def _explain_denial(message: str) -> tuple[str, str]:
    """Why the API server refused a create: RBAC, quota, Pod Security, a webhook, a LimitRange."""
    said = " ".join(message.split()).removeprefix("Error creating: ")
    exempt = (
        f"exempt preflight's namespaces (label {MANAGED_BY}=preflight, names {NAMESPACE_PREFIX}*) "
        "from it"
    )
    if "violates PodSecurity" in said:
        level = re.search(r'violates PodSecurity "([^"]+)"', said)
        return (
            f"Pod Security admission refused the pod ({level[1] if level else 'enforced'}): {said}",
            "preflight's pods meet the restricted profile as written, so something changed them "
            "before admission (a mutating webhook such as a service-mesh sidecar injector) or "
            f"the cluster enforces a custom policy: {exempt}, or stop that mutation for them",
        )
    if "exceeded quota" in said or "failed quota" in said:
        quota = re.search(r"(?:exceeded|failed) quota: ([^,:]+)", said)
        name = quota[1] if quota else "a ResourceQuota"
        return (
            f"the ResourceQuota {name} refused the pod: {said}",
            f"{name} was added to preflight's fresh namespace by a policy or controller: raise "
            f"it, or {exempt}; preflight's pods request cpu "
            f"{DEFAULT_RESOURCES['requests']['cpu']} and memory "
            f"{DEFAULT_RESOURCES['requests']['memory']} each",
        )
    webhook = re.search(r'admission webhook "([^"]+)" denied the request', said)
    if webhook:
        return (
            f"the admission webhook {webhook[1]} refused it: {said}",
            f"a policy engine (Gatekeeper, Kyverno, ...) denies it: {exempt}, or "
            "meet the policy (e.g. mirror the image into an allowed registry and pass --set "
            "probe_image=...)",
        )
    if "being terminated" in said:
        return (said, "the run's namespace is being deleted: run preflight again")
    if "cannot " in said and "resource" in said:
        return (
            f"preflight is not allowed to do this: {said}",
            "bind the identity to the ClusterRole preflight-runner (kubectl apply -f "
            "deploy/rbac-runner.yaml; from a workstation, bind your own user to it)",
        )
    if "maximum" in said or "minimum" in said or "LimitRange" in said:
        return (
            f"a LimitRange refused the pod: {said}",
            f"preflight's pods ask for {DEFAULT_RESOURCES}; adjust the LimitRange policy or "
            f"{exempt}",
        )
    return (f"the API server refused it: {said}", f"a policy denies it: {exempt}")
