"""Reading which cluster a kubeconfig points at, without talking to it.

The API server's host becomes the ``api_server`` profile parameter so the network checks cover
it, and the report names the target. Connecting is the Kubernetes client's job, later.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from preflight import jsonshape
from preflight.errors import UsageError


@dataclass(frozen=True)
class KubeTarget:
    path: str
    context: str
    server: str
    #: the cluster's CA (PEM) from certificate-authority-data / certificate-authority, if any:
    #: an API server presents a certificate from its own CA, not a public one
    ca_pem: str | None = None

    @property
    def server_host(self) -> str | None:
        try:
            return urlsplit(self.server).hostname
        except ValueError:
            return None

    @property
    def server_port(self) -> int:
        """The API server's port: explicit in the URL (k3s and Arc: often 6443), else 443."""
        try:
            parts = urlsplit(self.server)
            return parts.port or (80 if parts.scheme == "http" else 443)
        except ValueError:
            return 443

    @property
    def api_server(self) -> str | None:
        """The ``api_server`` parameter: the host, with ``:PORT`` when it is not 443."""
        host = self.server_host
        if not host:
            return None
        shown = f"[{host}]" if ":" in host else host
        return shown if self.server_port == 443 else f"{shown}:{self.server_port}"


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
    # on first use: PyYAML stays out of start-up (docs/ARCHITECTURE.md)
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
        except RecursionError:
            raise UsageError(f"kubeconfig {path}: not a kubeconfig (nested too deeply)") from None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise UsageError(f"kubeconfig {path}: not a kubeconfig (expected a YAML mapping)")
        try:  # what is read below, as kubectl would insist on it
            jsonshape.check(data, _SHAPE, "")
        except jsonshape.ShapeError as exc:
            raise UsageError(f"kubeconfig {path}: {exc.statement}") from None
        current = current or data.get("current-context")
        for key in ("contexts", "clusters"):
            merged[key].extend(data.get(key) or [])
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
    cluster = clusters.get(cluster_name, {})
    cluster = cluster if isinstance(cluster, dict) else {}
    server = str(cluster.get("server") or "")
    return KubeTarget(str(existing[0]), str(name), server, _ca_pem(cluster, existing[0]))


def _kubeconfig_shape() -> jsonshape.Obj:
    text = jsonshape.STR
    named = {"name": text}
    return jsonshape.Obj(
        {
            "current-context": text,
            "contexts": jsonshape.Arr(
                jsonshape.Obj({**named, "context": jsonshape.Obj({"cluster": text, "user": text})})
            ),
            "clusters": jsonshape.Arr(
                jsonshape.Obj({**named, "cluster": jsonshape.Obj({"server": text})})
            ),
            "users": jsonshape.Arr(jsonshape.Obj(named)),
        }
    )


_SHAPE = _kubeconfig_shape()


def _ca_pem(cluster: dict[str, Any], kubeconfig: Path) -> str | None:
    """The cluster CA as PEM text, or None (absent, unreadable, not base64: the Kubernetes
    client reports such a kubeconfig itself; the network probe then trusts the system store)."""

    data = cluster.get("certificate-authority-data")
    if isinstance(data, str) and data.strip():
        try:
            text = base64.b64decode(data.strip(), validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None
        return text if "BEGIN CERTIFICATE" in text else None
    path = cluster.get("certificate-authority")
    if isinstance(path, str) and path.strip():
        candidate = Path(path).expanduser()
        if not candidate.is_absolute():
            candidate = kubeconfig.parent / candidate
        try:
            text = candidate.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        return text if "BEGIN CERTIFICATE" in text else None
    return None
