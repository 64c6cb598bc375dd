"""smoke.inference through the real ``preflight run``: the fake API server runs the smoke model
Deployment and the load Job as local processes (support/kube_runner.py: the real ``preflight
serve-model`` and ``preflight load`` entry points, the Service's DNS name rewritten to the model's
local port), and the findings, the ``smoke`` report key and every rendered format are checked.

Runs are short (2 s at 20 rps after 0.3 s of warm-up): what is tested is the plumbing and the
rules, not the latency of this machine. Regressions are made honestly, by giving the model real
service time (``--set smoke_service_time_ms``), never by editing numbers.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from support.chromium import dump_dom, run_chromium
from support.kube_objects import namespace, node
from support.leftovers import nothing_left

from tests.clirun import Result, preflight

SHORT = ("--set", "smoke_duration=2", "--set", "smoke_warmup=0.3", "--set", "smoke_rate=20")
KEY = "sk-smoke-7f3a9c1e5b2d4f60a8e1c3b5d7f9a2c4"


def cluster() -> list[dict[str, Any]]:
    return [node("aks-nodepool1-0"), namespace("default")]


def run(api: Any, out: Path, *args: str, check: str = "smoke.inference") -> Result:
    return preflight(
        "run",
        "--kubeconfig",
        str(api.kubeconfig(out.with_name(out.name + "-kubeconfig"))),
        "--check",
        check,
        "--format",
        "json,html,md",
        *args,
        out=out,
        timeout=180,
    )


def smoke_findings(result: Result) -> dict[str, dict[str, Any]]:
    found = result.findings("smoke.inference")
    assert found, result.stdout + result.stderr
    return {f["details"].get("kind", f["status"]): f for f in found}


# -- the measurement ---------------------------------------------------------------------------
def test_deploys_serves_measures_and_leaves_nothing(
    tmp_path: Path, kube_api: Any, kube_runner: Any
) -> None:
    api = kube_api(cluster())
    runner = kube_runner(api)
    result = run(api, tmp_path / "out", *SHORT)
    assert result.code == 0, result.stdout + result.stderr
    direct = smoke_findings(result)["direct"]
    assert direct["status"] == "pass", direct
    assert re.search(
        r"p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms at 20 rps, 0 errors", direct["message"]
    )
    details = direct["details"]
    assert set(details["latency_ms"]) == {"p50", "p90", "p95", "p99", "p999", "max"}
    lat = details["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["p999"] <= lat["max"]
    assert details["requests"] == 40 and details["errors"] == 0 and details["error_rate"] == 0
    assert details["status_codes"] == {"200": 40}
    assert sum(details["histogram"]["counts"]) == 40
    assert details["achieved_rps"] > 18
    assert details["settings"]["rate"] == 20 and details["settings"]["duration_s"] == 2
    assert details["model_node"] == "aks-nodepool1-0"
    assert direct["target"].startswith("http://smoke-model.preflight-")
    assert direct["target"].endswith(".svc.cluster.local:5001/score")

    # what ran: the real entry points, as a Deployment (readiness on /healthz) and a Job
    ran = {r.name.rsplit("-", 1)[0]: r for r in runner.history}
    assert any(name.startswith("smoke-model") for name in ran)
    assert any(name.startswith("smoke-load") for name in ran)

    report = result.report()
    smoke = report["smoke"]
    assert smoke["direct"]["latency_ms"] == details["latency_ms"]
    assert smoke["routed"] is None and smoke["baseline"] is None
    assert "Direct (in-cluster): p50" in result.stdout
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "### Smoke inference (latency, ms)" in summary
    assert "| Direct (in-cluster) (PASS) |" in summary
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'id="smoke-inference"' in html and "<svg" in html
    nothing_left(api, runner)


def test_not_deployed_unless_asked(tmp_path: Path, kube_api: Any, kube_runner: Any) -> None:
    """A run that does not name the check (here: a glob that happens to match it) deploys
    nothing and says how to ask; --set smoke=on asks; --set smoke=off wins over --check."""
    api = kube_api(cluster())
    runner = kube_runner(api)
    quiet = run(api, tmp_path / "quiet", *SHORT, check="*.inference")
    (skipped,) = quiet.findings("smoke.inference")
    assert skipped["status"] == "skip"
    assert "--check smoke.inference" in skipped["remediation"]
    assert "--set smoke=on" in skipped["remediation"]
    assert not [r for r in api.requests if r.method == "POST"]
    assert "smoke" not in quiet.report()

    off = run(api, tmp_path / "off", *SHORT, "--set", "smoke=off")
    (skipped,) = off.findings("smoke.inference")
    assert skipped["status"] == "skip" and "smoke=off" in skipped["message"]
    assert not [r for r in api.requests if r.method == "POST"]

    on = run(api, tmp_path / "on", *SHORT, "--set", "smoke=on", check="*.inference")
    assert smoke_findings(on)["direct"]["status"] == "pass"
    nothing_left(api, runner)


# -- before / after ------------------------------------------------------------------------------
def test_baseline_same_settings_passes_with_deltas(
    tmp_path: Path, kube_api: Any, kube_runner: Any
) -> None:
    """Two runs with identical settings compare and pass. The model is given 200 ms of service
    time in both, so that a shared CI machine's scheduling noise (tens of milliseconds under
    load) stays inside the 25% the rule allows."""
    api = kube_api(cluster())
    kube_runner(api)
    same = (*SHORT, "--set", "smoke_service_time_ms=200")
    before = run(api, tmp_path / "before", *same)
    assert before.code == 0, before.stdout
    after = run(
        api, tmp_path / "after", *same, "--baseline", str(tmp_path / "before" / "report.json")
    )
    assert after.code == 0, after.stdout + after.stderr
    direct = smoke_findings(after)["direct"]
    assert direct["status"] == "pass", direct["message"]
    base = direct["details"]["baseline"]
    assert base["comparable"] is True and base["verdict"] == "pass"
    assert base["run_id"] == before.report()["run"]["id"]
    p95 = base["delta"]["p95"]
    assert p95["before"] == before.findings()[0]["details"]["latency_ms"]["p95"]
    assert p95["after"] == direct["details"]["latency_ms"]["p95"]
    assert p95["delta_ms"] == pytest.approx(p95["after"] - p95["before"], abs=1e-3)
    assert "vs baseline: p95" in direct["message"]
    smoke = after.report()["smoke"]
    assert smoke["baseline"]["direct"]["latency_ms"]["p95"] == p95["before"]
    assert smoke["baseline"]["direct"]["comparable"] is True
    assert "now vs baseline" in (tmp_path / "after" / "summary.md").read_text()


def scaled_baseline(report: dict[str, Any], factor: float, out: Path) -> Path:
    """A baseline made from a measured run, its direct latencies divided by ``factor``: the
    next run with the same settings then measures about ``factor`` times the baseline."""
    document = json.loads(json.dumps(report))
    for result in document["results"]:
        latency = result.get("details", {}).get("latency_ms")
        if result["check"] == "smoke.inference" and isinstance(latency, dict):
            for key, value in latency.items():
                if isinstance(value, int | float):
                    latency[key] = value / factor
    out.write_text(json.dumps(document), encoding="utf-8")
    return out


def test_regression_warns_and_fails(tmp_path: Path, kube_api: Any, kube_runner: Any) -> None:
    """A measured run compared with a baseline that is the same run's figures divided by 1.6
    (+60%: past a 40% threshold, not past twice it: warn) and by 3 (+200%: far past twice 25%:
    fail). The model's 200 ms of service time dominates its latency, so a loaded CI machine
    moves the ratio by a few percent, not across a band (the band edges themselves are pinned
    in-process by test_comparison_rules)."""
    api = kube_api(cluster())
    kube_runner(api)
    slow = ("--set", "smoke_service_time_ms=200")
    measured = run(api, tmp_path / "measured", *SHORT, *slow)
    assert measured.code == 0, measured.stdout + measured.stderr
    report = measured.report()
    sixty = scaled_baseline(report, 1.6, tmp_path / "plus-60.json")
    tripled = scaled_baseline(report, 3.0, tmp_path / "times-3.json")

    worse = run(
        api,
        tmp_path / "worse",
        *SHORT,
        *slow,
        "--set",
        "smoke_max_regression=40%",
        "--baseline",
        str(sixty),
    )
    direct = smoke_findings(worse)["direct"]
    assert direct["status"] == "warn", direct["message"]
    assert "more than the allowed regression of 40%" in direct["message"]
    assert worse.code == 0  # a warning holds the default gate
    assert direct["details"]["baseline"]["verdict"] == "warn"
    assert "regressed since the baseline" in direct["remediation"]

    much_worse = run(
        api,
        tmp_path / "much",
        *SHORT,
        *slow,
        "--set",
        "smoke_max_regression=0.25",
        "--baseline",
        str(tripled),
    )
    direct = smoke_findings(much_worse)["direct"]
    assert direct["status"] == "fail", direct["message"]
    assert "more than twice the allowed regression of 25%" in direct["message"]
    assert much_worse.code == 1
    assert direct["details"]["baseline"]["delta"]["p95"]["delta_ms"] > 100
    assert direct["details"]["settings"]["service_time_ms"] == 200


def test_not_comparable_settings_warn(tmp_path: Path, kube_api: Any, kube_runner: Any) -> None:
    api = kube_api(cluster())
    kube_runner(api)
    before = run(api, tmp_path / "before", *SHORT)
    assert before.code == 0
    after = run(
        api,
        tmp_path / "after",
        *SHORT,
        "--set",
        "smoke_rate=10",
        "--baseline",
        str(tmp_path / "before" / "report.json"),
    )
    direct = smoke_findings(after)["direct"]
    assert direct["status"] == "warn"
    assert "not comparable with the baseline: rate 20 rps before, 10 rps now" in direct["message"]
    assert direct["details"]["baseline"]["comparable"] is False
    assert "smoke_rate" in direct["remediation"]

    # a baseline that never measured (smoke skipped) cannot be compared either
    skipped = run(api, tmp_path / "skipped", *SHORT, check="*.inference")
    assert skipped.findings()[0]["status"] == "skip"
    again = run(
        api, tmp_path / "again", *SHORT, "--baseline", str(tmp_path / "skipped" / "report.json")
    )
    direct = smoke_findings(again)["direct"]
    assert direct["status"] == "warn"
    assert "the baseline has no direct smoke.inference measurement" in direct["message"]


def test_baseline_file_problems_are_usage_errors(tmp_path: Path) -> None:
    missing = preflight(
        "run",
        "--check",
        "smoke.inference",
        "--baseline",
        str(tmp_path / "nope.json"),
        out=tmp_path / "out",
    )
    assert missing.code == 2
    assert missing.stderr.count("\n") == 1 and "--baseline" in missing.stderr
    assert "--baseline" in missing.stderr and "no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something/else", "results": []}')
    wrong = preflight(
        "run", "--check", "smoke.inference", "--baseline", str(bad), out=tmp_path / "out"
    )
    assert wrong.code == 2 and "unsupported report schema" in wrong.stderr
    for value in (
        "smoke_max_regression=25",
        "smoke_rate=fast",
        "scoring_uri=ftp://x/score",
        "scoring_uri=https://x/score?a=b c",
    ):
        usage = preflight("run", "--check", "smoke.inference", "--set", value, out=tmp_path / "out")
        assert usage.code == 2, (value, usage.stderr)
        assert usage.stderr.startswith(f"preflight: error: --set {value}:"), usage.stderr


# -- through the router --------------------------------------------------------------------------
class _Scoring(BaseHTTPRequestHandler):
    """A stand-in for azureml-fe in front of a deployment: bearer key required (401 without)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    key = ""

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.headers.get("Authorization") != f"Bearer {self.key}":
            body, status = b'{"message": "unauthorized"}', 401
        else:
            body, status = b'{"result": [0.31, 0.93]}', 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def router(tls_ca: trustme.CA) -> Iterator[Callable[[str], str]]:
    """Factory: ``router(key)`` -> base URL of a local HTTPS scoring server requiring ``key``."""
    servers: list[ThreadingHTTPServer] = []

    def make(key: str) -> str:
        handler = type("Handler", (_Scoring,), {"key": key})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"https://localhost:{server.server_address[1]}"

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def _all_output(result: Result) -> str:
    assert result.out is not None
    files = [p.read_text(errors="replace") for p in result.out.rglob("*") if p.is_file()]
    return "\n".join([result.stdout, result.stderr, *files])


def test_routed_measurement_side_by_side_and_the_key_never_shown(
    tmp_path: Path, kube_api: Any, kube_runner: Any, router: Any, ca_bundle: Path
) -> None:
    api = kube_api(cluster())
    runner = kube_runner(api)
    base = router(KEY)
    uri = f"{base}/api/v1/endpoint/smoke/score"
    result = run(
        api,
        tmp_path / "out",
        *SHORT,
        "--set",
        f"scoring_uri={uri}",
        "--set",
        f"scoring_key={KEY}",
        "--ca-bundle",
        str(ca_bundle),
    )
    assert result.code == 0, result.stdout + result.stderr
    found = smoke_findings(result)
    routed = found["routed"]
    assert routed["status"] == "pass", routed["message"]
    assert routed["target"] == uri
    assert "through the router: p50" in routed["message"]
    comparison = routed["details"]["comparison"]
    assert comparison["direct"]["latency_ms"] == found["direct"]["details"]["latency_ms"]
    assert comparison["routed"]["latency_ms"] == routed["details"]["latency_ms"]
    overhead = comparison["overhead_ms"]
    assert set(overhead) == {"p50", "p95", "p99"}
    assert overhead["p95"] == pytest.approx(
        routed["details"]["latency_ms"]["p95"] - found["direct"]["details"]["latency_ms"]["p95"],
        abs=1e-3,
    )
    smoke = result.report()["smoke"]
    assert smoke["routed"]["latency_ms"] == routed["details"]["latency_ms"]
    assert smoke["overhead_ms"] == overhead
    assert "Routed (azureml-fe): p50" in result.stdout
    assert "Router overhead (routed - direct)" in result.stdout
    everything = _all_output(result)
    assert KEY not in everything
    assert result.report()["parameters"]["scoring_key"] == "***"
    nothing_left(api, runner)

    # the wrong key: every request refused, told as such, and still never shown
    wrong = run(
        api,
        tmp_path / "wrong",
        *SHORT,
        "--set",
        f"scoring_uri={uri}",
        "--set",
        "scoring_key=not-the-key-0123456789",
        "--ca-bundle",
        str(ca_bundle),
    )
    routed = smoke_findings(wrong)["routed"]
    assert routed["status"] == "fail"
    assert "every request failed" in routed["message"] and "HTTP 401" in routed["message"]
    assert "scoring_key" in routed["remediation"]
    assert "not-the-key-0123456789" not in _all_output(wrong)
    assert wrong.code == 1


# -- failures told plainly -----------------------------------------------------------------------
def test_image_pull_failure_quotes_the_event(
    tmp_path: Path, kube_api: Any, kube_runner: Any
) -> None:
    api = kube_api(cluster())
    runner = kube_runner(api)
    runner.fault("image_pull", name="smoke-model*")
    result = run(api, tmp_path / "out", *SHORT, "--set", "probe_image=myacr.azurecr.io/pf:0.1.0")
    assert result.code == 1
    direct = smoke_findings(result)
    (finding,) = direct.values()
    assert finding["status"] == "fail"
    message = finding["message"]
    assert message.startswith("the smoke model server did not become ready: pod smoke-model-")
    assert "could not pull image myacr.azurecr.io/pf:0.1.0 from myacr.azurecr.io" in message
    assert "401 Unauthorized" in message  # the kubelet's event, quoted
    assert "image_pull_secrets" in finding["remediation"]
    outcome = finding["details"]["outcome"]
    assert outcome["reason"] in ("ErrImagePull", "ImagePullBackOff")
    assert any("Failed" in e and "pull" in e for e in outcome["events"])
    assert "smoke" not in result.report()  # nothing measured, no chart
    assert not [r for r in runner.history if r.name.startswith("smoke-load")]
    nothing_left(api, runner)


@pytest.mark.parametrize(
    ("mode", "said", "fix"),
    [
        ("admission", 'violates PodSecurity "restricted:latest"', "exempt preflight's namespaces"),
        ("quota", "exceeded quota: compute-resources", "raise it"),
        ("unschedulable", "nodes are available", ""),
        ("crash", "model weights missing", "log"),
    ],
)
def test_model_server_failures_are_findings_quoting_kubernetes(
    tmp_path: Path, kube_api: Any, kube_runner: Any, mode: str, said: str, fix: str
) -> None:
    api = kube_api(cluster())
    runner = kube_runner(api)
    runner.fault(
        mode, name="smoke-model*", message="model weights missing" if mode == "crash" else None
    )
    result = run(api, tmp_path / "out", *SHORT, "--set", "smoke_timeout=20")
    (finding,) = result.findings("smoke.inference")
    assert finding["status"] == "fail", finding
    assert finding["message"].startswith("the smoke model server did not become ready: ")
    assert said in finding["message"]
    assert fix in finding["remediation"] and finding["remediation"]
    assert result.code == 1
    assert not [r for r in runner.history if r.name.startswith("smoke-load")]
    nothing_left(api, runner)


def test_dry_run_prints_the_manifests_and_creates_nothing(
    tmp_path: Path, kube_api: Any, kube_runner: Any
) -> None:
    api = kube_api(cluster())
    kube_runner(api)
    result = run(api, tmp_path / "out", *SHORT, "--dry-run")
    assert result.code == 0, result.stdout + result.stderr
    (finding,) = result.findings("smoke.inference")
    assert finding["status"] == "skip" and "dry run" in finding["message"]
    writes = [r for r in api.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]
    assert all(r.resource == "selfsubjectreviews" for r in writes), writes  # who am I: a read
    assert [n["metadata"]["name"] for n in api.objects("namespaces")] == ["default"]
    import yaml

    documents = [d for d in yaml.safe_load_all((tmp_path / "out" / "manifests.yaml").read_text())]
    kinds = {d["kind"]: d for d in documents if d}
    assert {"Namespace", "Deployment", "Service", "Job"} <= set(kinds)
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python3", "-m", "preflight", "serve-model"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 5001}
    assert kinds["Service"]["spec"]["ports"][0]["port"] == 5001
    job = kinds["Job"]["spec"]
    load = job["template"]["spec"]["containers"][0]
    assert load["command"] == ["python3", "-m", "preflight", "load"]
    assert "--json" in load["args"] and load["args"][load["args"].index("--rate") + 1] == "20"
    assert job["activeDeadlineSeconds"] > 2 and job["backoffLimit"] == 0
    assert "kind: Deployment" in result.stdout and "kind: Job" in result.stdout


# -- the report ------------------------------------------------------------------------------------
def test_html_section_and_chart_in_chromium_with_hostile_uri(
    tmp_path: Path, kube_api: Any, kube_runner: Any, router: Any, ca_bundle: Path
) -> None:
    api = kube_api(cluster())
    kube_runner(api)
    before = run(api, tmp_path / "before", *SHORT)
    assert before.code == 0
    hostile = "<script>document.title='pwned'</script>"
    # the path is shown as given (the query is re-encoded when shown: secrets are masked there)
    uri = f"{router(KEY)}/score/{hostile}<img/src=x/onerror=alert(1)>?deployment={hostile}"
    after = run(
        api,
        tmp_path / "after",
        *SHORT,
        "--set",
        "smoke_service_time_ms=3",
        "--set",
        f"scoring_uri={uri}",
        "--set",
        f"scoring_key={KEY}",
        "--ca-bundle",
        str(ca_bundle),
        "--baseline",
        str(tmp_path / "before" / "report.json"),
    )
    assert after.code in (0, 1), after.stderr
    page = tmp_path / "after" / "report.html"
    html = page.read_text()
    assert "<script>document" not in html and "<img/src" not in html
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;img/src" in html
    section = html[html.index('id="smoke-inference"') :]
    assert section.count("<svg") == 2
    for label in ("Direct (in-cluster)", "Routed (azureml-fe)", "Baseline direct"):
        assert label in section

    dom = dump_dom(tmp_path, page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    title = re.search(r"<title>(.*?)</title>", dom.stdout, flags=re.S)
    assert title and "pwned" not in title.group(1)
    assert "<img" not in dom.stdout
    assert dom.stdout.count("<svg") == 2 and "<rect" in dom.stdout

    shot = tmp_path / "smoke.png"
    shooting = run_chromium(
        tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", page.resolve().as_uri()
    )
    assert shooting.returncode == 0, shooting.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert KEY not in _all_output(after)


# -- the rules, without a cluster ------------------------------------------------------------------
def test_comparison_rules() -> None:
    from preflight.checks.smoke.compare import judge, not_comparable, parse_fraction

    assert parse_fraction("25%") == parse_fraction("0.25") == 0.25
    with pytest.raises(ValueError, match="ambiguous"):
        parse_fraction("25")

    def at(p95: float, error_rate: float = 0.0) -> dict[str, Any]:
        return {"latency_ms": {"p95": p95}, "error_rate": error_rate}

    assert judge(at(10), at(12), 0.25)[0] == "pass"
    assert judge(at(10), at(13), 0.25)[0] == "warn"
    assert judge(at(10), at(16), 0.25)[0] == "fail"
    assert judge(at(1.0), at(2.5), 0.25)[0] == "pass"  # +150% but 1.5 ms: noise
    assert judge(at(10), at(10, 0.02), 0.25)[0] == "fail"  # 0% -> 2% errors
    assert judge(at(10, 0.01), at(10, 0.012), 0.25)[0] == "pass"  # +0.2 points: noise
    same = {"rate": 20, "duration_s": 20, "payload_sha256": "abc"}
    assert not_comparable(same, dict(same)) == []
    assert not_comparable(same, {**same, "payload_sha256": "def"}) == ["a different payload"]


def test_chart_escapes_and_survives_bad_numbers() -> None:
    from preflight.reports.charts import grouped_bars, histogram

    svg = grouped_bars(
        ["p50", "<b>p95</b>"],
        [("<script>x</script>", [1.0, float("nan")]), ("ok", ["7", None])],
        title="a\"b'<c>",
    )
    assert "<script" not in svg and "&lt;script&gt;" in svg and "<b>" not in svg
    assert "nan" not in svg.lower() and 'aria-label="a&quot;b&#x27;&lt;c&gt;"' in svg
    assert grouped_bars(["p50"], [("none", [None])], title="t") == ""
    assert histogram([("x", [1.0, 2.0], [3, float("inf")])], title="t").count("<rect") >= 2
    assert histogram([("x", [], [])], title="t") == ""
    json.dumps(svg)  # plain text
