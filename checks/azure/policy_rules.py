"""How ``azure.policy`` reads an Azure Policy definition: its effect (resolved through the
assignment's and the initiative's parameters), and whether it can deny what the Azure ML extension
creates. No checks here; data and pure functions, so the rules are testable one by one.

Sources (research notes 19, section 7):

- Assignment and definition shapes: azure-rest-api-specs
  ``specification/resources/resource-manager/Microsoft.Authorization/stable/2023-04-01/examples``
  (``listPolicyAssignmentsForResource.json``, ``getBuiltinPolicyDefinition.json``). The effect is
  usually ``"[parameters('effect')]"``: the assignment's ``parameters.effect.value``, else the
  definition's ``parameters.effect.defaultValue``. Effects compare case-insensitively.
- ``enforcementMode: DoNotEnforce`` does not enforce the effect.
- Kubernetes definitions (``mode: Microsoft.Kubernetes.Data``, Azure/azure-policy
  ``built-in-policies/policyDefinitions/Kubernetes``, 2026-04-29) apply to the objects in the
  cluster; their default ``excludedNamespaces`` (kube-system, gatekeeper-system, azure-arc,
  azure-extensions-usage-system) do not exclude ``azureml``.
- AKS cluster extensions: "Custom Azure policies that block creation or updates to the cluster
  extensions resource type must be updated or exempted" (azure-aks-docs cluster-extensions.md,
  2025-09-09).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

NAMESPACE = "azureml"
EXTENSION_TYPE = "microsoft.kubernetesconfiguration/extensions"
RELAY_TYPE = "microsoft.relay/namespaces"
DENYING = ("deny", "denyaction")
KNOWN_EFFECTS = (
    *DENYING,
    "audit",
    "auditifnotexists",
    "disabled",
    "deployifnotexists",
    "modify",
    "append",
    "manual",
    "mutate",
)
#: an image of the extension's components (they come from mcr.microsoft.com; the exact names
#: are not documented: inferred from the deploy page's component table)
EXTENSION_IMAGE = "mcr.microsoft.com/azureml/amlarc/docker/azureml-fe:1.0.0"

#: built-in Kubernetes definitions (name -> what they would stop of the extension's objects)
KNOWN_KUBERNETES: dict[str, str] = {
    "febd0533-8e55-448f-b837-bd0e06f16469": "images outside allowedContainerImagesRegex (the "
    "extension's images come from mcr.microsoft.com)",
    "95edb821-ddaf-4404-9732-666045e056b4": "privileged containers (which extension pods are "
    "privileged is not documented; Container Insights' agent is)",
    "3fc4dc25-5baf-40d8-9b05-7fe74c1bc64e": "Services of type LoadBalancer that are not internal "
    "(the azureml-fe router with inferenceRouterServiceType=LoadBalancer and no "
    "internalLoadBalancerProvider=azure)",
    "233a2a17-77ca-4fb1-9b6b-69223d272a44": "Services on ports outside allowedServicePortsList "
    "(azureml-fe listens on 80 and 443)",
    "e345eecc-fa47-480f-9e88-67dcc122b164": "containers whose CPU or memory limits exceed the "
    "policy's limits (the extension's components and model deployments)",
}
INTERNAL_LB = "3fc4dc25-5baf-40d8-9b05-7fe74c1bc64e"
ALLOWED_IMAGES = "febd0533-8e55-448f-b837-bd0e06f16469"

_PARAMETER = re.compile(r"^\[\s*parameters\(\s*'([^']+)'\s*\)\s*\]$", re.IGNORECASE)


class Unreadable(ValueError):
    """A definition in a shape this module does not know (the message names what)."""


@dataclass
class Resolver:
    """Parameter values for one definition: the member reference of an initiative (its values
    may themselves be ``[parameters('x')]`` of the initiative), then the assignment, then the
    defaults."""

    assignment: dict[str, Any]  # assignment properties.parameters
    definition: dict[str, Any]  # definition properties.parameters
    reference: dict[str, Any] | None = None  # initiative member's parameters
    initiative: dict[str, Any] | None = None  # initiative properties.parameters

    def value(self, name: str, what: str) -> Any:
        if self.reference is not None:
            ref = _entry(self.reference, name)
            if ref is not None and "value" in ref:
                inner = _parameter_name(ref["value"])
                if inner is None:
                    return ref["value"]
                return self._outer(inner, self.initiative or {}, what)
        return self._outer(name, self.definition, what)

    def _outer(self, name: str, defaults: dict[str, Any], what: str) -> Any:
        given = _entry(self.assignment, name)
        if given is not None and "value" in given:
            return given["value"]
        default = _entry(defaults, name)
        if default is not None and "defaultValue" in default:
            return default["defaultValue"]
        raise Unreadable(f"{what}: parameter {name!r} has no value and no default")

    def resolve(self, raw: Any, what: str) -> Any:
        name = _parameter_name(raw)
        return raw if name is None else self.value(name, what)


def _entry(mapping: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = next((v for k, v in mapping.items() if str(k).lower() == name.lower()), None)
    return found if isinstance(found, dict) else None


def _parameter_name(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    match = _PARAMETER.match(raw.strip())
    return match.group(1) if match else None


def rule_of(definition: dict[str, Any], what: str) -> dict[str, Any]:
    """``properties.policyRule`` with an ``if`` object and a ``then`` object, or Unreadable."""
    rule = (definition.get("properties") or {}).get("policyRule")
    if not isinstance(rule, dict):
        raise Unreadable(f"{what}: policyRule is missing or not an object")
    if not isinstance(rule.get("if"), dict) or not isinstance(rule.get("then"), dict):
        raise Unreadable(f"{what}: policyRule has no if/then objects")
    return rule


def effect_of(rule: dict[str, Any], resolver: Resolver, what: str) -> str:
    """The effect, lower case, or Unreadable (an expression, a number, an effect no document
    lists)."""
    raw = rule["then"].get("effect")
    value = resolver.resolve(raw, what)
    if not isinstance(value, str) or value.strip().lower() not in KNOWN_EFFECTS:
        raise Unreadable(f"{what}: effect {value!r} is not an effect preflight knows")
    return value.strip().lower()


def namespaces_of(
    rule: dict[str, Any], resolver: Resolver, what: str
) -> tuple[list[str], list[str]]:
    """A Kubernetes definition's ``excludedNamespaces`` and ``namespaces`` (empty: all)."""
    details = rule["then"].get("details")
    if details is None:
        return [], []
    if not isinstance(details, dict):
        raise Unreadable(f"{what}: then.details is not an object")
    lists = []
    for key in ("excludedNamespaces", "namespaces"):
        raw = details.get(key)
        value = [] if raw is None else resolver.resolve(raw, what)
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Unreadable(f"{what}: then.details.{key} is not a list of namespaces")
        lists.append([v.lower() for v in value])
    return lists[0], lists[1]


def names_types(rule: dict[str, Any], *types: str) -> list[str]:
    """Which of ``types`` the rule's ``if`` names anywhere (case-insensitive)."""
    text = json.dumps(rule["if"]).lower()
    return [t for t in types if t in text]


def only_type_condition(rule: dict[str, Any], resource_type: str) -> bool:
    """The ``if`` is nothing but ``field: type`` equal to (or in a list with) ``resource_type``:
    such a deny stops every resource of the type, whatever else it holds."""
    condition = rule["if"]
    if set(condition) - {"field", "equals", "in"}:
        return False
    if str(condition.get("field", "")).lower() != "type":
        return False
    wanted = resource_type.lower()
    if "equals" in condition:
        return str(condition["equals"]).lower() == wanted
    values = condition.get("in")
    return isinstance(values, list) and wanted in [str(v).lower() for v in values]


def image_allowed(regex: Any, what: str) -> bool:
    """Whether the allowed-images regex of febd0533 lets the extension's images through (the
    Gatekeeper template matches anywhere in the image reference, as ``re.search`` does)."""
    if not isinstance(regex, str):
        raise Unreadable(f"{what}: allowedContainerImagesRegex is not text")
    try:
        return re.search(regex, EXTENSION_IMAGE) is not None
    except re.error as exc:
        raise Unreadable(f"{what}: allowedContainerImagesRegex {regex!r}: {exc}") from None
