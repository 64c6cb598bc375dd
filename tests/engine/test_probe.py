"""``preflight probe`` run directly, as a pod runs it: JSON lines on stdout, the done line last,
against the loopback DNS and TLS servers (no cluster involved)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

CLUSTER_DNS = "kubernetes.default.svc.cluster.local"


def probe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
        and not k.startswith("PREFLIGHT_")
    }
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "preflight", "probe", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def lines_of(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line must be one JSON object: the controller parses nothing else."""
    parsed = [json.loads(line) for line in stdout.splitlines()]
    assert all(isinstance(p, dict) for p in parsed)
    return parsed


def loopback_profile(tmp_path: Path, tls_port: int) -> dict[str, Any]:
    document = {
        "name": "loopback",
        "cloud": "AzureCloud",
        "hosts": [
            {"host": "ok.test", "port": tls_port, "purpose": "a reachable host"},
            {"host": "gone.test", "port": 9, "purpose": "a missing name"},
            {"host": "{acr}.azurecr.test", "port": tls_port, "purpose": "the workspace registry"},
        ],
    }
    (tmp_path / "loopback.yaml").write_text(yaml.safe_dump(document))
    return document


def test_probe_prints_findings_as_json_lines_then_done(
    tmp_path: Path, dns_server: Any, tls_server: Any, ca_bundle: Path
) -> None:
    tls = tls_server(hostnames=["ok.test", "myacr.azurecr.test"])
    dns = dns_server(
        records={
            "ok.test": "127.0.0.1",
            "myacr.azurecr.test": "127.0.0.1",
            CLUSTER_DNS: "10.0.0.1",
        },
        nxdomain=["gone.test"],
    )
    loopback_profile(tmp_path, tls.port)
    result = probe(
        "--profile",
        str(tmp_path / "loopback.yaml"),
        "--set",
        "acr=myacr",
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(ca_bundle),
        "--timeout",
        "2",
        "--resolve",
        CLUSTER_DNS,
        env={"PREFLIGHT_NODE_NAME": "aks-gpu-0", "PREFLIGHT_NODE_POOL": "gpu"},
    )
    assert result.returncode == 0, result.stderr
    lines = lines_of(result.stdout)
    assert lines[-1] == {"probe": "done", "count": len(lines) - 1}
    findings = [line for line in lines if "check" in line]
    assert {f["check"] for f in findings} == {"dns.resolve", "egress.https"}
    by = {(f["check"], f["target"]): f for f in findings}
    assert len(by) == 6
    for finding in findings:  # the report's shape, plus where it was measured
        assert set(finding) >= {"check", "status", "target", "message", "remediation", "details"}
        assert finding["node"] == "aks-gpu-0" and finding["node_pool"] == "gpu"
        assert finding["details"]["vantage"] == "in-cluster"
    assert by[("dns.resolve", "ok.test")]["status"] == "pass"
    assert by[("egress.https", "myacr.azurecr.test")]["status"] == "pass"
    assert "HTTP 204" in by[("egress.https", "ok.test")]["message"]
    assert by[("dns.resolve", "gone.test")]["status"] == "fail"
    assert "NXDOMAIN" in by[("dns.resolve", "gone.test")]["message"]
    (resolved,) = [line for line in lines if "resolve" in line]
    assert resolved["resolve"] == CLUSTER_DNS and resolved["outcome"] == "ok"
    assert resolved["addresses"] == ["10.0.0.1"] and resolved["node_pool"] == "gpu"


def test_probe_takes_profile_and_ca_bundle_from_the_environment(
    tmp_path: Path, dns_server: Any, tls_server: Any, ca_bundle: Path
) -> None:
    """A pod cannot read the controller's files: ``env:VAR`` carries the text itself."""
    tls = tls_server(hostnames=["ok.test"])
    dns = dns_server(records={"ok.test": "127.0.0.1"}, nxdomain=["gone.test"])
    document = loopback_profile(tmp_path, tls.port)
    result = probe(
        "--profile",
        "env:PROFILE_TEXT",
        "--ca-bundle",
        "env:CA_TEXT",
        "--nameserver",
        dns.address,
        "--check",
        "egress.https",
        "--timeout",
        "2",
        env={"PROFILE_TEXT": json.dumps(document), "CA_TEXT": ca_bundle.read_text()},
    )
    assert result.returncode == 0, result.stderr
    lines = lines_of(result.stdout)
    found = {line["target"]: line for line in lines if line.get("check")}
    assert found["ok.test"]["status"] == "pass", found["ok.test"]
    assert found["{acr}.azurecr.test"]["status"] == "skip"
    assert found["ok.test"]["node"] is None  # not in a pod: nothing claims a node
    assert found["ok.test"]["details"]["vantage"] == "probe"
    assert lines[-1] == {"probe": "done", "count": 3}


def test_probe_redacts_secrets_and_exits_zero_on_failures(tmp_path: Path, dns_server: Any) -> None:
    dns = dns_server(nxdomain=["s3cr3t-value-here.test"])
    document = {
        "name": "secretive",
        "cloud": "AzureCloud",
        "hosts": [{"host": "{storage_key}.test", "port": 9}],
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(document))
    result = probe(
        "--profile",
        str(tmp_path / "p.yaml"),
        "--set",
        "storage_key=s3cr3t-value-here",
        "--nameserver",
        dns.address,
        "--timeout",
        "2",
    )
    assert result.returncode == 0, "the controller judges the findings, not the exit code"
    assert "s3cr3t-value-here" not in result.stdout
    statuses = [line["status"] for line in lines_of(result.stdout) if "check" in line]
    assert statuses and set(statuses) == {"fail"}


def test_probe_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = probe("--profile", "env:NOT_SET_ANYWHERE")
    assert missing.returncode == 2
    assert "NOT_SET_ANYWHERE is not set" in missing.stderr and not missing.stdout
    bad_check = probe("--check", "nothing.like.this")
    assert bad_check.returncode == 2 and "matches no check" in bad_check.stderr
    bad_ca = probe("--ca-bundle", "env:CA", env={"CA": "not a certificate"})
    assert bad_ca.returncode == 2 and "--ca-bundle env:CA" in bad_ca.stderr
    assert "Traceback" not in missing.stderr + bad_check.stderr + bad_ca.stderr
