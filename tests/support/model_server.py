"""``preflight serve-model`` (the smoke test's model) as a real process on loopback, for the
tests of the model itself (tests/engine/test_scoring.py) and of the load generator that measures
it (tests/engine/test_loadgen.py)."""

from __future__ import annotations

import http.client
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

_LISTENING = re.compile(r"listening on http://([^:\s]+):(\d+)")


class ModelServer:
    """A running ``preflight serve-model`` subprocess (port 0: the kernel picks, the startup
    line says which, so there is no pick-then-bind race between parallel test workers)."""

    def __init__(self, proc: subprocess.Popen[bytes], host: str, port: int, banner: str) -> None:
        self.proc = proc
        self.host = host
        self.port = port
        self.banner = banner

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=10)

    def stop(self, timeout: float = 10.0) -> tuple[int, str]:
        """SIGTERM, wait; the exit status and whatever else it wrote to stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            raise
        assert self.proc.stderr is not None
        rest = self.proc.stderr.read().decode(errors="replace")
        self.proc.stderr.close()
        return code, rest


@contextmanager
def serve_model(*args: str, start_timeout: float = 20.0) -> Iterator[ModelServer]:
    """Start ``preflight serve-model --host 127.0.0.1 --port 0 ARGS``; stop it afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "preflight", "serve-model", "--host", "127.0.0.1", "--port", "0"]
        + list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + start_timeout
    line = b""
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.1)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 1)
            if not chunk:
                break
            line += chunk
    match = _LISTENING.search(line.decode(errors="replace"))
    if not match:
        proc.kill()
        proc.wait(5)
        raise RuntimeError(f"serve-model did not start: {line!r}")
    server = ModelServer(proc, match.group(1), int(match.group(2)), line.decode())
    try:
        yield server
    finally:
        if proc.poll() is None:
            with suppress(subprocess.TimeoutExpired):
                server.stop()
        if proc.stderr is not None and not proc.stderr.closed:
            proc.stderr.close()
