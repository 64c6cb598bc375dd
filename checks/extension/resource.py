"""The Azure ML extension as Azure Resource Manager knows it, read once per run and shared by
``extension.installed`` (which judges it) and ``extension.components`` (which takes the installed
configuration settings from it). No checks here.

The extension is the resource ``{cluster}/providers/Microsoft.KubernetesConfiguration/extensions/
{name}`` (what ``az k8s-extension show`` prints). Users name it as they like (``azureml``,
``ml``, ``aml-ext``), so it is found by its type ``Microsoft.AzureML.Kubernetes`` in the list of
the cluster's extensions, never by name. ``configurationProtectedSettings`` is never read: ARM
does not return the values, and their names are not this tool's business either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from preflight.api import ArmError, Context, Fact, Status, jsonshape, parse_resource_id
from preflight.checks._shared.cluster_resource import (
    AKS_TYPE,
    ARC_TYPE,
    CLUSTER_PARAMS,
    Problem,
    arm_error_problem,
    arm_missing,
    cluster_document,
    cluster_problem,
    missing_parameters_text,
)
from preflight.checks._shared.json_files import read_json
from preflight.checks._shared.kube_reads import timestamp
from preflight.checks._shared.plan import EXTENSION_TYPE, cluster_type_of

EXTENSIONS_API = "2023-05-01"  # Microsoft.KubernetesConfiguration/extensions, GA
EXTENSIONS_PROVIDER = "Microsoft.KubernetesConfiguration/extensions"

_S = jsonshape.STR
#: what is read of one ``Microsoft.KubernetesConfiguration/extensions`` resource
EXTENSION_SHAPE = jsonshape.Obj(
    {
        "id": _S,
        "name": _S,
        "type": _S,
        "systemData": jsonshape.Obj({"createdAt": _S, "lastModifiedAt": _S}),
        "properties": jsonshape.Obj(
            {
                "extensionType": _S,
                "provisioningState": _S,
                "version": _S,
                "currentVersion": _S,
                "autoUpgradeMinorVersion": jsonshape.BOOL,
                "releaseTrain": _S,
                "configurationSettings": jsonshape.Obj(values=jsonshape.SCALAR),
                "scope": jsonshape.Obj(
                    {
                        "cluster": jsonshape.Obj({"releaseNamespace": _S}),
                        "namespace": jsonshape.Obj(),
                    }
                ),
                "errorInfo": jsonshape.Obj({"code": _S, "message": _S}),
                "statuses": jsonshape.Arr(
                    jsonshape.Obj({"code": _S, "displayStatus": _S, "level": _S, "message": _S})
                ),
            }
        ),
    }
)

#: provisioning states that are still on their way somewhere (the install, an update, a delete)
IN_PROGRESS = ("pending", "creating", "updating", "accepted", "running", "deleting")


@dataclass
class InstalledExtension:
    """One ``Microsoft.KubernetesConfiguration/extensions`` resource, as ARM returned it."""

    document: dict[str, Any]

    @property
    def props(self) -> dict[str, Any]:
        props = self.document.get("properties")
        return props if isinstance(props, dict) else {}

    @property
    def name(self) -> str:
        return str(self.document.get("name") or self.resource_id.rpartition("/")[2] or "?")

    @property
    def resource_id(self) -> str:
        return str(self.document.get("id") or "")

    @property
    def extension_type(self) -> str:
        return str(self.props.get("extensionType") or "")

    @property
    def provisioning_state(self) -> str:
        return str(self.props.get("provisioningState") or "Unknown")

    @property
    def version(self) -> str:
        """The installed version: ``currentVersion`` (``version`` is null under auto-upgrade)."""
        return str(self.props.get("currentVersion") or self.props.get("version") or "")

    @property
    def auto_upgrade(self) -> bool | None:
        value = self.props.get("autoUpgradeMinorVersion")
        return value if isinstance(value, bool) else None

    @property
    def release_train(self) -> str:
        return str(self.props.get("releaseTrain") or "")

    @property
    def release_namespace(self) -> str:
        scope = self.props.get("scope")
        cluster = scope.get("cluster") if isinstance(scope, dict) else None
        namespace = cluster.get("releaseNamespace") if isinstance(cluster, dict) else None
        return str(namespace or "azureml")

    @property
    def settings(self) -> dict[str, str]:
        """``configurationSettings`` (the plain ones: ARM stores the protected ones apart)."""
        raw = self.props.get("configurationSettings")
        if not isinstance(raw, dict):
            return {}
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}

    @property
    def error(self) -> dict[str, Any]:
        info = self.props.get("errorInfo")
        return info if isinstance(info, dict) else {}

    @property
    def statuses(self) -> list[dict[str, Any]]:
        raw = self.props.get("statuses")
        return [s for s in raw if isinstance(s, dict)] if isinstance(raw, list) else []

    def stamp(self, key: str) -> dt.datetime | None:
        """``systemData.createdAt`` / ``lastModifiedAt`` as an aware datetime (None if absent)."""
        system = self.document.get("systemData")
        return timestamp(system.get(key) if isinstance(system, dict) else None)

    @property
    def in_progress(self) -> bool:
        return self.provisioning_state.lower() in IN_PROGRESS


@dataclass
class ExtensionsRead:
    """The run's one read of the cluster's extensions: the Azure ML ones, or why there are none.

    ``problem`` is set when the list could not be read (missing parameters or credentials: a
    skip; ARM refused or failed: fail or error)."""

    cluster_id: str = ""
    cluster_kind: str = "aks"
    extensions: list[InstalledExtension] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # "flux (microsoft.flux)"
    problem: Problem | None = None

    @property
    def cluster_name(self) -> str:
        return self.cluster_id.rstrip("/").rpartition("/")[2]

    def only(self) -> InstalledExtension | None:
        """The Azure ML extension when exactly one is installed (a cluster takes one)."""
        return self.extensions[0] if len(self.extensions) == 1 else None


def read_extensions(ctx: Context) -> Awaitable[ExtensionsRead]:
    """The run's read of the cluster's extensions (started by the first check that asks)."""
    return ctx.fact_async(EXTENSIONS_READ)


def cluster_resource_id(ctx: Context, kind: str) -> tuple[str, list[str]]:
    """The cluster's ARM id from ``--set`` (or the id in ``aks_json``), and the parameters that
    are missing when it cannot be built."""
    aks_json = ctx.param("aks_json")
    if aks_json and kind == "aks":
        try:
            document = cluster_document(read_json(aks_json))
        except (OSError, ValueError):
            document = {}
        parsed = parse_resource_id(str(document.get("id") or ""))
        if parsed.get("subscription_id") and document.get("id"):
            return str(document["id"]), []
    params = {name: ctx.param(name) for name in CLUSTER_PARAMS}
    missing = [name for name, value in params.items() if not value]
    if missing:
        return "", missing
    provider = AKS_TYPE if kind == "aks" else ARC_TYPE
    sub, group, name = (quote(str(params[k]), safe="") for k in CLUSTER_PARAMS)
    return f"/subscriptions/{sub}/resourceGroups/{group}/providers/{provider}/{name}", []


async def _read(ctx: Context) -> ExtensionsRead:
    kind, _odd = cluster_type_of(ctx)
    cluster_id, missing = cluster_resource_id(ctx, kind)
    if missing:
        return ExtensionsRead(
            cluster_kind=kind,
            problem=Problem(
                Status.SKIP,
                f"skipped: no cluster resource named ({', '.join(missing)} not set)",
                f"add {missing_parameters_text(missing)} (the cluster the extension is on; add "
                "--set cluster_type=arc for an Arc-enabled cluster)",
                details={"missing_parameters": missing},
            ),
        )
    need = await arm_missing(ctx)
    if need is not None:
        reason, how = need
        return ExtensionsRead(
            cluster_id=cluster_id,
            cluster_kind=kind,
            problem=Problem(Status.SKIP, f"skipped: {reason}", how, details={"missing": "arm"}),
        )
    path = f"{cluster_id}/providers/{EXTENSIONS_PROVIDER}"
    try:
        items = await ctx.arm.list(path, EXTENSIONS_API, item_shape=EXTENSION_SHAPE)
    except ArmError as exc:
        return ExtensionsRead(
            cluster_id=cluster_id, cluster_kind=kind, problem=_problem(ctx, exc, kind, cluster_id)
        )
    read = ExtensionsRead(cluster_id=cluster_id, cluster_kind=kind)
    for item in items:
        if not isinstance(item, dict):
            continue
        extension = InstalledExtension(item)
        if extension.extension_type.lower() == EXTENSION_TYPE.lower():
            read.extensions.append(extension)
        else:
            read.others.append(f"{extension.name} ({extension.extension_type or 'no type'})")
    return read


async def reread(ctx: Context, extension: InstalledExtension) -> InstalledExtension:
    """The extension resource again (polling a Pending install); ArmError passes through."""
    document = await ctx.arm.get(extension.resource_id, EXTENSIONS_API, EXTENSION_SHAPE)
    return InstalledExtension(document)


def _problem(ctx: Context, exc: ArmError, kind: str, cluster_id: str) -> Problem:
    parts = parse_resource_id(cluster_id)
    sub = parts.get("subscription_id", "")
    group = parts.get("resource_group", "")
    name = parts.get("name", "") or cluster_id.rpartition("/")[2]
    if exc.kind == "notfound":  # the cluster (the parent) is not there
        return cluster_problem(ctx, exc, kind, sub, group, name)
    provider = "managedClusters" if kind == "aks" else "connectedClusters"
    return arm_error_problem(
        ctx,
        exc,
        what=f"the extensions of cluster {name}",
        permission=(
            "Reader (Microsoft.KubernetesConfiguration/extensions/read) on the cluster "
            f"{name} ({provider}), resource group {group} or subscription {sub}"
        ),
    )


#: the cluster's extensions, read once per run
EXTENSIONS_READ: Fact[ExtensionsRead] = Fact("the cluster's extensions", _read)
