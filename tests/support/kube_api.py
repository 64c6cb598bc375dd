"""A fake Kubernetes API server on loopback, speaking real HTTP/JSON to the real clients.

``FakeKubeApi`` is a threaded ``http.server`` holding an in-memory object store. The official
``kubernetes`` Python client (and ``kubectl``) talk to it through a kubeconfig it writes::

    from support.kube_api import FakeKubeApi, load_client
    from support.kube_objects import namespace, node, pod

    with FakeKubeApi([node("n1"), namespace("azureml")], version="v1.30.4") as api:
        client = load_client(api.kubeconfig(tmp_path / "kubeconfig"))
        kubernetes.client.CoreV1Api(client).list_node(limit=500)
        api.authorization_attributes()  # {("list", "", "nodes", "", "", "")}

What it serves, shaped like a real API server (Kubernetes 1.30):

- ``/version``, ``/healthz`` (``/livez``, ``/readyz``), legacy discovery ``/api``, ``/api/v1``,
  ``/apis``, ``/apis/<group>``, ``/apis/<group>/<version>`` (``APIResourceList`` with name,
  singularName, namespaced, kind, verbs, shortNames, subresources). Aggregated discovery is not
  offered; kubectl falls back to the legacy documents by itself.
- CRUD on every resource in ``BUILTIN_RESOURCES`` plus any registered custom resource
  (``register_resource`` or simply adding a ``CustomResourceDefinition`` object, which registers
  its served versions as a real server does): list (namespaced and across namespaces), get,
  create (``POST``: uid, resourceVersion, creationTimestamp, ``generateName``; 409
  AlreadyExists; 404 when the namespace is missing), update (``PUT`` with optimistic
  concurrency), patch (merge, strategic-merge approximated by merge, JSON patch, server-side
  apply approximated by create-or-merge), delete (object or ``Status``, as the real resource
  does), deletecollection, ``dryRun=All``, ``status`` subresources, ``pods/log``, and watch
  (``?watch=1``, chunked ``WatchEvent`` lines; ADDED/MODIFIED/DELETED as the store changes).
- List semantics: ``limit``/``continue`` pagination with opaque tokens, ``metadata.continue``,
  ``metadata.resourceVersion``, ``remainingItemCount``; ``labelSelector`` (``=``, ``==``,
  ``!=``, ``in``, ``notin``, ``key``, ``!key``, ``>``, ``<``); ``fieldSelector`` on the field
  labels the real server supports per resource (``metadata.name``, ``metadata.namespace``,
  ``spec.nodeName``, ``status.phase``, ...). List items carry no ``kind``/``apiVersion`` for
  built-in resources -- just like the real server (kubernetes/kubernetes#3030) -- while
  custom-resource items do.
- Authorization reviews: ``SelfSubjectAccessReview``, ``SelfSubjectRulesReview`` and
  ``SelfSubjectReview`` answered from the rules given to ``set_rbac`` (everything is allowed
  until then); with rules set, requests they do not allow get the real 403 Status.
- Errors are ``Status`` objects with the real reasons and message formats, so the client raises
  ``ApiException`` with the right ``status``, ``reason`` and ``body``.

Testing helpers: bearer ``token`` authentication (401 otherwise), fault injection
(``inject``: status, 429 with Retry-After, hang until ``stop()``, delay, dropped connection,
raw body), per-request records (``requests``, ``authorization_attributes()``,
``path_counts()``), pod logs (``set_pod_log``), reactions on create (``on_create``), optional
HTTPS with a trustme CA carried in the kubeconfig as ``certificate-authority-data``.

Objects are serialized once when stored; a list page is a join of cached bytes, so 5,000 nodes
in pages of 500 are served in milliseconds per page.

How the clients talk to it (worth knowing when writing tests):

- ``VersionApi().get_code()`` asks for ``/version/`` (trailing slash); kubectl for ``/version``.
- With the default ``Configuration.retries`` (None) urllib3 retries an idempotent request 3
  times after a read timeout or dropped connection: a hang costs 4 x ``_request_timeout``, 4
  requests reach the server, and the error is ``urllib3.exceptions.MaxRetryError`` (not
  ``ApiException``). ``retries=False`` gives one try and the bare ``ReadTimeoutError``. The REST
  client reads ``retries`` when the ``ApiClient`` is built, not per call.
- ``_preload_content=False`` returns the ``urllib3.HTTPResponse`` (``.data`` = JSON bytes) but
  still raises ``ApiException`` for non-2xx answers (kubernetes 37).
- The client uses ``HTTP(S)_PROXY`` from the environment, even for 127.0.0.1 (``load_client``
  adds loopback to ``no_proxy``).
- kubectl (client-go) never sends a bearer token over plain ``http://``
  (kubernetes/kubectl#744): with ``token=...`` serve ``tls=True`` for kubectl. It also caches
  discovery under ``$HOME/.kube/cache`` and asks for aggregated discovery first.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import collections
import contextlib
import copy
import datetime as dt
import gzip
import json
import os
import re
import secrets
import socket
import ssl
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import trustme
import yaml

from ._base import BackgroundServer

if TYPE_CHECKING:  # pragma: no cover
    import kubernetes.client

__all__ = [
    "ALL_VERBS",
    "BUILTIN_RESOURCES",
    "Fault",
    "FakeKubeApi",
    "KubeRequest",
    "LabelSelector",
    "FieldSelector",
    "Headers",
    "ResourceType",
    "exec_token_command",
    "iter_pages",
    "load_client",
    "status_object",
]

#: The verbs of an ordinary read-write resource, as discovery lists them.
ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)

#: Verbs per subresource, for discovery.
_SUBRESOURCE_VERBS: dict[str, tuple[str, ...]] = {
    "status": ("get", "patch", "update"),
    "scale": ("get", "patch", "update"),
    "log": ("get",),
    "exec": ("create", "get"),
    "eviction": ("create",),
    "binding": ("create",),
    "token": ("create",),
    "finalize": ("update",),
}

#: Subresources this fake actually serves (the others are listed by discovery only).
_SERVED_SUBRESOURCES = {"status", "log"}

#: The namespace subresources (``/api/v1/namespaces/<name>/status``), as the real server's
#: request-info parser treats them.
_NAMESPACE_SUBRESOURCES = {"status", "finalize"}

#: Non-resource URLs every authenticated user may GET (ClusterRole ``system:discovery`` and
#: ``system:public-info-viewer``).
_DISCOVERY_URLS = (
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
)

_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)

#: Field labels every resource supports in ``fieldSelector``.
_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


# -- resource catalogue --------------------------------------------------------------------------
@dataclass(frozen=True)
class ResourceType:
    """One resource of one group/version, as discovery describes it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    verbs: tuple[str, ...] = ALL_VERBS
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ("status",)
    categories: tuple[str, ...] = ()
    #: Extra field labels ``fieldSelector`` accepts (besides metadata.name/namespace).
    field_labels: frozenset[str] = frozenset()
    #: True: DELETE answers with the deleted object (pods, services, ...), else a Status.
    returns_deleted_object: bool = False
    #: Built-in (typed) resources omit kind/apiVersion on list items; custom resources do not.
    builtin: bool = True

    @property
    def api_version(self) -> str:
        """``v1`` or ``<group>/<version>``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``pods`` or ``deployments.apps``: how error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular(self) -> str:
        """The lower-case kind, as discovery's ``singularName``."""
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        """``<Kind>List``."""
        return self.kind + "List"


def _gv(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _r(
    api_version: str,
    plural: str,
    kind: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    *,
    sub: tuple[str, ...] = ("status",),
    verbs: tuple[str, ...] = ALL_VERBS,
    fields: Iterable[str] = (),
    returns_object: bool = False,
    categories: tuple[str, ...] = (),
) -> ResourceType:
    group, version = _gv(api_version)
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        verbs=verbs,
        short_names=short,
        subresources=sub,
        categories=categories,
        field_labels=frozenset(fields),
        returns_deleted_object=returns_object,
    )


_CREATE_ONLY = ("create",)
_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

#: Every built-in resource the fake serves, in the order discovery lists the groups.
BUILTIN_RESOURCES: tuple[ResourceType, ...] = (
    # core/v1
    _r("v1", "configmaps", "ConfigMap", short=("cm",), sub=()),
    _r("v1", "endpoints", "Endpoints", short=("ep",), sub=()),
    _r("v1", "events", "Event", short=("ev",), sub=(), fields=_EVENT_FIELDS),
    _r("v1", "limitranges", "LimitRange", short=("limits",), sub=()),
    _r(
        "v1",
        "namespaces",
        "Namespace",
        False,
        ("ns",),
        sub=("finalize", "status"),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        fields=("status.phase",),
        returns_object=True,
    ),
    _r("v1", "nodes", "Node", False, ("no",), fields=("spec.unschedulable",)),
    _r(
        "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), returns_object=True
    ),
    _r("v1", "persistentvolumes", "PersistentVolume", False, ("pv",), returns_object=True),
    _r(
        "v1",
        "pods",
        "Pod",
        short=("po",),
        sub=("binding", "eviction", "exec", "log", "status"),
        fields=_POD_FIELDS,
        returns_object=True,
        categories=("all",),
    ),
    _r("v1", "podtemplates", "PodTemplate", sub=(), returns_object=True),
    _r(
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        short=("rc",),
        sub=("scale", "status"),
        fields=("status.replicas",),
        categories=("all",),
    ),
    _r("v1", "resourcequotas", "ResourceQuota", short=("quota",), returns_object=True),
    _r("v1", "secrets", "Secret", sub=(), fields=("type",)),
    _r(
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        short=("sa",),
        sub=("token",),
        returns_object=True,
    ),
    _r("v1", "services", "Service", short=("svc",), returns_object=True, categories=("all",)),
    # apiregistration.k8s.io
    _r("apiregistration.k8s.io/v1", "apiservices", "APIService", False),
    # apps
    _r("apps/v1", "controllerrevisions", "ControllerRevision", sub=()),
    _r("apps/v1", "daemonsets", "DaemonSet", short=("ds",), categories=("all",)),
    _r(
        "apps/v1",
        "deployments",
        "Deployment",
        short=("deploy",),
        sub=("scale", "status"),
        categories=("all",),
    ),
    _r(
        "apps/v1",
        "replicasets",
        "ReplicaSet",
        short=("rs",),
        sub=("scale", "status"),
        fields=("status.replicas",),
        categories=("all",),
    ),
    _r(
        "apps/v1",
        "statefulsets",
        "StatefulSet",
        short=("sts",),
        sub=("scale", "status"),
        categories=("all",),
    ),
    # events.k8s.io
    _r("events.k8s.io/v1", "events", "Event", short=("ev",), sub=()),
    # authentication.k8s.io / authorization.k8s.io (create-only reviews)
    _r(
        "authentication.k8s.io/v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        False,
        sub=(),
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authentication.k8s.io/v1", "tokenreviews", "TokenReview", False, sub=(), verbs=_CREATE_ONLY
    ),
    _r(
        "authorization.k8s.io/v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        sub=(),
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authorization.k8s.io/v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        sub=(),
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authorization.k8s.io/v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        False,
        sub=(),
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authorization.k8s.io/v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        False,
        sub=(),
        verbs=_CREATE_ONLY,
    ),
    # autoscaling, batch
    _r(
        "autoscaling/v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short=("hpa",),
        categories=("all",),
    ),
    _r("batch/v1", "cronjobs", "CronJob", short=("cj",), categories=("all",)),
    _r("batch/v1", "jobs", "Job", fields=("status.successful",), categories=("all",)),
    # certificates.k8s.io, networking.k8s.io, policy
    _r(
        "certificates.k8s.io/v1",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        False,
        ("csr",),
        sub=("approval", "status"),
    ),
    _r("networking.k8s.io/v1", "ingressclasses", "IngressClass", False, sub=()),
    _r("networking.k8s.io/v1", "ingresses", "Ingress", short=("ing",)),
    _r("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", short=("netpol",), sub=()),
    _r("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",)),
    # rbac.authorization.k8s.io
    _r("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False, sub=()),
    _r("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False, sub=()),
    _r("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", sub=()),
    _r("rbac.authorization.k8s.io/v1", "roles", "Role", sub=()),
    # storage.k8s.io
    _r("storage.k8s.io/v1", "csidrivers", "CSIDriver", False, sub=(), returns_object=True),
    _r("storage.k8s.io/v1", "csinodes", "CSINode", False, sub=(), returns_object=True),
    _r(
        "storage.k8s.io/v1",
        "storageclasses",
        "StorageClass",
        False,
        ("sc",),
        sub=(),
        returns_object=True,
    ),
    _r("storage.k8s.io/v1", "volumeattachments", "VolumeAttachment", False, returns_object=True),
    # admissionregistration.k8s.io, apiextensions.k8s.io
    _r(
        "admissionregistration.k8s.io/v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
        sub=(),
    ),
    _r(
        "admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
        sub=(),
    ),
    _r(
        "apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
    ),
    # scheduling, coordination, node, discovery
    _r("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", False, ("pc",), sub=()),
    _r("coordination.k8s.io/v1", "leases", "Lease", sub=()),
    _r("node.k8s.io/v1", "runtimeclasses", "RuntimeClass", False, sub=()),
    _r("discovery.k8s.io/v1", "endpointslices", "EndpointSlice", sub=()),
)


# -- Status errors -------------------------------------------------------------------------------
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_object(
    code: int,
    reason: str | None = None,
    message: str = "",
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` ``Status`` (``status: Failure`` unless ``code`` is 2xx)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if 200 <= code < 300 else "Failure",
    }
    if message:
        body["message"] = message
    if reason or code >= 300:
        body["reason"] = reason or _REASONS.get(code, "Unknown")
    if details:
        body["details"] = dict(details)
    body["code"] = code
    return body


class KubeError(Exception):
    """Raised inside request handling; answered as a ``Status`` with ``code``."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    def status(self) -> dict[str, Any]:
        """The ``Status`` body."""
        return status_object(self.code, self.reason, self.message, self.details)


def _details(rtype: ResourceType | None, name: str = "") -> dict[str, Any]:
    if rtype is None:
        return {}
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if rtype.group:
        details["group"] = rtype.group
    details["kind"] = rtype.plural
    return details


def _not_found(rtype: ResourceType, name: str) -> KubeError:
    return KubeError(404, f'{rtype.qualified} "{name}" not found', details=_details(rtype, name))


def _no_such_resource() -> KubeError:
    return KubeError(404, "the server could not find the requested resource")


def _bad_request(message: str) -> KubeError:
    return KubeError(400, message)


class _Drop(Exception):
    """Close the connection without answering (injected fault or server stopping)."""


# -- selectors -----------------------------------------------------------------------------------
_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_CMP_RE = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=|>|<)\s*(?P<value>{_VALUE})\s*$")
_EXISTS_RE = re.compile(rf"^\s*(?P<neg>!?)\s*(?P<key>{_KEY})\s*$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class _Requirement:
    key: str
    op: str  # exists, !exists, =, !=, in, notin, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number = int(str(value))
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.op == "gt" else number < bound


class LabelSelector:
    """A parsed ``labelSelector`` (the string form the API accepts).

    ``LabelSelector("app=x,tier in (web, api),!legacy").matches({"app": "x", "tier": "web"})``
    """

    def __init__(self, text: str = "") -> None:
        self.text = text
        self.requirements: list[_Requirement] = []
        if not text.strip():
            return
        for part in _split_top_level(text):
            self.requirements.append(self._parse(part))

    @staticmethod
    def _parse(part: str) -> _Requirement:
        if match := _SET_RE.match(part):
            values = tuple(v.strip() for v in match["values"].split(",") if v.strip())
            if not values or not all(_VALUE_RE.match(v) for v in values):
                raise ValueError(f"unable to parse requirement: {part.strip()!r}")
            return _Requirement(match["key"], match["op"], values)
        if match := _CMP_RE.match(part):
            op = {"==": "=", "=": "=", "!=": "!=", ">": "gt", "<": "lt"}[match["op"]]
            value = match["value"] or ""
            if op in ("gt", "lt") and not re.fullmatch(r"-?\d+", value):
                raise ValueError(
                    f"unable to parse requirement: for 'gt', 'lt' operators, exactly one "
                    f"value is required and it must be an integer: {part.strip()!r}"
                )
            return _Requirement(match["key"], op, (value,))
        if match := _EXISTS_RE.match(part):
            return _Requirement(match["key"], "!exists" if match["neg"] else "exists")
        raise ValueError(f"unable to parse requirement: {part.strip()!r}")

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """True if every requirement holds for ``labels``."""
        labels = labels or {}
        return all(req.matches(labels) for req in self.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)


_FIELD_RE = re.compile(r"^\s*(?P<key>[A-Za-z0-9.]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*?)\s*$")


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    """The value of a field label as the server compares it (missing -> ``""``)."""
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    if path == "spec.unschedulable" and current is None:
        return "false"
    if path == "spec.hostNetwork" and current is None:
        return "false"
    if isinstance(current, bool):
        return "true" if current else "false"
    if path == "source" and isinstance(current, Mapping):  # events: source.component
        return str(current.get("component", ""))
    return "" if current is None else str(current)


class FieldSelector:
    """A parsed ``fieldSelector``: ``key=value``, ``key==value``, ``key!=value``, comma-joined."""

    def __init__(self, text: str = "") -> None:
        self.text = text
        self.terms: list[tuple[str, bool, str]] = []  # (field, equal?, value)
        if not text.strip():
            return
        for part in text.split(","):
            match = _FIELD_RE.match(part)
            if not match:
                raise ValueError(f"invalid selector: '{text}'; can't understand '{part}'")
            self.terms.append((match["key"], match["op"] != "!=", match["value"]))

    def check_supported(self, supported: Iterable[str]) -> None:
        """Raise ``ValueError`` like the server for a field label it does not index."""
        allowed = set(supported)
        for key, _, _ in self.terms:
            if key not in allowed:
                raise ValueError(f"field label not supported: {key}")

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """True if every term holds for ``obj``."""
        return all((_field_value(obj, key) == value) == equal for key, equal, value in self.terms)

    def name(self) -> str:
        """The name pinned by ``metadata.name=x`` (how the server authorizes such a list)."""
        for key, equal, value in self.terms:
            if key == "metadata.name" and equal:
                return value
        return ""

    def __bool__(self) -> bool:
        return bool(self.terms)


# -- request records and faults ------------------------------------------------------------------
class Headers(dict[str, str]):
    """Request headers with case-insensitive lookups (keys stored lower-case)."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass
class KubeRequest:
    """One request the server received, with its Kubernetes authorization attributes.

    ``verb`` is the authorization verb (get, list, watch, create, update, patch, delete,
    deletecollection) for resource requests, the lower-case HTTP method otherwise. Absent
    attributes are ``""`` (cluster scope: ``namespace == ""``; collections: ``name == ""``).
    """

    method: str
    path: str
    query: dict[str, list[str]]
    verb: str
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    user: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    status: int | None = None  # set when answered (None: dropped, hung, or still running)
    started: float = 0.0
    duration: float | None = None  # seconds from arrival until the answer was written

    @property
    def is_resource_request(self) -> bool:
        """True for ``/api/v1/...`` and ``/apis/<g>/<v>/...`` resource paths."""
        return bool(self.resource)

    @property
    def attributes(self) -> tuple[str, str, str, str, str, str]:
        """``(verb, api_group, resource, subresource, namespace, name)``."""
        return (
            self.verb,
            self.api_group,
            self.resource,
            self.subresource,
            self.namespace,
            self.name,
        )

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Fault:
    """An injected misbehaviour (see ``FakeKubeApi.inject``); ``hits`` counts its uses."""

    path: re.Pattern[str] | None = None
    resource: str | None = None  # "nodes", "pods/log", "deployments.apps", "*"
    method: str | None = None  # HTTP method
    verbs: frozenset[str] | None = None
    namespace: str | None = None
    name: str | None = None
    query: re.Pattern[str] | None = None
    status: int | None = None
    reason: str | None = None
    message: str | None = None
    retry_after: int | None = None
    hang: bool = False
    hang_seconds: float = 300.0
    delay: float = 0.0
    drop: bool = False
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None
    hits: int = 0

    def matches(self, req: KubeRequest) -> bool:
        """True if this fault applies to ``req`` (and has uses left)."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.path is not None and not self.path.search(req.path):
            return False
        if self.method is not None and req.method != self.method:
            return False
        if self.query is not None:
            raw = "&".join(f"{k}={v}" for k, vs in req.query.items() for v in vs)
            if not self.query.search(raw):
                return False
        if self.verbs is not None and req.verb not in self.verbs:
            return False
        if self.namespace is not None and req.namespace != self.namespace:
            return False
        if self.name is not None and req.name != self.name:
            return False
        if self.resource is not None and self.resource != "*":
            if not req.resource:
                return False
            spec, _, sub = self.resource.partition("/")
            plural, _, group = spec.partition(".")
            if plural != req.resource or sub != req.subresource:
                return False
            if group and group != req.api_group:
                return False
        return True


# -- object store --------------------------------------------------------------------------------
class _Entry:
    """A stored object and its cached JSON forms."""

    __slots__ = ("full", "item", "labels", "obj")

    def __init__(self, obj: dict[str, Any], item: bytes, full: bytes) -> None:
        self.obj = obj
        self.item = item  # as a list item
        self.full = full  # as a single object (with kind/apiVersion)
        self.labels: dict[str, str] = obj.get("metadata", {}).get("labels") or {}


class _Bucket:
    """All objects of one resource (all versions share it, as in etcd), keyed like etcd."""

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self._sorted: list[str] | None = []

    def sorted_keys(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.entries)
        return self._sorted

    def put(self, key: str, entry: _Entry) -> None:
        if key not in self.entries:
            self._sorted = None
        self.entries[key] = entry

    def pop(self, key: str) -> _Entry | None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self._sorted = None
        return entry


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


@dataclass
class _Event:
    rv: int
    bucket: tuple[str, str]
    type: str
    namespace: str
    entry: _Entry


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _json_pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, test, copy, move)."""
    if not isinstance(ops, list):
        raise ValueError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)

    def parent(pointer: list[str]) -> tuple[Any, str]:
        current = doc
        for part in pointer[:-1]:
            current = current[int(part)] if isinstance(current, list) else current[part]
        return current, pointer[-1]

    def get(pointer: list[str]) -> Any:
        current = doc
        for part in pointer:
            current = current[int(part)] if isinstance(current, list) else current[part]
        return current

    for op in ops:
        kind = op.get("op")
        pointer = _json_pointer(op.get("path", ""))
        try:
            if kind in ("add", "replace", "copy", "move"):
                if kind == "copy":
                    value = copy.deepcopy(get(_json_pointer(op["from"])))
                elif kind == "move":
                    src_parent, src_key = parent(_json_pointer(op["from"]))
                    value = (
                        src_parent.pop(int(src_key))
                        if isinstance(src_parent, list)
                        else src_parent.pop(src_key)
                    )
                else:
                    value = copy.deepcopy(op["value"])
                if not pointer:
                    doc = value
                    continue
                container, key = parent(pointer)
                if isinstance(container, list):
                    index = len(container) if key == "-" else int(key)
                    if kind == "replace":
                        container[index] = value
                    else:
                        container.insert(index, value)
                else:
                    if kind == "replace" and key not in container:
                        raise KeyError(key)
                    container[key] = value
            elif kind == "remove":
                container, key = parent(pointer)
                if isinstance(container, list):
                    container.pop(int(key))
                else:
                    del container[key]
            elif kind == "test":
                if get(pointer) != op.get("value"):
                    raise ValueError(f"test failed at {op.get('path')}")
            else:
                raise ValueError(f"unknown JSON patch operation {kind!r}")
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"JSON patch {kind} {op.get('path')}: {exc!r}") from exc
    return doc


# -- HTTP plumbing -------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the owning ``FakeKubeApi``."""

    disable_nagle_algorithm = True  # else ~40 ms per request (Nagle + delayed ACK)
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients' connection pools expect
    timeout = 60  # idle keep-alive connections are closed after this
    server: _Server

    def _dispatch(self) -> None:
        self.server.owner._handle(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def version_string(self) -> str:  # the real API server sends no Server header
        return ""

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "server" and not value:
            return
        super().send_header(keyword, value)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # keep test output clean


class _Server(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` whose per-connection threads are the owner's named daemons."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, owner: FakeKubeApi) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._spawn(
            self.owner._serve_connection,
            request,
            client_address,
            name=f"kube-api-{self.owner.port}",
        )


def exec_token_command(
    token: str,
    *,
    api_version: str = "client.authentication.k8s.io/v1",
    record: str | os.PathLike[str] | None = None,
    expires_in: float | None = None,
) -> list[str]:
    """argv of an ``exec`` credential plugin printing an ``ExecCredential`` with ``token``.

    ``record``: a file the plugin appends one line to per run (to count invocations).
    ``expires_in``: seconds until ``expirationTimestamp`` (omitted: never expires).
    """
    script = (
        "import datetime, json, sys\n"
        "token, api_version, record, expires = sys.argv[1:5]\n"
        "status = {'token': token}\n"
        "if expires:\n"
        "    when = datetime.datetime.now(datetime.timezone.utc)"
        " + datetime.timedelta(seconds=float(expires))\n"
        "    status['expirationTimestamp'] = when.strftime('%Y-%m-%dT%H:%M:%SZ')\n"
        "if record:\n"
        "    open(record, 'a').write('run\\n')\n"
        "print(json.dumps({'apiVersion': api_version, 'kind': 'ExecCredential',"
        " 'status': status}))\n"
    )
    return [
        sys.executable,
        "-c",
        script,
        token,
        api_version,
        str(record or ""),
        "" if expires_in is None else str(expires_in),
    ]


def load_client(
    kubeconfig: str | os.PathLike[str],
    *,
    context: str | None = None,
    **config: Any,
) -> kubernetes.client.ApiClient:
    """A fresh ``kubernetes.client.ApiClient`` for ``kubeconfig`` (no global default touched).

    Equivalent to ``load_kube_config(config_file=..., client_configuration=cfg)`` +
    ``ApiClient(cfg)``; ``config`` sets ``Configuration`` attributes *before* the client is
    built (``retries=False``, ``client_go_retries=True``: the REST client reads them only at
    construction). Close it (``with`` or ``.close()``) when done.

    The client takes ``HTTP(S)_PROXY`` from the environment even for 127.0.0.1, so loopback is
    added to ``no_proxy`` unless ``no_proxy=`` is given (a test of proxy behaviour passes
    ``no_proxy=""`` and ``proxy=...``).
    """
    import kubernetes.client
    import kubernetes.config

    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(
        config_file=str(kubeconfig), context=context, client_configuration=cfg
    )
    if "no_proxy" not in config:
        cfg.no_proxy = ",".join(filter(None, [cfg.no_proxy, "127.0.0.1", "localhost"]))
    for key, value in config.items():
        if not hasattr(cfg, key):
            raise AttributeError(f"kubernetes Configuration has no attribute {key!r}")
        setattr(cfg, key, value)
    return kubernetes.client.ApiClient(cfg)


_USE_SERVER_TOKEN = object()

# A create/update/patch hook: gets the object about to be stored, returns it (or None: as is).
CreateHook = Callable[[dict[str, Any]], dict[str, Any] | None]


class FakeKubeApi(BackgroundServer):
    """A threaded fake Kubernetes API server on 127.0.0.1 (see the module docstring).

    Construction arguments:

    - ``objects``: dicts to store before serving (``add``).
    - ``version``: ``gitVersion`` for ``/version`` (``major``/``minor`` derived);
      ``version_info`` overrides any ``/version`` field (e.g. ``{"minor": "30+"}``).
    - ``token``: require ``Authorization: Bearer <token>`` (401 otherwise); ``tokens`` maps
      more tokens to user names. ``user``/``groups``: who the caller is (forbidden messages,
      ``SelfSubjectReview``).
    - ``tls``: serve HTTPS with a leaf for 127.0.0.1/localhost signed by ``ca`` (a new
      ``trustme.CA`` if None); ``kubeconfig()`` then embeds ``certificate-authority-data``.
    - ``require_namespace``: creating a namespaced object via the API needs its namespace to
      exist (404 ``namespaces "x" not found``, the real NamespaceLifecycle admission). Seeding
      with ``add`` never checks.
    - ``watch_timeout``: seconds a watch without ``timeoutSeconds`` stays open.
    - ``compress``: gzip bodies over 128 KiB when the client sends ``Accept-Encoding: gzip``
      (the real server does; kubectl asks, the Python client does not).
    """

    def __init__(
        self,
        objects: Iterable[Mapping[str, Any]] = (),
        *,
        version: str = "v1.30.4",
        version_info: Mapping[str, str] | None = None,
        token: str | None = None,
        tokens: Mapping[str, str] | None = None,
        user: str = "kubernetes-admin",
        groups: Sequence[str] = ("system:masters", "system:authenticated"),
        tls: bool = False,
        ca: trustme.CA | None = None,
        require_namespace: bool = True,
        watch_timeout: float = 30.0,
        compress: bool = False,
    ) -> None:
        super().__init__()
        self.version = version
        self.version_info = dict(version_info or {})
        self.token = token
        self.tokens: dict[str, str] = dict(tokens or {})
        if token is not None:
            self.tokens.setdefault(token, user)
        self.user = user
        self.groups = list(groups)
        self.tls = tls
        self.ca: trustme.CA | None = (ca or trustme.CA()) if tls else ca
        self.require_namespace = require_namespace
        self.watch_timeout = watch_timeout
        self.compress = compress

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._kinds: dict[tuple[str, str], ResourceType] = {}
        self._group_order: list[str] = [""]
        self._buckets: dict[tuple[str, str], _Bucket] = collections.defaultdict(_Bucket)
        self._rv = 1000
        self._events: list[_Event] = []
        self._event_rvs: list[int] = []
        self._logs: dict[tuple[str, str, str | None, bool], str] = {}
        self._hooks: list[tuple[str, CreateHook]] = []
        self._faults: list[Fault] = []
        self._rbac: tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]] | None = None
        self._requests: list[KubeRequest] = []
        self._path_counts: collections.Counter[str] = collections.Counter()
        self._access_reviews: list[dict[str, Any]] = []
        self._server_errors: list[str] = []
        self._open: set[socket.socket] = set()
        self._server: _Server | None = None
        self._ssl_context: ssl.SSLContext | None = None

        for rtype in BUILTIN_RESOURCES:
            self._register(rtype)
        self.add(*objects)

    # -- addresses ------------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        """``https`` with ``tls=True``, else ``http``."""
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT`` (the kubeconfig's ``server``)."""
        return f"{self.scheme}://{self.host}:{self.port}"

    # -- resource types -------------------------------------------------------------------------
    def _register(self, rtype: ResourceType) -> None:
        with self._lock:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
            self._kinds.setdefault((rtype.group, rtype.kind), rtype)
            if rtype.group not in self._group_order:
                self._group_order.append(rtype.group)

    def register_resource(
        self,
        group: str,
        version: str,
        plural: str,
        kind: str,
        *,
        namespaced: bool = True,
        short_names: Sequence[str] = (),
        verbs: Sequence[str] = ALL_VERBS,
        subresources: Sequence[str] = ("status",),
        categories: Sequence[str] = (),
    ) -> ResourceType:
        """Serve a custom resource (listed by discovery, full CRUD), e.g.
        ``register_resource("monitoring.coreos.com", "v1", "prometheuses", "Prometheus")``.

        Adding a ``CustomResourceDefinition`` object does this for each served version.
        """
        rtype = ResourceType(
            group=group,
            version=version,
            plural=plural,
            kind=kind,
            namespaced=namespaced,
            verbs=tuple(verbs),
            short_names=tuple(short_names),
            subresources=tuple(subresources),
            categories=tuple(categories),
            builtin=False,
        )
        self._register(rtype)
        return rtype

    def unregister_resource(self, group: str, plural: str) -> None:
        """Stop serving every version of ``plural.group`` and drop its objects."""
        with self._lock:
            for key in [k for k in self._types if k[0] == group and k[2] == plural]:
                rtype = self._types.pop(key)
                if self._kinds.get((group, rtype.kind)) is rtype:
                    del self._kinds[(group, rtype.kind)]
            self._buckets.pop((group, plural), None)
            if group and not any(k[0] == group for k in self._types):
                self._group_order.remove(group)

    def resource_types(self) -> list[ResourceType]:
        """Every served resource type."""
        with self._lock:
            return list(self._types.values())

    def resolve(self, resource: str, group: str | None = None) -> ResourceType:
        """The type for ``"nodes"``, ``"deployments.apps"``, ``"Deployment"`` or a short name
        (core group first, like kubectl); ``KeyError`` if none."""
        plural, _, dotted_group = resource.partition(".")
        if group is None and dotted_group:
            group = dotted_group
        with self._lock:
            candidates = sorted(
                self._types.values(),
                key=lambda t: (self._group_order.index(t.group), t.version),
            )
        for rtype in candidates:
            if group is not None and rtype.group != group:
                continue
            if plural in (rtype.plural, rtype.kind, rtype.singular) or plural in rtype.short_names:
                return rtype
        raise KeyError(f"no resource {resource!r}" + (f" in group {group!r}" if group else ""))

    def _type_for(self, obj: Mapping[str, Any]) -> ResourceType:
        api_version = obj.get("apiVersion") or ""
        kind = obj.get("kind") or ""
        group, version = _gv(api_version)
        with self._lock:
            served = [t for t in self._types.values() if (t.group, t.version) == (group, version)]
        for rtype in served:
            if rtype.kind == kind:
                return rtype
        hint = "add its CRD first or call register_resource()"
        for rtype in served:
            if rtype.kind.lower() == kind.lower():
                hint = (
                    f"{rtype.qualified} is registered with kind {rtype.kind!r}; pass "
                    f"kind={kind!r} to crd()/register_resource()"
                )
        raise ValueError(f"FakeKubeApi: unknown kind {kind!r} in {api_version!r}; {hint}")

    # -- serialization --------------------------------------------------------------------------
    def _entry(self, rtype: ResourceType, obj: dict[str, Any]) -> _Entry:
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        core = _dumps(body)
        head = b'{"kind":' + _dumps(rtype.kind) + b',"apiVersion":' + _dumps(obj["apiVersion"])
        full = head + (b"," + core[1:] if core != b"{}" else b"}")
        return _Entry(obj, core if rtype.builtin else full, full)

    def _entry_for_version(self, rtype: ResourceType, entry: _Entry) -> _Entry:
        """``entry`` as seen through ``rtype``'s version (CRDs serving several versions)."""
        if entry.obj.get("apiVersion") == rtype.api_version:
            return entry
        obj = dict(entry.obj)
        obj["apiVersion"] = rtype.api_version
        return self._entry(rtype, obj)

    # -- store ----------------------------------------------------------------------------------
    def _prepare(self, rtype: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A deep copy with the metadata the server assigns (uid, resourceVersion, ...)."""
        stored = copy.deepcopy(dict(obj))
        stored["apiVersion"] = stored.get("apiVersion") or rtype.api_version
        stored["kind"] = rtype.kind
        meta = stored.setdefault("metadata", {})
        if not meta.get("name"):
            raise ValueError(f"FakeKubeApi: {rtype.kind} without metadata.name: {obj!r}")
        if rtype.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        return stored

    def _store(
        self, rtype: ResourceType, stored: dict[str, Any], event: str | None = None
    ) -> _Entry:
        """Put ``stored`` (already prepared) with a new resourceVersion; notify watchers."""
        meta = stored["metadata"]
        namespace = meta.get("namespace", "") if rtype.namespaced else ""
        bucket_key = (rtype.group, rtype.plural)
        with self._lock:
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            entry = self._entry(rtype, stored)
            bucket = self._buckets[bucket_key]
            key = _key(namespace, meta["name"])
            kind = event or ("MODIFIED" if key in bucket.entries else "ADDED")
            bucket.put(key, entry)
            self._emit(self._rv, bucket_key, kind, namespace, entry)
            if (
                rtype.group == "apiextensions.k8s.io"
                and rtype.plural == "customresourcedefinitions"
            ):
                self._register_crd(stored)
        return entry

    def _emit(
        self, rv: int, bucket: tuple[str, str], kind: str, namespace: str, entry: _Entry
    ) -> None:
        self._events.append(_Event(rv, bucket, kind, namespace, entry))
        self._event_rvs.append(rv)
        self._changed.notify_all()

    def _register_crd(self, crd: Mapping[str, Any]) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            subresources = tuple(sorted((version.get("subresources") or {}).keys()))
            self.register_resource(
                spec["group"],
                version["name"],
                names["plural"],
                names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=names.get("shortNames") or (),
                subresources=subresources,
                categories=names.get("categories") or (),
            )

    def add(self, *objects: Mapping[str, Any]) -> None:
        """Store (create or replace) objects without any API checks; CRDs go first so their
        custom resources can follow in the same call."""

        def is_crd(o: Mapping[str, Any]) -> bool:
            return o.get("kind") == "CustomResourceDefinition"

        for obj in sorted(objects, key=lambda o: not is_crd(o)):
            rtype = self._type_for(obj)
            self._store(rtype, self._prepare(rtype, obj))

    def update(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a stored object (e.g. flip a pod to Running from a test); watchers see
        MODIFIED. Returns the stored copy."""
        rtype = self._type_for(obj)
        meta = obj.get("metadata") or {}
        with self._lock:
            old = self._lookup(rtype, meta.get("namespace", "default"), meta.get("name", ""))
            stored = self._prepare(rtype, obj)
            if old is not None:
                for keep in ("uid", "creationTimestamp"):
                    stored["metadata"][keep] = old.obj["metadata"].get(keep)
            return copy.deepcopy(self._store(rtype, stored).obj)

    def _lookup(self, rtype: ResourceType, namespace: str, name: str) -> _Entry | None:
        bucket = self._buckets.get((rtype.group, rtype.plural))
        if bucket is None:
            return None
        return bucket.entries.get(_key(namespace if rtype.namespaced else "", name))

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """A copy of a stored object (``resource`` as for ``resolve``), or None."""
        rtype = self.resolve(resource)
        with self._lock:
            entry = self._lookup(rtype, namespace or "default", name)
            return copy.deepcopy(entry.obj) if entry else None

    def objects(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Copies of the stored objects of ``resource`` (in one namespace, or all)."""
        rtype = self.resolve(resource)
        with self._lock:
            bucket = self._buckets.get((rtype.group, rtype.plural))
            if bucket is None:
                return []
            return [
                copy.deepcopy(bucket.entries[key].obj)
                for key in bucket.sorted_keys()
                if namespace is None or key.startswith(namespace + "/")
            ]

    def remove(self, resource: str, name: str, namespace: str | None = None) -> bool:
        """Delete a stored object without API semantics; True if it existed."""
        rtype = self.resolve(resource)
        return self._remove(rtype, namespace or "default", name) is not None

    def _remove(self, rtype: ResourceType, namespace: str, name: str) -> _Entry | None:
        ns = namespace if rtype.namespaced else ""
        with self._lock:
            bucket = self._buckets.get((rtype.group, rtype.plural))
            entry = bucket.pop(_key(ns, name)) if bucket else None
            if entry is None:
                return None
            self._rv += 1
            deleted = copy.deepcopy(entry.obj)
            deleted["metadata"]["resourceVersion"] = str(self._rv)
            gone = self._entry(rtype, deleted)
            self._emit(self._rv, (rtype.group, rtype.plural), "DELETED", ns, gone)
            if rtype.plural == "namespaces" and not rtype.group:
                self._delete_namespace_contents(name)
            if rtype.plural == "customresourcedefinitions":
                spec = entry.obj.get("spec") or {}
                names = spec.get("names") or {}
                if spec.get("group") and names.get("plural"):
                    self.unregister_resource(spec["group"], names["plural"])
            return gone

    def _delete_namespace_contents(self, namespace: str) -> None:
        for (group, plural), bucket in list(self._buckets.items()):
            prefix = namespace + "/"
            for key in [k for k in bucket.entries if k.startswith(prefix)]:
                rtype = self._any_type(group, plural)
                if rtype is not None:
                    self._remove(rtype, namespace, key[len(prefix) :])
        for log_key in [k for k in self._logs if k[0] == namespace]:
            del self._logs[log_key]

    def _any_type(self, group: str, plural: str) -> ResourceType | None:
        for rtype in self._types.values():
            if rtype.group == group and rtype.plural == plural:
                return rtype
        return None

    @property
    def resource_version(self) -> int:
        """The current (latest) resourceVersion."""
        with self._lock:
            return self._rv

    # -- pod logs -------------------------------------------------------------------------------
    def set_pod_log(
        self,
        namespace: str,
        pod: str,
        text: str,
        *,
        container: str | None = None,
        previous: bool = False,
    ) -> None:
        """What ``GET .../pods/<pod>/log`` returns (for ``container``, or any container; the
        log of the previous run with ``previous=True``)."""
        with self._lock:
            self._logs[(namespace, pod, container, previous)] = text

    # -- reactions ------------------------------------------------------------------------------
    def on_create(self, resource: str, hook: CreateHook) -> None:
        """Call ``hook(obj)`` for every API create of ``resource`` (``"pods"``,
        ``"jobs.batch"``, ``"*"``) before it is stored; it may change and return the object,
        e.g. to make a probe pod Succeeded at once."""
        self._hooks.append((resource, hook))

    # -- fault injection ------------------------------------------------------------------------
    def inject(
        self,
        target: str | re.Pattern[str] | None = None,
        target_path: str | re.Pattern[str] | None = None,
        /,
        *,
        path: str | re.Pattern[str] | None = None,
        resource: str | None = None,
        method: str | None = None,
        verb: str | Iterable[str] | None = None,
        namespace: str | None = None,
        name: str | None = None,
        query: str | re.Pattern[str] | None = None,
        status: int | None = None,
        reason: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
        hang: bool = False,
        hang_seconds: float = 300.0,
        delay: float = 0.0,
        drop: bool = False,
        body: bytes | str | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        times: int | None = None,
    ) -> Fault:
        """Make matching requests misbehave; the first matching fault wins.

        ``target``: a path regex if it starts with ``/`` or ``^`` (or is a compiled pattern),
        otherwise a resource: ``"nodes"``, ``"pods/log"`` (RBAC-style: ``"pods"`` does not
        match ``pods/log``), ``"deployments.apps"``, ``"*"`` (every resource request).
        ``inject("GET", "/api/v1/nodes", ...)`` is the HTTP-method-and-path-regex form.
        ``method`` (HTTP), ``verb`` (authorization verb or verbs), ``namespace``, ``name``,
        ``query`` (regex searched in ``k=v&...``) narrow it. Path regexes are searched
        (``re.search``) in the path without the query: anchor them (``^...$``) to be exact.

        Behaviour: ``status`` answers with a realistic Status (403 uses the real forbidden
        message for the request; 429 adds ``Retry-After: retry_after or 1``; 410 is the
        expired-continue error), ``message``/``reason`` override the text; ``body`` sends these
        raw bytes instead (``content_type``); ``hang`` waits ``hang_seconds`` or until
        ``stop()`` and then closes without answering; ``delay`` sleeps first and then answers
        normally (or with ``status``); ``drop`` closes the connection at once. ``times``
        limits how many requests it hits.
        """
        if target_path is not None:
            if not isinstance(target, str) or target.upper() not in _HTTP_METHODS:
                raise TypeError("inject(method, path, ...): the first argument must be a method")
            method, path = target, target_path
        elif isinstance(target, re.Pattern) or (
            isinstance(target, str) and target.startswith(("/", "^"))
        ):
            path = target
        elif target is not None:
            resource = target
        verbs = None
        if verb is not None:
            verbs = frozenset([verb] if isinstance(verb, str) else verb)
        fault = Fault(
            path=re.compile(path) if isinstance(path, str) else path,
            resource=resource,
            method=method.upper() if method else None,
            verbs=verbs,
            namespace=namespace,
            name=name,
            query=re.compile(query) if isinstance(query, str) else query,
            status=status,
            reason=reason,
            message=message,
            retry_after=retry_after,
            hang=hang,
            hang_seconds=hang_seconds,
            delay=delay,
            drop=drop,
            body=body.encode() if isinstance(body, str) else body,
            content_type=content_type,
            headers=dict(headers or {}),
            times=times,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    # -- RBAC -----------------------------------------------------------------------------------
    def set_rbac(
        self,
        rules: Iterable[Mapping[str, Any]] = (),
        *,
        namespaced: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    ) -> None:
        """Allow only what these PolicyRules allow (``kube_objects.policy_rule``):
        ``rules`` apply everywhere (a ClusterRoleBinding), ``namespaced[ns]`` only in ``ns``
        (a RoleBinding). Everything else gets 403. Discovery, ``/version`` and the
        self-reviews stay allowed, as for any authenticated user."""
        with self._lock:
            self._rbac = (
                [dict(r) for r in rules],
                {ns: [dict(r) for r in rs] for ns, rs in (namespaced or {}).items()},
            )

    def clear_rbac(self) -> None:
        """Allow everything again (the default)."""
        with self._lock:
            self._rbac = None

    def allows(
        self,
        verb: str,
        resource: str,
        *,
        group: str = "",
        subresource: str = "",
        namespace: str = "",
        name: str = "",
    ) -> bool:
        """Whether the current rules allow these authorization attributes."""
        if (group, resource) in {
            ("authorization.k8s.io", "selfsubjectaccessreviews"),
            ("authorization.k8s.io", "selfsubjectrulesreviews"),
            ("authentication.k8s.io", "selfsubjectreviews"),
        } and verb == "create":
            return True
        with self._lock:
            rbac = self._rbac
        if rbac is None:
            return True
        cluster_rules, namespaced = rbac
        rules = list(cluster_rules)
        if namespace:
            rules += namespaced.get(namespace, [])
        return any(_rule_allows(rule, verb, group, resource, subresource, name) for rule in rules)

    def _allows_non_resource(self, verb: str, path: str) -> bool:
        with self._lock:
            rbac = self._rbac
        if rbac is None:
            return True
        rules = [{"verbs": ["get"], "nonResourceURLs": list(_DISCOVERY_URLS)}, *rbac[0]]
        for rule in rules:
            urls = rule.get("nonResourceURLs") or []
            verbs = rule.get("verbs") or []
            if "*" not in verbs and verb not in verbs:
                continue
            for url in urls:
                if url == "*" or url == path or (url.endswith("*") and path.startswith(url[:-1])):
                    return True
        return False

    @property
    def access_reviews(self) -> list[dict[str, Any]]:
        """The ``resourceAttributes``/``nonResourceAttributes`` of every
        SelfSubjectAccessReview asked, in order."""
        with self._lock:
            return [copy.deepcopy(r) for r in self._access_reviews]

    # -- records --------------------------------------------------------------------------------
    @property
    def requests(self) -> list[KubeRequest]:
        """Snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def authorization_attributes(
        self, *, include_failed: bool = True
    ) -> set[tuple[str, str, str, str, str, str]]:
        """``{(verb, api_group, resource, subresource, namespace, name)}`` of every resource
        request (non-resource paths such as ``/version`` and discovery are left out).
        ``include_failed=False`` keeps only requests answered with 2xx."""
        return {
            r.attributes
            for r in self.requests
            if r.is_resource_request
            and (include_failed or (r.status is not None and 200 <= r.status < 300))
        }

    def path_counts(self) -> collections.Counter[str]:
        """How many requests each path (without the query) received."""
        with self._lock:
            return collections.Counter(self._path_counts)

    def count(self, **attrs: str) -> int:
        """Requests whose ``KubeRequest`` fields equal ``attrs`` (``count(verb="list",
        resource="nodes")``)."""
        return sum(1 for r in self.requests if all(getattr(r, k) == v for k, v in attrs.items()))

    def clear_requests(self) -> None:
        """Forget the recorded requests, path counts and access reviews."""
        with self._lock:
            self._requests.clear()
            self._path_counts.clear()
            self._access_reviews.clear()

    @property
    def server_errors(self) -> list[str]:
        """Tracebacks of exceptions the fake itself raised (answered 500): bugs in the fake."""
        with self._lock:
            return list(self._server_errors)

    # -- kubeconfig -----------------------------------------------------------------------------
    def kubeconfig(
        self,
        path: str | os.PathLike[str],
        *,
        token: Any = _USE_SERVER_TOKEN,
        context: str = "fake",
        namespace: str | None = None,
        user_exec: Sequence[str] | Mapping[str, Any] | None = None,
        cluster: str = "fake-cluster",
        user: str = "fake-user",
        insecure: bool = False,
        embed_ca: bool = True,
        server: str | None = None,
    ) -> Path:
        """Write a kubeconfig (YAML) for this server to ``path`` and return it.

        ``token``: the bearer token written for the user; by default the server's own
        ``token`` (if any); ``None`` writes no credentials. ``user_exec``: an ``exec`` plugin
        instead: an argv list (``exec_token_command(...)``) or a full exec stanza dict.
        With TLS the CA goes in as ``certificate-authority-data`` unless ``insecure``
        (``insecure-skip-tls-verify``) or ``embed_ca=False``.
        """
        cluster_entry: dict[str, Any] = {"server": server or self.url}
        if self.tls and self.ca is not None:
            if insecure:
                cluster_entry["insecure-skip-tls-verify"] = True
            elif embed_ca:
                cluster_entry["certificate-authority-data"] = base64.b64encode(
                    self.ca.cert_pem.bytes()
                ).decode()
        user_entry: dict[str, Any] = {}
        if user_exec is not None:
            if isinstance(user_exec, Mapping):
                user_entry["exec"] = dict(user_exec)
            else:
                argv = list(user_exec)
                user_entry["exec"] = {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": argv[0],
                    "args": argv[1:],
                    "interactiveMode": "Never",
                    "provideClusterInfo": False,
                }
        else:
            value = self.token if token is _USE_SERVER_TOKEN else token
            if value is not None:
                user_entry["token"] = value
        context_entry: dict[str, Any] = {"cluster": cluster, "user": user}
        if namespace:
            context_entry["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": cluster, "cluster": cluster_entry}],
            "users": [{"name": user, "user": user_entry}],
            "contexts": [{"name": context, "context": context_entry}],
            "current-context": context,
        }
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(config, sort_keys=False))
        return out

    # -- lifecycle ------------------------------------------------------------------------------
    def _start(self) -> None:
        if self.tls:
            assert self.ca is not None
            leaf = self.ca.issue_cert("127.0.0.1", "localhost")
            self._ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            leaf.configure_cert(self._ssl_context)
            self._ssl_context.set_alpn_protocols(["http/1.1"])
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self._spawn(self._server.serve_forever, 0.05, name=f"kube-api-accept-{self.port}")

    def _stop(self) -> None:
        with self._lock:
            self._changed.notify_all()  # wake watches and hangs so their threads can end
        self._close_socketserver()

    def _serve_connection(self, raw: socket.socket, client_address: Any) -> None:
        server = self._server
        assert server is not None
        self._serve_maybe_tls(
            raw, self._ssl_context, lambda conn: _Handler(conn, client_address, server)
        )

    # -- request handling -----------------------------------------------------------------------
    def _read_body(self, h: _Handler) -> bytes:
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(h.rfile.read(size))
                h.rfile.readline()
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(length) if length > 0 else b""

    def _handle(self, h: _Handler) -> None:
        started = time.monotonic()
        split = urlsplit(h.path)
        path = split.path or "/"
        query = parse_qs(split.query, keep_blank_values=True)
        body = self._read_body(h)
        req = _request_info(h.command, path, query)
        req.headers = Headers(h.headers.items())
        req.body = body
        req.started = started
        with self._lock:
            self._requests.append(req)
            self._path_counts[path] += 1
        try:
            self._authenticate(h, req)
            self._apply_faults(h, req)
            self._authorize(req)
            self._serve(h, req)
        except KubeError as err:
            self._send_json(h, req, err.code, _dumps(err.status()), err.headers)
        except _Answered:
            pass
        except _Drop:
            h.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            h.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a bug in the fake: answer 500, remember it
            with self._lock:
                self._server_errors.append(traceback.format_exc())
            failure = KubeError(500, f"Internal error occurred: fake API server: {exc!r}")
            with contextlib.suppress(OSError):
                self._send_json(h, req, 500, _dumps(failure.status()))
        finally:
            req.duration = time.monotonic() - started

    # -- responses ------------------------------------------------------------------------------
    def _send(
        self,
        h: _Handler,
        req: KubeRequest,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if (
            self.compress
            and len(body) > 128 * 1024
            and "gzip" in h.headers.get("Accept-Encoding", "")
        ):
            body = gzip.compress(body, compresslevel=1)
            headers = {**(headers or {}), "Content-Encoding": "gzip"}
        h.send_response(status)
        h.send_header("Audit-Id", str(uuid.uuid4()))
        h.send_header("Cache-Control", "no-cache, private")
        h.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        req.status = status  # before the body: the client may look at the records at once
        if req.method != "HEAD":
            h.wfile.write(body)

    def _send_json(
        self,
        h: _Handler,
        req: KubeRequest,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._send(h, req, status, body, "application/json", headers)

    # -- authn / faults / authz -----------------------------------------------------------------
    def _authenticate(self, h: _Handler, req: KubeRequest) -> None:
        header = h.headers.get("Authorization", "")
        presented = header[7:].strip() if header.lower().startswith("bearer ") else None
        if self.tokens:
            if presented is None or presented not in self.tokens:
                raise KubeError(401, "Unauthorized")
            req.user = self.tokens[presented]
        else:
            req.user = self.user

    def _apply_faults(self, h: _Handler, req: KubeRequest) -> None:
        with self._lock:
            fault = next((f for f in self._faults if f.matches(req)), None)
            if fault is not None:
                fault.hits += 1
        if fault is None:
            return
        if fault.delay:
            self._stopping.wait(fault.delay)
        if fault.hang:
            self._stopping.wait(fault.hang_seconds)
            raise _Drop
        if fault.drop or self._stopping.is_set():
            raise _Drop
        if fault.body is not None:
            self._send(h, req, fault.status or 200, fault.body, fault.content_type, fault.headers)
            raise _Answered
        if fault.status is not None:
            raise self._fault_error(fault, req)

    def _fault_error(self, fault: Fault, req: KubeRequest) -> KubeError:
        code = fault.status or 500
        headers = dict(fault.headers)
        rtype = self._type_of(req)
        details: dict[str, Any] = _details(rtype, req.name)
        if code == 401:
            message = "Unauthorized"
            details = {}
        elif code == 403:
            message = _forbidden_message(req, rtype)
        elif code == 404:
            message = (
                f'{rtype.qualified} "{req.name}" not found'
                if rtype and req.name
                else "the server could not find the requested resource"
            )
        elif code == 409:
            message = (
                f"Operation cannot be fulfilled on {rtype.qualified if rtype else 'object'} "
                f'"{req.name}": the object has been modified; please apply your changes to the '
                "latest version and try again"
            )
        elif code == 410:
            message = (
                _CONTINUE_EXPIRED
                if req.param("continue")
                else (f"too old resource version: {req.param('resourceVersion', '1')} ({self._rv})")
            )
            details = {}
        elif code == 429:
            retry = fault.retry_after if fault.retry_after is not None else 1
            headers.setdefault("Retry-After", str(retry))
            message = "Too many requests, please try again later."
            details = {"retryAfterSeconds": retry}
        elif code == 500:
            message = "Internal error occurred: injected fault"
            details = {"causes": [{"message": "injected fault"}]}
        elif code == 503:
            message = "the server is currently unable to handle the request"
        elif code == 504:
            message = (
                "the server was unable to return a response in the time allotted, but may "
                "still be processing the request"
            )
        else:
            message = f"injected fault ({code})"
        return KubeError(
            code,
            fault.message if fault.message is not None else message,
            reason=fault.reason,
            details=details,
            headers=headers,
        )

    def _type_of(self, req: KubeRequest) -> ResourceType | None:
        if not req.resource:
            return None
        with self._lock:
            return self._types.get((req.api_group, req.api_version, req.resource))

    def _authorize(self, req: KubeRequest) -> None:
        if not req.resource:
            if not self._allows_non_resource(req.verb, req.path):
                raise KubeError(
                    403,
                    f'forbidden: User "{req.user}" cannot {req.verb} path "{req.path}"',
                    details={},
                )
            return
        if not self.allows(
            req.verb,
            req.resource,
            group=req.api_group,
            subresource=req.subresource,
            namespace=req.namespace,
            name=req.name,
        ):
            rtype = self._type_of(req)
            raise KubeError(403, _forbidden_message(req, rtype), details=_details(rtype, req.name))

    # -- routing --------------------------------------------------------------------------------
    def _serve(self, h: _Handler, req: KubeRequest) -> None:
        path = req.path.rstrip("/") or "/"
        if not req.resource:
            self._serve_non_resource(h, req, path)
            return
        rtype = self._type_of(req)
        if rtype is None or (
            req.namespace and not rtype.namespaced and req.resource != "namespaces"
        ):
            raise _no_such_resource()
        if rtype.verbs == _CREATE_ONLY:
            if req.method != "POST" or req.name:
                raise KubeError(
                    405, "the server does not allow this method on the requested resource"
                )
            self._serve_review(h, req, rtype)
            return
        if req.subresource and (
            req.subresource not in rtype.subresources or req.subresource not in _SERVED_SUBRESOURCES
        ):
            raise _no_such_resource()
        if req.subresource == "log":
            if req.method not in ("GET", "HEAD"):
                raise KubeError(
                    405, "the server does not allow this method on the requested resource"
                )
            self._serve_log(h, req, rtype)
            return
        verb = req.verb
        if verb == "list":
            self._serve_list(h, req, rtype)
        elif verb == "watch":
            self._serve_watch(h, req, rtype)
        elif verb == "get":
            self._serve_get(h, req, rtype)
        elif verb == "create":
            self._serve_create(h, req, rtype)
        elif verb in ("update", "patch"):
            self._serve_write(h, req, rtype)
        elif verb == "delete":
            self._serve_delete(h, req, rtype)
        elif verb == "deletecollection":
            self._serve_delete_collection(h, req, rtype)
        else:
            raise KubeError(405, "the server does not allow this method on the requested resource")

    def _serve_non_resource(self, h: _Handler, req: KubeRequest, path: str) -> None:
        if req.method not in ("GET", "HEAD"):
            raise KubeError(405, "the server does not allow this method on the requested resource")
        if path == "/version":
            self._send_json(h, req, 200, _dumps(self._version_body()))
        elif path in ("/healthz", "/livez", "/readyz"):
            self._send(h, req, 200, b"ok", "text/plain; charset=utf-8")
        elif path == "/api":
            self._send_json(h, req, 200, _dumps(self._api_versions()))
        elif path == "/apis":
            self._send_json(h, req, 200, _dumps(self._api_group_list()))
        elif path == "/api/v1":
            self._send_json(h, req, 200, _dumps(self._resource_list("", "v1")))
        elif (m := re.fullmatch(r"/apis/([^/]+)", path)) and self._group(m[1]) is not None:
            self._send_json(h, req, 200, _dumps(self._group(m[1])))
        elif (m := re.fullmatch(r"/apis/([^/]+)/([^/]+)", path)) and self._has_gv(m[1], m[2]):
            self._send_json(h, req, 200, _dumps(self._resource_list(m[1], m[2])))
        else:
            self._send(h, req, 404, b"404 page not found\n", "text/plain; charset=utf-8")

    # -- discovery ------------------------------------------------------------------------------
    def _version_body(self) -> dict[str, Any]:
        match = re.match(r"v?(\d+)\.(\d+)", self.version)
        major, minor = (match[1], match[2]) if match else ("1", "30")
        body = {
            "major": major,
            "minor": minor,
            "gitVersion": self.version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2024-08-14T00:00:00Z",
            "goVersion": "go1.22.5",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
        body.update(self.version_info)
        return body

    def _api_versions(self) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
            ],
        }

    def _versions_of(self, group: str) -> list[str]:
        with self._lock:
            versions = {t.version for t in self._types.values() if t.group == group}
        return sorted(versions, key=_version_priority)

    def _group(self, group: str) -> dict[str, Any] | None:
        if not group:
            return None
        versions = self._versions_of(group)
        if not versions:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def _api_group_list(self) -> dict[str, Any]:
        with self._lock:
            order = [g for g in self._group_order if g]
        groups = []
        for group in order:
            entry = self._group(group)
            if entry is not None:
                entry = {k: v for k, v in entry.items() if k not in ("kind", "apiVersion")}
                groups.append(entry)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _has_gv(self, group: str, version: str) -> bool:
        with self._lock:
            return any(t.group == group and t.version == version for t in self._types.values())

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        with self._lock:
            types = sorted(
                (t for t in self._types.values() if t.group == group and t.version == version),
                key=lambda t: t.plural,
            )
        resources: list[dict[str, Any]] = []
        for rtype in types:
            entry: dict[str, Any] = {
                "name": rtype.plural,
                "singularName": rtype.singular,
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": list(rtype.verbs),
            }
            if rtype.short_names:
                entry["shortNames"] = list(rtype.short_names)
            if rtype.categories:
                entry["categories"] = list(rtype.categories)
            resources.append(entry)
            for sub in rtype.subresources:
                sub_kind = "Scale" if sub == "scale" else rtype.kind
                if sub == "eviction":
                    sub_kind = "Eviction"
                resources.append(
                    {
                        "name": f"{rtype.plural}/{sub}",
                        "singularName": "",
                        "namespaced": rtype.namespaced,
                        "kind": sub_kind,
                        "verbs": list(_SUBRESOURCE_VERBS.get(sub, ("get",))),
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    # -- reads ----------------------------------------------------------------------------------
    def _selectors(
        self, req: KubeRequest, rtype: ResourceType
    ) -> tuple[LabelSelector, FieldSelector]:
        try:
            labels = LabelSelector(req.param("labelSelector", "") or "")
        except ValueError as exc:
            raise _bad_request(str(exc)) from None
        try:
            fields = FieldSelector(req.param("fieldSelector", "") or "")
            fields.check_supported(_COMMON_FIELDS | rtype.field_labels)
        except ValueError as exc:
            raise _bad_request(str(exc)) from None
        return labels, fields

    def _serve_get(self, h: _Handler, req: KubeRequest, rtype: ResourceType) -> None:
        with self._lock:
            entry = self._lookup(rtype, req.namespace, req.name)
        if entry is None:
            raise _not_found(rtype, req.name)
        self._send_json(h, req, 200, self._entry_for_version(rtype, entry).full)

    def _serve_list(self, h: _Handler, req: KubeRequest, rtype: ResourceType) -> None:
        labels, fields = self._selectors(req, rtype)
        limit_text = req.param("limit") or "0"
        try:
            limit = max(int(limit_text), 0)
        except ValueError:
            raise _bad_request(f"invalid limit {limit_text!r}") from None
        token = req.param("continue") or ""
        start_after = ""
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
                start_after = str(decoded["start"])
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                raise _bad_request(f"continue key is not valid: {exc}") from None
        same_version = True
        with self._lock:
            bucket = self._buckets.get((rtype.group, rtype.plural)) or _Bucket()
            keys = bucket.sorted_keys()
            if rtype.namespaced and req.namespace:
                lo = bisect.bisect_left(keys, req.namespace + "/")
                hi = bisect.bisect_left(keys, req.namespace + "0")  # "0" follows "/"
            else:
                lo, hi = 0, len(keys)
            index = max(lo, bisect.bisect_right(keys, start_after)) if start_after else lo
            filtered = bool(labels) or bool(fields)
            items: list[_Entry] = []
            last_key = ""
            while index < hi:
                entry = bucket.entries[keys[index]]
                index += 1
                if filtered and not (labels.matches(entry.labels) and fields.matches(entry.obj)):
                    continue
                if limit and len(items) == limit:
                    index -= 1  # this one belongs to the next page
                    break
                items.append(entry)
                last_key = keys[index - 1]
            # The loop stopped on the first match beyond the page, so ``index < hi`` means
            # another matching item exists.
            more = limit > 0 and len(items) == limit and index < hi
            remaining = hi - index if more and not filtered else None
            rv = self._rv
            same_version = all(e.obj.get("apiVersion") == rtype.api_version for e in items)
        if not same_version:
            items = [self._entry_for_version(rtype, e) for e in items]
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if more:
            meta["continue"] = base64.urlsafe_b64encode(
                _dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": last_key + "\x00"})
            ).decode()
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        head = (
            b'{"kind":'
            + _dumps(rtype.list_kind)
            + b',"apiVersion":'
            + _dumps(rtype.api_version)
            + b',"metadata":'
            + _dumps(meta)
            + b',"items":['
        )
        body = b"".join((head, b",".join(e.item for e in items), b"]}"))
        self._send_json(h, req, 200, body)

    def _serve_watch(self, h: _Handler, req: KubeRequest, rtype: ResourceType) -> None:
        labels, fields = self._selectors(req, rtype)
        if req.name:  # GET .../pods/x?watch=1 watches one object
            fields.terms.append(("metadata.name", True, req.name))
        try:
            timeout = float(req.param("timeoutSeconds") or self.watch_timeout)
        except ValueError:
            raise _bad_request("invalid timeoutSeconds") from None
        bucket_key = (rtype.group, rtype.plural)
        namespace = req.namespace if rtype.namespaced else ""

        def wanted(ev_ns: str, entry: _Entry) -> bool:
            if namespace and ev_ns != namespace:
                return False
            return labels.matches(entry.labels) and fields.matches(entry.obj)

        rv_param = req.param("resourceVersion") or ""
        initial: list[_Entry] = []
        with self._lock:
            if rv_param in ("", "0"):
                since = self._rv
                bucket = self._buckets.get(bucket_key)
                if bucket is not None:
                    for key in bucket.sorted_keys():
                        entry = bucket.entries[key]
                        ns = entry.obj["metadata"].get("namespace", "") if rtype.namespaced else ""
                        if wanted(ns, entry):
                            initial.append(entry)
            else:
                try:
                    since = int(rv_param)
                except ValueError:
                    raise _bad_request(f"invalid resourceVersion {rv_param!r}") from None
            cursor = bisect.bisect_right(self._event_rvs, since)

        h.send_response(200)
        h.send_header("Audit-Id", str(uuid.uuid4()))
        h.send_header("Cache-Control", "no-cache, private")
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        req.status = 200

        def chunk(kind: str, entry: _Entry) -> None:
            data = (
                b'{"type":"'
                + kind.encode()
                + b'","object":'
                + self._entry_for_version(rtype, entry).full
                + b"}\n"
            )
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        for entry in initial:
            chunk("ADDED", entry)
        deadline = time.monotonic() + timeout
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            with self._lock:
                if cursor >= len(self._events):
                    self._changed.wait(min(left, 0.25))
                batch = self._events[cursor:]
                cursor += len(batch)
            for event in batch:
                if event.bucket == bucket_key and wanted(event.namespace, event.entry):
                    chunk(event.type, event.entry)
        if self._stopping.is_set():
            raise _Drop
        h.wfile.write(b"0\r\n\r\n")

    def _serve_log(self, h: _Handler, req: KubeRequest, rtype: ResourceType) -> None:
        with self._lock:
            entry = self._lookup(rtype, req.namespace, req.name)
        if entry is None:
            raise _not_found(rtype, req.name)
        pod = entry.obj
        spec = pod.get("spec") or {}
        names = [c.get("name") for c in spec.get("containers") or []]
        init_names = [c.get("name") for c in spec.get("initContainers") or []]
        container = req.param("container") or ""
        if not container:
            if len(names) != 1:
                raise _bad_request(
                    f"a container name must be specified for pod {req.name}, choose one of: "
                    f"[{' '.join(str(n) for n in names)}]"
                )
            container = str(names[0])
        elif container not in names and container not in init_names:
            raise _bad_request(f"container {container} is not valid for pod {req.name}")
        previous = (req.param("previous") or "").lower() in ("true", "1")
        with self._lock:
            text = self._logs.get((req.namespace, req.name, container, previous))
            if text is None:
                text = self._logs.get((req.namespace, req.name, None, previous))
        if text is None:
            if previous:
                raise _bad_request(
                    f'previous terminated container "{container}" in pod "{req.name}" not found'
                )
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            state = next((s.get("state") or {} for s in statuses if s.get("name") == container), {})
            waiting = state.get("waiting")
            phase = (pod.get("status") or {}).get("phase")
            if (waiting and waiting.get("reason") != "CrashLoopBackOff") or (
                not statuses and phase == "Pending"
            ):
                reason = (waiting or {}).get("reason") or "ContainerCreating"
                if reason in ("ImagePullBackOff", "ErrImagePull"):
                    reason = "trying and failing to pull image"
                raise _bad_request(
                    f'container "{container}" in pod "{req.name}" is waiting to start: {reason}'
                )
            text = ""
        lines = text.splitlines(keepends=True)
        tail = req.param("tailLines")
        if tail is not None:
            try:
                count = int(tail)
            except ValueError:
                raise _bad_request(f"invalid tailLines {tail!r}") from None
            lines = lines[-count:] if count > 0 else []
        if (req.param("timestamps") or "").lower() in ("true", "1"):
            stamp = "2024-06-01T12:00:00.000000000Z "
            lines = [stamp + line for line in lines]
        data = "".join(lines).encode()
        limit_bytes = req.param("limitBytes")
        if limit_bytes is not None:
            data = data[: max(int(limit_bytes), 0)]
        self._send(h, req, 200, data, "text/plain")

    # -- writes ---------------------------------------------------------------------------------
    @staticmethod
    def _dry_run(req: KubeRequest) -> bool:
        values = req.query.get("dryRun") or []
        for value in values:
            if value != "All":
                raise _bad_request(f'Invalid dryRun value "{value}": valid values are "All"')
        return bool(values)

    def _parse_body(self, req: KubeRequest) -> Any:
        content_type = req.headers.get("Content-Type", "application/json")
        try:
            if "yaml" in content_type:
                return yaml.safe_load(req.body or b"{}")
            return json.loads(req.body or b"{}")
        except (ValueError, yaml.YAMLError) as exc:
            raise _bad_request(
                "the body of the request was in an unknown format - accepted media types "
                f"include: application/json, application/yaml ({exc})"
            ) from None

    def _check_body_type(self, rtype: ResourceType, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bad_request(f"the body of the request must be a {rtype.kind} object")
        kind = body.get("kind")
        api_version = body.get("apiVersion")
        if kind and kind != rtype.kind:
            raise _bad_request(
                f"the kind in the body ({kind}) does not match the expected kind ({rtype.kind})"
            )
        if api_version and _gv(api_version)[0] != rtype.group:
            raise _bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rtype.api_version})"
            )
        body["apiVersion"] = rtype.api_version
        body["kind"] = rtype.kind
        return body

    def _run_hooks(self, rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        for target, hook in list(self._hooks):
            plural, _, group = target.partition(".")
            if target == "*" or (plural == rtype.plural and (not group or group == rtype.group)):
                result = hook(obj)
                if result is not None:
                    obj = result
        return obj

    def _serve_create(self, h: _Handler, req: KubeRequest, rtype: ResourceType) -> None:
        if req.subresource:
            raise KubeError(405, "the server does not allow this method on the requested resource")
        dry_run = self._dry_run(req)
        obj = self._check_body_type(rtype, self._parse_body(req))
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise _bad_request("metadata must be an object")
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if not req.namespace:
                raise _no_such_resource()
            if body_ns and body_ns != req.namespace:
                raise _bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = req.namespace
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if not prefix:
                raise KubeError(
                    422,
                    f'{rtype.kind} "" is invalid: metadata.name: Required value: name or '
                    "generateName is required",
                    details={
                        "kind": rtype.kind,
                        **({"group": rtype.group} if rtype.group else {}),
                        "causes": [
                            {
                                "reason": "FieldValueRequired",
                                "message": "Required value: name or generateName is required",
                                "field": "metadata.name",
                            }
                        ],
                    },
                )
            alphabet = "bcdfghjklmnpqrstvwxz2456789"
            meta["name"] = prefix + "".join(secrets.choice(alphabet) for _ in range(5))
        name = meta["name"]
        if rtype.namespaced and self.require_namespace:
            ns_type = self._types[("", "v1", "namespaces")]
            with self._lock:
                ns_entry = self._lookup(ns_type, "", req.namespace)
            if ns_entry is None:
                raise _not_found(ns_type, req.namespace)
            if (ns_entry.obj.get("status") or {}).get("phase") == "Terminating":
                raise KubeError(
                    403,
                    f"unable to create new content in namespace {req.namespace} because it is "
                    "being terminated",
                    details=_details(rtype, name),
                )
        for key in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp"):
            meta.pop(key, None)
        if "spec" in obj:
            meta["generation"] = 1
        if rtype.kind == "Namespace" and not rtype.group:
            labels = meta.setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = name
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        elif rtype.kind == "Pod" and not rtype.group:
            obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
        obj = self._run_hooks(rtype, obj)
        with self._lock:
            if self._lookup(rtype, req.namespace, name) is not None:
                raise KubeError(
                    409,
                    f'{rtype.qualified} "{name}" already exists',
                    reason="AlreadyExists",
                    details=_details(rtype, name),
                )
            stored = self._prepare(rtype, obj)
            if dry_run:
                body = self._entry(rtype, stored).full
            else:
                body = self._store(rtype, stored, "ADDED").full
        self._send_json(h, req, 201, body)

    def _serve_write(self, h: _Handler, req: KubeRequest, rtype: ResourceType) -> None:
        dry_run = self._dry_run(req)
        content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip()
        with self._lock:
            current = self._lookup(rtype, req.namespace, req.name)
            old = copy.deepcopy(current.obj) if current else None
        if req.verb == "update":
            new = self._check_body_type(rtype, self._parse_body(req))
            meta = new.setdefault("metadata", {})
            if meta.get("name") and meta["name"] != req.name:
                raise _bad_request(
                    "the name of the object "
                    f"({meta['name']}) does not match the name on the URL ({req.name})"
                )
            if old is None:
                raise _not_found(rtype, req.name)
            expected = meta.get("resourceVersion")
            if expected and expected != old["metadata"].get("resourceVersion"):
                raise KubeError(
                    409,
                    f'Operation cannot be fulfilled on {rtype.qualified} "{req.name}": the '
                    "object has been modified; please apply your changes to the latest version "
                    "and try again",
                    details=_details(rtype, req.name),
                )
        else:
            patch = self._parse_body(req)
            if content_type == "application/apply-patch+yaml":
                if not req.param("fieldManager"):
                    raise KubeError(
                        422,
                        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                        "is required for apply patch",
                    )
                if old is None:
                    obj = self._check_body_type(rtype, patch)
                    obj.setdefault("metadata", {})["name"] = req.name
                    if rtype.namespaced:
                        obj["metadata"]["namespace"] = req.namespace
                    with self._lock:
                        stored = self._prepare(rtype, obj)
                        body = (
                            self._entry(rtype, stored).full
                            if dry_run
                            else self._store(rtype, stored, "ADDED").full
                        )
                    self._send_json(h, req, 201, body)
                    return
                new = _merge_patch(old, patch)
            elif old is None:
                raise _not_found(rtype, req.name)
            elif content_type == "application/json-patch+json":
                try:
                    new = _json_patch(old, patch)
                except ValueError as exc:
                    raise KubeError(422, str(exc)) from None
            elif content_type in (
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ):
                new = _merge_patch(old, patch)
            else:
                raise KubeError(
                    415,
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: application/json-patch+json, application/merge-patch+json, "
                    f"application/apply-patch+yaml (got {content_type!r})",
                )
            if not isinstance(new, dict):
                raise KubeError(422, "the patch turned the object into a non-object")
        assert old is not None
        if req.subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            new = merged
        elif "status" in old and req.verb == "update":
            new["status"] = old["status"]  # the main resource ignores status changes
        meta = new.setdefault("metadata", {})
        for keep in ("uid", "creationTimestamp", "name", "namespace", "generation"):
            if keep in old["metadata"]:
                meta[keep] = old["metadata"][keep]
        if new.get("spec") != old.get("spec") and "generation" in meta:
            meta["generation"] = int(meta["generation"]) + 1
        new["apiVersion"] = old.get("apiVersion") or rtype.api_version
        new["kind"] = rtype.kind
        with self._lock:
            stored = self._prepare(rtype, new)
            if dry_run:
                body = self._entry(rtype, stored).full
            else:
                body = self._store(rtype, stored, "MODIFIED").full
        self._send_json(h, req, 200, body)

    def _serve_delete(self, h: _Handler, req: KubeRequest, rtype: ResourceType) -> None:
        if req.subresource:
            raise KubeError(405, "the server does not allow this method on the requested resource")
        dry_run = self._dry_run(req)
        with self._lock:
            entry = self._lookup(rtype, req.namespace, req.name)
            if entry is None:
                raise _not_found(rtype, req.name)
            obj = copy.deepcopy(entry.obj)
            if not dry_run:
                self._remove(rtype, req.namespace, req.name)
        if rtype.returns_deleted_object:
            meta = obj["metadata"]
            meta["deletionTimestamp"] = _now()
            if rtype.kind == "Pod":
                meta["deletionGracePeriodSeconds"] = 30
            if rtype.kind == "Namespace":
                obj.setdefault("status", {})["phase"] = "Terminating"
            body = self._entry(rtype, obj).full
        else:
            details = _details(rtype, req.name)
            details["uid"] = obj["metadata"].get("uid", "")
            body = _dumps(status_object(200, None, "", details))
        self._send_json(h, req, 200, body)

    def _serve_delete_collection(self, h: _Handler, req: KubeRequest, rtype: ResourceType) -> None:
        dry_run = self._dry_run(req)
        labels, fields = self._selectors(req, rtype)
        with self._lock:
            bucket = self._buckets.get((rtype.group, rtype.plural)) or _Bucket()
            doomed = []
            for key in list(bucket.sorted_keys()):
                entry = bucket.entries[key]
                ns = entry.obj["metadata"].get("namespace", "") if rtype.namespaced else ""
                if rtype.namespaced and req.namespace and ns != req.namespace:
                    continue
                if labels.matches(entry.labels) and fields.matches(entry.obj):
                    doomed.append((ns, entry.obj["metadata"]["name"]))
            if not dry_run:
                for ns, name in doomed:
                    self._remove(rtype, ns, name)
        self._send_json(h, req, 200, _dumps(status_object(200, None, "", None)))

    # -- reviews --------------------------------------------------------------------------------
    def _serve_review(self, h: _Handler, req: KubeRequest, rtype: ResourceType) -> None:
        body = self._parse_body(req)
        if not isinstance(body, dict):
            raise _bad_request("the body must be an object")
        spec = body.get("spec") or {}
        status: dict[str, Any]
        if rtype.plural == "selfsubjectaccessreviews":
            attrs: dict[str, Any] = spec.get("resourceAttributes") or {}
            non_resource: dict[str, Any] = spec.get("nonResourceAttributes") or {}
            if bool(attrs) == bool(non_resource):
                raise KubeError(
                    422,
                    'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: '
                    'spec.resourceAttributes: Invalid value: "null": exactly one of '
                    "nonResourceAttributes or resourceAttributes must be specified",
                )
            with self._lock:
                self._access_reviews.append(copy.deepcopy(attrs or non_resource))
            if attrs:
                allowed = self.allows(
                    attrs.get("verb", ""),
                    attrs.get("resource", ""),
                    group=attrs.get("group", ""),
                    subresource=attrs.get("subresource", ""),
                    namespace=attrs.get("namespace", ""),
                    name=attrs.get("name", ""),
                )
            else:
                allowed = self._allows_non_resource(
                    non_resource.get("verb", ""), non_resource.get("path", "")
                )
            status = {"allowed": allowed}
            if allowed:
                status["reason"] = (
                    f'RBAC: allowed by ClusterRoleBinding "fake" of ClusterRole "fake" to User '
                    f'"{req.user}"'
                )
        elif rtype.plural == "selfsubjectrulesreviews":
            namespace = spec.get("namespace") or ""
            with self._lock:
                rbac = self._rbac
            basic = [
                {
                    "verbs": ["create"],
                    "apiGroups": ["authorization.k8s.io"],
                    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                },
                {
                    "verbs": ["create"],
                    "apiGroups": ["authentication.k8s.io"],
                    "resources": ["selfsubjectreviews"],
                },
            ]
            if rbac is None:
                rules = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, *basic]
                non_rules = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
            else:
                rules = [
                    r for r in rbac[0] + rbac[1].get(namespace, []) if "nonResourceURLs" not in r
                ] + basic
                non_rules = [{"verbs": ["get"], "nonResourceURLs": list(_DISCOVERY_URLS)}] + [
                    r for r in rbac[0] if "nonResourceURLs" in r
                ]
            status = {"resourceRules": rules, "nonResourceRules": non_rules, "incomplete": False}
        elif rtype.plural == "selfsubjectreviews":
            status = {"userInfo": {"username": req.user, "groups": list(self.groups)}}
        else:
            raise KubeError(405, f"{rtype.plural} are not supported by the fake API server")
        answer = {
            "kind": rtype.kind,
            "apiVersion": rtype.api_version,
            "metadata": {},
            "spec": spec,
            "status": status,
        }
        if rtype.plural == "selfsubjectreviews":
            answer.pop("spec")
        self._send_json(h, req, 201, _dumps(answer))


class _Answered(_Drop):
    """A fault already wrote its raw answer; keep the connection open."""


# -- module helpers ------------------------------------------------------------------------------
def _version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes version ordering: GA before beta before alpha, higher numbers first."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0, version)
    stage = {"": 0, "beta": 1, "alpha": 2}[match[2] or ""]
    return (stage, -int(match[1]), -int(match[3] or 0), version)


def _rule_allows(
    rule: Mapping[str, Any], verb: str, group: str, resource: str, subresource: str, name: str
) -> bool:
    """The RBAC ``RuleAllows`` of the real authorizer, for resource requests."""
    if "nonResourceURLs" in rule and not rule.get("resources"):
        return False
    verbs = rule.get("verbs") or []
    if "*" not in verbs and verb not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and group not in groups:
        return False
    combined = f"{resource}/{subresource}" if subresource else resource
    resources = rule.get("resources") or []
    if not any(
        r == "*" or r == combined or (subresource and r == f"*/{subresource}") for r in resources
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or name in names


def _forbidden_message(req: KubeRequest, rtype: ResourceType | None) -> str:
    """``nodes is forbidden: User "x" cannot list resource "nodes" in API group "" at the
    cluster scope`` -- the real authorizer's wording."""
    if not req.resource:
        return f'forbidden: User "{req.user}" cannot {req.verb} path "{req.path}"'
    resource = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
    qualified = (
        rtype.qualified
        if rtype
        else (f"{req.resource}.{req.api_group}" if req.api_group else req.resource)
    )
    subject = f'{qualified} "{req.name}"' if req.name else qualified
    where = f'in the namespace "{req.namespace}"' if req.namespace else "at the cluster scope"
    return (
        f'{subject} is forbidden: User "{req.user}" cannot {req.verb} resource "{resource}" in '
        f'API group "{req.api_group}" {where}'
    )


def _request_info(method: str, path: str, query: dict[str, list[str]]) -> KubeRequest:
    """Kubernetes' RequestInfo for a path: authorization verb and resource attributes."""
    req = KubeRequest(method=method, path=path, query=query, verb=method.lower())
    parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
    if not parts or parts[0] not in ("api", "apis"):
        return req
    if parts[0] == "api":
        if len(parts) < 2:
            return req
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 3:
            return req
        group, version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        return req  # discovery document
    watch_prefix = rest[0] == "watch"
    if watch_prefix:
        rest = rest[1:]
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
        # else: the namespace object itself, or its status/finalize subresource
    if not rest:
        return req
    req.api_group = group
    req.api_version = version
    req.resource = rest[0]
    req.name = rest[1] if len(rest) > 1 else ""
    req.subresource = rest[2] if len(rest) > 2 else ""
    req.namespace = namespace if req.resource != "namespaces" else ""
    watching = watch_prefix or (query.get("watch") or [""])[0].lower() in ("true", "1")
    if method in ("GET", "HEAD"):
        if watching:
            req.verb = "watch"
        else:
            req.verb = "get" if req.name else "list"
    elif method == "POST":
        req.verb = "create"
    elif method == "PUT":
        req.verb = "update"
    elif method == "PATCH":
        req.verb = "patch"
    elif method == "DELETE":
        req.verb = "delete" if req.name else "deletecollection"
    if req.verb in ("list", "watch") and not req.name:
        with contextlib.suppress(ValueError):
            req.name = FieldSelector((query.get("fieldSelector") or [""])[0]).name()
    return req


def iter_pages(list_call: Callable[..., Any], *, limit: int = 500, **kwargs: Any) -> Iterator[Any]:
    """Yield every page of a typed ``list_*`` call, following ``metadata._continue``."""
    token: str | None = None
    while True:
        page = list_call(limit=limit, _continue=token, **kwargs)
        yield page
        token = page.metadata._continue
        if not token:
            return
