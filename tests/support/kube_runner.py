"""Controllers, scheduler and kubelet for ``FakeKubeApi``: pods run as local processes.

``KubeRunner(api)`` makes the fake API server behave like a cluster that runs what it is given:

- **Controllers.** A Job gets its pod (``<job>-<5 chars>``, labels ``job-name``,
  ``batch.kubernetes.io/job-name``, ``batch.kubernetes.io/controller-uid``, the selector the
  real API server defaults), ``status.active``/``succeeded``/``failed`` and the ``Complete`` /
  ``Failed`` conditions (``BackoffLimitExceeded``, ``DeadlineExceeded`` after
  ``activeDeadlineSeconds``), and is removed ``ttlSecondsAfterFinished`` after it finished. A
  Deployment gets a ReplicaSet and ``replicas`` pods and ``readyReplicas``/``Available`` as
  they become ready; a pod its admission refuses becomes a ``FailedCreate`` Event (on the Job or
  the ReplicaSet) and the Deployment's ``ReplicaFailure`` condition, as on a real cluster.
- **Scheduler.** A pod goes to the first node (by name) that passes the real filters in
  order: cordoned, ``nodeSelector`` and required node affinity (``matchExpressions``,
  ``matchFields metadata.name``), untolerated ``NoSchedule``/``NoExecute`` taints, and
  requests against allocatable minus the requests of pods already there. When none fits it
  stays Pending with ``PodScheduled=False/Unschedulable`` and a ``FailedScheduling`` Event
  worded like kube-scheduler's (``0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had
  untolerated taint {sku: gpu}. preemption: ...``). Seed nodes (``kube_objects.node``): with
  none, nothing schedules ("no nodes available to schedule pods").
- **Kubelet.** The container's ``command`` + ``args`` run here as a subprocess (``preflight
  ...`` becomes ``sys.executable -m preflight ...``, ``python`` this interpreter; anything else
  from ``PATH``, or a ``StartError`` like containerd's when it is not there), with the
  container's environment (``value``, ``secretKeyRef`` read from the stored Secret,
  ``fieldRef`` to the pod's name/namespace/node) on top of a minimal one (PATH, LANG, HOME and
  TMPDIR in a per-pod directory, PYTHONPATH, ``env=`` of the runner). Its stdout and stderr are
  the pod log (``set_pod_log``, updated as lines come); phase Pending -> Running -> Succeeded
  or Failed with the exit code in ``containerStatuses``; ``restartPolicy: Always/OnFailure``
  restarts it with ``CrashLoopBackOff`` and ``restartCount`` (previous log kept for
  ``previous=true``). A pod's own ``activeDeadlineSeconds`` ends it with ``DeadlineExceeded``.
  Events ``Scheduled``, ``Pulled``, ``Created``, ``Started``, ``BackOff`` as the kubelet writes
  them. Ready: at once, or once the first container port accepts connections (HTTP 2xx/3xx on
  the readiness probe's path when one is declared).
- **Services.** A container port P is served on a free local port L: the runner rewrites
  ``P`` in the container's arguments (a token ``P``, ``--x=P``, ``host:P``). A pod started
  later reaches a Service through its DNS name: ``http://<svc>.<ns>.svc.cluster.local:<port>``
  (also ``.svc``, ``<svc>.<ns>``, and ``<svc>`` in the same namespace, with ``://`` or an
  explicit port) in its arguments and environment becomes ``http://127.0.0.1:L`` of a ready
  pod behind it.
- **Deletion.** A process whose pod is gone (deleted, its Job or namespace deleted) is killed
  (its whole process group), as the kubelet would; ``stop()`` (fixture teardown) kills the rest.

Faults (``fault(mode, name=GLOB, ...)``, matched on the pod's or its owner's name):
``image_pull`` (Pending, ``ErrImagePull`` then ``ImagePullBackOff``, Event ``Failed to pull
image ...: 401 Unauthorized`` unless ``message=``), ``unschedulable`` (``FailedScheduling``
whatever the nodes say), ``crash`` (the container prints ``message`` and exits ``exit_code``),
``admission`` (the create is refused: ``violates PodSecurity "restricted:latest"``) and
``quota`` (``exceeded quota``), both 403 like the real admission plugins, and ``hang`` (the
container runs and never ends).

Written for ``preflight.kube`` but knows nothing of preflight beyond the command name.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import fnmatch
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .kube_api import FakeKubeApi, KubeError
from .kube_objects import parse_quantity

__all__ = ["FAULT_MODES", "KubeRunner", "PodRun", "RunnerFault"]

FAULT_MODES = ("image_pull", "unschedulable", "crash", "admission", "quota", "hang")

_PULL_401 = (
    'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": failed to '
    "authorize: failed to fetch anonymous token: unexpected status from GET request to "
    "https://{registry}/oauth2/token?scope=repository%3A{repo}%3Apull&service={registry}: "
    "401 Unauthorized"
)
_PSA = (
    'pods "{name}" is forbidden: violates PodSecurity "restricted:latest": '
    'allowPrivilegeEscalation != false (container "istio-init" must set '
    "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
    '"istio-init" must not include "NET_ADMIN", "NET_RAW" in securityContext.capabilities.add)'
)
_QUOTA = (
    'pods "{name}" is forbidden: exceeded quota: compute-resources, requested: '
    "requests.cpu=50m, used: requests.cpu=2, limited: requests.cpu=2"
)
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class RunnerFault:
    """An injected misbehaviour (``KubeRunner.fault``); ``hits`` counts the pods it hit."""

    mode: str
    name: str | None = None
    namespace: str | None = None
    message: str | None = None
    exit_code: int = 1
    times: int | None = None
    hits: int = 0

    def matches(self, namespace: str, names: Sequence[str]) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.namespace is not None and namespace != self.namespace:
            return False
        return self.name is None or any(fnmatch.fnmatchcase(n, self.name) for n in names if n)


@dataclass
class PodRun:
    """One pod the runner looks after (and its current process, if any)."""

    namespace: str
    name: str
    uid: str
    owner: tuple[str, str] | None = None  # (kind, name) of the controller
    process: subprocess.Popen[bytes] | None = None
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[int, int] = field(default_factory=dict)  # containerPort -> local port
    started: float = 0.0
    ready: bool = False
    done: bool = False
    deadline_hit: bool = False  # ended by the pod's own activeDeadlineSeconds
    workdir: Path | None = None
    log: list[str] = field(default_factory=list)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _suffix(count: int = 5) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(count))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class KubeRunner:
    """Runs what a ``FakeKubeApi`` is asked to run (see the module docstring)."""

    def __init__(
        self,
        api: FakeKubeApi,
        *,
        env: Mapping[str, str] | None = None,
        workdir: str | os.PathLike[str] | None = None,
        pull_delay: float = 0.05,
        backoff: float = 0.3,
    ) -> None:
        self.api = api
        self.env = dict(env or {})
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="kube-runner-"))
        self.pull_delay = pull_delay
        self.backoff = backoff
        self._lock = threading.RLock()
        self._faults: list[RunnerFault] = []
        self._pods: dict[tuple[str, str], PodRun] = {}
        self._jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.history: list[PodRun] = []
        self.errors: list[str] = []
        api.on_create("pods", self._on_pod_create)
        api.on_create("jobs.batch", self._on_job_create)
        api.on_create("deployments.apps", self._on_deployment_create)
        self._spawn(self._monitor, name="kube-runner-monitor")

    # -- public ---------------------------------------------------------------------------------
    def fault(
        self,
        mode: str,
        *,
        name: str | None = None,
        namespace: str | None = None,
        message: str | None = None,
        exit_code: int = 1,
        times: int | None = None,
    ) -> RunnerFault:
        """Make matching pods misbehave (``FAULT_MODES``); ``name`` is a glob on the pod's or
        its Job's/Deployment's name. The first matching fault wins."""
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; choose from {FAULT_MODES}")
        fault = RunnerFault(mode, name, namespace, message, exit_code, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def live(self) -> list[PodRun]:
        """Pods whose process is still running. The processes of pods that are gone are
        killed first (as the monitor would a moment later), so the answer is exact the moment
        a delete has returned."""
        self._reap()
        with self._lock:
            return [
                run
                for run in self._pods.values()
                if run.process is not None and run.process.poll() is None
            ]

    def _reap(self) -> None:
        with self._lock:
            runs = list(self._pods.values())
        for run in runs:
            pod = self.api.get("pods", run.name, run.namespace)
            if pod is None or pod["metadata"].get("uid") != run.uid:
                self._kill(run)
                with self._lock:
                    if self._pods.get((run.namespace, run.name)) is run:
                        del self._pods[(run.namespace, run.name)]

    def all_processes(self) -> list[subprocess.Popen[bytes]]:
        """Every process ever started (to prove they are gone)."""
        with self._lock:
            return [r.process for r in self.history if r.process is not None]

    def stop(self) -> None:
        """Kill every process and stop the runner's threads (fixture teardown)."""
        self._stopping.set()
        with self._lock:
            runs = list(self._pods.values())
        for run in runs:
            self._kill(run)
        for thread in list(self._threads):
            thread.join(5)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- plumbing -------------------------------------------------------------------------------
    def _spawn(self, target: Callable[..., None], *args: Any, name: str) -> None:
        def guarded() -> None:
            try:
                target(*args)
            except Exception as exc:  # noqa: BLE001 - a bug here must show in the test
                import traceback

                with self._lock:
                    self.errors.append(f"{name}: {exc!r}\n{traceback.format_exc()}")

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _fault_for(self, namespace: str, names: Sequence[str], modes: Sequence[str]) -> Any:
        with self._lock:
            for fault in self._faults:
                if fault.mode in modes and fault.matches(namespace, names):
                    fault.hits += 1
                    return fault
        return None

    def _namespace_alive(self, namespace: str) -> bool:
        ns = self.api.get("namespaces", namespace)
        return ns is not None and (ns.get("status") or {}).get("phase") != "Terminating"

    def _modify(
        self, resource: str, namespace: str, name: str, uid: str | None, change: Any
    ) -> bool:
        """Change a stored object if it still exists (same uid); never resurrect one."""
        with self.api._lock:  # the fake's store lock: check and write as one step
            obj = self.api.get(resource, name, namespace)
            if obj is None or (uid and obj["metadata"].get("uid") != uid):
                return False
            change(obj)
            self.api.update(obj)
            return True

    def _add(self, *objects: dict[str, Any]) -> bool:
        """Store objects a controller creates, unless their namespace is gone."""
        with self.api._lock:
            namespace = objects[0]["metadata"].get("namespace", "default")
            if not self._namespace_alive(namespace):
                return False
            self.api.add(*objects)
            return True

    def _event(
        self,
        namespace: str,
        involved: Mapping[str, Any],
        reason: str,
        message: str,
        *,
        type_: str = "Normal",
        component: str = "kubelet",
    ) -> None:
        """Record an Event (repeats bump ``count`` as the real event recorder does)."""
        ref = {
            k: involved[k]
            for k in ("kind", "name", "namespace", "uid", "apiVersion")
            if k in involved
        }
        digest = hashlib.sha1(f"{ref.get('name')}/{reason}/{message}".encode()).hexdigest()[:16]
        name = f"{ref.get('name')}.{digest}"
        with self.api._lock:
            if not self._namespace_alive(namespace):
                return
            existing = self.api.get("events", name, namespace)
            now = _now()
            if existing is not None:
                existing["count"] = int(existing.get("count") or 1) + 1
                existing["lastTimestamp"] = now
                self.api.update(existing)
                return
            self.api.add(
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": name, "namespace": namespace},
                    "involvedObject": ref,
                    "reason": reason,
                    "message": message,
                    "source": {"component": component},
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "eventTime": None,
                    "count": 1,
                    "type": type_,
                    "reportingComponent": component,
                    "reportingInstance": "",
                }
            )

    @staticmethod
    def _ref(obj: Mapping[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        return {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": obj.get("kind", "Pod"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        }

    # -- admission (pods created through the API) -----------------------------------------------
    def _admit(self, pod: dict[str, Any], owner_name: str | None) -> None:
        meta = pod["metadata"]
        names = [meta.get("name") or meta.get("generateName") or "", owner_name or ""]
        fault = self._fault_for(meta.get("namespace", "default"), names, ("admission", "quota"))
        if fault is None:
            return
        template = _PSA if fault.mode == "admission" else _QUOTA
        raise KubeError(403, fault.message or template.format(name=meta.get("name")))

    def _on_pod_create(self, pod: dict[str, Any]) -> dict[str, Any]:
        self._admit(pod, None)
        meta = pod["metadata"]
        meta.setdefault("uid", _uid())
        run = PodRun(meta.get("namespace", "default"), meta["name"], meta["uid"])
        self._prepare_pod(pod)
        self._track(run)
        self._spawn(self._run_pod, run, name=f"kube-runner-pod-{run.name}")
        return pod

    def _prepare_pod(self, pod: dict[str, Any]) -> None:
        status = pod.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status["conditions"] = []
        spec = pod.setdefault("spec", {})
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("serviceAccountName", "default")

    def _track(self, run: PodRun) -> None:
        with self._lock:
            self._pods[(run.namespace, run.name)] = run
            self.history.append(run)

    # -- Jobs -----------------------------------------------------------------------------------
    def _on_job_create(self, job: dict[str, Any]) -> dict[str, Any]:
        meta = job["metadata"]
        meta.setdefault("uid", _uid())
        uid = meta["uid"]
        spec = job.setdefault("spec", {})
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("completionMode", "NonIndexed")
        if not spec.get("manualSelector"):  # what the API server defaults
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            tmeta = spec.setdefault("template", {}).setdefault("metadata", {})
            labels = tmeta.setdefault("labels", {})
            labels.update(
                {
                    "batch.kubernetes.io/controller-uid": uid,
                    "batch.kubernetes.io/job-name": meta["name"],
                    "controller-uid": uid,
                    "job-name": meta["name"],
                }
            )
        job["status"] = {}
        self._spawn(
            self._run_job,
            meta.get("namespace", "default"),
            meta["name"],
            uid,
            name=f"kube-runner-job-{meta['name']}",
        )
        return job

    def _wait_stored(
        self, resource: str, namespace: str, name: str, uid: str
    ) -> dict[str, Any] | None:
        ends = time.monotonic() + 5
        while time.monotonic() < ends and not self._stopping.is_set():
            obj = self.api.get(resource, name, namespace)
            if obj is not None and obj["metadata"].get("uid") == uid:
                return obj
            time.sleep(0.01)
        return None

    def _run_job(self, namespace: str, name: str, uid: str) -> None:
        job = self._wait_stored("jobs", namespace, name, uid)
        if job is None:
            return
        started = time.monotonic()
        start_time = _now()
        self._modify(
            "jobs",
            namespace,
            name,
            uid,
            lambda j: j["status"].update({"startTime": start_time, "active": 0}),
        )
        backoff = int(job["spec"].get("backoffLimit", 6))
        deadline = job["spec"].get("activeDeadlineSeconds")
        failures = 0
        while not self._stopping.is_set():
            run = self._controller_pod(job, "Job", name)
            if run is None:
                return  # refused (FailedCreate) or the namespace is gone
            self._modify("jobs", namespace, name, uid, lambda j: j["status"].update({"active": 1}))
            outcome = self._wait_pod_end(run, started, deadline)
            if outcome == "gone":
                return
            if outcome == "deadline":
                self._kill(run)
                self._modify("pods", namespace, run.name, run.uid, _deadline_exceeded)
                self._finish_job(
                    namespace,
                    name,
                    uid,
                    False,
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                    failures + 1,
                )
                return
            if outcome == "succeeded":
                self._finish_job(namespace, name, uid, True, "Completed", "", failures, 1)
                return
            failures += 1
            if failures > backoff:
                self._finish_job(
                    namespace,
                    name,
                    uid,
                    False,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    failures,
                )
                return
            self._modify(
                "jobs",
                namespace,
                name,
                uid,
                lambda j, f=failures: j["status"].update({"failed": f, "active": 0}),
            )
            self._stopping.wait(self.backoff)

    def _wait_pod_end(self, run: PodRun, started: float, deadline: Any) -> str:
        while not self._stopping.is_set():
            pod = self.api.get("pods", run.name, run.namespace)
            if pod is None or pod["metadata"].get("uid") != run.uid:
                return "gone"
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Succeeded":
                return "succeeded"
            if phase == "Failed":
                return "failed"
            if deadline is not None and time.monotonic() - started > float(deadline):
                return "deadline"
            time.sleep(0.05)
        return "gone"

    def _finish_job(
        self,
        namespace: str,
        name: str,
        uid: str,
        ok: bool,
        reason: str,
        message: str,
        failed: int,
        succeeded: int = 0,
    ) -> None:
        now = _now()
        condition = {
            "type": "Complete" if ok else "Failed",
            "status": "True",
            "lastProbeTime": now,
            "lastTransitionTime": now,
        }
        if not ok:
            condition.update({"reason": reason, "message": message})

        def change(job: dict[str, Any]) -> None:
            status = job.setdefault("status", {})
            status.update({"active": 0, "conditions": [condition]})
            if succeeded:
                status["succeeded"] = succeeded
                status["completionTime"] = now
            if failed:
                status["failed"] = failed

        if not self._modify("jobs", namespace, name, uid, change):
            return
        job = self.api.get("jobs", name, namespace)
        if job is not None:
            if ok:
                self._event(
                    namespace,
                    self._ref(job),
                    "Completed",
                    "Job completed",
                    component="job-controller",
                )
            else:
                self._event(
                    namespace,
                    self._ref(job),
                    reason,
                    message,
                    type_="Warning",
                    component="job-controller",
                )
            ttl = job["spec"].get("ttlSecondsAfterFinished")
            if ttl is not None:
                with self._lock:
                    self._jobs[(namespace, name)] = {"uid": uid, "at": time.monotonic() + ttl}

    # -- Deployments ----------------------------------------------------------------------------
    def _on_deployment_create(self, deployment: dict[str, Any]) -> dict[str, Any]:
        meta = deployment["metadata"]
        meta.setdefault("uid", _uid())
        deployment.setdefault("spec", {}).setdefault("replicas", 1)
        deployment["status"] = {}
        self._spawn(
            self._run_deployment,
            meta.get("namespace", "default"),
            meta["name"],
            meta["uid"],
            name=f"kube-runner-deploy-{meta['name']}",
        )
        return deployment

    def _run_deployment(self, namespace: str, name: str, uid: str) -> None:
        deployment = self._wait_stored("deployments", namespace, name, uid)
        if deployment is None:
            return
        template = deployment["spec"].get("template") or {}
        digest = hashlib.sha1(repr(template).encode()).hexdigest()
        pod_hash = "".join(_ALPHABET[int(c, 16) % len(_ALPHABET)] for c in digest[:10])
        rs_name = f"{name}-{pod_hash}"
        labels = {
            **((template.get("metadata") or {}).get("labels") or {}),
            "pod-template-hash": pod_hash,
        }
        replicaset = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": namespace,
                "uid": _uid(),
                "labels": labels,
                "ownerReferences": [_owner(deployment)],
            },
            "spec": {
                "replicas": deployment["spec"]["replicas"],
                "selector": {
                    "matchLabels": {
                        **deployment["spec"]["selector"]["matchLabels"],
                        "pod-template-hash": pod_hash,
                    }
                },
                "template": {**copy.deepcopy(template), "metadata": {"labels": labels}},
            },
        }
        if not self._add(replicaset):
            return
        self._event(
            namespace,
            self._ref(deployment),
            "ScalingReplicaSet",
            f"Scaled up replica set {rs_name} to {deployment['spec']['replicas']}",
            component="deployment-controller",
        )
        runs: list[PodRun] = []
        for _ in range(int(deployment["spec"]["replicas"])):
            run = self._controller_pod(replicaset, "ReplicaSet", rs_name, deployment=deployment)
            if run is None:
                return
            runs.append(run)
        while not self._stopping.is_set():
            if self.api.get("deployments", name, namespace) is None:
                return
            ready = sum(1 for r in runs if r.ready)
            replicas = len(runs)

            def change(d: dict[str, Any], ready: int = ready, replicas: int = replicas) -> None:
                now = _now()
                available = ready >= replicas
                d["status"] = {
                    "observedGeneration": d["metadata"].get("generation", 1),
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                    "unavailableReplicas": replicas - ready,
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "True" if available else "False",
                            "reason": "MinimumReplicasAvailable"
                            if available
                            else "MinimumReplicasUnavailable",
                            "message": "Deployment has minimum availability."
                            if available
                            else "Deployment does not have minimum availability.",
                            "lastUpdateTime": now,
                            "lastTransitionTime": now,
                        },
                        {
                            "type": "Progressing",
                            "status": "True",
                            "reason": "NewReplicaSetAvailable"
                            if available
                            else "ReplicaSetUpdated",
                            "message": f'ReplicaSet "{rs_name}" has successfully progressed.'
                            if available
                            else f'ReplicaSet "{rs_name}" is progressing.',
                            "lastUpdateTime": now,
                            "lastTransitionTime": now,
                        },
                    ],
                }

            current = self.api.get("deployments", name, namespace)
            if current is None:
                return
            status = current.get("status") or {}
            if status.get("readyReplicas", -1) != ready or "observedGeneration" not in status:
                self._modify("deployments", namespace, name, uid, change)
            self._stopping.wait(0.1)

    # -- controller-made pods -------------------------------------------------------------------
    def _controller_pod(
        self,
        owner: dict[str, Any],
        kind: str,
        owner_name: str,
        deployment: dict[str, Any] | None = None,
    ) -> PodRun | None:
        namespace = owner["metadata"].get("namespace", "default")
        template = copy.deepcopy(owner["spec"].get("template") or {})
        name = f"{owner_name}-{_suffix()}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": _uid(),
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "ownerReferences": [_owner(owner)],
            },
            "spec": template.get("spec") or {},
        }
        top = deployment["metadata"]["name"] if deployment else owner_name
        try:
            self._admit(pod, top)
        except KubeError as refused:
            self._event(
                namespace,
                self._ref(owner),
                "FailedCreate",
                f"Error creating: {refused.message}",
                type_="Warning",
                component=f"{kind.lower()}-controller",
            )
            if deployment is not None:
                now = _now()
                condition = {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": refused.message,
                    "lastUpdateTime": now,
                    "lastTransitionTime": now,
                }
                self._modify(
                    "deployments",
                    namespace,
                    deployment["metadata"]["name"],
                    deployment["metadata"]["uid"],
                    lambda d: d.setdefault("status", {}).update(
                        {
                            "conditions": [condition],
                            "replicas": 0,
                            "readyReplicas": 0,
                            "unavailableReplicas": 1,
                        }
                    ),
                )
            return None
        self._prepare_pod(pod)
        pod["status"]["qosClass"] = "Burstable"
        if not self._add(pod):
            return None
        self._event(
            namespace,
            self._ref(owner),
            "SuccessfulCreate",
            f"Created pod: {name}",
            component=f"{kind.lower()}-controller",
        )
        run = PodRun(namespace, name, pod["metadata"]["uid"], owner=(kind, top))
        self._track(run)
        self._spawn(self._run_pod, run, name=f"kube-runner-pod-{name}")
        return run

    # -- scheduler ------------------------------------------------------------------------------
    def _schedule(self, pod: dict[str, Any], forced: RunnerFault | None) -> tuple[str | None, str]:
        """(node name, "") or (None, FailedScheduling message)."""
        nodes = sorted(self.api.objects("nodes"), key=lambda n: n["metadata"]["name"])
        total = len(nodes)
        if not nodes:
            return None, "no nodes available to schedule pods"
        if forced is not None:
            return None, forced.message or (
                f"0/{total} nodes are available: {total} Insufficient cpu. preemption: 0/{total} "
                f"nodes are available: {total} No preemption victims found for incoming pod."
            )
        reasons: dict[str, int] = {}
        for node in nodes:
            problem = self._node_problems(pod, node)
            if not problem:
                return node["metadata"]["name"], ""
            for reason in problem:
                reasons[reason] = reasons.get(reason, 0) + 1
        body = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        return None, (
            f"0/{total} nodes are available: {body}. preemption: 0/{total} nodes are available: "
            f"{total} Preemption is not helpful for scheduling."
        )

    def _node_problems(self, pod: dict[str, Any], node: dict[str, Any]) -> list[str]:
        spec = pod.get("spec") or {}
        labels = node["metadata"].get("labels") or {}
        if (node.get("spec") or {}).get("unschedulable"):
            return ["node(s) were unschedulable"]
        selector = spec.get("nodeSelector") or {}
        if any(labels.get(k) != v for k, v in selector.items()) or not _affinity_matches(
            spec, node
        ):
            return ["node(s) didn't match Pod's node affinity/selector"]
        tolerations = spec.get("tolerations") or []
        for taint in (node.get("spec") or {}).get("taints") or []:
            if taint.get("effect") not in ("NoSchedule", "NoExecute"):
                continue
            if not any(_tolerates(t, taint) for t in tolerations):
                return [
                    f"node(s) had untolerated taint {{{taint.get('key')}: "
                    f"{taint.get('value', '')}}}"
                ]
        requests = _pod_requests(pod)
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        used: dict[str, Decimal] = {}
        for other in self.api.objects("pods"):
            if (other.get("spec") or {}).get("nodeName") != node["metadata"]["name"]:
                continue
            if (other.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            for key, value in _pod_requests(other).items():
                used[key] = used.get(key, Decimal(0)) + value
        short = [
            f"Insufficient {key}"
            for key, value in sorted(requests.items())
            if key in allocatable
            and parse_quantity(allocatable[key]) - used.get(key, Decimal(0)) < value
        ]
        return short

    # -- kubelet --------------------------------------------------------------------------------
    def _run_pod(self, run: PodRun) -> None:
        pod = self._wait_stored("pods", run.namespace, run.name, run.uid)
        if pod is None:
            return
        names = [run.name, run.owner[1] if run.owner else ""]
        forced = self._fault_for(run.namespace, names, ("unschedulable",))
        node, why = self._schedule(pod, forced)
        ref = self._ref(pod)
        if node is None:
            now = _now()
            condition = {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": why,
                "lastProbeTime": None,
                "lastTransitionTime": now,
            }
            self._modify(
                "pods",
                run.namespace,
                run.name,
                run.uid,
                lambda p: p["status"].update({"conditions": [condition]}),
            )
            self._event(
                run.namespace,
                ref,
                "FailedScheduling",
                why,
                type_="Warning",
                component="default-scheduler",
            )
            return
        now = _now()

        def bind(p: dict[str, Any]) -> None:
            p["spec"]["nodeName"] = node
            p["status"].update(
                {
                    "conditions": [
                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}
                    ],
                    "hostIP": "127.0.0.1",
                }
            )

        if not self._modify("pods", run.namespace, run.name, run.uid, bind):
            return
        self._event(
            run.namespace,
            ref,
            "Scheduled",
            f"Successfully assigned {run.namespace}/{run.name} to {node}",
            component="default-scheduler",
        )
        container = (pod["spec"].get("containers") or [{}])[0]
        image = str(container.get("image") or "")
        self._stopping.wait(self.pull_delay)
        pull = self._fault_for(run.namespace, names, ("image_pull",))
        if pull is not None:
            self._fail_pull(run, ref, container, image, pull)
            return
        self._event(
            run.namespace, ref, "Pulled", f'Container image "{image}" already present on machine'
        )
        restarts = 0
        policy = pod["spec"].get("restartPolicy", "Always")
        behaviour = self._fault_for(run.namespace, names, ("crash", "hang"))
        while not self._stopping.is_set():
            code, reason, message = self._start_and_wait(run, pod, container, ref, behaviour)
            if code is None:
                return  # pod gone
            finished = _now()
            terminated = {
                "exitCode": code,
                "reason": reason,
                "startedAt": finished,
                "finishedAt": finished,
                "containerID": f"containerd://{run.uid.replace('-', '')}",
            }
            if message:
                terminated["message"] = message
            restart = policy == "Always" or (policy == "OnFailure" and code != 0)
            if not restart:
                phase = "Succeeded" if code == 0 else "Failed"

                def end(
                    p: dict[str, Any],
                    phase: str = phase,
                    terminated: dict[str, Any] = terminated,
                    restarts: int = restarts,
                ) -> None:
                    p["status"]["phase"] = phase
                    p["status"]["conditions"] = _conditions(ready=False, scheduled=True)
                    p["status"]["containerStatuses"] = [
                        _container_status(container, {"terminated": terminated}, restarts)
                    ]

                self._modify("pods", run.namespace, run.name, run.uid, end)
                run.done = True
                return
            restarts += 1
            self.api.set_pod_log(run.namespace, run.name, "".join(run.log), previous=True)
            waiting = {
                "reason": "CrashLoopBackOff",
                "message": f"back-off {10 * 2 ** min(restarts - 1, 5)}s restarting failed "
                f"container={container.get('name')} pod={run.name}_{run.namespace}"
                f"({run.uid})",
            }

            def crash(
                p: dict[str, Any],
                n: int = restarts,
                waiting: dict[str, Any] = waiting,
                terminated: dict[str, Any] = terminated,
            ) -> None:
                p["status"]["phase"] = "Running"
                p["status"]["conditions"] = _conditions(ready=False, scheduled=True)
                status = _container_status(container, {"waiting": waiting}, n)
                status["lastState"] = {"terminated": terminated}
                p["status"]["containerStatuses"] = [status]

            if not self._modify("pods", run.namespace, run.name, run.uid, crash):
                return
            self._event(
                run.namespace,
                ref,
                "BackOff",
                f"Back-off restarting failed container {container.get('name')} in pod "
                f"{run.name}_{run.namespace}({run.uid})",
                type_="Warning",
            )
            run.ready = False
            self._stopping.wait(min(self.backoff * 2 ** (restarts - 1), 3.0))

    def _fail_pull(
        self,
        run: PodRun,
        ref: dict[str, Any],
        container: dict[str, Any],
        image: str,
        fault: RunnerFault,
    ) -> None:
        registry = (
            image.split("/")[0]
            if "/" in image and "." in image.split("/")[0]
            else ("registry-1.docker.io")
        )
        repo = image.split(":")[0].split("/", 1)[-1] if "/" in image else f"library/{image}"
        said = fault.message or _PULL_401.format(
            ref=image if "/" in image else f"docker.io/library/{image}",
            registry=registry,
            repo=repo.split(":")[0],
        )
        self._event(run.namespace, ref, "Pulling", f'Pulling image "{image}"')
        self._event(
            run.namespace, ref, "Failed", f'Failed to pull image "{image}": {said}', type_="Warning"
        )
        self._event(run.namespace, ref, "Failed", "Error: ErrImagePull", type_="Warning")

        def waiting(reason: str, message: str) -> Callable[[dict[str, Any]], None]:
            def change(p: dict[str, Any]) -> None:
                p["status"]["conditions"] = _conditions(ready=False, scheduled=True)
                p["status"]["containerStatuses"] = [
                    _container_status(
                        container, {"waiting": {"reason": reason, "message": message}}, 0
                    )
                ]
                p["status"]["startTime"] = p["status"].get("startTime") or _now()

            return change

        self._modify(
            "pods",
            run.namespace,
            run.name,
            run.uid,
            waiting("ErrImagePull", f'failed to pull image "{image}": {said}'),
        )
        self._stopping.wait(0.3)
        if self._modify(
            "pods",
            run.namespace,
            run.name,
            run.uid,
            waiting("ImagePullBackOff", f'Back-off pulling image "{image}"'),
        ):
            self._event(run.namespace, ref, "BackOff", f'Back-off pulling image "{image}"')
            self._event(run.namespace, ref, "Failed", "Error: ImagePullBackOff", type_="Warning")

    def _start_and_wait(
        self,
        run: PodRun,
        pod: dict[str, Any],
        container: dict[str, Any],
        ref: dict[str, Any],
        behaviour: RunnerFault | None,
    ) -> tuple[int | None, str, str]:
        """Run the container once: (exit code, reason, message), or (None, ...) if the pod went."""
        argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
        if not argv:
            argv = ["/bin/true"]
        if not run.ports:
            run.ports = {
                int(p["containerPort"]): _free_port()
                for p in container.get("ports") or []
                if p.get("containerPort")
            }
        argv = [_rewrite_ports(a, run.ports) for a in argv]
        env = self._container_env(run, pod, container)
        argv = [self._rewrite_services(a, run.namespace) for a in argv]
        env = {k: self._rewrite_services(v, run.namespace) for k, v in env.items()}
        if behaviour is not None and behaviour.mode == "crash":
            text = (
                behaviour.message
                or "Traceback (most recent call last):\nRuntimeError: injected crash"
            )
            argv = [
                sys.executable,
                "-c",
                f"import sys; print({text!r}, flush=True); sys.exit({behaviour.exit_code})",
            ]
        elif behaviour is not None and behaviour.mode == "hang":
            argv = [
                sys.executable,
                "-c",
                "import time; print('hanging', flush=True); time.sleep(3600)",
            ]
        else:
            argv = _executable(argv)
        run.argv, run.env = argv, env
        workdir = self.workdir / f"{run.namespace}-{run.name}"
        (workdir / "tmp").mkdir(parents=True, exist_ok=True)
        run.workdir = workdir
        if shutil.which(argv[0], path=env.get("PATH")) is None and not os.path.isfile(argv[0]):
            message = (
                "failed to create containerd task: failed to create shim task: OCI runtime create "
                "failed: runc create failed: unable to start container process: exec: "
                f'"{argv[0]}": executable file not found in $PATH: unknown'
            )
            self._event(run.namespace, ref, "Failed", f"Error: {message}", type_="Warning")
            return 128, "StartError", message
        self._event(run.namespace, ref, "Created", f"Created container {container.get('name')}")
        try:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return 128, "StartError", str(exc)
        with self._lock:
            if self._stopping.is_set():
                _kill_group(process)
                return None, "", ""
            run.process = process
            run.started = time.monotonic()
            run.log = []
        self._event(run.namespace, ref, "Started", f"Started container {container.get('name')}")
        started_at = _now()
        readiness = container.get("readinessProbe") if run.ports else None

        def running(p: dict[str, Any], ready: bool = False) -> None:
            p["status"]["phase"] = "Running"
            p["status"]["podIP"] = "127.0.0.1"
            p["status"]["podIPs"] = [{"ip": "127.0.0.1"}]
            p["status"]["startTime"] = p["status"].get("startTime") or started_at
            p["status"]["conditions"] = _conditions(ready=ready, scheduled=True)
            status = _container_status(
                container, {"running": {"startedAt": started_at}}, _restarts(p)
            )
            status["ready"] = ready
            status["started"] = True
            previous = (p["status"].get("containerStatuses") or [{}])[0].get("lastState")
            if previous:
                status["lastState"] = previous
            p["status"]["containerStatuses"] = [status]

        immediately_ready = not run.ports
        if not self._modify(
            "pods", run.namespace, run.name, run.uid, lambda p: running(p, immediately_ready)
        ):
            _kill_group(process)
            return None, "", ""
        run.ready = immediately_ready
        reader = threading.Thread(
            target=self._read_log,
            args=(run, process),
            daemon=True,
            name=f"kube-runner-log-{run.name}",
        )
        reader.start()
        while process.poll() is None and not self._stopping.is_set():
            if (
                not run.ready
                and run.ports
                and _probe_ready(run, readiness)
                and self._modify(
                    "pods", run.namespace, run.name, run.uid, lambda p: running(p, True)
                )
            ):
                run.ready = True
            time.sleep(0.05)
        process.wait()
        reader.join(5)
        self._flush_log(run)
        if self.api.get("pods", run.name, run.namespace) is None:
            return None, "", ""
        if run.deadline_hit:
            return None, "", ""
        code = process.returncode
        if code < 0:  # killed by a signal: the container runtime reports 128 + signal
            code = 128 - code
        return code, "Completed" if code == 0 else "Error", ""

    def _container_env(
        self, run: PodRun, pod: dict[str, Any], container: dict[str, Any]
    ) -> dict[str, str]:
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOSTNAME": run.name,
            "HOME": str(self.workdir / f"{run.namespace}-{run.name}"),
            "TMPDIR": str(self.workdir / f"{run.namespace}-{run.name}" / "tmp"),
        }
        if os.environ.get("PYTHONPATH"):
            base["PYTHONPATH"] = os.environ["PYTHONPATH"]
        base.update(self.env)
        for item in container.get("env") or []:
            name = item.get("name")
            if not name:
                continue
            if "value" in item:
                base[name] = str(item.get("value") or "")
                continue
            source = item.get("valueFrom") or {}
            if "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                secret = self.api.get("secrets", ref.get("name", ""), run.namespace) or {}
                if ref.get("key") in (secret.get("stringData") or {}):
                    base[name] = str(secret["stringData"][ref["key"]])
                elif ref.get("key") in (secret.get("data") or {}):
                    base[name] = base64.b64decode(secret["data"][ref["key"]]).decode()
            elif "fieldRef" in source:
                path = source["fieldRef"].get("fieldPath", "")
                base[name] = {
                    "metadata.name": run.name,
                    "metadata.namespace": run.namespace,
                    "spec.nodeName": (self.api.get("pods", run.name, run.namespace) or {})
                    .get("spec", {})
                    .get("nodeName", ""),
                    "status.podIP": "127.0.0.1",
                }.get(path, "")
        return base

    def _rewrite_services(self, text: str, namespace: str) -> str:
        """Service DNS names in ``text`` -> 127.0.0.1:<local port> of a ready pod behind them."""
        if ".svc" not in text and "://" not in text and ":" not in text:
            return text
        for service in self.api.objects("services"):
            meta = service["metadata"]
            svc, ns = meta["name"], meta.get("namespace", "default")
            target = self._service_target(service)
            for port in (service.get("spec") or {}).get("ports") or []:
                local = target.get(int(port.get("targetPort") or port.get("port")))
                if local is None:
                    continue
                hosts = [f"{svc}.{ns}.svc.cluster.local", f"{svc}.{ns}.svc", f"{svc}.{ns}"]
                if ns == namespace:
                    hosts.append(svc)
                for host in hosts:
                    escaped = re.escape(host)
                    text = re.sub(
                        rf"(?<![\w.-]){escaped}:{int(port['port'])}(?![\w.-]|\d)",
                        f"127.0.0.1:{local}",
                        text,
                    )
                    if int(port["port"]) == 80:
                        text = re.sub(
                            rf"(http://){escaped}(?=[/\s\"']|$)", rf"\g<1>127.0.0.1:{local}", text
                        )
        return text

    def _service_target(self, service: dict[str, Any]) -> dict[int, int]:
        selector = (service.get("spec") or {}).get("selector") or {}
        namespace = service["metadata"].get("namespace", "default")
        if not selector:
            return {}
        with self._lock:
            runs = [r for r in self._pods.values() if r.namespace == namespace and r.ports]
        for run in sorted(runs, key=lambda r: not r.ready):
            pod = self.api.get("pods", run.name, namespace)
            labels = (pod or {}).get("metadata", {}).get("labels") or {}
            if pod is not None and all(labels.get(k) == v for k, v in selector.items()):
                return dict(run.ports)
        return {}

    def _read_log(self, run: PodRun, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        last = 0.0
        for raw in iter(process.stdout.readline, b""):
            run.log.append(raw.decode("utf-8", "replace"))
            if time.monotonic() - last > 0.05:
                self._flush_log(run)
                last = time.monotonic()
        process.stdout.close()

    def _flush_log(self, run: PodRun) -> None:
        with self.api._lock:
            pod = self.api.get("pods", run.name, run.namespace)
            if pod is not None and pod["metadata"].get("uid") == run.uid:
                self.api.set_pod_log(run.namespace, run.name, "".join(run.log))

    # -- deletion, deadlines, TTL ---------------------------------------------------------------
    def _monitor(self) -> None:
        while not self._stopping.wait(0.05):
            with self._lock:
                runs = list(self._pods.values())
                jobs = list(self._jobs.items())
            self._reap()
            for run in runs:
                pod = self.api.get("pods", run.name, run.namespace)
                if pod is None or pod["metadata"].get("uid") != run.uid:
                    continue
                deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
                if (
                    deadline is not None
                    and run.owner is None
                    and run.started
                    and not run.done
                    and time.monotonic() - run.started > float(deadline)
                ):
                    run.done = True
                    run.deadline_hit = True
                    self._kill(run)
                    self._modify("pods", run.namespace, run.name, run.uid, _deadline_exceeded)
                    self._event(
                        run.namespace,
                        self._ref(pod),
                        "DeadlineExceeded",
                        "Pod was active on the node longer than the specified deadline",
                        type_="Warning",
                    )
            for (namespace, name), entry in jobs:
                if time.monotonic() < entry["at"]:
                    continue
                with self._lock:
                    self._jobs.pop((namespace, name), None)
                job = self.api.get("jobs", name, namespace)
                if job is not None and job["metadata"].get("uid") == entry["uid"]:
                    self.api.remove("jobs", name, namespace)
                    for pod in self.api.objects("pods", namespace):
                        owners = pod["metadata"].get("ownerReferences") or []
                        if any(o.get("uid") == entry["uid"] for o in owners):
                            self.api.remove("pods", pod["metadata"]["name"], namespace)

    def _kill(self, run: PodRun) -> None:
        process = run.process
        if process is not None and process.poll() is None:
            _kill_group(process)


# -- helpers -------------------------------------------------------------------------------------
def _uid() -> str:
    import uuid

    return str(uuid.uuid4())


def _owner(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "name": meta["name"],
        "uid": meta.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _kill_group(process: subprocess.Popen[bytes], grace: float = 1.0) -> None:
    """SIGTERM to the process group (servers fork workers), SIGKILL after ``grace``."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):  # what the group still holds
        os.killpg(process.pid, signal.SIGKILL)


def _executable(argv: list[str]) -> list[str]:
    """The image's entry points as this machine has them."""
    name = os.path.basename(argv[0])
    if name == "preflight":
        return [sys.executable, "-m", "preflight", *argv[1:]]
    if name in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    return argv


def _rewrite_ports(text: str, ports: Mapping[int, int]) -> str:
    for container_port, local in ports.items():
        cp = str(container_port)
        if text == cp:
            return str(local)
        text = re.sub(rf"([=:]){cp}$", rf"\g<1>{local}", text)
    return text


def _probe_ready(run: PodRun, readiness: Mapping[str, Any] | None) -> bool:
    first = next(iter(run.ports.values()))
    http = (readiness or {}).get("httpGet")
    if http:
        port = run.ports.get(int(http.get("port") or 0), first)
        url = f"http://127.0.0.1:{port}{http.get('path') or '/'}"
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(url, timeout=0.5) as response:
                return 200 <= response.status < 400
        except Exception:  # noqa: BLE001 - not ready yet
            return False
    try:
        with socket.create_connection(("127.0.0.1", first), timeout=0.2):
            return True
    except OSError:
        return False


def _conditions(*, ready: bool, scheduled: bool) -> list[dict[str, Any]]:
    now = _now()
    state = "True" if ready else "False"
    return [
        {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": now},
        {"type": "Initialized", "status": "True", "lastTransitionTime": now},
        {"type": "Ready", "status": state, "lastTransitionTime": now},
        {"type": "ContainersReady", "status": state, "lastTransitionTime": now},
        {
            "type": "PodScheduled",
            "status": "True" if scheduled else "False",
            "lastTransitionTime": now,
        },
    ]


def _container_status(
    container: Mapping[str, Any], state: dict[str, Any], restarts: int
) -> dict[str, Any]:
    image = str(container.get("image") or "")
    return {
        "name": container.get("name", "main"),
        "image": image,
        "imageID": "",
        "ready": False,
        "started": "running" in state,
        "restartCount": restarts,
        "state": state,
        "lastState": {},
    }


def _restarts(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    return int(statuses[0].get("restartCount") or 0)


def _deadline_exceeded(pod: dict[str, Any]) -> None:
    pod["status"].update(
        {
            "phase": "Failed",
            "reason": "DeadlineExceeded",
            "message": "Pod was active on the node longer than the specified deadline",
        }
    )


def _pod_requests(pod: Mapping[str, Any]) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        for key, value in requests.items():
            total[key] = total.get(key, Decimal(0)) + parse_quantity(value)
    return total


def _tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    operator = toleration.get("operator", "Equal")
    if not toleration.get("key"):
        return operator == "Exists"
    if toleration["key"] != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return str(toleration.get("value", "")) == str(taint.get("value", ""))


def _affinity_matches(spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    return any(
        all(_expression(e, labels) for e in term.get("matchExpressions") or [])
        and all(_expression(e, fields) for e in term.get("matchFields") or [])
        for term in terms
    )


def _expression(expr: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    key, operator = expr.get("key", ""), expr.get("operator", "In")
    wanted = [str(v) for v in expr.get("values") or []]
    present = key in values
    if operator == "In":
        return present and values[key] in wanted
    if operator == "NotIn":
        return not present or values[key] not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    return False
