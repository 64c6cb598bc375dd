"""``preflight probe``: the checks, run from where this process is (usually a pod), as JSON lines.

A laptop's network is not the nodes' network: a firewall rule or a custom DNS zone can be right
for a jump box and wrong for a node pool. So ``preflight run --in-cluster`` starts this command
in a pod on each node pool and reads what it prints from the pod log. The log is the only channel
a pod has that needs no extra permission or Service, so the format is made for it:

- one JSON object per line, flushed as it is written (a log cut short still parses line by line);
- each finding is ``Finding.to_dict()`` plus ``"node"`` and ``"node_pool"`` (from the
  environment, ``PREFLIGHT_NODE_NAME`` / ``PREFLIGHT_NODE_POOL``, which the pod spec fills from
  the downward API), so a line read out of context still says where it was measured;
- ``--resolve NAME`` adds one ``{"resolve": NAME, "outcome": ...}`` line per name (the pod's own
  resolver: how the cluster's DNS answers, e.g. for ``kubernetes.default.svc.cluster.local``);
- the last line is ``{"probe": "done", "count": N}``, N being the number of lines before it.
  Its absence tells the controller the output is incomplete (the pod was killed, OOM, deadline).

Everything printed goes through the same ``Redactor`` as the reports. The exit code is 0 whatever
the findings say (the controller judges them); 2 is bad input, as everywhere.

Inputs a pod cannot read from the controller's disk (a user's profile file, a CA bundle) may be
given as ``env:VAR``: the text itself, from an environment variable the pod spec sets. Nothing
here knows any particular check.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from preflight.errors import UsageError

#: checks a probe runs when --check is not given: the ones whose answer depends on the vantage
DEFAULT_CHECKS = ("dns.resolve", "egress.https")
NODE_ENV, POOL_ENV = "PREFLIGHT_NODE_NAME", "PREFLIGHT_NODE_POOL"
PROXY_SOURCE_ENV = "PREFLIGHT_PROXY_SOURCE"
ENV_PREFIX = "env:"


def _from_env(flag: str, value: str) -> str:
    """The text of ``env:VAR`` (UsageError when unset or empty)."""
    name = value[len(ENV_PREFIX) :]
    text = os.environ.get(name, "")
    if not name or not text.strip():
        raise UsageError(f"{flag} {value}: environment variable {name or '?'} is not set")
    return text


def _profile(value: str) -> Any:
    from preflight.profile import load_profile, load_profile_text

    if value.startswith(ENV_PREFIX):
        return load_profile_text(_from_env("--profile", value), f"${value[len(ENV_PREFIX) :]}")
    return load_profile(value)


def prepare_probe(params: Mapping[str, Any]) -> tuple[Any, list[Any]]:
    """(Context, selected checks) for a probe, or UsageError. Like ``session.prepare`` but with
    no cluster, no reports and no output directory: a probe writes nothing but stdout."""
    from preflight import registry as registry_module
    from preflight.cli import _positive
    from preflight.clients.dns import parse_nameserver
    from preflight.context import Context, RunOptions
    from preflight.params import parse_set
    from preflight.session import _known_parameters, validate_parameters, validate_services

    profile = _profile(str(params.get("profile") or "azure-public"))
    registry = registry_module.load()
    validate_services(profile, registry)
    checks = registry.select(tuple(params.get("check") or DEFAULT_CHECKS), ())
    values = parse_set(params.get("set") or (), _known_parameters(profile, registry))
    validate_parameters(values, registry)
    ca_bundle = params.get("ca_bundle") or None
    ca_text = (
        _from_env("--ca-bundle", ca_bundle)
        if ca_bundle and ca_bundle.startswith(ENV_PREFIX)
        else None
    )
    if ca_bundle and ca_text is None and not os.access(ca_bundle, os.R_OK):
        raise UsageError(f"--ca-bundle {ca_bundle}: not a readable file")
    options = RunOptions(
        profile=profile,
        params=values,
        nameservers=[parse_nameserver(n) for n in params.get("nameserver") or ()],
        ca_bundle=None if ca_text is not None else ca_bundle,
        ca_text=ca_text,
        ca_label=ca_bundle,
        proxy=params.get("proxy") or None,
        timeout=_positive("--timeout", params.get("timeout", 5)),
        deadline=_positive("--deadline", params.get("deadline", 120)),
        param_sources={k: "--set" for k in values},
        vantage="in-cluster" if os.environ.get(NODE_ENV) else "probe",
    )
    context = Context(options)
    context.tls_context()  # a bad bundle is exit 2 before anything is printed
    _ = context.proxies  # a malformed proxy URL likewise
    for name in params.get("resolve") or ():
        from preflight.clients.dns import is_valid_hostname

        if not is_valid_hostname(name.rstrip(".")):
            raise UsageError(f"--resolve {name!r}: not a valid DNS host name")
    return context, checks


def run_probe(params: Mapping[str, Any], write: Callable[[str], None] | None = None) -> int:
    """Run the probe and print its JSON lines; 0 whatever the findings say."""
    from preflight.redact import Redactor, is_secret_key

    context, checks = prepare_probe(params)
    emit = write or _stdout_line
    redactor = Redactor([v for k, v in context.params.items() if is_secret_key(k)])
    proxies = context.proxies
    used = proxies.https or proxies.http
    where = {
        "node": os.environ.get(NODE_ENV) or None,
        "node_pool": os.environ.get(POOL_ENV) or None,
        # the proxy this vantage had (from its environment: what the platform injected, or
        # --set probe_proxy), so every in-cluster finding says which path it measured
        "proxy": {
            "url": used.display if used is not None else None,
            "no_proxy": ",".join(proxies.no_proxy),
            "source": os.environ.get(PROXY_SOURCE_ENV) or "environment",
        },
    }
    count = 0

    def line(payload: Mapping[str, Any]) -> None:
        nonlocal count
        emit(json.dumps(redactor.data(dict(payload)), separators=(",", ":"), default=str))
        count += 1

    findings, resolutions = asyncio.run(
        _probe_all(context, checks, tuple(params.get("resolve") or ()))
    )
    for finding in findings:
        line({**finding.to_dict(), **where})
    for resolution in resolutions:
        line({**resolution, **where})
    emit(json.dumps({"probe": "done", "count": count}, separators=(",", ":")))
    return 0


async def _probe_all(
    context: Any, checks: list[Any], names: tuple[str, ...]
) -> tuple[list[Any], list[dict[str, Any]]]:
    """The checks and the ``--resolve`` lookups, concurrently, under the run's deadline."""
    from preflight.session import _run_bounded

    def quietly(check: Any, findings: list[Any]) -> None:
        """No progress output: stdout carries only JSON lines."""

    resolved = asyncio.gather(*(_resolve(context, name) for name in names))
    findings, resolutions = await asyncio.gather(_run_bounded(context, checks, quietly), resolved)
    return findings, list(resolutions)


async def _resolve(context: Any, name: str) -> dict[str, Any]:
    """One ``--resolve`` line: how this vantage's resolver answers ``name``."""
    fqdn = name.rstrip(".")
    try:
        result = await asyncio.wait_for(
            context.dns.resolve(fqdn),
            timeout=max(min(context.remaining(), context.timeout * 3), 0.001),
        )
    except TimeoutError:
        return {
            "resolve": fqdn,
            "outcome": "timeout",
            "addresses": [],
            "error": "no answer in time",
        }
    return {
        "resolve": fqdn,
        **result.to_details(),
        "resolver": context.dns.describe(),
        "duration_ms": round(result.elapsed_s * 1000, 1),
    }


def parse_probe_output(text: str) -> tuple[list[dict[str, Any]], bool]:
    """The JSON lines a probe printed (its pod log) and whether its ``done`` line came with the
    right count. Other lines (a container runtime's or a library's) are passed over."""
    lines: list[dict[str, Any]] = []
    for raw in text.splitlines():
        raw = raw.strip()
        if not raw.startswith("{"):
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(value, dict):
            continue
        if value.get("probe") == "done":
            return lines, value.get("count") == len(lines)
        lines.append(value)
    return lines, False


def _stdout_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
