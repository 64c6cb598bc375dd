"""The recommended ``az k8s-extension create`` command: built from the planned settings and every
finding's ``details["recommend"]``, shown in report.json, summary.md, report.html and on stdout.
"""

from __future__ import annotations

import io
import os
import shlex
from pathlib import Path
from typing import Any

from support.plugins import install_plugin

from preflight.reports import markdown, terminal
from tests.clirun import Result, preflight

PREFIX = "az k8s-extension create --name azureml --extension-type Microsoft.AzureML.Kubernetes"


def plan(tmp_path: Path, settings: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return preflight(
        "run",
        "--check",
        "extension.config",
        "--extension-config",
        settings,
        "--format",
        "json,md,html",
        *args,
        env=env,
        out=tmp_path / "out",
    )


def recommendation(result: Result) -> dict[str, Any]:
    value: dict[str, Any] = result.report()["recommendation"]
    return value


def test_valid_settings_come_back_unchanged_in_the_users_spelling(tmp_path: Path) -> None:
    settings = (
        "enableTraining=True enableInference=True inferenceRouterServiceType=LoadBalancer "
        "allowInsecureConnections=True inferenceRouterHA=False"
    )
    result = plan(
        tmp_path,
        settings,
        "--set",
        "cluster_name=aks-prod",
        "--set",
        "resource_group=rg-ml",
    )
    rec = recommendation(result)
    assert rec["command"] == (
        f"{PREFIX} --config {settings} --cluster-type managedClusters --cluster-name aks-prod "
        "--resource-group rg-ml --scope cluster"
    )
    assert rec["changes"] == [] and rec["reasons"] == []
    assert rec["cluster_type"] == "managedClusters"


def test_arc_clusters_and_extension_name(tmp_path: Path) -> None:
    result = plan(
        tmp_path,
        "enableTraining=True",
        "--set",
        "cluster_type=arc",
        "--set",
        "extension_name=ml ext",
    )
    command = recommendation(result)["command"]
    assert command.startswith("az k8s-extension create --name 'ml ext' --extension-type")
    assert "--cluster-type connectedClusters" in command


def test_protected_settings_move_to_config_protected_quoted(tmp_path: Path) -> None:
    folder = tmp_path / "my certs"
    folder.mkdir()
    cert, key = folder / "cert.pem", folder / "key.pem"
    cert.write_text("x")
    key.write_text("x")
    settings = shlex.join(
        [
            "enableInference=True",
            "inferenceRouterServiceType=nodePort",
            "inferenceRouterHA=False",
            f"sslCertPemFile={cert}",
            "sslCname=ml.contoso.com",
            f"sslKeyPemFile={key}",
        ]
    )
    rec = recommendation(plan(tmp_path, settings))
    words = shlex.split(rec["command"])
    protected = words.index("--config-protected")
    assert words[words.index("--config") + 1 : protected] == [
        "enableInference=True",
        "inferenceRouterServiceType=nodePort",
        "inferenceRouterHA=False",
        "sslCname=ml.contoso.com",
    ]
    assert words[protected + 1 : protected + 3] == [
        f"sslCertPemFile={cert}",
        f"sslKeyPemFile={key}",
    ]
    assert f"'sslCertPemFile={cert}'" in rec["command"]  # the space is quoted for the shell
    assert rec["reasons"][0].startswith(
        "sslCertPemFile, sslKeyPemFile moved from --config to --config-protected"
    )


def test_misspellings_are_corrected_and_arc_drops_the_internal_load_balancer(
    tmp_path: Path,
) -> None:
    result = plan(
        tmp_path,
        "enableInference=True inferenceRouterServiceType=loadbalancr allowInsecureConnections=yes "
        "inferenceRouterHA=False internalLoadBalancerProvider=azure 'sslCname=a;b' "
        "enableTrainnig=True",
        "--set",
        "cluster_type=arc",
    )
    rec = recommendation(result)
    words = shlex.split(rec["command"])
    config = words[words.index("--config") + 1 : words.index("--cluster-type")]
    assert config == [
        "enableInference=True",
        "inferenceRouterServiceType=loadBalancer",
        "allowInsecureConnections=True",
        "inferenceRouterHA=False",
        "sslCname=a;b",
        "enableTraining=True",
    ]
    assert "'sslCname=a;b'" in rec["command"]
    changes = {c["setting"]: (c["from"], c["to"], c["check"]) for c in rec["changes"]}
    assert changes == {
        "inferenceRouterServiceType": ("loadbalancr", "loadBalancer", "extension.config"),
        "allowInsecureConnections": ("yes", "True", "extension.config"),
        "internalLoadBalancerProvider": ("azure", None, "extension.config"),
        "enableTrainnig": ("True", None, "extension.config"),
        "enableTraining": (None, "True", "extension.config"),
    }
    reasons = "\n".join(rec["reasons"])
    assert "internalLoadBalancerProvider: azure -> (left out), because" in reasons
    assert "E40003" in reasons
    assert "enableTraining: False (default) -> True" in reasons


def test_unresolved_problems_are_listed(tmp_path: Path) -> None:
    rec = recommendation(plan(tmp_path, "enableInference=True allowInsecureConnections=True"))
    assert rec["unresolved"] == [
        "inferenceRouterServiceType: inferenceRouterServiceType is required with "
        "enableInference=True"
    ]
    assert rec["reasons"][-1].startswith("still to fix by hand: inferenceRouterServiceType")


PLUGIN = """
from preflight.api import Check, Finding

class Gpu(Check):
    id = "contoso.gpu"
    title = "Proposes settings, some in conflict"
    category = "gpu"

    def run(self, ctx):
        return [
            Finding.warned("aks-gpu-0", "GPU nodes without a device plugin", "install one",
                           recommend={"installNvidiaDevicePlugin": "True"}),
            Finding.failed("nvidia-device-plugin", "a device plugin already runs",
                           "reuse it", recommend={"InstallNvidiaDevicePlugin": "false"}),
            Finding.warned("dcgm-a", "an exporter is missing", "install",
                           recommend={"installDcgmExporter": "True"}),
            Finding.warned("dcgm-b", "an exporter already runs", "reuse",
                           recommend={"installDcgmExporter": "False"}),
            Finding.warned("prom", "no conflict", "x", recommend={"installPromOp": "True"}),
            Finding.warned("cert", "a key file", "x", recommend={"sslKeyPemFile": "/k.pem"}),
            Finding.warned("junk", "ignored", "x", recommend="not a mapping"),
        ]

CHECKS = [Gpu()]
"""


def plugin_env(tmp_path: Path) -> dict[str, str]:
    site = install_plugin(tmp_path / "site", "contoso_rec", PLUGIN, {"contoso_rec": "contoso_rec"})
    paths = [str(site), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def test_recommendations_from_any_check_merge_and_conflicts_pick_the_safer(
    tmp_path: Path,
) -> None:
    result = plan(
        tmp_path,
        "enableTraining=True installNvidiaDevicePlugin=True installDcgmExporter=True",
        "--check",
        "contoso.gpu",
        env=plugin_env(tmp_path),
    )
    rec = recommendation(result)
    words = shlex.split(rec["command"])
    assert words[words.index("--config") + 1 : words.index("--config-protected")] == [
        "enableTraining=True",
        "installNvidiaDevicePlugin=False",  # the fail's fix beats the warn's, as documented
        "installDcgmExporter=False",  # equal severity: the one that installs less
    ]
    assert words[words.index("--config-protected") + 1] == "sslKeyPemFile=/k.pem"
    assert "installPromOp" not in rec["command"]  # True is the default: nothing to change
    conflicts = [r for r in rec["reasons"] if r.startswith("conflicting recommendations")]
    assert len(conflicts) == 2
    assert conflicts[0].startswith(
        "conflicting recommendations for installNvidiaDevicePlugin: contoso.gpu (fail) wants "
        "installNvidiaDevicePlugin=False; contoso.gpu (warn) wants installNvidiaDevicePlugin=True."
        " Chose False"
    )
    nvidia = next(c for c in rec["changes"] if c["setting"] == "installNvidiaDevicePlugin")
    assert nvidia["from"] == "True" and nvidia["because"] == "a device plugin already runs"
    assert nvidia["status"] == "fail" and nvidia["check"] == "contoso.gpu"


def test_recommendation_in_every_report(tmp_path: Path) -> None:
    result = plan(tmp_path, "enableTraining=True 'nodeSelector.team=<b>'")
    command = recommendation(result)["command"]
    out = tmp_path / "out"
    summary = (out / "summary.md").read_text()
    assert f"### Recommended command\n\n```sh\n{command}\n```" in summary
    html = (out / "report.html").read_text()
    assert "Recommended command" in html
    assert "nodeSelector.team=&lt;b&gt;" in html and "nodeSelector.team=<b>" not in html
    lines = result.stdout.splitlines()
    assert lines[lines.index("Recommended command:") + 1] == command


def test_renderers_keep_the_command_inert() -> None:
    command = "az k8s-extension create --config 'a=```' '[bold]x[/bold]' " + "x" * 300
    report = {
        "schema": "preflight.report/v1",
        "results": [],
        "recommendation": {"command": command, "reasons": ["<script>alert(1)</script> | `x`"]},
    }
    text = markdown.render(report)
    assert "\n````sh\n" + command + "\n````\n" in text  # a fence longer than any run inside
    assert "- &lt;script&gt;alert(1)&lt;/script&gt; \\| \\`x\\`" in text

    from rich.console import Console

    console = Console(file=io.StringIO(), width=80, record=True, no_color=True)
    terminal.print_summary(report, console)
    printed = console.export_text().splitlines()
    at = printed.index("Recommended command:")
    assert printed[at + 1] == command  # one line, never wrapped, no markup applied
    assert printed[at + 2].startswith("  - <script>")

    nothing = markdown.render({"results": [], "recommendation": {"command": ""}})
    assert "Recommended command" not in nothing
