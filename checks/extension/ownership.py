"""``extension.ownership``: no object the extension's Helm chart will create by name already exists
under another owner, and no ingress controller already claims the extension's ingress class.

Helm installs a chart only if every object it renders is new or already carries the release's
ownership metadata (label ``app.kubernetes.io/managed-by=Helm``, annotations
``meta.helm.sh/release-name=<extension name>`` and ``meta.helm.sh/release-namespace=azureml``);
anything else stops the install with "... exists and cannot be imported into the current release:
invalid ownership metadata" (the troubleshooting page,
https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-kubernetes-extension
#error-cant-be-imported-into-the-current-release-invalid-ownership-metadata). Namespaced objects
live in ``azureml`` (``extension.conflicts`` judges an earlier release there); the cluster-scoped
ones can be left by anything. What is checked (tables in checks/_shared/bundled.py):

- CRDs of the extension's own group ``amlarc.azureml.com`` (InstanceType is "installed with the
  Azure Machine Learning extension", how-to-manage-kubernetes-instance-types): fail;
- ClusterRoles, ClusterRoleBindings and admission webhook configurations whose names follow from
  the extension's documented ServiceAccounts (its Prometheus stack ``prom-*``, its ingress-nginx
  ``azureml-ingress-nginx*``) and one a user reported (Azure/AML-Kubernetes#162): the names are
  derived, not documented, so a clash warns;
- the ingress class: on AKS the extension installs ingress-nginx with controller class
  ``k8s.io/ingress-nginx`` ("If you already have an ingress nginx controller in your cluster, you
  need to use a different controller class to avoid installation failure"): an IngressClass or an
  ingress-nginx controller Deployment already using that class fails, with
  ``nginxIngress.controller=k8s.io/amlarc-ingress-nginx`` as the fix.

Reads: cluster-scoped objects by name (RBAC narrowed with resourceNames), IngressClasses, and the
CRD and Deployment lists ``extension.conflicts`` also reads (one read per run).
"""

from __future__ import annotations

from typing import Any

from preflight.api import Check, Context, Finding, Status
from preflight.checks._shared.bundled import (
    CLUSTER_OBJECTS,
    DOCS_INGRESS_NGINX,
    DOCS_INSTANCE_TYPES,
    EXTENSION_CRD_GROUP,
    NGINX_CLASS,
    NGINX_CLASS_ALTERNATIVE,
    NGINX_CLASS_SETTING,
    NGINX_ENABLED_SETTING,
    ClusterObject,
)
from preflight.checks._shared.kube_reads import (
    Inventory,
    Read,
    failed_reads,
    get_one,
    helm_owner,
    list_all,
    meta,
    owned_by_extension,
    owner_text,
    planned_bool,
    ref,
    unverified,
)
from preflight.checks._shared.plan import (
    DOCS_TROUBLESHOOT,
    EXTENSION_NAME_PARAM,
    NAMESPACE,
    Plan,
    as_bool,
    cluster_type_of,
    extension_release,
)
from preflight.checks._shared.pods import as_dict

DOCS_OWNERSHIP = (
    DOCS_TROUBLESHOOT
    + "#error-cant-be-imported-into-the-current-release-invalid-ownership-metadata"
)
IMPORT_ERROR = "exists and cannot be imported into the current release: invalid ownership metadata"
_CONTROLLER_ARG = "--controller-class="


def _adopt_commands(kind: str, name: str, release: str) -> str:
    """The troubleshooting page's way to hand an object to the extension (only when nothing
    else uses it)."""
    short = kind.lower()
    return (
        f'kubectl label {short} {name} "app.kubernetes.io/managed-by=Helm" --overwrite; '
        f'kubectl annotate {short} {name} "meta.helm.sh/release-namespace={NAMESPACE}" '
        f'"meta.helm.sh/release-name={release}" --overwrite'
    )


def ingress_class_of(deployment: dict[str, Any]) -> str | None:
    """The controller class an ingress-nginx controller Deployment serves (its
    ``--controller-class`` argument, else ingress-nginx's default), or None when it is not an
    ingress-nginx controller."""
    spec = as_dict(deployment.get("spec"))
    template = as_dict(spec.get("template"))
    pod = as_dict(template.get("spec"))
    for container in pod.get("containers") or []:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image") or "")
        if "ingress-nginx/controller" not in image:
            continue
        for arg in [*(container.get("args") or []), *(container.get("command") or [])]:
            if isinstance(arg, str) and arg.startswith(_CONTROLLER_ARG):
                return arg[len(_CONTROLLER_ARG) :]
        return NGINX_CLASS
    return None


class ExtensionOwnership(Check):
    """No cluster-scoped object the extension creates is already owned by someone else (module
    doc)."""

    id = "extension.ownership"
    title = "No object the extension creates is already owned by another release"
    category = "extension"
    needs = ("kube",)
    docs = DOCS_OWNERSHIP
    parameters = EXTENSION_NAME_PARAM
    #: after the install these objects are the extension's own
    phases = ("before",)

    def run(self, ctx: Context) -> list[Finding]:
        plan = Plan(ctx.extension_settings)
        release = extension_release(ctx)
        kind, _ = cluster_type_of(ctx)
        inventory = Inventory(ctx)
        findings = self._crds(inventory, release)
        reads: list[Read] = [inventory.crds]
        checked: list[str] = []
        for item in CLUSTER_OBJECTS:
            why_not = self._not_created(item, plan, kind)
            read = get_one(
                ctx, f"{item.kind} {item.name}", item.group_version, item.plural, item.name, None
            )
            reads.append(read)
            if why_not:
                continue
            checked.append(f"{item.kind}/{item.name}")
            for obj in read.items:
                if not owned_by_extension(obj, release):
                    findings.append(self._clash(item, obj, release))
        findings += self._ingress_class(ctx, plan, kind, release, inventory, reads)
        failed = failed_reads(reads)
        if failed:
            if findings:
                for finding in findings:
                    finding.details.setdefault("unverified", failed)
            else:
                findings.append(
                    unverified(
                        "cluster-scoped objects",
                        "that no object the extension creates is owned by someone else",
                        reads,
                    )
                )
        if not findings:
            findings.append(
                Finding.passed(
                    "cluster-scoped objects",
                    f"none of the extension's cluster-scoped objects exists under another owner "
                    f"(CRDs *.{EXTENSION_CRD_GROUP}, {len(checked)} named objects, the ingress "
                    "class)",
                    checked=checked,
                    release=release,
                )
            )
        return findings

    @staticmethod
    def _not_created(item: ClusterObject, plan: Plan, kind: str) -> str:
        if item.setting:
            install, _ = planned_bool(plan, item.setting)
            if not install:
                return f"{item.setting}=False"
        if item.aks_only and kind != "aks":
            return "Arc-enabled cluster"
        return ""

    def _crds(self, inventory: Inventory, release: str) -> list[Finding]:
        findings = []
        for crd in inventory.crds.items:
            group = str((crd.get("spec") or {}).get("group") or "")
            if not group:
                group = str(meta(crd).get("name", "")).partition(".")[2]
            if group != EXTENSION_CRD_GROUP or owned_by_extension(crd, release):
                continue
            name = meta(crd).get("name")
            findings.append(
                Finding.failed(
                    ref("CustomResourceDefinition", crd),
                    f"CRD {name} of the extension's own group {EXTENSION_CRD_GROUP} exists, "
                    f"owned by {owner_text(crd)}, not by release {release!r} in {NAMESPACE}: the "
                    f"install would stop with 'CustomResourceDefinition \"{name}\" {IMPORT_ERROR}'",
                    self._remedy("CustomResourceDefinition", str(name), crd, release),
                    DOCS_OWNERSHIP,
                    owner=owner_text(crd),
                    helm_owner=list(helm_owner(crd) or ()) or None,
                    source=DOCS_INSTANCE_TYPES,
                )
            )
        return findings

    def _clash(self, item: ClusterObject, obj: dict[str, Any], release: str) -> Finding:
        owner = owner_text(obj)
        status = Status.FAIL if item.documented else Status.WARN
        likely = "" if item.documented else " (likely: the name follows from documented ones)"
        message = (
            f"{item.kind} {item.name} already exists, owned by {owner}: the extension's chart "
            f"creates an object of that name{likely}, and Helm would stop the install with "
            f"'{item.kind} \"{item.name}\" {IMPORT_ERROR}'"
        )
        return Finding(
            status,
            ref(item.kind, obj),
            message,
            self._remedy(item.kind, item.name, obj, release),
            DOCS_OWNERSHIP,
            {
                "owner": owner,
                "helm_owner": list(helm_owner(obj) or ()) or None,
                "source": item.source,
                "name_documented": item.documented,
                **({"setting": item.setting} if item.setting else {}),
            },
        )

    @staticmethod
    def _remedy(kind: str, name: str, obj: dict[str, Any], release: str) -> str:
        owner = helm_owner(obj)
        who = f"Helm release {owner[0]!r} in {owner[1]!r}" if owner else "whatever created it"
        return (
            f"find out whether {who} still needs {kind} {name}: if not, delete it (or uninstall "
            f"that release); if only the extension will use it, hand it over as the "
            f"troubleshooting page shows: {_adopt_commands(kind, name, release)}"
        )

    def _ingress_class(
        self,
        ctx: Context,
        plan: Plan,
        kind: str,
        release: str,
        inventory: Inventory,
        reads: list[Read],
    ) -> list[Finding]:
        classes = list_all(ctx, "IngressClasses", "networking.k8s.io/v1", "ingressclasses")
        reads += [classes, inventory.deployments]
        planned = plan.value(NGINX_CLASS_SETTING) if plan.explicit(NGINX_CLASS_SETTING) else None
        wanted = (planned or NGINX_CLASS).strip().strip('"')
        enabled = (
            as_bool(plan.value(NGINX_ENABLED_SETTING))
            if plan.explicit(NGINX_ENABLED_SETTING)
            else None
        )
        if kind != "aks" or enabled is False:
            return []
        found: list[tuple[str, dict[str, Any]]] = []
        for obj in classes.items:
            spec = as_dict(obj.get("spec"))
            if spec.get("controller") == wanted and not owned_by_extension(obj, release):
                found.append((ref("IngressClass", obj), obj))
        for obj in inventory.deployments.items:
            if meta(obj).get("namespace") == NAMESPACE or owned_by_extension(obj, release):
                continue
            if ingress_class_of(obj) == wanted:
                found.append((ref("Deployment", obj), obj))
        if not found:
            return []
        what = ", ".join(name for name, _ in found[:4])
        alternative = (
            NGINX_CLASS_ALTERNATIVE
            if wanted != NGINX_CLASS_ALTERNATIVE
            else ("k8s.io/azureml-ingress-nginx")
        )
        source = "planned" if planned else "the default"
        return [
            Finding.failed(
                found[0][0],
                f"an ingress-nginx controller already serves class {wanted} ({what}), the class "
                f"of the ingress-nginx the extension installs on AKS ({source}): the install "
                "fails unless one of them uses another class",
                f"add {NGINX_CLASS_SETTING}={alternative} to the extension's --config, or move "
                f"the existing controller to another class",
                DOCS_INGRESS_NGINX,
                controller_class=wanted,
                class_from=source,
                found=[name for name, _ in found],
                owners=[owner_text(obj) for _, obj in found],
            )
        ]


CHECKS = [ExtensionOwnership()]
