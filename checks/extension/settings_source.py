"""Where the extension settings a check judges come from: the plan (``--extension-config``), or,
after the install (``--set phase=after``) without one, the installed extension's
``configurationSettings`` in Azure Resource Manager, which is what the extension runs with.

ARM returns ``properties.configurationSettings`` as ``{string: string}`` and never returns
``configurationProtectedSettings`` (``x-ms-secret``; "not retrievable using GET API calls or az
k8s-extension show": https://learn.microsoft.com/azure/aks/deploy-extensions-az-cli and
azure-rest-api-specs ``specification/kubernetesconfiguration/.../2023-05-01/extensions.json``):
a verdict that would need a protected setting says it could not see it.

Each finding built from these settings carries ``details["inputs"]`` (see
``preflight.compare``): a before/after comparison then tells a verdict that changed because
the settings came from elsewhere from one that got worse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Context, Finding
from preflight.checks._shared.cluster_resource import parameters_named
from preflight.checks.extension.resource import read_extensions

#: the ``--set`` parameters that name the cluster whose installed settings are read
PARAMETERS = parameters_named("subscription_id", "resource_group", "cluster_name", "cluster_type")
INPUT = "extension settings"
PLANNED = "extension-config"
INSTALLED = "arm"


@dataclass(frozen=True)
class SettingsInput:
    """The settings to judge, exactly as spelled, and their origin (or why there are none)."""

    settings: dict[str, str] = field(default_factory=dict)
    source: str = ""  # PLANNED | INSTALLED | "" (none)
    extension: str = ""  # the installed extension's name (INSTALLED)
    provisioning_state: str = ""
    why_not: str = ""  # no settings: why
    how: str = ""  # no settings: what to pass

    @property
    def installed(self) -> bool:
        return self.source == INSTALLED

    @property
    def label(self) -> str:
        """Where the settings came from, in words (the value of ``details["inputs"]``)."""
        if self.source == PLANNED:
            return "--extension-config"
        if self.source == INSTALLED:
            return (
                f"configurationSettings of the installed extension {self.extension!r} "
                "(Azure Resource Manager)"
            )
        return ""

    def inputs(self) -> dict[str, str | None]:
        return {INPUT: self.label or None}

    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "inputs": self.inputs(),
            "settings_source": self.source or "none",
        }
        if self.installed:
            details["extension_name"] = self.extension
            details["provisioning_state"] = self.provisioning_state
            details["protected_settings"] = "not returned by Azure Resource Manager"
        return details

    def stamp(self, findings: list[Finding]) -> list[Finding]:
        """Every finding says where its settings came from (kept where a finding says more)."""
        for finding in findings:
            for key, value in self.details().items():
                finding.details.setdefault(key, value)
        return findings


def planned(ctx: Context) -> dict[str, str]:
    """``--extension-config`` with every key as the user spelled it."""
    settings: Mapping[str, str] = ctx.extension_settings
    as_given = getattr(settings, "as_given", None)
    return dict(as_given()) if callable(as_given) else dict(settings.items())


async def settings_input(ctx: Context) -> SettingsInput:
    """The plan when given; after the install, else the installed settings from ARM."""
    plan = planned(ctx)
    if plan:
        return SettingsInput(plan, PLANNED)
    if ctx.options.phase != "after":
        return SettingsInput(why_not="no --extension-config given")
    read = await read_extensions(ctx)
    if read.problem is not None:
        return SettingsInput(
            why_not="no --extension-config given, and the installed settings could not be "
            f"read from Azure Resource Manager ({read.problem.message})",
            how=read.problem.remediation,
        )
    cluster = read.cluster_name or "the cluster"
    if not read.extensions:
        return SettingsInput(
            why_not=f"no --extension-config given, and Azure Resource Manager lists no Azure ML "
            f"extension on {cluster} (see extension.installed)",
        )
    extension = read.only()
    if extension is None:
        names = ", ".join(e.name for e in read.extensions)
        return SettingsInput(
            why_not=f"no --extension-config given, and {cluster} has {len(read.extensions)} "
            f"Azure ML extensions ({names}): which one's settings to judge is not clear",
        )
    if not extension.settings:
        return SettingsInput(
            why_not=f"no --extension-config given, and the installed extension "
            f"{extension.name!r} has no configurationSettings in Azure Resource Manager (only "
            "protected ones, which ARM never returns)",
        )
    return SettingsInput(
        extension.settings,
        INSTALLED,
        extension=extension.name,
        provisioning_state=extension.provisioning_state,
    )
