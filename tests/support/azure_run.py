"""The real CLI and Azure, never a real one: online, against one fake Azure (``FakeArm`` over
TLS, IMDS refusing or a ``FakeImds``, a user profile pointing at them, no ``az`` on PATH unless a
fake one is given, the token in ``AZURE_ACCESS_TOKEN`` unless a test takes it away; built by the
``azure`` fixture in tests/conftest.py); offline, on what ``az aks show -o json`` prints. The
cluster ``run`` names by default is ``aks()``; a workspace in it, ``workspace_id()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import azure_objects
from support.arm_server import FakeArm
from support.fake_az import FakeAz
from tests.clirun import Result, assert_actionable, no_azure_credentials, preflight

SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-ml"
TOKEN = "tok-7Q9xS3cr3tV4lue-never-printed"
VERSION = "1.36.2"  # inside the built-in profiles' window
WS_RG = "ml"  # the workspaces' resource group

#: ``Azure.run(token=OWN)``: the token this fake Azure accepts (``None``: no token at all)
OWN = "<the fake's own token>"


@dataclass
class Azure:
    """One fake Azure for a test, and how to run preflight against it."""

    folder: Path
    arm: FakeArm
    profile: Path
    ca_bundle: Path
    token: str = TOKEN
    counter: int = 0

    def run(
        self,
        *args: str,
        checks: tuple[str, ...] = ("azure.*",),
        token: str | None = OWN,
        az: FakeAz | None = None,
        cluster: str | None = "aks1",
        env: dict[str, str] | None = None,
        timeout: float = 120,
        kubeconfig: Path | None = None,
        nameserver: str | None = None,
    ) -> Result:
        """``preflight run`` of ``checks`` on ``cluster`` (in SUB/RG; ``None``: no cluster
        named), with ``--kubeconfig`` and ``--nameserver`` (a fake DNS server, answering at once:
        ``--timeout 2``) when given; a run that gets as far as findings must have actionable
        ones, none of them a crash, and the token is never printed."""
        self.counter += 1
        environment = {
            **no_azure_credentials(self.folder),
            "AZURE_ACCESS_TOKEN": (self.token if token == OWN else token) or "",
            **({"PATH": str(az.dir)} if az is not None else {}),
            **(env or {}),
        }
        params: list[str] = []
        if cluster is not None:
            params += ["--set", f"subscription_id={SUB}", "--set", f"resource_group={RG}"]
            params += ["--set", f"cluster_name={cluster}"]
        if kubeconfig is not None:
            params += ["--kubeconfig", str(kubeconfig)]
        if nameserver is not None:
            params += ["--nameserver", nameserver, "--timeout", "2"]
        selection = [x for c in checks for x in ("--check", c)]
        result = preflight(
            "run",
            "--profile",
            str(self.profile),
            "--ca-bundle",
            str(self.ca_bundle),
            "--format",
            "json,html,junit,md",
            *selection,
            *params,
            *args,
            env=environment,
            out=self.folder / f"out-{self.counter}",
            timeout=timeout,
        )
        assert "Traceback" not in result.stderr, result.stderr
        for secret in {self.token, environment["AZURE_ACCESS_TOKEN"]} - {""}:
            assert secret not in result.stdout + result.stderr, "a token was printed"
        if result.code in (0, 1):
            assert_actionable(result)
            for finding in result.findings():
                assert "failed inside preflight" not in finding["message"], finding
        return result


def aks(location: str = "eastus", **kwargs: Any) -> dict[str, Any]:
    """The AKS cluster ``Azure.run`` names by default (aks1 in SUB/RG, Kubernetes VERSION)."""
    kwargs.setdefault("kubernetes_version", VERSION)
    return azure_objects.managed_cluster("aks1", SUB, RG, location, **kwargs)


def workspace_id(name: str = "ws") -> str:
    """The id of workspace ``name`` in SUB/WS_RG (``azure_objects.workspace(name, SUB, WS_RG)``)."""
    return azure_objects.workspace_id(name, SUB, WS_RG)


def az_aks_show(body: dict[str, Any]) -> dict[str, Any]:
    """What ``az aks show -o json`` prints for an ARM managedClusters document: the properties
    flattened to the top level, plus the CLI's resourceGroup."""
    flat = {k: v for k, v in body.items() if k != "properties"}
    flat.update(body["properties"])
    flat["resourceGroup"] = body["id"].split("/")[4]
    return flat
