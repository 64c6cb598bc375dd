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
  SIGTERM (the pod's deadline or deletion) or SIGINT ends the probes still waiting as ``error``
  "interrupted", prints what it has, and a done line with ``"interrupted": "SIGTERM"``; the
  exit code is then 143 (130 for SIGINT), and the controller reports the pool as interrupted.

Everything printed goes through the same ``Redactor`` as the reports. The exit code is 0 whatever
the findings say (the controller judges them); 2 is bad input, as everywhere; 143 / 130 after
SIGTERM / SIGINT (above).

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

from preflight.context import Interrupted
from preflight.interrupts import Interrupts
from preflight.options import prepare
from preflight.probe_output import NODE_ENV, POOL_ENV, PROXY_SOURCE_ENV
from preflight.redact import Redactor, is_secret_key
from preflight.runner import run_bounded

ENV_PREFIX = "env:"


def prepare_probe(params: Mapping[str, Any]) -> tuple[Any, list[Any]]:
    """(Context, selected checks) for a probe: the run's builder in probe mode (no cluster, no
    reports, ``env:VAR`` inputs)."""

    prepared = prepare(params, mode="probe")
    return prepared.context, prepared.checks


def run_probe(params: Mapping[str, Any], write: Callable[[str], None] | None = None) -> int:
    """Run the probe and print its JSON lines; 0 whatever the findings say."""

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

    # SIGTERM (the pod's deadline, its deletion) or SIGINT: the probes still waiting end as
    # error "interrupted", the finished ones are printed, and the done line says so (exit 143
    # or 130), so the controller reports the pool as interrupted rather than as a crash
    interrupts = Interrupts(context)
    interrupts.install()
    try:
        findings, resolutions = asyncio.run(
            _probe_all(context, checks, tuple(params.get("resolve") or ()), interrupts)
        )
        for finding in findings:
            line({**finding.to_dict(), **where})
        for resolution in resolutions:
            line({**resolution, **where})
        done: dict[str, Any] = {"probe": "done", "count": count}
        if interrupts.signum:
            done["interrupted"] = interrupts.name
        emit(json.dumps(done, separators=(",", ":")))
    finally:
        interrupts.uninstall()
    return 128 + interrupts.signum if interrupts.signum else 0


async def _probe_all(
    context: Any, checks: list[Any], names: tuple[str, ...], interrupts: Any = None
) -> tuple[list[Any], list[dict[str, Any]]]:
    """The checks and the ``--resolve`` lookups, concurrently, under the run's deadline."""

    def quietly(check: Any, findings: list[Any]) -> None:
        """No progress output: stdout carries only JSON lines."""

    resolved = asyncio.gather(*(_resolve(context, name) for name in names))
    findings, resolutions = await asyncio.gather(
        run_bounded(context, checks, quietly, interrupts), resolved
    )
    return findings, list(resolutions)


async def _resolve(context: Any, name: str) -> dict[str, Any]:
    """One ``--resolve`` line: how this vantage's resolver answers ``name``."""

    fqdn = name.rstrip(".")
    try:
        result = await asyncio.wait_for(
            context.unless_interrupted(context.dns.resolve(fqdn), "the name resolved"),
            timeout=max(min(context.remaining(), context.timeout * 3), 0.001),
        )
    except Interrupted:
        return {
            "resolve": fqdn,
            "outcome": "interrupted",
            "addresses": [],
            "error": f"interrupted ({context.interruption}) before an answer came",
        }
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


def _stdout_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
