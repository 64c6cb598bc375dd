"""``nodes.capacity``'s rules in-process, on node objects shaped as the API server returns them
(tests/support/kube_objects.py): each boundary of the documented minimums pinned (seeds 002/003;
checks/cluster/capacity.py's docstring), so a changed rule cannot pass unnoticed
(scripts/mutation). The CLI path against a fake API server is
tests/checks/cluster/test_capacity.py."""

from __future__ import annotations

from typing import Any

import pytest
from support.kube_objects import node

from preflight.checks._shared.nodes import build_survey
from preflight.checks._shared.plan import Plan
from preflight.checks.cluster.capacity import NodesCapacity, size_rules
from preflight.model import Finding

GIB = 1024**3


def judge(
    nodes: list[dict[str, Any]],
    settings: dict[str, str] | None = None,
    purpose: str = "production",
    *,
    defaulted: bool = False,
) -> dict[str, Finding]:
    """The findings by concern (eligibility, router-ha, node-size:<workload>, cluster-total)."""
    survey = build_survey(nodes, Plan(settings or {}).node_selector, None)
    found = NodesCapacity().judge(survey, Plan(settings or {}), purpose, defaulted)
    keyed = {}
    for finding in found:
        concern = finding.details["concern"]
        if concern == "node-size":
            concern += ":" + finding.details["workload"]
        keyed[concern] = finding
    return keyed


INFERENCE = {"enableInference": "True"}


def test_production_total_needs_both_cpu_and_memory() -> None:
    """4 vCPU and 14 GB of allocatable, both: one half alone is not enough."""
    enough = judge([node("n1", allocatable={"cpu": "4", "memory": "14Gi"}, cpu="4", memory="16Gi")])
    assert enough["cluster-total"].status.value == "pass"
    low_memory = judge(
        [node("n1", cpu="8", memory="12Gi", allocatable={"cpu": "8", "memory": "12Gi"})]
    )
    assert low_memory["cluster-total"].status.value == "fail", low_memory["cluster-total"].message
    assert "below the production minimum of 4 vCPU / 14 GB" in low_memory["cluster-total"].message
    low_cpu = judge(
        [node("n1", cpu="2", memory="64Gi", allocatable={"cpu": "2", "memory": "64Gi"})]
    )
    assert low_cpu["cluster-total"].status.value == "fail"
    # capacity above, allocatable below: a warning about the kubelet's reservations
    reserved = judge(
        [node("n1", cpu="4", memory="16Gi", allocatable={"cpu": "3.86", "memory": "12Gi"})]
    )
    assert reserved["cluster-total"].status.value == "warn"
    assert "after the kubelet's reservations" in reserved["cluster-total"].message


def test_the_production_total_boundary_is_inclusive() -> None:
    exact = judge([node("n1", cpu="4", memory="16Gi", allocatable={"cpu": "4", "memory": "14G"})])
    assert exact["cluster-total"].status.value == "pass"
    short = judge(
        [node("n1", cpu="4", memory="16Gi", allocatable={"cpu": "3999m", "memory": "14G"})]
    )
    assert short["cluster-total"].status.value != "pass"
    just_under = judge(
        [node("n1", cpu="4", memory="16Gi", allocatable={"cpu": "4", "memory": "13999M"})]
    )
    assert just_under["cluster-total"].status.value != "pass"


def test_node_size_boundary_is_exactly_the_vm_size_with_5_percent_memory_slack() -> None:
    exact = [node(f"n{i}", cpu="4", memory=f"{int(14 * 1024 * 0.95) + 1}Mi") for i in range(3)]
    found = judge(exact, INFERENCE)
    assert found["node-size:inference"].status.value == "pass", found["node-size:inference"]
    small_cpu = [node(f"n{i}", cpu="3900m", memory="16Gi") for i in range(3)]
    found = judge(small_cpu, INFERENCE)
    assert found["node-size:inference"].status.value == "fail"
    assert "add 3 node(s) of at least 4 vCPU / 14 GiB" in found["node-size:inference"].remediation
    small_memory = [
        node(f"n{i}", cpu="4", memory=f"{int(14 * 1024 * 0.95) - 1}Mi") for i in range(3)
    ]
    assert judge(small_memory, INFERENCE)["node-size:inference"].status.value == "fail"


def test_router_ha_needs_three_eligible_nodes() -> None:
    two = judge([node("a"), node("b")], INFERENCE)
    assert two["router-ha"].status.value == "fail"
    assert "found 2" in two["router-ha"].message and "E40002" in two["router-ha"].message
    assert two["router-ha"].details["recommend"] == {"inferenceRouterHA": "False"}
    assert "add 1 eligible node(s)" in two["router-ha"].remediation
    three = judge([node("a"), node("b"), node("c")], INFERENCE)
    assert three["router-ha"].status.value == "pass"
    off = judge([node("a")], {**INFERENCE, "inferenceRouterHA": "False"})
    assert off["router-ha"].status.value == "pass"
    assert "inferenceRouterHA=False" in off["router-ha"].message
    assert off["node-size:inference"].details["nodes_needed"] == 1
    # no planned settings: inference may not be planned, so only a warning
    unknown = judge([node("a")])
    assert unknown["router-ha"].status.value == "warn"
    assert unknown["router-ha"].message.startswith("if you enable inference")


def test_training_needs_an_8_vcpu_28_gib_node_in_production_only() -> None:
    training = {"enableTraining": "True"}
    four = judge([node("a", cpu="4", memory="16Gi")], training)
    assert four["node-size:training"].status.value == "fail"
    assert "8 vCPU / 28 GiB" in four["node-size:training"].message
    assert "router-ha" not in four
    eight = judge([node("a", cpu="8", memory="32Gi")], training)
    assert eight["node-size:training"].status.value == "pass"
    test = judge([node("a", cpu="2", memory="8Gi")], training, purpose="test")
    assert test["node-size:training"].status.value == "pass"
    assert "cluster-total" not in test  # the production minimum is not a test cluster's


def test_size_rules_per_purpose_and_workload() -> None:
    assert [
        (r.workload, r.cpu, r.memory_gib, r.nodes) for r in size_rules("test", True, True, True)
    ] == [("training and inference", 4, 14, 1)]
    assert [(r.cpu, r.memory_gib) for r in size_rules("test", False, True, True)] == [(2, 7)]
    assert [r.workload for r in size_rules("test", False, False, True)] == ["training or inference"]
    assert [(r.workload, r.nodes) for r in size_rules("production", True, True, True)] == [
        ("inference", 3),
        ("training", 1),
    ]
    assert [r.nodes for r in size_rules("production", False, True, False)] == [1]
    assert size_rules("production", False, False, True) == []


def test_ineligible_nodes_are_named_with_the_reason_and_the_fix() -> None:
    found = judge(
        [
            node("ready"),
            node("down", ready=False),
            node("cordoned", unschedulable=True),
            node("tainted", taints=["sku=gpu:NoSchedule"]),
            node("arm", arch="arm64"),
        ]
    )
    eligibility = found["eligibility"]
    assert eligibility.status.value == "pass"
    assert eligibility.message.startswith("1 of 5 nodes are eligible")
    assert "4 excluded" in eligibility.message
    none = judge([node("down", ready=False), node("arm", arch="arm64")])
    assert none["eligibility"].status.value == "fail"
    assert set(none) == {"eligibility"}, "nothing else is judged on zero eligible nodes"
    assert "bring NotReady nodes back" in none["eligibility"].remediation
    assert "add a Linux amd64 node pool" in none["eligibility"].remediation
    empty = judge([])
    assert empty["eligibility"].status.value == "fail"
    assert "has no nodes" in empty["eligibility"].message


def test_the_defaulted_purpose_is_said_in_every_sizing_finding() -> None:
    found = judge([node("a", cpu="2", memory="8Gi")], INFERENCE, defaulted=True)
    for key in ("node-size:inference", "cluster-total"):
        assert "production sizing assumed" in found[key].message
        assert "--set purpose=test" in found[key].remediation
    stated = judge([node("a", cpu="2", memory="8Gi")], INFERENCE)
    assert "production sizing assumed" not in stated["cluster-total"].message
    assert "--set purpose=test" not in stated["cluster-total"].remediation


@pytest.mark.parametrize(
    ("selector", "eligible"),
    [({"nodeSelector.pool": "ml"}, 1), ({"nodeSelector.pool": "none"}, 0)],
)
def test_the_extensions_node_selector_narrows_eligibility(
    selector: dict[str, str], eligible: int
) -> None:
    nodes = [node("ml", labels={"pool": "ml"}), node("other", labels={"pool": "web"})]
    found = judge(nodes, selector)
    assert found["eligibility"].details["nodes_eligible"] == eligible
    if not eligible:
        assert "label the nodes the extension should use" in found["eligibility"].remediation


def test_counts_and_numbers_in_messages_and_details() -> None:
    small = [node(f"s{i}", cpu="2", memory="8Gi") for i in range(7)]
    found = judge(small, INFERENCE)
    size = found["node-size:inference"]
    assert "too small: s0 (2 vCPU" in size.message and "and 2 more" in size.message
    assert size.details["smaller_count"] == 7 and len(size.details["smaller"]) == 7
    mixed = [
        node("big", cpu="4", memory="16Gi"),
        node("s1", cpu="2", memory="8Gi"),
        node("s2", cpu="2", memory="8Gi"),
    ]
    lacking = judge(mixed, INFERENCE)["node-size:inference"]
    assert "add 2 node(s) of at least 4 vCPU / 14 GiB" in lacking.remediation
    many = judge([node(f"b{i}", cpu="4", memory="16Gi") for i in range(7)], INFERENCE)
    assert (
        "7 eligible node(s) qualify (b0, b1, b2, b3, b4 and 2 more)"
        in many["node-size:inference"].message
    )
    six = judge([node(f"b{i}", cpu="4", memory="16Gi") for i in range(6)], INFERENCE)
    assert "and 1 more" in six["node-size:inference"].message
    five = judge([node(f"b{i}", cpu="4", memory="16Gi") for i in range(5)], INFERENCE)
    assert " more" not in five["node-size:inference"].message
    off = {**INFERENCE, "inferenceRouterHA": "False"}
    assert (
        "would allow inferenceRouterHA=True"
        in judge([node("a"), node("b"), node("c")], off)["router-ha"].message
    )
    assert "would allow" not in judge([node("a"), node("b")], off)["router-ha"].message
    odd = judge(
        [node("o", cpu="3999m", memory="16Gi", allocatable={"cpu": "3999m", "memory": "13000Mi"})]
    )
    total = odd["cluster-total"].details
    assert total["capacity_cpu"] == 3.999 and total["allocatable_cpu"] == 3.999
    eligibility = odd["eligibility"].details
    assert eligibility["allocatable_memory_gib"] == round(13000 / 1024, 2)
