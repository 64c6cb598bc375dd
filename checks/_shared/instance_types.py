"""InstanceType objects (``amlarc.azureml.com/v1alpha1``): read from the cluster and from
``--instance-types FILE``, their documented rules, the documented default, and which nodes one
selects. Shared by ``extension.instance-types`` and the ``deployment.*`` checks (data, no checks).

Sources:

- A: "Create and manage instance types for efficient utilization of compute resources"
  (ms.date 07/23/2025), https://learn.microsoft.com/azure/machine-learning/how-to-manage-kubernetes-instance-types:
  an instance type is a ``nodeSelector`` plus ``resources``; its rules table (name unique in a
  cluster; cpu and memory requests and limits required, "can't be zero or empty"; GPU "Integer
  values that can be specified only in the ``limits`` section"); its ``nodeSelector`` "should
  be a subset of the extension-specified ``nodeSelector``" and the workload runs on nodes
  matching both; ``InstanceTypeList``; ``defaultinstancetype``, which "doesn't appear as an
  InstanceType custom resource" unless the user creates one, and is used when a workload names
  no instance type.
- The default's definition: A's YAML (requests cpu 100m / memory 2Gi, limits cpu 2 / memory
  2Gi, no GPU, no nodeSelector). A's prose still says "8 GB", from the 11/09/2022 version; the
  extension's release notes (https://learn.microsoft.com/azure/machine-learning/reference-kubernetes,
  1.1.19 and 1.1.23, 2023) changed the default to a 2Gi memory limit, so the YAML is current.
- Kubernetes: a container's request may not exceed its limit, a missing request defaults to the
  limit, and GPUs are whole, "only supposed to be specified in the limits section", equal when
  given in both (https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/,
  https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/).
- The CRD's name ``instancetypes.amlarc.azureml.com`` follows from the group and kind (the docs
  use ``kubectl get instancetype``); its scope is not documented, so it is read from the CRD.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Context, Fact, KubeError, kubeshapes, path_for
from preflight.checks._shared.nodes import GPU_RESOURCE, NodeState, NodeSurvey
from preflight.checks._shared.planfiles import (
    Bad,
    Document,
    amount_text,
    join,
    known_keys,
    mapping,
    nearest,
    quantity,
    read_documents,
    shown,
    where,
)

GROUP = "amlarc.azureml.com"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
PLURAL = "instancetypes"
KIND = "InstanceType"
LIST_KINDS = ("InstanceTypeList", "List")
CRD_NAME = f"{PLURAL}.{GROUP}"
CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
DEFAULT_NAME = "defaultinstancetype"
DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-manage-kubernetes-instance-types"
DOCS_DEFAULT = DOCS + "#default-instance-type"
DOCS_CREATE = DOCS + "#create-a-custom-instance-type"
#: A's YAML for ``defaultinstancetype`` when no such object exists
DEFAULT_REQUESTS = {"cpu": 0.1, "memory": 2.0 * 1024**3}
DEFAULT_LIMITS = {"cpu": 2.0, "memory": 2.0 * 1024**3}
DEFAULT_TEXT = "requests cpu 100m / memory 2Gi, limits cpu 2 / memory 2Gi, no GPU, no nodeSelector"
#: the resources the rules judge (others are kept but not judged)
JUDGED = ("cpu", "memory", GPU_RESOURCE)
#: resource names written without a domain that Kubernetes knows (a typo is an unknown field)
_PLAIN_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_METADATA_FIELDS = (
    "name",
    "namespace",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generateName",
    "ownerReferences",
    "finalizers",
    "managedFields",
    "selfLink",
)


@dataclass(frozen=True)
class InstanceType:
    """One instance type as the rules see it: quantities in base units (cores, bytes, GPUs)."""

    name: str
    node_selector: dict[str, str]
    requests: dict[str, float]
    limits: dict[str, float]
    #: "cluster", "--instance-types FILE:LINE" or "documented default"
    source: str
    #: ``FILE:LINE`` per field path (``spec.resources.limits.cpu``) for messages
    lines: dict[str, str] = field(default_factory=dict)
    #: problems found reading a cluster object (a file's are exit 2 instead)
    problems: tuple[str, ...] = ()
    implied: bool = False

    def request(self, resource: str) -> float:
        """What the scheduler reserves: the request, else the limit (Kubernetes defaulting)."""
        if resource in self.requests:
            return self.requests[resource]
        return self.limits.get(resource, 0.0)

    def effective_requests(self) -> dict[str, float]:
        return {r: self.request(r) for r in JUDGED if self.request(r)}

    def describe(self) -> dict[str, Any]:
        """Details for a finding: what it asks for, in Kubernetes' own notation."""
        return {
            "name": self.name,
            "source": self.source,
            "node_selector": dict(self.node_selector),
            "requests": {r: amount_text(r, v) for r, v in self.requests.items()},
            "limits": {r: amount_text(r, v) for r, v in self.limits.items()},
        }


# -- reading one object ----------------------------------------------------------------------------


def parse(obj: Mapping[str, Any], source: str, *, strict: bool) -> InstanceType:
    """An InstanceType from one object. ``strict`` (a planned file): unknown fields and bad
    quantities are ``Bad`` (exit 2). Otherwise (the cluster): they are kept as ``problems``
    and the object is judged as far as it can be."""
    problems: list[str] = []

    def complain(error: Bad) -> None:
        if strict:
            raise error
        problems.append(error.problem)

    if strict:
        known_keys(obj, ("apiVersion", "kind", "metadata", "spec", "status"), "")
    metadata = mapping(obj, "metadata", "", required=True)
    if strict:
        known_keys(metadata, _METADATA_FIELDS, "metadata")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise Bad(where(metadata, "name"), "metadata.name is missing (every instance type has one)")
    if strict and (len(name) > 253 or not _NAME.match(name)):
        raise Bad(
            where(metadata, "name"),
            f"metadata.name {name!r} is not a Kubernetes object name (lowercase letters, "
            "digits, '-' and '.', starting and ending with a letter or digit)",
        )
    lines: dict[str, str] = {"metadata.name": where(metadata, "name")}
    selector: dict[str, str] = {}
    requests: dict[str, float] = {}
    limits: dict[str, float] = {}
    try:
        spec = mapping(obj, "spec", "") or {}
    except Bad as error:
        complain(error)
        spec = {}
    if strict:
        known_keys(spec, ("nodeSelector", "resources"), "spec")
    try:
        selector = _selector(spec)
    except Bad as error:
        complain(error)
    lines["spec.nodeSelector"] = where(spec, "nodeSelector")
    try:
        resources = mapping(spec, "resources", "spec") or {}
    except Bad as error:
        complain(error)
        resources = {}
    if strict:
        known_keys(resources, ("requests", "limits"), "spec.resources")
    for section, into in (("requests", requests), ("limits", limits)):
        path = f"spec.resources.{section}"
        try:
            amounts = mapping(resources, section, "spec.resources") or {}
        except Bad as error:
            complain(error)
            continue
        lines[path] = where(resources, section)
        for resource in amounts:
            try:
                _resource_name(amounts, str(resource), path)
                value = amounts.get(resource)
                if value is None:
                    continue  # "nvidia.com/gpu: null" in A's default: no GPU
                into[str(resource)] = quantity(amounts, str(resource), path)
                lines[join(path, str(resource))] = where(amounts, resource)
            except Bad as error:
                if strict:
                    raise
                problems.append(error.problem)
    return InstanceType(name, selector, requests, limits, source, lines, tuple(problems))


def _selector(spec: Mapping[str, Any]) -> dict[str, str]:
    selector = mapping(spec, "nodeSelector", "spec") or {}
    found: dict[str, str] = {}
    for key, value in selector.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise Bad(
                where(selector, key),
                f"spec.nodeSelector.{key}: expected a label value (text), got {shown(value)}",
            )
        found[str(key)] = str(value)
    return found


def _resource_name(amounts: Mapping[str, Any], name: str, path: str) -> None:
    """A plain resource name must be one Kubernetes knows (``memroy`` is a typo); names with a
    domain (``nvidia.com/gpu``, ``amd.com/gpu``) and ``hugepages-*`` are extended resources."""
    if name in _PLAIN_RESOURCES or "/" in name or name.startswith("hugepages-"):
        return
    hint = nearest(name, (*_PLAIN_RESOURCES, GPU_RESOURCE))
    did = f" (did you mean {hint}?)" if hint else ""
    raise Bad(where(amounts, name), f"unknown field {join(path, name)}{did}")


def default_instance_type() -> InstanceType:
    """``defaultinstancetype`` as A defines it, for a cluster that holds none."""
    return InstanceType(
        DEFAULT_NAME,
        {},
        dict(DEFAULT_REQUESTS),
        dict(DEFAULT_LIMITS),
        "documented default",
        implied=True,
    )


# -- the planned file ------------------------------------------------------------------------------


def load_file(path: str) -> list[InstanceType]:
    """Every InstanceType of ``--instance-types FILE``: one object, several documents, an
    ``InstanceTypeList`` or a ``List``. ValueError (``Bad``) naming the file, line, document
    index and kind for anything else; a name defined twice is refused as the API would."""
    documents = read_documents(path)
    if not documents:
        raise Bad(f"{path}:1", "no documents: expected InstanceType objects")
    found: list[InstanceType] = []
    seen: dict[str, str] = {}
    for document in documents:
        for obj, at in _objects_of(document, path):
            item = parse(obj, f"--instance-types {at}", strict=True)
            if item.name in seen:
                raise Bad(
                    item.lines["metadata.name"],
                    f"instance type {item.name!r} is defined twice (first at {seen[item.name]}); "
                    "names must be unique in a cluster",
                )
            seen[item.name] = item.lines["metadata.name"]
            found.append(item)
    return found


def _objects_of(document: Document, path: str) -> Iterable[tuple[Mapping[str, Any], str]]:
    """The InstanceType objects of one document, each with ``FILE:LINE``."""
    value = document.value
    label = f"document {document.index}"
    if not isinstance(value, Mapping):
        raise Bad(
            f"{path}:{document.line}",
            f"{label} is {shown(value)}, not an object (expected kind {KIND}, "
            f"{' or '.join(LIST_KINDS)})",
        )
    kind = value.get("kind")
    if kind == KIND:
        _api_version(value, label, path, document)
        yield value, where(value)
        return
    if kind in LIST_KINDS:
        known_keys(value, ("apiVersion", "kind", "metadata", "items"), "")
        items = value.get("items")
        if items is None:
            return
        if not isinstance(items, list):
            raise Bad(where(value, "items"), f"{label}: items: expected a list of {KIND} objects")
        for index, item in enumerate(items):
            at = where(items, index)
            if not isinstance(item, Mapping):
                raise Bad(at, f"{label}, items[{index}] is {shown(item)}, not an object")
            item_kind = item.get("kind")
            if item_kind not in (None, KIND):
                raise Bad(
                    at,
                    f"{label}, items[{index}] is of kind {item_kind}, not {KIND}",
                )
            if item_kind is not None or kind == "List":
                _api_version(item, f"{label}, items[{index}]", path, document)
            yield item, at
        return
    raise Bad(
        where(value, "kind") if "kind" in value else f"{path}:{document.line}",
        f"{label} is of kind {kind if kind is not None else '(none)'}, not {KIND} "
        f"(expected {API_VERSION} {KIND}, {' or '.join(LIST_KINDS)})",
    )


def _api_version(obj: Mapping[str, Any], label: str, path: str, document: Document) -> None:
    version = obj.get("apiVersion")
    if version != API_VERSION:
        at = where(obj, "apiVersion") if "apiVersion" in obj else where(obj)
        raise Bad(at, f"{label}: apiVersion {shown(version)}, expected {API_VERSION}")


def validate_file(path: str) -> None:
    """``input_validators`` entry for ``--instance-types``."""
    load_file(path)


# -- the cluster -----------------------------------------------------------------------------------


@dataclass
class ClusterInstanceTypes:
    """What the cluster holds: whether the CRD exists (and its scope and served version), its
    InstanceTypes, or the API error that stopped the read."""

    crd_present: bool = False
    scope: str | None = None
    version: str | None = None
    items: list[InstanceType] = field(default_factory=list)
    error: KubeError | None = None
    #: the read that failed, in words, and the permission it needs
    failed_read: str = ""
    permission: str = ""

    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"crd": CRD_NAME, "crd_present": self.crd_present}
        if self.crd_present:
            details.update(scope=self.scope, version=self.version, in_cluster=len(self.items))
        if self.error is not None:
            details["unread"] = {"read": self.failed_read, "kind": self.error.kind}
        return details


def _gather(ctx: Context) -> ClusterInstanceTypes:
    found = ClusterInstanceTypes()
    try:
        crds = ctx.kube.list(CRDS_PATH)
    except KubeError as exc:
        found.error, found.failed_read = exc, "CustomResourceDefinitions"
        found.permission = "list customresourcedefinitions.apiextensions.k8s.io (cluster-wide)"
        return found
    crd = next((c for c in crds if (c.get("metadata") or {}).get("name") == CRD_NAME), None)
    if crd is None:
        return found
    spec = crd.get("spec") or {}
    served = [v for v in spec.get("versions") or () if v.get("served") is not False]
    names = [str(v.get("name")) for v in served]
    found.crd_present = True
    found.scope = str(spec.get("scope") or "Cluster")
    found.version = VERSION if VERSION in names else (names[0] if names else VERSION)
    # cluster-scoped or not, the collection path without a namespace lists them all
    path = path_for(f"{GROUP}/{found.version}", PLURAL)
    try:
        objects = ctx.kube.list(path, shape=kubeshapes.OBJECT)
    except KubeError as exc:
        found.error, found.failed_read = exc, "InstanceTypes"
        found.permission = f"list {PLURAL}.{GROUP} (cluster-wide)"
        return found
    for obj in objects:
        try:
            found.items.append(parse(obj, "cluster", strict=False))
        except Bad as error:  # no usable name: judged under the name the API gave
            name = str((obj.get("metadata") or {}).get("name") or "(unnamed)")
            found.items.append(InstanceType(name, {}, {}, {}, "cluster", problems=(error.problem,)))
    return found


#: the cluster's InstanceTypes, read once per run
CLUSTER_INSTANCE_TYPES: Fact[ClusterInstanceTypes] = Fact("the cluster's InstanceTypes", _gather)


def planned(ctx: Context) -> list[InstanceType]:
    """The InstanceTypes of ``--instance-types`` (already validated before the run)."""
    path = ctx.input_file("instance_types")
    return load_file(path) if path else []


def combined(
    cluster: Sequence[InstanceType], planned_items: Sequence[InstanceType]
) -> list[InstanceType]:
    """Cluster and planned instance types by name, a planned one replacing the cluster's (as
    ``kubectl apply`` of the file would)."""
    by_name = {item.name: item for item in cluster}
    for item in planned_items:
        by_name[item.name] = item
    return list(by_name.values())


def resolve(name: str | None, known: Sequence[InstanceType]) -> InstanceType | None:
    """The instance type a workload naming ``name`` gets (None: ``defaultinstancetype``): the
    one defined, else for the default its documented definition; None when undefined."""
    wanted = name or DEFAULT_NAME
    for item in known:
        if item.name == wanted:
            return item
    return default_instance_type() if wanted == DEFAULT_NAME else None


# -- nodes -----------------------------------------------------------------------------------------


def contradictions(
    extension: Mapping[str, str], selector: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """Labels both selectors name with different values: label -> (extension's, instance
    type's). A workload then matches no node the extension may use (A: the instance type's
    nodeSelector should be a subset of the extension's)."""
    return {
        key: (extension[key], value)
        for key, value in selector.items()
        if key in extension and extension[key] != value
    }


def selects(node: NodeState, selector: Mapping[str, str]) -> bool:
    labels = node.labels
    return all(labels.get(key) == value for key, value in selector.items())


def matching(survey: NodeSurvey, selector: Mapping[str, str]) -> list[NodeState]:
    """Eligible nodes (Ready, schedulable, tolerated, the extension's nodeSelector) that the
    instance type's ``nodeSelector`` also selects."""
    return [n for n in survey.eligible if selects(n, selector)]


def allocatable(node: NodeState, resource: str) -> float:
    if resource == "cpu":
        return node.cpu_allocatable
    if resource == "memory":
        return node.memory_allocatable
    if resource == GPU_RESOURCE:
        return node.gpu_allocatable
    return 0.0
