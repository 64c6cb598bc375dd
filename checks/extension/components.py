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

The namespace's reads are in ``components_namespace``, the choice of configuration in
``components_configuration`` and what a failing pod's reason means in
``components_pod_failures``; this module judges each component.
"""

from __future__ import annotations

from typing import Any

from preflight.api import Check, Context, Finding, Status, run_in_daemon_thread
from preflight.checks._shared.kube_reads import Read, unverified
from preflight.checks._shared.plan import (
    DOCS_SETTINGS,
    DOCS_TROUBLESHOOT,
    EXTENSION_NAME_PARAM,
    NAMESPACE,
)
from preflight.checks._shared.pods import PodState, as_dict, name_of, pod_state, pods_of
from preflight.checks.extension.components_configuration import (
    Installation,
    cluster_args,
    installation,
)
from preflight.checks.extension.components_namespace import (
    Namespace,
    read_namespace,
    workload_conditions,
    workload_counts,
)
from preflight.checks.extension.components_pod_failures import (
    Explanation,
    PodExplainer,
    cloud_hint,
    pods_text,
    sentences,
)
from preflight.checks.extension.components_table import (
    COMPONENTS,
    DAEMONSET,
    DEPLOYMENT,
    DOCS_COMPONENTS,
    DOCS_VERIFY,
    INSTALL_SETTINGS,
    KINDS,
    STATEFULSET,
    ComponentSpec,
    expected_components,
)
from preflight.checks.extension.resource import read_extensions

#: a ready component whose pods restarted this often (in all) gets a warning
RESTART_WARN = 3

CLUSTER_TEXT = {"aks": "AKS", "arc": "an Azure Arc-enabled cluster"}
SHORT = {DEPLOYMENT: "deployment", DAEMONSET: "daemonset", STATEFULSET: "statefulset"}


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
        self.explainer = PodExplainer(ctx, install)

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
            findings += self.explainer.stray_pods(self.ns.pod_items, self.claimed, self._base())
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
        return cluster_args(self.ctx, self.config)

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
        desired, ready, unit = workload_counts(spec.kind, workload)
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
        explanation = self.explainer.explain(spec, bad)
        if not self.ns.pods.ok:
            said = f"; its pods could not be read ({self.ns.pods.what}: see that finding)"
        elif bad:
            said = "; " + pods_text(bad)
        elif details["pods"]:
            said = (
                "; its pods are Running and ready: the controller's count lags behind (look again)"
            )
        else:
            said = "; " + workload_conditions(self.ns.find(spec.kind, name) or {})
        restarts = details["restarts"]
        message = f"{spec.kind} {name} is not ready: {counts}{said}"
        if restarts:
            message += f"; {restarts} restart(s) in all"
        if explanation.text:
            message = sentences(message, explanation.text)
        why = str(details["expected_because"])
        status, busy = self._severity()
        message = sentences(message, why[:1].upper() + why[1:]) + busy
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
        explanation = self.explainer.explain(spec, bad)
        message = (
            f"{spec.kind} {name} is ready ({counts}), but not every pod runs (a rollout may be "
            f"stuck): {pods_text(bad)}"
        )
        if explanation.text:
            message = sentences(message, explanation.text)
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
            + cloud_hint(spec),
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
