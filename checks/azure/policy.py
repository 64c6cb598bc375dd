"""``azure.policy``: no Azure Policy assignment on the cluster denies what the Azure ML extension
creates: the extension resource itself (``Microsoft.KubernetesConfiguration/extensions``), the
Azure Relay that ``az k8s-extension create`` makes for it on Arc (azure-cli-extensions
``AzureMLKubernetes.py``), and, through the Azure Policy add-on's Kubernetes definitions, its
pods and Services in the namespace ``azureml``.

Read from Azure Resource Manager, api-version 2023-04-01 of Microsoft.Authorization:
``GET {cluster}/providers/Microsoft.Authorization/policyAssignments`` (what applies to the
cluster, inherited from its resource group, subscription and management groups included), then
each assignment's definition, or each member of an initiative (``policySetDefinitions``). How a
definition is judged is in policy_rules.py. Only deny effects deny; ``enforcementMode:
DoNotEnforce`` does not enforce. A definition in a shape preflight does not know, an effect it
cannot resolve or an answer it cannot read is a warn naming it, never a pass.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from preflight.api import ArmError, Check, Context, Finding, Status, jsonshape
from preflight.checks._shared.cluster_resource import (
    VALIDATORS,
    ClusterInfo,
    arm_error_problem,
    arm_skip,
    read_cluster,
)
from preflight.checks._shared.plan import Plan
from preflight.checks.azure.cluster_parameters import CLUSTER_PARAMETERS
from preflight.checks.azure.policy_rules import (
    ALLOWED_IMAGES,
    DENYING,
    EXTENSION_TYPE,
    INTERNAL_LB,
    KNOWN_KUBERNETES,
    NAMESPACE,
    RELAY_TYPE,
    Resolver,
    Unreadable,
    effect_of,
    image_allowed,
    names_types,
    namespaces_of,
    only_type_condition,
    rule_of,
)

POLICY_API = "2023-04-01"  # Microsoft.Authorization policyAssignments / policyDefinitions, GA
#: definitions read at most per run (a large initiative has a few hundred members)
MAX_DEFINITIONS = 600
CONCURRENT_READS = 16
DOCS_POLICY = "https://learn.microsoft.com/azure/aks/use-azure-policy"
DOCS_EXEMPTION = "https://learn.microsoft.com/azure/governance/policy/concepts/exemption-structure"
DOCS_EXTENSIONS = "https://learn.microsoft.com/azure/aks/cluster-extensions"

_S = jsonshape.STR
_PARAMS = jsonshape.Obj(values=jsonshape.Obj())
ASSIGNMENT = jsonshape.Obj(
    {
        "id": _S,
        "name": _S,
        "properties": jsonshape.Obj(
            {
                "displayName": _S,
                "policyDefinitionId": _S,
                "enforcementMode": _S,
                "parameters": _PARAMS,
                "notScopes": jsonshape.Arr(_S),
                "scope": _S,
            }
        ),
    }
)
DEFINITION = jsonshape.Obj(
    {
        "id": _S,
        "name": _S,
        "properties": jsonshape.Obj(
            {"displayName": _S, "mode": _S, "policyType": _S, "parameters": _PARAMS}
        ),
    }
)
SET_DEFINITION = jsonshape.Obj(
    {
        "id": _S,
        "name": _S,
        "properties": jsonshape.Obj(
            {
                "displayName": _S,
                "parameters": _PARAMS,
                "policyDefinitions": jsonshape.Arr(
                    jsonshape.Obj(
                        {
                            "policyDefinitionId": _S,
                            "policyDefinitionReferenceId": _S,
                            "parameters": _PARAMS,
                        }
                    )
                ),
            }
        ),
    }
)


@dataclass
class Verdict:
    status: Status  # FAIL: denies; WARN: may deny, or could not be read
    target: str
    message: str
    remediation: str
    docs: str
    details: dict[str, Any] = field(default_factory=dict)


class _Definitions:
    """Definitions and initiatives read once each, at most CONCURRENT_READS at a time."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cache: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self.slots = asyncio.Semaphore(CONCURRENT_READS)

    def get(self, resource_id: str, shape: jsonshape.Shape) -> asyncio.Task[dict[str, Any]]:
        key = resource_id.lower()
        if key not in self.cache:
            if len(self.cache) >= MAX_DEFINITIONS:
                raise Unreadable(f"more than {MAX_DEFINITIONS} policy definitions: not all read")
            self.cache[key] = asyncio.ensure_future(self._read(resource_id, shape))
        return self.cache[key]

    async def _read(self, resource_id: str, shape: jsonshape.Shape) -> dict[str, Any]:
        async with self.slots:
            return await self.ctx.arm.get(quote(resource_id, safe="/"), POLICY_API, shape)


class AzurePolicy(Check):
    id = "azure.policy"
    title = "No Azure Policy assignment denies what the extension creates"
    category = "azure"
    docs = DOCS_POLICY
    parameters = CLUSTER_PARAMETERS
    validators = VALIDATORS

    async def run(self, ctx: Context) -> list[Finding]:
        read = await read_cluster(ctx)
        if read.cluster is None:
            return [read.failure("policy", "the Azure Policy assignments")]
        skip = await arm_skip(ctx, "policy")
        if skip is not None:
            return [skip]
        info = read.cluster
        scope = quote(info.resource_id, safe="/")
        path = f"{scope}/providers/Microsoft.Authorization/policyAssignments"
        try:
            assignments = await ctx.arm.list(path, POLICY_API, item_shape=ASSIGNMENT)
        except ArmError as exc:
            return [_unread(ctx, exc, info)]
        definitions = _Definitions(ctx)
        results = await asyncio.gather(
            *(_assignment(ctx, info, a, definitions) for a in assignments)
        )
        verdicts = [v for found in results for v in found[0]]
        seen = [entry for found in results for entry in found[1]]
        details: dict[str, Any] = {
            **info.details(),
            "assignments": seen[:100],
            "assignments_read": len(assignments),
        }
        if verdicts:
            return [
                Finding(
                    v.status, v.target, v.message, v.remediation, v.docs, {**details, **v.details}
                )
                for v in verdicts
            ]
        if not assignments:
            return [
                Finding.passed(
                    "policy", f"no Azure Policy assignment applies to {info.name}", **details
                )
            ]
        return [
            Finding.passed(
                "policy",
                f"{len(assignments)} Azure Policy assignment(s) apply to {info.name}; none denies "
                "what the Azure ML extension creates",
                **details,
            )
        ]


def _unread(ctx: Context, exc: ArmError, info: ClusterInfo) -> Finding:
    problem = arm_error_problem(
        ctx,
        exc,
        what=f"the Azure Policy assignments of {info.name}",
        permission=(
            f"Reader (Microsoft.Authorization/policyAssignments/read) on {info.name}, its "
            "resource group or subscription"
        ),
    )
    status = Status.WARN if problem.status in (Status.FAIL, Status.PASS) else problem.status
    if exc.kind == "malformed":
        status = Status.WARN
    return Finding(
        status,
        "policy",
        f"cannot tell whether an Azure Policy denies the extension: {problem.message}",
        problem.remediation,
        problem.docs or DOCS_POLICY,
        details={**info.details(), **problem.details},
    )


async def _assignment(
    ctx: Context, info: ClusterInfo, assignment: dict[str, Any], definitions: _Definitions
) -> tuple[list[Verdict], list[dict[str, Any]]]:
    props = assignment.get("properties") or {}
    label = str(props.get("displayName") or assignment.get("name") or "assignment")
    definition_id = str(props.get("policyDefinitionId") or "")
    entry: dict[str, Any] = {
        "assignment": assignment.get("id"),
        "name": label,
        "definition": definition_id,
        "enforcement_mode": props.get("enforcementMode") or "Default",
    }
    cluster_id = info.resource_id.lower()
    excluded = [s for s in props.get("notScopes") or [] if cluster_id.startswith(s.lower())]
    if excluded:
        entry["not_scopes"] = excluded
        return [], [entry]
    if str(props.get("enforcementMode") or "").lower() == "donotenforce":
        return [], [entry]
    given = props.get("parameters") or {}
    try:
        if "/policysetdefinitions/" in definition_id.lower():
            verdicts = await _initiative(ctx, info, assignment, definition_id, given, definitions)
        else:
            document = await definitions.get(definition_id, DEFINITION)
            resolver = Resolver(given, (document.get("properties") or {}).get("parameters") or {})
            found = _judge(ctx, info, assignment, document, resolver, label)
            verdicts = [found] if found is not None else []
    except ArmError as exc:
        verdicts = [_unreadable(assignment, label, f"{definition_id}: {exc.message}")]
    except Unreadable as exc:
        verdicts = [_unreadable(assignment, label, str(exc))]
    entry["denies"] = [v.status.value for v in verdicts]
    return verdicts, [entry]


async def _initiative(
    ctx: Context,
    info: ClusterInfo,
    assignment: dict[str, Any],
    set_id: str,
    given: dict[str, Any],
    definitions: _Definitions,
) -> list[Verdict]:
    initiative = await definitions.get(set_id, SET_DEFINITION)
    props = initiative.get("properties") or {}
    label = str(
        (assignment.get("properties") or {}).get("displayName") or assignment.get("name") or ""
    )
    members = props.get("policyDefinitions") or []
    reads = [definitions.get(str(m.get("policyDefinitionId") or ""), DEFINITION) for m in members]
    documents = await asyncio.gather(*reads, return_exceptions=True)
    verdicts: list[Verdict] = []
    for member, document in zip(members, documents, strict=True):
        member_id = str(member.get("policyDefinitionId") or "")
        target = f"{label} / {member.get('policyDefinitionReferenceId') or member_id}"
        if isinstance(document, ArmError):
            verdicts.append(_unreadable(assignment, target, f"{member_id}: {document.message}"))
            continue
        if isinstance(document, BaseException):
            raise document
        resolver = Resolver(
            given,
            (document.get("properties") or {}).get("parameters") or {},
            member.get("parameters") or {},
            props.get("parameters") or {},
        )
        try:
            found = _judge(ctx, info, assignment, document, resolver, target)
        except Unreadable as exc:
            found = _unreadable(assignment, target, str(exc))
        if found is not None:
            verdicts.append(found)
    return verdicts


def _unreadable(assignment: dict[str, Any], target: str, why: str) -> Verdict:
    return Verdict(
        Status.WARN,
        target,
        f"cannot tell whether the Azure Policy assignment {target} denies the extension: {why}",
        "read the definition (`az policy definition show --name <name>`) and check that it does "
        "not deny Microsoft.KubernetesConfiguration/extensions or objects in the namespace "
        f"{NAMESPACE}; exempt the cluster if it does",
        DOCS_EXEMPTION,
        {"assignment_id": assignment.get("id"), "could_not_read": why},
    )


def _judge(
    ctx: Context,
    info: ClusterInfo,
    assignment: dict[str, Any],
    definition: dict[str, Any],
    resolver: Resolver,
    target: str,
) -> Verdict | None:
    props = definition.get("properties") or {}
    name = str(definition.get("name") or "").lower()
    title = str(props.get("displayName") or name)
    what = f"policy definition {title} ({definition.get('id')})"
    rule = rule_of(definition, what)
    effect = effect_of(rule, resolver, what)
    if effect not in DENYING:
        return None
    assignment_id = str(assignment.get("id") or "")
    exempt = (
        f"exempt the cluster: az policy exemption create --name azureml-extension "
        f"--policy-assignment {assignment_id} --scope {info.resource_id} "
        "--exemption-category Waiver"
    )
    details = {
        "assignment_id": assignment_id,
        "definition_id": definition.get("id"),
        "definition": title,
        "mode": props.get("mode"),
        "effect": effect,
    }
    mode = str(props.get("mode") or "").lower()
    if mode == "microsoft.kubernetes.data":
        excluded, only = namespaces_of(rule, resolver, what)
        details.update(excluded_namespaces=excluded, namespaces=only)
        if NAMESPACE in excluded or (only and NAMESPACE not in only):
            return None
        return _kubernetes(ctx, info, name, title, resolver, what, target, exempt, details)
    hits = names_types(rule, EXTENSION_TYPE, *((RELAY_TYPE,) if info.kind == "arc" else ()))
    if not hits:
        return None
    details["names_types"] = hits
    if EXTENSION_TYPE in hits and only_type_condition(rule, EXTENSION_TYPE):
        return Verdict(
            Status.FAIL,
            target,
            f"Azure Policy {title} denies every cluster extension on {info.name} "
            "(Microsoft.KubernetesConfiguration/extensions): az k8s-extension create fails",
            exempt,
            DOCS_EXTENSIONS,
            details,
        )
    return Verdict(
        Status.WARN,
        target,
        f"Azure Policy {title} ({effect}) has a rule about {', '.join(hits)}, which the Azure ML "
        f"extension creates on {info.name}: it may deny the install",
        f"read its rule (`az policy definition show --name {definition.get('name')}`); if it "
        f"matches the extension, {exempt}",
        DOCS_EXTENSIONS,
        details,
    )


def _kubernetes(
    ctx: Context,
    info: ClusterInfo,
    name: str,
    title: str,
    resolver: Resolver,
    what: str,
    target: str,
    exempt: str,
    details: dict[str, Any],
) -> Verdict | None:
    remedy = f"add {NAMESPACE} to the assignment's excludedNamespaces parameter, or {exempt}"
    if name == INTERNAL_LB:
        if info.kind == "arc":
            return None  # the definition's if names managedClusters only
        plan = Plan(ctx.extension_settings)
        if plan.given:
            service = (plan.value("inferenceRouterServiceType") or "").lower()
            internal = (plan.value("internalLoadBalancerProvider") or "").lower() == "azure"
            if not plan.inference or service != "loadbalancer" or internal:
                return None
            return Verdict(
                Status.FAIL,
                target,
                f"Azure Policy {title} denies Services of type LoadBalancer that are not "
                "internal: the planned router (inferenceRouterServiceType=LoadBalancer without "
                "internalLoadBalancerProvider=azure) would be refused",
                "plan internalLoadBalancerProvider=azure (or inferenceRouterServiceType=nodePort),"
                f" or {remedy}",
                DOCS_POLICY,
                details,
            )
    if name == ALLOWED_IMAGES:
        regex = resolver.value("allowedContainerImagesRegex", what)
        details["allowed_images_regex"] = regex
        if image_allowed(regex, what):
            return None
        return Verdict(
            Status.FAIL,
            target,
            f"Azure Policy {title} denies images outside {regex!r}, which the extension's images "
            "from mcr.microsoft.com are",
            f"allow mcr.microsoft.com in allowedContainerImagesRegex, or {remedy}",
            DOCS_POLICY,
            details,
        )
    stops = KNOWN_KUBERNETES.get(name, f"objects its rule matches ({title})")
    return Verdict(
        Status.WARN,
        target,
        f"Azure Policy {title} denies, in the cluster's namespace {NAMESPACE} too, {stops}: it "
        "may refuse pods or Services of the Azure ML extension",
        f"if the extension's install or its pods are refused, {remedy}",
        DOCS_POLICY,
        details,
    )


CHECKS = [AzurePolicy()]
