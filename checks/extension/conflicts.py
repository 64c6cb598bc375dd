"""``extension.conflicts``: what already runs in the cluster, judged against the planned
``--extension-config`` *before* ``az k8s-extension create`` stops on it.

Helm refuses to adopt CRDs another release owns, two operators fight over the same objects, and
the extension's health check stops on v1 azureml-fe leftovers: all of it is visible in the cluster
before the install, with default settings too (installPromOp and installVolcano default to True).
Findings that correspond to one of the extension's own install-time health checks name its code
(E45002, E45004, E45005): that check runs inside the Helm install, when it is too late. Findings
that imply a different setting carry ``details["recommend"] = {"<setting>": "<value>"}`` for the
corrected-command summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preflight.api import Check, Context, Finding
from preflight.checks._shared.bundled import (
    COMPONENTS,
    Component,
)
from preflight.checks._shared.helm_release import release_secrets
from preflight.checks._shared.kube_reads import (
    Inventory,
    Read,
    code_details,
    code_text,
    failed_reads,
    get_one,
    helm_owner,
    labels,
    list_all,
    meta,
    owned_by_extension,
    owner_text,
    planned_bool,
    ref,
    setting_text,
    unverified,
)
from preflight.checks._shared.plan import (
    DOCS_TROUBLESHOOT,
    EXTENSION_NAME_PARAM,
    NAMESPACE,
    Plan,
    extension_release,
)

DOCS_OWNERSHIP = (
    DOCS_TROUBLESHOOT
    + "#error-cant-be-imported-into-the-current-release-invalid-ownership-metadata"
)
DOCS_LEGACY_FE = (
    "https://learn.microsoft.com/azure/machine-learning/v1/how-to-create-attach-kubernetes"
    "?view=azureml-api-1#delete-azureml-fe-related-resources"
)
IMPORT_ERROR = "exists and cannot be imported into the current release"


@dataclass(frozen=True)
class LegacyObject:
    """A resource of the v1 (AKS inference) router that blocks the extension's install."""

    kind: str
    group_version: str
    plural: str
    name: str
    short: str  # kubectl's short name
    code: str
    namespaced: bool = True

    def delete_command(self, namespace: str | None) -> str:
        scope = f" -n {namespace}" if namespace else ""
        return f"kubectl delete {self.short} {self.name}{scope}"


LEGACY_FE = (
    LegacyObject("ServiceAccount", "v1", "serviceaccounts", "azureml-fe", "sa", "E45004"),
    LegacyObject(
        "ClusterRole",
        "rbac.authorization.k8s.io/v1",
        "clusterroles",
        "azureml-fe-role",
        "clusterrole",
        "E45004",
        namespaced=False,
    ),
    LegacyObject(
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io/v1",
        "clusterrolebindings",
        "azureml-fe-binding",
        "clusterrolebinding",
        "E45004",
        namespaced=False,
    ),
    LegacyObject("Service", "v1", "services", "azureml-fe", "svc", "E45005"),
    LegacyObject("Service", "v1", "services", "azureml-fe-int-http", "svc", "E45005"),
    LegacyObject("Deployment", "apps/v1", "deployments", "azureml-fe", "deploy", "E45005"),
    LegacyObject("Secret", "v1", "secrets", "azuremlfessl", "secret", "E45005"),
    LegacyObject("ConfigMap", "v1", "configmaps", "azuremlfeconfig", "cm", "E45005"),
)


def _a(name: str) -> str:
    """``a Prometheus operator``, ``an NVIDIA device plugin``."""
    return ("an " if name.startswith(("NVIDIA", "A", "E", "I", "O", "U")) else "a ") + name


class ExtensionConflicts(Check):
    """Helm refuses to adopt CRDs another release owns, two operators fight over the same
    objects, and the extension's health check stops on v1 azureml-fe leftovers: all of it is
    visible in the cluster before the install, with default settings too (installPromOp and
    installVolcano default to True)."""

    id = "extension.conflicts"
    title = "Nothing already installed clashes with the extension"
    category = "extension"
    needs = ("kube",)
    docs = DOCS_TROUBLESHOOT
    parameters = EXTENSION_NAME_PARAM
    #: after the install the extension's own operators are what this check would report
    phases = ("before",)

    def run(self, ctx: Context) -> list[Finding]:
        plan = Plan(ctx.extension_settings)
        release = extension_release(ctx)
        inventory = Inventory(ctx)
        findings = [self._component(c, inventory, plan, release) for c in COMPONENTS]
        findings += self._legacy_fe(ctx, inventory)
        findings += self._existing_install(ctx, plan, release)
        return findings

    # -- components that the extension installs unless install*=False ------------------------

    def _component(
        self, comp: Component, inventory: Inventory, plan: Plan, release: str
    ) -> Finding:
        workload_read = inventory.workloads(comp.workload_kind)
        reads = [inventory.crds, workload_read] if comp.crd_groups else [workload_read]
        crds = [c for c in inventory.crds.items if comp.crd_groups and comp.matches_crd(c)]
        crds.sort(key=lambda c: (meta(c).get("name") != comp.primary_crd, meta(c).get("name")))
        loads = [w for w in workload_read.items if comp.matches_workload(w)]
        ours = [o for o in crds + loads if owned_by_extension(o, release)]
        crds = [c for c in crds if not owned_by_extension(c, release)]
        loads = [w for w in loads if not owned_by_extension(w, release)]
        install, source = planned_bool(plan, comp.setting)
        setting = setting_text(comp.setting, install, source)
        details: dict[str, Any] = {
            "setting": comp.setting,
            "planned": "True" if install else "False",
            "planned_from": source,
            "crds": [{"name": meta(c).get("name"), "owner": owner_text(c)} for c in crds],
            "workloads": [ref(comp.workload_kind, w) for w in loads],
            "owned_by_this_release": [meta(o).get("name") for o in ours],
        }
        if comp.code:
            details.update(code_details(comp.code))
        failed = failed_reads(reads)
        if failed:
            details["unverified"] = failed
        if not crds and not loads:
            return self._absent(comp, plan, reads, details, install, setting, release, ours)

        found = [ref(comp.workload_kind, w) for w in loads][:2]
        if crds:
            groups = ", ".join(f"*.{g}" for g in comp.crd_groups)
            found.append(f"{len(crds)} CRD(s) {groups}")
        what = "; ".join(found)
        target = (
            ref(comp.workload_kind, loads[0]) if loads else ref("CustomResourceDefinition", crds[0])
        )
        if not install:
            return Finding.passed(
                target,
                f"will reuse the existing {comp.name} ({what}) as {setting} plans: "
                f"{comp.reuse_steps}",
                **details,
            )
        if comp.training_only and plan.given and not plan.training:
            return Finding.passed(
                target,
                f"{_a(comp.name)} is installed ({what}), but the plan does not enable training and "
                f"the extension installs its own only for training; if you enable training "
                f"later, set {comp.setting}=False to reuse this one",
                **details,
            )
        details["recommend"] = {comp.setting: "False"}
        code = f" ({code_text(comp.code)})" if comp.code else ""
        when = " once training is enabled" if comp.training_only and not plan.given else ""
        if crds:
            message = (
                f"{_a(comp.name)} is already installed ({what}, owned by {owner_text(crds[0])}) "
                f"and {setting}: the install would fail{when} with 'CustomResourceDefinition "
                f'"{meta(crds[0]).get("name")}" {IMPORT_ERROR}: invalid ownership metadata\''
                f"{code}"
            )
            docs = comp.docs if comp.code else DOCS_OWNERSHIP
        else:
            message = (
                f"{_a(comp.name)} is already running ({what}) and {setting}: {comp.clash}{code}"
            )
            docs = comp.docs
        remediation = (
            f"set {comp.setting}=False to reuse the existing {comp.name} ({comp.reuse_steps}), "
            f"or remove the existing one{' and its CRDs' if crds else ''} before installing"
        )
        return Finding(comp.clash_status, target, message, remediation, docs, details)

    def _absent(
        self,
        comp: Component,
        plan: Plan,
        reads: list[Read],
        details: dict[str, Any],
        install: bool,
        setting: str,
        release: str,
        ours: list[dict[str, Any]],
    ) -> Finding:
        """None installed besides the extension's own: fine, unless the plan counts on one."""
        if details.get("unverified"):
            return unverified(comp.name, f"whether {_a(comp.name)} is installed", reads, **details)
        own = f" besides this extension's own (release {release!r})" if ours else ""
        needed = comp.missing_status is not None and (not comp.training_only or plan.training)
        if install or not needed:
            effect = "" if install else f": {comp.missing_effect}"
            return Finding.passed(
                comp.name, f"no {comp.name} installed{own}; {setting}{effect}", **details
            )
        assert comp.missing_status is not None
        details["recommend"] = {comp.setting: "True"}
        return Finding(
            comp.missing_status,
            comp.name,
            f"{setting} but no {comp.name} is installed: {comp.missing_effect}",
            f"set {comp.setting}=True (the default) so the extension installs its own, or "
            f"install {_a(comp.name)} before the extension",
            comp.docs,
            details,
        )

    # -- legacy v1 azureml-fe -------------------------------------------------------------------

    def _legacy_fe(self, ctx: Context, inventory: Inventory) -> list[Finding]:
        found: list[tuple[LegacyObject, dict[str, Any]]] = []
        reads: list[Read] = []
        namespaces = {"default"}
        for item in LEGACY_FE:
            if item.kind == "Secret":
                continue  # read by name below: listing secrets cluster-wide is too broad a right
            if item.kind == "Deployment":
                read = inventory.deployments
            elif item.namespaced:
                read = list_all(
                    ctx,
                    f"{item.kind}s named {item.name} (all namespaces)",
                    item.group_version,
                    item.plural,
                    field_selector=f"metadata.name={item.name}",
                )
            else:
                read = get_one(
                    ctx,
                    f"{item.kind} {item.name}",
                    item.group_version,
                    item.plural,
                    item.name,
                    None,
                )
            reads.append(read)
            for obj in read.items:
                if meta(obj).get("name") != item.name or _extension_owned(obj):
                    continue
                found.append((item, obj))
                if meta(obj).get("namespace"):
                    namespaces.add(meta(obj)["namespace"])
        secret = next(i for i in LEGACY_FE if i.kind == "Secret")
        for ns in sorted(namespaces):
            read = get_one(ctx, f"Secret {ns}/{secret.name}", "v1", "secrets", secret.name, ns)
            reads.append(read)
            found += [(secret, o) for o in read.items if not _extension_owned(o)]

        commands = [
            item.delete_command(meta(obj).get("namespace") if item.namespaced else None)
            for item, obj in found
        ]
        findings = []
        for (item, obj), command in zip(found, commands, strict=True):
            obj_ns = meta(obj).get("namespace")
            where = f" in namespace {obj_ns}" if obj_ns else ""
            findings.append(
                Finding.failed(
                    ref(item.kind, obj),
                    f"legacy (v1) azureml-fe {item.kind} {item.name}{where} is still installed: "
                    f"the extension's install stops on it ({code_text(item.code)})",
                    f"delete it before installing: {command} (this run found {len(commands)} "
                    "legacy azureml-fe resource(s), each with its own command). If v1 AKS web "
                    "services still run on this cluster, migrate them first: deleting "
                    "azureml-fe takes them offline",
                    DOCS_LEGACY_FE,
                    **code_details(item.code),
                    command=command,
                    commands=commands,
                )
            )
        failed = failed_reads(reads)
        if findings:
            if failed:
                for finding in findings:
                    finding.details["unverified"] = failed
            return findings
        kinds = (
            "ServiceAccount, ClusterRole, ClusterRoleBinding, Services, Deployment, Secret, "
            "ConfigMap"
        )
        if failed:
            return [
                unverified(
                    "legacy azureml-fe (v1)",
                    f"that no legacy v1 azureml-fe resources remain ({kinds})",
                    reads,
                    health_check="E45004 AZUREML_FE_ROLE_CONFLICT, "
                    "E45005 AZUREML_FE_DEPLOYMENT_CONFLICT",
                )
            ]
        return [
            Finding.passed(
                "legacy azureml-fe (v1)",
                f"no legacy v1 azureml-fe resources ({kinds}); the extension's own router "
                "azureml-fe-v2 is not one of them",
                checked_secret_namespaces=sorted(namespaces),
            )
        ]

    # -- an earlier installation ----------------------------------------------------------------

    def _existing_install(self, ctx: Context, plan: Plan, release: str) -> list[Finding]:
        ns_read = get_one(ctx, f"Namespace {NAMESPACE}", "v1", "namespaces", NAMESPACE, None)
        if not ns_read.ok:
            return [unverified(f"Namespace/{NAMESPACE}", "an earlier installation", [ns_read])]
        target = f"Namespace/{NAMESPACE}"
        if not ns_read.items:
            return [
                Finding.passed(
                    target,
                    f"no earlier installation: namespace {NAMESPACE} does not exist yet (the "
                    "extension creates it)",
                    read=f"get namespace {NAMESPACE}",
                    found=False,
                )
            ]
        namespace = ns_read.items[0]
        phase = (namespace.get("status") or {}).get("phase")
        if phase == "Terminating" or meta(namespace).get("deletionTimestamp"):
            return [
                Finding.failed(
                    target,
                    f"namespace {NAMESPACE} is being deleted (Terminating): an install now fails "
                    f"with 'unable to create new content in namespace {NAMESPACE} because it is "
                    "being terminated'",
                    "wait until the earlier uninstall has finished (az k8s-extension show; "
                    f"kubectl get namespace {NAMESPACE} must return NotFound); if it stays "
                    "Terminating, find what blocks it: kubectl get namespace "
                    f"{NAMESPACE} -o jsonpath='{{.status.conditions}}'",
                    DOCS_TROUBLESHOOT,
                    phase=phase,
                )
            ]
        releases = release_secrets(ctx)
        if not releases.ok:
            return [unverified(target, "whether a Helm release exists in azureml", [releases])]
        latest: dict[str, tuple[int, dict[str, Any]]] = {}
        for record in releases.items:
            name = labels(record).get("name") or ""
            try:
                version = int(labels(record).get("version") or 0)
            except ValueError:
                version = 0
            if name and (name not in latest or version > latest[name][0]):
                latest[name] = (version, record)
        findings: list[Finding] = []
        for name, (version, record) in sorted(latest.items()):
            status = labels(record).get("status") or "unknown"
            findings.append(self._release_finding(name, version, status, record, release))
        if not findings:
            why = (
                "as sslSecret needs"
                if plan.explicit("sslSecret")
                else "created ahead of time, or left behind by an earlier uninstall"
            )
            findings.append(
                Finding.passed(
                    target,
                    f"namespace {NAMESPACE} exists without a Helm release ({why}); the "
                    "install uses it",
                )
            )
        return findings

    def _release_finding(
        self, name: str, version: int, status: str, record: dict[str, Any], release: str
    ) -> Finding:
        target = ref("Secret", record)
        details = {"release": name, "revision": version, "release_status": status}
        if name != release:
            return Finding.warned(
                target,
                f"Helm release {name!r} (revision {version}, {status}) already lives in namespace "
                f"{NAMESPACE}: if it is an Azure ML extension under another name, a second one "
                "cannot be installed beside it; if it is something else, it may collide with the "
                "extension's resources",
                f"if it is your Azure ML extension, pass --set extension_name={name} (and update "
                f"it with az k8s-extension update --name {name}); otherwise move it out of "
                f"namespace {NAMESPACE}",
                DOCS_TROUBLESHOOT,
                **details,
            )
        if status == "deployed":
            return Finding.warned(
                target,
                f"the extension is already installed here: Helm release {name!r} revision "
                f"{version} is deployed; creating it again fails with 'cannot re-use a name that "
                "is still in use'",
                f"change it with az k8s-extension update --name {name}, or delete it first "
                f"(az k8s-extension delete --name {name}) and wait until namespace {NAMESPACE} is "
                "gone",
                DOCS_TROUBLESHOOT,
                **details,
            )
        if status.startswith("pending"):
            return Finding.warned(
                target,
                f"an earlier operation on release {name!r} has not finished (revision {version} "
                f"is {status}): an install now fails with 'earlier operation for the helm chart "
                "is still in progress'",
                "wait about an hour and retry; if the revision stays pending, remove the stuck "
                f"record (kubectl delete secret -n {NAMESPACE} "
                f"sh.helm.release.v1.{name}.v{version}) as the troubleshooting guide shows",
                DOCS_TROUBLESHOOT,
                **details,
            )
        if status == "uninstalled":
            return Finding.passed(
                target,
                f"release {name!r} was uninstalled (history kept at revision {version}); a new "
                "install replaces it",
                **details,
            )
        return Finding.warned(
            target,
            f"an earlier installation was left behind: Helm release {name!r} revision {version} "
            f"is {status}",
            f"delete it before installing again (az k8s-extension delete --name {name}, or "
            f"helm uninstall {name} -n {NAMESPACE} if no extension resource exists in Azure)",
            DOCS_TROUBLESHOOT,
            **details,
        )


def _extension_owned(obj: dict[str, Any]) -> bool:
    """Any Helm release in the extension's namespace: the v2 extension, not the v1 router."""
    owner = helm_owner(obj)
    return owner is not None and owner[1] == NAMESPACE


CHECKS = [ExtensionConflicts()]
