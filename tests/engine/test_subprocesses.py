"""Other programs preflight runs (kubeconfig ``exec`` plugins, ``az``) are bounded and leave
nothing behind (issue 16): real shell-script plugins that hang, print garbage or fail, a fake
``az`` that never answers, SIGTERM in the middle, interpreter exit. Only generous upper bounds
on time: the point is that the wait ends and the processes are gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from support.fake_az import FakeAz
from support.kube_objects import node

from preflight import subprocesses
from preflight.clients.kube import KubeClient, KubeSettings
from preflight.clients.kube_exec import config_with, parse_credential
from tests.clirun import Result, preflight

API_V1 = "client.authentication.k8s.io/v1"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyQGNvbnRvc28uY29tIn0.c2lnbmF0dXJlLXNlY3JldA"
OPAQUE = "7f3a9c2e8b1d4f6a0e5c3b9d7a1f2e4c8b6d0a9f"
EXEC_TOKEN = "exec-tok-4Vq9ZrXw2Lp8Kd3N"


# -- helpers -----------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a reaper does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def pids_in(path: Path) -> list[int]:
    try:
        return [int(line) for line in path.read_text().split() if line.strip().isdigit()]
    except FileNotFoundError:
        return []


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def assert_gone(pids: Iterable[int]) -> None:
    """Every pid ends soon (a kill is asynchronous); none is left running."""
    pids = list(pids)
    assert pids, "the plugin never wrote its pids"
    wait_until(lambda: not any(alive(p) for p in pids), 10.0)
    assert [p for p in pids if alive(p)] == [], "processes left running"


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


#: a plugin that records its pid and its child's, then waits forever on that child
HANG = """\
echo $$ >> "$PIDS"
sleep 300 &
echo $! >> "$PIDS"
wait
"""


def exec_stanza(command: str, env: dict[str, str] | None = None, **more: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_V1,
        "command": command,
        "args": ["get-token", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"],
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
        "interactiveMode": "Never",
        "provideClusterInfo": False,
        **more,
    }


def run_cluster(tmp_path: Path, kubeconfig: Path, *args: str, **kwargs: Any) -> Result:
    out = tmp_path / f"out-{time.monotonic_ns()}"
    return preflight(
        "run",
        "--kubeconfig",
        str(kubeconfig),
        "--check",
        "cluster.*",
        "--format",
        "json,html,junit,md",
        *args,
        out=out,
        **kwargs,
    )


def assert_nowhere(result: Result, *secrets: str) -> None:
    assert result.out is not None
    texts = [result.stdout, result.stderr]
    texts += [p.read_text() for p in result.out.iterdir() if p.is_file()]
    for secret in secrets:
        for text in texts:
            assert secret not in text


# -- the engine --------------------------------------------------------------------------------


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    started = time.monotonic()
    done = subprocesses.run(["sh", "-c", HANG], timeout=1.0, env={**os.environ, "PIDS": str(pids)})
    assert time.monotonic() - started < 15
    assert done.timed_out and done.killed and done.reason == "timeout" and not done.ok
    assert done.failure() == f"`{done.name}` did not finish within 1s (killed)"
    assert_gone(pids_in(pids))
    assert subprocesses.live_groups() == []


def test_strays_of_a_finished_command_are_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    body = 'sleep 300 >/dev/null 2>&1 &\necho $! >> "$PIDS"\necho done'
    done = subprocesses.run(["sh", "-c", body], timeout=10, env={**os.environ, "PIDS": str(pids)})
    assert done.ok and done.stdout == b"done\n" and not done.killed
    assert_gone(pids_in(pids))


def test_output_is_bounded_and_stdin_fed() -> None:
    big = subprocesses.run(["sh", "-c", "head -c 3000000 /dev/zero"], timeout=20, max_stdout=1000)
    assert big.ok and len(big.stdout) == 1000 and big.truncated
    echoed = subprocesses.run(["sh", "-c", "cat; echo oops >&2; exit 3"], timeout=20, stdin=b"in")
    assert echoed.stdout == b"in" and echoed.returncode == 3
    assert echoed.failure() == "`sh -c 'cat; echo oops >&2; exit 3'` exited 3: oops"


def test_cancel_and_terminate_all_stop_a_running_command(tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    done = subprocesses.run(["sleep", "300"], timeout=60, cancel=cancel)
    assert done.cancelled and done.killed and done.reason == "cancelled"

    pids = tmp_path / "pids"
    results: list[subprocesses.Completed] = []
    worker = threading.Thread(
        target=lambda: results.append(
            subprocesses.run(["sh", "-c", HANG], timeout=60, env={**os.environ, "PIDS": str(pids)})
        )
    )
    worker.start()
    assert wait_until(lambda: len(pids_in(pids)) == 2)
    assert subprocesses.terminate_all() == 1  # what the session's SIGINT/SIGTERM handler calls
    worker.join(15)
    assert results and results[0].cancelled
    assert_gone(pids_in(pids))


def test_deadline_bounds_a_longer_timeout() -> None:
    done = subprocesses.run(["sleep", "300"], timeout=60, deadline=time.monotonic() + 0.5)
    assert done.timed_out and done.reason == "deadline"
    assert "run's deadline" in done.failure()
    past = subprocesses.run(["sleep", "300"], timeout=60, deadline=time.monotonic() - 1)
    assert past.timed_out and past.returncode is None and "not started" in past.failure()


def test_cancelling_the_awaiting_task_kills_the_group(tmp_path: Path) -> None:
    import asyncio

    pids = tmp_path / "pids"

    async def main() -> None:
        task = asyncio.ensure_future(
            subprocesses.run_async(
                ["sh", "-c", HANG], timeout=60, env={**os.environ, "PIDS": str(pids)}
            )
        )
        while len(pids_in(pids)) < 2:
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert_gone(pids_in(pids))


def test_interpreter_exit_kills_live_groups(tmp_path: Path) -> None:
    """A command still running in a daemon thread when preflight exits goes with it."""
    pids = tmp_path / "pids"
    code = textwrap.dedent(
        f"""
        import os, sys, threading, time
        from preflight import subprocesses
        os.environ["PIDS"] = {str(pids)!r}
        threading.Thread(
            target=subprocesses.run, args=(["sh", "-c", {HANG!r}],), kwargs={{"timeout": 300}},
            daemon=True,
        ).start()
        while len(open(os.environ["PIDS"]).read().split()) < 2 if os.path.exists(
            os.environ["PIDS"]) else True:
            time.sleep(0.05)
        sys.exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", code], timeout=60, check=True)
    assert_gone(pids_in(pids))


def test_display_name_masks_secrets_and_never_shows_the_environment() -> None:
    name = subprocesses.display_name(
        [
            "/usr/local/bin/kubelogin",
            "get-token",
            "--client-secret",
            "hunter2-value",
            "--password=pa55word",
            "--server-id",
            "6dae42f8-4368-4678-94ff-3960e28e3630",
            JWT,
            OPAQUE,
        ]
    )
    assert name.startswith("kubelogin get-token --client-secret *** --password=*** ")
    assert "6dae42f8-4368-4678-94ff-3960e28e3630" in name  # an id, not a secret
    for secret in ("hunter2-value", "pa55word", JWT, OPAQUE, "/usr/local/bin"):
        assert secret not in name
    line = subprocesses.quote_line(f"\n  error: token {JWT} and {OPAQUE} rejected\nmore")
    assert line == "error: token *** and *** rejected"


# -- kubeconfig exec plugins, through the real CLI -------------------------------------------


def test_hanging_exec_plugin_is_bounded_and_killed(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api([node("n1")])
    pids = tmp_path / "pids"
    script(tmp_path / "hang-plugin.sh", HANG)
    kubeconfig = api.kubeconfig(
        tmp_path / "kc", user_exec=exec_stanza("./hang-plugin.sh", {"PIDS": str(pids)})
    )
    started = time.monotonic()
    result = run_cluster(tmp_path, kubeconfig, "--timeout", "2", timeout=60)
    elapsed = time.monotonic() - started
    assert result.code == 1, result.stderr
    assert elapsed < 30
    found = {f["check"]: f for f in result.findings()}
    reachable = found["cluster.reachable"]
    assert reachable["status"] == "fail" and reachable["details"]["kind"] == "exec"
    assert "hang-plugin.sh get-token" in reachable["message"]
    assert "within 2s (killed)" in reachable["message"]
    assert reachable["details"]["command"].startswith("hang-plugin.sh get-token --server-id")
    assert "kubelogin convert-kubeconfig" in reachable["remediation"]
    assert reachable["target"] == api.url
    version = found["cluster.version"]
    assert version["status"] == "skip" and "hang-plugin.sh" in version["message"]
    assert str(pids) not in json.dumps(result.report())  # the plugin's env is never shown
    assert_gone(pids_in(pids))
    assert api.requests == []


@pytest.mark.parametrize(
    ("output", "says"),
    [
        ("hello, this is not JSON", "not ExecCredential JSON"),
        ('{"kind": "Status", "apiVersion": "v1"}', "not an ExecCredential (kind 'Status')"),
        (
            json.dumps({"apiVersion": API_V1, "kind": "ExecCredential", "status": {}}),
            "neither a token nor a client certificate and key",
        ),
        (
            json.dumps(
                {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "kind": "ExecCredential",
                    "status": {"token": EXEC_TOKEN},
                }
            ),
            "answered with apiVersion",
        ),
    ],
)
def test_exec_plugin_printing_garbage(
    tmp_path: Path, kube_api: Any, output: str, says: str
) -> None:
    api = kube_api([node("n1")])
    (tmp_path / "answer").write_text(output)
    plugin = script(tmp_path / "garbage.sh", f'cat "{tmp_path / "answer"}"\n')
    kubeconfig = api.kubeconfig(tmp_path / "kc", user_exec=exec_stanza(str(plugin)))
    result = run_cluster(tmp_path, kubeconfig)
    (reachable,) = result.findings("cluster.reachable")
    assert reachable["status"] == "fail" and reachable["details"]["kind"] == "exec"
    assert says in reachable["message"] and "garbage.sh" in reachable["message"]
    assert_nowhere(result, EXEC_TOKEN)
    assert api.requests == []


def test_failing_exec_plugin_quotes_stderr_without_secrets(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api([node("n1")])
    script(
        tmp_path / "fails.sh",
        f"""\
        echo "error: refresh failed for token {JWT} (cache {OPAQUE})" >&2
        echo "second line {OPAQUE}" >&2
        echo '{{"status": {{"token": "{EXEC_TOKEN}"}}}}'
        exit 1
        """,
    )
    kubeconfig = api.kubeconfig(tmp_path / "kc", user_exec=exec_stanza(str(tmp_path / "fails.sh")))
    result = run_cluster(tmp_path, kubeconfig)
    (reachable,) = result.findings("cluster.reachable")
    assert reachable["status"] == "fail" and reachable["details"]["kind"] == "exec"
    assert "exited 1: error: refresh failed for token ***" in reachable["message"]
    assert "second line" not in reachable["message"]
    assert_nowhere(result, JWT, OPAQUE, EXEC_TOKEN)


def test_working_exec_plugin_gets_exec_info_and_env(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api([node("n1")], token=EXEC_TOKEN, version="v1.36.2")
    info = tmp_path / "exec-info.json"
    (tmp_path / "plugins").mkdir()
    script(
        tmp_path / "plugins" / "good.sh",  # "plugins/good.sh": relative to the kubeconfig
        f"""\
        printf '%s' "$KUBERNETES_EXEC_INFO" > "{info}"
        printf '%s' "$PLUGIN_SETTING" > "{info}.env"
        echo '{{"apiVersion": "{API_V1}", "kind": "ExecCredential",'
        echo ' "status": {{"token": "{EXEC_TOKEN}"}}}}'
        """,
    )
    kubeconfig = api.kubeconfig(
        tmp_path / "kc",
        user_exec=exec_stanza(
            "plugins/good.sh", {"PLUGIN_SETTING": "from-kubeconfig"}, provideClusterInfo=True
        ),
    )
    result = run_cluster(tmp_path, kubeconfig)
    assert [f["status"] for f in result.findings("cluster.reachable")] == ["pass"]
    assert [f["status"] for f in result.findings("cluster.version")] == ["pass"]
    sent = json.loads(info.read_text())
    assert sent["apiVersion"] == API_V1 and sent["kind"] == "ExecCredential"
    assert sent["spec"]["interactive"] is False
    assert sent["spec"]["cluster"]["server"] == api.url
    assert Path(f"{info}.env").read_text() == "from-kubeconfig"
    assert api.requests, "the token was used against the API server"
    assert_nowhere(result, EXEC_TOKEN)

    client = KubeClient(KubeSettings(str(kubeconfig), None, 5))
    assert client.reachability().ok
    assert client.secrets() == [EXEC_TOKEN]  # what the report's redactor masks


def test_exec_plugin_that_cannot_run_here(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api([node("n1")])
    missing = api.kubeconfig(
        tmp_path / "kc1",
        user_exec=exec_stanza("kubelogin-not-installed", installHint="brew install kubelogin"),
    )
    reach = KubeClient(KubeSettings(str(missing), None, 5)).reachability()
    assert reach.error is not None and reach.error.kind == "exec"
    assert "was not found" in reach.error.message
    assert reach.error.remediation() == "brew install kubelogin"
    script(tmp_path / "interactive.sh", "exit 0\n")
    interactive = api.kubeconfig(
        tmp_path / "kc2",
        user_exec=exec_stanza(str(tmp_path / "interactive.sh"), interactiveMode="Always"),
    )
    reach = KubeClient(KubeSettings(str(interactive), None, 5)).reachability()
    assert reach.error is not None and "interactiveMode: Always" in reach.error.message
    assert api.requests == []


def test_exec_plugin_client_certificate_goes_into_the_kubeconfig() -> None:
    from preflight.clients.kube_exec import ExecPlan

    answer = {
        "apiVersion": API_V1,
        "kind": "ExecCredential",
        "status": {"clientCertificateData": "CERT PEM", "clientKeyData": "KEY PEM"},
    }
    credential = parse_credential(json.dumps(answer).encode(), API_V1, "plugin")
    assert credential.secrets() == ["KEY PEM"] and "KEY" not in repr(credential)
    plan = ExecPlan(
        "ctx",
        Path("/k/config"),
        "u",
        {"command": "plugin"},
        {"server": "https://k"},
        {"users": [{"name": "u", "user": {"exec": {"command": "plugin"}, "token": "stale"}}]},
    )
    user = config_with(plan, credential)["users"][0]["user"]
    assert set(user) == {"client-certificate-data", "client-key-data"}


def test_sigterm_while_a_plugin_hangs(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api([node("n1")])
    pids = tmp_path / "pids"
    script(tmp_path / "hang.sh", HANG)
    kubeconfig = api.kubeconfig(
        tmp_path / "kc", user_exec=exec_stanza("./hang.sh", {"PIDS": str(pids)})
    )
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "preflight", "run", "--kubeconfig", str(kubeconfig)]
        + ["--check", "cluster.*", "--timeout", "120", "--out", str(out)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert wait_until(lambda: len(pids_in(pids)) == 2, 30), "the plugin never started"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 143, stderr
    report = json.loads((out / "report.json").read_text())
    (reachable,) = [r for r in report["results"] if r["check"] == "cluster.reachable"]
    assert reachable["status"] == "error" and "interrupted" in reachable["message"]
    assert_gone(pids_in(pids))


# -- az ------------------------------------------------------------------------------------------


def test_hung_az_is_named_and_killed(tmp_path: Path, fake_az: Callable[..., FakeAz]) -> None:
    az = fake_az(delay=300)
    started = time.monotonic()
    result = preflight(
        "run",
        "--check",
        "azure.credentials",
        "--check",
        "azure.cli",
        "--deadline",
        "8",
        "--format",
        "json",
        env={"PATH": f"{az.dir}{os.pathsep}{os.defpath}", "AZURE_ACCESS_TOKEN": ""},
        out=tmp_path / "out",
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert result.code in (0, 1), result.stderr
    (credentials,) = result.findings("azure.credentials")
    assert credentials["status"] == "skip"
    assert "`az account get-access-token --resource" in credentials["message"]
    assert "run's deadline" in credentials["message"]
    (cli,) = result.findings("azure.cli")
    assert cli["status"] == "error" and "`az version -o json`" in cli["message"]
    assert sorted(c[:2] for c in az.calls()) == [["account", "get-access-token"], ["version", "-o"]]
    marker = str(az.dir)
    assert wait_until(
        lambda: subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 1, 10
    ), "a fake az is still running"
