"""Running blocking calls without letting them hold the process hostage.

A blocking call (getaddrinfo, the Kubernetes client, NVML) that outlives the run's deadline must
not keep preflight from writing its report and exiting. ``concurrent.futures`` joins its worker
threads at interpreter exit, so blocking work runs here in daemon threads instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def run_in_daemon_thread(func: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Run ``func(*args)`` in a fresh daemon thread; await the returned future for its result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def target() -> None:
        try:
            result = context.run(func, *args)
        except BaseException as exc:  # delivered to the awaiting coroutine
            # RuntimeError: the loop is closed because the run ended without us
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, False, exc)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, True, result)

    threading.Thread(
        target=target, name=f"preflight-{getattr(func, '__name__', 'work')}", daemon=True
    ).start()
    return future
