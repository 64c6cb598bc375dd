"""``extension.config``: are the planned ``az k8s-extension create --config`` settings valid, and do
they fit the cluster?

Every rule comes from the extension's settings table and deployment notes (seeds 002/003): at
least one of enableTraining / enableInference; inferenceRouterServiceType required with inference
and one of loadBalancer/nodePort/clusterIP; HTTPS (allowInsecureConnections=False, the default)
needs sslCname and either sslSecret or both protected PEM files; internalLoadBalancerProvider only
on AKS; inferenceRouterHA=True (the default) needs 3 eligible nodes. Keys match
case-insensitively, as the CLI takes them; so do choices (the docs write both LoadBalancer and
loadBalancer). Where a rule matches one of the extension's install-time health-check codes, the
finding names it, so a user who has seen the code in ``arcml-healthcheck`` recognises it.

The settings are validated offline; the rules that need the cluster (node count, nodeSelector)
run only when a cluster is reachable, so ``kube`` is not a declared need.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from typing import Any

from preflight.api import Check, Context, Finding, Status
from preflight.checks._shared.nodes import (
    LABEL_KEY,
    LABEL_VALUE,
    TOLERATIONS_HELP,
    TOLERATIONS_PARAM,
    kube_error,
    survey,
)
from preflight.checks._shared.plan import (
    DOCS_SETTINGS,
    NODE_SELECTOR_PREFIX,
    SETTINGS,
    Plan,
    SettingSpec,
    cluster_type_of,
    spec_for,
)

DOCS_TLS = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-secure-kubernetes-online-endpoint"
)
DOCS_ROUTER = (
    "https://learn.microsoft.com/azure/machine-learning/"
    "how-to-kubernetes-inference-routing-azureml-fe"
)
E40002 = "E40002 INSUFFICIENT_NODE"
E40003 = "E40003 INTERNAL_LOAD_BALANCER_NOT_SUPPORT"
E40007 = "E40007 INVALID_SSL_SETTING"
HA_NODES = 3
WHOLE_SET = "--extension-config"
WORKLOAD_TARGET = "enableTraining/enableInference"
EXAMPLE = (
    'preflight run --extension-config "enableInference=True '
    'inferenceRouterServiceType=loadBalancer allowInsecureConnections=True"'
)
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$")
_HOSTNAME = re.compile(
    r"^(?:\*\.)?(?=.{1,253}$)(?:[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?$"
)

PARAMETERS = {
    "cluster_type": "aks (managedClusters, the default) or arc (connectedClusters)",
    "cluster_name": "name of the AKS or Arc-enabled cluster resource",
    "resource_group": "resource group of the cluster",
    "extension_name": "name of the extension (az k8s-extension create --name), default azureml",
    TOLERATIONS_PARAM: TOLERATIONS_HELP,
}


def nearest_setting(key: str) -> str | None:
    """The documented setting closest to a misspelt ``key``."""
    names = {spec.key.lower(): spec.key for spec in SETTINGS}
    names["nodeselector"] = "nodeSelector.<label>"
    match = difflib.get_close_matches(key.lower(), list(names), n=1, cutoff=0.6)
    return names[match[0]] if match else None


def _meant_bool(value: str) -> str | None:
    """``yes``/``1``/``Ture`` -> "True", ``no``/``0``/``flase`` -> "False"; None if unclear."""
    lowered = value.strip().lower()
    if lowered in ("yes", "1", "on"):
        return "True"
    if lowered in ("no", "0", "off"):
        return "False"
    close = difflib.get_close_matches(lowered, ["true", "false"], n=1, cutoff=0.75)
    return close[0].capitalize() if close else None


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"


class _Rules:
    """One validation of one planned setting set; collects the findings in order."""

    def __init__(self, ctx: Context, settings: Mapping[str, str], cluster_type: str) -> None:
        self.ctx = ctx
        self.settings = settings
        self.plan = Plan(settings)
        self.cluster_type = cluster_type
        self.findings: list[Finding] = []
        self.original = {k.lower(): k for k in settings}

    # -- helpers ---------------------------------------------------------------------------

    def given(self, key: str) -> bool:
        return key.lower() in self.original

    def value(self, key: str) -> str | None:
        """The planned value (None when not given; defaults are the Plan's business)."""
        original = self.original.get(key.lower())
        return None if original is None else self.settings[original]

    def add(
        self,
        status: Status,
        target: str,
        message: str,
        remediation: str,
        docs: str | None = DOCS_SETTINGS,
        **details: Any,
    ) -> None:
        details = {k: v for k, v in details.items() if v is not None}
        given_as = self.original.get(target.lower())
        if given_as is not None:
            details.setdefault("setting", target)
            details.setdefault("given_as", given_as)
            details.setdefault("value", self.settings[given_as])
        self.findings.append(Finding(status, target, message, remediation, docs, details))

    # -- per key ---------------------------------------------------------------------------

    def keys(self) -> None:
        for key, value in self.settings.items():
            if key.lower().startswith(NODE_SELECTOR_PREFIX):
                self.node_selector_key(key, value)
                continue
            spec = spec_for(key)
            if spec is None:
                self.unknown(key, value)
                continue
            self.value_of(spec, key, value)
            inference_only = spec.scenario == "inference" and spec.key != "enableInference"
            if inference_only and not self.plan.inference:
                self.add(
                    Status.WARN,
                    spec.key,
                    f"{key}={value} has no effect: it configures inference, and "
                    "enableInference is not True",
                    f"remove {key}, or set enableInference=True if you plan inference",
                )

    def unknown(self, key: str, value: str) -> None:
        hint = nearest_setting(key)
        if key.lower() == "nodeselector":
            hint = "nodeSelector.<label>"
        did = f"did you mean {hint}? " if hint else ""
        extra: dict[str, Any] = {}
        if hint and "<" not in hint and not self.given(hint):
            # a misspelt documented key: the recommended command spells it right
            extra["recommend"] = {key: None, hint: value}
        elif hint and "<" not in hint:
            # the right spelling is given too: the misspelt duplicate only confuses
            extra["recommend"] = {key: None}
        self.findings.append(
            Finding.warned(
                key,
                f"{key} is not a documented setting of the Azure ML extension"
                + (f" (did you mean {hint}?)" if hint else "")
                + ": the extension ignores it",
                f"{did}use the documented spelling, or remove {key} (known settings: "
                + ", ".join(spec.key for spec in SETTINGS)
                + ", nodeSelector.<label>)",
                DOCS_SETTINGS,
                setting=key,
                value=value,
                nearest=hint,
                **extra,
            )
        )

    def node_selector_key(self, key: str, value: str) -> None:
        label = key[len(NODE_SELECTOR_PREFIX) :]
        if not label or not LABEL_KEY.match(label):
            self.findings.append(
                Finding.failed(
                    key,
                    f"{key}: {label!r} is not a valid Kubernetes label key",
                    "write nodeSelector.<label>=<value> with the label the nodes carry, "
                    "e.g. nodeSelector.agentpool=mlpool (kubectl get nodes --show-labels)",
                    DOCS_SETTINGS,
                    setting=key,
                    value=value,
                )
            )
        elif not LABEL_VALUE.match(value):
            self.findings.append(
                Finding.failed(
                    key,
                    f"{key}={value}: {value!r} is not a valid Kubernetes label value (at most 63 "
                    "letters, digits, '-', '_' or '.', starting and ending alphanumeric)",
                    "use the label value the nodes carry (kubectl get nodes --show-labels)",
                    DOCS_SETTINGS,
                    setting=key,
                    value=value,
                )
            )

    def value_of(self, spec: SettingSpec, key: str, value: str) -> None:
        shown = f"{key}={value}" if value else f"{key} is empty"
        if spec.kind == "bool" and value.strip().lower() not in ("true", "false"):
            meant = _meant_bool(value)
            self.add(
                Status.FAIL,
                spec.key,
                f"{shown}: must be True or False" + (f" (did you mean {meant}?)" if meant else ""),
                f"write {spec.key}=True or {spec.key}=False (default {spec.default})",
                recommend={spec.key: meant} if meant else None,
            )
        elif spec.kind == "choice":
            choices = {c.lower(): c for c in spec.choices}
            if value.strip().lower() not in choices:
                close = difflib.get_close_matches(value.lower(), list(choices), n=1, cutoff=0.75)
                did = f" (did you mean {choices[close[0]]}?)" if close else ""
                self.add(
                    Status.FAIL,
                    spec.key,
                    f"{shown}: must be one of {', '.join(spec.choices)}{did}",
                    f"set {spec.key} to one of {', '.join(spec.choices)} (case does not matter)",
                    recommend={spec.key: choices[close[0]]} if close else None,
                )
        elif spec.kind == "text":
            self.text_value(spec, key, value)
        elif spec.kind == "path":
            self.protected_path(spec, key, value)

    def text_value(self, spec: SettingSpec, key: str, value: str) -> None:
        if not value.strip():
            self.add(
                Status.FAIL,
                spec.key,
                f"{key} is empty",
                f"give {spec.key} a value ({spec.help}) or leave it out",
                DOCS_TLS,
                health_check=E40007,
            )
        elif spec.key == "sslSecret" and not _DNS_SUBDOMAIN.match(value):
            self.add(
                Status.FAIL,
                spec.key,
                f"sslSecret={value} is not a valid Kubernetes Secret name (lower-case letters, "
                "digits, '-' and '.')",
                "name the Secret in namespace azureml that holds cert.pem and key.pem "
                "(kubectl get secret -n azureml)",
                DOCS_TLS,
                health_check=E40007,
            )
        elif spec.key == "sslCname" and not _HOSTNAME.match(value):
            self.add(
                Status.WARN,
                spec.key,
                f"sslCname={value} does not look like a DNS name",
                "set sslCname to the host name clients use for the inference endpoint "
                "(e.g. ml.contoso.com), which the certificate must cover",
                DOCS_TLS,
                health_check=E40007,
            )

    def protected_path(self, spec: SettingSpec, key: str, value: str) -> None:
        self.add(
            Status.WARN,
            spec.key,
            f"{spec.key} is given with the public settings (--config), where its path is "
            "stored in plain text and the extension does not read the file: it belongs in "
            "--config-protected",
            f"pass {spec.key}=<path> with --config-protected in az k8s-extension create "
            "(the recommended command does)",
            DOCS_TLS,
        )
        path = os.path.expanduser(value)
        if not value.strip():
            problem = "is empty"
        elif not os.path.exists(path):
            problem = f"names {value}, which does not exist here"
        elif os.path.isdir(path):
            problem = f"names {value}, which is a directory"
        elif not os.access(path, os.R_OK):
            problem = f"names {value}, which is not readable"
        else:
            return
        what = "certificate" if spec.key == "sslCertPemFile" else "private key (no passphrase)"
        self.add(
            Status.FAIL,
            spec.key,
            f"{spec.key} {problem}: az k8s-extension create reads the PEM {what} from this path",
            f"point {spec.key} at the PEM-encoded {what} file on the machine that runs az, "
            "or use sslSecret with a Secret in namespace azureml",
            DOCS_TLS,
            health_check=E40007,
            path=value,
        )

    # -- across keys -----------------------------------------------------------------------

    def workload(self) -> None:
        if self.plan.training or self.plan.inference:
            return
        # a misspelt enableTraining=True is already corrected by its own finding's proposal
        fixes = {
            key: value
            for f in self.findings
            for key, value in (f.details.get("recommend") or {}).items()
            if key in ("enableTraining", "enableInference") and _is_true(value)
        }
        self.findings.append(
            Finding.failed(
                WORKLOAD_TARGET,
                "neither enableTraining nor enableInference is True: the extension would run "
                "no workload",
                "set enableTraining=True (training and batch scoring), enableInference=True "
                "(real-time inference), or both",
                DOCS_SETTINGS,
                enableTraining=self.value("enableTraining"),
                enableInference=self.value("enableInference"),
                **({"recommend": fixes} if fixes else {}),
            )
        )

    def inference(self) -> None:
        if not self.plan.inference:
            return
        if not self.given("inferenceRouterServiceType"):
            self.add(
                Status.FAIL,
                "inferenceRouterServiceType",
                "inferenceRouterServiceType is required with enableInference=True",
                "add inferenceRouterServiceType=loadBalancer (a cloud load balancer), nodePort "
                "(each node's IP at a static port) or clusterIP (in-cluster only, bring your own "
                "ingress)",
                DOCS_ROUTER,
            )
        self.tls()
        self.internal_load_balancer()

    def tls(self) -> None:
        if self.plan.flag("allowInsecureConnections"):
            return
        insecure = (
            "or, for development or test only, allowInsecureConnections=True (HTTP endpoints)"
        )
        why = (
            "HTTPS inference endpoints (allowInsecureConnections=False"
            + ("" if self.given("allowInsecureConnections") else ", the default")
            + ")"
        )
        if not self.given("sslCname"):
            self.add(
                Status.FAIL,
                "sslCname",
                f"sslCname is required for {why}: the install's health check reports {E40007}",
                f"add sslCname=<host name of the inference endpoint>, {insecure}",
                DOCS_TLS,
                health_check=E40007,
            )
        secret = self.given("sslSecret")
        cert, key = self.given("sslCertPemFile"), self.given("sslKeyPemFile")
        if secret and (cert or key):
            self.add(
                Status.WARN,
                "sslSecret",
                "both sslSecret and sslCertPemFile/sslKeyPemFile are given: the extension takes "
                "its certificate from one of them",
                "give either sslSecret or the two PEM files in --config-protected, not both",
                DOCS_TLS,
                health_check=E40007,
            )
        elif not secret and not cert and not key:
            self.add(
                Status.FAIL,
                "sslSecret",
                f"{why} need a certificate: sslSecret, or sslCertPemFile and sslKeyPemFile in "
                f"--config-protected; none is given (health check {E40007})",
                "add sslSecret=<Secret in namespace azureml holding cert.pem and key.pem>, or "
                "--config-protected sslCertPemFile=<cert.pem> sslKeyPemFile=<key.pem>, " + insecure,
                DOCS_TLS,
                health_check=E40007,
            )
        elif not secret and cert != key:
            missing, present = (
                ("sslKeyPemFile", "sslCertPemFile") if cert else ("sslCertPemFile", "sslKeyPemFile")
            )
            self.add(
                Status.FAIL,
                missing,
                f"{present} is given without {missing}: {why} need both PEM files (health "
                f"check {E40007})",
                f"add {missing}=<path> to --config-protected, or use sslSecret instead",
                DOCS_TLS,
                health_check=E40007,
            )

    def internal_load_balancer(self) -> None:
        if not self.given("internalLoadBalancerProvider"):
            return
        if self.cluster_type == "arc":
            self.add(
                Status.FAIL,
                "internalLoadBalancerProvider",
                "internalLoadBalancerProvider applies only to AKS clusters, and this is an Arc "
                f"cluster (cluster_type=arc): the install's health check reports {E40003}",
                "remove internalLoadBalancerProvider, and expose the router with "
                "inferenceRouterServiceType=loadBalancer through your own load balancer "
                "(e.g. MetalLB) or nodePort",
                DOCS_ROUTER,
                health_check=E40003,
                cluster_type=self.cluster_type,
                recommend={"internalLoadBalancerProvider": None},
            )
            return
        service_type = (self.value("inferenceRouterServiceType") or "").strip().lower()
        if service_type and service_type != "loadbalancer":
            self.add(
                Status.WARN,
                "internalLoadBalancerProvider",
                "internalLoadBalancerProvider has effect only with "
                f"inferenceRouterServiceType=loadBalancer, not {service_type}",
                "set inferenceRouterServiceType=loadBalancer to get an internal load balancer, "
                "or remove internalLoadBalancerProvider",
                DOCS_ROUTER,
            )

    # -- against the cluster -----------------------------------------------------------------

    def cluster(self) -> None:
        """The rules that need the nodes: HA vs eligible nodes, nodeSelector vs labels."""
        ha = self.plan.inference and self.plan.flag("inferenceRouterHA")
        selector = self.plan.node_selector
        if not ha and not selector:
            return
        rules = ", ".join(
            r
            for r, on in (
                ("inferenceRouterHA against the eligible node count", ha),
                ("nodeSelector against the nodes' labels", bool(selector)),
            )
            if on
        )
        missing = self.ctx.missing_need("kube")
        if missing is not None:
            reason, how = missing
            self.findings.append(
                Finding.skipped(
                    None, f"not compared with the cluster ({rules}): {reason}", how, missing="kube"
                )
            )
            return
        try:
            nodes = survey(self.ctx)
        except Exception as exc:
            failure = kube_error(exc)
            if failure is None:
                raise  # a bug: the runner reports it
            kind, message, remedy = failure
            self.findings.append(
                Finding.skipped(
                    None,
                    f"not compared with the cluster ({rules}): cannot list nodes: {message}",
                    remedy,
                    kind=kind,
                )
            )
            return
        for label, count in nodes.selector_matches.items():
            if count == 0:
                key = next(
                    (k for k in self.settings if k.lower() == f"nodeselector.{label.lower()}"),
                    f"nodeSelector.{label}",
                )
                self.findings.append(
                    Finding.failed(
                        key,
                        f"{key}={selector[label]}: no node carries the label {label}="
                        f"{selector[label]}, so the extension's pods would stay Pending",
                        f"label the nodes the extension should use (kubectl label node NODE "
                        f"{label}={selector[label]}) or fix {key}",
                        DOCS_SETTINGS,
                        setting=key,
                        value=selector[label],
                        nodes_total=len(nodes.nodes),
                    )
                )
        if selector and nodes.selector_all == 0 and all(nodes.selector_matches.values()):
            self.findings.append(
                Finding.failed(
                    "nodeSelector",
                    "no node carries all nodeSelector labels together ("
                    + ", ".join(f"{k}={v}" for k, v in selector.items())
                    + "), so the extension's pods would stay Pending",
                    "label the nodes the extension should use with every nodeSelector label, or "
                    "drop the nodeSelector.* settings that do not apply",
                    DOCS_SETTINGS,
                    node_selector=selector,
                )
            )
        if ha and len(nodes.eligible) < HA_NODES:
            count = len(nodes.eligible)
            default = "" if self.given("inferenceRouterHA") else " (the default)"
            self.add(
                Status.FAIL,
                "inferenceRouterHA",
                f"needs 3 eligible nodes for inferenceRouterHA=True{default}, found {count}: "
                f"the install's health check reports {E40002} and two of the three azureml-fe "
                "replicas stay Pending (anti-affinity)",
                "set inferenceRouterHA=False (one router replica) or add "
                f"{HA_NODES - count} eligible node(s) (see nodes.capacity for excluded nodes)",
                DOCS_SETTINGS,
                health_check=E40002,
                nodes_eligible=count,
                nodes_needed=HA_NODES,
                recommend={"inferenceRouterHA": "False"},
            )

    # -- the whole set -----------------------------------------------------------------------

    def summary(self) -> None:
        if any(f.status in (Status.WARN, Status.FAIL, Status.ERROR) for f in self.findings):
            return
        workload = " and ".join(
            w
            for w, on in (("training", self.plan.training), ("inference", self.plan.inference))
            if on
        )
        parts = [f"{len(self.settings)} planned setting(s) are valid: {workload}"]
        if self.plan.inference:
            router = self.value("inferenceRouterServiceType") or ""
            ha = "3 replicas" if self.plan.flag("inferenceRouterHA") else "1 replica"
            tls = (
                "HTTP (allowInsecureConnections=True)"
                if self.plan.flag("allowInsecureConnections")
                else "HTTPS via " + ("sslSecret" if self.given("sslSecret") else "PEM files")
            )
            parts.append(f"router {router} with {ha}, {tls}")
        parts.append(f"cluster type {self.cluster_type}")
        self.findings.append(
            Finding.passed(
                WHOLE_SET,
                "; ".join(parts),
                settings=dict(self.settings.items()),
                cluster_type=self.cluster_type,
            )
        )


class ExtensionConfig(Check):
    id = "extension.config"
    title = "Planned extension settings are valid and fit the cluster"
    category = "extension"
    needs = ()  # offline validation works without a cluster; cluster rules check kube themselves
    docs = DOCS_SETTINGS
    parameters = PARAMETERS

    def run(self, ctx: Context) -> list[Finding]:
        cluster_type, warning = cluster_type_of(ctx)
        settings = ctx.extension_settings
        if not settings:
            return [
                Finding.skipped(
                    None,
                    "no planned extension settings to validate",
                    "pass the settings you will give az k8s-extension create --config, e.g. "
                    + EXAMPLE,
                )
            ]
        rules = _Rules(ctx, settings, cluster_type)
        if warning is not None:
            rules.findings.append(warning)
        rules.keys()
        rules.workload()
        rules.inference()
        rules.cluster()
        rules.summary()
        return rules.findings


CHECKS = [ExtensionConfig()]
