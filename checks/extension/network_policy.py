"""``extension.network-policy``: no NetworkPolicy blocks the traffic the extension's components
need.

The flows are the Azure ML firewall page's "In-cluster communication requirements"
(https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall
#in-cluster-communication-requirements, ms.date 2026-03-19), quoted in ``FLOWS``:

- the components in ``azureml`` reach the Kubernetes API server, each other, and ``kube-dns`` and
  ``konnectivity-agent`` in ``kube-system``;
- for real-time inference, ``azureml-fe`` pods reach the model pods on port 5001 in other
  namespaces and open 11001, 12001, 12101, 12201, 20000, 8000, 8001 and 9001 for internal
  communication, and the model pods reach ``amlarc-identity-proxy`` on 9999;

plus what the extension's other docs imply: the components that talk to Azure ("Communication
with cloud" in the component table of how-to-deploy-kubernetes-extension) go out on 443, and
``azureml-fe`` takes scoring requests from clients (how-to-kubernetes-inference-routing-azureml-fe;
the pod port behind its Service port 80 is not documented). Prometheus scraping the kubelets on
10250 (the troubleshooting page's ``https-metrics`` ServiceMonitor; the number is Kubernetes'
default) is inferred: a block there warns instead of failing.

Policies are evaluated as Kubernetes does (checks/extension/netpol.py) in ``azureml`` and in the
namespace of the model pods (``--set compute_namespace``, default ``default``, the namespace
``az ml compute attach`` uses by default); ``kube-system``'s own policies are the platform's and
are not judged. A documented flow that is surely blocked fails; one that may be blocked (the
extension's pods' labels are not known before the install, a named port, an ``ipBlock``) warns
with the policies involved. When the AKS resource says no network policy engine runs, policies are
not enforced and a block only warns. A policy this check cannot read is a warning naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from preflight.api import (
    Check,
    Context,
    Finding,
    KubeError,
    Status,
    kubeshapes,
    run_in_daemon_thread,
)
from preflight.checks._shared.cluster_resource import read_cluster
from preflight.checks._shared.kube_reads import labels, list_all, unverified
from preflight.checks._shared.nodes import NODES_PATH
from preflight.checks._shared.plan import NAMESPACE, Plan, cluster_type_of
from preflight.checks.extension.netpol import (
    MAYBE,
    NO,
    YES,
    End,
    Outside,
    Pods,
    Policy,
    Port,
    Side,
    both,
    direction,
    parse,
)

DOCS_IN_CLUSTER = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall"
    "#in-cluster-communication-requirements"
)
DOCS_K8S = "https://kubernetes.io/docs/concepts/services-networking/network-policies/"
COMPUTE_NAMESPACE = "compute_namespace"
PARAMETERS = {
    COMPUTE_NAMESPACE: "namespace of the Kubernetes compute where model pods run "
    "(az ml compute attach --namespace; default: default)",
}
FE_PORTS = (11001, 12001, 12101, 12201, 20000, 8000, 8001, 9001)
QUOTE_API = (
    "The components in azureml namespace should be able to communicate with Kubernetes API server."
)
QUOTE_EACH = "The components in azureml namespace should be able to communicate with each other."
QUOTE_SYSTEM = (
    "The components in azureml namespace should be able to communicate with kube-dns and "
    "konnectivity-agent in kube-system namespace."
)
QUOTE_MODEL = (
    "azureml-fe-xxx PODs should be able to communicate with the deployed model PODs on 5001 port "
    "in other namespace."
)
QUOTE_FE = (
    "azureml-fe-xxx PODs should open 11001, 12001, 12101, 12201, 20000, 8000, 8001, 9001 ports "
    "for internal communication."
)
QUOTE_PROXY = (
    "the deployed model PODs should be able to communicate with amlarc-identity-proxy-xxx PODs "
    "on 9999 port."
)


@dataclass(frozen=True)
class Flow:
    """One kind of traffic the extension needs, from ``source`` to ``dest`` on ``ports``."""

    name: str
    source: End
    dest: End
    ports: tuple[Port, ...]
    why: str  # the documentation's words (or what the rule is inferred from)
    documented: bool = True

    @property
    def target(self) -> str:
        return f"{_end_text(self.source)} -> {_end_text(self.dest)}"


def _end_text(end: End) -> str:
    if isinstance(end, Outside):
        return end.what
    return f"{end.namespace}/{end.what}"


#: the kube-system pods the docs name, found by the label that identifies them (their other
#: labels are read from the pods when they can be listed)
SYSTEM_PODS = {
    "kube-dns": ("k8s-app", "kube-dns"),
    "konnectivity-agent": ("app", "konnectivity-agent"),
}


@dataclass
class Cluster:
    """What the check read besides the policies."""

    node_ips: tuple[str, ...] = ()
    system: dict[str, Pods] = field(default_factory=dict)


def system_pods(name: str, found: dict[str, Pods]) -> Pods:
    """The pods the docs name: with all their labels when listed, else the identifying one."""
    if name in found:
        return found[name]
    key, value = SYSTEM_PODS[name]
    return Pods("kube-system", name, {key: value})


def flows(plan: Plan, kind: str, compute: str, cluster: Cluster) -> list[Flow]:
    """The flows of this plan: inference adds the router's and the model pods'."""
    ours = Pods(NAMESPACE, "extension pods")
    fe = Pods(NAMESPACE, "azureml-fe")
    proxy = Pods(NAMESPACE, "amlarc-identity-proxy")
    models = Pods(compute, "model pods")
    dns = system_pods("kube-dns", cluster.system)
    tunnel = system_pods("konnectivity-agent", cluster.system)
    node_ips = cluster.node_ips
    api_port = Port("TCP", 443 if kind == "aks" else None)  # AKS serves the API on 443
    found = [
        Flow("among the extension's components", ours, ours, (Port("TCP", None),), QUOTE_EACH),
        Flow("to the API server", ours, Outside("Kubernetes API server"), (api_port,), QUOTE_API),
        Flow("to kube-dns", ours, dns, (Port("UDP", 53), Port("TCP", 53)), QUOTE_SYSTEM),
        Flow(
            "to Azure",
            ours,
            Outside("Azure services (internet)", anywhere=True),
            (Port("TCP", 443),),
            "gateway, relayserver, fluent-bit, the identity components and prometheus talk to "
            "Azure (the extension's component table, 'Communication with cloud'; the firewall "
            "page's outbound rules are all on 443)",
        ),
        Flow(
            "to the kubelets",
            ours,
            Outside("kubelets", addresses=node_ips),
            (Port("TCP", 10250),),
            "Prometheus scrapes the kubelets' cAdvisor metrics (port https-metrics, 10250 by "
            "default): inferred from the troubleshooting page's prom-kubelet ServiceMonitor",
            documented=False,
        ),
    ]
    if kind == "aks":  # konnectivity-agent is AKS's API-server tunnel
        found += [
            Flow("to konnectivity-agent", ours, tunnel, (Port("TCP", None),), QUOTE_SYSTEM),
            Flow(
                "from konnectivity-agent (API server calls: webhooks, logs)",
                tunnel,
                ours,
                (Port("TCP", None),),
                QUOTE_SYSTEM,
            ),
        ]
    if plan.inference or not plan.given:
        found += [
            Flow(
                "from the router to the model pods", fe, models, (Port("TCP", 5001),), QUOTE_MODEL
            ),
            Flow(
                "to the router's internal ports",
                ours,
                fe,
                tuple(Port("TCP", p) for p in FE_PORTS),
                QUOTE_FE,
            ),
            Flow(
                "from the model pods to the identity proxy",
                models,
                proxy,
                (Port("TCP", 9999),),
                QUOTE_PROXY,
            ),
            Flow(
                "of scoring requests to the router",
                Outside("clients", anywhere=True),
                fe,
                (Port("TCP", None),),
                "azureml-fe routes incoming inference requests (how-to-kubernetes-inference-"
                "routing-azureml-fe); the pod port behind Service port 80 is not documented",
            ),
        ]
    return found


@dataclass
class Verdict:
    flow: Flow
    verdict: int
    ports: dict[str, int]
    sides: list[tuple[str, Side]]
    blocking: list[str]  # Egress (at the source), Ingress (at the destination)


def judge(flow: Flow, policies: list[Policy]) -> Verdict:
    per_port: dict[str, int] = {}
    sides: list[tuple[str, Side]] = []
    blocking: list[str] = []
    for port in flow.ports:
        results = []
        ends = (("Egress", flow.source, flow.dest), ("Ingress", flow.dest, flow.source))
        for kind, subject, peer in ends:
            if not isinstance(subject, Pods):
                continue
            side = direction(policies, subject, peer, port, kind)
            results.append(side.verdict)
            if side.isolating:
                name = f"{kind.lower()} of {subject.namespace}/{subject.what} ({port})"
                sides.append((name, side))
            if side.verdict != YES and kind not in blocking:
                blocking.append(kind)
        per_port[str(port)] = both(results)
    return Verdict(flow, both(per_port.values()), per_port, sides, blocking)


def _peer(end: End) -> list[dict[str, Any]]:
    """A policy peer for ``end`` (none for addresses outside: narrow it to your API server,
    nodes or firewall yourself)."""
    if isinstance(end, Outside):
        return []
    peer: dict[str, Any] = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": end.namespace}}
    }
    if end.what in SYSTEM_PODS:
        key, value = SYSTEM_PODS[end.what]
        peer["podSelector"] = {"matchLabels": {key: value}}
    return [peer]


def suggested_policies(verdict: Verdict) -> list[dict[str, Any]]:
    """NetworkPolicies that would allow the flow at each end that blocks it."""
    flow = verdict.flow
    ports = [
        {"protocol": p.protocol, **({"port": p.number} if p.number else {})} for p in flow.ports
    ]
    slug = re.sub(r"[^a-z0-9]+", "-", flow.name.lower()).strip("-")[:40]
    out = []
    for kind in verdict.blocking:
        subject, other = (flow.source, flow.dest) if kind == "Egress" else (flow.dest, flow.source)
        assert isinstance(subject, Pods)
        rule: dict[str, Any] = {}
        if _peer(other):
            rule["to" if kind == "Egress" else "from"] = _peer(other)
        if any("port" in p for p in ports):
            rule["ports"] = ports
        out.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"allow-azureml-{slug}", "namespace": subject.namespace},
                "spec": {"podSelector": {}, "policyTypes": [kind], kind.lower(): [rule]},
            }
        )
    return out


class NetworkPolicyCheck(Check):
    """No NetworkPolicy blocks the extension's in-cluster traffic (module doc)."""

    id = "extension.network-policy"
    title = "No NetworkPolicy blocks the traffic the extension's components need"
    category = "extension"
    needs = ("kube",)
    docs = DOCS_IN_CLUSTER
    parameters = PARAMETERS

    async def run(self, ctx: Context) -> list[Finding]:
        reading = run_in_daemon_thread(self._read, ctx)
        cluster = await read_cluster(ctx)
        read, seen = await reading
        plan = Plan(ctx.extension_settings)
        kind, _ = cluster_type_of(ctx)
        compute = ctx.param(COMPUTE_NAMESPACE, "default") or "default"
        target = f"NetworkPolicies in {NAMESPACE} and {compute}"
        if not read.ok:
            return [unverified(target, "which NetworkPolicies apply", [read])]
        enforced = None
        if cluster.cluster is not None and cluster.cluster.kind == "aks":
            engine = cluster.cluster.get("networkProfile", "networkPolicy")
            enforced = bool(engine) and str(engine).lower() != "none"
        watched = {NAMESPACE, compute}
        policies = [parse(p) for p in read.items]
        policies = [p for p in policies if p.namespace in watched]
        findings = [self._unreadable(p) for p in policies if p.problem]
        if not policies:
            return [
                Finding.passed(
                    target,
                    f"no NetworkPolicy in namespace {NAMESPACE} or {compute}: nothing there "
                    "restricts the extension's traffic",
                    namespaces=sorted(watched),
                )
            ]
        verdicts = [judge(f, policies) for f in flows(plan, kind, compute, seen)]
        details_common = {
            "policies": [p.ref for p in policies],
            "namespaces": sorted(watched),
            **({"network_policy_engine_enforced": enforced} if enforced is not None else {}),
        }
        for verdict in verdicts:
            if verdict.verdict != YES:
                findings.append(self._blocked(verdict, enforced, details_common))
        if not findings:
            findings.append(
                Finding.passed(
                    target,
                    f"the NetworkPolicies in {', '.join(sorted(watched))} allow every flow the "
                    f"extension needs ({len(verdicts)} checked)",
                    flows=[v.flow.target for v in verdicts],
                    **details_common,
                )
            )
        return findings

    @staticmethod
    def _read(ctx: Context) -> tuple[Any, Cluster]:
        read = list_all(
            ctx,
            "NetworkPolicies (all namespaces)",
            "networking.k8s.io/v1",
            "networkpolicies",
            shape=kubeshapes.OBJECT,
        )
        try:
            nodes = ctx.kube.list(NODES_PATH)
        except KubeError:
            nodes = []  # the kubelet flow is judged without addresses (nodes.capacity reports)
        ips = []
        for node in nodes:
            for address in (node.get("status") or {}).get("addresses") or []:
                if address.get("type") == "InternalIP" and address.get("address"):
                    ips.append(str(address["address"]))
        seen = Cluster(tuple(ips))
        for name, (key, value) in SYSTEM_PODS.items():
            pods = list_all(
                ctx, name, "v1", "pods", namespace="kube-system", label_selector=f"{key}={value}"
            )
            for pod in pods.items[:1]:  # replicas differ only in pod-template-hash
                marks = {str(k): str(v) for k, v in labels(pod).items()}
                seen.system[name] = Pods("kube-system", name, marks, complete=True)
        return read, seen

    @staticmethod
    def _unreadable(policy: Policy) -> Finding:
        return Finding.warned(
            policy.ref,
            f"could not read NetworkPolicy {policy.namespace}/{policy.name}: {policy.problem}; "
            "it may isolate and may allow any of the extension's traffic, so what it does is "
            "unverified",
            f"look at it with `kubectl get networkpolicy -n {policy.namespace} {policy.name} "
            "-o yaml` and fix or remove it",
            DOCS_K8S,
            problem=policy.problem,
        )

    @staticmethod
    def _blocked(verdict: Verdict, enforced: bool | None, common: dict[str, Any]) -> Finding:
        flow = verdict.flow
        blocked = [p for p, v in verdict.ports.items() if v == NO]
        unsure = [p for p, v in verdict.ports.items() if v == MAYBE]
        isolating = sorted({r for _, s in verdict.sides for r in s.isolating})
        details: dict[str, Any] = {
            "flow": flow.name,
            "why_needed": flow.why,
            "documented": flow.documented,
            "blocked_ports": blocked,
            "unsure_ports": unsure,
            "isolated_by": isolating,
            "sides": [
                {"side": name, "isolated_by": s.isolating, "may_allow": s.allowing}
                for name, s in verdict.sides
            ],
            **common,
        }
        details["suggested_policies"] = suggested_policies(verdict)
        by = ", ".join(isolating) or "a policy"
        if verdict.verdict == NO:
            status = Status.FAIL if flow.documented and enforced is not False else Status.WARN
            what = f"is blocked ({', '.join(blocked)})"
            unenforced = (
                "; the AKS resource shows no network policy engine, so nothing enforces it "
                "today, but one enabled later would"
                if enforced is False
                else ""
            )
        else:
            status = Status.WARN
            what = f"may be blocked ({', '.join(unsure or blocked)}): preflight cannot tell"
            unenforced = ""
        source = "the docs say" if flow.documented else "inferred"
        fix = (
            "add a NetworkPolicy allowing it (details.suggested_policies has one per blocking "
            f"end: narrow its peers to what you allow) or change {by}"
        )
        return Finding(
            status,
            flow.target,
            f"traffic {flow.name} {what} by {by}{unenforced}; {source}: {flow.why}",
            fix,
            DOCS_IN_CLUSTER,
            details,
        )


CHECKS = [NetworkPolicyCheck()]
