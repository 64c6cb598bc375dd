"""A third-party plugin, installed out of tree, is found through the entry-point group
``preflight.checks`` and run by the real CLI; its bugs and hangs stay its own."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.plugins import install_plugin

from tests.clirun import preflight

PLUGIN = """
import asyncio, time
from preflight.api import Check, Finding

class Ntp(Check):
    id = "contoso.ntp"
    title = "Contoso time server"
    category = "connectivity"
    needs = ("network",)
    parameters = {"ntp_server": "the time server every node must reach"}

    def run(self, ctx):  # a plain method: the runner moves it to a thread
        return [Finding.passed(ctx.param("ntp_server", "unset"), "answered")]

class Boom(Check):
    id = "contoso.boom"
    title = "A buggy check"
    async def run(self, ctx):
        raise RuntimeError("kaboom")

class Hang(Check):
    id = "contoso.hang"
    title = "A check that never returns"
    async def run(self, ctx):
        await asyncio.sleep(3600)

class HangSync(Check):
    id = "contoso.hangsync"
    title = "A blocking check that never returns"
    def run(self, ctx):
        time.sleep(3600)

class Partial(Check):
    id = "contoso.partial"
    title = "Three targets, one hangs"
    async def run(self, ctx):
        async def probe(name):
            if name == "stuck":
                await asyncio.sleep(3600)
            return Finding.passed(name, "fine")
        return await ctx.probe_each(["a", "b", "stuck"], probe, lambda n: n)

class NeedsUnicorn(Check):
    id = "contoso.unicorn"
    title = "Needs something nobody provides"
    needs = ("unicorn",)
    def run(self, ctx):
        return [Finding.passed(None, "never")]

class Silent(Check):
    id = "contoso.silent"
    title = "Returns nothing"
    def run(self, ctx):
        return []

CHECKS = [Ntp(), Boom(), Hang(), HangSync(), Partial(), NeedsUnicorn(), Silent()]
"""


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """An installed distribution ``contoso-preflight`` and a second entry point whose module
    cannot be imported."""
    return install_plugin(
        tmp_path / "site",
        "contoso_preflight",
        PLUGIN,
        {"contoso": "contoso_preflight", "broken": "broken_plugin"},
        modules={"broken_plugin": "raise ImportError('missing dependency foo')\n"},
    )


def test_plugin_is_listed(plugin_path: Path) -> None:
    result = preflight("checks", "--json", env={"PYTHONPATH": str(plugin_path)})
    assert result.code == 0
    ids = {c["id"] for c in __import__("json").loads(result.stdout)}
    assert {"contoso.ntp", "dns.resolve", "egress.https"} <= ids
    assert (
        "plugin 'broken' could not be loaded: ImportError: missing dependency foo" in result.stderr
    )


def test_plugin_runs_and_its_failures_stay_its_own(plugin_path: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    result = preflight(
        "run",
        "--check",
        "contoso.*",
        "--set",
        "ntp_server=ntp.contoso.com",
        "--deadline",
        "2",
        env={"PYTHONPATH": str(plugin_path)},
        out=tmp_path / "out",
    )
    elapsed = time.monotonic() - started
    assert elapsed < 30, "hung checks (even a blocking one) must not hold the process"
    assert result.code == 1, result.stderr
    findings = result.findings()
    by_check: dict[str, list[dict]] = {}
    for f in findings:
        by_check.setdefault(f["check"], []).append(f)
    assert by_check["contoso.ntp"][0]["status"] == "pass"
    assert by_check["contoso.ntp"][0]["target"] == "ntp.contoso.com"
    boom = by_check["contoso.boom"]
    assert [f["status"] for f in boom] == ["error"] and "kaboom" in boom[0]["message"]
    for hung in ("contoso.hang", "contoso.hangsync"):
        assert [f["status"] for f in by_check[hung]] == ["error"]
        assert "deadline (2s)" in by_check[hung][0]["message"]
    partial = {f["target"]: f["status"] for f in by_check["contoso.partial"]}
    assert partial == {"a": "pass", "b": "pass", "stuck": "error"}
    unicorn = by_check["contoso.unicorn"][0]
    assert unicorn["status"] == "skip" and "unicorn" in unicorn["message"]
    assert by_check["contoso.silent"][0]["status"] == "error"
    # --check narrowed the run, so the broken plugin's absence is a warning, not a failure
    assert by_check["plugin.broken"][0]["status"] == "warn"
    assert result.report()["summary"]["verdict"] == "fail"


def test_plugin_parameter_is_a_known_set_key(plugin_path: Path, tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(plugin_path)}
    ok = preflight(
        "run", "--check", "contoso.ntp", "--set", "ntp_server=x", env=env, out=tmp_path / "o"
    )
    assert ok.code == 0, ok.stdout
    bad = preflight(
        "run", "--check", "contoso.ntp", "--set", "ntp_servr=x", env=env, out=tmp_path / "o"
    )
    assert bad.code == 2
    assert "did you mean ntp_server?" in bad.stderr
