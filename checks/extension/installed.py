"""``extension.installed``: the Azure ML extension resource in Azure Resource Manager, read the way
the deployment page tells a person to verify the install (``az k8s-extension show`` until
``provisioningState`` is ``Succeeded``):
https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension#verify-azure-machine-learning-extension-deployment

Found by type (``Microsoft.AzureML.Kubernetes``), never by name, on the managed (AKS) or
connected (Arc) cluster named by ``--set``. ``Succeeded`` passes with the version and the
configuration settings; ``Failed`` (and ``Canceled``) fails with ARM's error detail; an install
still ``Pending`` (or ``Creating``/``Updating``) is polled for ``--set extension_wait`` seconds at
most (default: not at all), then is a warning that says how long it has been going and whether
that is longer than an install takes (``--set extension_pending_minutes``, default 15). The
protected settings are never read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from typing import Any

from preflight.api import ArmError, Check, Context, Finding, Status, parse_resource_id
from preflight.checks._shared.cluster_resource import parameters_named
from preflight.checks._shared.healthcodes import CodeInfo, explain, foreseen_by
from preflight.checks._shared.kube_reads import age_text
from preflight.checks._shared.plan import DEFAULT_EXTENSION_NAME, DOCS_TROUBLESHOOT, EXTENSION_TYPE
from preflight.checks.extension.resource import (
    ExtensionsRead,
    InstalledExtension,
    read_extensions,
    reread,
)

DOCS_VERIFY = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension"
    "#verify-azure-machine-learning-extension-deployment"
)
DOCS_DEPLOY = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension"
    "#azure-machine-learning-extension-deployment---cli-examples-and-azure-portal"
)
PENDING_MINUTES = 15.0  # an install normally settles within minutes (DOCS_VERIFY: "first few")
POLL_SECONDS = 10.0
CODE = re.compile(r"\bE4\d{4}\b")

PARAMETERS = {
    **parameters_named("subscription_id", "resource_group", "cluster_name", "cluster_type"),
    "extension_pending_minutes": (
        "how long an extension may stay Pending before it is reported as stuck (default 15)"
    ),
    "extension_wait": (
        "seconds to keep polling an extension that is still installing (default 0: look "
        "once); bounded by --deadline"
    ),
}


def _non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("expected a number") from None
    if number < 0 or number != number or number == float("inf"):
        raise ValueError("expected a number >= 0")
    return number


class ExtensionInstalled(Check):
    """The deployment page ends with "Verify Azure Machine Learning extension deployment": this is
    the first half, the resource in Azure, so that nobody reads ``az k8s-extension show`` by
    hand."""

    id = "extension.installed"
    title = "The Azure ML extension is installed (provisioningState Succeeded)"
    category = "extension"
    docs = DOCS_VERIFY
    phases = ("after",)
    parameters = PARAMETERS
    validators = {
        "extension_pending_minutes": _non_negative,
        "extension_wait": _non_negative,
    }

    async def run(self, ctx: Context) -> list[Finding]:
        read = await read_extensions(ctx)
        if read.problem is not None:
            problem = read.problem
            return [
                Finding(
                    problem.status,
                    read.cluster_name or None,
                    problem.message,
                    problem.remediation,
                    problem.docs,
                    details=dict(problem.details),
                )
            ]
        if not read.extensions:
            return [_absent(ctx, read)]
        findings: list[Finding] = []
        for extension in read.extensions:
            extension = await _settled(ctx, extension)
            findings.append(_judge(ctx, read, extension))
        return findings


async def _settled(ctx: Context, extension: InstalledExtension) -> InstalledExtension:
    """Poll an install in progress for ``extension_wait`` seconds at most (and never past the
    run's deadline); the last state read is the one judged."""
    wait = float(ctx.param("extension_wait") or 0)
    every = max(1.0, min(POLL_SECONDS, wait / 5))  # ARM is asked at most every 10 s
    ends = time.monotonic() + min(wait, max(0.0, ctx.remaining() - 2 * every))
    while extension.in_progress and time.monotonic() + every <= ends:
        await asyncio.sleep(every)
        try:
            extension = await reread(ctx, extension)
        except ArmError:
            break  # judged on the last good read; the read's trouble is no verdict on it
    return extension


def _absent(ctx: Context, read: ExtensionsRead) -> Finding:
    noun = "AKS cluster" if read.cluster_kind == "aks" else "Arc-enabled cluster"
    cluster_type = "managedClusters" if read.cluster_kind == "aks" else "connectedClusters"
    others = f"; it has: {', '.join(read.others)}" if read.others else "; it has none"
    named = ctx.param("extension_name")
    return Finding(
        Status.FAIL,
        read.cluster_name,
        f"no Azure ML extension (type {EXTENSION_TYPE}) on {noun} {read.cluster_name}{others}",
        f"install it: `az k8s-extension create --name {named or DEFAULT_EXTENSION_NAME} "
        f"--extension-type {EXTENSION_TYPE} --cluster-type {cluster_type} --cluster-name "
        f"{read.cluster_name} --resource-group <rg> --scope cluster --config ...` (a "
        "`preflight run` before the install prints the full command for this cluster); if it "
        "was installed in another cluster, check --set cluster_name",
        DOCS_DEPLOY,
        details={"cluster_id": read.cluster_id, "other_extensions": read.others},
    )


def _judge(ctx: Context, read: ExtensionsRead, ext: InstalledExtension) -> Finding:
    state = ext.provisioning_state
    details = _details(ctx, read, ext)
    where = f"on {read.cluster_name}"
    version = f"version {ext.version}" if ext.version else "version unknown"
    if state.lower() == "succeeded":
        return Finding.passed(
            ext.name,
            f"extension {ext.name} {where}: Succeeded, {version}{_upgrade_text(ext)}; "
            f"settings: {_settings_text(ext)}{_name_note(ctx, ext)}",
            **details,
        )
    if state.lower() in ("failed", "canceled"):
        return _failed(ctx, read, ext, details)
    if ext.in_progress:
        return _pending(ctx, read, ext, details)
    return Finding.warned(
        ext.name,
        f"extension {ext.name} {where}: provisioningState {state!r}, which preflight does not "
        "know; expected Succeeded",
        f"look at `{_show_command(read, ext)}` and the extension's pods "
        "(`kubectl get pods -n azureml`)",
        DOCS_VERIFY,
        **details,
    )


def _failed(
    ctx: Context, read: ExtensionsRead, ext: InstalledExtension, details: dict[str, Any]
) -> Finding:
    error = _error_text(ext)
    codes = [explain(c) for c in sorted(set(CODE.findall(error + " " + _status_text(ext))))]
    foreseen = [entry for info in codes for entry in foreseen_by(info.code)]
    hint = (
        f" (the extension's health check: {'; '.join(_code_hint(i) for i in codes)}; "
        "extension.healthcheck decodes its report)"
        if codes
        else ""
    )
    if foreseen:
        details["foreseen_by"] = foreseen
    return Finding(
        Status.FAIL,
        ext.name,
        f"extension {ext.name} on {read.cluster_name}: {ext.provisioning_state}"
        + (f": {error}" if error else " (ARM gives no error detail)")
        + hint,
        "fix the cause named, then `az k8s-extension delete` and create it again (or "
        "`az k8s-extension update` for a settings change); the pods' side: `kubectl get pods -n "
        f"azureml`, `helm test -n azureml {ext.name} --logs`; a `preflight run` (phase before) "
        "finds most causes before the next attempt",
        DOCS_TROUBLESHOOT,
        details=details,
    )


def _code_hint(info: CodeInfo) -> str:
    text = f"{info.text}: {info.meaning}" if info.known else info.code
    return text + (f", which {' / '.join(info.caught_by)} finds before" if info.caught_by else "")


def _pending(
    ctx: Context, read: ExtensionsRead, ext: InstalledExtension, details: dict[str, Any]
) -> Finding:
    limit = float(ctx.param("extension_pending_minutes") or PENDING_MINUTES)
    since = ext.stamp("lastModifiedAt") or ext.stamp("createdAt")
    state = ext.provisioning_state
    show = _show_command(read, ext)
    status = _status_text(ext)
    seen = f"; its status says: {status}" if status else ""
    if since is None:
        return Finding.warned(
            ext.name,
            f"extension {ext.name} on {read.cluster_name} is {state} (since when, ARM does not "
            f"say){seen}",
            f"wait and run again with --set phase=after (or --set extension_wait=600 to poll "
            f"here); watch `{show}`",
            DOCS_VERIFY,
            **details,
        )
    age = dt.datetime.now(dt.UTC) - since
    details.update(pending_s=round(age.total_seconds()), pending_limit_minutes=limit)
    if age.total_seconds() > limit * 60:
        return Finding.warned(
            ext.name,
            f"extension {ext.name} on {read.cluster_name} has been {state} for "
            f"{age_text(age)}, longer than the {limit:g} minutes an install takes{seen}",
            "an install this slow is usually stuck on pods that cannot start: see "
            "extension.components (`kubectl get pods -n azureml`) and extension.healthcheck; "
            f"then `{show}`",
            DOCS_TROUBLESHOOT,
            **details,
        )
    return Finding.warned(
        ext.name,
        f"extension {ext.name} on {read.cluster_name} is still {state} ({age_text(age)} so "
        f"far; an install normally settles within {limit:g} minutes){seen}",
        "run again in a few minutes with --set phase=after, or add --set extension_wait=600 "
        "to wait for it here",
        DOCS_VERIFY,
        **details,
    )


def _details(ctx: Context, read: ExtensionsRead, ext: InstalledExtension) -> dict[str, Any]:
    details: dict[str, Any] = {
        "extension": ext.name,
        "resource_id": ext.resource_id,
        "extension_type": ext.extension_type,
        "provisioning_state": ext.provisioning_state,
        "version": ext.version or None,
        "auto_upgrade": ext.auto_upgrade,
        "release_train": ext.release_train or None,
        "release_namespace": ext.release_namespace,
        "settings": ext.settings,
        "protected_settings": "not read",
    }
    if ext.error:
        details["error"] = _error_tree(ext.error)
    if ext.statuses:
        details["statuses"] = [
            {k: s.get(k) for k in ("code", "displayStatus", "level", "message", "time")}
            for s in ext.statuses
        ]
    return details


def _upgrade_text(ext: InstalledExtension) -> str:
    if ext.auto_upgrade:
        train = f", {ext.release_train} train" if ext.release_train else ""
        return f" (minor versions upgrade automatically{train})"
    if ext.auto_upgrade is False:
        return " (pinned: automatic upgrade off)"
    return ""


def _settings_text(ext: InstalledExtension) -> str:
    settings = ext.settings
    if not settings:
        return "none"
    return " ".join(f"{k}={v}" for k, v in sorted(settings.items(), key=lambda kv: kv[0].lower()))


def _name_note(ctx: Context, ext: InstalledExtension) -> str:
    named = ctx.param("extension_name")
    if named and named != ext.name:
        return f" (found by type: it is named {ext.name!r}, not {named!r} as --set extension_name)"
    return ""


def _error_text(ext: InstalledExtension) -> str:
    """ARM's ErrorDetail flattened: ``code: message`` and those of its details, in order."""
    parts: list[str] = []

    def walk(node: Any, depth: int) -> None:
        if not isinstance(node, dict) or depth > 4:
            return
        code, message = str(node.get("code") or ""), str(node.get("message") or "")
        text = f"{code}: {message}" if code and message else code or message
        if text and text not in parts:
            parts.append(text)
        for child in node.get("details") or []:
            walk(child, depth + 1)

    walk(ext.error, 0)
    text = "; ".join(parts)
    return text if len(text) <= 1500 else text[:1500] + "..."


def _error_tree(error: dict[str, Any]) -> dict[str, Any]:
    keep = {k: error.get(k) for k in ("code", "message", "target") if error.get(k) is not None}
    children = [_error_tree(d) for d in error.get("details") or [] if isinstance(d, dict)]
    if children:
        keep["details"] = children[:20]
    return keep


def _status_text(ext: InstalledExtension) -> str:
    """The messages of the extension's ``statuses`` at level Error or Warning."""
    texts = [
        str(s.get("message") or s.get("displayStatus") or "")
        for s in ext.statuses
        if str(s.get("level") or "").lower() in ("error", "warning")
    ]
    return "; ".join(t for t in texts if t)[:600]


def _show_command(read: ExtensionsRead, ext: InstalledExtension) -> str:
    cluster_type = "managedClusters" if read.cluster_kind == "aks" else "connectedClusters"
    group = parse_resource_id(read.cluster_id).get("resource_group", "")
    return (
        f"az k8s-extension show --name {ext.name} --cluster-type {cluster_type} --cluster-name "
        f"{read.cluster_name} --resource-group {group or '<rg>'}"
    )


CHECKS = [ExtensionInstalled()]
