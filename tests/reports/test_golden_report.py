"""A fixed run's report.json stays the same, timestamps and ports aside.

One run touches most checks at once (DNS and egress against loopback servers answering as the
Azure services do, a cluster on the fake API server, the planned settings, the offline AKS
resource, GPUs absent) and its report, normalised, is compared with tests/data/golden/report.json.
A refactor must leave it unchanged; a change of behaviour shows here first, as a diff to read.
After an intended change, regenerate: ``PREFLIGHT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest
tests/reports/test_golden_report.py`` and review the diff of the golden file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from support import CNAME, azure_services
from support.azure_objects import managed_cluster
from support.kube_objects import (
    configmap,
    crd,
    daemonset,
    default_namespaces,
    deployment,
    node,
    service,
)
from support.paths import DATA

from tests.clirun import preflight

GOLDEN = DATA / "golden" / "report.json"
#: details that change from run to run whatever the code: times, sizes read, random ids
VOLATILE_KEYS = {
    "duration_s",
    "duration_ms",
    "timings_ms",
    "elapsed_s",
    "body_prefix",
    "body_bytes_read",
    "headers",
    "not_after",
    "subject",
    "issuer",
    "dns_names",
    "presented_certificate",
    "answer",
}


def _normalise(value: Any, replacements: list[tuple[re.Pattern[str], str]]) -> Any:
    if isinstance(value, dict):
        return {
            k: "PORT"
            if k == "port" and isinstance(v, int) and v > 1024
            else _normalise(v, replacements)
            for k, v in sorted(value.items())
            if k not in VOLATILE_KEYS
        }
    if isinstance(value, list):
        return [_normalise(v, replacements) for v in value]
    if isinstance(value, str):
        for pattern, text in replacements:
            value = pattern.sub(text, value)
        return value
    if isinstance(value, float):
        return round(value, 3)
    return value


def normalised(report: dict[str, Any], tmp: Path) -> dict[str, Any]:
    report = dict(report)
    report.pop("run", None)
    report["results"] = sorted(
        report["results"], key=lambda r: (r["check"], str(r["target"]), r["message"])
    )
    replacements = [
        (re.compile(re.escape(str(tmp))), "TMP"),
        (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
        (re.compile(r"localhost:\d+"), "localhost:PORT"),
        (re.compile(r"\bport \d{4,5}\b"), "port PORT"),
        (re.compile(r":\d{4,5}\b"), ":PORT"),
        (re.compile(r"#[A-Za-z0-9_-]{8,}"), "#ID"),
        (re.compile(r"\b\d+(\.\d+)? ?ms\b"), "N ms"),
        (re.compile(r"\b[0-9a-f]{12}\b"), "RUNID"),
        (re.compile(r"OU=Testing (CA|cert) [^,']*"), "OU=Testing"),
    ]
    return _normalise(report, replacements)


def scenario(tmp_path: Path, dns_server: Any, tls_server: Any, kube_api: Any) -> dict[str, Any]:
    acr, store = "goldacr.azurecr.io", "goldstore.blob.core.windows.net"
    tls = tls_server(
        hostnames=[acr, store, "files.gold.test"],
        status=204,
        routes={"/v2/": azure_services.acr_v2_challenge(acr)},
    )
    dns = dns_server(
        records={
            acr: "127.0.0.1",
            store: CNAME("goldstore.privatelink.blob.core.windows.net"),
            "goldstore.privatelink.blob.core.windows.net": "127.0.0.1",
            "files.gold.test": "127.0.0.1",
            "sinkhole.gold.test": "0.0.0.0",
        },
        nxdomain=["gone.gold.test"],
    )
    hosts = [
        {"host": acr, "port": tls.port, "needed_for": ["workspace"], "purpose": "registry"},
        {"host": store, "port": tls.port, "needed_for": ["workspace"], "purpose": "storage"},
        {"host": "files.gold.test", "port": tls.port, "purpose": "files", "source": "test"},
        {"host": "gone.gold.test", "port": tls.port, "required": False, "purpose": "optional"},
        {"host": "sinkhole.gold.test", "port": tls.port, "purpose": "blocked"},
        {"host": "{acr}.azurecr.io", "port": 443, "purpose": "needs a parameter"},
    ]
    profile = tmp_path / "gold.yaml"
    profile.write_text(
        yaml.safe_dump(
            {
                "name": "gold",
                "cloud": "AzureCloud",
                "kubernetes": {"min_minor": 29, "max_minor": 31},
                "hosts": hosts,
            }
        )
    )
    objects = [
        *default_namespaces(),
        node("aks-a", cpu="4", memory="16Gi"),
        node("aks-b", cpu="4", memory="16Gi"),
        node("aks-c", cpu="2", memory="8Gi", taints=["sku=gpu:NoSchedule"]),
        deployment("coredns", "kube-system", labels={"k8s-app": "kube-dns"}),
        daemonset("nvidia-device-plugin-daemonset", "kube-system"),
        crd("prometheuses.monitoring.coreos.com"),
        service("ingress", "default", type="LoadBalancer", ingress_ips=["20.1.2.3"]),
        configmap("unrelated", "default", data={"a": "b"}),
    ]
    api = kube_api(objects, version="v1.30.4")
    aks = managed_cluster("aks1", rg="rg1", fqdn="aks1.hcp.eastus.azmk8s.io")
    aks_json = tmp_path / "aks.json"
    aks_json.write_text(json.dumps(aks))
    result = preflight(
        "run",
        "--profile",
        str(profile),
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kubeconfig")),
        "--nameserver",
        dns.address,
        "--ca-bundle",
        str(tmp_path / "ca.pem"),
        "--extension-config",
        "enableInference=True inferenceRouterServiceType=LoadBalancer "
        "allowInsecureConnections=True",
        "--set",
        f"aks_json={aks_json}",
        "--timeout",
        "3",
        "--format",
        "json",
        env={"PATH": "/usr/bin:/bin", "AZURE_ACCESS_TOKEN": ""},
        out=tmp_path / "out",
    )
    assert result.code in (0, 1), result.stderr
    return result.report()


def test_a_fixed_run_reports_the_same(
    tmp_path: Path, dns_server: Any, tls_server: Any, kube_api: Any, tls_ca: Any
) -> None:
    from support import write_ca_bundle

    write_ca_bundle(tls_ca, tmp_path / "ca.pem")
    report = normalised(scenario(tmp_path, dns_server, tls_server, kube_api), tmp_path)
    if os.environ.get("PREFLIGHT_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    if report != expected:
        import difflib

        diff = difflib.unified_diff(
            json.dumps(expected, indent=1, sort_keys=True).splitlines(),
            json.dumps(report, indent=1, sort_keys=True).splitlines(),
            "golden",
            "this run",
            lineterm="",
        )
        raise AssertionError("the report changed:\n" + "\n".join(list(diff)[:200]))
