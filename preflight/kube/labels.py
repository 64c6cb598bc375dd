"""What marks an object as preflight's, and as one run's: the labels and annotations every
object a run creates carries, so that deleting the run's namespace (or ``preflight cleanup``)
finds all of it, and the names Kubernetes accepts for them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from preflight.context import Context


MANAGED_BY = "app.kubernetes.io/managed-by"


RUN_ID = "preflight.io/run-id"


COMPONENT = "preflight.io/component"


CREATED_AT = "preflight.io/created-at"


EXPIRES_AT = "preflight.io/expires-at"


NAMESPACE_PREFIX = "preflight-"


NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_name(name: str, limit: int = 52) -> None:
    if not NAME_RE.match(name) or len(name) > limit:
        raise ValueError(
            f"{name!r} is not a valid name for preflight's objects (lower-case letters, digits "
            f"and '-', at most {limit} characters)"
        )


def labels_for(ctx: Context, name: str | None = None) -> dict[str, str]:
    """The labels everything a run creates carries (plus the component, for selectors)."""
    labels = {
        "app.kubernetes.io/name": "preflight",
        MANAGED_BY: "preflight",
        RUN_ID: ctx.run_id,
    }
    if name:
        labels[COMPONENT] = name
    return labels


def selector_for(name: str) -> dict[str, str]:
    """The pod selector of the workload ``name`` (a Deployment's, and its Service's)."""
    return {"app.kubernetes.io/name": "preflight", COMPONENT: name}
