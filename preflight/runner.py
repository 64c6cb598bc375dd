"""Runs the selected checks concurrently under one deadline and always returns a full result.

Every check ends with findings: its own, a ``skip`` when a need is missing, or an ``error`` when
it raised or the deadline stopped it (keeping what it had finished). Nothing here knows any
particular check.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from preflight.concurrency import run_in_daemon_thread
from preflight.context import CURRENT_PROGRESS, Context, Interrupted, Progress, internal_error
from preflight.interrupts import Interrupts
from preflight.model import Finding, Status
from preflight.plugin import Check

ProgressCallback = Callable[[Check, list[Finding]], None]

#: seconds a check gets after SIGINT/SIGTERM to conclude by itself (its waits see
#: ``ctx.cancelled`` and say what they cut short); then it is stopped and ends as error
INTERRUPT_GRACE_S = 3.0


async def run_checks(
    ctx: Context, checks: Sequence[Check], on_done: ProgressCallback | None = None
) -> list[Finding]:
    """Run ``checks`` concurrently; findings come back in check order, whatever finished first."""
    results = await asyncio.gather(*(_run_one(ctx, check, on_done) for check in checks))
    return [finding for findings in results for finding in findings]


async def _run_one(ctx: Context, check: Check, on_done: ProgressCallback | None) -> list[Finding]:
    started = time.monotonic()
    findings = await _findings_of(ctx, check)
    elapsed = time.monotonic() - started
    for finding in findings:
        finding.check = check.id
        finding.title = getattr(check, "title", check.id)
        finding.category = getattr(check, "category", "other")
        if not finding.duration_s:
            finding.duration_s = elapsed
    if on_done is not None:
        on_done(check, findings)
    return findings


async def _findings_of(ctx: Context, check: Check) -> list[Finding]:
    collector = Progress()
    token = CURRENT_PROGRESS.set(collector)
    try:
        for need in check.needs:
            # a need may do blocking I/O once (the cluster's reachability): keep it off the loop
            missing = await _bounded(ctx, run_in_daemon_thread(ctx.missing_need, need))
            if missing is not None and ctx.cancelled.is_set():  # it may be what stopped it
                return [ctx.interrupted_finding(None, "this check ran", missing=need)]
            if missing is not None:
                reason, how = missing
                return [
                    Finding(Status.SKIP, None, f"skipped: {reason}", how, details={"missing": need})
                ]
        work: Awaitable[Any]
        if inspect.iscoroutinefunction(check.run):
            work = check.run(ctx)
        else:
            work = run_in_daemon_thread(_call_sync, check, ctx)
        produced = await _bounded(ctx, work)
        if inspect.isawaitable(produced):
            produced = await _bounded(ctx, produced)
        return _validated(produced, check)
    except Interrupted as stop:
        return collector.findings + _interrupted_findings(ctx, collector, stop.what)
    except TimeoutError:
        if ctx.remaining() > 0:  # a timeout the check itself did not handle
            return collector.findings + [internal_error(None, TimeoutError("unhandled timeout"))]
        return collector.findings + _deadline_findings(ctx, check, collector)
    except Exception as exc:  # noqa: BLE001 - one check's bug must not sink the run
        return collector.findings + [internal_error(None, exc)]
    finally:
        CURRENT_PROGRESS.reset(token)


async def _bounded(ctx: Context, work: Awaitable[Any]) -> Any:
    """``await work`` within the run's deadline (TimeoutError). After SIGINT/SIGTERM the work
    gets ``INTERRUPT_GRACE_S`` to end by itself; then it is cancelled (``Interrupted``)."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(ctx.until_cancelled())
    try:
        await asyncio.wait(
            {task, waiter},
            timeout=max(ctx.remaining(), 0.001),
            return_when=asyncio.FIRST_COMPLETED,
        )
        if not task.done() and waiter.done():
            await asyncio.wait({task}, timeout=INTERRUPT_GRACE_S)
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)  # let it unwind (close what it opened)
        raise Interrupted() if ctx.cancelled.is_set() else TimeoutError()
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()


def _interrupted_findings(ctx: Context, collector: Progress, what: str) -> list[Finding]:
    """The targets an interrupted check had not finished (``probe_each``), or the check."""
    if collector.pending:
        return [
            ctx.interrupted_finding(target, what or "its probe finished")
            for target in collector.pending.values()
        ]
    return [ctx.interrupted_finding(None, what or "this check finished")]


def _call_sync(check: Check, ctx: Context) -> object:
    produced = check.run(ctx)
    return produced if inspect.isawaitable(produced) else list(produced)


def _validated(produced: object, check: Check) -> list[Finding]:
    if isinstance(produced, Finding):
        return [produced]
    if not isinstance(produced, Iterable):
        raise TypeError(f"{check.id}.run returned {type(produced).__name__}, not findings")
    findings = list(produced)
    bad = [f for f in findings if not isinstance(f, Finding)]
    if bad:
        raise TypeError(f"{check.id}.run returned {type(bad[0]).__name__}, not Finding")
    if not findings:
        raise ValueError(f"{check.id}.run returned no findings (a check must say what it found)")
    return findings


def _deadline_findings(ctx: Context, check: Check, collector: Progress) -> list[Finding]:
    deadline = ctx.options.deadline
    message = f"the run's deadline ({deadline:g}s) ended this check before it finished"
    remedy = "raise --deadline, or run fewer checks at once with --check"
    targets = list(collector.pending.values()) or [None]
    return [
        Finding(Status.ERROR, target, message, remedy, details={"deadline_s": deadline})
        for target in targets
    ]


async def run_bounded(
    context: Context,
    checks: Sequence[Check],
    on_done: ProgressCallback,
    interrupts: Interrupts | None = None,
) -> list[Finding]:
    """The runner honours the deadline per check; this is the last net (deadline + 5 s). On
    SIGINT/SIGTERM the runner gives each check a few seconds to say what it cut short
    (``runner.INTERRUPT_GRACE_S``); this waits a little longer, then (or at a second signal)
    keeps the findings of the checks that finished and ends the others as error."""
    finished: dict[str, list[Finding]] = {}

    def record(check: Check, findings: list[Finding]) -> None:
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
            return _interrupted_run(context, checks, finished)
        raise TimeoutError
    except asyncio.CancelledError:
        if not context.cancelled.is_set():
            raise
        task.cancel()
        return _interrupted_run(context, checks, finished)
    except TimeoutError:
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


def _interrupted_run(
    context: Context, checks: Sequence[Check], finished: dict[str, list[Finding]]
) -> list[Finding]:
    """Findings of an interrupted run whose checks did not all conclude in their grace: the
    finished checks' own, an error for each other."""
    findings: list[Finding] = []
    for check in checks:
        if check.id in finished:
            findings += finished[check.id]
            continue
        finding = context.interrupted_finding(None, "this check finished")
        finding.check, finding.title, finding.category = check.id, check.title, check.category
        findings.append(finding)
    return findings
