"""Bad planned-workload files are exit 2 before any check runs, with one line naming the flag,
the file, the line and the problem (DESIGN.md "Planned workloads": bad files) -- never a
traceback. The same validation holds for the flag, its --config key and its environment
default, and whichever checks are selected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clirun import Result, preflight

DATA = Path(__file__).resolve().parents[2] / "data"
VALID_IT = """\
apiVersion: amlarc.azureml.com/v1alpha1
kind: InstanceType
metadata:
  name: small
spec:
  resources:
    requests: {cpu: 100m, memory: 1Gi}
    limits: {cpu: "1", memory: 1Gi}
"""


def usage(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    # cluster.version alone: the files are judged although no check reading them is selected
    result = preflight("run", "--check", "cluster.version", *args, env=env, out=tmp_path / "out")
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return result


INSTANCE_TYPES = [
    ("kind: InstanceType\nmetadata: {name: a\n", ":2: malformed YAML"),
    (
        VALID_IT + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
        ":11: document 2 is of kind Deployment, not InstanceType",
    ),
    (
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n",
        ":4: document 1, items[0] is of kind ConfigMap, not InstanceType",
    ),
    (
        VALID_IT.replace("amlarc.azureml.com/v1alpha1", "amlarc.azureml.com/v1"),
        ":1: document 1: apiVersion 'amlarc.azureml.com/v1', expected amlarc.azureml.com/v1alpha1",
    ),
    (
        VALID_IT.replace("memory: 1Gi}\n    limits", "memroy: 1Gi}\n    limits"),
        ":7: unknown field spec.resources.requests.memroy (did you mean memory?)",
    ),
    (
        VALID_IT.replace("  resources:", "  nodeselector: {}\n  resources:"),
        ":6: unknown field spec.nodeselector (did you mean spec.nodeSelector?)",
    ),
    (
        VALID_IT.replace('cpu: "1"', "cpu: 1 core"),
        ":8: spec.resources.limits.cpu: '1 core' is not a Kubernetes quantity",
    ),
    (
        VALID_IT.replace("cpu: 100m", "cpu: -1"),
        ":7: spec.resources.requests.cpu: -1 is not a Kubernetes quantity",
    ),
    (VALID_IT + "---\n" + VALID_IT, ":13: instance type 'small' is defined twice"),
    (VALID_IT.replace("name: small", "name: Small_One"), ":4: metadata.name 'Small_One' is not"),
    ("# nothing but a comment\n", ":1: no documents"),
]


@pytest.mark.parametrize(("text", "expected"), INSTANCE_TYPES)
def test_bad_instance_type_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "types.yaml"
    path.write_text(text)
    result = usage(tmp_path, "--instance-types", str(path))
    assert result.stderr.strip() == f"preflight: error: --instance-types {path}{expected}" or (
        f"--instance-types {path}{expected}" in result.stderr
    ), result.stderr


DEPLOYMENTS = [
    (
        "d.json",
        '{\n  "computeType": "aks",\n  "numReplicas": 2,\n}\n',
        ":4: not valid JSON: Expecting property name",
    ),
    (
        "d.json",
        '{\n  "computeType": "aks",\n  "autoScalr": {}\n}\n',
        ":3: unknown field autoScalr (did you mean autoScaler?)",
    ),
    (
        "d.json",
        '{\n  "computeType": "aks",\n  "numReplicas": "three"\n}\n',
        ":3: numReplicas: expected a whole number, got 'three'",
    ),
    (
        "d.json",
        '{\n  "computeType": "aks",\n  "containerResourceRequirements": {"cpu": true}\n}\n',
        ":3: containerResourceRequirements.cpu: expected a number, got true",
    ),
    (
        "d.yml",
        "name: blue\nresources:\n  requests:\n    cpu: 1x\n",
        ":4: resources.requests.cpu: '1x' is not a Kubernetes quantity",
    ),
    (
        "d.yml",
        "name: blue\nresources:\n  requests:\n    gpu: 1\n",
        ":4: unknown field resources.requests.gpu",
    ),
    (
        "d.yml",
        "name: blue\nscale_setting:\n  type: default\n",
        ":2: unknown field scale_setting (did you mean scale_settings?)",
    ),
    (
        "d.yml",
        "name: blue\nrequest_settings: 5\n",
        ":2: request_settings: expected a mapping, got 5",
    ),
    (
        "d.yml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
        ":2: a Kubernetes object of kind 'Deployment', not an Azure ML deployment",
    ),
    ("d.yml", "- name: blue\n", ":1: expected a deployment (a mapping of settings), got a list"),
    ("d.yml", "name: [blue\n", ":1: malformed YAML"),
]


@pytest.mark.parametrize(("name", "text", "expected"), DEPLOYMENTS)
def test_bad_deployment_files(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = usage(tmp_path, "--deployment", str(path))
    assert f"--deployment {path}{expected}" in result.stderr, result.stderr


def test_the_config_key_and_the_environment_are_judged_alike(tmp_path: Path) -> None:
    bad = tmp_path / "d.json"
    bad.write_text('{\n  "computeType": "aks",\n  "autoScalr": {}\n}\n')
    config = tmp_path / "ci.yaml"
    config.write_text(f"deployment: {bad}\n")
    line = f"--deployment {bad}:3: unknown field autoScalr"
    assert line in usage(tmp_path, "--config", str(config)).stderr
    env = {"PREFLIGHT_DEPLOYMENT": str(bad)}
    assert line in usage(tmp_path, env=env).stderr
    missing = usage(tmp_path, "--instance-types", str(tmp_path / "nowhere.yaml"))
    assert "--instance-types" in missing.stderr and "no such file" in missing.stderr
    directory = usage(tmp_path, "--deployment", str(tmp_path))
    assert "this is a directory" in directory.stderr


@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_target_rps_must_be_a_positive_number(tmp_path: Path, value: str) -> None:
    result = usage(tmp_path, "--set", f"target_rps={value}", "--set", "request_time_ms=100")
    assert f"--set target_rps={value}: expected a positive number" in result.stderr


def test_the_documented_shapes_are_accepted(tmp_path: Path) -> None:
    for flag, path in (
        ("--instance-types", DATA / "instance_types" / "single.yaml"),
        ("--instance-types", DATA / "instance_types" / "instancetypelist.yaml"),
        ("--instance-types", DATA / "instance_types" / "several.yaml"),
        ("--deployment", DATA / "deployments" / "v1-deploymentconfig.json"),
        ("--deployment", DATA / "deployments" / "v1-fixed-replicas.json"),
        ("--deployment", DATA / "deployments" / "kubernetes-blue-deployment.yml"),
        ("--deployment", DATA / "deployments" / "kubernetes-green-deployment.yml"),
    ):
        result = preflight(
            "run",
            "--check",
            "deployment.config",
            flag,
            str(path),
            "--format",
            "json",
            out=tmp_path / "out",
        )
        assert result.code in (0, 1), (path, result.stderr)
