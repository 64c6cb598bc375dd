"""Manifests of preflight's pods, Jobs, Deployments and Services: least privilege, the restricted
Pod Security profile, small requests, a deadline on everything that can carry one, and the
image, pull secrets, node placement and proxy of ``--set`` (kube/params.py).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from preflight.kube.image import CONTAINER, DEFAULT_IMAGE
from preflight.kube.labels import check_name, labels_for, selector_for
from preflight.kube.params import parse_node_selector, parse_pull_secrets, parse_tolerations
from preflight.kube.pod_proxy import pod_proxy, proxy_env, proxy_source
from preflight.probe_output import PROXY_SOURCE_ENV

if TYPE_CHECKING:
    from preflight.context import Context


#: what the pods ask for: enough for a Python process doing network probes
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}


def deadline_seconds(ctx: Context, given: float | None) -> int:
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
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A PodTemplateSpec (``{"metadata", "spec"}``) for one container running ``command``.

    - image ``--set probe_image`` (default ``DEFAULT_IMAGE``), pull secrets
      ``--set image_pull_secrets`` (copied into the run's namespace by ``RunNamespace``);
    - ``node_selector`` merged over ``--set probe_node_selector`` and ``kubernetes.io/os=linux``;
      ``node_name`` pins the pod to one node through node affinity on ``metadata.name`` (as the
      DaemonSet controller does), so the scheduler still explains a refusal and taints still
      count; ``tolerations`` added to ``--set probe_tolerations``;
    - ``proxy``: ``cluster`` (the default) leaves the proxy to the platform (whatever it injects
      into every pod) unless ``--set probe_proxy`` names one; ``none`` gives the pod no proxy
      (for traffic that stays in the cluster); ``env`` on top. A platform that injects a proxy
      must also be told to stay out when preflight chose (``proxy_source(ctx, proxy)`` is not
      ``platform``): that is the caller's ``annotations`` (the checks know the platform);
    - the restricted Pod Security profile: non-root uid 65532, no privilege escalation, every
      capability dropped, RuntimeDefault seccomp, read-only root file system (``/tmp`` is an
      emptyDir);
    - ``resources`` (default ``DEFAULT_RESOURCES``), no service-account token unless
      ``service_account`` is given (it must exist in the run's namespace), no service links;
    - ``ports``: container ports, the first with an HTTP readiness probe on ``readiness_path``.
    """
    check_name(name)
    if not command:
        raise ValueError("a container needs a command")
    selector = {"kubernetes.io/os": "linux"}
    selector.update(parse_node_selector(ctx.param("probe_node_selector")))
    selector.update(node_selector or {})
    all_tolerations = parse_tolerations(ctx.param("probe_tolerations"))
    all_tolerations += [dict(t) for t in tolerations or ()]
    container_env = proxy_env(pod_proxy(ctx, proxy))
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
    if annotations:
        metadata["annotations"] = dict(annotations)
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
    built["spec"]["activeDeadlineSeconds"] = deadline_seconds(ctx, active_deadline_s)
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
            "activeDeadlineSeconds": deadline_seconds(ctx, active_deadline_s),
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
    check_name(name, 63)
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
