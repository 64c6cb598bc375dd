"""After a run against the fake API server (and its ``kube_runner``): nothing of preflight's is
left behind, in the cluster or as a process (README: every object a run creates is deleted with
its namespace, after success, failure, Ctrl-C or SIGTERM)."""

from __future__ import annotations

import time
from typing import Any

#: what a run may create; each must be gone with the run's namespace
CREATED = ("pods", "jobs", "deployments", "services", "secrets", "rolebindings")
MANAGED_BY = "app.kubernetes.io/managed-by"


def nothing_left(api: Any, runner: Any, wait_s: float = 10) -> None:
    """No run namespace (``preflight-*``); nothing a run creates inside one or labelled as
    preflight's anywhere; no pod, Job or Deployment outside kube-system (the cluster's own);
    and, within ``wait_s``, no process of the run's pods."""
    names = [n["metadata"]["name"] for n in api.objects("namespaces")]
    assert not [n for n in names if n.startswith("preflight-")], names
    for resource in CREATED:
        leftover = [
            (o["metadata"].get("namespace"), o["metadata"]["name"])
            for o in api.objects(resource)
            if o["metadata"].get("namespace", "").startswith("preflight-")
            or (o["metadata"].get("labels") or {}).get(MANAGED_BY) == "preflight"
        ]
        assert not leftover, (resource, leftover)
    for resource in ("pods", "jobs", "deployments"):
        strays = [
            (o["metadata"].get("namespace"), o["metadata"]["name"])
            for o in api.objects(resource)
            if o["metadata"].get("namespace") != "kube-system"
        ]
        assert not strays, (resource, strays)
    deadline = time.monotonic() + wait_s
    while runner.live() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not runner.live(), [r.name for r in runner.live()]
    assert all(p.poll() is not None for p in runner.all_processes())
