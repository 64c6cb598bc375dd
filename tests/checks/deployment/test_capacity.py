"""deployment.capacity: the replicas a planned deployment needs, bin-packed onto the free room of
the nodes its instance type selects, through the real CLI against the fake Kubernetes API
server, whose nodes have exact allocatable numbers and whose running pods' requests count.

Arithmetic used below. A replica of the blue deployment requests cpu 500m / memory 1Gi; the
platform adds the identity sidecar (10m / 100Mi) and the storage initializer init container
(100m / 500Mi): the pod reserves max(init, sum) = cpu 510m / memory 1124Mi. An empty 4-cpu /
16Gi node holds min(4 / 0.51, 16384 / 1124) = min(7.8, 14.6) -> 7 of them. The router
(azureml-fe, 900m / 800Mi per replica) is set aside first when it does not run yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.amlarc_objects import instance_type, instance_type_crd
from support.kube_objects import namespace, pod, sized_node

from tests.clirun import Result, preflight, run_checks

CHECK = "deployment.capacity"
DATA = Path(__file__).resolve().parents[2] / "data" / "deployments"
TYPES = Path(__file__).resolve().parents[2] / "data" / "instance_types"
SINGLE_ROUTER = "inferenceRouterHA=False"

BLUE = """\
name: blue
endpoint_name: churn
environment: azureml:env:1
instance_count: {count}
scale_settings: {{type: default}}
resources:
  requests: {{cpu: 500m, memory: 1Gi}}
  limits: {{cpu: "1", memory: 2Gi}}
"""


def run(
    tmp_path: Path,
    kube_api: Any,
    objects: list[dict[str, Any]],
    *args: str,
    deployment: str | Path | None = None,
    settings: str = SINGLE_ROUTER,
) -> tuple[Result, Any]:
    api = kube_api(objects=[namespace("default"), *objects])
    tmp_path.mkdir(parents=True, exist_ok=True)
    extra: list[str] = []
    if isinstance(deployment, str):
        path = tmp_path / "deployment.yml"
        path.write_text(deployment)
        extra = ["--deployment", str(path)]
    elif deployment is not None:
        extra = ["--deployment", str(deployment)]
    result = run_checks(api, tmp_path, CHECK, *extra, *args, config=settings, formats="json,md")
    assert result.code in (0, 1), result.stderr
    return result, api


def only(result: Result) -> dict[str, Any]:
    [finding] = result.findings(CHECK)
    return finding


def per_node(finding: dict[str, Any]) -> dict[str, int]:
    return {n["node"]: n["replicas"] for n in finding["details"]["nodes"]}


def busy_cluster() -> list[dict[str, Any]]:
    """w0 runs 2 cpu / 4Gi of requests; w1 is empty (and takes the single router)."""
    return [
        sized_node("w0"),
        sized_node("w1"),
        pod("app", node="w0", requests={"cpu": "2", "memory": "4Gi"}),
        # finished pods hold nothing; an unscheduled one sits on no node
        pod("done", node="w1", phase="Succeeded", requests={"cpu": "4", "memory": "16Gi"}),
        pod("waiting", phase="Pending", node=None, requests={"cpu": "1", "memory": "1Gi"}),
    ]


def test_replicas_fit_the_free_room_of_the_nodes(tmp_path: Path, kube_api: Any) -> None:
    result, _ = run(tmp_path, kube_api, busy_cluster(), deployment=BLUE.format(count=9))
    finding = only(result)
    assert finding["status"] == "pass", finding
    assert finding["target"] == "blue"
    # w0: min(2 / 0.51, 12288 / 1124) -> 3; w1 after the router: min(3.1 / 0.51, 15584 / 1124) -> 6
    assert per_node(finding) == {"w0": 3, "w1": 6}
    details = finding["details"]
    assert details["replicas_fitting"] == 9 and details["replicas_needed"] == 9
    assert details["replica_requests"] == "cpu 510m / memory 1124Mi"
    assert details["resources_from"].startswith("the deployment's resources")
    assert "they win over instance type defaultinstancetype" in details["resources_from"]
    assert details["router"]["reserved"] == ["w1"]
    assert details["pods_unscheduled"] == 1
    assert "all 9 replicas (instance_count) fit" in finding["message"]


def test_replicas_that_do_not_fit_say_what_would(tmp_path: Path, kube_api: Any) -> None:
    result, _ = run(tmp_path, kube_api, busy_cluster(), deployment=BLUE.format(count=12))
    finding = only(result)
    assert finding["status"] == "fail"
    assert "9 of the 12 replicas (instance_count) fit" in finding["message"]
    assert "the other 3 would stay Pending" in finding["message"]
    # an empty node like the others holds 7: one more node takes the 3 left
    assert (
        "add 1 node(s) like w0 (4 vCPU / 16.0 GiB, 7 replicas each when empty)"
        in finding["remediation"]
    )
    assert "lower the replicas to 9 (instance_count)" in finding["remediation"]
    assert finding["details"]["nodes_to_add"] == 1
    assert "deployment.capacity" in (tmp_path / "out" / "summary.md").read_text()


def test_the_router_set_aside_or_already_running(tmp_path: Path, kube_api: Any) -> None:
    # with the default inferenceRouterHA=True, three replicas: one on each of three nodes
    nodes = [sized_node("a"), sized_node("b"), sized_node("c")]
    result, _ = run(tmp_path / "ha", kube_api, nodes, deployment=BLUE.format(count=1), settings="")
    router = only(result)["details"]["router"]
    assert sorted(router["reserved"]) == ["a", "b", "c"] and router["unplaced"] == 0
    # (4 - 0.9) / 0.51 -> 6 per node
    assert only(result)["details"]["replicas_fitting"] == 18
    # already running: its pods' requests are what counts, nothing is set aside
    running = [
        *nodes,
        namespace("azureml"),
        pod(
            "azureml-fe-v2-5d4f9c8b7-abcde",
            "azureml",
            node="a",
            requests={"cpu": "900m", "memory": "800Mi"},
        ),
    ]
    result, _ = run(
        tmp_path / "run", kube_api, running, deployment=BLUE.format(count=1), settings=""
    )
    details = only(result)["details"]
    assert details["router"]["running"] == ["azureml-fe-v2-5d4f9c8b7-abcde on a"]
    assert details["replicas_fitting"] == 6 + 7 + 7


def test_init_containers_and_limits_count_as_the_scheduler_counts(
    tmp_path: Path, kube_api: Any
) -> None:
    objects = [
        sized_node("w0"),
        sized_node("w1"),
        # max(init 3 cpu, sum 1 cpu) = 3 cpu reserved on w0
        pod(
            "migrate",
            node="w0",
            containers=[{"name": "app", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}],
            init_containers=[
                {"name": "init", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}}
            ],
        ),
        # no requests, limits only: the limits are the requests
        pod("limited", node="w1", limits={"cpu": "2", "memory": "2Gi"}),
    ]
    result, _ = run(
        tmp_path,
        kube_api,
        objects,
        deployment=BLUE.format(count=1),
        settings="inferenceRouterHA=False",
    )
    finding = only(result)
    # w0: 1 cpu free -> 1 replica; w1: 2 cpu free minus the router (0.9) -> 1.1 / 0.51 -> 2
    assert per_node(finding) == {"w0": 1, "w1": 2}


def test_an_autoscaler_whose_maximum_does_not_fit_is_a_warning(
    tmp_path: Path, kube_api: Any
) -> None:
    green = (
        (DATA / "kubernetes-green-deployment.yml").read_text().replace('cpu: "0.25"', 'cpu: "3"')
    )
    result, _ = run(tmp_path, kube_api, [sized_node("w0"), sized_node("w1")], deployment=green)
    finding = only(result)
    assert finding["status"] == "warn", finding
    # w0: 3.01 cpu fits once; w1 after the router: 3.1 cpu -> once
    assert "2 of the 3 replicas (scale_settings.max_instances) fit" in finding["message"]
    assert "the autoscaler cannot reach 3 (its minimum 1 fits)" in finding["message"]


def test_the_documented_formula_from_target_rps(tmp_path: Path, kube_api: Any) -> None:
    # seed 000's example: 20 requests/s of 10 s at 70 % -> ceil(285.7) = 286 replicas
    result, _ = run(
        tmp_path,
        kube_api,
        [sized_node("w0"), sized_node("w1")],
        "--set",
        "target_rps=20",
        "--set",
        "request_time_ms=10000",
        deployment=DATA / "v1-deploymentconfig.json",
    )
    finding = only(result)
    formula = finding["details"]["formula"]
    assert finding["details"]["replicas_needed"] == 286 and formula["exact"] == 285.714
    assert formula["target_utilization"] == 0.7 and formula["plan_replicas"] == 4
    assert finding["status"] == "fail"
    assert (
        "the plan's autoScaler.maxReplicas is 4, below the 286 the load needs" in finding["message"]
    )
    assert "raise autoScaler.maxReplicas to at least 286" in finding["remediation"]
    # v1: cpu 0.5 + 10m, memory 1 GB + 100Mi per replica, on the eligible nodes
    assert finding["details"]["replica_requests"] == "cpu 510m / memory 1.03Gi"
    assert finding["details"]["instance_type"] is None


def test_formula_without_a_file_uses_the_default_instance_type(
    tmp_path: Path, kube_api: Any
) -> None:
    # 7 requests/s of 100 ms at 70 % -> exactly 1 (exact arithmetic, not 1.0000000000000002)
    result, _ = run(
        tmp_path,
        kube_api,
        [sized_node("w0")],
        "--set",
        "target_rps=7",
        "--set",
        "request_time_ms=100",
    )
    finding = only(result)
    assert finding["details"]["replicas_needed"] == 1
    assert finding["details"]["resources_from"].startswith("instance type defaultinstancetype")
    assert finding["details"]["replica_requests"] == "cpu 110m / memory 2148Mi"
    assert finding["status"] == "pass"
    half, _ = run(tmp_path / "half", kube_api, [sized_node("w0")], "--set", "target_rps=7")
    assert only(half)["status"] == "skip" and "request_time_ms is missing" in only(half)["message"]
    none, _ = run(tmp_path / "none", kube_api, [sized_node("w0")])
    assert only(none)["status"] == "skip" and "--deployment FILE" in only(none)["remediation"]


def test_gpu_replicas_on_the_instance_types_nodes(tmp_path: Path, kube_api: Any) -> None:
    deployment = """\
name: vision
endpoint_name: churn
environment: azureml:env:1
instance_type: smallgpu
instance_count: 5
scale_settings: {type: default}
"""
    objects = [
        sized_node("gpu-0", cpu="16", memory="64Gi", gpus=2, labels={"pool": "gpu"}),
        sized_node("cpu-0", cpu="16", memory="64Gi"),
    ]
    result, _ = run(
        tmp_path,
        kube_api,
        objects,
        "--instance-types",
        str(TYPES / "single.yaml"),
        deployment=deployment,
    )
    finding = only(result)
    assert finding["status"] == "fail"
    assert (
        "2 of the 5 replicas (instance_count) fit on the 1 eligible node(s) instance type "
        "smallgpu (pool=gpu) selects" in finding["message"]
    )
    assert finding["details"]["resources_from"].startswith("instance type smallgpu")
    assert (
        "add 2 node(s) like gpu-0 (16 vCPU / 64.0 GiB, 2 nvidia.com/gpu, 2 replicas"
        in finding["remediation"]
    )
    assert "labelled pool=gpu" in finding["remediation"]


def test_a_replica_larger_than_any_node(tmp_path: Path, kube_api: Any) -> None:
    deployment = BLUE.format(count=2).replace("500m", '"6"').replace('cpu: "1"', 'cpu: "6"')
    result, _ = run(tmp_path, kube_api, busy_cluster(), deployment=deployment)
    finding = only(result)
    assert finding["status"] == "fail" and finding["details"]["replicas_fitting"] == 0
    assert "needs more than the largest selected node" in finding["remediation"]
    assert "cpu 6010m > 4" in finding["remediation"]


def test_an_instance_type_against_the_extension_selector_places_nothing(
    tmp_path: Path, kube_api: Any
) -> None:
    deployment = BLUE.format(count=1) + "instance_type: teamb\n"
    objects = [
        sized_node("w0", labels={"team": "a"}),
        instance_type_crd(),
        instance_type(
            "teamb",
            node_selector={"team": "b"},
            requests={"cpu": "1", "memory": "1Gi"},
            limits={"cpu": "1", "memory": "2Gi"},
        ),
    ]
    result, _ = run(
        tmp_path,
        kube_api,
        objects,
        deployment=deployment,
        settings="inferenceRouterHA=False nodeSelector.team=a",
    )
    finding = only(result)
    assert finding["status"] == "fail"
    assert "contradicts the extension's (team=b vs a)" in finding["message"]


def test_the_pod_list_is_streamed_in_pages(tmp_path: Path, kube_api: Any) -> None:
    objects = [sized_node("w0", cpu="64", memory="256Gi", pods="2000"), sized_node("w1")]
    objects += [
        pod(f"p{i:04d}", node="w0", requests={"cpu": "10m", "memory": "10Mi"}) for i in range(1200)
    ]
    result, api = run(tmp_path, kube_api, objects, deployment=BLUE.format(count=1))
    finding = only(result)
    assert finding["details"]["pods_counted"] == 1200
    pages = [r for r in api.requests if r.path == "/api/v1/pods"]
    assert len(pages) == 3, [r.query for r in pages]
    assert all(r.param("limit") == "500" for r in pages)
    assert [bool(r.param("continue")) for r in pages] == [False, True, True]
    assert pages[0].param("fieldSelector") == "status.phase!=Succeeded,status.phase!=Failed"
    # w0: 64 cpu - 12 used - 0.9 for the router (the node with most room) -> 100 by cpu
    assert per_node(finding)["w0"] == min(int(51.1 / 0.51), int((262144 - 12000 - 800) / 1124))


def test_the_instance_type_must_be_defined(tmp_path: Path, kube_api: Any) -> None:
    deployment = BLUE.format(count=1) + "instance_type: nowhere\n"
    result, _ = run(tmp_path, kube_api, [sized_node("w0")], deployment=deployment)
    finding = only(result)
    assert finding["status"] == "skip" and "'nowhere' is not defined" in finding["message"]


def test_report_json_carries_the_category(tmp_path: Path, kube_api: Any) -> None:
    result, _ = run(tmp_path, kube_api, [sized_node("w0")], deployment=BLUE.format(count=1))
    assert only(result)["category"] == "deployment"
    listed = json.loads(preflight("checks", "--json").stdout)
    ids = {c["id"]: c["category"] for c in listed}
    assert ids["deployment.capacity"] == "deployment" and ids["deployment.config"] == "deployment"
    assert ids["extension.instance-types"] == "extension"
