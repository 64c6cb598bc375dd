"""A fake Azure CLI: an executable ``az`` (a small Python script) to put first on ``PATH``.

It stands in for the external tool, not for any of our code: the tool runs it as a subprocess
exactly as it runs the real ``az``. Its behaviour comes from ``az.json`` next to it, which
``FakeAz.configure`` rewrites, and every run appends its argv (one JSON list a line) to
``az-calls.jsonl``::

    az = write_fake_az(tmp_path / "az-bin", token="az-token", cloud="AzureChinaCloud")
    env = az.env()                       # os.environ with az.dir first on PATH
    subprocess.run(["az", "account", "get-access-token", "--resource",
                    "https://management.chinacloudapi.cn/", "-o", "json"], env=env)
    az.calls()  # [["account", "get-access-token", "--resource", "https://...", "-o", "json"]]
    az.resources()  # ["https://management.chinacloudapi.cn/"]

What it answers (everything else: exit 2, "'x' is misspelled or not recognized by the system"):

- ``account get-access-token [--resource R | --resource-type arm | --scope S]``: JSON with
  ``accessToken``, ``expiresOn`` (local time, ``YYYY-MM-DD HH:MM:SS.ffffff``), ``expires_on``
  (epoch seconds), ``subscription``, ``tenant``, ``tokenType``. ``token`` is returned for every
  resource unless ``tokens`` (resource -> token) is given; a resource missing from it fails
  with AADSTS500011 as a resource of another cloud does. Without ``--resource`` the audience is
  the active cloud's ARM audience.
- ``account show``: the signed-in subscription (``id``, ``tenantId``, ``environmentName``, ...).
- ``logged_in=False``: both fail with exit 1 and ``ERROR: Please run 'az login' to setup
  account.``
- ``cloud show [--query name] [-o tsv|json]``: the active ``cloud`` (``AzureCloud``,
  ``AzureChinaCloud``, ``AzureUSGovernment``); ``cloud list``.
- ``version [-o json]``: ``{"azure-cli": ..., "azure-cli-core": ..., "azure-cli-telemetry":
  ..., "extensions": {...}}``; ``extension list`` / ``extension show --name N``.
- ``failures``: ``{"account get-access-token": {"exit": 1, "stderr": "...", "stdout": ""}}``
  makes one command fail its own way; ``delay``: seconds to sleep before answering (timeouts).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["CLOUD_ARM_AUDIENCES", "FakeAz", "write_fake_az"]

#: ``az account get-access-token`` without ``--resource``: the active cloud's ARM audience.
CLOUD_ARM_AUDIENCES = {
    "AzureCloud": "https://management.core.windows.net/",
    "AzureChinaCloud": "https://management.core.chinacloudapi.cn/",
    "AzureUSGovernment": "https://management.core.usgovcloudapi.net/",
}

_CONFIG = "az.json"
_LOG = "az-calls.jsonl"

_DEFAULTS: dict[str, Any] = {
    "token": "az-token",
    "tokens": None,
    "logged_in": True,
    "cloud": "AzureCloud",
    "subscription": "00000000-0000-0000-0000-000000000000",
    "subscription_name": "Contoso Dev",
    "tenant": "72f988bf-0000-4000-8000-000000000001",
    "user": "user@contoso.com",
    "cli_version": "2.61.0",
    "extensions": {"k8s-extension": "1.6.1"},
    "delay": 0.0,
    "failures": {},
    "expires_in": 3599,
}

_SCRIPT = r'''#!{python}
"""Fake Azure CLI for preflight's tests (tests/support/fake_az.py). Not the real az."""
import datetime
import json
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
CFG = json.loads((HERE / "az.json").read_text())
ARGV = sys.argv[1:]
with open(HERE / "az-calls.jsonl", "a", encoding="utf-8") as log:
    log.write(json.dumps(ARGV) + "\n")

ARM = {arm}
ENDPOINTS = {{
    "AzureCloud": ("https://management.azure.com/", "https://login.microsoftonline.com",
                   "core.windows.net"),
    "AzureChinaCloud": ("https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn",
                        "core.chinacloudapi.cn"),
    "AzureUSGovernment": ("https://management.usgovcloudapi.net/",
                          "https://login.microsoftonline.us", "core.usgovcloudapi.net"),
}}


def out(value, output="json"):
    if output == "tsv":
        if isinstance(value, dict):
            value = "\t".join("" if v is None else str(v) for v in value.values())
        print("" if value is None else value)
    else:
        print(json.dumps(value, indent=2))
    sys.exit(0)


def fail(message, code=1):
    sys.stderr.write(message + "\n")
    sys.exit(code)


words, opts, i = [], {{}}, 0
while i < len(ARGV):
    arg = ARGV[i]
    if arg.startswith("-"):
        key = {{"-o": "--output", "-n": "--name", "-s": "--subscription"}}.get(arg, arg)
        if "=" in key:
            key, _, value = key.partition("=")
            opts[key] = value
        elif i + 1 < len(ARGV) and not ARGV[i + 1].startswith("-"):
            opts[key] = ARGV[i + 1]
            i += 1
        else:
            opts[key] = True
        i += 1
        continue
    words.append(arg)
    i += 1

if CFG.get("delay"):
    time.sleep(float(CFG["delay"]))
command = " ".join(words)
output = opts.get("--output", "json")
if command in CFG.get("failures", {{}}):
    spec = CFG["failures"][command]
    if spec.get("stdout"):
        sys.stdout.write(spec["stdout"])
    fail(spec.get("stderr", "ERROR: failure injected by the test"), int(spec.get("exit", 1)))

cloud = CFG["cloud"]
if command == "version":
    out({{
        "azure-cli": CFG["cli_version"],
        "azure-cli-core": CFG["cli_version"],
        "azure-cli-telemetry": "1.1.0",
        "extensions": CFG.get("extensions") or {{}},
    }})
if command == "extension list":
    out([
        {{"experimental": False, "extensionType": "whl", "name": name,
          "path": "/home/user/.azure/cliextensions/" + name, "preview": False, "version": ver}}
        for name, ver in (CFG.get("extensions") or {{}}).items()
    ], output)
if command == "extension show":
    name = opts.get("--name")
    ver = (CFG.get("extensions") or {{}}).get(name)
    if ver is None:
        fail("ERROR: The extension {{}} is not installed.".format(name))
    out({{"extensionType": "whl", "name": name, "version": ver}}, output)
if command in ("cloud show", "cloud list"):
    def doc(name):
        arm, login, suffix = ENDPOINTS.get(name, ENDPOINTS["AzureCloud"])
        return {{
            "endpoints": {{"activeDirectory": login, "resourceManager": arm,
                           "management": ARM.get(name, "")}},
            "isActive": name == cloud, "name": name, "profile": "latest",
            "suffixes": {{"storageEndpoint": suffix}},
        }}
    if command == "cloud list":
        out([doc(name) for name in ENDPOINTS], output)
    query = opts.get("--query")
    if query == "name":
        out(cloud, output)
    if query:
        out(None, output)
    out(doc(cloud), output)
if command in ("account get-access-token", "account show"):
    if not CFG.get("logged_in", True):
        fail("ERROR: Please run 'az login' to setup account.")
    if command == "account show":
        out({{
            "environmentName": cloud, "homeTenantId": CFG["tenant"], "id": CFG["subscription"],
            "isDefault": True, "managedByTenants": [], "name": CFG["subscription_name"],
            "state": "Enabled", "tenantId": CFG["tenant"],
            "user": {{"name": CFG["user"], "type": "user"}},
        }}, output)
    resource = opts.get("--resource")
    if resource is None and opts.get("--scope"):
        resource = str(opts["--scope"])
        if resource.endswith("/.default"):
            resource = resource[: -len("/.default")] + "/"
    if resource is None:
        resource = ARM.get(cloud, ARM["AzureCloud"])
    tokens = CFG.get("tokens")
    token = tokens.get(resource) if tokens is not None else CFG["token"]
    if token is None:
        fail(
            "ERROR: AADSTS500011: The resource principal named {{}} was not found in the tenant "
            "named {{}}. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You might "
            "have sent your authentication request to the wrong tenant.".format(
                resource, CFG["tenant"])
        )
    expires = time.time() + int(CFG.get("expires_in", 3599))
    out({{
        "accessToken": token,
        "expiresOn": datetime.datetime.fromtimestamp(expires).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "expires_on": int(expires),
        "subscription": CFG["subscription"],
        "tenant": CFG["tenant"],
        "tokenType": "Bearer",
    }}, output)
first = words[0] if words else ""
fail("ERROR: '{{}}' is misspelled or not recognized by the system.".format(first), 2)
'''


class FakeAz:
    """A fake ``az`` in ``dir``. ``os.fspath(fake)`` and ``str(fake)`` are the directory, so
    the object can be used wherever the directory to prepend to ``PATH`` is wanted."""

    def __init__(self, directory: str | os.PathLike[str], **config: Any) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "az"
        self.config_path = self.dir / _CONFIG
        self.log_path = self.dir / _LOG
        self.config: dict[str, Any] = dict(_DEFAULTS)
        self.configure(**config)
        self.path.write_text(
            _SCRIPT.format(python=sys.executable, arm=repr(CLOUD_ARM_AUDIENCES)),
            encoding="utf-8",
        )
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def configure(self, **changes: Any) -> None:
        """Change what the fake answers from now on (keys as ``write_fake_az``)."""
        unknown = set(changes) - set(_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown fake az settings: {sorted(unknown)}")
        self.config.update(changes)
        self.config_path.write_text(json.dumps(self.config, indent=2), encoding="utf-8")

    # -- PATH ------------------------------------------------------------------------------------
    def __fspath__(self) -> str:
        return str(self.dir)

    def __str__(self) -> str:
        return str(self.dir)

    def __repr__(self) -> str:
        return f"FakeAz({str(self.dir)!r})"

    def path_with(self, path: str | None = None) -> str:
        """``PATH`` with this directory first (``path`` defaults to ``os.environ["PATH"]``)."""
        rest = os.environ.get("PATH", "") if path is None else path
        return f"{self.dir}{os.pathsep}{rest}" if rest else str(self.dir)

    def env(self, base: Mapping[str, str] | None = None, **more: str) -> dict[str, str]:
        """A copy of ``base`` (default ``os.environ``) with this ``az`` first on ``PATH``."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = self.path_with(env.get("PATH", ""))
        env.update(more)
        return env

    # -- records ---------------------------------------------------------------------------------
    def calls(self) -> list[list[str]]:
        """The argv (without ``az``) of every run so far, oldest first."""
        try:
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def resources(self) -> list[str]:
        """The ``--resource`` of every ``account get-access-token`` run, in order."""
        found: list[str] = []
        for argv in self.calls():
            if argv[:2] == ["account", "get-access-token"] and "--resource" in argv:
                index = argv.index("--resource")
                if index + 1 < len(argv):
                    found.append(argv[index + 1])
        return found

    def clear_calls(self) -> None:
        self.log_path.unlink(missing_ok=True)


def write_fake_az(directory: str | os.PathLike[str], **config: Any) -> FakeAz:
    """Write an executable fake ``az`` into ``directory`` and return it.

    Settings (all optional): ``token`` ("az-token"), ``tokens`` (resource -> token, or None),
    ``logged_in`` (True), ``cloud`` ("AzureCloud" | "AzureChinaCloud" | "AzureUSGovernment"),
    ``subscription``, ``subscription_name``, ``tenant``, ``user``, ``cli_version`` ("2.61.0"),
    ``extensions`` ({"k8s-extension": "1.6.1"}; {} for none), ``delay`` (seconds),
    ``failures`` ({"<command words>": {"exit": 1, "stderr": "...", "stdout": ""}}),
    ``expires_in`` (seconds).
    """
    return FakeAz(directory, **config)
