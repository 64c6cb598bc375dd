"""Reading a Kubernetes version (``/version`` of the API server, ``kubernetesVersion`` of the
ARM cluster resource): shared by ``cluster.version`` and ``azure.cluster``."""

from __future__ import annotations

import re

DOCS_VERSIONS = "https://learn.microsoft.com/azure/aks/supported-kubernetes-versions"


def parse_version(version: dict[str, str]) -> tuple[int, int, int] | None:
    """``{"gitVersion": "v1.30.4"}`` or ``{"major": "1", "minor": "30+"}`` -> (1, 30, 4)."""
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", str(version.get("gitVersion") or ""))
    if match:
        return int(match[1]), int(match[2]), int(match[3] or 0)
    major = re.match(r"\d+", str(version.get("major") or ""))
    minor = re.match(r"\d+", str(version.get("minor") or ""))
    if major and minor:
        return int(major[0]), int(minor[0]), 0
    return None
