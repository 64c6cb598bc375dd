"""``azure.cli``: the Azure CLI and its ``k8s-extension`` are new enough to run
``az k8s-extension create`` from this machine (seeds 002/003 in docs/SOURCES.md, "Prerequisites").

Seed 002/003 and the public docs ask for Azure CLI 2.24.0 and k8s-extension 1.2.3 or newer; a
newer edition of the same page (docs.azure.cn, 2025; docs/reference/endpoints.md: "a newer page says
>= 2.51.0") asks for Azure CLI 2.51.0. Below 2.24.0 is a failure (the documented minimum); from
2.24.0 up to 2.51.0 a warning (it meets the older minimum, not the newer one, and `az upgrade`
is cheap); 2.51.0 and up pass. The versions come from ``az version -o json``, which reads local
files only; it runs bounded in its own process group (killed with its children on timeout, on
the run's deadline and on Ctrl-C), and a machine without ``az`` skips the check (the extension
may well be installed from another machine).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from typing import Any

from preflight.api import Check, Context, Finding, run_command_async

CLI_MINIMUM = "2.24.0"
CLI_NEWER_MINIMUM = "2.51.0"
EXTENSION = "k8s-extension"
EXTENSION_MINIMUM = "1.2.3"
DOCS_INSTALL = "https://learn.microsoft.com/cli/azure/install-azure-cli"
DOCS_EXTENSION = "https://learn.microsoft.com/cli/azure/azure-cli-extensions-overview"
DOCS_PREREQUISITES = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension"
    "#prerequisites"
)

_VERSION = re.compile(r"^\s*v?(\d+(?:\.\d+)*)(?:[.\-+]?([A-Za-z]+)\.?(\d*))?")


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """A comparable key: ``"2.61.0"`` -> (2, 61, 0, 0, 1, 0, 0); pre-releases (``1.0.0b1``,
    ``2.0.0rc2``, ``1.2.3-beta.1``) sort before their release; None when there is no version."""
    match = _VERSION.match(text or "")
    if match is None:
        return None
    numbers = [int(part) for part in match[1].split(".")][:4]
    numbers += [0] * (4 - len(numbers))
    label, serial = (match[2] or "").lower(), int(match[3] or 0)
    if label and label not in ("post", "dev"):
        rank = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2}.get(label, 1)
        return (*numbers, 0, rank, serial)  # a pre-release: below the release
    return (*numbers, 1, 0, 0)


def at_least(version: str, minimum: str) -> bool:
    have, want = parse_version(version), parse_version(minimum)
    return have is not None and want is not None and have >= want


class AzureCli(Check):
    id = "azure.cli"
    title = "Azure CLI and k8s-extension versions"
    category = "azure"
    docs = DOCS_PREREQUISITES

    async def run(self, ctx: Context) -> list[Finding]:
        az = shutil.which("az")
        if az is None:
            return [
                Finding.skipped(
                    "az",
                    "skipped: the Azure CLI (az) is not on PATH; it is what runs `az "
                    "k8s-extension create`",
                    f"install Azure CLI {CLI_MINIMUM} or newer ({DOCS_INSTALL}) and `az "
                    f"extension add --name {EXTENSION}` on the machine that installs the "
                    "extension; nothing to do if that is another machine",
                )
            ]
        env = {**os.environ, "AZURE_CORE_ONLY_SHOW_ERRORS": "true", "AZURE_CORE_NO_COLOR": "1"}
        try:  # own process group: a hung az goes with its children at the bound or on Ctrl-C
            done = await run_command_async(
                [az, "version", "-o", "json"],
                timeout=max(ctx.timeout, 15.0),
                deadline=time.monotonic() + ctx.remaining() - 1.0,  # leave time to report
                env=env,
                cancel=ctx.cancelled,
            )
        except OSError as exc:
            return [_broken(az, f"cannot run it: {exc.strerror or exc}")]
        if not done.ok:
            return [_broken(az, done.failure())]
        try:
            data = json.loads(done.stdout)
        except ValueError:
            return [_broken(az, "`az version -o json` printed no JSON")]
        if not isinstance(data, dict):
            return [_broken(az, "`az version -o json` printed no JSON object")]
        return [_cli(az, data), _extension(az, data)]


def _broken(az: str, reason: str) -> Finding:
    return Finding.errored(
        "azure-cli",
        f"cannot read the Azure CLI's version ({az}): {reason}",
        "run `az version` by hand; reinstall the Azure CLI if it fails",
        az=az,
    )


def _cli(az: str, data: dict[str, Any]) -> Finding:
    version = str(data.get("azure-cli") or "")
    details = {"az": az, "version": version or None, "minimum": CLI_MINIMUM}
    if parse_version(version) is None:
        return Finding.warned(
            "azure-cli",
            f"`az version` reports no azure-cli version ({version!r})",
            "run `az version` by hand; reinstall the Azure CLI if needed",
            DOCS_INSTALL,
            **details,
        )
    if not at_least(version, CLI_MINIMUM):
        return Finding.failed(
            "azure-cli",
            f"Azure CLI {version} is older than {CLI_MINIMUM}, the minimum for the Azure ML "
            "extension",
            "upgrade it: az upgrade (or reinstall from the install page)",
            DOCS_INSTALL,
            **details,
        )
    if not at_least(version, CLI_NEWER_MINIMUM):
        return Finding.warned(
            "azure-cli",
            f"Azure CLI {version} meets the documented minimum {CLI_MINIMUM}, but a newer "
            f"edition of the extension's page (docs.azure.cn) asks for {CLI_NEWER_MINIMUM}",
            "upgrade it: az upgrade",
            DOCS_PREREQUISITES,
            **details,
            newer_minimum=CLI_NEWER_MINIMUM,
        )
    return Finding.passed(
        "azure-cli",
        f"Azure CLI {version} (needs {CLI_MINIMUM}; newer docs {CLI_NEWER_MINIMUM})",
        **details,
    )


def _extension(az: str, data: dict[str, Any]) -> Finding:
    extensions = data.get("extensions")
    installed = extensions if isinstance(extensions, dict) else {}
    version = installed.get(EXTENSION)
    details = {
        "az": az,
        "version": version,
        "minimum": EXTENSION_MINIMUM,
        "extensions": dict(installed),
    }
    if not version:
        return Finding.failed(
            EXTENSION,
            f"the Azure CLI has no {EXTENSION} extension: `az k8s-extension create` does not "
            "exist without it",
            f"az extension add --name {EXTENSION}",
            DOCS_EXTENSION,
            **details,
        )
    if not at_least(str(version), EXTENSION_MINIMUM):
        return Finding.failed(
            EXTENSION,
            f"{EXTENSION} {version} is older than {EXTENSION_MINIMUM}, the minimum for the Azure "
            "ML extension",
            f"az extension update --name {EXTENSION}",
            DOCS_EXTENSION,
            **details,
        )
    return Finding.passed(
        EXTENSION, f"{EXTENSION} {version} (needs {EXTENSION_MINIMUM})", **details
    )


CHECKS = [AzureCli()]
