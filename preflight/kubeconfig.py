"""Reading which cluster a kubeconfig points at, without talking to it.

The API server's host becomes the ``api_server`` profile parameter so the network checks cover
it, and the report names the target. Connecting is the Kubernetes client's job, later.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from preflight.errors import UsageError


@dataclass(frozen=True)
class KubeTarget:
    path: str
    context: str
    server: str

    @property
    def server_host(self) -> str | None:
        try:
            return urlsplit(self.server).hostname
        except ValueError:
            return None


def candidate_paths(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def find_target(explicit: str | None, context: str | None) -> KubeTarget | None:
    """The context's cluster, or None when there is no kubeconfig (and none was asked for).

    A kubeconfig named by --kubeconfig that is missing or not YAML, or a --context it does not
    hold, is a usage error (exit 2)."""
    import yaml

    paths = candidate_paths(explicit)
    existing = [p for p in paths if p.is_file()]
    if explicit and not existing:
        raise UsageError(f"--kubeconfig {explicit}: no such file")
    if not existing:
        if context:
            raise UsageError(f"--context {context}: no kubeconfig found ({paths[0]})")
        return None
    merged: dict[str, list[dict[str, Any]]] = {"contexts": [], "clusters": []}
    current = None
    for path in existing:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"kubeconfig {path}: cannot read: {exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            raise UsageError(f"kubeconfig {where}: not valid YAML") from None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise UsageError(f"kubeconfig {path}: not a kubeconfig (expected a YAML mapping)")
        current = current or data.get("current-context")
        for key in ("contexts", "clusters"):
            entries = data.get(key) or []
            if isinstance(entries, list):
                merged[key].extend(e for e in entries if isinstance(e, dict))
    name = context or current
    contexts = {c.get("name"): c.get("context") or {} for c in merged["contexts"]}
    if not name:
        if context is None and not contexts:
            return None
        raise UsageError(f"kubeconfig {existing[0]}: no current-context; pass --context")
    if name not in contexts:
        known = ", ".join(sorted(str(k) for k in contexts)) or "none"
        raise UsageError(f"--context {name}: not in kubeconfig {existing[0]} (contexts: {known})")
    cluster_name = contexts[name].get("cluster")
    clusters = {c.get("name"): c.get("cluster") or {} for c in merged["clusters"]}
    server = str(clusters.get(cluster_name, {}).get("server") or "")
    return KubeTarget(str(existing[0]), str(name), server)
