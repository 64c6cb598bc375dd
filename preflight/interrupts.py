"""SIGINT and SIGTERM while preflight works: stop, say what was cut short, clean up, exit 130 or
143 (128 + the signal, as shells do). Never a traceback.

The handlers only set flags and wake what waits: raising KeyboardInterrupt at an arbitrary point
would leave locks and half-made objects behind, which is what this is here to prevent. One class
serves every command: ``preflight run`` and ``preflight probe`` pass the run's context (its waits
see the interruption, its subprocesses are killed, a second signal stops waiting for the
cleanup); ``preflight load`` only needs the ``stop`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

from preflight.subprocesses import terminate_all

if TYPE_CHECKING:
    from preflight.context import Context


def say(text: str) -> None:
    """One line to stderr, safe inside a signal handler (no buffered stream re-entered)."""
    with contextlib.suppress(OSError):
        os.write(2, (text + "\n").encode("utf-8", "replace"))


class Interrupts:
    """Catches SIGINT/SIGTERM (from the main thread only: an embedding caller keeps its own
    handlers). ``signum`` is the first signal caught (0 while none), ``stop`` is set by it."""

    def __init__(self, context: Context | None = None) -> None:
        self.context = context
        self.signum = 0
        self.stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._previous: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def __enter__(self) -> Interrupts:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def attach(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        """The task a second signal cancels (the first lets the checks conclude)."""
        self._loop, self._task = loop, task

    def _handle(self, signum: int, frame: Any) -> None:
        if not self.signum:
            self.signum = signum
            self.stop.set()
            if self.context is None:
                return
            # every wait of the run sees it: probes still waiting end at once as error
            # "interrupted", checks get a few seconds to say what they cut short
            self.context.interrupt(signal.Signals(signum).name)
            terminate_all()  # exec plugins and az calls: their process groups go now
            say(
                f"preflight: interrupted ({signal.Signals(signum).name}): stopping and cleaning "
                "up; interrupt again to leave without waiting"
            )
            return
        if self.context is None:
            return
        if self._loop is not None and self._task is not None:  # stop waiting for the checks
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._task.cancel)
        if not self.context.abandon_cleanup.is_set():
            self.context.abandon_cleanup.set()
            say("preflight: not waiting for the cleanup; `preflight cleanup` removes what is left")
