"""``extension.components``: after the install, the extension's own Deployments, DaemonSets and
StatefulSets in namespace ``azureml`` are there and ready (seed 002 in docs/SOURCES.md,
"Verify Azure Machine Learning extension deployment": every pod under ``azureml`` must be Running).

Which components to expect depends on the configuration (the components table in
``components_table``): the installed settings from Azure Resource Manager when they can be read,
else the planned ``--extension-config``, else what runs in the namespace (``aml-operator`` means
training, ``azureml-fe-v2`` inference), and every finding says which it used
(``details["settings_source"]``).

One finding per expected component, targeted ``<Kind>/<name>`` (``Deployment/azureml-fe-v2``,
``DaemonSet/fluent-bit``; the namespace is always ``azureml``). A component that is not ready
names each pod that is not Running and ready, with Kubernetes' reason: an image pull failure
names the registry host and points back at the egress findings for it
(``details["foreseen_by"]``, which the before/after comparison reads), a pod that cannot be
scheduled quotes the scheduler, a crash loop gives the last exit code and the restart count.
Pods of the namespace that belong to no expected component are judged on their own
(``Pod/<name>``); Succeeded pods (Helm hook jobs) are fine.

Reads (namespace ``azureml`` only): list deployments, daemonsets and statefulsets (apps/v1) and
list pods (v1). The ARM read of the cluster's extensions is shared with ``extension.installed``,
which also reports its problems: here a failed read only means falling back.
"""

from __future__ import annotations

import collections
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Check, Context, Finding, Status, kubeshapes, run_in_daemon_thread
from preflight.checks._shared.kube_reads import HELM_RELEASE_NAME, Read, list_all, meta, unverified
from preflight.checks._shared.plan import (
    DEFAULT_EXTENSION_NAME,
    DOCS_RESOURCES,
    DOCS_SETTINGS,
    DOCS_TROUBLESHOOT,
    EXTENSION_NAME_PARAM,
    NAMESPACE,
    Plan,
    cluster_type_of,
)
from preflight.checks._shared.pods import (
    PodState,
    as_dict,
    as_int,
    as_list,
    as_str,
    image_registry,
    name_of,
    pod_state,
    pods_of,
    trim,
)
from preflight.checks.extension.components_table import (
    COMPONENTS,
    DAEMONSET,
    DEPLOYMENT,
    DOCS_COMPONENTS,
    DOCS_VERIFY,
    INFERENCE_MARKERS,
    INSTALL_SETTINGS,
    KINDS,
    NAMED_TEMPLATES,
    STATEFULSET,
    TRAINING_MARKERS,
    ComponentSpec,
    Configuration,
    expected_components,
    setting_text,
)
from preflight.checks.extension.resource import InstalledExtension, read_extensions

#: a ready component whose pods restarted this often (in all) gets a warning
RESTART_WARN = 3
#: pods named in a message (all of them are in details)
PODS_NAMED = 4

PLURALS = {DEPLOYMENT: "deployments", DAEMONSET: "daemonsets", STATEFULSET: "statefulsets"}
CLUSTER_TEXT = {"aks": "AKS", "arc": "an Azure Arc-enabled cluster"}
SHORT = {DEPLOYMENT: "deployment", DAEMONSET: "daemonset", STATEFULSET: "statefulset"}

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
class Namespace:
    """What namespace azureml holds: one read per kind of workload, and its pods."""

    workloads: dict[str, Read]  # kind -> Read
    pods: Read

    def items(self, kind: str) -> list[dict[str, Any]]:
        read = self.workloads.get(kind)
        return [o for o in read.items if isinstance(o, dict)] if read else []

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((o for o in self.items(kind) if name_of(o) == name), None)

    def has(self, name: str) -> bool:
        return any(self.find(kind, name) is not None for kind in KINDS)

    @property
    def pod_items(self) -> list[dict[str, Any]]:
        return [p for p in self.pods.items if isinstance(p, dict)]

    @property
    def failed(self) -> list[Read]:
        return [r for r in [*self.workloads.values(), self.pods] if not r.ok]

    @property
    def empty(self) -> bool:
        """Every workload list was read and none holds anything."""
        reads = self.workloads.values()
        return all(r.ok for r in reads) and not any(self.items(k) for k in KINDS)


SHAPES = {
    "Deployment": kubeshapes.DEPLOYMENT,
    "DaemonSet": kubeshapes.DAEMONSET,
    "StatefulSet": kubeshapes.STATEFULSET,
}


def read_namespace(ctx: Context) -> Namespace:
    """Four namespace-scoped lists (blocking: run it off the event loop)."""
    workloads = {
        kind: list_all(
            ctx,
            f"{kind}s in namespace {NAMESPACE}",
            "apps/v1",
            PLURALS[kind],
            namespace=NAMESPACE,
            # the documented types: an answer that breaks them is not the API server's, and
            # the components it lists are unverified (an error naming the field)
            shape=SHAPES[kind],
        )
        for kind in KINDS
    }
    pods = list_all(
        ctx,
        f"Pods in namespace {NAMESPACE}",
        "v1",
        "pods",
        namespace=NAMESPACE,
        shape=kubeshapes.POD,
    )
    return Namespace(workloads, pods)


# -- pods --------------------------------------------------------------------------------------


# -- which configuration ---------------------------------------------------------------------


@dataclass
class Installation:
    """The configuration judged, the extension's name and where each came from."""

    config: Configuration
    extension: str
    extension_source: str  # param | arm | helm | names | default
    cluster_type_source: str  # param | arm | inferred | default
    notes: list[str] = field(default_factory=list)
    arm: InstalledExtension | None = None

    @property
    def source(self) -> str:
        return self.config.source


def installation(
    ctx: Context, namespace: Namespace, installed: InstalledExtension | None
) -> Installation:
    """The installed settings (ARM), else the planned ones, else what runs in the namespace."""
    notes: list[str] = []
    cluster_type, cluster_source = _cluster_type(ctx, namespace)
    settings: Mapping[str, str] | None = None
    if installed is not None:
        if _names_scenario(installed.settings):
            settings, source = installed.settings, "arm"
        else:
            notes.append(
                f"the installed settings of extension {installed.name!r} name neither "
                "enableTraining nor enableInference (passed as protected settings?)"
            )
    if settings is None and ctx.extension_settings:
        settings, source = dict(ctx.extension_settings), "extension-config"
    if settings is not None:
        config = Configuration(Plan(settings), source, cluster_type)
    else:
        config = _inferred(namespace, cluster_type, notes)
    name, name_source = _extension_name(ctx, namespace, installed)
    return Installation(config, name, name_source, cluster_source, notes, installed)


def _names_scenario(settings: Mapping[str, str]) -> bool:
    keys = {k.lower() for k in settings}
    return "enabletraining" in keys or "enableinference" in keys


def _inferred(namespace: Namespace, cluster_type: str, notes: list[str]) -> Configuration:
    """Training where aml-operator runs, inference where the router or inference operator does;
    each install* setting True when one of its components is present."""
    training = [n for n in TRAINING_MARKERS if namespace.has(n)]
    inference = [n for n in INFERENCE_MARKERS if namespace.has(n)]
    settings = {
        "enableTraining": "True" if training else "False",
        "enableInference": "True" if inference else "False",
    }
    for marker, key in ((training, "enableTraining"), (inference, "enableInference")):
        notes.append(
            f"{key}={settings[key]}: "
            + (f"{', '.join(marker)} present" if marker else "none of its components present")
        )
    if any(not r.ok for r in namespace.workloads.values()):
        notes.append("not every kind of workload could be read")
    inferred = []
    for setting in INSTALL_SETTINGS:
        names = [c.template for c in COMPONENTS if c.setting == setting]
        present = any(_present_by_template(namespace, t) for t in names)
        inferred.append((setting, present))
    return Configuration(Plan(settings), "inferred", cluster_type, tuple(inferred))


def _present_by_template(namespace: Namespace, template: str) -> bool:
    if "{ext}" not in template:
        return namespace.has(template)
    suffix = template.replace("{ext}", "")
    return any(name_of(o).endswith(suffix) for kind in KINDS for o in namespace.items(kind))


def _cluster_type(ctx: Context, namespace: Namespace) -> tuple[str, str]:
    """``--set cluster_type``; else Arc when relayserver runs (it exists only there)."""
    kind, _problem = cluster_type_of(ctx)
    if ctx.param("cluster_type"):
        return kind, "param"
    if namespace.find(DEPLOYMENT, "relayserver") is not None:
        return "arc", "inferred"
    return kind, "default"


def _extension_name(
    ctx: Context, namespace: Namespace, installed: InstalledExtension | None
) -> tuple[str, str]:
    """``--set extension_name``, ARM's, Helm's release name on the workloads, a name the
    table's ``{ext}-...`` components carry, else ``azureml``."""
    given = ctx.param("extension_name")
    if given:
        return given, "param"
    if installed is not None and installed.name and installed.name != "?":
        return installed.name, "arm"
    workloads = [o for kind in KINDS for o in namespace.items(kind)]
    releases = collections.Counter(
        as_str(as_dict(meta(o).get("annotations")).get(HELM_RELEASE_NAME)) for o in workloads
    )
    releases.pop("", None)
    if releases:
        return releases.most_common(1)[0][0], "helm"
    for template in NAMED_TEMPLATES:
        suffix = template.replace("{ext}", "")
        for obj in workloads:
            name = name_of(obj)
            if name.endswith(suffix) and len(name) > len(suffix):
                return name[: -len(suffix)], "names"
    return DEFAULT_EXTENSION_NAME, "default"


# -- the check ---------------------------------------------------------------------------------


class ExtensionComponents(Check):
    """The components table of seed 002, for the configuration actually installed: every
    component present and ready, every pod Running."""

    id = "extension.components"
    title = f"The extension's components are present and ready (namespace {NAMESPACE})"
    category = "extension"
    needs = ("kube",)
    docs = DOCS_COMPONENTS
    parameters = EXTENSION_NAME_PARAM
    #: before the install there is nothing to look at
    phases = ("after",)

    async def run(self, ctx: Context) -> list[Finding]:
        reading = run_in_daemon_thread(read_namespace, ctx)
        extensions = await read_extensions(ctx)
        namespace = await reading
        installed = extensions.only() if extensions.problem is None else None
        return Judge(ctx, namespace, installation(ctx, namespace, installed)).findings()


CHECKS = [ExtensionComponents()]


@dataclass
class Explanation:
    """What one kind of pod failure means and what to do about it."""

    text: str = ""
    remedies: list[str] = field(default_factory=list)
    foreseen_by: list[dict[str, str]] = field(default_factory=list)
    recommend: dict[str, str] = field(default_factory=dict)
    docs: str | None = None


class Judge:
    """The findings for one namespace and one configuration."""

    def __init__(self, ctx: Context, namespace: Namespace, install: Installation) -> None:
        self.ctx = ctx
        self.ns = namespace
        self.install = install
        self.config = install.config
        self.expected = [
            (spec, spec.name(install.extension), why)
            for spec, why in expected_components(install.config)
        ]
        self.claimed: set[str] = set()  # pods that belong to an expected component

    # -- the whole namespace ---------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        if self.ns.empty:
            return [self._empty()]
        findings = [self._summary()]
        findings += [self._unverified(read) for read in self.ns.failed]
        for spec, name, why in self.expected:
            read = self.ns.workloads[spec.kind]
            if read.ok:
                findings.append(self._component(spec, name, why))
        if self.ns.pods.ok:
            findings += self._stray_pods()
        return findings

    def _base(self) -> dict[str, Any]:
        return {
            "settings_source": self.install.source,
            "extension_name": self.install.extension,
            "cluster_type": self.config.cluster_type,
        }

    def _severity(self) -> tuple[Status, str]:
        """A component that is missing or not ready fails, unless ARM says the extension is
        still being installed or changed: then it may simply not be there yet."""
        arm = self.install.arm
        if arm is None or not arm.in_progress:
            return Status.FAIL, ""
        return Status.WARN, (
            f" (the extension is still in provisioningState {arm.provisioning_state}: look "
            "again once it is Succeeded)"
        )

    def _cluster_arg(self) -> str:
        kind = "connectedClusters" if self.config.cluster_type == "arc" else "managedClusters"
        name = self.ctx.param("cluster_name") or "<cluster>"
        group = self.ctx.param("resource_group") or "<resource-group>"
        return f"--cluster-type {kind} --cluster-name {name} --resource-group {group}"

    def _show_command(self) -> str:
        return f"az k8s-extension show --name {self.install.extension} {self._cluster_arg()}"

    def _empty(self) -> Finding:
        arm = self.install.arm
        state = (
            f"; Azure Resource Manager has extension {arm.name!r} in provisioningState "
            f"{arm.provisioning_state}"
            if arm is not None
            else ""
        )
        return Finding.failed(
            f"Namespace/{NAMESPACE}",
            f"namespace {NAMESPACE} is empty: it has none of the extension's components (no "
            f"Deployments, DaemonSets or StatefulSets){state}",
            f"is the extension installed? {self._show_command()} must show provisioningState "
            "Succeeded (Pending for the first minutes); if it is not installed, install it "
            "(az k8s-extension create) or run without --set phase=after to prepare the install",
            DOCS_VERIFY,
            **self._base(),
        )

    def _summary(self) -> Finding:
        expected = {name for _spec, name, _why in self.expected}
        present = sorted(
            f"{kind}/{name_of(o)}"
            for kind in KINDS
            for o in self.ns.items(kind)
            if name_of(o) not in expected
        )
        known = {c.name(self.install.extension) for c in COMPONENTS}
        unexpected = [p for p in present if p.partition("/")[2] in known]
        scenarios = [
            s
            for s, on in (("training", self.config.training), ("inference", self.config.inference))
            if on
        ]
        what = " and ".join(scenarios) or "neither training nor inference"
        source = {
            "arm": f"the installed settings of extension {self.install.extension!r} (Azure "
            "Resource Manager)",
            "extension-config": "the planned settings (--extension-config)",
            "inferred": f"what runs in namespace {NAMESPACE}",
        }[self.install.source]
        message = (
            f"{len(self.expected)} component(s) expected for {what} on "
            f"{CLUSTER_TEXT.get(self.config.cluster_type, 'AKS')}, judged from {source}"
        )
        if self.install.source == "inferred":
            message += (
                f" ({'; '.join(self.install.notes)}): pass --extension-config with the install's "
                "settings, or Azure credentials with --set subscription_id/resource_group/"
                "cluster_name, to judge against the real settings"
            )
        elif self.install.notes:
            message += f" ({'; '.join(self.install.notes)})"
        if unexpected:
            message += f"; present but not expected for this configuration: {', '.join(unexpected)}"
        details = {
            **self._base(),
            "extension_name_source": self.install.extension_source,
            "cluster_type_source": self.install.cluster_type_source,
            "training": self.config.training,
            "inference": self.config.inference,
            "install_settings": {key: self.config.install(key)[0] for key in INSTALL_SETTINGS},
            "expected": [f"{spec.kind}/{name}" for spec, name, _ in self.expected],
            "not_expected_present": unexpected,
            "other_workloads": [p for p in present if p not in unexpected],
        }
        if self.install.arm is not None:
            details["provisioning_state"] = self.install.arm.provisioning_state
        return Finding.passed(f"Namespace/{NAMESPACE}", message, **details)

    def _unverified(self, read: Read) -> Finding:
        kinds = [k for k, r in self.ns.workloads.items() if r is read]
        if kinds:
            names = [f"{s.kind}/{n}" for s, n, _ in self.expected if s.kind == kinds[0]]
            concern = f"the extension's {kinds[0]}s ({', '.join(names) or 'none expected'})"
        else:
            names = []
            concern = f"the pods of namespace {NAMESPACE} (why a component is not ready)"
        return unverified(read.what, concern, [read], components=names, **self._base())

    # -- one component ---------------------------------------------------------------------------

    def _component(self, spec: ComponentSpec, name: str, why: str) -> Finding:
        target = f"{spec.kind}/{name}"
        details: dict[str, Any] = {
            **self._base(),
            "component": name,
            "kind": spec.kind,
            "expected_because": why,
            "description": spec.description,
            "cloud_communication": spec.cloud or "N/A",
        }
        workload = self.ns.find(spec.kind, name)
        if workload is None:
            return self._missing(spec, name, why, target, details)
        pods = pods_of(workload, self.ns.pod_items)
        self.claimed.update(name_of(p) for p in pods)
        states = [pod_state(p) for p in pods]
        restarts = sum(s.restarts for s in states)
        desired, ready, unit = _counts(spec.kind, workload)
        details.update(desired=desired, ready=ready, restarts=restarts)
        details["pods"] = [s.details() for s in states]
        if desired == 0:
            return self._nothing_scheduled(spec, name, workload, target, details)
        bad = [s for s in states if not s.ok and not s.terminal]
        counts = f"{ready}/{desired} {unit} ready"
        if ready < desired:
            return self._not_ready(spec, name, counts, bad, target, details)
        if bad:
            return self._rollout_problem(spec, name, counts, bad, target, details)
        if restarts >= RESTART_WARN:
            return self._restarting(spec, name, counts, states, target, details)
        restarted = f", {restarts} restart(s)" if restarts else ""
        return Finding.passed(
            target, f"{spec.kind} {name} is ready ({counts}{restarted}); {why}", **details
        )

    def _missing(
        self, spec: ComponentSpec, name: str, why: str, target: str, details: dict[str, Any]
    ) -> Finding:
        elsewhere = [k for k in KINDS if k != spec.kind and self.ns.find(k, name) is not None]
        found = f" (a {elsewhere[0]} of that name exists instead)" if elsewhere else ""
        settings = ""
        if spec.setting and self.install.source != "arm":
            settings = (
                f"; if the extension was installed with {spec.setting}=False, say so in "
                "--extension-config"
            )
        status, busy = self._severity()
        return Finding(
            status,
            target,
            f"{spec.kind} {name} is missing from namespace {NAMESPACE}{found}: {why}{busy}",
            f"the install did not create it or it was deleted: check the extension "
            f"({self._show_command()}) and its Helm release (helm -n {NAMESPACE} history "
            f"{self.install.extension}); az k8s-extension update re-applies the chart{settings}",
            DOCS_COMPONENTS,
            details,
        )

    def _nothing_scheduled(
        self,
        spec: ComponentSpec,
        name: str,
        workload: dict[str, Any],
        target: str,
        details: dict[str, Any],
    ) -> Finding:
        if spec.kind != DAEMONSET:
            return Finding.warned(
                target,
                f"{spec.kind} {name} is scaled to zero (spec.replicas 0): it runs no pod",
                f"scale it back (kubectl -n {NAMESPACE} scale {SHORT[spec.kind]} {name} "
                f"--replicas=1) or let the extension restore it (az k8s-extension update "
                f"--name {self.install.extension} {self._cluster_arg()})",
                DOCS_COMPONENTS,
                **details,
            )
        template = as_dict(as_dict(as_dict(workload.get("spec")).get("template")).get("spec"))
        selector = as_dict(template.get("nodeSelector"))
        shown = ", ".join(f"{k}={v}" for k, v in selector.items()) or "none"
        planned = self.config.settings.node_selector
        settings = ", ".join(f"nodeSelector.{k}={v}" for k, v in planned.items())
        which = "GPU node" if spec.gpu else "node"
        details["node_selector"] = selector
        if planned:
            details["foreseen_by"] = [{"check": "extension.config", "mentions": "nodeSelector"}]
        return Finding.warned(
            target,
            f"DaemonSet {name} runs on no node: no {which} matches its node selection "
            f"(nodeSelector: {shown}"
            + (f"; the extension's setting {settings}" if settings else "")
            + ")",
            (
                "add GPU nodes (labelled as the selector wants) or set "
                f"{spec.setting}=False if the cluster has none"
                if spec.gpu and spec.setting
                else "label the nodes the extension should use as the nodeSelector settings "
                "say (kubectl label node NODE KEY=VALUE), or change nodeSelector.* with az "
                "k8s-extension update"
            ),
            DOCS_SETTINGS,
            **details,
        )

    def _not_ready(
        self,
        spec: ComponentSpec,
        name: str,
        counts: str,
        bad: list[PodState],
        target: str,
        details: dict[str, Any],
    ) -> Finding:
        explanation = self._explain(spec, bad)
        if not self.ns.pods.ok:
            said = f"; its pods could not be read ({self.ns.pods.what}: see that finding)"
        elif bad:
            said = "; " + _pods_text(bad)
        elif details["pods"]:
            said = (
                "; its pods are Running and ready: the controller's count lags behind (look again)"
            )
        else:
            said = "; " + _workload_conditions(self.ns.find(spec.kind, name) or {})
        restarts = details["restarts"]
        message = f"{spec.kind} {name} is not ready: {counts}{said}"
        if restarts:
            message += f"; {restarts} restart(s) in all"
        if explanation.text:
            message = _sentences(message, explanation.text)
        why = str(details["expected_because"])
        status, busy = self._severity()
        message = _sentences(message, why[:1].upper() + why[1:]) + busy
        return self._problem(status, spec, name, target, message, bad, explanation, details)

    def _rollout_problem(
        self,
        spec: ComponentSpec,
        name: str,
        counts: str,
        bad: list[PodState],
        target: str,
        details: dict[str, Any],
    ) -> Finding:
        explanation = self._explain(spec, bad)
        message = (
            f"{spec.kind} {name} is ready ({counts}), but not every pod runs (a rollout may be "
            f"stuck): {_pods_text(bad)}"
        )
        if explanation.text:
            message = _sentences(message, explanation.text)
        return self._problem(Status.WARN, spec, name, target, message, bad, explanation, details)

    def _restarting(
        self,
        spec: ComponentSpec,
        name: str,
        counts: str,
        states: list[PodState],
        target: str,
        details: dict[str, Any],
    ) -> Finding:
        worst = max(states, key=lambda s: s.restarts)
        last = (
            f", last exit code {worst.exit_code} {worst.last_reason}".rstrip()
            if worst.exit_code is not None
            else ""
        )
        container = f" -c {worst.container}" if worst.container else ""
        return Finding.warned(
            target,
            f"{spec.kind} {name} is ready ({counts}) but its pods restarted "
            f"{details['restarts']} times (pod {worst.name}: {worst.restarts}{last})",
            f"read why it exited: kubectl -n {NAMESPACE} logs {worst.name}{container} --previous; "
            f"kubectl -n {NAMESPACE} describe pod {worst.name} shows the last state"
            + self._cloud_hint(spec),
            DOCS_TROUBLESHOOT,
            **details,
        )

    def _problem(
        self,
        status: Status,
        spec: ComponentSpec,
        name: str,
        target: str,
        message: str,
        bad: list[PodState],
        explanation: Explanation,
        details: dict[str, Any],
    ) -> Finding:
        look = (
            f"kubectl -n {NAMESPACE} describe pod {bad[0].name}"
            if bad
            else f"kubectl -n {NAMESPACE} describe {SHORT[spec.kind]} {name}"
        )
        remedies = [*explanation.remedies, f"see the events: {look}"]
        if explanation.foreseen_by:
            details["foreseen_by"] = explanation.foreseen_by
        if explanation.recommend:
            details["recommend"] = explanation.recommend
        return Finding(
            status,
            target,
            message,
            "; ".join(dict.fromkeys(remedies)),
            explanation.docs or DOCS_TROUBLESHOOT,
            details,
        )

    def _cloud_hint(self, spec: ComponentSpec) -> str:
        if not spec.cloud:
            return ""
        return (
            "; it talks to Azure (" + spec.cloud.rstrip(".").lower() + "), so a blocked endpoint "
            "can make it exit: see egress.https and connectivity.in-cluster"
        )

    # -- pods that belong to no expected component --------------------------------------------

    def _stray_pods(self) -> list[Finding]:
        findings = []
        for pod in self.ns.pod_items:
            if name_of(pod) in self.claimed:
                continue
            state = pod_state(pod)
            if state.ok:
                continue
            explanation = self._explain(None, [state])
            owner = f" (owned by {state.owner})" if state.owner else ""
            message = (
                f"{_pods_text([state])}{owner}: every pod in namespace {NAMESPACE} should be "
                "Running"
            )
            if explanation.text:
                message = _sentences(message, explanation.text)
            details = {**self._base(), "pod": state.details()}
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

    # -- what a pod's reason means -------------------------------------------------------------

    def _explain(self, spec: ComponentSpec | None, bad: list[PodState]) -> Explanation:
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
                    "why" + (self._cloud_hint(spec) if spec else "")
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
        hint = self._cloud_hint(spec) if spec else ""
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


def _add(entries: list[dict[str, str]], entry: dict[str, str]) -> None:
    if entry not in entries:
        entries.append(entry)


def _counts(kind: str, workload: Mapping[str, Any]) -> tuple[int, int, str]:
    """(desired, ready, unit) from a workload's spec and status."""
    spec, status = as_dict(workload.get("spec")), as_dict(workload.get("status"))
    if kind == DAEMONSET:
        return (
            max(as_int(status.get("desiredNumberScheduled")), 0),
            max(as_int(status.get("numberReady")), 0),
            "scheduled pods",
        )
    replicas = spec.get("replicas", 1)  # the API server defaults it to 1
    return max(as_int(replicas, 1), 0), max(as_int(status.get("readyReplicas")), 0), "replicas"


def _sentences(first: str, then: str) -> str:
    """``first. then`` without doubling the full stop a quoted message already ends with."""
    return f"{first.rstrip().rstrip('.')}. {then}" if then else first


def _pods_text(states: list[PodState]) -> str:
    shown = "; ".join(s.text() for s in states[:PODS_NAMED])
    more = len(states) - PODS_NAMED
    return shown + (f"; and {more} more pod(s)" if more > 0 else "")


def _workload_conditions(workload: Mapping[str, Any]) -> str:
    """What the controller says when no pod explains it (quota, admission, a stuck rollout)."""
    said = []
    for cond in as_list(as_dict(workload.get("status")).get("conditions")):
        if not isinstance(cond, dict):
            continue
        bad = (cond.get("type") == "ReplicaFailure" and cond.get("status") == "True") or (
            cond.get("type") in ("Available", "Progressing") and cond.get("status") == "False"
        )
        if bad and cond.get("message"):
            said.append(f"{cond.get('type')}: {trim(as_str(cond.get('message')))}")
    return "; ".join(said) or "none of its pods was found (the controller could not create them?)"
