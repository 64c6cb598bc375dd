"""The model server behind ``preflight serve-model``, which ``smoke.inference`` deploys and loads.

The smoke check measures the latency of an inference service before and after the extension is
installed. What it needs from the model is that it is *boring*: deterministic answers (so a
changed answer means a broken path, not a changed model), a compute cost far below a millisecond
(so the latency measured is the path's — network, router, proxy — not the model's), and no
dependencies beyond the standard library (so the pod image is just Python plus this package).

So the model is a fixed logistic regression over ``N_FEATURES`` numbers with hard-coded weights,
served by a stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive:

- ``POST /score`` ``{"data": [[f1, ..., fn], ...]}`` -> ``{"result": [p1, ...]}`` (probabilities)
- ``GET /healthz`` -> ``{"status": "ok"}`` (readiness/liveness probes)
- ``GET /`` -> a short description of the model (what a human poking at the Service sees)

Two knobs exist for the load generator's tests and benchmarks, not for production:
``service_time_ms`` (a fixed sleep per scoring request, to compare with other tools at a known
latency) and a one-off stall (every request that arrives inside a window waits until the window
ends — the shape of a GC pause or a node hiccup, which an honest latency measurement must show).
"""

from __future__ import annotations

import contextlib
import json
import math
import mmap
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from preflight.errors import UsageError

MODEL_NAME = "preflight-smoke-logreg"
MODEL_VERSION = "1"
#: Feature order of a row in ``{"data": [[...]]}``.
FEATURES = ("tenure_months", "monthly_charge", "support_calls", "late_payments")
N_FEATURES = len(FEATURES)
WEIGHTS = (-0.045, 0.021, 0.38, 0.52)
INTERCEPT = -1.2
#: Rows per request; a bound so one request cannot make the server do unbounded work.
MAX_ROWS = 1000
#: Request bodies above this are refused with 413 before being read.
MAX_BODY_BYTES = 1 << 20
#: The payload ``preflight load`` sends by default, and what the smoke check expects back.
SAMPLE_ROWS: tuple[tuple[float, ...], ...] = ((12.0, 70.5, 1.0, 0.0), (2.0, 99.0, 4.0, 2.0))
SAMPLE_PAYLOAD = json.dumps({"data": [list(r) for r in SAMPLE_ROWS]}, separators=(",", ":"))

#: How long a stopping server lets requests already being served finish.
DRAIN_SECONDS = 5.0
#: Idle keep-alive connections are closed after this long (a load balancer's is usually 4-5 min;
#: shorter is fine: clients reconnect).
IDLE_TIMEOUT_S = 120.0


class BadInput(ValueError):
    """The request body is not a valid scoring request (answered with 400)."""


def predict(rows: Sequence[Sequence[float]]) -> list[float]:
    """Probabilities for ``rows``: ``sigmoid(w . x + b)``, rounded to 6 places.

    Rounding keeps the JSON short and the answer identical across platforms' last-bit float
    differences, so "same input, same output" holds byte for byte."""
    out: list[float] = []
    for row in rows:
        z = INTERCEPT + sum(w * x for w, x in zip(WEIGHTS, row, strict=True))
        # numerically stable sigmoid: exp() of a negative number only
        p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        out.append(round(p, 6))
    return out


def parse_request(body: bytes) -> list[list[float]]:
    """Validate a ``{"data": [[...], ...]}`` body; raise ``BadInput`` saying what is wrong."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: a 5,000-digit number too
        raise BadInput(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadInput("body is not valid JSON: nested too deeply") from None
    if not isinstance(doc, dict) or "data" not in doc:
        raise BadInput('expected an object {"data": [[...], ...]}')
    data = doc["data"]
    if not isinstance(data, list) or not data:
        raise BadInput('"data" must be a non-empty list of rows')
    if len(data) > MAX_ROWS:
        raise BadInput(f'"data" has {len(data)} rows; at most {MAX_ROWS} per request')
    rows: list[list[float]] = []
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != N_FEATURES:
            raise BadInput(
                f"row {i}: expected a list of {N_FEATURES} numbers ({', '.join(FEATURES)})"
            )
        values: list[float] = []
        for j, value in enumerate(row):
            # bool is an int in Python but not a number in JSON's sense
            if isinstance(value, bool) or not isinstance(value, int | float):
                shown = json.dumps(value)[:40]
                raise BadInput(f"row {i}, feature {j}: {shown} is not a number")
            try:
                number = float(value)
            except OverflowError:  # an integer beyond any float
                number = math.inf
            if not math.isfinite(number):
                raise BadInput(f"row {i}, feature {j}: {str(number)} is not finite")
            values.append(number)
        rows.append(values)
    return rows


@dataclass(frozen=True)
class ServeOptions:
    """What ``preflight serve-model`` was asked for."""

    host: str = "0.0.0.0"
    port: int = 5001
    workers: int = 1
    service_time_ms: float = 0.0
    stall_after: float | None = None
    stall_for: float = 0.0


class _StallClock:
    """The one-off stall window, shared by all worker processes.

    The clock starts at the first scoring request any worker sees (not at process start), so a
    test or benchmark can place the stall inside its measured window without knowing how long the
    server took to start. The start time lives in an anonymous shared mmap created before the
    workers fork, so all of them stall together."""

    def __init__(self, after: float | None, duration: float) -> None:
        self.after = after
        self.duration = duration
        self._shared = mmap.mmap(-1, 8) if after is not None and duration > 0 else None
        self._lock = threading.Lock()

    def wait_if_stalled(self, start_clock: bool) -> None:
        """Sleep to the end of the stall window if now is inside it. Only scoring requests
        start the clock (probes and health checks before the load must not)."""
        if self._shared is None or self.after is None:
            return
        now = time.time()  # wall clock: comparable across processes
        with self._lock:
            (started,) = struct.unpack_from("d", self._shared, 0)
            if started == 0.0:
                if not start_clock:
                    return
                struct.pack_into("d", self._shared, 0, now)
                started = now
        begin = started + self.after
        end = begin + self.duration
        if begin <= now < end:
            time.sleep(end - now)


class _Server(ThreadingHTTPServer):
    """Threaded server with a count of requests in progress, for a graceful drain on stop."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], options: ServeOptions, stall: _StallClock):
        self.options = options
        self.stall = stall
        self.stopping = threading.Event()
        self.active = 0
        self.active_lock = threading.Lock()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)
        # With several worker processes on one listening socket, every worker's select() wakes
        # for each new connection and only one accept() wins; a blocking accept() would leave
        # the others stuck there (and deaf to shutdown). Non-blocking, the losers just go back
        # to select(). Accepted sockets are blocking again (Python's accept() sees to that).
        self.socket.setblocking(False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-request (a load generator ending its run, a probe timing
        out) is routine: say nothing. Anything else is a bug: one line, not a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        print(f"preflight serve-model: error: {error!r}", file=sys.stderr, flush=True)


class _Handler(BaseHTTPRequestHandler):
    """One keep-alive connection. Responses go out in one write with an exact Content-Length."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each response waits ~40 ms for a delayed ACK
    timeout = IDLE_TIMEOUT_S
    server_version = "preflight-serve-model/1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """No per-request logging: at hundreds of requests a second it would be the bottleneck
        and bury the one startup line."""

    @contextlib.contextmanager
    def _in_progress(self) -> Iterator[None]:
        """Count a request (read, not yet answered) so a stopping server can wait for it.

        Counted from the route, not from ``handle_one_request``: an idle keep-alive connection
        waiting for its next request must not hold up the drain."""
        with self.server.active_lock:
            self.server.active += 1
        try:
            yield
        finally:
            with self.server.active_lock:
                self.server.active -= 1

    # -- routes --------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        with self._in_progress():
            self._get()

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        with self._in_progress():
            self._get()

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        with self._in_progress():
            self._post()

    def _get(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.stall.wait_if_stalled(start_clock=False)
        if path == "/healthz":
            self._json(HTTPStatus.OK, {"status": "ok"})
        elif path == "/":
            self._json(
                HTTPStatus.OK,
                {
                    "model": MODEL_NAME,
                    "version": MODEL_VERSION,
                    "features": list(FEATURES),
                    "score": 'POST /score {"data": [[' + ", ".join(FEATURES) + "], ...]}",
                },
            )
        elif path == "/score":
            self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST /score"}, allow="POST")
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such path: {path}"})

    def _post(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        if body is None:
            return
        if path != "/score":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such path: {path}"})
            return
        self.server.stall.wait_if_stalled(start_clock=True)
        if self.server.options.service_time_ms > 0:
            time.sleep(self.server.options.service_time_ms / 1000.0)
        try:
            rows = parse_request(body)
        except BadInput as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        self._json(HTTPStatus.OK, {"result": predict(rows)})

    # -- plumbing ------------------------------------------------------------------------------
    def _read_body(self) -> bytes | None:
        """The request body by Content-Length; None when an error was already answered."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True  # we did not read the body; the stream is unusable
            self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "send a Content-Length body"})
            return None
        raw = self.headers.get("Content-Length")
        try:
            length = int(raw) if raw is not None else 0
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"bad Content-Length: {raw!r}"})
            return None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._json(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"error": f"body of {length} bytes; at most {MAX_BODY_BYTES}"},
            )
            return None
        return self.rfile.read(length) if length else b""

    def _json(self, status: HTTPStatus, doc: dict[str, Any], allow: str | None = None) -> None:
        """Send ``doc`` as the whole response in one write (status line, headers, body)."""
        if self.server.stopping.is_set():
            self.close_connection = True  # draining: let the client reconnect elsewhere
        body = json.dumps(doc, separators=(",", ":")).encode() + b"\n"
        head = [
            f"HTTP/1.1 {status.value} {status.phrase}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ]
        if allow:
            head.append(f"Allow: {allow}")
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if self.command != "HEAD":
            data += body
        self.wfile.write(data)


def _serve(server: _Server) -> None:
    """Serve until SIGTERM/SIGINT, then stop accepting and let requests in progress finish.

    ``serve_forever`` runs in a thread because ``shutdown()`` must be called from another thread
    than the one serving; the main thread only waits for the signal."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True)
    thread.start()
    while not stop.wait(0.5):
        if not thread.is_alive():
            break
    server.stopping.set()
    server.shutdown()
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        with server.active_lock:
            if server.active == 0:
                break
        time.sleep(0.01)
    server.server_close()


def serve(options: ServeOptions, announce: bool = True) -> int:
    """Run the model server in the foreground until a signal stops it; the exit status.

    With ``workers > 1`` the listening socket is bound once and the workers are forked processes
    accepting on it (one GIL each), so a busy benchmark is not capped by one core."""
    if not 0 <= options.port <= 65535:
        raise UsageError(f"--port {options.port}: must be 0-65535")
    if options.workers < 1:
        raise UsageError(f"--workers {options.workers}: must be at least 1")
    if options.service_time_ms < 0:
        raise UsageError(f"--service-time-ms {options.service_time_ms}: must be >= 0")
    if options.stall_after is not None and (options.stall_after < 0 or options.stall_for <= 0):
        raise UsageError("--stall-after needs a value >= 0 and --stall-for a value > 0")
    stall = _StallClock(options.stall_after, options.stall_for)
    try:
        server = _Server((options.host, options.port), options, stall)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}"
        ) from None
    host, port = str(server.server_address[0]), int(server.server_address[1])
    if announce:
        stall_note = (
            f"; stall {options.stall_for:g}s at {options.stall_after:g}s after the first request"
            if options.stall_after is not None
            else ""
        )
        print(
            f"preflight serve-model: {MODEL_NAME} v{MODEL_VERSION} listening on "
            f"http://{host}:{port} (workers {options.workers}, "
            f"service time {options.service_time_ms:g} ms{stall_note})",
            file=sys.stderr,
            flush=True,
        )
    children: list[int] = []
    for _ in range(options.workers - 1):
        pid = os.fork()
        if pid == 0:  # a worker: serve on the inherited socket, never return into the CLI
            code = 0
            try:
                _serve(server)
            except BaseException:  # noqa: BLE001 - a worker must not unwind into click
                code = 1
            os._exit(code)
        children.append(pid)
    try:
        _serve(server)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    return 0
