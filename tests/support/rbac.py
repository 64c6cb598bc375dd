"""Kubernetes RBAC, evaluated the way the API server's authorizer does it, for tests.

Used to prove that the shipped ``deploy/rbac.yaml`` allows every call preflight makes (and grants
nothing that no call needs): rules from ClusterRoles apply everywhere, rules from Roles only in
their namespace; ``*`` matches anything; ``resourceNames`` narrows get/update/delete/patch.

A ClusterRole that is only ever bound by RoleBindings (``preflight-run`` of
``deploy/rbac-runner.yaml``, bound inside each run's namespace) counts only in those namespaces
(``load_rules(path, bound_in={"preflight-run": ["preflight-abc"]})``). As in the real API
server, a request for a namespace object itself (``/api/v1/namespaces/NAME``) is authorized
with the namespace attribute set to NAME (``Attributes.authz_namespace``), so a RoleBinding in
NAME can allow getting or deleting NAME and no other namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .paths import ROOT


@dataclass(frozen=True)
class Attributes:
    """One request in authorization terms (what the fake API server records)."""

    verb: str
    api_group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # non-resource requests (/version, /api, /apis/...) carry a path instead

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def authz_namespace(self) -> str:
        """The namespace the authorizer sees (RequestInfo: a namespace's own name for it)."""
        if self.resource == "namespaces" and not self.api_group and self.name:
            return self.namespace or self.name
        return self.namespace


@dataclass(frozen=True)
class Rule:
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    namespace: str | None = None  # None: from a ClusterRole (cluster-wide)
    origin: str = ""

    def allows(self, attr: Attributes) -> bool:
        if not (_match(self.verbs, attr.verb)):
            return False
        if attr.path:
            return any(
                url == attr.path
                or url == "*"
                or (url.endswith("*") and attr.path.startswith(url[:-1]))
                for url in self.non_resource_urls
            )
        if self.namespace is not None and attr.authz_namespace != self.namespace:
            return False
        if not _match(self.api_groups, attr.api_group):
            return False
        if not _match(self.resources, attr.full_resource):
            return False
        return not self.resource_names or attr.name in self.resource_names


def _match(allowed: Iterable[str], value: str) -> bool:
    return any(a == "*" or a == value for a in allowed)


def load_rules(path: Path, bound_in: Mapping[str, Iterable[str]] | None = None) -> list[Rule]:
    """Rules of every ClusterRole and Role in a manifest (bindings are checked separately).

    ``bound_in``: ClusterRoles that only RoleBindings bind, with the namespaces they are bound
    in; their rules count there and nowhere else."""
    rules: list[Rule] = []
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc or doc.get("kind") not in ("ClusterRole", "Role"):
            continue
        name = doc["metadata"]["name"]
        namespaces: list[str | None]
        if doc["kind"] == "Role":
            namespaces = [doc["metadata"].get("namespace")]
        elif bound_in is not None and name in bound_in:
            namespaces = list(bound_in[name])
        else:
            namespaces = [None]
        origin = f"{doc['kind']}/{name}"
        for namespace in namespaces:
            for raw in doc.get("rules") or []:
                rules.append(
                    Rule(
                        verbs=tuple(raw.get("verbs") or ()),
                        api_groups=tuple(raw.get("apiGroups") or ()),
                        resources=tuple(raw.get("resources") or ()),
                        resource_names=tuple(raw.get("resourceNames") or ()),
                        non_resource_urls=tuple(raw.get("nonResourceURLs") or ()),
                        namespace=namespace,
                        origin=origin,
                    )
                )
    return rules


def denied(rules: list[Rule], calls: Iterable[Attributes]) -> list[Attributes]:
    return sorted(
        {c for c in calls if not any(r.allows(c) for r in rules)},
        key=lambda a: (a.path, a.api_group, a.resource, a.verb),
    )


def unused(rules: list[Rule], calls: Iterable[Attributes]) -> list[str]:
    """Each (rule, verb, resource) grant that no call exercised: least privilege's other half."""
    calls = list(calls)
    leftovers: list[str] = []
    for rule in rules:
        targets = rule.non_resource_urls or tuple(
            f"{g or 'core'}:{r}" for g in rule.api_groups or ("",) for r in rule.resources
        )
        for verb in rule.verbs:
            for target in targets:
                if not any(_exercises(rule, verb, target, c) for c in calls):
                    leftovers.append(f"{rule.origin}: {verb} {target}")
    return leftovers


def _exercises(rule: Rule, verb: str, target: str, call: Attributes) -> bool:
    if call.verb != verb and verb != "*":
        return False
    if call.path:
        return target == call.path or (target.endswith("*") and call.path.startswith(target[:-1]))
    group, _, resource = target.partition(":")
    group = "" if group == "core" else group
    narrowed = Rule((verb,), (group,), (resource,), rule.resource_names, (), rule.namespace)
    return narrowed.allows(call)


# -- the shipped manifests -----------------------------------------------------------------------
#: the read-only access of every check (deploy/rbac.yaml) and the extension's own (rbac-azureml)
MANIFESTS = [ROOT / "deploy" / "rbac.yaml", ROOT / "deploy" / "rbac-azureml.yaml"]
#: the optional grant deployment.capacity needs (pods listed cluster-wide)
CAPACITY = ROOT / "deploy" / "rbac-capacity.yaml"
#: everything a run may be granted
ALL_MANIFESTS = [*MANIFESTS, CAPACITY]
#: what a run that creates pods needs besides (deploy/rbac-runner.yaml)
RUNNER = ROOT / "deploy" / "rbac-runner.yaml"


def documents(*paths: Path) -> list[dict[str, Any]]:
    """The YAML documents of ``paths`` (default: MANIFESTS), empty ones left out."""
    return [d for m in paths or MANIFESTS for d in yaml.safe_load_all(m.read_text()) if d]


def rbac_rules(
    *paths: Path,
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(every ClusterRole rule, every Role's rules by namespace) of ``paths`` (default
    MANIFESTS): what the fake API server enforces with ``set_rbac``."""
    cluster: list[dict[str, Any]] = []
    namespaced: dict[str, list[dict[str, Any]]] = {}
    for doc in documents(*paths):
        if doc["kind"] == "ClusterRole":
            cluster += doc["rules"]
        elif doc["kind"] == "Role":
            namespaced.setdefault(doc["metadata"]["namespace"], []).extend(doc["rules"])
    return cluster, namespaced


def runner_roles() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(preflight-runner's rules, preflight-run's rules) from RUNNER."""
    roles = {
        d["metadata"]["name"]: d["rules"] for d in documents(RUNNER) if d["kind"] == "ClusterRole"
    }
    return roles["preflight-runner"], roles["preflight-run"]
