"""Who the run is to RBAC (a SelfSubjectReview, else the pod's ServiceAccount), and the
RoleBinding that grants that subject the run's verbs inside one namespace only.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from preflight.clients.kube import IN_CLUSTER_TOKEN, KubeError

if TYPE_CHECKING:
    from preflight.clients.kube import KubeClient


#: the ClusterRole a run binds (with a RoleBinding) inside its own namespace only
RUN_ROLE = "preflight-run"


#: the ServiceAccount of deploy/rbac.yaml: the subject when no SelfSubjectReview answers in-cluster
DEFAULT_SERVICE_ACCOUNT = ("preflight", "preflight")


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
