"""The Azure ML workspace that ``--set workspace_id`` names, read once per run from Azure Resource
Manager (``GET {workspace_id}?api-version=2024-04-01``, Microsoft.MachineLearningServices): its
location, for ``azure.region``. No checks here.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from preflight.api import ArmError, Context, Fact, Status, jsonshape, parse_resource_id
from preflight.checks._shared.cluster_resource import Problem, arm_error_problem, arm_missing

WORKSPACE_API = "2024-04-01"  # Microsoft.MachineLearningServices/workspaces, GA
WORKSPACE_SHAPE = jsonshape.Obj(
    {"id": jsonshape.STR, "name": jsonshape.STR, "location": jsonshape.STR, "type": jsonshape.STR}
)


@dataclass
class WorkspaceRead:
    """The workspace's location, or why it is not known (``skipped``: nothing to read with;
    ``problem``: Azure was asked and did not tell)."""

    resource_id: str
    name: str = ""
    location: str = ""
    skipped: str = ""
    problem: Problem | None = None


async def read_workspace(ctx: Context) -> WorkspaceRead:
    return await ctx.fact_async(WORKSPACE_READ)


async def _read(ctx: Context) -> WorkspaceRead:
    resource_id = ctx.param("workspace_id") or ""
    if not resource_id:
        return WorkspaceRead("", skipped="no --set workspace_id")
    name = parse_resource_id(resource_id).get("name", "")
    missing = await arm_missing(ctx)
    if missing is not None:
        return WorkspaceRead(resource_id, name, skipped=missing[0])
    try:
        document = await ctx.arm.get(quote(resource_id, safe="/"), WORKSPACE_API, WORKSPACE_SHAPE)
    except ArmError as exc:
        problem = arm_error_problem(
            ctx,
            exc,
            what=f"the Azure ML workspace {name}",
            permission=f"Reader (Microsoft.MachineLearningServices/workspaces/read) on {name}",
            notfound=(
                f"Azure ML workspace {resource_id} not found (or not visible to the signed-in "
                "identity)",
                "check --set workspace_id (`az ml workspace show --query id`)",
            ),
        )
        return WorkspaceRead(resource_id, name, problem=problem)
    location = "".join(str(document.get("location") or "").split()).lower()
    if not location:
        problem = Problem(
            Status.WARN,
            f"Azure Resource Manager answered the workspace {name} without a location",
            "run preflight again; if it persists, read `az ml workspace show --query location`",
        )
        return WorkspaceRead(resource_id, name, problem=problem)
    return WorkspaceRead(resource_id, str(document.get("name") or name), location)


#: the workspace of ``--set workspace_id``, read once per run
WORKSPACE_READ: Fact[WorkspaceRead] = Fact("the Azure ML workspace", _read)
