"""``extension.config``: are the extension settings valid as the extension reads them, and do
they fit the cluster?

The settings are the plan (``--extension-config``), or, with ``--set phase=after`` and no plan,
the installed extension's ``configurationSettings`` from Azure Resource Manager
(``settings_source``); every finding says which in ``details["settings_source"]`` and
``details["inputs"]``.

The rules come from the extension's settings table and deployment notes
(https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension) and from
the validations only the Azure CLI performs, which ARM templates, Bicep and Terraform skip
(azure-cli-extensions ``src/k8s-extension/azext_k8s_extension/partner_extensions/
AzureMLKubernetes.py``): at least one of enableTraining / enableInference;
inferenceRouterServiceType required with inference and one of loadBalancer/nodePort/clusterIP;
HTTPS (allowInsecureConnections=False, the default) needs sslCname and either sslSecret or both
protected PEM files, and a certificate needs sslCname even with allowInsecureConnections=True;
sslCname a bare host name; internalLoadBalancerProvider only on AKS and never with nodePort;
inferenceRouterHA=True (the default) needs 3 eligible nodes. Keys match exactly, as the CLI
(``key in config``) and the extension's Helm values do: a key in another case is ignored
(MicrosoftDocs/azure-ai-docs pull request 458), see ``config_spelling``. Booleans are
true/false in any case (the CLI compares ``str(value).lower() == 'true'``); choices in any case
(the CLI lower()s them; the docs write both LoadBalancer and loadBalancer). Where a rule matches
one of the extension's install-time health-check codes, the finding names it.

The settings are validated offline; the rules that need the cluster (node count, nodeSelector)
run only when a cluster is reachable, so ``kube`` is not a declared need.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from preflight.api import Check, Context, Finding, Status, run_in_daemon_thread
from preflight.checks._shared.nodes import (
    LABEL_KEY,
    LABEL_VALUE,
    NODES_PATH,
    TOLERATIONS_HELP,
    TOLERATIONS_PARAM,
    NodeSurvey,
    build_survey,
    kube_error,
    survey,
)
from preflight.checks._shared.plan import (
    DOCS_SETTINGS,
    NODE_SELECTOR,
    SETTINGS,
    Plan,
    SettingSpec,
    cluster_type_of,
    spec_for,
)
from preflight.checks.extension import config_spelling
from preflight.checks.extension.config_spelling import meant_bool
from preflight.checks.extension.settings_keys import (
    AML_K8S_ISSUE_271,
    CLI_SOURCE,
    RENAMED_BY_KEY,
    known_key,
    spelling,
)
from preflight.checks.extension.settings_source import PARAMETERS as SOURCE_PARAMETERS
from preflight.checks.extension.settings_source import SettingsInput, settings_input

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
INSTALLED_SET = "configurationSettings"
WORKLOAD_TARGET = "enableTraining/enableInference"
EXAMPLE = (
    'preflight run --extension-config "enableInference=True '
    'inferenceRouterServiceType=loadBalancer allowInsecureConnections=True"'
)
#: where the installed settings cannot tell: the CLI also reads these from the protected
#: settings (``_get_value_from_config_protected_config``), which ARM never returns
PROTECTED_NOTE = (
    " (unless it was passed as a protected setting, which Azure Resource Manager never returns)"
)
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$")
_HOSTNAME = re.compile(
    r"^(?:\*\.)?(?=.{1,253}$)(?:[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?$"
)

PARAMETERS = {
    **SOURCE_PARAMETERS,
    "extension_name": "name of the extension (az k8s-extension create --name), default azureml",
    TOLERATIONS_PARAM: TOLERATIONS_HELP,
}


def nearest_setting(key: str) -> str | None:
    """The documented setting closest to a misspelt ``key``."""
    names = {spec.key.lower(): spec.key for spec in SETTINGS}
    names["nodeselector"] = "nodeSelector.<label>"
    match = difflib.get_close_matches(key.lower(), list(names), n=1, cutoff=0.6)
    return names[match[0]] if match else None


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"


def bare_host(value: str) -> str | None:
    """``https://ml.contoso.com:443/x`` -> ``ml.contoso.com``: the host in a URL-like sslCname
    (None when the value has no scheme, port or path, or no host can be read)."""
    text = value.strip()
    if not re.search(r"://|[:/]", text):
        return None
    try:
        host = urlsplit(text if "://" in text else "//" + text).hostname
    except ValueError:
        return None
    return host if host and _HOSTNAME.match(host) else None


class _Rules:
    """One validation of one setting set; collects the findings in order."""

    def __init__(self, ctx: Context, source: SettingsInput, cluster_type: str) -> None:
        self.ctx = ctx
        self.source = source
        self.installed = source.installed
        self.settings: dict[str, str] = dict(source.settings)  # every key as written
        self.plan = Plan(self.settings)  # what the extension reads: exact keys only
        self.cluster_type = cluster_type
        self.findings: list[Finding] = []

    # -- helpers ---------------------------------------------------------------------------

    def given(self, key: str) -> bool:
        """Given under the spelling the extension reads."""
        return self.plan.explicit(key)

    def value(self, key: str) -> str | None:
        """The value the extension reads (None when not given; defaults are the Plan's)."""
        return self.plan.value(key) if self.plan.explicit(key) else None

    def add(
        self,
        status: Status,
        target: str,
        message: str,
        remediation: str,
        docs: str | None = DOCS_SETTINGS,
        absent: bool = False,
        **details: Any,
    ) -> None:
        """One finding about ``target``. ``absent``: the rule fires because a setting is not
        there, which the installed settings cannot prove (it may be protected): a warning."""
        details = {k: v for k, v in details.items() if v is not None}
        if absent and self.installed and status == Status.FAIL:
            status = Status.WARN
            message += PROTECTED_NOTE
        if self.given(target):
            details.setdefault("setting", target)
            details.setdefault("value", self.settings[target])
        self.findings.append(Finding(status, target, message, remediation, docs, details))

    # -- per key ---------------------------------------------------------------------------

    def keys(self) -> None:
        for key, value in self.settings.items():
            right = spelling(key)
            if right is not None and right != key:
                self.findings.append(config_spelling.wrong_case(key, right, value, self.settings))
                continue
            rule = RENAMED_BY_KEY.get(key.lower())
            if rule is not None:
                self.findings.append(config_spelling.renamed(key, value, rule, self.settings))
                continue
            if key.startswith(NODE_SELECTOR):
                self.node_selector_key(key, value)
                continue
            spec = spec_for(key)
            if spec is None:
                known = known_key(key)
                if known is None:
                    self.unknown(key, value)
                elif known.protected:
                    self.findings.append(
                        config_spelling.secret_in_public(key, known, self.installed)
                    )
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
        self.findings += config_spelling.cluster_only(self.settings, self.cluster_type)

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
        label = key[len(NODE_SELECTOR) :]
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
            # the CLI enables only on str(value).lower() == 'true': 'yes' or '1' enable nothing
            meant = meant_bool(value)
            self.add(
                Status.FAIL,
                spec.key,
                f"{shown}: must be True or False" + (f" (did you mean {meant}?)" if meant else ""),
                f"write {spec.key}=True or {spec.key}=False (default {spec.default})",
                recommend={spec.key: meant} if meant else None,
                source=CLI_SOURCE,
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
        elif spec.key == "sslCname" and bare_host(value) is not None:
            host = bare_host(value)
            self.add(
                Status.FAIL,
                spec.key,
                f"sslCname={value} is not a bare host name: the extension matches it against "
                "the certificate's names, so a scheme, port or path never matches (the "
                f"install's health check reports {E40007}: 'The CNAME should be compatible "
                "with the certificate')",
                f"set sslCname={host}: the host name clients use, without https://, port or path",
                DOCS_TLS,
                health_check=E40007,
                recommend={"sslCname": host},
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
        if self.installed:
            return  # a path on the machine that ran az, not this one
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
        neither = not self.given("enableTraining") and not self.given("enableInference")
        self.add(
            Status.FAIL,
            WORKLOAD_TARGET,
            "neither enableTraining nor enableInference is True: the extension would run "
            "no workload",
            "set enableTraining=True (training and batch scoring), enableInference=True "
            "(real-time inference), or both",
            DOCS_SETTINGS,
            absent=neither,
            enableTraining=self.value("enableTraining"),
            enableInference=self.value("enableInference"),
            cli_error="To create Microsoft.AzureML.Kubernetes extension, either enable Machine "
            "Learning training or inference by specifying '--configuration-settings "
            "enableTraining=true' or '--configuration-settings enableInference=true'.",
            source=CLI_SOURCE,
            **({"recommend": fixes} if fixes else {}),
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
                absent=True,
            )
        self.tls()
        self.internal_load_balancer()

    def certificate(self) -> tuple[bool, bool, bool]:
        """(sslSecret given, cert file given, key file given) as the CLI sees them. Installed:
        the CLI copies sslSecret to scoringFe.sslSecret; the PEM files became protected
        settings, never returned."""
        secret = self.given("sslSecret") or "scoringFe.sslSecret" in self.settings
        return secret, self.given("sslCertPemFile"), self.given("sslKeyPemFile")

    def tls(self) -> None:
        secret, cert, key = self.certificate()
        if self.plan.flag("allowInsecureConnections"):
            # the CLI: sslEnabled = (cert and key) or sslSecret; sslCname required when enabled
            if (secret or (cert and key)) and not self.given("sslCname"):
                self.add(
                    Status.FAIL,
                    "sslCname",
                    "a certificate is given (" + ("sslSecret" if secret else "PEM files") + "), "
                    "so az k8s-extension create enables HTTPS even with "
                    "allowInsecureConnections=True, and then requires sslCname",
                    "add sslCname=<host name of the inference endpoint>, or drop the "
                    "certificate settings for HTTP only",
                    DOCS_TLS,
                    absent=True,
                    health_check=E40007,
                    cli_error="To enable HTTPs endpoint, please specify sslCname parameter in "
                    "--configuration-settings.",
                    source=CLI_SOURCE,
                )
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
                absent=True,
                health_check=E40007,
            )
        if self.installed and not secret:
            self.findings.append(
                Finding.skipped(
                    "sslCertPemFile/sslKeyPemFile",
                    f"{why}: the certificate is not in the installed configurationSettings (no "
                    "sslSecret), so it was passed as the protected sslCertPemFile/sslKeyPemFile, "
                    "which Azure Resource Manager never returns: not verified here",
                    f"extension.healthcheck reports {E40007} when the certificate does not "
                    "work; extension.tls checks the certificate the router serves",
                )
            )
            return
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
                cli_error="To enable HTTPs endpoint, either provide sslCertPemFile and "
                "sslKeyPemFile to --configuration-protected-settings, or provide sslSecret "
                "(kubernetes secret name) in --configuration-settings containing both ssl cert "
                "and ssl key under azureml namespace. Otherwise, to enable HTTP endpoint, "
                "explicitly set allowInsecureConnections=true.",
                source=CLI_SOURCE,
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
        if service_type == "nodeport":
            # the CLI raises MutuallyExclusiveArgumentError; ARM templates pass both on
            self.add(
                Status.FAIL,
                "internalLoadBalancerProvider",
                "az k8s-extension create rejects internalLoadBalancerProvider together with "
                "inferenceRouterServiceType=nodePort ('When using nodePort as "
                "inferenceRouterServiceType, no need to specify internalLoadBalancerProvider.'); "
                "an internal load balancer has effect only with loadBalancer, not nodeport",
                "remove internalLoadBalancerProvider, or set inferenceRouterServiceType="
                "loadBalancer for an internal load balancer",
                DOCS_ROUTER,
                source=CLI_SOURCE,
                recommend={"internalLoadBalancerProvider": None},
            )
        elif service_type and service_type != "loadbalancer":
            self.add(
                Status.WARN,
                "internalLoadBalancerProvider",
                "internalLoadBalancerProvider has effect only with "
                f"inferenceRouterServiceType=loadBalancer, not {service_type}",
                "set inferenceRouterServiceType=loadBalancer to get an internal load balancer, "
                "or remove internalLoadBalancerProvider",
                DOCS_ROUTER,
            )

    def relay(self) -> None:
        """Installed on Arc without an Azure Relay named: the CLI creates one (and writes
        relayserver.hybridConnectionResourceID); a template install must bring its own."""
        if not self.installed or self.cluster_type != "arc":
            return
        enabled = (self.settings.get("relayserver.enabled") or "").strip().lower()
        if enabled == "false" or "relayserver.hybridConnectionResourceID" in self.settings:
            return
        self.findings.append(
            Finding.warned(
                "relayserver.hybridConnectionResourceID",
                "the installed settings name no Azure Relay (relayserver.hybridConnectionResource"
                "ID): on an Arc-enabled cluster az k8s-extension create creates a Relay namespace "
                "and hybrid connection in the cluster's resource group and writes it here, but an "
                "install from an ARM template, Bicep or Terraform does not",
                "reinstall with az k8s-extension create, or create the Relay and pass "
                "relayserver.hybridConnectionResourceID, relayserver.hybridConnectionName and "
                "the protected relayServerConnectionString",
                DOCS_SETTINGS,
                source=CLI_SOURCE,
                cluster_type=self.cluster_type,
            )
        )

    # -- against the cluster -----------------------------------------------------------------

    def _survey(self) -> NodeSurvey:
        """The nodes judged against these settings' nodeSelector (the run's shared survey is
        built from --extension-config; installed settings bring their own)."""
        if not self.installed:
            return survey(self.ctx)
        return build_survey(
            self.ctx.kube.list(NODES_PATH),
            self.plan.node_selector,
            self.ctx.param(TOLERATIONS_PARAM),
        )

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
            nodes = self._survey()
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
                key = f"{NODE_SELECTOR}{label}"
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
            self.ha(len(nodes.eligible), len(nodes.nodes))

    def ha(self, count: int, total: int) -> None:
        explicit = self.given("inferenceRouterHA")
        default = "" if explicit else " (the default)"
        cli = ""
        if not explicit and total < HA_NODES:
            cli = (
                f"; az k8s-extension create would itself set inferenceRouterHA=false on a "
                f"cluster of fewer than {HA_NODES} nodes in all, but an install from an ARM "
                "template, Bicep or Terraform does not"
            )
        elif not explicit:
            cli = (
                f"; az k8s-extension create counts all {total} nodes (not the nodeSelector, "
                "taints or readiness) and leaves HA on (Azure/AML-Kubernetes issue 271)"
            )
        self.add(
            Status.FAIL,
            "inferenceRouterHA",
            f"needs 3 eligible nodes for inferenceRouterHA=True{default}, found {count}: "
            f"the install's health check reports {E40002} and two of the three azureml-fe "
            f"replicas stay Pending (anti-affinity){cli}",
            "set inferenceRouterHA=False (one router replica) or add "
            f"{HA_NODES - count} eligible node(s) (see nodes.capacity for excluded nodes)",
            DOCS_SETTINGS,
            absent=not explicit,
            health_check=E40002,
            nodes_eligible=count,
            nodes_total=total,
            nodes_needed=HA_NODES,
            recommend={"inferenceRouterHA": "False"},
            source=AML_K8S_ISSUE_271 if cli and total >= HA_NODES else None,
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
        if self.installed:
            what = (
                f"{len(self.settings)} installed setting(s) of extension "
                f"{self.source.extension!r} are valid"
            )
        else:
            what = f"{len(self.settings)} planned setting(s) are valid"
        parts = [f"{what}: {workload}"]
        if self.plan.inference:
            router = self.value("inferenceRouterServiceType") or ""
            ha = "3 replicas" if self.plan.flag("inferenceRouterHA") else "1 replica"
            secret = self.certificate()[0]
            tls = (
                "HTTP (allowInsecureConnections=True)"
                if self.plan.flag("allowInsecureConnections")
                else "HTTPS via "
                + (
                    "sslSecret"
                    if secret
                    else "protected settings"
                    if self.installed
                    else "PEM files"
                )
            )
            parts.append(f"router {router} with {ha}, {tls}")
        parts.append(f"cluster type {self.cluster_type}")
        self.findings.append(
            Finding.passed(
                INSTALLED_SET if self.installed else WHOLE_SET,
                "; ".join(parts),
                settings=_shown(self.settings),
                cluster_type=self.cluster_type,
            )
        )


def _shown(settings: Mapping[str, str]) -> dict[str, str]:
    """The settings for a finding's details, secrets (protected-only keys) masked."""
    shown = {}
    for key, value in settings.items():
        known = known_key(key)
        shown[key] = "(not shown: a secret)" if known is not None and known.protected else value
    return shown


def validate(
    ctx: Context, source: SettingsInput, cluster_type: str, warning: Finding | None
) -> list[Finding]:
    """Every rule over one setting set, in order."""
    rules = _Rules(ctx, source, cluster_type)
    if warning is not None:
        rules.findings.append(warning)
    rules.keys()
    rules.workload()
    rules.inference()
    rules.relay()
    rules.cluster()
    rules.summary()
    return rules.findings


class ExtensionConfig(Check):
    id = "extension.config"
    title = "Extension settings are valid as the extension reads them and fit the cluster"
    category = "extension"
    needs = ()  # offline validation works without a cluster; cluster rules check kube themselves
    docs = DOCS_SETTINGS
    parameters = PARAMETERS

    async def run(self, ctx: Context) -> list[Finding]:
        source = await settings_input(ctx)
        cluster_type, warning = cluster_type_of(ctx)
        if not source.settings:
            return source.stamp([_nothing(ctx, source)])
        findings = await run_in_daemon_thread(validate, ctx, source, cluster_type, warning)
        return source.stamp(findings)


def _nothing(ctx: Context, source: SettingsInput) -> Finding:
    how = "pass the settings you will give az k8s-extension create --config, e.g. " + EXAMPLE
    if ctx.options.phase != "after":
        return Finding.skipped(None, "no planned extension settings to validate", how)
    return Finding.skipped(
        None,
        f"no extension settings to validate: {source.why_not}",
        (source.how + "; or " if source.how else "")
        + "pass the settings the extension was installed with as --extension-config",
    )


CHECKS = [ExtensionConfig()]
