"""Running preflight's own pods in the cluster, and leaving nothing behind.

Checks that need to look from inside the cluster (a probe on every node pool, a smoke inference
service) use this runtime; it knows nothing of any one check. What it guarantees:

- **One namespace per run**, ``preflight-<run id>``, labelled ``app.kubernetes.io/managed-by=
  preflight`` and ``preflight.io/run-id=<id>``, with its creation time and the time after which
  it is surely a leftover as annotations. Every object created goes in it with the same labels,
  so deleting the namespace removes everything; the session does that when the run ends however
  it ends (``Context.on_cleanup``), and ``preflight cleanup`` finds what a killed run left.
- **Least privilege**: the caller needs only the ClusterRole ``preflight-runner`` (create a
  namespace, create a RoleBinding to ``preflight-run``). Everything else is granted by that
  RoleBinding *inside the run's namespace*: Kubernetes authorizes a request for a namespace
  object with the namespace attribute set to its name, so even ``delete namespaces`` there allows
  deleting that one namespace only (deploy/rbac-runner.yaml).
- **Pods that run anywhere reasonable**: restricted Pod Security profile, small requests and
  limits, no service-account token, a deadline on everything that can have one; image, pull
  secrets, node selector, tolerations and proxy from ``--set`` (``PARAMETERS``).
- **Failures told plainly**: ``wait_*`` return an ``Outcome`` (phase, node, reason, message,
  exit code, the pod's recent Events, the last log lines) and ``explain`` turns an outcome or a
  refused create into a message and a remediation (image pulls, scheduling, quota, Pod Security
  and other admission, crash loops, timeouts).
- ``--dry-run``: nothing is applied; every manifest is recorded (``Context.manifests``) and the
  session prints them.

A check uses it like this::

    from preflight.api import KubeError, explain, job_manifest, run_namespace

    ns = run_namespace(ctx)
    try:
        ns.apply(job_manifest(ctx, "probe", preflight_command("probe"), args=["--json"]))
    except KubeError as exc:
        message, fix = explain(exc)
        ...
    outcome = ns.wait_job("probe", timeout=120)
    if not outcome.ok:
        message, fix = explain(outcome)
    else:
        text = ns.logs(outcome.pod)
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import json
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from preflight import __version__
from preflight.clients.kube import KubeError, path_for
from preflight.plugin import Fact

if TYPE_CHECKING:
    from preflight.clients.kube import KubeClient
    from preflight.context import Context

MANAGED_BY = "app.kubernetes.io/managed-by"
RUN_ID = "preflight.io/run-id"
COMPONENT = "preflight.io/component"
CREATED_AT = "preflight.io/created-at"
EXPIRES_AT = "preflight.io/expires-at"
NAMESPACE_PREFIX = "preflight-"
#: the ClusterRole a run binds (with a RoleBinding) inside its own namespace only
RUN_ROLE = "preflight-run"
#: where ``--set image_pull_secrets=NAME`` Secrets are copied from (deploy/rbac-runner.yaml)
PULL_SECRETS_NAMESPACE = "preflight"
#: the ServiceAccount of deploy/rbac.yaml: the subject when no SelfSubjectReview answers in-cluster
DEFAULT_SERVICE_ACCOUNT = ("preflight", "preflight")
PROXY_SECRET = "preflight-proxy"
CONTAINER = "preflight"

#: No image is published yet: build it from the repository's Dockerfile, push it to a registry
#: the nodes can pull from (air-gapped and China users mirror it), and pass
#: ``--set probe_image=REGISTRY/preflight:VERSION``. The default is an unqualified name on
#: purpose: ``docker.io/library`` holds only official images, so nobody can publish a look-alike
#: under it (a user namespace on a public registry could be squatted), and a cluster that
#: preloaded the image (``kind load docker-image``) runs it with pull policy IfNotPresent.
DEFAULT_IMAGE = f"preflight:{__version__}"
#: how a pod starts preflight: the image's ENTRYPOINT form, so no console-script shebang has to
#: be valid inside the distroless image
PREFLIGHT_COMMAND = ("python3", "-m", "preflight")


def preflight_command(*subcommand: str) -> list[str]:
    """``preflight_command("probe")`` -> ``["python3", "-m", "preflight", "probe"]``."""
    return [*PREFLIGHT_COMMAND, *subcommand]


#: ``--set`` parameters the runtime reads (registered with the known parameters of every run)
PARAMETERS: dict[str, str] = {
    "probe_image": f"image of preflight's in-cluster pods (default {DEFAULT_IMAGE}; build it "
    "and push it to a registry the nodes can pull from)",
    "image_pull_secrets": "comma list of pull Secrets for probe_image, NAME (in namespace "
    f"{PULL_SECRETS_NAMESPACE}) or NAMESPACE/NAME; copied into the run's namespace",
    "probe_node_selector": "comma list of key=value node labels preflight's pods must run on",
    "probe_tolerations": "comma list of taints preflight's pods tolerate: key[=value][:Effect], "
    "or * for every taint",
    "probe_proxy": "HTTP(S) proxy URL for preflight's probe pods, or none (default: whatever "
    "the platform injects into pods, e.g. AKS's httpProxyConfig; never this machine's proxy)",
}

#: what the pods ask for: enough for a Python process doing network probes
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}
#: NO_PROXY entries added for pods: in-cluster names and loopback must never go to a proxy
IN_CLUSTER_NO_PROXY = ("localhost", "127.0.0.1", ".svc", ".cluster.local", "kubernetes.default")

_EFFECTS = {e.lower(): e for e in ("NoSchedule", "PreferNoSchedule", "NoExecute")}
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_KEY_RE = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")

_PLURALS: dict[str, tuple[str, str]] = {
    "Pod": ("v1", "pods"),
    "Service": ("v1", "services"),
    "Secret": ("v1", "secrets"),
    "ConfigMap": ("v1", "configmaps"),
    "Job": ("batch/v1", "jobs"),
    "Deployment": ("apps/v1", "deployments"),
}

# waiting reasons a pod does not leave without a change: waiting longer only costs time
_STUCK_WAITING = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
}
_PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}


# -- parameters ----------------------------------------------------------------------------------
def parse_node_selector(text: str | None) -> dict[str, str]:
    """``"agentpool=gpu,kubernetes.io/os=linux"`` -> dict (ValueError with the bad entry)."""
    selector: dict[str, str] = {}
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _LABEL_KEY_RE.match(key) or not _LABEL_VALUE_RE.match(value):
            raise ValueError(f"{item!r} is not a node label key=value")
        selector[key] = value
    return selector


def parse_tolerations(text: str | None) -> list[dict[str, str]]:
    """``"sku=gpu:NoSchedule,dedicated,*"`` -> Kubernetes tolerations.

    ``key=value:Effect`` tolerates that taint; ``key=value`` any effect of it; ``key`` or
    ``key:Effect`` any value; ``*`` every taint."""
    tolerations: list[dict[str, str]] = []
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        if item == "*":
            tolerations.append({"operator": "Exists"})
            continue
        body, effect = item, ""
        head, colon, tail = item.rpartition(":")
        if colon:
            if tail.strip().lower() not in _EFFECTS:
                raise ValueError(
                    f"{item!r}: unknown taint effect {tail!r} (NoSchedule, PreferNoSchedule, "
                    "NoExecute)"
                )
            body, effect = head, _EFFECTS[tail.strip().lower()]
        key, eq, value = body.partition("=")
        key, value = key.strip(), value.strip()
        if not key or not _LABEL_KEY_RE.match(key) or not _LABEL_VALUE_RE.match(value):
            raise ValueError(f"{item!r} is not a toleration key[=value][:Effect]")
        toleration = {"key": key, "operator": "Equal" if eq else "Exists"}
        if eq:
            toleration["value"] = value
        if effect:
            toleration["effect"] = effect
        tolerations.append(toleration)
    return tolerations


def parse_pull_secrets(text: str | None) -> list[tuple[str, str]]:
    """``"regcred,infra/mirror"`` -> [(namespace, name)] (bare names: namespace preflight)."""
    secrets: list[tuple[str, str]] = []
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        namespace, slash, name = item.rpartition("/")
        namespace = namespace if slash else PULL_SECRETS_NAMESPACE
        for part in (namespace, name):
            if not _NAME_RE.match(part) or len(part) > 253:
                raise ValueError(f"{item!r} is not a Secret name (or NAMESPACE/NAME)")
        secrets.append((namespace, name))
    return secrets


def validate_parameters(values: Mapping[str, str]) -> None:
    """Check the runtime's ``--set`` values before a run starts (ValueError: one line)."""
    image = values.get("probe_image")
    if image is not None and (not image.strip() or any(c.isspace() for c in image.strip())):
        raise ValueError(f"--set probe_image={image}: not an image reference")
    for key, parse in (
        ("probe_node_selector", parse_node_selector),
        ("probe_tolerations", parse_tolerations),
        ("image_pull_secrets", parse_pull_secrets),
    ):
        if values.get(key):
            try:
                parse(values[key])
            except ValueError as exc:
                raise ValueError(f"--set {key}={values[key]}: {exc}") from None
    proxy = values.get("probe_proxy")
    if proxy and proxy.strip().lower() != "none":
        from preflight.clients.net import Proxy

        Proxy.from_url(proxy, "--set probe_proxy")  # UsageError with the reason


# -- proxies -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PodProxy:
    """The proxy environment preflight's pods get, and whether it holds credentials."""

    https: str | None
    http: str | None
    no_proxy: str

    @property
    def has_credentials(self) -> bool:
        return any(u and urlsplit(u if "://" in u else "http://" + u).password for u in self.urls)

    @property
    def urls(self) -> list[str]:
        return [u for u in (self.https, self.http) if u]


#: the pod annotation that keeps AKS from injecting its httpProxyConfig into a pod
#: (https://learn.microsoft.com/azure/aks/http-proxy)
NO_PROXY_VARS_ANNOTATION = "kubernetes.azure.com/no-http-proxy-vars"
#: tells ``preflight probe`` where its proxy variables came from (reported with each finding)
PROXY_SOURCE_ENV = "PREFLIGHT_PROXY_SOURCE"


def pod_proxy(ctx: Context, policy: str = "cluster") -> PodProxy | None:
    """The proxy preflight itself puts into a pod: only ``--set probe_proxy=URL``.

    By default (``policy="cluster"``) a pod gets what the platform gives every pod (AKS injects
    its ``httpProxyConfig`` through an admission webhook), so probes measure the cluster's path,
    never this machine's ``--proxy`` or environment. ``policy="none"`` (pods whose traffic stays
    inside the cluster) and ``--set probe_proxy=none`` opt the pod out of that injection."""
    explicit = (ctx.param("probe_proxy") or "").strip()
    if policy == "none" or not explicit or explicit.lower() == "none":
        return None
    return PodProxy(explicit, explicit, ",".join(IN_CLUSTER_NO_PROXY))


def proxy_source(ctx: Context, policy: str = "cluster") -> str:
    """``probe_proxy`` (preflight set it), ``none`` (opted out) or ``platform`` (whatever the
    cluster injects, possibly nothing)."""
    explicit = (ctx.param("probe_proxy") or "").strip().lower()
    if policy == "none" or explicit == "none":
        return "none"
    return "probe_proxy" if explicit else "platform"


def _proxy_env(proxy: PodProxy | None) -> list[dict[str, Any]]:
    """Both spellings of each variable: curl reads only the lower-case ones, Go the upper."""
    if proxy is None:
        return []
    env: list[dict[str, Any]] = []
    for name, value in (("HTTPS_PROXY", proxy.https), ("HTTP_PROXY", proxy.http)):
        if not value:
            continue
        for spelled in (name, name.lower()):
            if proxy.has_credentials:  # never a password in a pod spec: from a Secret
                ref = {"secretKeyRef": {"name": PROXY_SECRET, "key": name}}
                env.append({"name": spelled, "valueFrom": ref})
            else:
                env.append({"name": spelled, "value": value})
    for spelled in ("NO_PROXY", "no_proxy"):
        env.append({"name": spelled, "value": proxy.no_proxy})
    return env


# -- manifests -----------------------------------------------------------------------------------
def _check_name(name: str, limit: int = 52) -> None:
    if not _NAME_RE.match(name) or len(name) > limit:
        raise ValueError(
            f"{name!r} is not a valid name for preflight's objects (lower-case letters, digits "
            f"and '-', at most {limit} characters)"
        )


def labels_for(ctx: Context, name: str | None = None) -> dict[str, str]:
    """The labels everything a run creates carries (plus the component, for selectors)."""
    labels = {
        "app.kubernetes.io/name": "preflight",
        MANAGED_BY: "preflight",
        RUN_ID: ctx.run_id,
    }
    if name:
        labels[COMPONENT] = name
    return labels


def selector_for(name: str) -> dict[str, str]:
    """The pod selector of the workload ``name`` (a Deployment's, and its Service's)."""
    return {"app.kubernetes.io/name": "preflight", COMPONENT: name}


def _deadline_seconds(ctx: Context, given: float | None) -> int:
    """Long enough for the run, short enough that a killed preflight leaves nothing running."""
    if given is not None:
        return max(1, math.ceil(given))
    return max(60, math.ceil(ctx.remaining()) + 30)


def pod_template(
    ctx: Context,
    name: str,
    command: Sequence[str],
    *,
    args: Sequence[str] = (),
    node_selector: Mapping[str, str] | None = None,
    node_name: str | None = None,
    tolerations: Iterable[Mapping[str, Any]] | None = None,
    env: Mapping[str, str] | None = None,
    resources: Mapping[str, Mapping[str, str]] | None = None,
    service_account: str | None = None,
    ports: Sequence[int] = (),
    readiness_path: str | None = None,
    restart_policy: str = "Never",
    proxy: str = "cluster",
) -> dict[str, Any]:
    """A PodTemplateSpec (``{"metadata", "spec"}``) for one container running ``command``.

    - image ``--set probe_image`` (default ``DEFAULT_IMAGE``), pull secrets
      ``--set image_pull_secrets`` (copied into the run's namespace by ``RunNamespace``);
    - ``node_selector`` merged over ``--set probe_node_selector`` and ``kubernetes.io/os=linux``;
      ``node_name`` pins the pod to one node through node affinity on ``metadata.name`` (as the
      DaemonSet controller does), so the scheduler still explains a refusal and taints still
      count; ``tolerations`` added to ``--set probe_tolerations``;
    - ``proxy``: ``cluster`` (the default) leaves the proxy to the platform (AKS injects its
      ``httpProxyConfig``) unless ``--set probe_proxy`` names one; ``none`` opts the pod out
      (for traffic that stays in the cluster); ``env`` on top;
    - the restricted Pod Security profile: non-root uid 65532, no privilege escalation, every
      capability dropped, RuntimeDefault seccomp, read-only root file system (``/tmp`` is an
      emptyDir);
    - ``resources`` (default ``DEFAULT_RESOURCES``), no service-account token unless
      ``service_account`` is given (it must exist in the run's namespace), no service links;
    - ``ports``: container ports, the first with an HTTP readiness probe on ``readiness_path``.
    """
    _check_name(name)
    if not command:
        raise ValueError("a container needs a command")
    selector = {"kubernetes.io/os": "linux"}
    selector.update(parse_node_selector(ctx.param("probe_node_selector")))
    selector.update(node_selector or {})
    all_tolerations = parse_tolerations(ctx.param("probe_tolerations"))
    all_tolerations += [dict(t) for t in tolerations or ()]
    container_env = _proxy_env(pod_proxy(ctx, proxy))
    container_env.append({"name": PROXY_SOURCE_ENV, "value": proxy_source(ctx, proxy)})
    container_env.append({"name": "PYTHONDONTWRITEBYTECODE", "value": "1"})
    for key, value in (env or {}).items():
        container_env = [e for e in container_env if e["name"] != key]
        container_env.append({"name": key, "value": str(value)})
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": ctx.param("probe_image") or DEFAULT_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": [str(c) for c in command],
        "args": [str(a) for a in args],
        "env": container_env,
        "resources": copy.deepcopy(dict(resources or DEFAULT_RESOURCES)),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if ports:
        container["ports"] = [{"containerPort": int(p), "protocol": "TCP"} for p in ports]
        if readiness_path:
            container["readinessProbe"] = {
                "httpGet": {"path": readiness_path, "port": int(ports[0])},
                "periodSeconds": 2,
                "failureThreshold": 3,
            }
    spec: dict[str, Any] = {
        "restartPolicy": restart_policy,
        "automountServiceAccountToken": bool(service_account),
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 5,
        "nodeSelector": selector,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }
    if service_account:
        spec["serviceAccountName"] = service_account
    if all_tolerations:
        spec["tolerations"] = all_tolerations
    if node_name:
        term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
            }
        }
    pull = parse_pull_secrets(ctx.param("image_pull_secrets"))
    if pull:
        spec["imagePullSecrets"] = [{"name": secret} for _, secret in pull]
    metadata: dict[str, Any] = {"labels": labels_for(ctx, name)}
    if proxy_source(ctx, proxy) != "platform":
        metadata["annotations"] = {NO_PROXY_VARS_ANNOTATION: "true"}
    return {"metadata": metadata, "spec": spec}


def pod_manifest(
    ctx: Context,
    name: str,
    command: Sequence[str],
    *,
    active_deadline_s: float | None = None,
    **template: Any,
) -> dict[str, Any]:
    """A bare Pod (restartPolicy Never) with ``activeDeadlineSeconds``: it ends by itself even
    when preflight is killed. Keyword arguments as ``pod_template``."""
    built = pod_template(ctx, name, command, **template)
    built["spec"]["activeDeadlineSeconds"] = _deadline_seconds(ctx, active_deadline_s)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **built["metadata"]},
        "spec": built["spec"],
    }


def job_manifest(
    ctx: Context,
    name: str,
    command: Sequence[str],
    *,
    active_deadline_s: float | None = None,
    ttl_s: int = 300,
    **template: Any,
) -> dict[str, Any]:
    """A Job that runs ``command`` once (``backoffLimit: 0``: a failure is a finding, not a
    retry) and ends by itself: ``activeDeadlineSeconds`` (default: the run's remaining time
    plus 30 s) stops it, ``ttlSecondsAfterFinished`` removes it and its pod. Keyword arguments
    as ``pod_template``."""
    built = pod_template(ctx, name, command, **template)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": dict(built["metadata"]["labels"])},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": _deadline_seconds(ctx, active_deadline_s),
            "ttlSecondsAfterFinished": int(ttl_s),
            "template": built,
        },
    }


def deployment_manifest(
    ctx: Context,
    name: str,
    command: Sequence[str],
    *,
    replicas: int = 1,
    **template: Any,
) -> dict[str, Any]:
    """A Deployment of ``replicas`` pods (selected by ``selector_for(name)``). Deployments
    cannot carry a deadline: a long-lived server should take an exit-after argument so a
    killed preflight still leaves nothing running. Keyword arguments as ``pod_template``."""
    built = pod_template(ctx, name, command, restart_policy="Always", **template)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(built["metadata"]["labels"])},
        "spec": {
            "replicas": int(replicas),
            "selector": {"matchLabels": selector_for(name)},
            "template": built,
        },
    }


def service_manifest(
    ctx: Context,
    name: str,
    *,
    port: int,
    target_port: int | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """A ClusterIP Service ``name`` in front of the pods of workload ``target`` (default:
    ``name``); reach it at ``RunNamespace.service_url(name, port)``."""
    _check_name(name, 63)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels_for(ctx, name)},
        "spec": {
            "type": "ClusterIP",
            "selector": selector_for(target or name),
            "ports": [
                {
                    "name": "http",
                    "port": int(port),
                    "targetPort": int(target_port or port),
                    "protocol": "TCP",
                }
            ],
        },
    }


# -- outcomes ------------------------------------------------------------------------------------
@dataclass
class EventRecord:
    """One Kubernetes Event about the object waited on (or its pod)."""

    type: str
    reason: str
    message: str
    object: str  # "Pod/probe-x7k2p"
    count: int = 1
    last: str = ""

    def line(self) -> str:
        times = f" (x{self.count})" if self.count > 1 else ""
        return f"{self.type} {self.reason} {self.object}: {self.message}{times}"


@dataclass
class Outcome:
    """How a wait ended. ``ok`` when the object reached the state asked for; otherwise
    ``reason`` says why in Kubernetes' terms (``ErrImagePull``, ``ImagePullBackOff``,
    ``Unschedulable``, ``CrashLoopBackOff``, ``Error``, ``OOMKilled``, ``DeadlineExceeded``,
    ``BackoffLimitExceeded``, ``FailedCreate``, ``Evicted``, ``Completed`` (ended while it
    should serve), ``Timeout``, ``Cancelled``, ``Deleted``, ``DryRun``) and ``explain`` says
    what to change. ``Cancelled`` (the run was interrupted) concludes nothing about the
    cluster: report it as ``Status.ERROR``; ``DryRun`` as ``Status.SKIP``."""

    ok: bool
    kind: str  # Pod | Job | Deployment
    name: str
    namespace: str
    reason: str = ""
    message: str = ""
    pod: str | None = None
    phase: str = ""
    node: str | None = None
    exit_code: int | None = None
    restarts: int = 0
    image: str = ""
    #: what the wait was stuck in when it timed out ("Pending: ContainerCreating", ...)
    state: str = ""
    events: list[EventRecord] = field(default_factory=list)
    log_tail: str = ""
    waited_s: float = 0.0
    timed_out: bool = False
    #: the pod's spec as applied (node selector, tolerations, requests) for explanations
    pod_spec: dict[str, Any] = field(default_factory=dict, repr=False)

    def details(self) -> dict[str, Any]:
        """A JSON-ready summary for a finding's ``details``."""
        data = asdict(self)
        data.pop("pod_spec", None)
        data["events"] = [e.line() for e in self.events]
        return {k: v for k, v in data.items() if v not in (None, "", [], 0) or k in ("ok",)}


# -- the run's namespace -------------------------------------------------------------------------
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
                from preflight.clients.net import redact_url

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
                if exc.kind == "forbidden" and _is_rbac_denial(exc.message) and fresh:
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
            pod = next((p for p in pods if not _pod_ready(p)), pods[0] if pods else None)
            return owner, pod, (False, "ProgressDeadlineExceeded", progressing.get("message") or "")
        not_ready = [p for p in pods if not _pod_ready(p)]
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
            term = _terminated(pod)
            if reason:  # Evicted, DeadlineExceeded, ...
                return False, reason, status.get("message") or ""
            if term:
                return False, term.get("reason") or "Error", term.get("message") or ""
            return False, "Failed", status.get("message") or ""
        if until == "Ready" and _pod_ready(pod):
            return True, "Ready", ""
        if not fail_fast:
            return None
        waiting = _waiting(pod)
        if waiting and waiting.get("reason") in _STUCK_WAITING:
            return False, waiting["reason"], waiting.get("message") or ""
        scheduled = _condition(pod, "PodScheduled")
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
            term = _terminated(pod) or _last_terminated(pod)
            if term and term.get("exitCode") is not None:
                outcome.exit_code = int(term["exitCode"])
            outcome.state = _describe_state(pod)
            names.append(outcome.pod)
        elif owner is not None:
            outcome.state = "without a pod"
        if self.ctx.cancelled.is_set():
            return outcome
        with contextlib.suppress(KubeError):
            outcome.events = [e for n in names for e in self.events(n)][-12:]
        if pod is not None and (
            outcome.exit_code is not None
            or _waiting_reason(pod) in ("CrashLoopBackOff", "RunContainerError")
            or (outcome.timed_out and outcome.phase == "Running")
        ):
            outcome.log_tail = self._tail(outcome.pod or "", pod)
        return outcome

    def _tail(self, pod_name: str, pod: dict[str, Any]) -> str:
        previous = _waiting_reason(pod) == "CrashLoopBackOff"
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


def who_am_i(kube: KubeClient) -> dict[str, str] | None:
    """The RBAC subject of the caller: a SelfSubjectReview, else (in a pod) the ServiceAccount
    of the mounted token, else preflight/preflight; None when nothing says (from outside the
    cluster with an API server that cannot answer: the caller then needs cluster-wide rights)."""
    try:
        review = kube.create(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        username = str(((review.get("status") or {}).get("userInfo") or {}).get("username") or "")
    except KubeError:
        username = ""
    if not username and kube.source == "in-cluster":
        username = _token_subject() or "system:serviceaccount:{}:{}".format(
            *DEFAULT_SERVICE_ACCOUNT
        )
    if not username:
        return None
    if username.startswith("system:serviceaccount:"):
        namespace, _, name = username[len("system:serviceaccount:") :].partition(":")
        return {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": username}


def _token_subject() -> str | None:
    from preflight.clients.kube import IN_CLUSTER_TOKEN

    try:
        with open(IN_CLUSTER_TOKEN, encoding="ascii") as handle:
            payload = handle.read().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        sub = claims.get("sub")
        return str(sub) if sub else None
    except (OSError, IndexError, ValueError):
        return None


def role_binding(namespace: str, subject: Mapping[str, str], labels: Mapping[str, str]) -> dict:
    """The RoleBinding that grants ``subject`` the run's verbs inside ``namespace`` only."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": RUN_ROLE, "namespace": namespace, "labels": dict(labels)},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": RUN_ROLE,
        },
        "subjects": [dict(subject)],
    }


# -- pod state helpers ---------------------------------------------------------------------------
def _condition(pod: Mapping[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return None


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    cond = _condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def _statuses(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("containerStatuses") or [])


def _waiting(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    for cs in _statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting:
            return dict(waiting)
    return None


def _waiting_reason(pod: Mapping[str, Any]) -> str:
    return str((_waiting(pod) or {}).get("reason") or "")


def _terminated(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    for cs in _statuses(pod):
        term = (cs.get("state") or {}).get("terminated")
        if term:
            return dict(term)
    return None


def _last_terminated(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    for cs in _statuses(pod):
        term = (cs.get("lastState") or {}).get("terminated")
        if term:
            return dict(term)
    return None


def _describe_state(pod: Mapping[str, Any]) -> str:
    """``Pending (Unschedulable)``, ``Pending (ContainerCreating)``, ``Running, not ready``."""
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    waiting = _waiting(pod)
    if waiting:
        return f"{phase} ({waiting.get('reason') or 'Waiting'})"
    scheduled = _condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        return f"{phase} ({scheduled.get('reason') or 'not scheduled'})"
    if phase == "Pending" and not _statuses(pod):
        return "Pending (ContainerCreating)" if scheduled else "Pending (not scheduled yet)"
    if phase == "Running" and not _pod_ready(pod):
        return "Running, not ready"
    return str(phase)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _is_rbac_denial(message: str) -> bool:
    return "cannot create resource" in message or "cannot get resource" in message


# -- explanations --------------------------------------------------------------------------------
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
    if reason in _PULL_REASONS or _event(outcome, "Failed", "pull"):
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


# -- leftovers (preflight cleanup) ---------------------------------------------------------------
@dataclass
class Leftover:
    """A namespace some run of preflight created."""

    name: str
    run_id: str
    created: dt.datetime | None
    expires: dt.datetime | None
    phase: str

    def age(self, now: dt.datetime) -> float | None:
        return (now - self.created).total_seconds() if self.created else None


def _parse_time(text: Any) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def find_leftovers(kube: KubeClient) -> list[Leftover]:
    """Namespaces labelled as a run's (managed-by=preflight *and* a run id, named preflight-*),
    never the install namespace of deploy/rbac.yaml, which carries no run id."""
    items = kube.list_fresh("/api/v1/namespaces", label_selector=f"{MANAGED_BY}=preflight,{RUN_ID}")
    found: list[Leftover] = []
    for item in items:
        meta = item.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name.startswith(NAMESPACE_PREFIX):
            continue
        annotations = meta.get("annotations") or {}
        found.append(
            Leftover(
                name=name,
                run_id=str((meta.get("labels") or {}).get(RUN_ID) or ""),
                created=_parse_time(annotations.get(CREATED_AT) or meta.get("creationTimestamp")),
                expires=_parse_time(annotations.get(EXPIRES_AT)),
                phase=str((item.get("status") or {}).get("phase") or ""),
            )
        )
    return sorted(found, key=lambda leftover: leftover.name)


def delete_leftover(kube: KubeClient, leftover: Leftover) -> None:
    """Delete a leftover namespace. A run's RoleBinding inside it allows its own identity to;
    another identity (or a run killed before it bound one) binds ``preflight-run`` there first,
    which the ClusterRole preflight-runner allows. Raises KubeError."""
    path = path_for("v1", "namespaces", None, leftover.name)
    try:
        kube.delete(path)
        return
    except KubeError as exc:
        if exc.kind != "forbidden":
            raise
        subject = who_am_i(kube)
        if subject is None:
            raise
        labels = {MANAGED_BY: "preflight", RUN_ID: leftover.run_id}
        binding = role_binding(leftover.name, subject, labels)
        binding["metadata"]["name"] = f"{RUN_ROLE}-cleanup"
        try:
            kube.create(
                path_for("rbac.authorization.k8s.io/v1", "rolebindings", leftover.name), binding
            )
        except KubeError as bind_error:
            if bind_error.kind != "conflict":
                raise exc from None
    ends = time.monotonic() + 10
    while True:  # the new RoleBinding takes a moment to reach the authorizer
        try:
            kube.delete(path)
            return
        except KubeError as exc:
            if exc.kind != "forbidden" or time.monotonic() > ends:
                raise
            time.sleep(0.5)


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``2h``, ``1d``, ``1h30m`` -> seconds (ValueError)."""
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return float(cleaned)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"{text!r} is not a duration (e.g. 30m, 2h, 1d)")
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(float(n) * units[u] for n, u in parts)
