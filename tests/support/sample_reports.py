"""Sample reports, as a finished run writes report.json: a realistic one (every status, every
built-in category, a plugin category) and a hostile one (script and markup injected wherever
data reaches a report). Rendered by tests/reports/ and tests/engine/test_compare.py."""

from __future__ import annotations

from typing import Any

SCRIPT = "<script>document.title='pwned'</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_URL = "javascript:alert(1)"
MDS = (
    "https://learn.microsoft.com/en-us/azure/machine-learning/how-to-access-azureml-behind-firewall"
)


def _host(purpose: str, source: str, required: bool = True, **extra: Any) -> dict[str, Any]:
    return {"purpose": purpose, "source": source, "required": required, **extra}


def sample_report() -> dict[str, Any]:
    """A realistic finished run: every status, every built-in category, a plugin category."""
    results = [
        {
            "check": "dns.resolve",
            "title": "DNS resolution",
            "category": "connectivity",
            "status": "pass",
            "target": "mcr.microsoft.com",
            "message": "resolves to 1 public address",
            "remediation": "",
            "docs": None,
            "duration_s": 0.004,
            "details": _host(
                "pull Azure ML extension and router images",
                f"seed 000 (outbound table); {MDS}",
                addresses=["204.79.197.219"],
            ),
        },
        {
            "check": "dns.resolve",
            "title": "DNS resolution",
            "category": "connectivity",
            "status": "fail",
            "target": "myacr.azurecr.cn",
            "message": "NXDOMAIN: the name does not exist for resolver 10.0.0.10",
            "remediation": "Check the registry name (acr=myacr) and that the private DNS zone "
            "privatelink.azurecr.cn is linked to the cluster's virtual network.",
            "docs": "https://learn.microsoft.com/azure/container-registry/container-registry-private-link",
            "duration_s": 0.012,
            "details": _host(
                "pull model images from the workspace registry",
                "seed 001 (DNS table)",
                phase="dns",
                rcode="NXDOMAIN",
            ),
        },
        {
            "check": "egress.https",
            "title": "HTTPS egress",
            "category": "connectivity",
            "status": "warn",
            "target": "chinaeast2.data.mcr.azk8s.cn",
            "message": "TLS handshake timed out after 5.0 s (optional host)",
            "remediation": "Allow outbound 443 to *.data.mcr.azk8s.cn on the firewall, "
            "or ignore if images are mirrored.",
            "docs": "https://learn.microsoft.com/azure/aks/outbound-rules-control-egress",
            "duration_s": 5.002,
            "details": _host(
                "image layer downloads for MCR",
                "reference endpoints.md",
                required=False,
                rule="*.data.mcr.azk8s.cn",
                phase="tls",
            ),
        },
        {
            "check": "egress.https",
            "title": "HTTPS egress",
            "category": "connectivity",
            "status": "skip",
            "target": "{storage_account}.blob.core.chinacloudapi.cn",
            "message": "the host needs parameter storage_account, which is not set",
            "remediation": "set storage_account=<name> to check "
            "{storage_account}.blob.core.chinacloudapi.cn",
            "docs": None,
            "duration_s": 0.0,
            "details": _host("workspace artifacts and model files", "seed 001 (DNS table)"),
        },
        {
            "check": "cluster.reachable",
            "title": "API server reachable",
            "category": "cluster",
            "status": "pass",
            "target": "aks-prod-cn-dns-1a2b3c.hcp.chinaeast2.cx.prod.service.azk8s.cn",
            "message": "API server answered /version in 38 ms; credentials accepted",
            "remediation": "",
            "docs": None,
            "duration_s": 0.041,
            "details": {"git_version": "v1.30.3"},
        },
        {
            "check": "cluster.version",
            "title": "Kubernetes version",
            "category": "cluster",
            "status": "warn",
            "target": "v1.28.9",
            "message": "Kubernetes 1.28 is older than the supported window 1.29-1.31",
            "remediation": "Upgrade the cluster: az aks upgrade -g rg -n aks-prod-cn "
            "--kubernetes-version 1.30",
            "docs": "https://learn.microsoft.com/azure/aks/supported-kubernetes-versions",
            "duration_s": 0.002,
            "details": {"min_minor": 29, "max_minor": 31},
        },
        {
            "check": "nodes.capacity",
            "title": "Node capacity",
            "category": "cluster",
            "status": "fail",
            "target": "aks-system-12345678-vmss000000",
            "message": "2 vCPU / 7.1 GB allocatable is below the production minimum of "
            "4 vCPU / 14 GB",
            "remediation": "Add a node pool with at least 4 vCPU and 16 GB of memory, e.g. "
            "Standard_D4s_v5.",
            "docs": "https://learn.microsoft.com/azure/machine-learning/how-to-deploy-kubernetes-extension",
            "duration_s": 0.003,
            "details": {"cpu": "1900m", "memory_gb": 7.1, "eligible": True},
        },
        {
            "check": "extension.config",
            "title": "Extension settings",
            "category": "extension",
            "status": "error",
            "target": "inferenceRouterServiceType",
            "message": "the check raised KeyError: 'nodeSelector'",
            "remediation": "This is a bug in preflight; re-run with --check "
            "'extension.config' and report it.",
            "docs": None,
            "duration_s": 0.0,
            "details": {"exception": "KeyError"},
        },
        {
            "check": "azure.providers",
            "title": "Resource providers",
            "category": "azure",
            "status": "skip",
            "target": "Microsoft.KubernetesConfiguration",
            "message": "no Azure credentials found",
            "remediation": "Run 'az login' or set AZURE_CLIENT_ID/AZURE_TENANT_ID, or set "
            "subscription_id to check provider registration.",
            "docs": None,
            "duration_s": 0.0,
            "details": {},
        },
        {
            "check": "gpu.health",
            "title": "GPU health",
            "category": "gpu",
            "status": "pass",
            "target": "aks-gpu-0/0",
            "message": "healthy: ECC clean, 0 retired pages, 41 °C",
            "remediation": "",
            "docs": None,
            "duration_s": 0.02,
            "details": {"name": "NVIDIA A100 80GB PCIe", "temperature_c": 41},
        },
        {
            "check": "gpu.device-plugin",
            "title": "GPU device plugin",
            "category": "gpu",
            "status": "fail",
            "target": "aks-gpu-1",
            "message": "node has an NVIDIA GPU but advertises no nvidia.com/gpu",
            "remediation": "Install the NVIDIA device plugin DaemonSet, or use the GPU Operator.",
            "docs": "https://learn.microsoft.com/azure/aks/gpu-cluster",
            "duration_s": 0.005,
            "details": {"allocatable": {"cpu": "24", "memory": "220Gi"}},
        },
        {
            "check": "smoke.inference",
            "title": "Smoke inference",
            "category": "smoke",
            "status": "pass",
            "target": "preflight-smoke",
            "message": "served 600 requests, p99 18.2 ms, 0 errors",
            "remediation": "",
            "docs": None,
            "duration_s": 21.5,
            "details": {"latency_ms": {"p50": 4.1, "p99": 18.2}},
        },
        {
            "check": "acme.policy",
            "title": "ACME policy",
            "category": "vendor-security",
            "status": "warn",
            "target": "namespace/azureml",
            "message": "namespace has no NetworkPolicy",
            "remediation": "Apply the ACME default-deny policy.",
            "docs": "https://wiki.example.com/k8s/netpol",
            "duration_s": 0.001,
            "details": {},
        },
        {
            "check": "misc.legacy",
            "title": "Legacy check",
            "category": "",
            "status": "pass",
            "target": None,
            "message": "nothing legacy found",
            "remediation": "",
            "docs": None,
            "duration_s": 0.001,
            "details": {},
        },
    ]
    return {
        "schema": "preflight.report/v1",
        "tool": {"name": "preflight", "version": "0.1.0"},
        "run": {
            "id": "8f2c1e0a-4b7d-4e2a-9d55-1c3b9a7f6e21",
            "started_at": "2024-05-01T12:00:03+00:00",
            "finished_at": "2024-05-01T12:00:31+00:00",
            "duration_s": 28.41,
        },
        "profile": {"name": "azure-china", "cloud": "AzureChinaCloud"},
        "parameters": {
            "region": "chinaeast2",
            "acr": "myacr",
            "cluster_type": "aks",
            "nameservers": ["10.0.0.10"],
        },
        "target": {
            "context": "aks-prod-cn",
            "api_server": "https://aks-prod-cn-dns-1a2b3c.hcp.chinaeast2.cx.prod.service.azk8s.cn:443",
            "kubernetes_version": "v1.28.9",
        },
        "summary": {
            "pass": 5,
            "warn": 3,
            "fail": 3,
            "skip": 2,
            "error": 1,
            "ignored": 0,
            "verdict": "fail",
        },
        "results": results,
        "recommendation": {
            "command": "az k8s-extension create --name azureml --extension-type "
            "Microsoft.AzureML.Kubernetes \\\n  --cluster-type managedClusters "
            "--cluster-name aks-prod-cn --resource-group rg \\\n  --config enableInference=True "
            "inferenceRouterServiceType=LoadBalancer allowInsecureConnections=False",
            "reasons": [
                "only 1 eligible node: inferenceRouterHA=False is needed for 1 router replica",
                "a LoadBalancer Service can be provisioned in this cluster",
            ],
        },
    }


def hostile_report() -> dict[str, Any]:
    """The sample with script/markup injections wherever data reaches a report."""
    report = sample_report()
    report["parameters"]["acr"] = SCRIPT
    report["parameters"]["note"] = IMG
    report["results"].insert(
        0,
        {
            "check": "dns.resolve",
            "title": "DNS resolution",
            "category": "connectivity",
            "status": "fail",
            "target": f"{SCRIPT}.azurecr.cn",
            "message": f"resolver answered {IMG} | [red]x `code` ~~strike~~",
            "remediation": f"see {SCRIPT}",
            "docs": JS_URL,
            "duration_s": 0.001,
            "details": {
                "purpose": f"pull images {IMG}",
                "source": "seed 001; javascript:alert(2) "
                f'https://ok.example/"onmouseover="x {SCRIPT}',
                "answer": IMG,
                "records": [SCRIPT],
            },
        },
    )
    report["summary"]["fail"] += 1
    report["recommendation"]["reasons"].append(SCRIPT)
    return report


# --------------------------------------------------------------------------- write_reports
