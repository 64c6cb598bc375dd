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

#: checks a probe runs when --check is not given: the ones whose answer depends on the vantage
DEFAULT_CHECKS = ("dns.resolve", "egress.https")
NODE_ENV, POOL_ENV = "PREFLIGHT_NODE_NAME", "PREFLIGHT_NODE_POOL"
PROXY_SOURCE_ENV = "PREFLIGHT_PROXY_SOURCE"
ENV_PREFIX = "env:"


def prepare_probe(params: Mapping[str, Any]) -> tuple[Any, list[Any]]:
    """(Context, selected checks) for a probe: the run's builder in probe mode (no cluster, no
    reports, ``env:VAR`` inputs)."""
    from preflight.options import prepare

    prepared = prepare(params, mode="probe")
    return prepared.context, prepared.checks


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

    from preflight.session import Interrupts

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
    from preflight.session import _run_bounded

    def quietly(check: Any, findings: list[Any]) -> None:
        """No progress output: stdout carries only JSON lines."""

    resolved = asyncio.gather(*(_resolve(context, name) for name in names))
    findings, resolutions = await asyncio.gather(
        _run_bounded(context, checks, quietly, interrupts), resolved
    )
    return findings, list(resolutions)


async def _resolve(context: Any, name: str) -> dict[str, Any]:
    """One ``--resolve`` line: how this vantage's resolver answers ``name``."""
    from preflight.context import Interrupted

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


def parse_probe_output(text: str) -> tuple[list[dict[str, Any]], bool]:
    """The JSON lines a probe printed (its pod log) and whether its ``done`` line came with the
    right count. Other lines (a container runtime's or a library's) are passed over."""
    from preflight import jsonshape

    lines: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        raw = raw.strip()
        if not raw.startswith("{"):
            continue
        try:  # bounded: no line nests deeper than the reports can carry
            value = jsonshape.loads(raw, "")
        except jsonshape.ShapeError:
            continue
        if not isinstance(value, dict):
            continue
        if value.get("probe") == "done":
            return lines, value.get("count") == len(lines)
        checked = _probe_line(value, number)
        if checked is not None:
            lines.append(checked)
    return lines, False


def _probe_line(value: dict[str, Any], number: int) -> dict[str, Any] | None:
    """A probe's JSON line as it should be, an ``error`` line in its place when a field has the
    wrong type (a probe image of another version, a log mangled on its way), or None for an
    object that is no probe line at all (a library's JSON log), passed over like other noise."""
    from preflight import jsonshape

    check, resolve = value.get("check"), value.get("resolve")
    if not isinstance(check, str) and not isinstance(resolve, str):
        return None
    from preflight.model import Status

    try:
        line = dict(jsonshape.check(value, PROBE_LINE, f"the probe's log (line {number})"))
        status = line.get("status")
        if isinstance(check, str) and status not in {s.value for s in Status}:
            raise jsonshape.ShapeError(
                "", "", statement=f"status {str(status)[:20]!r} is not a finding's status"
            )
        return line
    except jsonshape.ShapeError as exc:
        said = f"the probe printed a line preflight cannot read ({exc.statement}, line {number})"
    if isinstance(resolve, str):
        return {"resolve": resolve, "outcome": "error", "addresses": [], "error": said}
    target = value.get("target")
    return {
        "check": check,
        "status": "error",
        "target": target if isinstance(target, str) else None,
        "message": said,
        "remediation": PROBE_IMAGE_HINT,
        "details": {},
    }


PROBE_IMAGE_HINT = (
    "make sure --set probe_image names preflight's own image of this version (the probe pod runs "
    "`preflight probe` and prints its findings as JSON lines)"
)


def _probe_line_shape() -> Any:
    from preflight.jsonshape import NUM, SCALAR, STR, Arr, Obj

    return Obj(
        {
            "check": STR,
            "status": STR,
            "target": STR,
            "message": STR,
            "remediation": STR,
            "docs": STR,
            "details": Obj(),
            "duration_s": NUM,
            "node": STR,
            "node_pool": STR,
            "proxy": Obj({"url": STR, "source": STR}),
            "resolve": STR,
            "outcome": STR,
            "addresses": Arr(SCALAR),
            "resolver": STR,
            "error": STR,
            "duration_ms": NUM,
        }
    )


#: what ``parse_probe_output`` accepts of one line (preflight.jsonshape)
PROBE_LINE = _probe_line_shape()


def probe_interrupted(text: str) -> str | None:
    """The signal that stopped a probe (``SIGTERM`` for a pod's deadline or deletion), from
    the ``interrupted`` of its done line; None when it ran to its end (or printed no done
    line at all)."""
    for raw in text.splitlines():
        raw = raw.strip()
        if not raw.startswith("{") or '"done"' not in raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("probe") == "done":
            signame = value.get("interrupted")
            return str(signame)[:32] if signame else None
    return None


def _stdout_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
