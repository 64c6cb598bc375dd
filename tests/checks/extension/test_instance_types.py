"""extension.instance-types: every InstanceType of the cluster and of --instance-types, judged
against the eligible nodes, through the real CLI against the fake Kubernetes API server.

Nodes carry exact allocatable numbers (``allocatable=``) so every fit below is arithmetic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.amlarc_objects import instance_type, instance_type_crd
from support.kube_objects import namespace, sized_node

from tests.clirun import Result, run_checks

CHECK = "extension.instance-types"
DATA = Path(__file__).resolve().parents[2] / "data" / "instance_types"


def run(tmp_path: Path, kube_api: Any, objects: list[dict[str, Any]], *args: str) -> Result:
    api = kube_api(objects=[namespace("default"), *objects])
    result = run_checks(api, tmp_path, CHECK, *args, formats="json,md,html")
    assert result.code in (0, 1), result.stderr
    return result


def judged(result: Result) -> dict[str, dict[str, Any]]:
    found = result.findings(CHECK)
    by_target = {f["target"]: f for f in found}
    assert len(by_target) == len(found), [f["target"] for f in found]
    return by_target


def test_without_the_crd_the_documented_default_is_judged(tmp_path: Path, kube_api: Any) -> None:
    result = run(tmp_path, kube_api, [sized_node("a"), sized_node("b", memory="1Gi")])
    [default] = result.findings(CHECK)
    assert default["target"] == "defaultinstancetype" and default["status"] == "pass"
    assert "documented default" in default["message"] and "memory 2Gi" in default["message"]
    details = default["details"]
    assert details["crd_present"] is False and details["crd"] == "instancetypes.amlarc.azureml.com"
    assert details["requests"] == {"cpu": "100m", "memory": "2Gi"}
    assert details["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert "8 GB" in details["docs_conflict"]
    # a 2Gi request does not fit the 1Gi node: one of two nodes fits
    assert details["nodes_matching"] == 2 and details["nodes_fitting_requests"] == 1
    assert "defaultinstancetype" in (tmp_path / "out" / "report.html").read_text()


def test_cluster_and_planned_instance_types_one_finding_each(tmp_path: Path, kube_api: Any) -> None:
    objects = [
        sized_node("gpu-0", cpu="8", memory="32Gi", gpus=1, labels={"pool": "gpu"}),
        sized_node("cpu-0"),
        instance_type_crd(),
        instance_type(
            "cputiny",  # also in the planned list file: the file's replaces it
            requests={"cpu": "50", "memory": "1Gi"},
            limits={"cpu": "50", "memory": "1Gi"},
        ),
        instance_type(
            "fromcluster",
            requests={"cpu": "1", "memory": "1Gi"},
            limits={"cpu": "2", "memory": "2Gi"},
        ),
    ]
    result = run(
        tmp_path, kube_api, objects, "--instance-types", str(DATA / "instancetypelist.yaml")
    )
    found = judged(result)
    assert set(found) == {"cputiny", "fromcluster", "defaultinstancetype"}
    assert found["cputiny"]["status"] == "pass", found["cputiny"]
    assert found["cputiny"]["details"]["replaces"]
    assert found["cputiny"]["details"]["source"].startswith("--instance-types ")
    assert found["fromcluster"]["details"]["source"] == "cluster"
    # the list's defaultinstancetype is a real one: no documented default is implied
    assert "documented_default" not in found["defaultinstancetype"]["details"]
    assert found["defaultinstancetype"]["details"]["crd_present"] is True
    assert found["defaultinstancetype"]["details"]["scope"] == "Cluster"


def test_a_single_planned_object_selects_the_gpu_pool(tmp_path: Path, kube_api: Any) -> None:
    objects = [
        sized_node("gpu-0", cpu="8", memory="32Gi", gpus=1, labels={"pool": "gpu"}),
        sized_node("c"),
    ]
    result = run(tmp_path, kube_api, objects, "--instance-types", str(DATA / "single.yaml"))
    found = judged(result)
    assert found["smallgpu"]["status"] == "pass", found["smallgpu"]
    assert found["smallgpu"]["details"]["matching"] == ["gpu-0"]
    assert "gpu-0" in found["smallgpu"]["message"]


def test_node_selector_rules(tmp_path: Path, kube_api: Any) -> None:
    objects = [
        sized_node("cpu-0", labels={"pool": "cpu"}),
        sized_node("cpu-1", labels={"pool": "cpu"}),
        sized_node("gpu-off", labels={"pool": "gpu"}, unschedulable=True),
        instance_type_crd(),
        instance_type(
            "nolabel",
            node_selector={"pool": "fpga"},
            requests={"cpu": "1", "memory": "1Gi"},
            limits={"cpu": "1", "memory": "1Gi"},
        ),
        instance_type(
            "cordoned",
            node_selector={"pool": "gpu"},
            requests={"cpu": "1", "memory": "1Gi"},
            limits={"cpu": "1", "memory": "1Gi"},
        ),
        instance_type(
            "clash",
            node_selector={"team": "b"},
            requests={"cpu": "1", "memory": "1Gi"},
            limits={"cpu": "1", "memory": "1Gi"},
        ),
    ]
    for item in objects[:2]:
        item["metadata"]["labels"]["team"] = "a"
    result = run(tmp_path, kube_api, objects, "--extension-config", "nodeSelector.team=a")
    found = judged(result)
    nolabel = found["nolabel"]
    assert nolabel["status"] == "fail"
    assert "pool=fpga matches none of the 2 eligible nodes" in nolabel["message"]
    assert "cpu (2 nodes)" in nolabel["message"]  # the values eligible nodes do carry
    assert "kubectl label node NODE pool=fpga" in nolabel["remediation"]
    cordoned = found["cordoned"]
    assert cordoned["status"] == "fail" and "none eligible" in cordoned["message"]
    assert "cordoned" in cordoned["message"]
    assert cordoned["details"]["excluded_carrying"][0]["node"] == "gpu-off"
    clash = found["clash"]
    assert clash["status"] == "fail"
    assert "team=b contradicts the extension's nodeSelector team=a" in clash["message"]
    assert "spec.nodeSelector.team to a" in clash["remediation"]


def test_resource_rules(tmp_path: Path, kube_api: Any) -> None:
    objects = [
        sized_node("n0", cpu="4", memory="16Gi", gpus=1),
        instance_type_crd(),
        instance_type(  # requests above limits
            "inverted", requests={"cpu": "2", "memory": "4Gi"}, limits={"cpu": "1", "memory": "4Gi"}
        ),
        instance_type("nolimits", requests={"cpu": "1", "memory": "1Gi"}),  # required limits
        instance_type(  # zero request
            "zero", requests={"cpu": "0", "memory": "1Gi"}, limits={"cpu": "1", "memory": "1Gi"}
        ),
        instance_type(  # GPU in requests only
            "gpureq",
            requests={"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1},
            limits={"cpu": "1", "memory": "1Gi"},
        ),
        instance_type(  # half a GPU
            "gpuhalf",
            requests={"cpu": "1", "memory": "1Gi"},
            limits={"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "0.5"},
        ),
        instance_type(  # GPU request unlike its limit
            "gpuunequal",
            requests={"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1},
            limits={"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 2},
        ),
    ]
    found = judged(run(tmp_path, kube_api, objects))
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "extension.instance-types" in md and "inverted" in md
    assert found["inverted"]["category"] == "extension"
    assert found["inverted"]["status"] == "fail"
    assert "requests.cpu 2 is above limits.cpu 1" in found["inverted"]["message"]
    assert "lower spec.resources.requests.cpu to at most 1" in found["inverted"]["remediation"]
    assert found["nolimits"]["status"] == "fail"
    assert "spec.resources.limits.cpu is missing" in found["nolimits"]["message"]
    assert "spec.resources.limits.memory is missing" in found["nolimits"]["message"]
    assert found["zero"]["status"] == "fail" and "requests.cpu is zero" in found["zero"]["message"]
    assert "in requests only" in found["gpureq"]["message"]
    assert "move nvidia.com/gpu" in found["gpureq"]["remediation"]
    assert "GPUs are whole" in found["gpuhalf"]["message"]
    assert "differs from limits.nvidia.com/gpu 2" in found["gpuunequal"]["message"]
    assert all(
        f["status"] == "fail" for f in found.values() if f["target"] != "defaultinstancetype"
    )


def test_fit_against_one_node(tmp_path: Path, kube_api: Any) -> None:
    objects = [
        sized_node("small", cpu="2", memory="8Gi"),
        sized_node("large", cpu="8", memory="16Gi"),
        sized_node("fat", cpu="2", memory="32Gi"),
        sized_node("gpu", cpu="4", memory="16Gi", gpus=2),
        instance_type_crd(),
        instance_type(  # more cpu than any node
            "hugecpu",
            requests={"cpu": "12", "memory": "1Gi"},
            limits={"cpu": "12", "memory": "1Gi"},
        ),
        instance_type(  # each resource fits some node, never both at once
            "split", requests={"cpu": "6", "memory": "24Gi"}, limits={"cpu": "6", "memory": "24Gi"}
        ),
        instance_type(  # more GPUs than any node
            "fourgpus",
            requests={"cpu": "1", "memory": "1Gi"},
            limits={"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 4},
        ),
        instance_type(  # requests fit, the memory limit does not: warn
            "biglimit",
            requests={"cpu": "1", "memory": "1Gi"},
            limits={"cpu": "1", "memory": "64Gi"},
        ),
        instance_type(
            "fits",
            requests={"cpu": "6", "memory": "4Gi"},
            limits={"cpu": "8", "memory": "16Gi"},
        ),
    ]
    found = judged(run(tmp_path, kube_api, objects))
    hugecpu = found["hugecpu"]
    assert hugecpu["status"] == "fail"
    assert (
        "requests.cpu 12 is more than any matching node can allocate (largest: 8)"
        in hugecpu["message"]
    )
    assert "lower spec.resources.requests.cpu to at most 8" in hugecpu["remediation"]
    split = found["split"]
    assert split["status"] == "fail" and "no single matching node" in split["message"]
    fourgpus = found["fourgpus"]
    assert fourgpus["status"] == "fail"
    assert "asks for 4 nvidia.com/gpu but the matching nodes offer at most 2" in fourgpus["message"]
    assert "limits.nvidia.com/gpu to at most 2" in fourgpus["remediation"]
    biglimit = found["biglimit"]
    assert biglimit["status"] == "warn", biglimit
    assert "limits.memory 64Gi is more than any matching node can allocate" in biglimit["message"]
    assert "to at most 32Gi" in biglimit["remediation"]
    assert found["fits"]["status"] == "pass"
    assert found["fits"]["details"]["nodes_fitting_requests"] == 1
    assert "large" in found["fits"]["message"]


def test_a_cluster_object_that_cannot_be_read_is_a_fail_not_exit_2(
    tmp_path: Path, kube_api: Any
) -> None:
    objects = [
        sized_node("n0"),
        instance_type_crd(),
        instance_type(
            "broken", requests={"cpu": "lots", "memory": "1Gi"}, limits={"cpu": 1, "memory": "1Gi"}
        ),
        instance_type("oddselector", extra={"spec": {"nodeSelector": ["not", "a", "map"]}}),
    ]
    result = run(tmp_path, kube_api, objects)
    assert result.code == 1
    found = judged(result)
    broken = found["broken"]
    assert broken["status"] == "fail"
    assert (
        "cannot be read: spec.resources.requests.cpu: 'lots' is not a Kubernetes quantity"
        in (broken["message"])
    )
    assert "requests.cpu is missing" not in broken["message"]  # said once, as unreadable
    assert "kubectl edit instancetype broken" in broken["remediation"]
    assert "spec.nodeSelector: expected a mapping" in found["oddselector"]["message"]


def test_a_namespaced_crd_is_read_too(tmp_path: Path, kube_api: Any) -> None:
    objects = [
        sized_node("n0"),
        namespace("azureml"),
        instance_type_crd(scope="Namespaced"),
        instance_type(
            "inns",
            namespace="azureml",
            requests={"cpu": "1", "memory": "1Gi"},
            limits={"cpu": "1", "memory": "1Gi"},
        ),
    ]
    found = judged(run(tmp_path, kube_api, objects))
    assert found["inns"]["status"] == "pass"
    assert found["inns"]["details"]["scope"] == "Namespaced"


def test_tainted_pools_count_only_with_the_declared_toleration(
    tmp_path: Path, kube_api: Any
) -> None:
    objects = [
        sized_node("cpu-0"),
        sized_node("gpu-0", gpus=1, labels={"pool": "gpu"}, taints=["sku=gpu:NoSchedule"]),
        instance_type_crd(),
        instance_type(
            "gpu",
            node_selector={"pool": "gpu"},
            requests={"cpu": "1", "memory": "1Gi"},
            limits={"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1},
        ),
    ]
    blocked = judged(run(tmp_path / "a", kube_api, objects))["gpu"]
    assert blocked["status"] == "fail" and "sku=gpu:NoSchedule not tolerated" in blocked["message"]
    allowed = judged(
        run(tmp_path / "b", kube_api, objects, "--set", "extension_tolerations=sku=gpu:NoSchedule")
    )["gpu"]
    assert allowed["status"] == "pass", allowed


def test_unreadable_instance_types_are_a_warning_naming_the_permission(
    tmp_path: Path, kube_api: Any
) -> None:
    api = kube_api(objects=[namespace("default"), sized_node("n0"), instance_type_crd()])
    api.set_rbac(
        [
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
            {
                "apiGroups": ["apiextensions.k8s.io"],
                "resources": ["customresourcedefinitions"],
                "verbs": ["list"],
            },
            {"nonResourceURLs": ["/version", "/api"], "verbs": ["get"]},
        ]
    )
    result = run_checks(api, tmp_path, CHECK)
    [warned] = result.findings(CHECK)
    assert warned["status"] == "warn" and warned["target"] == "instancetypes.amlarc.azureml.com"
    assert "list instancetypes.amlarc.azureml.com (cluster-wide)" in warned["remediation"]
