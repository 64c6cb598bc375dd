"""One fake Azure per test for the issue-19 tests (test_region.py, test_monitoring.py,
test_arc_identity.py): the real ``preflight`` command against ``FakeArm`` through a user profile
that extends a built-in one, with ``az`` off PATH and only the token the test gives, so nothing
reaches a real Azure. Like tests/checks/azure/test_arm.py's ``Azure``, with a kubeconfig and a
nameserver when a test wants them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.arm_server import FakeArm

from tests.clirun import Result, preflight

SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-ml"
TOKEN = "tok-issue19-never-printed"
WS_RG = "ml"
VERSION = "1.36.2"


def workspace_id(name: str = "ws", sub: str = SUB, rg: str = WS_RG) -> str:
    return (
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{name}"
    )


@dataclass
class Azure:
    tmp_path: Path
    arm: FakeArm
    profile: Path
    ca_bundle: Path
    counter: int = 0

    def run(
        self,
        *args: str,
        checks: tuple[str, ...] = ("azure.*",),
        token: str | None = TOKEN,
        cluster: str | None = "aks1",
        kubeconfig: Path | None = None,
        nameserver: str | None = None,
    ) -> Result:
        self.counter += 1
        empty = self.tmp_path / "empty-bin"
        empty.mkdir(exist_ok=True)
        env = {"PATH": str(empty), "AZURE_ACCESS_TOKEN": token or ""}
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
            "json",
            *selection,
            *params,
            *args,
            env=env,
            out=self.tmp_path / f"out-{self.counter}",
            timeout=120,
        )
        assert result.code in (0, 1), (result.code, result.stderr[-2000:])
        assert "Traceback" not in result.stderr, result.stderr
        for finding in result.findings():
            if finding["status"] != "pass":
                assert finding["message"] and finding["remediation"], finding
            assert "failed inside preflight" not in finding["message"], finding
        assert TOKEN not in result.stdout + result.stderr
        return result


def make(
    tmp_path: Path,
    fake_arm: Any,
    azure_profile: Any,
    ca_bundle: Path,
    refused_port: int,
    resources: Any = (),
    base: str = "azure-public",
    **kwargs: Any,
) -> Azure:
    kwargs.setdefault("tokens", {TOKEN})
    arm = fake_arm(resources, **kwargs)
    profile = azure_profile(base=base, arm=arm.url, imds=f"http://127.0.0.1:{refused_port}")
    return Azure(tmp_path, arm, profile, ca_bundle)
