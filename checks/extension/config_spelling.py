"""The ``extension.config`` rules about how a key is written and where it belongs: a key in the
wrong case (ignored by the extension), an old or misprinted key, a secret in the public
settings, a setting for the other kind of cluster. Each returns findings; ``config.py`` runs
them.

Sources: the Azure CLI's Azure ML module reads every key with ``key in config``
(``settings_keys.CLI_SOURCE``), and the extension's Helm values are case-sensitive, so
``InferenceRouterHA=False`` leaves the router at three replicas (MicrosoftDocs/azure-ai-docs
pull request 458, ``settings_keys.PR_458``); what the CLI writes for AKS and for Arc comes from
the same module.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from preflight.api import Finding, Status
from preflight.checks._shared.plan import DOCS_SETTINGS, NODE_SELECTOR, spec_for
from preflight.checks.extension.settings_keys import (
    CLI_SOURCE,
    CLUSTER_ONLY,
    PR_458,
    KnownKey,
    Renamed,
)

CLUSTER_WORDS = {
    "aks": "AKS (managedClusters)",
    "arc": "an Arc-enabled cluster (connectedClusters)",
}


def meant_bool(value: str) -> str | None:
    """``yes``/``1``/``Ture`` -> "True", ``no``/``0``/``flase`` -> "False"; None if unclear."""
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered.capitalize()
    if lowered in ("yes", "1", "on", "y", "enabled", "enable"):
        return "True"
    if lowered in ("no", "0", "off", "n", "disabled", "disable"):
        return "False"
    close = difflib.get_close_matches(lowered, ["true", "false"], n=1, cutoff=0.75)
    return close[0].capitalize() if close else None


def fixed_value(key: str, value: str) -> str:
    """The value as the extension takes it, where the right one is clear (a boolean written
    ``yes``, a choice in another case), else as given."""
    spec = spec_for(key)
    if spec is None:
        return value
    if spec.kind == "bool":
        return meant_bool(value) or value
    if spec.kind == "choice":
        return next((c for c in spec.choices if c.lower() == value.strip().lower()), value)
    return value


def _same(key: str, a: str | None, b: str | None) -> bool:
    spec = spec_for(key)
    if a is None or b is None:
        return a is b
    if spec is not None and spec.kind in ("bool", "choice"):
        return a.strip().lower() == b.strip().lower()
    return a == b


def wrong_case(key: str, right: str, value: str, settings: Mapping[str, str]) -> Finding:
    """``InferenceRouterHA=False``: the extension reads ``inferenceRouterHA`` only."""
    spec = spec_for(right)
    fixed = fixed_value(right, value)
    both = right in settings
    if both:
        status = Status.WARN
        effect = f"{right}={settings[right]} is given too and is what the extension reads"
        remedy = f"remove {key}={value}"
        recommend = None  # the recommended command writes each setting once, spelled right
    else:
        if right.startswith(NODE_SELECTOR):
            effect = "the extension's pods are not pinned to the nodes with that label"
            status = Status.FAIL
        elif spec is not None and spec.default is not None:
            effect = f"{right} stays {spec.default} (the default)"
            status = Status.WARN if _same(right, fixed, spec.default) else Status.FAIL
        elif spec is not None:
            effect = f"{right} stays unset"
            status = Status.FAIL
        else:
            effect = f"{right} is not set"
            status = Status.WARN
        remedy = f"write {right}={fixed} (keys are case-sensitive)"
        recommend = {right: fixed}
    message = (
        f"{key}={value} is ignored: the extension reads its settings case-sensitively and "
        f"knows this one as {right}, so {effect}"
    )
    source = CLI_SOURCE
    if right == "inferenceRouterHA" and not both:
        message += (
            "; with HA on, the router runs 3 replicas on 3 separate nodes, and on a smaller "
            "cluster two of them stay Pending (the Azure ML how-to printed this wrong "
            "spelling: MicrosoftDocs/azure-ai-docs pull request 458)"
        )
        source = PR_458
    details: dict[str, object] = {
        "setting": right,
        "given_as": key,
        "value": value,
        "source": source,
    }
    if recommend is not None:
        details["recommend"] = recommend
    return Finding(status, key, message, remedy, DOCS_SETTINGS, details)


def renamed(key: str, value: str, rule: Renamed, settings: Mapping[str, str]) -> Finding:
    """An old or misprinted key (``inferenceLoadBalancerHA``, ``sslCertKeyFile``)."""
    spec = spec_for(rule.now)
    given_too = rule.now in settings
    fixed = fixed_value(rule.now, value)
    recommend: dict[str, str | None] = {key: None}
    if not given_too:
        recommend[rule.now] = fixed
    misprint = rule.now == "sslKeyPemFile"
    status = Status.FAIL if misprint and not given_too else Status.WARN
    protected = " in --config-protected" if spec is not None and spec.protected else ""
    return Finding(
        status,
        key,
        f"{key} is not read by the extension or the CLI: {rule.why}"
        + (f"; {rule.now} is given too" if given_too else ""),
        f"remove {key}" if given_too else f"write {rule.now}={fixed}{protected} instead of {key}",
        DOCS_SETTINGS,
        {"setting": rule.now, "given_as": key, "source": rule.source, "recommend": recommend},
    )


def secret_in_public(key: str, known: KnownKey, installed: bool) -> Finding:
    """A connection string or key the CLI passes only as a protected setting. Its value is
    never repeated here."""
    where = (
        "is in the extension's public configurationSettings"
        if installed
        else "is planned with the public settings (--config)"
    )
    details: dict[str, object] = {
        "setting": key,
        "value": "(not shown: a secret)",
        "source": known.source,
    }
    return Finding(
        Status.WARN,
        key,
        f"{key} {where}: it holds a secret, which Azure Resource Manager then stores and "
        "shows in plain text (az k8s-extension show); az k8s-extension create passes it only "
        "as a protected setting",
        f"pass {key} with --config-protected (configurationProtectedSettings), rotate the "
        "secret if it was exposed"
        + (", and update the extension without it in the public settings" if installed else ""),
        DOCS_SETTINGS,
        details,
    )


def cluster_only(settings: Mapping[str, str], cluster_type: str) -> list[Finding]:
    """Settings that ``az k8s-extension create`` writes for the other kind of cluster."""
    findings: list[Finding] = []
    for rule in CLUSTER_ONLY:
        if rule.key not in settings or cluster_type == rule.belongs:
            continue
        value = settings[rule.key]
        if rule.value is not None and value.strip().lower() != rule.value:
            continue
        findings.append(
            Finding.warned(
                rule.key,
                f"{rule.key}={value} on {CLUSTER_WORDS.get(cluster_type, cluster_type)}: "
                f"it belongs on {CLUSTER_WORDS[rule.belongs]}: {rule.why}",
                f"remove {rule.key} (az k8s-extension create writes what the cluster type "
                f"needs), or, if this is {CLUSTER_WORDS[rule.belongs]}, pass --set "
                f"cluster_type={rule.belongs}",
                DOCS_SETTINGS,
                setting=rule.key,
                value=value,
                cluster_type=cluster_type,
                source=CLI_SOURCE,
                recommend={rule.key: None},
            )
        )
    return findings
