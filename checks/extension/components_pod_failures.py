"""Why a pod of namespace ``azureml`` is not running, for ``extension.components``: what each
of Kubernetes' reasons means (an image pull failure names the registry host and the egress
findings that foresee it, an unschedulable pod quotes the scheduler, a crash loop points at the
previous log) and what to do about it, and the findings for pods no expected component claims.
Kept apart from the component verdicts: these explanations are most of the check's rules.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Context, Finding
from preflight.checks._shared.plan import DOCS_RESOURCES, DOCS_TROUBLESHOOT, NAMESPACE
from preflight.checks._shared.pods import PodState, image_registry, name_of, pod_state
from preflight.checks.extension.components_configuration import Installation, cluster_args
from preflight.checks.extension.components_table import ComponentSpec, setting_text

#: pods named in a message (all of them are in details)
PODS_NAMED = 4

PULL_REASONS = {
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "RegistryUnavailable",
}
CRASH_REASONS = {
    "CrashLoopBackOff",
    "Error",
    "OOMKilled",
    "RunContainerError",
    "StartError",
    "ContainerCannotRun",
}
CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError"}
_AUTH_WORDS = ("unauthorized", "401", "403", "authentication required", "denied", "forbidden")
_MISSING_WORDS = ("not found", "manifest unknown", "name unknown", "does not exist")
_NODES_RE = re.compile(r"(\d+)/(\d+) nodes are available")
_SCHEDULING_RE = re.compile(r"nodes are available: (?P<body>.*?)(?:\. preemption:|\.$|$)")


@dataclass
class Explanation:
    """What one kind of pod failure means and what to do about it."""

    text: str = ""
    remedies: list[str] = field(default_factory=list)
    foreseen_by: list[dict[str, str]] = field(default_factory=list)
    recommend: dict[str, str] = field(default_factory=dict)
    docs: str | None = None


class PodExplainer:
    """Explanations of pod failures for one installation (its settings shape the remedies)."""

    def __init__(self, ctx: Context, install: Installation) -> None:
        self.ctx = ctx
        self.install = install
        self.config = install.config

    def _cluster_arg(self) -> str:
        return cluster_args(self.ctx, self.config)

    def explain(self, spec: ComponentSpec | None, bad: list[PodState]) -> Explanation:
        """One explanation for the pods' reasons (each reason explained once)."""
        merged = Explanation()
        texts: list[str] = []
        seen: set[tuple[str, str]] = set()
        for state in bad:
            key = (state.reason, image_registry(state.image) if state.image else "")
            if key in seen:
                continue
            seen.add(key)
            part = self._explain_one(spec, state)
            if part.text:
                texts.append(part.text)
            merged.remedies += part.remedies
            merged.foreseen_by += [f for f in part.foreseen_by if f not in merged.foreseen_by]
            merged.recommend.update(part.recommend)
            merged.docs = merged.docs or part.docs
        merged.text = ". ".join(dict.fromkeys(texts))
        return merged

    def _explain_one(self, spec: ComponentSpec | None, state: PodState) -> Explanation:
        if state.reason in PULL_REASONS:
            return self._explain_pull(state)
        if state.reason == "Unschedulable":
            return self._explain_unschedulable(spec, state)
        if state.reason in CRASH_REASONS:
            return self._explain_crash(spec, state)
        if state.reason in CONFIG_REASONS:
            return self._explain_config(spec, state)
        if state.reason == "NotReady":
            return Explanation(
                remedies=[
                    f"its readiness probe fails: kubectl -n {NAMESPACE} logs {state.name} says "
                    "why" + (cloud_hint(spec) if spec else "")
                ]
            )
        if state.reason == "Evicted":
            return Explanation(
                remedies=["the node ran short of memory or disk: free capacity or add nodes"],
                foreseen_by=[{"check": "nodes.capacity"}],
                docs=DOCS_RESOURCES,
            )
        return Explanation(
            remedies=[
                f"kubectl -n {NAMESPACE} get events --field-selector involvedObject.name="
                f"{state.name} shows what it waits for"
            ]
        )

    def _explain_pull(self, state: PodState) -> Explanation:
        image = state.image or "?"
        host = image_registry(image)
        bare = host.rsplit(":", 1)[0] if ":" in host else host
        lowered = state.message.lower()
        pointer = (
            f"see egress.https and dns.resolve for {bare} (from this machine) and "
            f"connectivity.in-cluster (from the nodes)"
        )
        text = f"The nodes cannot pull image {image} from {host}: {pointer}"
        foreseen = [
            {"check": "egress.https", "target": bare},
            {"check": "dns.resolve", "target": bare},
            {"check": "connectivity.in-cluster", "mentions": bare},
        ]
        data = self._data_endpoint(bare)
        if data:
            text += f" (image layers come from {data})"
            foreseen += [
                {"check": "egress.https", "mentions": data.lstrip("*")},
                {"check": "dns.resolve", "mentions": data.lstrip("*")},
            ]
        if not self._in_profile(bare):
            text += (
                f". {bare} is not among the hosts of profile {self.ctx.profile.name}: add it to "
                "the firewall rules (and to a user profile, so that preflight checks it)"
            )
        auth = any(w in lowered for w in _AUTH_WORDS)
        missing = any(w in lowered for w in _MISSING_WORDS)
        if state.reason == "InvalidImageName":
            remedy = f"{image} is not a valid image reference: reinstall the extension"
        elif auth and not missing:
            remedy = (
                f"{host} refused the pull ({state.reason}): a proxy or registry policy between "
                "the nodes and the registry demands credentials; allow anonymous pulls from it"
            )
        elif missing and not auth:
            remedy = (
                f"{image} is not in {host}: a registry mirror lacks the extension's version; "
                "sync the mirror or point the extension back at mcr.microsoft.com"
            )
        else:
            rule = f" and {data}:443" if data else ""
            remedy = (
                f"allow egress from the node network to {bare}:443{rule} (firewall, NSG or "
                "proxy rule); the pod retries the pull by itself once the path is open"
            )
        return Explanation(text, [remedy], foreseen, docs=DOCS_TROUBLESHOOT)

    def _data_endpoint(self, host: str) -> str:
        """The profile's data endpoint rule for a registry (``*.data.mcr.microsoft.com``)."""
        for entry in self.ctx.hosts():
            rule = entry.rendered_rule or entry.spec.template
            if rule.lower().endswith(".data." + host):
                return entry.rendered_rule or f"*.data.{host}"
        return ""

    def _in_profile(self, host: str) -> bool:
        for entry in self.ctx.hosts():
            if entry.fqdn and entry.fqdn.lower() == host:
                return True
            rule = entry.rendered_rule
            if rule and fnmatch.fnmatchcase(host, rule.lower()):
                return True
            parts = re.split(r"\{[^}]*\}", entry.spec.template.lower())
            if re.fullmatch("[a-z0-9-]+".join(re.escape(p) for p in parts), host):
                return True
        return False

    def _explain_unschedulable(self, spec: ComponentSpec | None, state: PodState) -> Explanation:
        said = state.message
        nodes = _NODES_RE.search(said)
        total = int(nodes[2]) if nodes else None
        match = _SCHEDULING_RE.search(said)
        parts = [p.strip() for p in match["body"].split(", ")] if match else [said]
        result = Explanation(docs=DOCS_RESOURCES)
        texts: list[str] = []
        for part in parts:
            text = re.sub(r"^\d+\s+", "", part)
            if "anti-affinity" in text:
                texts.append(self._anti_affinity(spec, total, result))
            elif text.startswith("Insufficient "):
                resource = text.split(" ", 1)[1]
                result.remedies.append(
                    f"the nodes lack {resource}: free it or add nodes (see nodes.capacity)"
                )
                _add(result.foreseen_by, {"check": "nodes.capacity"})
            elif "node affinity/selector" in text or "didn't match Pod's node" in text:
                planned = self.config.settings.node_selector
                shown = ", ".join(f"nodeSelector.{k}={v}" for k, v in planned.items())
                result.remedies.append(
                    "no node matches its node selection"
                    + (f" ({shown})" if shown else "")
                    + ": label the nodes or change nodeSelector.* with az k8s-extension update"
                )
                _add(result.foreseen_by, {"check": "extension.config", "mentions": "nodeSelector"})
            elif "untolerated taint" in text:
                result.remedies.append(
                    f"the nodes carry taints its pods do not tolerate ({text}): remove the "
                    "taint or give the extension untainted nodes"
                )
            elif "were unschedulable" in text:
                result.remedies.append("nodes are cordoned: uncordon them or add nodes")
            elif "Too many pods" in text:
                result.remedies.append("the nodes run their maximum of pods: add nodes")
            elif "no nodes available" in text:
                result.remedies.append("the cluster has no nodes for it: add a node pool")
        if not result.remedies:
            result.remedies.append("the scheduler's message above says what no node offers")
        result.text = ". ".join(t for t in texts if t)
        return result

    def _anti_affinity(
        self, spec: ComponentSpec | None, total: int | None, result: Explanation
    ) -> str:
        _add(result.foreseen_by, {"check": "nodes.capacity"})
        nodes = f"only {total} node(s)" if total is not None else "too few nodes"
        if spec is not None and spec.template == "azureml-fe-v2":
            ha, source = self.config.install("inferenceRouterHA")
            if ha:
                result.recommend["inferenceRouterHA"] = "False"
                result.remedies.append(
                    "add nodes so that 3 can each take one router replica, or set "
                    "inferenceRouterHA=False (az k8s-extension update --name "
                    f"{self.install.extension} {self._cluster_arg()} --config "
                    "inferenceRouterHA=False) for a single replica: fine for test clusters, not "
                    "for production"
                )
                return (
                    f"With {setting_text('inferenceRouterHA', True, source)}, azureml-fe-v2 runs "
                    f"3 replicas, each on a different node, and the cluster has {nodes} for them"
                )
        result.remedies.append("its replicas must each run on a different node: add nodes")
        return f"Its replicas must run on different nodes and the cluster has {nodes} for them"

    def _explain_crash(self, spec: ComponentSpec | None, state: PodState) -> Explanation:
        container = f" -c {state.container}" if state.container else ""
        remedies = [
            f"read why it exits: kubectl -n {NAMESPACE} logs {state.name}{container} --previous"
        ]
        foreseen: list[dict[str, str]] = []
        if state.reason == "OOMKilled" or state.last_reason == "OOMKilled":
            remedies.insert(
                0,
                "it ran out of memory: the node is short of memory or a LimitRange lowered the "
                "component's limit (see nodes.capacity)",
            )
            foreseen.append({"check": "nodes.capacity"})
        hint = cloud_hint(spec) if spec else ""
        if hint:
            remedies.append(hint.lstrip("; "))
        return Explanation(remedies=remedies, foreseen_by=foreseen, docs=DOCS_TROUBLESHOOT)

    def _explain_config(self, spec: ComponentSpec | None, state: PodState) -> Explanation:
        secret = (
            self.config.settings.value("sslSecret")
            if self.config.settings.explicit("sslSecret")
            else None
        )
        if secret and secret in state.message:
            return Explanation(
                f"sslSecret={secret} names a Secret the router cannot use",
                [
                    f"create Secret {secret} in namespace {NAMESPACE} with cert.pem and key.pem "
                    "(see extension.tls)"
                ],
                [{"check": "extension.tls"}],
            )
        return Explanation(
            remedies=[
                "the pod references something that does not exist (the Secret or ConfigMap "
                "named above): an interrupted install or a deleted object; az k8s-extension "
                f"update --name {self.install.extension} {self._cluster_arg()} recreates it"
            ]
        )

    def stray_pods(
        self, pods: list[dict[str, Any]], claimed: set[str], base: dict[str, Any]
    ) -> list[Finding]:
        """Pods that belong to no expected component, each judged on its own (``Pod/<name>``):
        every pod should be Running and ready, or Succeeded (Helm hook jobs)."""
        findings = []
        for pod in pods:
            if name_of(pod) in claimed:
                continue
            state = pod_state(pod)
            if state.ok:
                continue
            explanation = self.explain(None, [state])
            owner = f" (owned by {state.owner})" if state.owner else ""
            message = (
                f"{pods_text([state])}{owner}: every pod in namespace {NAMESPACE} should be Running"
            )
            if explanation.text:
                message = sentences(message, explanation.text)
            details = {**base, "pod": state.details()}
            if explanation.foreseen_by:
                details["foreseen_by"] = explanation.foreseen_by
            remedies = [
                *explanation.remedies,
                f"see the events: kubectl -n {NAMESPACE} describe pod {state.name}",
            ]
            if state.phase == "Failed":
                remedies.append(
                    f"a pod that failed for good can be removed once understood (kubectl -n "
                    f"{NAMESPACE} delete pod {state.name})"
                )
            findings.append(
                Finding.failed(
                    f"Pod/{state.name}",
                    message,
                    "; ".join(dict.fromkeys(remedies)),
                    explanation.docs or DOCS_TROUBLESHOOT,
                    **details,
                )
            )
        return findings


def cloud_hint(spec: ComponentSpec) -> str:
    """A remedy's pointer at the egress findings, for a component that talks to Azure."""
    if not spec.cloud:
        return ""
    return (
        "; it talks to Azure (" + spec.cloud.rstrip(".").lower() + "), so a blocked endpoint "
        "can make it exit: see egress.https and connectivity.in-cluster"
    )


def _add(entries: list[dict[str, str]], entry: dict[str, str]) -> None:
    if entry not in entries:
        entries.append(entry)


def sentences(first: str, then: str) -> str:
    """``first. then`` without doubling the full stop a quoted message already ends with."""
    return f"{first.rstrip().rstrip('.')}. {then}" if then else first


def pods_text(states: list[PodState]) -> str:
    shown = "; ".join(s.text() for s in states[:PODS_NAMED])
    more = len(states) - PODS_NAMED
    return shown + (f"; and {more} more pod(s)" if more > 0 else "")
