"""``cluster.dns``: the cluster's own DNS serves pods. The CoreDNS pods (``k8s-app=kube-dns`` in
kube-system) are ready, and, with ``--in-cluster``, ``kubernetes.default.svc.cluster.local``
resolves from every pool's probe pod (checks/_shared/probe_fleet.py).
"""

from __future__ import annotations

from typing import Any

from preflight.api import Check, Context, Finding, KubeError, Status, path_for
from preflight.checks._shared.kube_reads import is_ready
from preflight.checks._shared.pods import not_ready_reason
from preflight.checks._shared.probe_fleet import (
    CLUSTER_DNS_NAME,
    ENABLE,
    PROBE_FLEET,
    ProbeRun,
    pod_place,
)

COREDNS_SELECTOR = "k8s-app=kube-dns"
#: what a CoreDNS pod that runs but is not ready is listed as
RUNNING_NOT_READY = "running, not ready (readiness probe failing)"
DNS_DOCS = "https://learn.microsoft.com/azure/aks/coredns-custom"


class ClusterDns(Check):
    id = "cluster.dns"
    title = "The cluster's DNS (CoreDNS) serves pods"
    category = "cluster"
    needs = ("kube",)
    docs = DNS_DOCS

    def run(self, ctx: Context) -> list[Finding]:
        findings = [self._coredns(ctx)]
        if not ctx.in_cluster:
            findings.append(
                Finding.skipped(
                    CLUSTER_DNS_NAME,
                    f"not checked from a pod: whether {CLUSTER_DNS_NAME} resolves inside the "
                    "cluster needs a probe pod",
                    ENABLE,
                )
            )
            return findings
        result = ctx.fact(PROBE_FLEET)
        if result.failure is not None:
            findings.append(
                Finding.skipped(
                    CLUSTER_DNS_NAME,
                    f"not checked from a pod: {result.failure.message}",
                    result.failure.remediation,
                )
            )
            return findings
        findings += [self._from_pod(run) for run in result.runs]
        return findings

    def _coredns(self, ctx: Context) -> Finding:
        target = "kube-system/coredns"
        pods_path = path_for("v1", "pods", "kube-system")
        try:
            pods = ctx.kube.list(pods_path, label_selector=COREDNS_SELECTOR)
        except KubeError as exc:
            return Finding.warned(
                target,
                f"could not read the CoreDNS pods: {exc.message}",
                exc.remediation(),
                None,
                permission="list pods (namespace kube-system)",
            )
        desired = None
        try:
            deployments = ctx.kube.list(
                path_for("apps/v1", "deployments", "kube-system"), label_selector=COREDNS_SELECTOR
            )
            if deployments:
                desired = sum(
                    int((d.get("spec") or {}).get("replicas", 1) or 0) for d in deployments
                )
        except KubeError:
            desired = None  # the pods alone still answer the question
        ready = [p for p in pods if is_ready(p)]
        desired = desired if desired is not None else len(pods)
        not_ready = {
            str((p.get("metadata") or {}).get("name")): not_ready_reason(p, RUNNING_NOT_READY)
            for p in pods
            if not is_ready(p)
        }
        details: dict[str, Any] = {
            "ready": len(ready),
            "desired": desired,
            "pods": len(pods),
            "selector": COREDNS_SELECTOR,
        }
        if not_ready:
            details["not_ready"] = not_ready
        listed = "; ".join(f"{name}: {why}" for name, why in not_ready.items())
        if not pods:
            return Finding.warned(
                target,
                f"no pods labelled {COREDNS_SELECTOR} in kube-system: the cluster's DNS is "
                "missing or is not CoreDNS",
                "make sure the cluster runs a DNS add-on (CoreDNS) that pods use; the "
                "extension's pods resolve Azure hosts and each other through it",
                DNS_DOCS,
                **details,
            )
        if not ready:
            return Finding.failed(
                target,
                f"no CoreDNS pod is ready (0/{desired}): pods cannot resolve any name; {listed}",
                "look at the CoreDNS pods (kubectl -n kube-system describe pods -l "
                f"{COREDNS_SELECTOR}; kubectl -n kube-system logs -l {COREDNS_SELECTOR}): a "
                "crash loop often comes from a broken coredns-custom ConfigMap",
                DNS_DOCS,
                **details,
            )
        if len(ready) < desired or not_ready:
            return Finding.warned(
                target,
                f"{len(ready)}/{desired} CoreDNS pods ready; not ready: {listed or 'not created'}",
                "look at the pods that are not ready (kubectl -n kube-system describe pods -l "
                f"{COREDNS_SELECTOR}): fewer replicas serve every DNS query of the cluster",
                DNS_DOCS,
                **details,
            )
        return Finding.passed(target, f"{len(ready)}/{desired} CoreDNS pods ready", **details)

    def _from_pod(self, run: ProbeRun) -> Finding:
        where = pod_place(run.target, run.node)
        node = run.node or run.target.node
        base = {"node": node, "node_pool": run.target.pool, "vantage": "in-cluster"}
        if run.problem is not None and run.problem.details.get("pod_outcome") == "interrupted":
            return _interrupted(where, run.problem, base)
        if run.problem is not None:
            return Finding.skipped(
                CLUSTER_DNS_NAME,
                f"not checked from {where}: the probe pod gave no results "
                "(see connectivity.in-cluster)",
                run.problem.remediation,
                **base,
            )
        line = next((r for r in run.resolutions if r.get("resolve") == CLUSTER_DNS_NAME), None)
        if run.cut_short is not None and (line is None or line.get("outcome") == "interrupted"):
            return _interrupted(where, run.cut_short, base)
        if line is None:
            return Finding.errored(
                CLUSTER_DNS_NAME,
                f"the probe on {where} did not report resolving {CLUSTER_DNS_NAME}",
                "make sure --set probe_image names preflight's own image of this version",
                **base,
            )
        details = {
            **base,
            **{k: v for k, v in line.items() if k not in ("resolve", "node", "node_pool")},
        }
        outcome = str(line.get("outcome") or "error")
        resolver = line.get("resolver") or "the pod's resolver"
        if outcome == "ok":
            addresses = ", ".join(str(a) for a in line.get("addresses") or [])
            return Finding.passed(
                CLUSTER_DNS_NAME, f"resolves from {where} to {addresses}", **details
            )
        return Finding.failed(
            CLUSTER_DNS_NAME,
            f"{CLUSTER_DNS_NAME} does not resolve from {where} ({outcome}, via {resolver}): "
            "pods there cannot use the cluster's DNS",
            "check that pods on this pool reach the kube-dns Service on UDP and TCP 53 (a "
            "NetworkPolicy, an NSG on the pool's subnet, or node-local DNS), and that CoreDNS "
            "is ready (the CoreDNS finding)",
            DNS_DOCS,
            **details,
        )


def _interrupted(where: str, why: Finding, base: dict[str, Any]) -> Finding:
    """The name was not resolved from ``where`` because the run or the pod was stopped first
    (``why``: the fleet's finding saying so): an error, never a fail."""
    return Finding(
        Status.ERROR,
        CLUSTER_DNS_NAME,
        f"not checked from {where}: {why.message}",
        why.remediation,
        details={**base, "interrupted": why.details.get("interrupted")},
    )


CHECKS = [ClusterDns()]
