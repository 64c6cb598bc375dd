"""A cluster shaped as AKS makes it: a system pool (2 nodes) and a GPU pool (2 nodes, tainted as
AKS GPU pools usually are), the default namespaces, and CoreDNS in kube-system. For the tests
of the in-cluster probes (connectivity) and of cluster.dns (cluster)."""

from __future__ import annotations

from typing import Any

from support.kube_objects import default_namespaces, deployment, node, pod

GPU_TAINT = "sku=gpu:NoSchedule"


def coredns(ready: int = 2, replicas: int = 2, reason: str = "CrashLoopBackOff") -> list[Any]:
    """The CoreDNS Deployment and its pods, ``ready`` of ``replicas`` ready."""
    labels = {"k8s-app": "kube-dns"}
    objects: list[Any] = [
        deployment(
            "coredns",
            "kube-system",
            replicas=replicas,
            ready_replicas=ready,
            labels=labels,
            selector=labels,
        )
    ]
    for i in range(replicas):
        healthy = i < ready
        objects.append(
            pod(
                f"coredns-6d8f9c7b5-{i:05d}",
                "kube-system",
                labels=labels,
                node="aks-system-00000000-vmss000000",
                waiting_reason=None if healthy else reason,
            )
        )
    return objects


def two_pools(core: list[Any] | None = None) -> list[Any]:
    """Two pools: system (2 nodes) and gpu (2 nodes, tainted as AKS GPU pools usually are)."""
    nodes = [
        node(f"aks-system-00000000-vmss00000{i}", pool="system", mode="System") for i in (0, 1)
    ]
    nodes += [
        node(f"aks-gpu-11111111-vmss00000{i}", pool="gpu", taints=[GPU_TAINT], gpus=1)
        for i in (0, 1)
    ]
    return [*nodes, *default_namespaces(), *(coredns() if core is None else core)]
