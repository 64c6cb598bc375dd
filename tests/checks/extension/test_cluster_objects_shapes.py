"""Objects of shapes nobody planned for, read by the cluster-object checks: a NetworkPolicy, a Helm
release record, a DaemonSet or a controller Deployment with any value anywhere is either judged
or named as unreadable, never an exception (hypothesis: one value of a real object replaced by
any JSON)."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.strategies import one_wrong


def _policy() -> dict[str, Any]:
    from support.kube_objects import networkpolicy

    return networkpolicy(
        "mixed",
        "azureml",
        pod_selector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]},
        ingress=[{"from": [{"namespaceSelector": {}, "podSelector": {}}], "ports": [{"port": 80}]}],
        egress=[
            {"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]},
            {"ports": [{"protocol": "UDP", "port": 53, "endPort": 54}, {"port": "dns"}]},
        ],
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(one_wrong(st.builds(_policy)))
@example({"metadata": {"name": "x", "namespace": "azureml"}, "spec": {"podSelector": None}})
def test_any_network_policy_is_judged_or_named_unreadable(policy: Any) -> None:
    from preflight.checks._shared.plan import Plan
    from preflight.checks.extension.netpol import parse
    from preflight.checks.extension.network_policy import Cluster, flows, judge

    parsed = parse(policy if isinstance(policy, dict) else {"spec": policy})
    assert parsed.problem or parsed.selector is not None
    for flow in flows(Plan({}), "aks", "default", Cluster(("10.0.0.4",))):
        judge(flow, [parsed])


def _release() -> dict[str, Any]:
    from support.kube_objects import helm_release_payload

    return helm_release_payload("azureml", "azureml", 3, "pending-upgrade")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(one_wrong(st.builds(_release)), st.sampled_from(["gzip", "plain", "cut"]))
def test_any_helm_release_payload_is_read_or_named_unreadable(payload: Any, packing: str) -> None:
    from support.kube_objects import helm_release_secret

    from preflight.checks._shared.helm_release import read_record

    raw = json.dumps(payload).encode()
    packed = gzip.compress(raw) if packing != "plain" else raw
    if packing == "cut":
        packed = packed[: len(packed) // 2]
    record = read_record(
        helm_release_secret("azureml", revision=3, raw_release=base64.b64encode(packed))
    )
    assert record.problem or record.payload["status"]
    json.dumps(record.summary())
    record.last_change()


def _daemonset() -> dict[str, Any]:
    from support.kube_objects import daemonset

    return daemonset(
        "nvidia-device-plugin-daemonset",
        "kube-system",
        image="nvcr.io/nvidia/k8s-device-plugin:v0.16.2",
        node_selector={"nvidia.com/gpu.present": "true"},
        tolerations=[{"operator": "Exists"}],
        node_affinity=[{"matchExpressions": [{"key": "gpus", "operator": "Gt", "values": ["0"]}]}],
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(one_wrong(st.builds(_daemonset)))
def test_any_daemonset_is_placed_or_named_unknown(ds: Any) -> None:
    from support.kube_objects import node

    from preflight.checks._shared.bundled import registers_nvidia_gpu
    from preflight.checks.extension.device_plugins import Unknown, places_on
    from preflight.checks.extension.ownership import ingress_class_of

    if not isinstance(ds, dict) or not isinstance(ds.get("metadata"), dict):
        return  # the client's shape check stops these before a check sees them
    registers_nvidia_gpu(ds)
    ingress_class_of(ds)
    try:
        places_on(ds, node("aks-gpu-0", gpus=1, labels={"gpus": "1"}))
    except Unknown as exc:
        assert str(exc)
