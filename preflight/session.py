"""One ``preflight run``: validate every input first (exit 2), run, write reports, gate.

All usage problems surface before any probe leaves the machine, so a typo never costs a
five-minute run. Once running, nothing the network does can stop the report from being written.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from preflight import report, waivers
from preflight.compare import compare
from preflight.context import internal_error
from preflight.interrupts import Interrupts, say
from preflight.model import Finding, Status, gate_holds, nothing_checked, summarize
from preflight.options import prepare
from preflight.redact import Redactor
from preflight.registry import in_phase
from preflight.report import iso
from preflight.reports import write_reports
from preflight.reports.terminal import print_summary
from preflight.runner import run_bounded

EXIT_OK, EXIT_GATE = 0, 1


def run_session(params: Mapping[str, Any]) -> int:
    """Prepare (exit 2 on bad input), run the checks, write the reports; the exit code."""

    prepared = prepare(params)
    context, registry, checks = prepared.context, prepared.registry, prepared.checks
    extras = {
        "formats": prepared.formats,
        "target": prepared.target,
        "out": prepared.out,
        "waivers": prepared.waivers,
        "ran": [c.id for c in checks],
    }
    no_color = bool(params.get("no_color")) or "NO_COLOR" in os.environ
    progress = Console(stderr=True, no_color=no_color) if sys.stderr.isatty() else None
    run_id = context.run_id
    started = time.time()

    def on_done(check: Any, findings: list[Any]) -> None:
        if progress is None:
            return
        worst = max((f.status for f in findings), key=lambda s: s.severity)
        progress.print(
            f"  {check.id}: {len(findings)} finding(s), worst {worst}",
            highlight=False,
            markup=False,
        )

    if progress is not None:
        progress.print(
            f"preflight {context.profile.name}: running {len(checks)} check(s)...",
            highlight=False,
            markup=False,
        )
    interrupts = Interrupts(context)
    interrupts.install()
    try:
        try:
            findings = asyncio.run(run_bounded(context, checks, on_done, interrupts))
        finally:  # success, failure, deadline, Ctrl-C, SIGTERM: what the run created goes
            problems = context.run_cleanups(20.0 if interrupts.signum else CLEANUP_SECONDS)
        findings += _cleanup_findings(problems)
        if interrupts.signum:
            done = "cleaned up" if not problems else "cleanup incomplete (see the report)"
            say(f"preflight: {done}; writing the report")
        code = _report(context, registry, extras, params, findings, run_id, started, no_color)
    finally:
        interrupts.uninstall()
    return 128 + interrupts.signum if interrupts.signum else code  # 130 SIGINT, 143 SIGTERM


def _report(
    context: Any,
    registry: Any,
    extras: dict[str, Any],
    params: Mapping[str, Any],
    findings: list[Any],
    run_id: str,
    started: float,
    no_color: bool,
) -> int:
    """Summaries, report files, the summary table, a dry run's manifests; the gate's code."""

    findings += _broken_plugins(registry, selected_all=not params.get("check"))
    findings += waivers.apply(findings, extras["waivers"], extras["ran"])
    if nothing_checked(findings):
        findings.append(_nothing_checked(findings))
    summaries = _summaries(context, registry, findings)
    finished = time.time()

    redactor = Redactor(context.secrets())
    target = extras["target"]
    document = report.build(
        run_id=run_id,
        started=started,
        finished=finished,
        profile={"name": context.profile.name, "cloud": context.profile.cloud},
        parameters=context.params,
        target=_target(context, target),
        findings=findings,
        redactor=redactor,
        extra={**_extras(context), **summaries, **_comparison(context, findings, run_id, started)},
    )
    paths = write_reports(document, extras["out"], extras["formats"], registry.category_order())
    if not params.get("quiet"):
        width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "140") or 140)
        print_summary(document, Console(no_color=no_color, soft_wrap=False, width=width))
        for path in paths:
            print(f"wrote {path}")
    if context.dry_run:
        _print_manifests(context, redactor, extras["out"], quiet=bool(params.get("quiet")))
    verdict = document["summary"]["verdict"]
    return EXIT_OK if gate_holds(verdict, str(params.get("fail_on") or "fail")) else EXIT_GATE


#: bound on deleting what a run created (a namespace delete, then a short wait for it to go)
CLEANUP_SECONDS = 60.0


def _cleanup_findings(problems: list[str]) -> list[Any]:
    """What a run could not delete: a warning each, so nobody is surprised by a leftover."""

    return [
        Finding(
            Status.WARN,
            None,
            problem,
            "run `preflight cleanup` (it finds every namespace a run of preflight left)",
            check="preflight.cleanup",
            title="Nothing left behind",
            category="other",
        )
        for problem in problems
    ]


def _nothing_checked(findings: list[Any]) -> Finding:
    """Every finding a skip: the run concluded nothing, and a gate must not read that as green.
    The remediation gathers what the skipped checks asked for."""
    asked = list(dict.fromkeys(f.remediation for f in findings if f.remediation))
    shown = "; ".join(asked[:5]) + (f"; and {len(asked) - 5} more" if len(asked) > 5 else "")
    return Finding(
        Status.WARN,
        None,
        f"nothing was checked: all {len(findings)} finding(s) of this run are skip"
        if findings
        else "nothing was checked: the selected checks reported nothing",
        f"supply what the skipped checks need: {shown}"
        if shown
        else "select checks that apply to this environment (`preflight checks`)",
        details={"skipped": [f"{f.check}: {f.message}" for f in findings][:50]},
        check="preflight.coverage",
        title="Something was checked",
        category="other",
    )


def _print_manifests(context: Any, redactor: Any, out: Path, *, quiet: bool) -> None:
    """A dry run's manifests: DIR/manifests.yaml, and stdout after the summary (alone with
    --quiet, so ``preflight run --dry-run --quiet | kubectl apply -f -`` works)."""

    documents = [_redact_strings(redactor, m) for m in context.manifests]
    text = yaml.safe_dump_all(documents, sort_keys=False) if documents else ""
    path = out / "manifests.yaml"
    header = "# preflight --dry-run: what this run would have applied\n"
    path.write_text(header + (text or "# (no in-cluster step ran)\n"), encoding="utf-8")
    if not quiet:
        print(f"wrote {path}")
    if text:
        sys.stdout.write(("---\n" if not quiet else "") + text)
        sys.stdout.flush()


def _redact_strings(redactor: Any, value: Any) -> Any:
    """Secret values and shapes masked in strings only: keys such as a secretKeyRef's ``key``
    are names, and masking them would break the manifest."""
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, dict):
        return {k: _redact_strings(redactor, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_strings(redactor, v) for v in value]
    return value


def _broken_plugins(registry: Any, selected_all: bool) -> list[Any]:
    """A plugin that failed to load: error when every check was asked for (its checks are
    missing from the verdict), warn when --check narrowed the run anyway."""

    status = Status.ERROR if selected_all else Status.WARN
    return [
        Finding(
            status,
            None,
            f"plugin {name!r} failed to load: {reason}",
            "fix or uninstall the plugin package (see `preflight checks`)",
            check=f"plugin.{name}",
            title=f"Plugin {name}",
            category="other",
        )
        for name, reason in registry.broken
    ]


CORE_KEYS = {
    "schema",
    "tool",
    "run",
    "profile",
    "parameters",
    "target",
    "summary",
    "results",
    "phase",
    "comparison",
}


def _summaries(context: Any, registry: Any, findings: list[Any]) -> dict[str, Any]:
    """Report keys contributed by Summary plugins; one that fails becomes an error finding."""

    extra: dict[str, Any] = {}

    for summary in registry.summaries:
        if not in_phase(summary, context.options.phase):
            continue
        key = getattr(summary, "key", "")
        try:
            if key in CORE_KEYS or not key:
                raise ValueError(f"report key {key!r} is reserved")
            value = summary.summarize(context, list(findings))
        except Exception as exc:  # noqa: BLE001 - a summary's bug must not lose the report
            failure = internal_error(None, exc)
            failure.check, failure.title, failure.category = f"summary.{key}", key, "other"
            findings.append(failure)
            continue
        if value is not None:
            extra[key] = value
    return extra


def _target(context: Any, target: Any) -> dict[str, Any] | None:
    """The cluster the run looked at (null when none was given), with its version if known."""
    probed = context.kube_probed
    if target is None and probed is None:
        return None
    version = (probed.version.get("gitVersion") if probed is not None else None) or None
    return {
        "context": (target.context if target else None) or (probed.context if probed else None),
        "api_server": (target.server if target else None) or (probed.server if probed else None),
        "kubernetes_version": version,
    }


def _comparison(context: Any, findings: list[Any], run_id: str, started: float) -> dict[str, Any]:
    """``--baseline``: this run set against the earlier one (report key ``comparison``)."""
    baseline = context.options.baseline
    if not baseline:
        return {}

    current = {
        "run": {"id": run_id, "started_at": iso(started)},
        "phase": context.options.phase,
        "summary": summarize(findings),
    }
    results = [f.to_dict() for f in findings]
    return {"comparison": compare(current, results, baseline, context.options.baseline_path)}


def _extras(context: Any) -> dict[str, Any]:
    settings = dict(context.extension_settings.items())
    extra: dict[str, Any] = {"phase": context.options.phase}
    if settings:
        extra["extension_settings"] = settings
    return extra
