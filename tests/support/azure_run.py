"""The real CLI and Azure, never a real one: online, against one fake Azure (``FakeArm`` over
TLS, IMDS refusing or a ``FakeImds``, a user profile pointing at them, no ``az`` on PATH unless a
fake one is given, the token in ``AZURE_ACCESS_TOKEN`` unless a test takes it away; built by the
``azure`` fixture in tests/conftest.py); offline, on what ``az aks show -o json`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.arm_server import FakeArm
from support.fake_az import FakeAz
from tests.clirun import Result, assert_actionable, no_azure_credentials, preflight

SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-ml"
TOKEN = "tok-7Q9xS3cr3tV4lue-never-printed"

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
    ) -> Result:
        """``preflight run`` of ``checks`` on ``cluster`` (in SUB/RG; ``None``: no cluster
        named); a run that gets as far as findings must have actionable ones."""
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
        if result.code in (0, 1):
            assert_actionable(result)
        return result


def az_aks_show(body: dict[str, Any]) -> dict[str, Any]:
    """What ``az aks show -o json`` prints for an ARM managedClusters document: the properties
    flattened to the top level, plus the CLI's resourceGroup."""
    flat = {k: v for k, v in body.items() if k != "properties"}
    flat.update(body["properties"])
    flat["resourceGroup"] = body["id"].split("/")[4]
    return flat
