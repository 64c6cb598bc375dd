"""One ``preflight run``: validate every input first (exit 2), run, write reports, gate.

All usage problems surface before any probe leaves the machine, so a typo never costs a
five-minute run. Once running, nothing the network does can stop the report from being written.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_GATE = 0, 1


def run_session(params: Mapping[str, Any]) -> int:
    """Prepare (exit 2 on bad input), run the checks, write the reports; the exit code."""
    from rich.console import Console

    from preflight.options import prepare

    prepared = prepare(params)
    context, registry, checks = prepared.context, prepared.registry, prepared.checks
    extras = {"formats": prepared.formats, "target": prepared.target, "out": prepared.out}
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
            findings = asyncio.run(_run_bounded(context, checks, on_done, interrupts))
        finally:  # success, failure, deadline, Ctrl-C, SIGTERM: what the run created goes
            problems = context.run_cleanups(20.0 if interrupts.signum else CLEANUP_SECONDS)
        findings += _cleanup_findings(problems)
        if interrupts.signum:
            done = "cleaned up" if not problems else "cleanup incomplete (see the report)"
            _say(f"preflight: {done}; writing the report")
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
    from rich.console import Console

    from preflight import report
    from preflight.model import gate_holds
    from preflight.redact import Redactor
    from preflight.reports import write_reports

    findings += _broken_plugins(registry, selected_all=not params.get("check"))
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
        from preflight.reports.terminal import print_summary

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


class Interrupts:
    """SIGINT and SIGTERM during a run: stop the checks, clean up, write the report, exit 130
    or 143. A second signal stops waiting for the cleanup (never a traceback).

    The handlers only set flags and wake the event loop: raising KeyboardInterrupt at an
    arbitrary point would leave locks and half-made objects behind, which is what this is here
    to prevent."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.signum: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._previous: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # an embedding caller keeps its own handlers
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def attach(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        """The task a second signal cancels (the first lets the checks conclude)."""
        self._loop, self._task = loop, task

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
            # every wait of the run sees it: probes still waiting end at once as error
            # "interrupted", checks get a few seconds to say what they cut short
            self.context.interrupt(signal.Signals(signum).name)
            from preflight.subprocesses import terminate_all

            terminate_all()  # exec plugins and az calls: their process groups go now
            _say(
                f"preflight: interrupted ({signal.Signals(signum).name}): stopping and cleaning "
                "up; interrupt again to leave without waiting"
            )
            return
        if self._loop is not None and self._task is not None:  # stop waiting for the checks
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._task.cancel)
        if not self.context.abandon_cleanup.is_set():
            self.context.abandon_cleanup.set()
            _say("preflight: not waiting for the cleanup; `preflight cleanup` removes what is left")


def _say(text: str) -> None:
    """One line to stderr, safe inside a signal handler (no buffered stream re-entered)."""
    with contextlib.suppress(OSError):
        os.write(2, (text + "\n").encode("utf-8", "replace"))


def _cleanup_findings(problems: list[str]) -> list[Any]:
    """What a run could not delete: a warning each, so nobody is surprised by a leftover."""
    from preflight.model import Finding, Status

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


def _print_manifests(context: Any, redactor: Any, out: Path, *, quiet: bool) -> None:
    """A dry run's manifests: DIR/manifests.yaml, and stdout after the summary (alone with
    --quiet, so ``preflight run --dry-run --quiet | kubectl apply -f -`` works)."""
    import yaml

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


def _interrupted(context: Any, checks: list[Any], finished: dict[str, list[Any]]) -> list[Any]:
    """Findings of an interrupted run whose checks did not all conclude in their grace: the
    finished checks' own, an error for each other."""
    findings: list[Any] = []
    for check in checks:
        if check.id in finished:
            findings += finished[check.id]
            continue
        finding = context.interrupted_finding(None, "this check finished")
        finding.check, finding.title, finding.category = check.id, check.title, check.category
        findings.append(finding)
    return findings


def _broken_plugins(registry: Any, selected_all: bool) -> list[Any]:
    """A plugin that failed to load: error when every check was asked for (its checks are
    missing from the verdict), warn when --check narrowed the run anyway."""
    from preflight.model import Finding, Status

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
    from preflight.context import internal_error

    extra: dict[str, Any] = {}
    from preflight.registry import in_phase

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
    from preflight.compare import compare
    from preflight.model import summarize
    from preflight.report import iso

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


async def _run_bounded(
    context: Any, checks: list[Any], on_done: Any, interrupts: Interrupts | None = None
) -> list[Any]:
    """The runner honours the deadline per check; this is the last net (deadline + 5 s). On
    SIGINT/SIGTERM the runner gives each check a few seconds to say what it cut short
    (``runner.INTERRUPT_GRACE_S``); this waits a little longer, then (or at a second signal)
    keeps the findings of the checks that finished and ends the others as error."""
    from preflight.runner import INTERRUPT_GRACE_S, run_checks

    finished: dict[str, list[Any]] = {}

    def record(check: Any, findings: list[Any]) -> None:
        finished[check.id] = findings
        on_done(check, findings)

    task = asyncio.ensure_future(run_checks(context, checks, record))
    current = asyncio.current_task()
    if interrupts is not None and current is not None:
        interrupts.attach(asyncio.get_running_loop(), current)
    waiter = asyncio.ensure_future(context.until_cancelled())
    try:
        await asyncio.wait(
            {task, waiter},
            timeout=context.options.deadline + 5,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if not task.done() and waiter.done():
            await asyncio.wait({task}, timeout=INTERRUPT_GRACE_S + 3)
        if task.done():
            return task.result()
        task.cancel()
        if context.cancelled.is_set():
            return _interrupted(context, checks, finished)
        raise TimeoutError
    except asyncio.CancelledError:
        if not context.cancelled.is_set():
            raise
        task.cancel()
        return _interrupted(context, checks, finished)
    except TimeoutError:
        from preflight.model import Finding, Status

        return [
            Finding(
                Status.ERROR,
                None,
                "the run did not finish within its deadline",
                "raise --deadline",
                check=c.id,
                title=c.title,
                category=c.category,
            )
            for c in checks
        ]
    finally:
        waiter.cancel()
        # close what the clients hold open inside the loop that opened it
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(context.aclose(), 2.0)
