"""The shapes of the Kubernetes API answers preflight reads (preflight.jsonshape).

The client checks every JSON answer against these before a check sees it, so a check can read
``node["status"]["capacity"]`` knowing it is an object if present: an API server (or whatever
answers in its place) that sends a list where an object belongs, a number for a label or an item
that is not an object becomes one ``malformed`` KubeError naming the request and the place in the
answer, and every check that reads it reports that instead of failing inside preflight.

The shapes follow the Kubernetes API types (what a real API server always sends) for the fields
checks read; fields not named here are not looked at. Missing fields and ``null`` are fine
(Kubernetes omits empty ones) except where marked required (every object has a name).
"""

from __future__ import annotations

from preflight.jsonshape import BOOL, INT, SCALAR, STR, Arr, Obj, OneOf, Shape

STRMAP = Obj(values=STR)
#: resource quantities are strings in the API; numbers are tolerated (hand-written objects)
QUANTITIES = Obj(values=SCALAR)

OWNER = Obj(
    {
        "apiVersion": STR,
        "kind": STR,
        "name": STR,
        "uid": STR,
        "controller": BOOL,
        "blockOwnerDeletion": BOOL,
    }
)
METADATA = Obj(
    {
        "name": STR,
        "namespace": STR,
        "generateName": STR,
        "uid": STR,
        "resourceVersion": STR,
        "creationTimestamp": STR,
        "deletionTimestamp": STR,
        "generation": INT,
        "labels": STRMAP,
        "annotations": STRMAP,
        "ownerReferences": Arr(OWNER),
        "finalizers": Arr(STR),
    }
)
NAMED = METADATA.extend({}, required=("name",))


def kube_object(**fields: Shape) -> Obj:
    """An object as the API stores it: kind, apiVersion, metadata with a name, then ``fields``."""
    return Obj(
        {"apiVersion": STR, "kind": STR, "metadata": NAMED, **fields}, required=("metadata",)
    )


CONDITION = Obj(
    {
        "type": STR,
        "status": STR,
        "reason": STR,
        "message": STR,
        "lastTransitionTime": STR,
        "lastHeartbeatTime": STR,
        "lastUpdateTime": STR,
    }
)
TAINT = Obj({"key": STR, "value": STR, "effect": STR, "timeAdded": STR})
TOLERATION = Obj(
    {"key": STR, "operator": STR, "value": STR, "effect": STR, "tolerationSeconds": INT}
)
SELECTOR = Obj(
    {
        "matchLabels": STRMAP,
        "matchExpressions": Arr(Obj({"key": STR, "operator": STR, "values": Arr(STR)})),
    }
)
RESOURCES = Obj({"requests": QUANTITIES, "limits": QUANTITIES})
CONTAINER = Obj(
    {
        "name": STR,
        "image": STR,
        "imagePullPolicy": STR,
        "command": Arr(STR),
        "args": Arr(STR),
        "resources": RESOURCES,
        "ports": Arr(Obj({"containerPort": INT, "name": STR, "protocol": STR, "hostPort": INT})),
        "env": Arr(Obj({"name": STR, "value": STR})),
    }
)
STATE_DETAIL = Obj(
    {"reason": STR, "message": STR, "exitCode": INT, "signal": INT, "startedAt": STR}
)
CONTAINER_STATE = Obj({"waiting": STATE_DETAIL, "running": Obj(), "terminated": STATE_DETAIL})
CONTAINER_STATUS = Obj(
    {
        "name": STR,
        "image": STR,
        "imageID": STR,
        "containerID": STR,
        "ready": BOOL,
        "started": BOOL,
        "restartCount": INT,
        "state": CONTAINER_STATE,
        "lastState": CONTAINER_STATE,
    }
)
POD_SPEC = Obj(
    {
        "nodeName": STR,
        "serviceAccountName": STR,
        "hostNetwork": BOOL,
        "priorityClassName": STR,
        "containers": Arr(CONTAINER),
        "initContainers": Arr(CONTAINER),
        "nodeSelector": STRMAP,
        "tolerations": Arr(TOLERATION),
        "affinity": Obj(),
        "imagePullSecrets": Arr(Obj({"name": STR})),
    }
)
POD_TEMPLATE = Obj({"metadata": METADATA, "spec": POD_SPEC})

NODE = kube_object(
    spec=Obj(
        {
            "unschedulable": BOOL,
            "taints": Arr(TAINT),
            "providerID": STR,
            "podCIDR": STR,
            "podCIDRs": Arr(STR),
        }
    ),
    status=Obj(
        {
            "capacity": QUANTITIES,
            "allocatable": QUANTITIES,
            "conditions": Arr(CONDITION),
            "nodeInfo": Obj(
                {
                    "operatingSystem": STR,
                    "architecture": STR,
                    "kubeletVersion": STR,
                    "containerRuntimeVersion": STR,
                    "osImage": STR,
                    "kernelVersion": STR,
                }
            ),
            "addresses": Arr(Obj({"type": STR, "address": STR})),
            "images": Arr(Obj({"names": Arr(STR), "sizeBytes": INT})),
        }
    ),
)
POD = kube_object(
    spec=POD_SPEC,
    status=Obj(
        {
            "phase": STR,
            "reason": STR,
            "message": STR,
            "podIP": STR,
            "hostIP": STR,
            "nominatedNodeName": STR,
            "conditions": Arr(CONDITION),
            "containerStatuses": Arr(CONTAINER_STATUS),
            "initContainerStatuses": Arr(CONTAINER_STATUS),
        }
    ),
)
_REPLICAS = {
    "replicas": INT,
    "readyReplicas": INT,
    "availableReplicas": INT,
    "updatedReplicas": INT,
    "unavailableReplicas": INT,
    "currentReplicas": INT,
    "observedGeneration": INT,
    "conditions": Arr(CONDITION),
}
WORKLOAD_SPEC = Obj({"replicas": INT, "selector": SELECTOR, "template": POD_TEMPLATE})
DEPLOYMENT = kube_object(spec=WORKLOAD_SPEC, status=Obj(_REPLICAS))
STATEFULSET = DEPLOYMENT
REPLICASET = DEPLOYMENT
DAEMONSET = kube_object(
    spec=Obj({"selector": SELECTOR, "template": POD_TEMPLATE}),
    status=Obj(
        {
            "desiredNumberScheduled": INT,
            "currentNumberScheduled": INT,
            "numberReady": INT,
            "numberAvailable": INT,
            "numberUnavailable": INT,
            "numberMisscheduled": INT,
            "updatedNumberScheduled": INT,
            "observedGeneration": INT,
            "conditions": Arr(CONDITION),
        }
    ),
)
JOB = kube_object(
    spec=Obj(
        {
            "template": POD_TEMPLATE,
            "selector": SELECTOR,
            "backoffLimit": INT,
            "completions": INT,
            "parallelism": INT,
            "activeDeadlineSeconds": INT,
        }
    ),
    status=Obj(
        {
            "active": INT,
            "succeeded": INT,
            "failed": INT,
            "ready": INT,
            "conditions": Arr(CONDITION),
            "startTime": STR,
            "completionTime": STR,
        }
    ),
)
SERVICE = kube_object(
    spec=Obj(
        {
            "type": STR,
            "clusterIP": STR,
            "clusterIPs": Arr(STR),
            "selector": STRMAP,
            "loadBalancerIP": STR,
            "externalTrafficPolicy": STR,
            "ports": Arr(
                Obj(
                    {
                        "name": STR,
                        "port": INT,
                        "nodePort": INT,
                        "protocol": STR,
                        "targetPort": OneOf(INT, STR),
                    }
                )
            ),
        }
    ),
    status=Obj({"loadBalancer": Obj({"ingress": Arr(Obj({"ip": STR, "hostname": STR}))})}),
)
CONFIGMAP = kube_object(data=STRMAP, binaryData=STRMAP)
SECRET = kube_object(type=STR, data=STRMAP, stringData=STRMAP)
NAMESPACE = kube_object(status=Obj({"phase": STR}))
CRD = kube_object(
    spec=Obj(
        {
            "group": STR,
            "scope": STR,
            "names": Obj(
                {
                    "plural": STR,
                    "singular": STR,
                    "kind": STR,
                    "listKind": STR,
                    "shortNames": Arr(STR),
                }
            ),
            "versions": Arr(
                Obj({"name": STR, "served": BOOL, "storage": BOOL}, required=("name",))
            ),
        }
    )
)
EVENT = kube_object(
    type=STR,
    reason=STR,
    message=STR,
    note=STR,
    count=INT,
    firstTimestamp=STR,
    lastTimestamp=STR,
    eventTime=STR,
    involvedObject=Obj({"kind": STR, "name": STR, "namespace": STR}),
    regarding=Obj({"kind": STR, "name": STR, "namespace": STR}),
)
BINDING = kube_object(
    roleRef=Obj({"kind": STR, "name": STR, "apiGroup": STR}),
    subjects=Arr(Obj({"kind": STR, "name": STR, "namespace": STR, "apiGroup": STR})),
)
RULES = kube_object(
    rules=Arr(
        Obj(
            {
                "apiGroups": Arr(STR),
                "resources": Arr(STR),
                "resourceNames": Arr(STR),
                "verbs": Arr(STR),
            }
        )
    )
)
#: any other object (a custom resource): only its metadata is known
OBJECT = kube_object()

VERSION = Obj(
    {
        "major": STR,
        "minor": STR,
        "gitVersion": STR,
        "gitCommit": STR,
        "platform": STR,
        "goVersion": STR,
        "buildDate": STR,
    }
)
DISCOVERY = Obj(
    {
        "groupVersion": STR,
        "resources": Arr(Obj({"name": STR, "kind": STR, "namespaced": BOOL, "verbs": Arr(STR)})),
    }
)

#: (group, plural) -> the shape of one object
RESOURCES_BY_PLURAL: dict[tuple[str, str], Obj] = {
    ("", "nodes"): NODE,
    ("", "pods"): POD,
    ("", "services"): SERVICE,
    ("", "configmaps"): CONFIGMAP,
    ("", "secrets"): SECRET,
    ("", "namespaces"): NAMESPACE,
    ("", "events"): EVENT,
    ("events.k8s.io", "events"): EVENT,
    ("apps", "deployments"): DEPLOYMENT,
    ("apps", "statefulsets"): STATEFULSET,
    ("apps", "replicasets"): REPLICASET,
    ("apps", "daemonsets"): DAEMONSET,
    ("batch", "jobs"): JOB,
    ("apiextensions.k8s.io", "customresourcedefinitions"): CRD,
    ("rbac.authorization.k8s.io", "rolebindings"): BINDING,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): BINDING,
    ("rbac.authorization.k8s.io", "roles"): RULES,
    ("rbac.authorization.k8s.io", "clusterroles"): RULES,
}

_LIST_METADATA = Obj({"continue": STR, "resourceVersion": STR, "remainingItemCount": INT})


def list_of(item: Shape) -> Obj:
    """A list answer: ``items`` (required: an empty list is ``[]``) and the paging metadata."""
    return Obj({"items": Arr(item), "metadata": _LIST_METADATA}, required=("items",))


#: subresources whose answer is the object itself
_OBJECT_SUBRESOURCES = ("status",)


def resolve(path: str) -> tuple[str, Shape]:
    """What ``GET path`` answers: ``("list", item shape)``, ``("object", shape)`` or
    ``("other", shape)`` (``/version``, discovery, non-resource paths)."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts == ["version"]:
        return "other", VERSION
    if parts and parts[0] == "api" and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts and parts[0] == "apis" and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return "other", Obj()  # /api, /apis, /healthz: an object, nothing more is read
    if not rest:
        return "other", DISCOVERY
    namespace_itself = len(rest) == 3 and group == "" and rest[2] in ("status", "finalize")
    if rest[0] == "namespaces" and len(rest) >= 3 and not namespace_itself:
        rest = rest[2:]
    item = RESOURCES_BY_PLURAL.get((group, rest[0]), OBJECT)
    if len(rest) == 1:
        return "list", item
    if len(rest) == 2 or rest[2] in _OBJECT_SUBRESOURCES:
        return "object", item
    return "other", Obj()


def shape_for(path: str) -> Shape:
    """The whole answer to ``GET path``: a list of its resource's objects, one object,
    discovery or /version."""
    kind, shape = resolve(path)
    return list_of(shape) if kind == "list" else shape


def envelope_for(path: str) -> Shape:
    """What every answer to ``GET path`` must be whoever reads it: a list of named objects, one
    named object, or the non-resource document. Readers then check the fields they use
    (``shape_for``, or a shape of their own)."""
    kind, shape = resolve(path)
    if kind == "list":
        return list_of(OBJECT)
    return OBJECT if kind == "object" else shape
