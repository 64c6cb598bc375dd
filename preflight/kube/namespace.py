"""The run's own namespace: created on first use with a RoleBinding that grants the run what it
does inside it only, everything of the run applied into it, waits that end in an ``Outcome``,
and its deletion when the run ends however it ends (deploy/rbac-runner.yaml is the RBAC).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from preflight.clients.kube import KubeError, path_for
from preflight.kube.identity import role_binding, who_am_i
from preflight.kube.labels import CREATED_AT, EXPIRES_AT, NAMESPACE_PREFIX, RUN_ID, labels_for
from preflight.kube.outcome import EventRecord, Outcome
from preflight.kube.params import parse_pull_secrets
from preflight.kube.pod_proxy import PROXY_SECRET, pod_proxy
from preflight.kube.podstate import (
    STUCK_WAITING,
    condition,
    describe_state,
    last_terminated_state,
    pod_ready,
    terminated_state,
    waiting_reason,
    waiting_state,
)
from preflight.plugin import Fact
from preflight.redact import redact_url

if TYPE_CHECKING:
    from preflight.clients.kube import KubeClient
    from preflight.context import Context


_PLURALS: dict[str, tuple[str, str]] = {
    "Pod": ("v1", "pods"),
    "Service": ("v1", "services"),
    "Secret": ("v1", "secrets"),
    "ConfigMap": ("v1", "configmaps"),
    "Job": ("batch/v1", "jobs"),
    "Deployment": ("apps/v1", "deployments"),
}


class RunNamespace:
    """The one namespace of a run and everything in it (``run_namespace(ctx)`` builds it).

    Thread-safe: checks running concurrently share it. After ``cleanup`` began (end of run,
    Ctrl-C) nothing more is created: ``ensure``/``apply`` raise KubeError kind ``cancelled``.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.run_id = ctx.run_id
        self.name = f"{NAMESPACE_PREFIX}{ctx.run_id}"
        self.dry_run = ctx.dry_run
        self._lock = threading.RLock()
        self._ensured = False
        self._failure: KubeError | None = None
        self._attempted = False
        self._closed = False
        self._bound_at: float | None = None
        self.subject: dict[str, str] | None = None

    @property
    def kube(self) -> KubeClient:
        return self.ctx.kube

    # -- creating --------------------------------------------------------------------------------
    def ensure(self) -> None:
        """Create the namespace, the RoleBinding that grants this run what it does inside it,
        and the Secrets its pods need (pull secrets copied, proxy credentials). Once per run;
        a failure is remembered and raised again to every caller (KubeError)."""
        with self._lock:
            self._check_open()
            if self._failure is not None:
                raise self._failure
            if self._ensured:
                return
            try:
                self._ensure()
            except KubeError as exc:
                self._failure = exc
                raise
            self._ensured = True

    def _ensure(self) -> None:
        now = dt.datetime.now(dt.UTC)
        expires = now + dt.timedelta(seconds=self.ctx.remaining() + 120)
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": self.name,
                "labels": labels_for(self.ctx),
                "annotations": {
                    CREATED_AT: now.isoformat(timespec="seconds"),
                    EXPIRES_AT: expires.isoformat(timespec="seconds"),
                },
            },
        }
        if self.dry_run:
            self.ctx.record_manifest(namespace)
        else:
            self._attempted = True
            try:
                self.kube.create("/api/v1/namespaces", namespace)
            except KubeError as exc:
                if exc.kind != "conflict" or not self._ours():  # a retried create that landed
                    raise
        self.subject = who_am_i(self.kube)
        if self.subject is not None:
            binding = role_binding(self.name, self.subject, labels_for(self.ctx))
            if self.dry_run:
                self.ctx.record_manifest(binding)
            else:
                try:
                    self.kube.create(
                        path_for("rbac.authorization.k8s.io/v1", "rolebindings", self.name),
                        binding,
                    )
                    self._bound_at = time.monotonic()
                except KubeError as exc:
                    if exc.kind != "forbidden":  # an identity with cluster-wide rights needs none
                        raise
        for secret in self._secrets():
            if self.dry_run:
                self.ctx.record_manifest(secret)
            else:
                self._create(secret)

    def _secrets(self) -> list[dict[str, Any]]:
        secrets: list[dict[str, Any]] = []
        proxy = pod_proxy(self.ctx)
        if proxy is not None and proxy.has_credentials:
            data = {"HTTPS_PROXY": proxy.https or "", "HTTP_PROXY": proxy.http or ""}
            if self.dry_run:  # printed: the password stays out of it
                data = {k: redact_url(v) for k, v in data.items()}
            secrets.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": PROXY_SECRET, "labels": labels_for(self.ctx)},
                    "type": "Opaque",
                    "stringData": data,
                }
            )
        for source_ns, name in parse_pull_secrets(self.ctx.param("image_pull_secrets")):
            if self.dry_run:
                copied: dict[str, Any] = {
                    "type": "kubernetes.io/dockerconfigjson",
                    "data": {".dockerconfigjson": f"<copied from Secret {source_ns}/{name}>"},
                }
            else:
                source = self.kube.get_fresh(path_for("v1", "secrets", source_ns, name))
                if source is None:
                    raise KubeError(
                        "notfound",
                        f"the image pull secret {source_ns}/{name} (--set image_pull_secrets) "
                        "does not exist",
                        404,
                    )
                copied = {"type": source.get("type") or "Opaque", "data": source.get("data") or {}}
            secrets.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": name, "labels": labels_for(self.ctx)},
                    **copied,
                }
            )
        return secrets

    def _ours(self) -> bool:
        try:
            found = self.kube.get_fresh(path_for("v1", "namespaces", None, self.name))
        except KubeError:
            return False
        labels = ((found or {}).get("metadata") or {}).get("labels") or {}
        return labels.get(RUN_ID) == self.run_id

    def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Create ``manifest`` in the run's namespace (ensured first) with the run's labels on
        it and on its pod template. Returns the stored object (in a dry run: the manifest,
        recorded). Raises KubeError: ``explain`` reads quota, Pod Security and other
        admission denials from it."""
        obj = copy.deepcopy(dict(manifest))
        kind = str(obj.get("kind") or "")
        if kind not in _PLURALS:
            raise ValueError(f"preflight cannot apply a {kind or 'manifest without kind'}")
        group_version, plural = _PLURALS[kind]
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ValueError(f"a {kind} needs metadata.name")
        meta["namespace"] = self.name
        meta["labels"] = {**(meta.get("labels") or {}), **labels_for(self.ctx)}
        template = (obj.get("spec") or {}).get("template")
        if isinstance(template, dict):
            tmeta = template.setdefault("metadata", {})
            tmeta["labels"] = {**(tmeta.get("labels") or {}), **labels_for(self.ctx)}
        self.ensure()
        with self._lock:
            self._check_open()
            if self.dry_run:
                self.ctx.record_manifest(obj)
                return obj
            return self._create(obj, path_for(group_version, plural, self.name))

    def _create(self, obj: dict[str, Any], path: str | None = None) -> dict[str, Any]:
        if path is None:
            group_version, plural = _PLURALS[str(obj["kind"])]
            path = path_for(group_version, plural, self.name)
        obj.setdefault("metadata", {})["namespace"] = self.name
        while True:
            try:
                return self.kube.create(path, obj)
            except KubeError as exc:
                # a new RoleBinding reaches every API server's authorizer within a second or so
                fresh = self._bound_at is not None and time.monotonic() - self._bound_at < 10
                if exc.kind == "forbidden" and is_rbac_denial(exc.message) and fresh:
                    self.ctx.cancelled.wait(0.5)
                    self._check_open()
                    continue
                raise

    def _check_open(self) -> None:
        if self.ctx.cancelled.is_set():
            raise KubeError(
                "cancelled",
                f"interrupted ({self.ctx.interruption or 'a signal'}) before it was created: "
                "preflight creates nothing more once a run is interrupted",
            )
        if self._closed:
            raise KubeError("cancelled", "the run is ending: preflight creates nothing more")

    # -- waiting ---------------------------------------------------------------------------------
    def wait_pod(
        self, name: str, timeout: float, *, until: str = "Succeeded", fail_fast: bool = True
    ) -> Outcome:
        """Wait until pod ``name`` has ``until`` (``Succeeded`` or ``Ready``), failed, or
        ``timeout`` (bounded by the run's deadline) passed. ``fail_fast``: stop as soon as the
        pod is in a state it does not leave without a change (image pull failure, unschedulable
        with no scale-up under way, crash loop, refused config)."""
        if until not in ("Succeeded", "Ready"):
            raise ValueError("until must be 'Succeeded' or 'Ready'")
        return self._wait("Pod", name, timeout, until, fail_fast)

    def wait_job(self, name: str, timeout: float, *, fail_fast: bool = True) -> Outcome:
        """Wait until Job ``name`` completes or fails (see ``wait_pod``); the outcome describes
        its (latest) pod."""
        return self._wait("Job", name, timeout, "Succeeded", fail_fast)

    def wait_deployment(self, name: str, timeout: float, *, fail_fast: bool = True) -> Outcome:
        """Wait until every replica of Deployment ``name`` is Ready (see ``wait_pod``); when it
        is not, the outcome describes the first pod that is not."""
        return self._wait("Deployment", name, timeout, "Ready", fail_fast)

    def _wait(self, kind: str, name: str, timeout: float, until: str, fail_fast: bool) -> Outcome:
        started = time.monotonic()
        limit = max(0.0, min(timeout, self.ctx.remaining()))
        base = Outcome(False, kind, name, self.name)
        if self.dry_run:
            base.reason, base.message = "DryRun", "dry run: nothing was applied"
            return base
        interval = 0.2
        while True:
            if self._closed or self.ctx.cancelled.is_set():
                result = self._finish(base, None, None, started)
                result.reason = "Cancelled"
                signame = self.ctx.interruption or "a signal"
                result.message = f"interrupted ({signame}) before {kind} {name} finished"
                return result
            owner, pod, verdict = self._look(kind, name, until, fail_fast)
            if verdict is not None:
                ok, reason, message = verdict
                result = self._finish(base, owner, pod, started)
                result.ok, result.reason = ok, reason
                result.message = message or result.message
                return result
            left = limit - (time.monotonic() - started)
            if left <= 0:
                base.timed_out = True
                result = self._finish(base, owner, pod, started)
                result.reason = "Timeout"
                goal = {
                    ("Pod", "Succeeded"): "finish",
                    ("Pod", "Ready"): "become ready",
                    ("Job", "Succeeded"): "complete",
                    ("Deployment", "Ready"): "become ready",
                }[(kind, until)]
                result.message = (
                    f"{kind} {name} did not {goal} within {result.waited_s:.0f}s; "
                    f"{'its pod was ' + result.state if result.state else 'it had no pod yet'}"
                )
                if limit < timeout:
                    result.message += " (the run's deadline ended the wait)"
                return result
            self.ctx.cancelled.wait(min(interval, left))
            interval = min(interval * 1.5, 2.0)

    def _look(
        self, kind: str, name: str, until: str, fail_fast: bool
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, tuple[bool, str, str] | None]:
        """One poll: (owner object, pod to describe, verdict or None to keep waiting)."""
        if kind == "Pod":
            pod = self.kube.get_fresh(path_for("v1", "pods", self.name, name))
            if pod is None:
                return None, None, (False, "Deleted", f"pod {name} does not exist (deleted?)")
            return None, pod, self._judge_pod(pod, until, fail_fast)
        group_version, plural = _PLURALS[kind]
        owner = self.kube.get_fresh(path_for(group_version, plural, self.name, name))
        if owner is None:
            return None, None, (False, "Deleted", f"{kind} {name} does not exist (deleted?)")
        pods = self._pods_of(owner)
        status = owner.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        if kind == "Job":
            pod = pods[-1] if pods else None
            complete = conditions.get("Complete") or conditions.get("SuccessCriteriaMet")
            if complete and complete.get("status") == "True":
                return owner, pod, (True, "Completed", "")
            failed = conditions.get("Failed")
            if failed and failed.get("status") == "True":
                verdict = self._judge_pod(pod, until, False) if pod is not None else None
                reason = failed.get("reason") or "Failed"
                message = failed.get("message") or f"Job {name} failed"
                if verdict is not None and reason == "BackoffLimitExceeded":
                    return owner, pod, (False, verdict[1], verdict[2])
                return owner, pod, (False, reason, message)
            if pod is None:
                return owner, None, self._failed_create(owner)
            return owner, pod, self._judge_pod(pod, until, fail_fast) if fail_fast else None
        # Deployment
        wanted = int((owner.get("spec") or {}).get("replicas", 1) or 0)
        observed = int(status.get("observedGeneration") or 0)
        generation = int((owner.get("metadata") or {}).get("generation") or 0)
        ready = int(status.get("readyReplicas") or 0)
        if ready >= wanted and observed >= generation:
            return owner, pods[0] if pods else None, (True, "Ready", "")
        failure = conditions.get("ReplicaFailure")
        if failure and failure.get("status") == "True":
            return (
                owner,
                None,
                (False, failure.get("reason") or "FailedCreate", failure.get("message") or ""),
            )
        progressing = conditions.get("Progressing")
        if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
            pod = next((p for p in pods if not pod_ready(p)), pods[0] if pods else None)
            return owner, pod, (False, "ProgressDeadlineExceeded", progressing.get("message") or "")
        not_ready = [p for p in pods if not pod_ready(p)]
        pod = not_ready[0] if not_ready else (pods[0] if pods else None)
        if fail_fast:
            for candidate in not_ready:
                verdict = self._judge_pod(candidate, "Ready", True)
                if verdict is not None and not verdict[0]:
                    return owner, candidate, verdict
        return owner, pod, None

    def _failed_create(self, owner: dict[str, Any]) -> tuple[bool, str, str] | None:
        """A controller that cannot create its pod says so only in an Event (FailedCreate)."""
        name = owner["metadata"]["name"]
        for event in self.events(name):
            if event.reason == "FailedCreate":
                return False, "FailedCreate", event.message
        return None

    def _pods_of(self, owner: dict[str, Any]) -> list[dict[str, Any]]:
        match = ((owner.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not match:
            return []
        selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
        pods = self.kube.list_fresh(path_for("v1", "pods", self.name), label_selector=selector)
        return sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")

    def _judge_pod(
        self, pod: dict[str, Any], until: str, fail_fast: bool
    ) -> tuple[bool, str, str] | None:
        status = pod.get("status") or {}
        phase = status.get("phase") or ""
        name = pod["metadata"]["name"]
        if phase == "Succeeded":
            if until == "Succeeded":
                return True, "Completed", ""
            return False, "Completed", f"pod {name} ended although it should keep serving"
        if phase == "Failed":
            reason = status.get("reason") or ""
            term = terminated_state(pod)
            if reason:  # Evicted, DeadlineExceeded, ...
                return False, reason, status.get("message") or ""
            if term:
                return False, term.get("reason") or "Error", term.get("message") or ""
            return False, "Failed", status.get("message") or ""
        if until == "Ready" and pod_ready(pod):
            return True, "Ready", ""
        if not fail_fast:
            return None
        waiting = waiting_state(pod)
        if waiting and waiting.get("reason") in STUCK_WAITING:
            return False, waiting["reason"], waiting.get("message") or ""
        scheduled = condition(pod, "PodScheduled")
        if (
            scheduled
            and scheduled.get("status") == "False"
            and scheduled.get("reason") == "Unschedulable"
            and not any(e.reason == "TriggeredScaleUp" for e in self.events(name))
        ):
            return False, "Unschedulable", scheduled.get("message") or ""
        return None

    def _finish(
        self,
        outcome: Outcome,
        owner: dict[str, Any] | None,
        pod: dict[str, Any] | None,
        started: float,
    ) -> Outcome:
        """Fill in what the pod says, its events (and the owner's), and the last log lines."""
        outcome.waited_s = round(time.monotonic() - started, 3)
        names = [outcome.name] if owner is not None or pod is None else []
        if pod is not None:
            status = pod.get("status") or {}
            spec = pod.get("spec") or {}
            outcome.pod = pod["metadata"]["name"]
            outcome.phase = status.get("phase") or ""
            outcome.node = spec.get("nodeName") or None
            outcome.pod_spec = copy.deepcopy(spec)
            containers = spec.get("containers") or [{}]
            outcome.image = str(containers[0].get("image") or "")
            statuses = status.get("containerStatuses") or []
            outcome.restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
            term = terminated_state(pod) or last_terminated_state(pod)
            if term and term.get("exitCode") is not None:
                outcome.exit_code = int(term["exitCode"])
            outcome.state = describe_state(pod)
            names.append(outcome.pod)
        elif owner is not None:
            outcome.state = "without a pod"
        if self.ctx.cancelled.is_set():
            return outcome
        with contextlib.suppress(KubeError):
            outcome.events = [e for n in names for e in self.events(n)][-12:]
        if pod is not None and (
            outcome.exit_code is not None
            or waiting_reason(pod) in ("CrashLoopBackOff", "RunContainerError")
            or (outcome.timed_out and outcome.phase == "Running")
        ):
            outcome.log_tail = self._tail(outcome.pod or "", pod)
        return outcome

    def _tail(self, pod_name: str, pod: dict[str, Any]) -> str:
        previous = waiting_reason(pod) == "CrashLoopBackOff"
        for attempt in ((previous, True), (False, False)) if previous else ((False, False),):
            try:
                return self.logs(pod_name, tail_lines=20, previous=attempt[0])
            except KubeError:
                continue
        return ""

    # -- reading ---------------------------------------------------------------------------------
    def logs(
        self,
        pod: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
        previous: bool = False,
    ) -> str:
        """A pod's log (KubeError when it has none yet)."""
        return self.kube.log(self.name, pod, container, tail_lines, previous=previous)

    def events(self, name: str) -> list[EventRecord]:
        """The Events about object ``name`` in the run's namespace, oldest first."""
        items = self.kube.list_fresh(
            path_for("v1", "events", self.name), field_selector=f"involvedObject.name={name}"
        )
        items = sorted(  # seconds-precision timestamps tie: resourceVersion keeps the order
            items,
            key=lambda e: (
                str(e.get("lastTimestamp") or e.get("eventTime") or ""),
                _int((e.get("metadata") or {}).get("resourceVersion")),
            ),
        )
        records = [
            EventRecord(
                type=str(e.get("type") or ""),
                reason=str(e.get("reason") or ""),
                message=" ".join(str(e.get("message") or "").split()),
                object=f"{(e.get('involvedObject') or {}).get('kind', '')}/{name}",
                count=int(e.get("count") or 1),
                last=str(e.get("lastTimestamp") or e.get("eventTime") or ""),
            )
            for e in items
        ]
        return records

    def service_url(self, name: str, port: int, scheme: str = "http") -> str:
        """How a pod of this run reaches Service ``name``."""
        return f"{scheme}://{name}.{self.name}.svc.cluster.local:{int(port)}"

    # -- ending ----------------------------------------------------------------------------------
    def cleanup(self, wait: float = 10.0) -> str | None:
        """Delete the namespace (everything in it goes with it) and wait up to ``wait`` seconds
        for it to go. Idempotent; afterwards nothing more is created. Returns a problem to
        report, or None."""
        with self._lock:
            already = self._closed
            self._closed = True
            attempted = self._attempted
        if already or self.dry_run or not attempted:
            return None
        try:
            self.kube.delete(path_for("v1", "namespaces", None, self.name))
        except KubeError as exc:
            return (
                f"namespace {self.name} was not deleted ({exc.message}); delete it with "
                f"`preflight cleanup` or `kubectl delete namespace {self.name}`"
            )
        ends = time.monotonic() + wait
        while time.monotonic() < ends:
            try:
                if self.kube.get_fresh(path_for("v1", "namespaces", None, self.name)) is None:
                    return None
            except KubeError as exc:
                if exc.kind == "forbidden":  # the RoleBinding inside is gone: deletion is on
                    return None
                break
            time.sleep(0.2)
        return None


def _new_run_namespace(ctx: Context) -> RunNamespace:
    namespace = RunNamespace(ctx)
    ctx.on_cleanup(namespace.cleanup, f"delete namespace {namespace.name}")
    return namespace


#: the run's namespace: one per run, whichever check asks first
RUN_NAMESPACE: Fact[RunNamespace] = Fact("the run's namespace", _new_run_namespace)


def run_namespace(ctx: Context) -> RunNamespace:
    """The run's namespace (one per run, shared by every check); deleted when the run ends.
    Checks call this concurrently from their threads: exactly one is built."""
    return ctx.fact(RUN_NAMESPACE)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def is_rbac_denial(message: str) -> bool:
    return "cannot create resource" in message or "cannot get resource" in message
