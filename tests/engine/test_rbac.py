"""The shipped RBAC (deploy/rbac.yaml) is least privilege, proven against the calls preflight
makes: every request of a run of every check over a cluster that exercises every branch is
allowed, the fake API server enforcing the manifest's rules returns no 403, and no rule grants
anything that no call needs."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import trustme
from support.amlarc_objects import hpa, instance_type, instance_type_crd
from support.azureml_objects import CRASH_LOOP, installed_extension
from support.kube_objects import (
    clusterrole,
    configmap,
    crd,
    daemonset,
    deployment,
    namespace,
    node,
    pod,
    secret,
    service,
    serviceaccount,
)
from support.rbac import (
    ALL_MANIFESTS,
    CAPACITY,
    MANIFESTS,
    RUNNER,
    Attributes,
    denied,
    documents,
    load_rules,
    rbac_rules,
    unused,
)
from support.runtime_plugin import allow_namespace_requests_by_name
from support.runtime_plugin import cluster as incluster_cluster
from support.runtime_plugin import run as incluster_run

from tests.clirun import preflight

#: a planned deployment: deployment.config lists the HPAs of its namespace, deployment.capacity
#: every active pod
DEPLOYMENT = (
    Path(__file__).resolve().parents[1] / "data" / "deployments" / "kubernetes-green-deployment.yml"
)
SETTINGS = (
    "enableTraining=True enableInference=True inferenceRouterServiceType=loadBalancer "
    "sslSecret=azureml-tls sslCname=ml.contoso.com"
)


def busy_cluster() -> list[dict[str, Any]]:
    """Objects that send every check down its longest path (conflicts, legacy v1, TLS secret,
    MetalLB, Helm releases)."""
    ca = trustme.CA()
    leaf = ca.issue_cert("ml.contoso.com")
    tls = {"cert.pem": leaf.cert_chain_pems[0].bytes(), "key.pem": leaf.private_key_pem.bytes()}
    return [
        *(node(f"aks-{i}") for i in range(3)),
        namespace("default"),
        namespace("azureml"),
        namespace("monitoring"),
        namespace("metallb-system"),
        crd("prometheuses.monitoring.coreos.com", kind="Prometheus"),
        crd("jobs.batch.volcano.sh", kind="Job"),
        crd("ipaddresspools.metallb.io", kind="IPAddressPool"),
        crd(
            "ciliumloadbalancerippools.cilium.io", kind="CiliumLoadBalancerIPPool", scope="Cluster"
        ),
        deployment("prometheus-operator", "monitoring"),
        daemonset("nvidia-device-plugin-daemonset", "kube-system"),
        # gpu.device-plugin: a GPU node and the device plugin's pod on it (listed in
        # kube-system with the DaemonSet's selector)
        node("aks-gpu-0", gpus=1, instance_type="Standard_NC24ads_A100_v4"),
        pod(
            "nvidia-device-plugin-daemonset-7xk2p",
            "kube-system",
            node="aks-gpu-0",
            labels={"app": "nvidia-device-plugin-daemonset"},
            owner={"kind": "DaemonSet", "name": "nvidia-device-plugin-daemonset"},
        ),
        serviceaccount("azureml-fe", "default"),
        clusterrole("azureml-fe-role"),
        service("azureml-fe", "default", type="LoadBalancer"),
        configmap("azuremlfeconfig", "default"),
        secret("azuremlfessl", "default", data={"a": "b"}),
        secret("azureml-tls", "azureml", data=tls),
        secret(
            "sh.helm.release.v1.azureml.v1",
            "azureml",
            labels={"owner": "helm", "name": "azureml", "status": "failed"},
        ),
        # after the install: the extension's workloads and pods (one crash-looping), and the
        # older health-check ConfigMap (so both names are asked for)
        *installed_extension(SETTINGS, states={"gateway": CRASH_LOOP})[1:],
        configmap(
            "amlarc-healthcheck",
            "azureml",
            data={
                "status-test-success": "Passed",
                "reports-test-success": "Status: Passed Name: info",
            },
        ),
        # extension.instance-types and deployment.*: the InstanceType CRD, one of its objects,
        # and an HPA in the planned deployment's namespace
        instance_type_crd(),
        instance_type(
            "cpusmall",
            requests={"cpu": "100m", "memory": "100Mi"},
            limits={"cpu": "1", "memory": "1Gi"},
        ),
        hpa("web", "default", "web"),
    ]


def attributes_of(api: Any) -> list[Attributes]:
    calls = []
    for request in api.requests:
        if request.is_resource_request:
            verb, group, resource, sub, ns, name = request.attributes
            calls.append(Attributes(verb, group, resource, sub, ns, name))
        else:
            calls.append(Attributes("get", "", "", path=request.path.split("?")[0].rstrip("/")))
    return calls


def run_everything(api: Any, tmp_path: Path) -> list[Any]:
    """Every cluster check of both phases: the run before the install, then ``--set
    phase=after`` (the installed extension's components and its health-check ConfigMap)."""
    return [
        preflight(
            "run",
            "--kubeconfig",
            str(api.kubeconfig(tmp_path / "kc")),
            "--skip",
            "dns.*",
            "--skip",
            "egress.*",
            "--extension-config",
            SETTINGS,
            "--deployment",
            str(DEPLOYMENT),
            "--format",
            "json",
            *(("--set", "phase=after") if phase == "after" else ()),
            out=tmp_path / f"out-{phase}",
        )
        for phase in ("before", "after")
    ]


def test_manifest_is_read_only_and_bound() -> None:
    docs = documents(*ALL_MANIFESTS)
    kinds = [d["kind"] for d in docs]
    assert "ClusterRole" in kinds and "ClusterRoleBinding" in kinds
    for doc in docs:
        for rule in doc.get("rules") or []:
            assert set(rule["verbs"]) <= {"get", "list"}, (doc["metadata"]["name"], rule)
            assert "*" not in rule.get("resources", []) and "*" not in rule.get("apiGroups", [])
    secret_rules = [
        (d["kind"], r)
        for d in docs
        for r in d.get("rules") or []
        if "secrets" in r.get("resources", [])
    ]
    for kind, rule in secret_rules:  # never read every Secret in the cluster
        assert kind == "Role" or rule.get("resourceNames"), rule


def test_every_call_is_allowed_and_every_grant_is_used(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(busy_cluster())
    for result in run_everything(api, tmp_path):
        assert result.code in (0, 1), result.stderr
    calls = attributes_of(api)
    rules = [r for m in ALL_MANIFESTS for r in load_rules(m)]
    assert not denied(rules, calls), "calls the shipped RBAC does not allow"
    assert not unused(rules, calls), "grants no call needs (not least privilege)"
    # the cluster-wide pod list is deployment.capacity's alone, in its own optional manifest
    base = [r for m in MANIFESTS for r in load_rules(m)]
    pods = [c for c in calls if c.resource == "pods" and c.verb == "list"]
    assert {c.namespace for c in denied(base, pods)} == {""}, "only the cluster-wide list"


def test_fake_server_enforcing_the_manifest_answers_no_403(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(busy_cluster())
    cluster, namespaced = rbac_rules(*ALL_MANIFESTS)
    api.set_rbac(cluster, namespaced=namespaced)
    results = run_everything(api, tmp_path)
    forbidden = [r for r in api.requests if r.status == 403]
    assert not forbidden, [r.path for r in forbidden]
    for finding in (f for result in results for f in result.findings()):
        assert "forbidden" not in finding["message"].lower(), finding
    after = results[1]
    assert after.findings("extension.components") and after.findings("extension.healthcheck")
    # and enforcement is real: without the manifest's rules the same run is refused
    api.set_rbac([])
    refused, refused_after = run_everything(api, tmp_path)
    unread = refused_after.findings("extension.healthcheck")
    assert "forbidden" in json.dumps(unread).lower(), unread
    capacity = refused.findings("nodes.capacity")
    assert capacity and capacity[0]["status"] == "error", capacity
    assert (
        "forbidden" in capacity[0]["message"] and "deploy/rbac.yaml" in capacity[0]["remediation"]
    )


@pytest.mark.parametrize("secret_data", [{"cert.pem": "x"}])
def test_secret_values_never_leave_the_cluster(
    tmp_path: Path, kube_api: Any, secret_data: dict[str, str]
) -> None:
    api = kube_api(busy_cluster())
    results = run_everything(api, tmp_path)
    key_b64 = base64.b64encode(
        api.get("secrets", "azureml-tls", "azureml")["data"]["key.pem"].encode()
    ).decode()
    texts = [t for r in results for t in (r.stdout, r.stderr)]
    texts += [p.read_text() for out in tmp_path.glob("out-*") for p in out.iterdir()]
    for text in texts:
        assert "PRIVATE KEY" not in text
        assert api.get("secrets", "azureml-tls", "azureml")["data"]["key.pem"] not in text
        assert key_b64 not in text


# -- runs that create pods (deploy/rbac-runner.yaml) ---------------------------------------------
def test_runner_manifest_grants_little_cluster_wide() -> None:
    docs = documents(RUNNER)
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    assert set(roles) == {"preflight-runner", "preflight-run"}
    # preflight-run is never bound cluster-wide: only each run's RoleBinding binds it
    every = documents() + docs
    for doc in every:
        if doc["kind"] == "ClusterRoleBinding":
            assert doc["roleRef"]["name"] != "preflight-run", doc["metadata"]["name"]
    cluster_wide = {
        (group, resource, verb)
        for rule in roles["preflight-runner"]["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert cluster_wide == {
        ("", "namespaces", "create"),
        ("", "namespaces", "list"),
        ("authentication.k8s.io", "selfsubjectreviews", "create"),
        ("rbac.authorization.k8s.io", "rolebindings", "create"),
        ("rbac.authorization.k8s.io", "clusterroles", "bind"),
    }
    [bind] = [r for r in roles["preflight-runner"]["rules"] if "bind" in r["verbs"]]
    assert bind["resourceNames"] == ["preflight-run"]
    for doc in docs:
        for rule in doc.get("rules") or []:
            assert "*" not in rule.get("resources", []) and "*" not in rule.get("verbs", [])
            if "secrets" in rule.get("resources", []):  # never read every Secret
                assert doc["kind"] == "Role" or set(rule["verbs"]) == {"create"}, rule


def bind_checks(api: Any) -> list[Attributes]:
    """The API server checks ``bind`` on the referenced role when a RoleBinding is created (the
    escalation check); the fake does not, so each RoleBinding create stands for that check."""
    checks = []
    for request in api.requests:
        if request.verb == "create" and request.resource == "rolebindings" and request.body:
            ref = json.loads(request.body)["roleRef"]
            group = "rbac.authorization.k8s.io"
            resource = "clusterroles" if ref["kind"] == "ClusterRole" else "roles"
            checks.append(Attributes("bind", group, resource, "", request.namespace, ref["name"]))
    return checks


def run_with_pods(api: Any, tmp_path: Path, runtime_plugin: Path, **kwargs: Any) -> Any:
    return incluster_run(
        api,
        tmp_path,
        runtime_plugin,
        "--set",
        "image_pull_secrets=regcred",
        "--set",
        "probe_proxy=http://u:p4ssw0rd@proxy.corp:3128",
        steps="job,pod,web",
        **kwargs,
    )


def pod_cluster() -> list[dict[str, Any]]:
    crashed = namespace(
        "preflight-0123456789ab",
        labels={"app.kubernetes.io/managed-by": "preflight", "preflight.io/run-id": "0123456789ab"},
    )
    pull = secret("regcred", "preflight", data={".dockerconfigjson": "{}"})
    pull["type"] = "kubernetes.io/dockerconfigjson"
    return incluster_cluster(crashed, pull)


def test_every_call_of_a_run_with_pods_is_allowed_and_every_grant_is_used(
    tmp_path: Path, kube_api: Any, kube_runner: Any, runtime_plugin: Path
) -> None:
    api = kube_api(pod_cluster())
    kube_runner(api)
    result = run_with_pods(api, tmp_path, runtime_plugin)
    assert result.code == 0, result.stdout + result.stderr
    run_ns = f"preflight-{result.report()['run']['id']}"
    cleanup = preflight("cleanup", "--kubeconfig", str(tmp_path / "kubeconfig"))
    assert cleanup.code == 0, cleanup.stdout + cleanup.stderr
    calls = attributes_of(api) + bind_checks(api)
    leftover = "preflight-0123456789ab"  # its own run's RoleBinding allows deleting it
    allowed = [r for m in MANIFESTS for r in load_rules(m)]
    allowed += load_rules(RUNNER, bound_in={"preflight-run": [run_ns, leftover]})
    assert not denied(allowed, calls), "calls the shipped RBAC does not allow"
    runner_rules = load_rules(RUNNER, bound_in={"preflight-run": [run_ns]})
    assert not unused(runner_rules, calls), "grants no call needs (not least privilege)"
    # and preflight-run's rules really are confined: the same calls in another namespace fail
    elsewhere = [
        Attributes(c.verb, c.api_group, c.resource, c.subresource, "default", c.name)
        for c in calls
        if c.namespace == run_ns and c.resource in ("pods", "jobs", "deployments")
    ]
    assert elsewhere and denied(allowed, elsewhere) == sorted(
        set(elsewhere), key=lambda a: (a.path, a.api_group, a.resource, a.verb)
    )
    deleted = Attributes("delete", "", "namespaces", name="kube-system")
    assert denied(allowed, [deleted]) == [deleted], "deleting any other namespace is refused"


def test_fake_server_enforcing_the_runner_manifest_answers_no_403(
    tmp_path: Path, kube_api: Any, kube_runner: Any, runtime_plugin: Path
) -> None:
    api = kube_api(pod_cluster())
    kube_runner(api)
    cluster, namespaced = rbac_rules()
    run_rules: list[dict[str, Any]] = []
    for doc in documents(RUNNER):
        if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == "preflight-runner":
            cluster += doc["rules"]
        elif doc["kind"] == "ClusterRole":
            run_rules = doc["rules"]
        elif doc["kind"] == "Role":
            namespaced.setdefault(doc["metadata"]["namespace"], []).extend(doc["rules"])
    api.set_rbac(cluster, namespaced=namespaced)

    def honour(binding: dict[str, Any]) -> dict[str, Any]:  # the authorizer sees RoleBindings
        if binding["roleRef"]["name"] == "preflight-run":
            namespaced.setdefault(binding["metadata"]["namespace"], []).extend(run_rules)
            api.set_rbac(cluster, namespaced=namespaced)
        return binding

    api.on_create("rolebindings", honour)
    allow_namespace_requests_by_name(api)
    result = run_with_pods(api, tmp_path, runtime_plugin)
    forbidden = [(r.method, r.path) for r in api.requests if r.status == 403]
    assert not forbidden, forbidden
    assert result.code == 0, result.stdout + result.stderr
    assert not [
        n
        for n in api.objects("namespaces")
        if n["metadata"]["name"].endswith(result.report()["run"]["id"])
    ], "the run deleted its own namespace through its RoleBinding"


def test_without_the_capacity_grant_only_deployment_capacity_skips_naming_it(
    tmp_path: Path, kube_api: Any
) -> None:
    """deploy/rbac.yaml alone: listing every pod is refused, deployment.capacity says which
    manifest grants it (a skip: it lacks what it needs), and no other check is affected."""
    api = kube_api(busy_cluster())
    cluster, namespaced = rbac_rules()
    api.set_rbac(cluster, namespaced=namespaced)
    before = run_everything(api, tmp_path)[0]
    capacity = before.only("deployment.capacity")
    assert capacity["status"] == "skip", capacity
    assert CAPACITY.name in capacity["remediation"]
    others = [
        f
        for f in before.findings()
        if f["check"] != "deployment.capacity" and "forbidden" in json.dumps(f).lower()
    ]
    assert not others, others
