"""deployment.config: every documented rule of a v1 deploymentconfig.json and a v2 Kubernetes
online deployment YAML, and the HPA warning, through the real CLI (against the fake Kubernetes
API server where the cluster matters).

Files that break several rules at once are used where the rules are independent: each rule has
its own finding (``details.concern`` and the file's line), asserted one by one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.amlarc_objects import hpa, instance_type, instance_type_crd
from support.kube_objects import namespace, node

from tests.clirun import Result, preflight

CHECK = "deployment.config"
DATA = Path(__file__).resolve().parents[2] / "data" / "deployments"
TYPES = Path(__file__).resolve().parents[2] / "data" / "instance_types"


def run(tmp_path: Path, deployment: Path, *args: str, api: Any = None) -> Result:
    cluster = ["--kubeconfig", str(api.kubeconfig(tmp_path / "kc"))] if api is not None else []
    result = preflight(
        "run",
        *cluster,
        "--check",
        CHECK,
        "--deployment",
        str(deployment),
        "--format",
        "json",
        *args,
        out=tmp_path / "out",
    )
    assert result.code in (0, 1), result.stderr
    return result


def by_concern(result: Result) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for finding in result.findings(CHECK):
        found.setdefault(finding["details"].get("concern", ""), []).append(finding)
    return found


def messages(result: Result, concern: str) -> str:
    return " | ".join(f["message"] for f in by_concern(result).get(concern, []))


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(content, indent=2) if name.endswith(".json") else content)
    return path


# -- v1 --------------------------------------------------------------------------------------------


def test_the_documented_v1_example_keeps_the_rules(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(objects=[namespace("default"), node("n0")])
    result = run(tmp_path, DATA / "v1-deploymentconfig.json", api=api)
    found = by_concern(result)
    [kept] = found["rules"]
    assert kept["status"] == "pass" and kept["target"] == "v1-deploymentconfig"
    assert "autoscaling up to 4 replicas (autoScaler.maxReplicas)" in kept["message"]
    [hpas] = found["hpa"]  # the v1 file names no namespace
    assert hpas["status"] == "skip" and "deployment_namespace" in hpas["remediation"]


def test_v1_auth_and_autoscaler_rules(tmp_path: Path) -> None:
    config = {
        "computeType": "AKS",
        "authEnabled": True,
        "tokenAuthEnabled": True,
        "numReplicas": 0,
        "autoScaler": {
            "autoscaleEnabled": True,
            "minReplicas": 5,
            "maxReplicas": 3,
            "targetUtilization": 170,
            "refreshPeriodInSeconds": 0,
        },
        "keys": {"primaryKey": "pr1mary-K3y-never-shown", "secondaryKey": "s3condary-K3y"},
    }
    result = run(tmp_path, write(tmp_path, "both.json", config))
    found = by_concern(result)
    [auth] = found["auth"]
    assert auth["status"] == "fail" and "both true" in auth["message"]
    assert auth["details"]["at"].endswith("both.json:4")  # tokenAuthEnabled's line
    assert auth["details"]["source_rule"] == "SEED000"
    scaler = messages(result, "autoscaler")
    assert "autoscaleEnabled is true and numReplicas is given" in scaler
    assert "minReplicas 5 is above maxReplicas 3" in scaler
    assert "targetUtilization is 170: it is a percentage" in scaler
    assert "autoScaler.refreshPeriodInSeconds is 0; the minimum is 1" in scaler
    assert "numReplicas is 0: it must be above 0" in messages(result, "replicas")
    assert "compute-type" not in found  # "AKS": compared without case, as the SDK does
    report = (tmp_path / "out" / "report.json").read_text()
    for text in (report, result.stdout, result.stderr):  # the auth keys are secrets
        assert "pr1mary-K3y" not in text and "s3condary-K3y" not in text


def test_v1_token_auth_alone_is_a_warning(tmp_path: Path) -> None:
    config = {"computeType": "aks", "tokenAuthEnabled": True, "numReplicas": 1}
    found = by_concern(run(tmp_path, write(tmp_path, "token.json", config)))
    [auth] = found["auth"]
    assert auth["status"] == "warn" and '"authEnabled": false' in auth["remediation"]


def test_v1_autoscaler_switched_off_rules(tmp_path: Path) -> None:
    off = {"computeType": "aks", "autoScaler": {"autoscaleEnabled": False, "maxReplicas": 4}}
    result = run(tmp_path / "a", write(tmp_path, "off.json", off))
    text = messages(result, "autoscaler")
    assert "autoscaleEnabled is false and numReplicas is not given" in text
    assert "maxReplicas given while autoscaling is off" in text
    implicit = {"computeType": "aks", "autoScaler": {"maxReplicas": 4}}
    [ambiguous] = by_concern(run(tmp_path / "b", write(tmp_path, "implicit.json", implicit)))[
        "autoscaler"
    ]
    assert ambiguous["status"] == "warn" and "autoscaleEnabled" in ambiguous["remediation"]


def test_v1_resource_timeout_probe_and_namespace_rules(tmp_path: Path) -> None:
    config = {
        "computeType": "aci",
        "numReplicas": 1,
        "gpuCores": 1.5,
        "containerResourceRequirements": {"cpu": 2, "memoryInGB": 0, "cpuLimit": 1},
        "scoringTimeoutMs": 400000,
        "maxConcurrentRequestsPerContainer": 4,
        "maxQueueWaitMs": 0,
        "livenessProbeRequirements": {"periodSeconds": 0},
        "namespace": "Models_Prod",
    }
    result = run(tmp_path, write(tmp_path, "many.json", config))
    found = by_concern(result)
    assert "computeType is 'aci'" in messages(result, "compute-type")
    resources = messages(result, "resources")
    assert "containerResourceRequirements.memoryInGB is 0: it must be above 0" in resources
    assert "cpuLimit 1 is below cpu 2" in resources
    assert "gpuCores is 1.5: only whole numbers" in messages(result, "gpu")
    timeouts = messages(result, "timeouts")
    assert "scoringTimeoutMs is 400000: AKS web services take 5 to 300000 ms" in timeouts
    assert "maxQueueWaitMs is 0" in timeouts
    [concurrency] = found["concurrency"]
    assert (
        concurrency["status"] == "warn" and "Microsoft Technical Support" in concurrency["message"]
    )
    assert "livenessProbeRequirements.periodSeconds is 0" in messages(result, "probes")
    [ns] = found["namespace"]
    assert ns["status"] == "fail" and "e.g. models-prod" in ns["remediation"]
    assert "learn.microsoft.com" in ns["docs"]


# -- v2 --------------------------------------------------------------------------------------------


def test_the_documented_v2_shapes_keep_the_rules(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(objects=[namespace("default"), node("n0")])
    for name in ("kubernetes-blue-deployment.yml", "kubernetes-green-deployment.yml"):
        result = run(tmp_path / name, DATA / name, api=api)
        found = by_concern(result)
        assert set(found) == {"rules", "hpa"}, found
        assert found["rules"][0]["status"] == "pass"
        assert found["hpa"][0]["status"] == "pass"
        assert found["hpa"][0]["details"]["namespace"] == "default"
    assert found["rules"][0]["details"]["instance_type_source"] == "documented default"


V2_BROKEN = """\
name: b
type: managed
endpoint_name: my--endpoint
instance_count: 0
scale_settings:
  type: default
  max_instances: 3
request_settings:
  request_timeout_ms: 400000
  max_concurrent_requests_per_instance: 2
liveness_probe:
  period: 0
resources:
  requests:
    cpu: "1"
    nvidia.com/gpu: 1
  limits:
    cpu: "500m"
    nvidia.com/gpu: "0.5"
"""


def test_v2_rules(tmp_path: Path) -> None:
    result = run(tmp_path, write(tmp_path, "broken.yml", V2_BROKEN))
    found = by_concern(result)
    required = messages(result, "required")
    assert "environment is missing (required)" in required
    names = messages(result, "names")
    assert "name 'b' is 1 characters long (3 to 32)" in names
    assert "endpoint_name 'my--endpoint' may hold single dashes only" in names
    assert "type is 'managed'" in messages(result, "type")
    scale = messages(result, "scale")
    assert "instance_count is 0" in scale
    assert "max_instances belong to type target_utilization" in scale
    assert "at most 300000 (300 seconds)" in messages(result, "timeouts")
    assert found["concurrency"][0]["status"] == "warn"
    assert "liveness_probe.period is 0" in messages(result, "probes")
    assert "resources.requests.memory is missing" in messages(result, "resources")
    assert "resources.requests.cpu 1 is above limits.cpu 500m" in messages(result, "resources")
    gpu = messages(result, "gpu")
    assert "a GPU count can be specified only in limits" in gpu
    assert "GPUs are whole" in gpu
    assert "resources.limits.memory is missing; with a GPU" in gpu
    for finding in result.findings(CHECK):
        if finding["status"] in ("fail", "warn"):
            assert finding["remediation"] and finding["docs"], finding
            assert finding["details"]["at"].startswith(str(tmp_path / "broken.yml") + ":")
    assert result.by_target(CHECK)  # targeted by the deployment's name
    assert {f["target"] for f in result.findings(CHECK)} == {"b"}


def test_v2_target_utilization_rules(tmp_path: Path) -> None:
    text = """\
name: green
endpoint_name: churn
environment: azureml:env:1
scale_settings:
  type: target_utilization
  min_instances: 4
  max_instances: 2
  target_utilization_percentage: 120
"""
    result = run(tmp_path / "a", write(tmp_path, "tu.yml", text))
    scale = messages(result, "scale")
    assert "min_instances 4 is above max_instances 2" in scale
    assert "target_utilization_percentage is 120" in scale
    no_max = "name: green\nendpoint_name: churn\nenvironment: azureml:env:1\n"
    [never] = by_concern(run(tmp_path / "b", write(tmp_path, "nomax.yml", no_max)))["scale"]
    assert never["status"] == "warn" and "defaults to 1" in never["message"]
    short = "name: ab\nendpoint_name: cd\nenvironment: x\ninstance_count: 1\n"
    short += "scale_settings: {type: default}\n"
    result = run(tmp_path / "c", write(tmp_path, "short.yml", short))
    assert "6 to 62 in total" in messages(result, "names")


def test_v2_instance_type_rules(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(
        objects=[
            namespace("default"),
            node("n0"),
            instance_type_crd(),
            instance_type(
                "small",
                requests={"cpu": "1", "memory": "1Gi"},
                limits={"cpu": "1", "memory": "2Gi"},
            ),
        ]
    )
    over = """\
name: blue
endpoint_name: churn
environment: azureml:env:1
instance_type: small
instance_count: 1
scale_settings: {type: default}
model: {type: mlflow_model, path: ./model}
resources:
  requests: {cpu: "1", memory: 1Gi}
  limits: {cpu: "2", memory: 2Gi}
"""
    result = run(tmp_path / "a", write(tmp_path, "over.yml", over), api=api)
    text = messages(result, "instance-type")
    assert "resources.limits.cpu 2 is above the limit of instance type small (1)" in text
    assert "memory" not in text  # 2Gi equals the instance type's limit: allowed
    assert "an MLflow model needs requests of at least 2 CPU cores and 4 GB" in messages(
        result, "mlflow"
    )
    unknown = over.replace("instance_type: small", "instance_type: gpularge")
    [missing] = by_concern(run(tmp_path / "b", write(tmp_path, "unknown.yml", unknown), api=api))[
        "instance-type"
    ]
    assert missing["status"] == "fail"
    assert (
        "instance_type 'gpularge' is not defined in the cluster or --instance-types"
        in missing["message"]
    )
    # the planned file defines it: now it is known, with the planned limits
    planned = unknown.replace("gpularge", "cputiny")
    result = run(
        tmp_path / "c",
        write(tmp_path, "planned.yml", planned),
        "--instance-types",
        str(TYPES / "instancetypelist.yaml"),
        api=api,
    )
    assert "instance type cputiny (1)" in messages(result, "instance-type")


def test_without_a_cluster_file_rules_still_apply(tmp_path: Path) -> None:
    result = run(tmp_path, DATA / "kubernetes-green-deployment.yml")
    found = by_concern(result)
    assert found["rules"][0]["status"] == "pass"
    [hpas] = found["hpa"]
    assert hpas["status"] == "skip" and "no cluster given" in hpas["message"]
    named = (DATA / "kubernetes-blue-deployment.yml").read_text() + "instance_type: gpu\n"
    [unverified] = by_concern(run(tmp_path / "b", write(tmp_path, "named.yml", named)))[
        "instance-type"
    ]
    assert unverified["status"] == "warn" and "could not be read" in unverified["message"]


def test_an_hpa_in_the_namespace_is_a_warning(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(
        objects=[
            namespace("default"),
            namespace("scoring"),
            node("n0"),
            hpa("churn-hpa", "scoring", "churn-blue"),
            hpa("elsewhere", "default", "web"),
        ]
    )
    result = run(tmp_path, DATA / "v1-fixed-replicas.json", api=api)  # namespace: scoring
    [warned] = by_concern(result)["hpa"]
    assert warned["status"] == "warn"
    assert "churn-hpa (scales Deployment/churn-blue)" in warned["message"]
    assert "elsewhere" not in warned["message"]
    assert "kubectl -n scoring delete hpa" in warned["remediation"]
    listed = [r for r in api.requests if r.path.startswith("/apis/autoscaling/v2/")]
    assert listed and all("/namespaces/scoring/" in r.path for r in listed)
    result = run(
        tmp_path / "b",
        DATA / "v1-fixed-replicas.json",
        "--set",
        "deployment_namespace=default",
        api=api,
    )
    [other] = by_concern(result)["hpa"]
    assert "elsewhere" in other["message"] and other["details"]["from"].startswith("--set")


def test_no_deployment_is_a_skip_saying_what_to_pass(tmp_path: Path) -> None:
    result = preflight("run", "--check", CHECK, "--format", "json", out=tmp_path / "out")
    [skipped] = result.findings(CHECK)
    assert skipped["status"] == "skip" and "--deployment FILE" in skipped["remediation"]
