"""``extension.loadbalancer``: whether the cluster can give the router's Service the address
that ``inferenceRouterServiceType=loadBalancer`` needs, judged *before*
``az k8s-extension create`` stops on it, and after the install (``--set phase=after`` without
``--extension-config``) against the installed settings from Azure Resource Manager
(``settings_source``; ``details["settings_source"]`` and ``details["inputs"]`` say which).

A cloud provider, or on Arc/on-premises clusters an implementation such as MetalLB, hands out
the addresses. Without one the Service stays pending and the install's health check reports
E40001 (E40003 for an internal load balancer outside AKS), when it is too late. Findings that
imply a different setting carry ``details["recommend"] = {"<setting>": "<value>"}`` for the
corrected-command summary.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Check, Context, Finding, Status, run_in_daemon_thread
from preflight.checks._shared.healthcodes import DOCS_HEALTHCHECK
from preflight.checks._shared.kube_reads import (
    Inventory,
    Read,
    age_text,
    code_details,
    code_text,
    created_at,
    failed_reads,
    get_one,
    labels,
    list_all,
    meta,
    ref,
    unverified,
)
from preflight.checks._shared.plan import Plan
from preflight.checks.extension.settings_source import PARAMETERS as SOURCE_PARAMETERS
from preflight.checks.extension.settings_source import SettingsInput, settings_input

DOCS_ROUTER = (
    "https://learn.microsoft.com/azure/machine-learning/"
    "how-to-kubernetes-inference-routing-azureml-fe"
)
DOCS_INTERNAL_LB = "https://learn.microsoft.com/azure/aks/internal-lb"
DOCS_METALLB = "https://metallb.universe.tf/configuration/"

#: providerID scheme -> cloud whose cloud-controller provisions LoadBalancer Services
LB_CLOUDS = {
    "azure": "Azure",
    "aws": "AWS",
    "gce": "Google Cloud",
    "openstack": "OpenStack (Octavia)",
    "digitalocean": "DigitalOcean",
    "linode": "Linode",
    "hcloud": "Hetzner Cloud",
    "oci": "Oracle Cloud",
    "ibm": "IBM Cloud",
    "alicloud": "Alibaba Cloud",
    "huaweicloud": "Huawei Cloud",
    "exoscale": "Exoscale",
}
#: providerID schemes of platforms whose nodes come without a LoadBalancer provisioner
NO_LB_PLATFORMS = {
    "kind": "kind",
    "k3s": "k3s",
    "rke2": "RKE2",
    "vsphere": "vSphere (no load balancer without NSX or AVI)",
    "moc": "AKS on Azure Local (needs its MetalLB-based load balancer extension)",
}
#: CRD -> LoadBalancer implementation it belongs to
LB_CRDS = {
    "ipaddresspools.metallb.io": "MetalLB",
    "addresspools.metallb.io": "MetalLB",
    "ciliumloadbalancerippools.cilium.io": "Cilium LB IPAM",
    "eips.network.kubesphere.io": "OpenELB",
    "servicegroups.purelb.io": "PureLB",
    "lbnodeagents.purelb.io": "PureLB",
}
#: workload name pattern -> LoadBalancer implementation (MetalLB: also anything in metallb-system)
LB_WORKLOADS = (
    (r"^svclb-", "k3s ServiceLB"),
    (r"^kube-vip", "kube-vip"),
    (r"^metallb-", "MetalLB"),
    (r"^openelb", "OpenELB"),
    (r"^purelb|^lbnodeagent", "PureLB"),
)
METALLB_NAMESPACE = "metallb-system"
PENDING_GRACE = dt.timedelta(minutes=10)
INTERNAL_LB_ANNOTATION = "service.beta.kubernetes.io/azure-load-balancer-internal"


@dataclass
class LbEvidence:
    clouds: dict[str, int] = field(default_factory=dict)  # cloud -> nodes
    platforms: dict[str, int] = field(default_factory=dict)  # no-LB platform -> nodes
    aks_nodes: int = 0
    nodes: int = 0
    with_address: list[str] = field(default_factory=list)  # "ns/name -> ip"
    pending: list[tuple[str, dt.timedelta]] = field(default_factory=list)
    implementations: dict[str, list[str]] = field(default_factory=dict)  # impl -> evidence
    pools: dict[str, int] = field(default_factory=dict)  # impl -> address pools found
    reads: list[Read] = field(default_factory=list)

    def found(self, impl: str, why: str) -> None:
        self.implementations.setdefault(impl, [])
        if why not in self.implementations[impl]:
            self.implementations[impl].append(why)


def _names(refs: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(refs[:limit])
    return shown + (f" and {len(refs) - limit} more" if len(refs) > limit else "")


class ExtensionLoadBalancer(Check):
    """With inferenceRouterServiceType=loadBalancer the router's Service needs something that
    hands out addresses: a cloud provider, or on Arc/on-premises clusters an implementation
    such as MetalLB. Without one the Service stays pending and the health check reports
    E40001."""

    id = "extension.loadbalancer"
    title = "The cluster can provision the router's LoadBalancer"
    category = "extension"
    needs = ("kube",)
    docs = DOCS_ROUTER
    #: after the install, the cluster whose installed settings are read (settings_source)
    parameters = SOURCE_PARAMETERS

    async def run(self, ctx: Context) -> list[Finding]:
        source = await settings_input(ctx)
        findings = await run_in_daemon_thread(self._judge, ctx, source)
        return source.stamp(findings)

    def _judge(self, ctx: Context, source: SettingsInput) -> list[Finding]:
        plan = Plan(source.settings)
        how = (
            "plan it in --extension-config: enableInference=True "
            "inferenceRouterServiceType=loadBalancer"
        )
        if not plan.given:
            message = "no --extension-config given, so no router Service type to check"
            if source.why_not != "no --extension-config given":
                message = f"no router Service type to check: {source.why_not}"
            remedy = f"{source.how}; or {how}" if source.how else how
            return [Finding.skipped("inferenceRouterServiceType", message, remedy)]
        service_type = (plan.value("inferenceRouterServiceType") or "").strip()
        if service_type.lower() != "loadbalancer":
            shown = service_type or "not set"
            where = " in the installed settings" if source.installed else ""
            return [
                Finding.skipped(
                    "inferenceRouterServiceType",
                    f"inferenceRouterServiceType is {shown}{where}: the router needs no load "
                    "balancer",
                    f"to check load balancer support, {how}",
                )
            ]
        evidence = self._evidence(ctx)
        cluster_type = (ctx.param("cluster_type") or "").strip().lower()
        findings = [self._provisioning(evidence, cluster_type)]
        pending = self._pending(evidence)
        if pending is not None:
            findings.append(pending)
        if plan.explicit("internalLoadBalancerProvider"):
            findings.append(
                self._internal(
                    evidence, cluster_type, plan.value("internalLoadBalancerProvider") or ""
                )
            )
        return findings

    # -- evidence -------------------------------------------------------------------------------

    def _evidence(self, ctx: Context) -> LbEvidence:
        evidence = LbEvidence()
        now = dt.datetime.now(dt.UTC)
        nodes = list_all(ctx, "Nodes", "v1", "nodes")
        services = list_all(ctx, "Services (all namespaces)", "v1", "services")
        inventory = Inventory(ctx)
        evidence.reads = [
            nodes,
            services,
            inventory.crds,
            inventory.daemonsets,
            inventory.deployments,
        ]
        for node in nodes.items:
            evidence.nodes += 1
            provider = str((node.get("spec") or {}).get("providerID") or "")
            scheme = provider.partition("://")[0].lower() if "://" in provider else ""
            if scheme in LB_CLOUDS:
                evidence.clouds[LB_CLOUDS[scheme]] = evidence.clouds.get(LB_CLOUDS[scheme], 0) + 1
            else:
                name = NO_LB_PLATFORMS.get(scheme, scheme or "no providerID")
                evidence.platforms[name] = evidence.platforms.get(name, 0) + 1
            if "kubernetes.azure.com/cluster" in labels(node):
                evidence.aks_nodes += 1
        for svc in services.items:
            if (svc.get("spec") or {}).get("type") != "LoadBalancer":
                continue
            name = f"{meta(svc).get('namespace')}/{meta(svc).get('name')}"
            ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            addresses = [i.get("ip") or i.get("hostname") for i in ingress if isinstance(i, dict)]
            addresses = [a for a in addresses if a]
            if addresses:
                evidence.with_address.append(f"{name} -> {addresses[0]}")
            else:
                since = created_at(svc)
                evidence.pending.append((name, now - since if since else dt.timedelta(0)))
        crd_names = {meta(c).get("name") for c in inventory.crds.items}
        for crd_name, impl in LB_CRDS.items():
            if crd_name in crd_names:
                evidence.found(impl, f"CRD {crd_name}")
        workloads = [("DaemonSet", inventory.daemonsets), ("Deployment", inventory.deployments)]
        for kind, read in workloads:
            for obj in read.items:
                name = str(meta(obj).get("name", ""))
                if meta(obj).get("namespace") == METALLB_NAMESPACE:
                    evidence.found("MetalLB", ref(kind, obj))
                for pattern, impl in LB_WORKLOADS:
                    if re.search(pattern, name):
                        evidence.found(impl, ref(kind, obj))
        metallb_ns = get_one(
            ctx, f"Namespace {METALLB_NAMESPACE}", "v1", "namespaces", METALLB_NAMESPACE, None
        )
        evidence.reads.append(metallb_ns)
        if metallb_ns.items:
            evidence.found("MetalLB", f"namespace {METALLB_NAMESPACE}")
        if evidence.platforms.get("k3s"):
            evidence.found(
                "k3s ServiceLB", "k3s nodes (ServiceLB is on unless --disable=servicelb)"
            )
        if "MetalLB" in evidence.implementations:
            self._pools(ctx, evidence, inventory, "MetalLB", "ipaddresspools.metallb.io")
        if "Cilium LB IPAM" in evidence.implementations:
            self._pools(
                ctx, evidence, inventory, "Cilium LB IPAM", "ciliumloadbalancerippools.cilium.io"
            )
        return evidence

    def _pools(
        self, ctx: Context, evidence: LbEvidence, inventory: Inventory, impl: str, crd_name: str
    ) -> None:
        """Count address pools: an implementation without one assigns no address."""
        crd = next((c for c in inventory.crds.items if meta(c).get("name") == crd_name), None)
        if crd is None:
            if impl == "MetalLB":  # MetalLB < 0.13 kept its pools in a ConfigMap
                read = get_one(
                    ctx, "MetalLB ConfigMap", "v1", "configmaps", "config", "metallb-system"
                )
                evidence.reads.append(read)
                if read.items and "address-pools" in str(read.items[0].get("data") or {}):
                    evidence.pools[impl] = 1
            return
        spec = crd.get("spec") or {}
        versions = [v for v in spec.get("versions") or [] if v.get("served")]
        stored = next((v for v in versions if v.get("storage")), versions[0] if versions else None)
        if stored is None:
            return
        plural = crd_name.partition(".")[0]
        read = list_all(
            ctx, f"{impl} address pools", f"{spec.get('group')}/{stored['name']}", plural
        )
        evidence.reads.append(read)
        if read.ok:
            evidence.pools[impl] = len(read.items)

    # -- conclusions ----------------------------------------------------------------------------

    def _provisioning(self, ev: LbEvidence, cluster_type: str) -> Finding:
        target = "inferenceRouterServiceType"
        details: dict[str, Any] = {
            "cluster_type": cluster_type or None,
            "cloud_providers": ev.clouds,
            "other_platforms": ev.platforms,
            "implementations": ev.implementations,
            "address_pools": ev.pools,
            "services_with_address": ev.with_address[:10],
            "services_pending": [{"service": n, "age": age_text(a)} for n, a in ev.pending[:10]],
        }
        failed = failed_reads(ev.reads)
        if failed:
            details["unverified"] = failed
        reasons: list[str] = []
        if ev.with_address:
            reasons.append(
                f"{len(ev.with_address)} LoadBalancer Service(s) already got an address "
                f"({_names(ev.with_address, 2)})"
            )
        for cloud, count in ev.clouds.items():
            reasons.append(
                f"{count} node(s) run on {cloud} (spec.providerID), whose cloud provider "
                "provisions load balancers"
            )
        poolless = []
        for impl, why in ev.implementations.items():
            if impl in ("MetalLB", "Cilium LB IPAM") and ev.pools.get(impl, 0) == 0:
                poolless.append(f"{impl} ({_names(why, 2)}) has no address pool")
                continue
            pools = f", {ev.pools[impl]} address pool(s)" if impl in ev.pools else ""
            reasons.append(f"{impl} is installed ({_names(why, 2)}{pools})")
        if reasons:
            message = "the cluster can provision the router's LoadBalancer: " + "; ".join(reasons)
            if poolless:
                message += "; note: " + "; ".join(poolless)
            return Finding.passed(target, message, **details)
        if failed and not ev.nodes:
            return unverified(target, "load balancer support", ev.reads, **details)
        details.update(code_details("E40001"))
        details["recommend"] = {"inferenceRouterServiceType": "nodePort"}
        nodes = ", ".join(f"{n} ({c})" for n, c in ev.platforms.items()) or "none readable"
        parts = [f"no node runs on a cloud whose provider makes load balancers (nodes: {nodes})"]
        parts += poolless or [
            "no LoadBalancer implementation found (looked for MetalLB, kube-vip, Cilium LB IPAM, "
            "OpenELB, PureLB, k3s ServiceLB)"
        ]
        if ev.pending:
            oldest = max(ev.pending, key=lambda p: p[1])
            parts.append(
                f"{len(ev.pending)} LoadBalancer Service(s) never got an address (oldest "
                f"{oldest[0]}, waiting {age_text(oldest[1])})"
            )
        else:
            parts.append("no LoadBalancer Service has an address")
        arc = " (an Arc-enabled or on-premises cluster)" if cluster_type == "arc" else ""
        message = (
            f"inferenceRouterServiceType=loadBalancer, but this cluster{arc} cannot provision a "
            f"load balancer: {'; '.join(parts)} ({code_text('E40001')})"
        )
        remediation = (
            "set inferenceRouterServiceType=nodePort (or clusterIP behind your own ingress and "
            "TLS termination), or install a load balancer implementation such as MetalLB with an "
            "IPAddressPool before installing the extension"
        )
        if poolless:
            remediation = (
                "give the installed implementation an address pool (e.g. a MetalLB IPAddressPool "
                "and L2Advertisement), " + remediation.replace("set ", "or set ", 1)
            )
        status = Status.WARN if failed else Status.FAIL
        docs = DOCS_METALLB if poolless else DOCS_HEALTHCHECK
        return Finding(status, target, message, remediation, docs, details)

    def _pending(self, ev: LbEvidence) -> Finding | None:
        """LoadBalancer Services waiting long for an address, when the cluster otherwise can:
        quota, permissions or an exhausted pool would stall the router's Service the same way."""
        stuck = sorted((p for p in ev.pending if p[1] >= PENDING_GRACE), key=lambda p: -p[1])
        can = bool(ev.with_address or ev.clouds or ev.implementations)
        if not stuck or not can:
            return None
        name, age = stuck[0]
        namespace, _, svc = name.partition("/")
        return Finding.warned(
            f"Service/{name}",
            f"{len(stuck)} LoadBalancer Service(s) have waited for an address for more than "
            f"{age_text(PENDING_GRACE)} (longest: {name}, {age_text(age)}): the router's Service "
            "may wait the same way",
            f"read why: kubectl describe service {svc} -n {namespace} (events); on AKS check the "
            "public IP quota and that the cluster identity may manage the node resource group "
            "and subnet; with MetalLB check that the pool has free addresses",
            DOCS_ROUTER,
            pending=[{"service": n, "age": age_text(a)} for n, a in stuck[:20]],
        )

    def _internal(self, ev: LbEvidence, cluster_type: str, value: str) -> Finding:
        target = "internalLoadBalancerProvider"
        details: dict[str, Any] = {
            "cluster_type": cluster_type or None,
            "aks_nodes": ev.aks_nodes,
            "azure_nodes": ev.clouds.get("Azure", 0),
            **code_details("E40003"),
        }
        remove = (
            "remove internalLoadBalancerProvider from the plan; for a private endpoint on this "
            "cluster use inferenceRouterServiceType=nodePort or clusterIP behind your own "
            "internal load balancer"
        )
        if value.strip().lower() != "azure" or cluster_type == "arc":
            # the settings alone decide these; extension.config reports them (E40003)
            why = (
                "cluster_type=arc" if cluster_type == "arc" else f"the value {value!r} is not azure"
            )
            return Finding.skipped(
                target,
                f"not checked against the nodes: {why}, which extension.config reports "
                f"({code_text('E40003')})",
                "remove internalLoadBalancerProvider, or set it to azure on an AKS cluster",
                **details,
            )
        if ev.aks_nodes or (cluster_type == "aks" and ev.clouds.get("Azure")):
            return Finding.passed(
                target,
                "AKS: the router's Service gets the annotation "
                f"{INTERNAL_LB_ANNOTATION}=true and a private address from the cluster's "
                "subnet on an internal Azure load balancer",
                **{k: v for k, v in details.items() if k != "health_check"},
            )
        if not ev.nodes:
            return unverified(target, "that this is an AKS cluster", ev.reads[:1], **details)
        seen = ", ".join(f"{n} ({c})" for n, c in {**ev.clouds, **ev.platforms}.items())
        return Finding.failed(
            target,
            "internalLoadBalancerProvider=azure works only on AKS, and the nodes are not AKS "
            f"nodes (no kubernetes.azure.com/cluster label; {seen}) ({code_text('E40003')})",
            remove + "; if this is AKS, check the kubeconfig context",
            DOCS_INTERNAL_LB,
            **details,
            recommend={"internalLoadBalancerProvider": None},
        )


CHECKS = [ExtensionLoadBalancer()]
