"""Which configuration ``extension.components`` judges the namespace against, and under which
extension name: the installed settings from Azure Resource Manager when they can be read, else
the planned ``--extension-config``, else what runs in the namespace. Kept apart because each
answer has its own fallbacks, and every finding says which one was used.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.api import Context
from preflight.checks._shared.kube_reads import HELM_RELEASE_NAME, meta
from preflight.checks._shared.plan import DEFAULT_EXTENSION_NAME, Plan, cluster_type_of
from preflight.checks._shared.pods import as_dict, as_str, name_of
from preflight.checks.extension.components_namespace import Namespace
from preflight.checks.extension.components_table import (
    COMPONENTS,
    DEPLOYMENT,
    INFERENCE_MARKERS,
    INSTALL_SETTINGS,
    KINDS,
    NAMED_TEMPLATES,
    TRAINING_MARKERS,
    Configuration,
)
from preflight.checks.extension.resource import InstalledExtension


@dataclass
class Installation:
    """The configuration judged, the extension's name and where each came from."""

    config: Configuration
    extension: str
    extension_source: str  # param | arm | helm | names | default
    cluster_type_source: str  # param | arm | inferred | default
    notes: list[str] = field(default_factory=list)
    arm: InstalledExtension | None = None

    @property
    def source(self) -> str:
        return self.config.source


def installation(
    ctx: Context, namespace: Namespace, installed: InstalledExtension | None
) -> Installation:
    """The installed settings (ARM), else the planned ones, else what runs in the namespace."""
    notes: list[str] = []
    cluster_type, cluster_source = _cluster_type(ctx, namespace)
    settings: Mapping[str, str] | None = None
    if installed is not None:
        if _names_scenario(installed.settings):
            settings, source = installed.settings, "arm"
        else:
            notes.append(
                f"the installed settings of extension {installed.name!r} name neither "
                "enableTraining nor enableInference (passed as protected settings?)"
            )
    if settings is None and ctx.extension_settings:
        settings, source = dict(ctx.extension_settings), "extension-config"
    if settings is not None:
        config = Configuration(Plan(settings), source, cluster_type)
    else:
        config = _inferred(namespace, cluster_type, notes)
    name, name_source = _extension_name(ctx, namespace, installed)
    return Installation(config, name, name_source, cluster_source, notes, installed)


def cluster_args(ctx: Context, config: Configuration) -> str:
    """The ``az k8s-extension`` arguments that name the cluster (placeholders where unknown)."""
    kind = "connectedClusters" if config.cluster_type == "arc" else "managedClusters"
    name = ctx.param("cluster_name") or "<cluster>"
    group = ctx.param("resource_group") or "<resource-group>"
    return f"--cluster-type {kind} --cluster-name {name} --resource-group {group}"


def _names_scenario(settings: Mapping[str, str]) -> bool:
    keys = {k.lower() for k in settings}
    return "enabletraining" in keys or "enableinference" in keys


def _inferred(namespace: Namespace, cluster_type: str, notes: list[str]) -> Configuration:
    """Training where aml-operator runs, inference where the router or inference operator does;
    each install* setting True when one of its components is present."""
    training = [n for n in TRAINING_MARKERS if namespace.has(n)]
    inference = [n for n in INFERENCE_MARKERS if namespace.has(n)]
    settings = {
        "enableTraining": "True" if training else "False",
        "enableInference": "True" if inference else "False",
    }
    for marker, key in ((training, "enableTraining"), (inference, "enableInference")):
        notes.append(
            f"{key}={settings[key]}: "
            + (f"{', '.join(marker)} present" if marker else "none of its components present")
        )
    if any(not r.ok for r in namespace.workloads.values()):
        notes.append("not every kind of workload could be read")
    inferred = []
    for setting in INSTALL_SETTINGS:
        names = [c.template for c in COMPONENTS if c.setting == setting]
        present = any(_present_by_template(namespace, t) for t in names)
        inferred.append((setting, present))
    return Configuration(Plan(settings), "inferred", cluster_type, tuple(inferred))


def _present_by_template(namespace: Namespace, template: str) -> bool:
    if "{ext}" not in template:
        return namespace.has(template)
    suffix = template.replace("{ext}", "")
    return any(name_of(o).endswith(suffix) for kind in KINDS for o in namespace.items(kind))


def _cluster_type(ctx: Context, namespace: Namespace) -> tuple[str, str]:
    """``--set cluster_type``; else Arc when relayserver runs (it exists only there)."""
    kind, _problem = cluster_type_of(ctx)
    if ctx.param("cluster_type"):
        return kind, "param"
    if namespace.find(DEPLOYMENT, "relayserver") is not None:
        return "arc", "inferred"
    return kind, "default"


def _extension_name(
    ctx: Context, namespace: Namespace, installed: InstalledExtension | None
) -> tuple[str, str]:
    """``--set extension_name``, ARM's, Helm's release name on the workloads, a name the
    table's ``{ext}-...`` components carry, else ``azureml``."""
    given = ctx.param("extension_name")
    if given:
        return given, "param"
    if installed is not None and installed.name and installed.name != "?":
        return installed.name, "arm"
    workloads = [o for kind in KINDS for o in namespace.items(kind)]
    releases = collections.Counter(
        as_str(as_dict(meta(o).get("annotations")).get(HELM_RELEASE_NAME)) for o in workloads
    )
    releases.pop("", None)
    if releases:
        return releases.most_common(1)[0][0], "helm"
    for template in NAMED_TEMPLATES:
        suffix = template.replace("{ext}", "")
        for obj in workloads:
            name = name_of(obj)
            if name.endswith(suffix) and len(name) > len(suffix):
                return name[: -len(suffix)], "names"
    return DEFAULT_EXTENSION_NAME, "default"
