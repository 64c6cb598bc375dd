"""Running other programs (kubeconfig ``exec`` plugins, ``az``) so that none can outlive a bound.

A credential helper that waits for a browser login, or an ``az`` stuck on the network, must not
hold a run past ``--timeout`` or the run's deadline, nor keep running after preflight exits.
Each command therefore runs in its own process group (``start_new_session``), and the whole
group goes (SIGTERM, a short grace, SIGKILL) on its timeout, on the run's deadline, on
cancellation, on SIGINT/SIGTERM (``terminate_all``, called by the session's signal handlers) and
at interpreter exit (``atexit``): the children a shell script spawns go with it.

Output is captured bounded in size. A command is named in messages by ``display_name``: the
program's base name and its arguments with secret-looking values masked, never its environment.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from preflight.concurrency import run_in_daemon_thread
from preflight.redact import MASK, Redactor, is_secret_key

#: seconds a group gets between SIGTERM and SIGKILL
KILL_GRACE = 1.0
#: once the command itself exited, how long its pipes may stay open (a background child
#: holding them) before the rest of its group is killed
DRAIN_GRACE = 0.5
MAX_STDOUT = 1 << 20
MAX_STDERR = 64 << 10
_TICK = 0.05

Cancel = threading.Event | Iterable[threading.Event] | None


@dataclass(frozen=True)
class Completed:
    """What a command did. ``returncode`` is negative when a signal ended it (``-15``)."""

    name: str
    returncode: int | None
    stdout: bytes
    stderr: bytes
    #: the bound (its own timeout or the run's deadline) ran out: the group was killed
    timed_out: bool = False
    #: stopped by cancellation (the run was interrupted): the group was killed
    cancelled: bool = False
    #: preflight signalled the command's group while the command still ran
    killed: bool = False
    #: "timeout", "deadline" or "cancelled" when one of them ended the command
    reason: str | None = None
    #: the bound applied, in seconds
    limit_s: float = 0.0
    duration_s: float = 0.0
    #: output beyond MAX_STDOUT / MAX_STDERR was dropped
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.cancelled

    def stderr_line(self) -> str:
        """The first non-empty line of stderr with secrets masked: what a message may quote."""
        return quote_line(self.stderr)

    def failure(self) -> str:
        """Why the command gave no usable answer, in a user's words (names the command)."""
        if self.reason == "cancelled":
            return f"`{self.name}` was stopped: the run was interrupted"
        if self.reason == "deadline" and not self.killed and self.returncode is None:
            return f"`{self.name}` was not started: the run's deadline had come"
        if self.reason == "deadline":
            return (
                f"`{self.name}` did not finish within the {self.limit_s:.2g}s the run's "
                "deadline left it (killed)"
            )
        if self.timed_out:
            return f"`{self.name}` did not finish within {self.limit_s:.3g}s (killed)"
        if self.returncode is not None and self.returncode < 0:
            try:
                signame = signal.Signals(-self.returncode).name
            except ValueError:
                signame = f"signal {-self.returncode}"
            why = f"was killed by {signame}"
        else:
            why = f"exited {self.returncode}"
        line = self.stderr_line()
        return f"`{self.name}` {why}" + (f": {line}" if line else "")


# -- names and quotes --------------------------------------------------------------------------

_SECRET_FLAG = re.compile(r"^--?([A-Za-z][A-Za-z0-9_.-]*)(=(.*))?$", re.DOTALL)
#: an opaque run of token characters (hex, base64, JWT parts): not something to quote
_OPAQUE = re.compile(r"[A-Za-z0-9_\-+~/]{32,}={0,2}")
_GUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_MAX_ARG = 60
_MAX_NAME = 240


def display_name(argv: Sequence[str]) -> str:
    """``kubelogin get-token --login azurecli --server-id 6dae...``: the program's base name and
    its arguments, values of secret-named flags (``--client-secret X``, ``--token=X``) and
    secret-shaped words masked, long arguments shortened. Never the environment."""

    if not argv:
        return ""
    redactor = Redactor()
    shown = [os.path.basename(str(argv[0])) or str(argv[0])]
    mask_next = False
    for raw in argv[1:]:
        arg = str(raw)
        if mask_next:
            shown.append(MASK)
            mask_next = False
            continue
        flag = _SECRET_FLAG.match(arg)
        if flag and is_secret_key(flag[1]):
            if flag[2] is not None:
                dashes = "--" if arg.startswith("--") else "-"
                shown.append(f"{dashes}{flag[1]}={MASK}")
            else:
                shown.append(arg)
                mask_next = True
            continue
        text = _OPAQUE.sub(_mask_opaque, redactor.text(arg))
        text = " ".join(text.split())
        if len(text) > _MAX_ARG:
            text = text[: _MAX_ARG - 3] + "..."
        shown.append(_quote_arg(text))
    name = " ".join(shown)
    return name if len(name) <= _MAX_NAME else name[: _MAX_NAME - 3] + "..."


def _mask_opaque(match: re.Match[str]) -> str:
    """A long run of token characters with letters and digits is masked; GUIDs (tenant, app
    and server ids, not secrets) and paths stay."""
    text = match[0]
    if _GUID.fullmatch(text) or text.startswith("/"):
        return text
    has_digit = any(c.isdigit() for c in text)
    has_alpha = any(c.isalpha() for c in text)
    return "***" if has_digit and has_alpha else text


def _quote_arg(text: str) -> str:
    if text and not re.search(r"[\s'\"`$\\]", text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def quote_line(data: bytes | str, limit: int = 200) -> str:
    """The first non-empty line of ``data``, secrets masked (known shapes and long opaque
    words), at most ``limit`` characters: all of a command's output a message may show."""

    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            line = _OPAQUE.sub(_mask_opaque, Redactor().text(line))
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return ""


# -- the registry of live groups ---------------------------------------------------------------


class _Live:
    """One running command: its process (leader not yet reaped, so its group id is safe to
    signal) and a flag ``terminate_all`` sets to make its owner stop it."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.pgid = proc.pid  # start_new_session: the leader's pid is the group id
        self.stop = threading.Event()


_lock = threading.RLock()  # re-entrant: signal handlers run on the main thread, maybe inside
_live: dict[int, _Live] = {}


def live_groups() -> list[int]:
    """Process-group ids of the commands running now (for tests and diagnostics)."""
    with _lock:
        return sorted(_live)


def terminate_all() -> int:
    """SIGTERM every live command's group and tell its owner to finish the job (SIGKILL after
    the grace). Safe in a signal handler: only flags and ``killpg``. Returns how many."""
    with _lock:
        entries = list(_live.values())
        for entry in entries:
            entry.stop.set()
            _signal_group(entry.pgid, signal.SIGTERM)
    return len(entries)


def kill_all(grace: float = KILL_GRACE) -> None:
    """SIGTERM every live group, wait up to ``grace`` for their commands, SIGKILL what is left.
    Runs at interpreter exit: no command preflight started survives it."""
    if not terminate_all():
        return
    ends = time.monotonic() + grace
    while time.monotonic() < ends:
        with _lock:
            if all(_exited(entry.proc) for entry in _live.values()):
                break
        time.sleep(_TICK)
    with _lock:
        for entry in list(_live.values()):
            _signal_group(entry.pgid, signal.SIGKILL)


atexit.register(kill_all)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the leader has exited, without reaping it (its pid keeps the group id ours)."""
    if proc.returncode is not None:
        return True
    waitid = getattr(os, "waitid", None)
    if waitid is None:  # no waitid: reaping is the only way to know
        return proc.poll() is not None
    try:
        info = waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None and info.si_pid == proc.pid


# -- running -----------------------------------------------------------------------------------


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
    deadline: float | None = None,
    cancel: Cancel = None,
    cwd: str | None = None,
    name: str | None = None,
    max_stdout: int = MAX_STDOUT,
    max_stderr: int = MAX_STDERR,
) -> Completed:
    """Run ``argv`` in its own process group and wait, at most ``timeout`` seconds and never
    past ``deadline`` (a ``time.monotonic()`` instant: the run's end). A set ``cancel`` event
    (or ``terminate_all``) stops it. Stopping kills the whole group: SIGTERM, ``KILL_GRACE``,
    SIGKILL. ``env`` replaces the environment (None: inherit). Raises OSError when the program
    cannot be started (not found, not executable)."""
    events = _events(cancel)
    label = name or display_name(argv)
    started = time.monotonic()
    ends, reason_at_end = started + max(timeout, 0.0), "timeout"
    if deadline is not None and deadline < ends:
        ends, reason_at_end = max(deadline, started), "deadline"
    limit = ends - started
    if any(e.is_set() for e in events):
        return Completed(label, None, b"", b"", cancelled=True, reason="cancelled", limit_s=limit)
    if limit <= 0:  # no time left: not worth starting
        return Completed(label, None, b"", b"", timed_out=True, reason=reason_at_end)
    with _lock:  # registered before any signal handler can miss it
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=None if env is None else dict(env),
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
        entry = _Live(proc)
        _live[entry.pgid] = entry
    try:
        outcome = _communicate(entry, stdin, ends, events, (max_stdout, max_stderr))
    finally:
        _finish(entry)
    stopped, killed, (out, err, truncated) = outcome
    reason = reason_at_end if stopped == "time" else ("cancelled" if stopped else None)
    return Completed(
        label,
        proc.returncode,
        out,
        err,
        timed_out=reason in ("timeout", "deadline"),
        cancelled=reason == "cancelled",
        killed=killed,
        reason=reason,
        limit_s=limit,
        duration_s=time.monotonic() - started,
        truncated=truncated,
    )


async def run_async(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
    deadline: float | None = None,
    cancel: Cancel = None,
    cwd: str | None = None,
    name: str | None = None,
) -> Completed:
    """``run`` off the event loop, in a daemon thread. Cancelling the awaiting task kills the
    command's group and waits for it to go before the cancellation goes on."""

    own = threading.Event()
    events = (own, *_events(cancel))

    def call() -> Completed:
        return run(
            argv,
            timeout=timeout,
            env=env,
            stdin=stdin,
            deadline=deadline,
            cancel=events,
            cwd=cwd,
            name=name,
        )

    future = run_in_daemon_thread(call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        own.set()
        await asyncio.wait([future], timeout=KILL_GRACE + 2.0)
        raise


def _events(cancel: Cancel) -> tuple[threading.Event, ...]:
    if cancel is None:
        return ()
    if isinstance(cancel, threading.Event):
        return (cancel,)
    return tuple(cancel)


def _communicate(
    entry: _Live,
    data: bytes,
    ends: float,
    events: tuple[threading.Event, ...],
    limits: tuple[int, int],
) -> tuple[str | None, bool, tuple[bytes, bytes, bool]]:
    """Feed stdin, collect bounded output, stop the group when the bound or a cancel comes.
    Returns (what stopped it: "time" | "cancel" | None, whether it was killed, output)."""
    proc = entry.proc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    chunks = {out_fd: bytearray(), err_fd: bytearray()}
    caps = {out_fd: limits[0], err_fd: limits[1]}
    truncated = False
    selector = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
        selector.register(stream.fileno(), selectors.EVENT_READ)
    pending = memoryview(data)
    stdin_fd = proc.stdin.fileno()
    if pending:
        os.set_blocking(stdin_fd, False)
        selector.register(stdin_fd, selectors.EVENT_WRITE)
    else:
        proc.stdin.close()
    stopped: str | None = None
    exited_at: float | None = None
    try:
        while True:
            if entry.stop.is_set() or any(e.is_set() for e in events):
                stopped = "cancel"
                break
            now = time.monotonic()
            if now >= ends:
                stopped = "time"
                break
            if exited_at is None and _exited(proc):
                exited_at = now
            reading = [k for k in selector.get_map().values() if k.fd != stdin_fd]
            if not reading and exited_at is not None:
                break
            if exited_at is not None and now - exited_at > DRAIN_GRACE:
                break  # a background child holds the pipes: it goes with the group below
            for key, _ in selector.select(min(_TICK, max(ends - now, 0.0))):
                fd = key.fd
                if fd == stdin_fd:
                    try:
                        written = os.write(fd, pending[:65536])
                    except BlockingIOError:
                        continue
                    except (BrokenPipeError, OSError):
                        written = len(pending)
                    pending = pending[written:]
                    if not pending:
                        selector.unregister(fd)
                        with contextlib.suppress(OSError):
                            proc.stdin.close()
                    continue
                try:
                    block = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    block = b""
                if not block:
                    selector.unregister(fd)
                    continue
                room = caps[fd] - len(chunks[fd])
                if len(block) > room:
                    truncated = True
                chunks[fd] += block[: max(room, 0)]
    finally:
        selector.close()
    killed = False
    if stopped is not None and not _exited(proc):
        killed = True
        _stop_group(entry)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        with contextlib.suppress(OSError):
            stream.close()
    return stopped, killed, (bytes(chunks[out_fd]), bytes(chunks[err_fd]), truncated)


def _stop_group(entry: _Live) -> None:
    """SIGTERM the group, give the command ``KILL_GRACE`` to go, then SIGKILL the group."""
    _signal_group(entry.pgid, signal.SIGTERM)
    ends = time.monotonic() + KILL_GRACE
    while time.monotonic() < ends and not _exited(entry.proc):
        time.sleep(_TICK / 2)
    _signal_group(entry.pgid, signal.SIGKILL)


def _finish(entry: _Live) -> None:
    """The command is done (or stopped): kill whatever it left in its group, then reap it.

    Killing comes before reaping: until the leader is reaped its pid, the group id, cannot be
    reused, so the signal cannot reach an unrelated process."""
    proc = entry.proc
    if not _exited(proc):
        _stop_group(entry)
        for _ in range(int(5 / _TICK)):  # SIGKILL is sent: the leader is going
            if _exited(proc):
                break
            time.sleep(_TICK)
    if proc.returncode is None:  # not reaped: the group id is still this command's
        _signal_group(entry.pgid, signal.SIGKILL)  # strays (a `sleep` a script left running)
    with _lock:
        _live.pop(entry.pgid, None)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)
