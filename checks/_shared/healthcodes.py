"""The Azure ML extension's own health-check codes, explained for preflight's users.

The extension's Helm chart runs a health check (a pre-install / pre-upgrade / pre-rollback /
pre-delete hook, and ``helm test``) that stops the install with codes such as ``E40001``. This
module is the one table of those codes: what each means in the user's cluster, what to do about
it, where the docs are, and which preflight checks see the same problem *before* an install.

Sources: the table "Error Code of HealthCheck" on learn.microsoft.com (how-to-troubleshoot-
kubernetes-extension: E40001-E40003, E40007, E45002-E45005) and the older troubleshooting guide
in the Azure/AML-Kubernetes repository (docs/troubleshooting.md: E40000, E45001, E49999, and the
rule that codes below E45000 are critical -- the install stops -- while codes above it are
diagnostic and need the health check's logs). Codes outside the table (E45006 has been seen in
a public issue) are reported with what the health check itself said; :func:`explain` never
guesses a meaning for them.

Other modules use :func:`explain` (always answers, ``known`` tells whether the code is in the
table), :func:`normalize_code`, :func:`health_check_text` (the ``details["health_check"]`` value
pre-install checks write) and :func:`foreseen_by` (the entries a before/after comparison matches
against a pre-install report).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from preflight.checks._shared.plan import DOCS_SETTINGS, DOCS_TROUBLESHOOT

DOCS_HEALTHCHECK = DOCS_TROUBLESHOOT + "#error-code-of-healthcheck"
DOCS_NETWORK = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall"
    "#scenario-use-kubernetes-compute"
)
DOCS_LEGACY_FE = (
    "https://learn.microsoft.com/azure/machine-learning/v1/how-to-create-attach-kubernetes"
    "?view=azureml-api-1#delete-azureml-fe-related-resources"
)
DOCS_PROMETHEUS = DOCS_TROUBLESHOOT + "#prometheus-operator"

#: codes below this stop the install; codes from it up are diagnostic (AML-Kubernetes guide)
DIAGNOSTIC_FROM = 45000

_CODE_RE = re.compile(r"^\s*[Ee]?(\d{5})\s*$")

LOGS_HINT = (
    "read the health check's own logs (kubectl logs healthcheck -n azureml, or helm test -n "
    "azureml <extension-name> --logs)"
)
LEGACY_FE_DELETE = (
    "kubectl delete sa azureml-fe; kubectl delete clusterrole azureml-fe-role; kubectl delete "
    "clusterrolebinding azureml-fe-binding; kubectl delete svc azureml-fe azureml-fe-int-http; "
    "kubectl delete deploy azureml-fe; kubectl delete secret azuremlfessl; kubectl delete cm "
    "azuremlfeconfig (each in the namespace it was installed in, usually default)"
)


@dataclass(frozen=True)
class CodeInfo:
    """One health-check code: its name, meaning and fix in the user's terms."""

    code: str  # "E40001"
    name: str  # "LOAD_BALANCER_NOT_SUPPORT" ("" when the code is not in the table)
    meaning: str  # what it means in this cluster
    remediation: str  # what to do
    caught_by: tuple[str, ...]  # preflight check ids that see the problem before an install
    docs: str
    known: bool = True

    @property
    def severity(self) -> str:
        """``critical`` (the install stops: fix it first) or ``diagnostic`` (read the logs)."""
        number = int(self.code[1:]) if self.code[1:].isdigit() else DIAGNOSTIC_FROM
        return "critical" if number < DIAGNOSTIC_FROM else "diagnostic"

    @property
    def text(self) -> str:
        """``E40001 LOAD_BALANCER_NOT_SUPPORT`` (the code alone when it has no name)."""
        return f"{self.code} {self.name}" if self.name else self.code


def _info(
    code: str,
    name: str,
    meaning: str,
    remediation: str,
    caught_by: tuple[str, ...] = (),
    docs: str = DOCS_HEALTHCHECK,
) -> CodeInfo:
    return CodeInfo(code, name, meaning, remediation, caught_by, docs)


_TABLE = (
    _info(
        "E40000",
        "UNKNOWN_ERROR",
        "the health check hit an error it could not classify",
        f"{LOGS_HINT} to find what failed",
    ),
    _info(
        "E40001",
        "LOAD_BALANCER_NOT_SUPPORT",
        "the cluster could not give the inference router's Service (azureml-fe, type "
        "LoadBalancer by default) an address: no load-balancer provider answers here (usual on "
        "bare-metal or on-premises Arc clusters without MetalLB or a cloud controller)",
        "configure a load balancer for the cluster (e.g. MetalLB on premises), or set "
        "inferenceRouterServiceType=NodePort (or ClusterIP behind your own ingress) in the "
        "extension's configuration",
        ("extension.loadbalancer",),
    ),
    _info(
        "E40002",
        "INSUFFICIENT_NODE",
        "too few healthy nodes for the planned workload: with inferenceRouterHA on (the "
        "default) the router runs 3 azureml-fe replicas that must land on 3 different Ready, "
        "schedulable nodes matching the nodeSelector",
        "add nodes (or fix the nodeSelector so enough nodes match), or set "
        "inferenceRouterHA=False on clusters with fewer than 3 nodes",
        ("nodes.capacity", "extension.config"),
    ),
    _info(
        "E40003",
        "INTERNAL_LOAD_BALANCER_NOT_SUPPORT",
        "internalLoadBalancerProvider is set but the cluster cannot provide one: only AKS, with "
        "the provider 'azure', supports the extension's internal load balancer",
        "outside AKS leave internalLoadBalancerProvider unset and use "
        "inferenceRouterServiceType=NodePort or ClusterIP; on AKS use "
        "internalLoadBalancerProvider=azure",
        ("extension.config", "extension.loadbalancer"),
    ),
    _info(
        "E40007",
        "INVALID_SSL_SETTING",
        "the router's HTTPS settings are invalid: the certificate or key (sslSecret or "
        "sslCertPemFile/sslKeyPemFile) is missing, does not parse or does not match, or "
        "sslCname is not a name the certificate covers",
        "give a PEM certificate and its matching key whose names cover sslCname (or "
        "allowInsecureConnections=True for plain HTTP, not for production)",
        ("extension.tls", "extension.config"),
        DOCS_SETTINGS,
    ),
    _info(
        "E45001",
        "AGENT_UNHEALTHY",
        "some of the extension's own resources in namespace azureml (Pods, Jobs, Deployments, "
        "DaemonSets, StatefulSets) are unhealthy",
        "find the unhealthy ones (kubectl get pods -n azureml; kubectl describe pod -n azureml "
        f"<pod>; kubectl get events -n azureml --sort-by=.lastTimestamp) and {LOGS_HINT}",
    ),
    _info(
        "E45002",
        "PROMETHEUS_CONFLICT",
        "another Prometheus operator already runs in the cluster while the extension installs "
        "its own (installPromOp=True, the default): two operators would reconcile the same "
        "objects",
        "set installPromOp=False to reuse the existing operator (make it watch namespace "
        "azureml with --kubelet-service enabled, and create the prom-kubelet ServiceMonitor the "
        "docs show), or remove the existing one",
        ("extension.conflicts",),
        DOCS_PROMETHEUS,
    ),
    _info(
        "E45003",
        "BAD_NETWORK_CONNECTIVITY",
        "pods in the cluster could not reach endpoints the extension needs (Azure ML control "
        "plane, container registries, storage): a firewall, proxy, DNS or private-link setting "
        "blocks them",
        "allow the outbound hosts of the Kubernetes-compute network requirements (firewall or "
        "proxy), check that they resolve from the nodes (private DNS zones with private link), "
        "and set the extension's proxy settings if egress goes through a proxy",
        ("dns.resolve", "egress.https", "connectivity.in-cluster"),
        DOCS_NETWORK,
    ),
    _info(
        "E45004",
        "AZUREML_FE_ROLE_CONFLICT",
        "ClusterRole azureml-fe-role exists and does not belong to the extension: the legacy "
        "(v1) AKS inference router is installed on this cluster",
        f"migrate any v1 web services, then delete the legacy azureml-fe resources: "
        f"{LEGACY_FE_DELETE}",
        ("extension.conflicts",),
        DOCS_LEGACY_FE,
    ),
    _info(
        "E45005",
        "AZUREML_FE_DEPLOYMENT_CONFLICT",
        "a Deployment (or other resource) named azureml-fe exists and does not belong to the "
        "extension: the legacy (v1) AKS inference router is installed on this cluster",
        f"migrate any v1 web services, then delete the legacy azureml-fe resources: "
        f"{LEGACY_FE_DELETE}",
        ("extension.conflicts",),
        DOCS_LEGACY_FE,
    ),
    _info(
        "E49999",
        "CHECKER_PANIC",
        "one of the health check's checkers crashed, so its verdict is missing",
        f"{LOGS_HINT}; re-run it, and report the crash with the logs if it repeats",
    ),
)

#: every code in the table, by code ("E40001")
CODES: Mapping[str, CodeInfo] = MappingProxyType({info.code: info for info in _TABLE})


def normalize_code(value: object) -> str | None:
    """``"E40001"`` from ``"e40001"``, ``" E40001 "`` or ``40001``; None when it is no code."""
    if value is None or isinstance(value, bool):
        return None
    match = _CODE_RE.match(str(value))
    return f"E{match.group(1)}" if match else None


def explain(code: str) -> CodeInfo:
    """The table entry for ``code``; for a code outside the table, an entry with
    ``known=False`` that says so instead of guessing."""
    normal = normalize_code(code)
    if normal is not None and normal in CODES:
        return CODES[normal]
    shown = normal or str(code)
    info = CodeInfo(
        shown,
        "",
        f"code {shown} is not in preflight's table of the extension's health-check codes",
        f"{LOGS_HINT}, and look the code up in the troubleshooting guide",
        (),
        DOCS_HEALTHCHECK,
        known=False,
    )
    return info


def health_check_text(code: str) -> str:
    """``"E40001 LOAD_BALANCER_NOT_SUPPORT"``: the value of ``details["health_check"]``."""
    return explain(code).text


def foreseen_by(code: str) -> list[dict[str, Any]]:
    """What in a pre-install report would have warned of ``code``: one entry per check that
    catches it, and one for any finding that names the code (``details.foreseen_by``)."""
    info = explain(code)
    entries: list[dict[str, Any]] = [{"check": check} for check in info.caught_by]
    entries.append({"mentions": info.code})
    return entries
