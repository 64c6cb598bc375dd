"""``preflight serve-model``: the smoke-test model as a real process on loopback.

The model must be deterministic (a changed answer means a broken path, not a changed model),
answer bad input with a JSON 400, keep connections alive with exact Content-Length, log nothing
per request and stop cleanly on SIGTERM: the smoke check's pods rely on all of it.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.model_server import ModelServer, serve_model

from preflight.workload.scoring import (
    N_FEATURES,
    SAMPLE_PAYLOAD,
    BadInput,
    parse_request,
    predict,
)


def _request(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


# -- the model, in-process -----------------------------------------------------------------
def test_predict_is_deterministic_probabilities() -> None:
    rows = [[12.0, 70.5, 1.0, 0.0], [2.0, 99.0, 4.0, 2.0], [0.0, 0.0, 0.0, 0.0], [1e6] * 4]
    first = predict(rows)
    assert first == predict(rows)
    assert all(0.0 <= p <= 1.0 for p in first)
    assert predict([[-1e6] * 4]) == [0.0]  # no overflow for extreme inputs


def test_sample_payload_is_valid() -> None:
    rows = parse_request(SAMPLE_PAYLOAD.encode())
    assert rows and all(len(r) == N_FEATURES for r in rows)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"rows": []}',
        b'{"data": []}',
        b'{"data": [[1, 2, 3]]}',
        b'{"data": [[1, 2, 3, "4"]]}',
        b'{"data": [[1, 2, 3, true]]}',
        b'{"data": [[1, 2, 3, NaN]]}',
        b'{"data": [1, 2, 3, 4]}',
        b"\xff\xfe",
    ],
)
def test_parse_request_rejects(body: bytes) -> None:
    with pytest.raises(BadInput):
        parse_request(body)


# -- the server, as a process ------------------------------------------------------------------
def test_serves_score_healthz_and_root() -> None:
    with serve_model() as server:
        conn = server.connection()
        body = json.dumps({"data": [[12, 70.5, 1, 0], [2, 99, 4, 2]]}).encode()
        status, headers, first = _request(conn, "POST", "/score", body)
        assert status == 200
        assert headers["content-type"] == "application/json"
        assert int(headers["content-length"]) == len(first)
        result = json.loads(first)["result"]
        assert len(result) == 2 and all(isinstance(p, float) for p in result)
        assert math.isclose(result[0], predict([[12, 70.5, 1, 0]])[0])
        # same input, same output, byte for byte, over the same keep-alive connection
        for _ in range(5):
            assert _request(conn, "POST", "/score", body)[2] == first

        status, _, data = _request(conn, "GET", "/healthz")
        assert (status, json.loads(data)) == (200, {"status": "ok"})
        status, _, data = _request(conn, "GET", "/")
        assert status == 200 and "features" in json.loads(data)
        conn.close()

        code, stderr = server.stop()
    assert code == 0
    assert "listening on" in server.banner
    assert stderr.strip() == ""  # one startup line; nothing per request


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/score", b"{not json", 400),
        ("POST", "/score", b'{"data": [[1, 2]]}', 400),
        ("POST", "/score", b"", 400),
        ("GET", "/score", None, 405),
        ("GET", "/nowhere", None, 404),
        ("POST", "/nowhere", b"{}", 404),
    ],
)
def test_bad_requests_get_json_errors(
    model_server: ModelServer, method: str, path: str, body: bytes | None, status: int
) -> None:
    conn = model_server.connection()
    got, headers, data = _request(conn, method, path, body)
    assert got == status
    assert int(headers["content-length"]) == len(data)
    assert "error" in json.loads(data)
    # the connection survives an error answer
    assert _request(conn, "GET", "/healthz")[0] == 200
    conn.close()


def test_keep_alive_serves_many_requests_on_one_connection(model_server: ModelServer) -> None:
    conn = model_server.connection()
    _request(conn, "GET", "/healthz")
    sock = conn.sock
    for _ in range(50):
        assert _request(conn, "POST", "/score", SAMPLE_PAYLOAD.encode())[0] == 200
    assert conn.sock is sock  # never reconnected
    conn.close()


def test_workers_share_the_port_and_stop_together() -> None:
    with serve_model("--workers", "2") as server:
        for _ in range(20):
            conn = server.connection()  # new connections land on either worker
            assert _request(conn, "POST", "/score", SAMPLE_PAYLOAD.encode())[0] == 200
            conn.close()
        code, _ = server.stop()
    assert code == 0
    # no worker outlives the parent
    with pytest.raises(ProcessLookupError):
        os.killpg(server.proc.pid, 0)


def test_sigterm_with_an_idle_keep_alive_connection_stops_promptly() -> None:
    with serve_model() as server:
        conn = server.connection()
        assert _request(conn, "GET", "/healthz")[0] == 200
        started = time.monotonic()
        code, _ = server.stop()
        assert code == 0
        assert time.monotonic() - started < 8  # idle connections do not hold the drain
        conn.close()


def test_stall_option_stalls_once(tmp_path: Any) -> None:
    """The clock starts at the first scoring request; requests inside the window wait for its
    end, later ones do not (loose bounds: this is behaviour, not a benchmark)."""
    with serve_model("--stall-after", "0", "--stall-for", "0.6") as server:
        conn = server.connection()
        assert _request(conn, "GET", "/healthz")[0] == 200  # health checks do not start it
        started = time.monotonic()
        assert _request(conn, "POST", "/score", SAMPLE_PAYLOAD.encode())[0] == 200
        assert time.monotonic() - started >= 0.5
        started = time.monotonic()
        assert _request(conn, "POST", "/score", SAMPLE_PAYLOAD.encode())[0] == 200
        assert time.monotonic() - started < 0.5
        conn.close()


def test_port_in_use_is_one_line_and_exit_2(model_server: ModelServer) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "preflight", "serve-model", "--host", "127.0.0.1"]
        + ["--port", str(model_server.port)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("preflight: error: cannot listen on")
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args", [["--workers", "0"], ["--service-time-ms", "-1"], ["--stall-after", "-2"]]
)
def test_bad_options_exit_2(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "preflight", "serve-model", "--host", "127.0.0.1", "--port", "0"]
        + args,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with serve_model() as server:
        yield server
