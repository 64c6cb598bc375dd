"""Self-tests of ``FakeKubeApi`` driven by the REAL ``kubernetes`` client (and kubectl).

Every test builds its own ``ApiClient`` from a kubeconfig the fake wrote
(``load_kube_config(client_configuration=...)``), so no global client configuration leaks
between tests. If one of these fails, every Kubernetes test built on the fake is suspect.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes.client as kc
import kubernetes.watch
import pytest
import urllib3
from kubernetes.client.rest import ApiException
from support.kube_api import (
    FakeKubeApi,
    FieldSelector,
    LabelSelector,
    exec_token_command,
    iter_pages,
    load_client,
)
from support.kube_objects import (
    clusterrole,
    clusterrolebinding,
    configmap,
    crd,
    daemonset,
    default_namespaces,
    deployment,
    event,
    ingressclass,
    job,
    limitrange,
    namespace,
    node,
    nodes,
    obj,
    parse_quantity,
    pod,
    policy_rule,
    replicaset,
    resourcequota,
    role,
    rolebinding,
    secret,
    service,
    serviceaccount,
    statefulset,
    storageclass,
)

MakeApi = Callable[..., FakeKubeApi]
MakeClient = Callable[..., kc.ApiClient]


def status_of(exc: ApiException) -> dict[str, Any]:
    """The Status body of an ApiException."""
    return json.loads(exc.body)


# -- listing and pagination ----------------------------------------------------------------------
def test_list_nodes_across_pages_with_limit_and_continue(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    api = kube_api(nodes(456))
    core = kc.CoreV1Api(kube_client(api))

    names: list[str] = []
    token = None
    pages = []
    while True:
        page = core.list_node(limit=200, _continue=token)
        pages.append(page)
        names += [n.metadata.name for n in page.items]
        token = page.metadata._continue
        if not token:
            break

    assert [len(p.items) for p in pages] == [200, 200, 56]
    assert len(names) == len(set(names)) == 456
    assert names == sorted(names)
    assert [p.metadata.remaining_item_count for p in pages] == [256, 56, None]
    assert all(p.kind == "NodeList" and p.api_version == "v1" for p in pages)
    assert all(p.metadata.resource_version for p in pages)
    # items of a list carry no kind/apiVersion, exactly like a real API server
    assert pages[0].items[0].kind is None
    assert api.count(verb="list", resource="nodes") == 3
    assert [r.param("continue") is None for r in api.requests] == [True, False, False]


def test_iter_pages_helper_and_exact_page_boundary(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    api = kube_api(nodes(1000))
    core = kc.CoreV1Api(kube_client(api))
    pages = list(iter_pages(core.list_node, limit=500))
    assert [len(p.items) for p in pages] == [500, 500]  # no empty third page
    assert pages[-1].metadata._continue is None


def test_raw_list_without_preloading_returns_json_bytes(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    """The engine's fast path: ``_preload_content=False`` gives the urllib3 response."""
    api = kube_api(nodes(1200, gpus=1))
    core = kc.CoreV1Api(kube_client(api))

    total = 0
    token = None
    while True:
        response = core.list_node(limit=500, _continue=token, _preload_content=False)
        assert isinstance(response, urllib3.HTTPResponse)
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert isinstance(response.data, bytes)
        doc = json.loads(response.data)
        assert doc["kind"] == "NodeList" and doc["apiVersion"] == "v1"
        assert "kind" not in doc["items"][0]
        assert doc["items"][0]["status"]["capacity"]["nvidia.com/gpu"] == "1"
        total += len(doc["items"])
        token = doc["metadata"].get("continue")
        if not token:
            break
    assert total == 1200


def test_raw_list_still_raises_for_errors(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api([node("n1")])
    core = kc.CoreV1Api(kube_client(api))
    api.inject("nodes", status=403)
    with pytest.raises(ApiException) as info:
        core.list_node(limit=500, _preload_content=False)
    assert info.value.status == 403
    assert status_of(info.value)["reason"] == "Forbidden"


def test_five_thousand_nodes_are_served_in_pages_quickly(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    api = kube_api(nodes(5000))
    core = kc.CoreV1Api(kube_client(api))
    warm = core.list_node(limit=1, _preload_content=False)  # warm the connection and the index
    assert warm.data

    seen = 0
    slowest = 0.0
    token = None
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        response = core.list_node(limit=500, _continue=token, _preload_content=False)
        data = response.data
        slowest = max(slowest, time.perf_counter() - t0)
        doc = json.loads(data)
        seen += len(doc["items"])
        token = doc["metadata"].get("continue")
        if not token:
            break
    elapsed = time.perf_counter() - started
    assert seen == 5000
    served = [r.duration for r in api.requests if r.param("limit") == "500"]
    assert len(served) == 10
    # Generous bounds (CI machines vary); on a laptop a page is served in ~2 ms.
    assert max(d for d in served if d is not None) < 0.25, served
    assert slowest < 1.0 and elapsed < 5.0, (slowest, elapsed)


# -- selectors -----------------------------------------------------------------------------------
@pytest.fixture
def labelled(kube_api: MakeApi, kube_client: MakeClient) -> tuple[FakeKubeApi, kc.CoreV1Api]:
    objects = [
        node("cpu-1", pool="cpu", labels={"tier": "web"}),
        node("cpu-2", pool="cpu", labels={"tier": "api", "legacy": "yes"}),
        node("gpu-1", pool="gpu", gpus=4, labels={"tier": "ml"}),
        node("gpu-2", pool="gpu", gpus=4, unschedulable=True),
    ]
    api = kube_api(objects)
    return api, kc.CoreV1Api(kube_client(api))


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("agentpool=gpu", ["gpu-1", "gpu-2"]),
        ("agentpool==cpu", ["cpu-1", "cpu-2"]),
        ("agentpool!=gpu", ["cpu-1", "cpu-2"]),
        ("tier in (web, ml)", ["cpu-1", "gpu-1"]),
        ("tier notin (web,ml)", ["cpu-2", "gpu-2"]),
        ("legacy", ["cpu-2"]),
        ("!legacy", ["cpu-1", "gpu-1", "gpu-2"]),
        ("kubernetes.azure.com/accelerator=nvidia,tier", ["gpu-1"]),
        ("agentpool=gpu,tier notin (ml)", ["gpu-2"]),
        ("", ["cpu-1", "cpu-2", "gpu-1", "gpu-2"]),
    ],
)
def test_label_selectors(
    labelled: tuple[FakeKubeApi, kc.CoreV1Api], selector: str, expected: list[str]
) -> None:
    _, core = labelled
    result = core.list_node(label_selector=selector)
    assert [n.metadata.name for n in result.items] == expected


def test_label_selector_with_pagination_counts_only_matches(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    objects = nodes(300, pool="a") + nodes(300, pool="b")
    api = kube_api(objects)
    core = kc.CoreV1Api(kube_client(api))
    pages = list(iter_pages(core.list_node, limit=120, label_selector="agentpool=b"))
    assert [len(p.items) for p in pages] == [120, 120, 60]
    assert all(n.metadata.labels["agentpool"] == "b" for p in pages for n in p.items)


def test_field_selectors_on_pods(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api(
        [
            *default_namespaces(),
            namespace("azureml"),
            pod("a", "azureml", node="n1"),
            pod("b", "azureml", node="n2", phase="Failed"),
            pod("c", "default", node=None, phase="Pending"),
        ]
    )
    core = kc.CoreV1Api(kube_client(api))

    def names(**kwargs: Any) -> list[str]:
        return [p.metadata.name for p in core.list_pod_for_all_namespaces(**kwargs).items]

    assert names(field_selector="spec.nodeName=n1") == ["a"]
    assert names(field_selector="spec.nodeName=") == ["c"]  # unscheduled
    assert names(field_selector="status.phase!=Running") == ["b", "c"]
    assert names(field_selector="metadata.namespace=azureml,status.phase=Running") == ["a"]
    assert names(field_selector="metadata.name==b") == ["b"]
    ns_pods = core.list_namespaced_pod("azureml", field_selector="status.phase=Failed")
    assert [p.metadata.name for p in ns_pods.items] == ["b"]
    nodes_cordoned = kc.CoreV1Api(kube_client(api)).list_node(
        field_selector="spec.unschedulable=false"
    )
    assert nodes_cordoned.items == []

    with pytest.raises(ApiException) as info:
        core.list_pod_for_all_namespaces(field_selector="spec.containers=x")
    assert info.value.status == 400
    assert status_of(info.value)["message"] == "field label not supported: spec.containers"
    with pytest.raises(ApiException) as info:
        core.list_node(label_selector="a in (b")
    assert info.value.status == 400
    assert status_of(info.value)["reason"] == "BadRequest"


def test_selector_parsers_directly() -> None:
    sel = LabelSelector("app=x, tier in (web,api) ,!legacy,version>2")
    assert sel.matches({"app": "x", "tier": "web", "version": "3"})
    assert not sel.matches({"app": "x", "tier": "web", "version": "2"})
    assert not sel.matches({"app": "x", "tier": "db", "version": "3"})
    assert not sel.matches({"app": "x", "tier": "web", "version": "3", "legacy": ""})
    with pytest.raises(ValueError):
        LabelSelector("version>two")
    fsel = FieldSelector("metadata.name=x,status.phase!=Running")
    assert fsel.name() == "x"
    assert fsel.matches({"metadata": {"name": "x"}, "status": {"phase": "Pending"}})


# -- CRUD ----------------------------------------------------------------------------------------
def test_namespace_create_get_conflict_delete(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api(default_namespaces())
    core = kc.CoreV1Api(kube_client(api))

    created = core.create_namespace(kc.V1Namespace(metadata=kc.V1ObjectMeta(name="preflight")))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    assert created.metadata.labels == {"kubernetes.io/metadata.name": "preflight"}
    assert created.status.phase == "Active"

    got = core.read_namespace("preflight")
    assert got.metadata.uid == created.metadata.uid

    with pytest.raises(ApiException) as info:
        core.create_namespace({"metadata": {"name": "preflight"}})
    assert info.value.status == 409
    body = status_of(info.value)
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'namespaces "preflight" already exists'

    deleted = core.delete_namespace("preflight")
    assert deleted["kind"] == "Namespace"  # the python client types this as "object"
    assert deleted["status"]["phase"] == "Terminating"
    with pytest.raises(ApiException) as info:
        core.read_namespace("preflight")
    assert info.value.status == 404
    assert status_of(info.value)["message"] == 'namespaces "preflight" not found'


def test_create_in_missing_namespace_and_generate_name(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    api = kube_api([namespace("default")])
    core = kc.CoreV1Api(kube_client(api))
    body = {"metadata": {"generateName": "probe-"}, "data": {"k": "v"}}
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("azureml", body)
    assert info.value.status == 404
    assert status_of(info.value)["message"] == 'namespaces "azureml" not found'

    made = core.create_namespaced_config_map("default", body)
    assert made.metadata.name.startswith("probe-") and len(made.metadata.name) == 11
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("default", {"data": {}})
    assert info.value.status == 422
    assert "name or generateName is required" in status_of(info.value)["message"]


def test_delete_answers_object_or_status_like_the_real_resource(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    api = kube_api([namespace("ns"), pod("p", "ns"), configmap("c", "ns")])
    core = kc.CoreV1Api(kube_client(api))
    deleted_pod = core.delete_namespaced_pod("p", "ns")  # typed V1Pod in the client
    assert isinstance(deleted_pod, kc.V1Pod)
    assert deleted_pod.metadata.deletion_timestamp is not None
    deleted_cm = core.delete_namespaced_config_map("c", "ns")
    assert deleted_cm["kind"] == "Status" and deleted_cm["status"] == "Success"
    assert deleted_cm["details"]["name"] == "c"
    assert api.objects("pods") == [] and api.objects("configmaps") == []


def test_delete_collection_with_label_selector(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api(
        [
            namespace("ns"),
            pod("a", "ns", labels={"app": "probe"}),
            pod("b", "ns", labels={"app": "probe"}),
            pod("c", "ns", labels={"app": "keep"}),
            pod("d", "other", labels={"app": "probe"}),
        ]
    )
    core = kc.CoreV1Api(kube_client(api))
    result = core.delete_collection_namespaced_pod("ns", label_selector="app=probe")
    assert result.status == "Success"
    assert sorted(p["metadata"]["name"] for p in api.objects("pods")) == ["c", "d"]
    assert ("deletecollection", "", "pods", "", "ns", "") in api.authorization_attributes()


def test_deleting_a_namespace_deletes_its_contents(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    api = kube_api([namespace("ns"), namespace("keep"), pod("a", "ns"), pod("b", "keep")])
    core = kc.CoreV1Api(kube_client(api))
    core.delete_namespace("ns")
    assert [p["metadata"]["name"] for p in api.objects("pods")] == ["b"]


def test_patch_update_conflict_and_dry_run(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api([namespace("ns"), configmap("c", "ns", data={"a": "1"})])
    client = kube_client(api)
    core = kc.CoreV1Api(client)

    patched = core.patch_namespaced_config_map("c", "ns", {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}
    assert api.requests[-1].headers["Content-Type"] == "application/strategic-merge-patch+json"

    json_patched = core.patch_namespaced_config_map(
        "c", "ns", [{"op": "remove", "path": "/data/a"}]
    )
    assert json_patched.data == {"b": "2"}
    assert api.requests[-1].headers["Content-Type"] == "application/json-patch+json"

    stale = core.read_namespaced_config_map("c", "ns")
    core.replace_namespaced_config_map("c", "ns", stale)  # bumps resourceVersion
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("c", "ns", stale)
    assert info.value.status == 409
    assert "the object has been modified" in status_of(info.value)["message"]

    dry = core.create_namespaced_config_map("ns", {"metadata": {"name": "d"}}, dry_run="All")
    assert dry.metadata.name == "d"
    assert api.get("configmaps", "d", "ns") is None
    assert api.count(verb="patch", resource="configmaps") == 2


# -- pods/log ------------------------------------------------------------------------------------
def test_read_pod_log(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api(
        [
            namespace("azureml"),
            pod("one", "azureml"),
            pod("two", "azureml", containers=("app", "sidecar")),
            pod("pulling", "azureml", waiting_reason="ImagePullBackOff"),
        ]
    )
    api.set_pod_log("azureml", "one", "line 1\nline 2\nline 3\n")
    api.set_pod_log("azureml", "two", '{"level": "error"}\n', container="sidecar")
    core = kc.CoreV1Api(kube_client(api))

    assert core.read_namespaced_pod_log("one", "azureml") == "line 1\nline 2\nline 3\n"
    assert core.read_namespaced_pod_log("one", "azureml", tail_lines=1) == "line 3\n"
    # text/plain, so a JSON-looking log comes back verbatim (not re-parsed as JSON)
    assert (
        core.read_namespaced_pod_log("two", "azureml", container="sidecar")
        == '{"level": "error"}\n'
    )
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log("two", "azureml")
    assert status_of(info.value)["message"] == (
        "a container name must be specified for pod two, choose one of: [app sidecar]"
    )
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log("pulling", "azureml")
    assert info.value.status == 400
    assert "is waiting to start: trying and failing to pull image" in info.value.body
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log("missing", "azureml")
    assert info.value.status == 404
    raw = core.read_namespaced_pod_log("one", "azureml", _preload_content=False)
    assert raw.data == b"line 1\nline 2\nline 3\n"
    assert ("get", "", "pods", "log", "azureml", "one") in api.authorization_attributes()


# -- discovery and version -----------------------------------------------------------------------
def test_discovery_and_custom_resources(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api(
        [
            namespace("monitoring"),
            crd("prometheuses.monitoring.coreos.com", kind="Prometheus", helm_release="kps"),
            obj("monitoring.coreos.com/v1", "Prometheus", "k8s", "monitoring", spec={"x": 1}),
        ]
    )
    api.register_resource("batch.volcano.sh", "v1alpha1", "jobs", "Job", short_names=("vcjob",))
    client = kube_client(api)

    groups = kc.ApisApi(client).get_api_versions()
    names = [g.name for g in groups.groups]
    assert names[:2] == ["apiregistration.k8s.io", "apps"]
    assert {"monitoring.coreos.com", "batch.volcano.sh", "rbac.authorization.k8s.io"} <= set(names)
    volcano = next(g for g in groups.groups if g.name == "batch.volcano.sh")
    assert volcano.preferred_version.group_version == "batch.volcano.sh/v1alpha1"
    assert kc.CoreApi(client).get_api_versions().versions == ["v1"]

    core_resources = {r.name: r for r in kc.CoreV1Api(client).get_api_resources().resources}
    assert core_resources["pods"].namespaced and "list" in core_resources["pods"].verbs
    assert core_resources["pods/log"].verbs == ["get"]
    assert core_resources["nodes"].namespaced is False
    assert core_resources["nodes"].short_names == ["no"]

    custom = kc.CustomObjectsApi(client)
    resources = custom.get_api_resources("batch.volcano.sh", "v1alpha1")
    assert [r.name for r in resources.resources] == ["jobs", "jobs/status"]
    proms = custom.list_cluster_custom_object("monitoring.coreos.com", "v1", "prometheuses")
    assert proms["kind"] == "PrometheusList"
    assert [(p["kind"], p["metadata"]["name"]) for p in proms["items"]] == [("Prometheus", "k8s")]
    ns_proms = custom.list_namespaced_custom_object(
        "monitoring.coreos.com", "v1", "monitoring", "prometheuses"
    )
    assert len(ns_proms["items"]) == 1
    created = custom.create_namespaced_custom_object(
        "batch.volcano.sh",
        "v1alpha1",
        "monitoring",
        "jobs",
        {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": "j"}},
    )
    assert created["metadata"]["uid"]

    crd_obj = kc.ApiextensionsV1Api(client).read_custom_resource_definition(
        "prometheuses.monitoring.coreos.com"
    )
    assert crd_obj.metadata.labels["app.kubernetes.io/managed-by"] == "Helm"
    assert crd_obj.metadata.annotations["meta.helm.sh/release-name"] == "kps"

    # Deleting the CRD unregisters the resource, as on a real cluster.
    kc.ApiextensionsV1Api(client).delete_custom_resource_definition(
        "prometheuses.monitoring.coreos.com"
    )
    with pytest.raises(ApiException) as info:
        custom.list_cluster_custom_object("monitoring.coreos.com", "v1", "prometheuses")
    assert info.value.status == 404


def test_version(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api(version="v1.29.7", version_info={"minor": "29+"})
    info = kc.VersionApi(kube_client(api)).get_code()
    assert info.git_version == "v1.29.7"
    assert (info.major, info.minor) == ("1", "29+")
    assert info.platform == "linux/amd64"
    assert api.path_counts()["/version/"] == 1  # the Python client asks for "/version/"
    assert api.authorization_attributes() == set()  # non-resource paths are not listed


# -- authentication, authorization and faults ----------------------------------------------------
def test_injected_403_has_the_real_forbidden_message(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    api = kube_api([node("n1"), namespace("azureml")], user="system:serviceaccount:ci:x")
    api.inject("nodes", status=403)
    api.inject("deployments.apps", status=403)
    client = kube_client(api)
    with pytest.raises(ApiException) as info:
        kc.CoreV1Api(client).list_node()
    assert info.value.status == 403
    assert info.value.reason == "Forbidden"
    assert status_of(info.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'nodes is forbidden: User "system:serviceaccount:ci:x" cannot list resource '
        '"nodes" in API group "" at the cluster scope',
        "reason": "Forbidden",
        "details": {"kind": "nodes"},
        "code": 403,
    }
    with pytest.raises(ApiException) as info:
        kc.AppsV1Api(client).read_namespaced_deployment("gw", "azureml")
    assert status_of(info.value)["message"] == (
        'deployments.apps "gw" is forbidden: User "system:serviceaccount:ci:x" cannot get '
        'resource "deployments" in API group "apps" in the namespace "azureml"'
    )


def test_wrong_or_missing_token_gets_401(
    kube_api: MakeApi, kube_client: MakeClient, kubeconfig: Callable[..., Path]
) -> None:
    api = kube_api([node("n1")], token="s3cret")
    assert len(kc.CoreV1Api(kube_client(api)).list_node().items) == 1  # server's token

    for token in ("wrong", None):
        core = kc.CoreV1Api(kube_client(kubeconfig(api, token=token)))
        with pytest.raises(ApiException) as info:
            core.list_node()
        assert info.value.status == 401
        assert status_of(info.value)["message"] == "Unauthorized"
    assert [r.status for r in api.requests] == [200, 401, 401]


def test_exec_credential_plugin(
    kube_api: MakeApi, kube_client: MakeClient, kubeconfig: Callable[..., Path], tmp_path: Path
) -> None:
    api = kube_api([node("n1")], token="from-exec")
    record = tmp_path / "runs"
    path = kubeconfig(api, user_exec=exec_token_command("from-exec", record=record))
    assert len(kc.CoreV1Api(kube_client(path)).list_node().items) == 1
    assert record.read_text() == "run\n"
    assert api.requests[-1].headers["Authorization"] == "Bearer from-exec"


def test_hang_hits_the_request_timeout_and_default_retries(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    api = kube_api([node("n1")])
    api.inject("nodes", hang=True)

    # urllib3's default Retry(3) re-sends an idempotent GET after a read timeout: 4 tries.
    core = kc.CoreV1Api(kube_client(api))
    started = time.perf_counter()
    with pytest.raises(urllib3.exceptions.MaxRetryError) as info:
        core.list_node(_request_timeout=0.2)
    assert isinstance(info.value.reason, urllib3.exceptions.ReadTimeoutError)
    assert 0.75 < time.perf_counter() - started < 5
    assert api.count(verb="list", resource="nodes") == 4

    # With retries off, one try and the bare ReadTimeoutError.
    api.clear_requests()
    core = kc.CoreV1Api(kube_client(api, retries=False))
    started = time.perf_counter()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        core.list_node(_request_timeout=(1, 0.2))
    assert time.perf_counter() - started < 2
    assert api.count(verb="list", resource="nodes") == 1
    # The server's hung threads are released by stop() (checked by _no_leaked_threads).


def test_fault_variants(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api([node("n1")])
    core = kc.CoreV1Api(kube_client(api, retries=False))

    fault = api.inject(r"^/api/v1/nodes$", status=429, retry_after=7, times=1)
    with pytest.raises(ApiException) as info:
        core.list_node()
    assert info.value.status == 429
    assert info.value.headers["Retry-After"] == "7"
    assert status_of(info.value)["details"] == {"retryAfterSeconds": 7}
    assert len(core.list_node().items) == 1  # times=1: used up
    assert fault.hits == 1

    api.inject("GET", "^/api/v1/nodes/n1$", status=503, times=1)
    with pytest.raises(ApiException) as info:
        core.read_node("n1")
    assert status_of(info.value)["reason"] == "ServiceUnavailable"

    api.inject("nodes", status=500, verb="get")
    with pytest.raises(ApiException) as info:
        core.read_node("n1")
    assert info.value.status == 500
    assert status_of(info.value)["reason"] == "InternalError"
    api.clear_faults()

    api.inject("nodes", drop=True)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        core.list_node()
    api.clear_faults()

    api.inject("nodes", status=502, body="<html>Bad Gateway</html>", content_type="text/html")
    with pytest.raises(ApiException) as info:
        core.list_node()
    assert info.value.status == 502 and "Bad Gateway" in info.value.body
    api.clear_faults()

    api.inject("nodes", status=410, query="continue=")
    page = core.list_node(limit=1)
    assert page.metadata._continue is None  # only one node
    with pytest.raises(ApiException) as info:
        core.list_node(limit=1, _continue="bm90LWEtdG9rZW4=")
    assert info.value.status == 410
    assert status_of(info.value)["reason"] == "Expired"


def test_retry_after_is_honoured_with_client_go_retries(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    api = kube_api([node("n1")])
    api.inject("nodes", status=429, retry_after=0, times=2)
    core = kc.CoreV1Api(kube_client(api, client_go_retries=True))
    assert len(core.list_node().items) == 1
    assert [r.status for r in api.requests] == [429, 429, 200]


def test_rbac_rules_and_access_reviews(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api([node("n1"), namespace("azureml"), pod("p", "azureml")], user="alice")
    api.set_rbac(
        [policy_rule(["get", "list"], ["nodes"])],
        namespaced={"azureml": [policy_rule(["get"], ["pods", "pods/log"])]},
    )
    client = kube_client(api)
    core = kc.CoreV1Api(client)
    assert len(core.list_node().items) == 1
    assert core.read_namespaced_pod("p", "azureml").metadata.name == "p"
    with pytest.raises(ApiException) as info:
        core.list_namespaced_pod("azureml")
    assert status_of(info.value)["message"] == (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the '
        'namespace "azureml"'
    )
    with pytest.raises(ApiException) as info:
        core.delete_node("n1")
    assert status_of(info.value)["message"].startswith('nodes "n1" is forbidden: User "alice"')

    authz = kc.AuthorizationV1Api(client)

    def can(verb: str, resource: str, **attrs: str) -> bool:
        review = kc.V1SelfSubjectAccessReview(
            spec=kc.V1SelfSubjectAccessReviewSpec(
                resource_attributes=kc.V1ResourceAttributes(verb=verb, resource=resource, **attrs)
            )
        )
        return bool(authz.create_self_subject_access_review(review).status.allowed)

    assert can("list", "nodes")
    assert not can("create", "clusterrolebindings", group="rbac.authorization.k8s.io")
    assert can("get", "pods", subresource="log", namespace="azureml")
    assert not can("get", "pods", namespace="default")
    assert api.access_reviews[0] == {"verb": "list", "resource": "nodes"}

    rules = authz.create_self_subject_rules_review(
        kc.V1SelfSubjectRulesReview(spec=kc.V1SelfSubjectRulesReviewSpec(namespace="azureml"))
    )
    assert {"nodes", "pods", "pods/log"} <= {
        res for rule in rules.status.resource_rules for res in rule.resources or []
    }
    who = kc.AuthenticationV1Api(client).create_self_subject_review(kc.V1SelfSubjectReview())
    assert who.status.user_info.username == "alice"

    api.clear_rbac()
    assert len(core.list_namespaced_pod("azureml").items) == 1


def test_authorization_attributes_log(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api([node("n1"), namespace("azureml"), pod("p", "azureml")])
    client = kube_client(api)
    core, apps = kc.CoreV1Api(client), kc.AppsV1Api(client)
    kc.VersionApi(client).get_code()
    core.list_node()
    core.read_node("n1")
    core.list_pod_for_all_namespaces(field_selector="metadata.name=p")
    core.list_namespaced_pod("azureml", watch=True, timeout_seconds=1, _preload_content=False)
    core.read_namespaced_pod_log("p", "azureml")
    core.create_namespaced_config_map("azureml", {"metadata": {"name": "c"}})
    core.patch_namespaced_config_map("c", "azureml", {"data": {"a": "b"}})
    core.delete_namespaced_config_map("c", "azureml")
    # like a real server, listing in a namespace that does not exist is an empty list
    assert apps.list_namespaced_deployment("missing-ns", label_selector="app=x").items == []
    with pytest.raises(ApiException):
        apps.read_namespaced_deployment("nope", "azureml")

    assert api.authorization_attributes() == {
        ("list", "", "nodes", "", "", ""),
        ("get", "", "nodes", "", "", "n1"),
        ("list", "", "pods", "", "", "p"),  # metadata.name fieldSelector names the object
        ("watch", "", "pods", "", "azureml", ""),
        ("get", "", "pods", "log", "azureml", "p"),
        ("create", "", "configmaps", "", "azureml", ""),
        ("patch", "", "configmaps", "", "azureml", "c"),
        ("delete", "", "configmaps", "", "azureml", "c"),
        ("list", "apps", "deployments", "", "missing-ns", ""),
        ("get", "apps", "deployments", "", "azureml", "nope"),
    }
    assert ("get", "apps", "deployments", "", "azureml", "nope") not in (
        api.authorization_attributes(include_failed=False)
    )
    counts = api.path_counts()
    assert counts["/version/"] == 1 and counts["/api/v1/nodes"] == 1


# -- watch ---------------------------------------------------------------------------------------
def test_watch_streams_added_modified_deleted(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api([namespace("ns"), pod("old", "ns"), pod("elsewhere", "default")])
    core = kc.CoreV1Api(kube_client(api))

    seen = []
    watcher = kubernetes.watch.Watch()
    for ev in watcher.stream(core.list_namespaced_pod, "ns", timeout_seconds=5):
        seen.append((ev["type"], ev["object"].metadata.name, ev["object"].status.phase))
        if len(seen) == 1:  # the initial list is on the wire: now change the store
            api.update(pod("old", "ns", phase="Succeeded"))
            api.add(pod("other-ns", "default"))  # not in the watched namespace
            api.add(pod("new", "ns", labels={"x": "y"}))
            api.remove("pods", "old", "ns")
        if len(seen) == 4:
            watcher.stop()
    assert seen == [
        ("ADDED", "old", "Running"),
        ("MODIFIED", "old", "Succeeded"),
        ("ADDED", "new", "Running"),
        ("DELETED", "old", "Succeeded"),
    ]
    assert api.requests[-1].attributes == ("watch", "", "pods", "", "ns", "")


def test_watch_ends_at_timeout_seconds(kube_api: MakeApi, kube_client: MakeClient) -> None:
    api = kube_api([node("n1")])
    core = kc.CoreV1Api(kube_client(api))
    started = time.perf_counter()
    events = list(kubernetes.watch.Watch().stream(core.list_node, timeout_seconds=1))
    assert 0.9 < time.perf_counter() - started < 3
    assert [e["type"] for e in events] == ["ADDED"]
    assert api.requests[-1].verb == "watch"


# -- reactions, TLS, kubectl ---------------------------------------------------------------------
def test_on_create_hook_can_complete_a_probe_pod(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    api = kube_api([namespace("ns")])

    def succeed(obj: dict[str, Any]) -> dict[str, Any]:
        obj["status"] = {"phase": "Succeeded"}
        return obj

    api.on_create("pods", succeed)
    core = kc.CoreV1Api(kube_client(api))
    body = kc.V1Pod(
        metadata=kc.V1ObjectMeta(name="probe"),
        spec=kc.V1PodSpec(containers=[kc.V1Container(name="c", image="busybox")]),
    )
    assert core.create_namespaced_pod("ns", body).status.phase == "Succeeded"


def test_https_with_certificate_authority_data(
    kube_api: MakeApi, kube_client: MakeClient, kubeconfig: Callable[..., Path]
) -> None:
    api = kube_api([node("n1")], tls=True, token="t")
    assert api.url.startswith("https://127.0.0.1:")
    path = kubeconfig(api)
    assert "certificate-authority-data" in path.read_text()
    assert len(kc.CoreV1Api(kube_client(path)).list_node().items) == 1

    untrusted = kubeconfig(api, embed_ca=False)
    with pytest.raises((ApiException, urllib3.exceptions.MaxRetryError)) as info:
        kc.CoreV1Api(kube_client(untrusted, retries=False)).list_node()
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_reads_the_fake(
    kube_api: MakeApi, kubeconfig: Callable[..., Path], tmp_path: Path
) -> None:
    # client-go never sends a bearer token over plain http (kubernetes/kubectl#744): use TLS
    api = kube_api(nodes(1100), token="k", tls=True)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig(api)), "get", "nodes", "-o", "json"],
        capture_output=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert len(json.loads(out.stdout)["items"]) == 1100
    pages = [r for r in api.requests if r.path == "/api/v1/nodes"]
    assert [r.param("limit") for r in pages] == ["500", "500", "500"]


# -- builders ------------------------------------------------------------------------------------
def test_builders_deserialize_into_the_clients_typed_models(
    kube_api: MakeApi, kube_client: MakeClient
) -> None:
    """Every builder's output passes the client's (pydantic) models, read back through the API."""
    api = kube_api(
        [
            *default_namespaces(),
            namespace("azureml", labels={"team": "ml"}),
            node("ready", gpus=2, taints=["sku=gpu:NoSchedule"], images=3),
            node("notready", ready=False),
            node("unknown", ready=None, conditions={"DiskPressure": True}),
            pod("running", "azureml"),
            pod("crash", "azureml", waiting_reason="CrashLoopBackOff"),
            pod("pull", "azureml", waiting_reason="ErrImagePull"),
            pod("pending", "azureml", node=None, phase="Pending"),
            pod("done", "azureml", phase="Succeeded", requests={"cpu": "1"}, limits={"cpu": "1"}),
            pod("oom", "azureml", phase="Failed", terminated_reason="OOMKilled", exit_code=137),
            deployment("gw", "azureml", replicas=2, ready_replicas=1),
            replicaset("gw-5d4f9c8b7", "azureml", owner={"kind": "Deployment", "name": "gw"}),
            daemonset("fluent", "azureml", desired=3, ready=2),
            statefulset("prom", "azureml", replicas=1, ready_replicas=0),
            job("probe", "azureml", succeeded=1, complete=True),
            job("probe-failed", "azureml", failed=6, complete=False),
            service("lb", "azureml", ingress_ips=["20.1.2.3"]),
            service("pending-lb", "azureml"),
            service("internal", "azureml", type="ClusterIP", ports=[80, (443, 8443)]),
            secret("s", "azureml", data={"token": "abc", "bin": b"\x00\x01"}),
            configmap("cm", "azureml", data={"k": "v"}),
            serviceaccount("sa", "azureml"),
            event(
                "BackOff", "Back-off pulling image", involved=("Pod", "pull"), namespace="azureml"
            ),
            resourcequota("q", "azureml", hard={"requests.cpu": "10"}),
            limitrange("lr", "azureml"),
            clusterrole("reader", [policy_rule(["get", "list"], ["nodes"])]),
            clusterrolebinding("reader", "reader", [("ServiceAccount", "sa", "azureml")]),
            role("r", "azureml", [policy_rule(["get"], ["pods"])]),
            rolebinding("r", "azureml", "r", [("User", "alice")]),
            crd("jobs.batch.volcano.sh", versions=("v1alpha1",)),
            storageclass(default=True),
            ingressclass(default=True),
        ]
    )
    client = kube_client(api)
    core, apps, batch = kc.CoreV1Api(client), kc.AppsV1Api(client), kc.BatchV1Api(client)
    rbac, storage = kc.RbacAuthorizationV1Api(client), kc.StorageV1Api(client)

    node_list = {n.metadata.name: n for n in core.list_node().items}
    ready = node_list["ready"]
    assert ready.status.capacity["nvidia.com/gpu"] == "2"
    assert ready.metadata.labels["kubernetes.io/arch"] == "amd64"
    assert ready.metadata.labels["node.kubernetes.io/instance-type"] == "Standard_D4s_v3"
    assert ready.metadata.labels["kubernetes.azure.com/agentpool"] == "nodepool1"
    assert ready.spec.taints[0].key == "sku"
    assert parse_quantity(ready.status.allocatable["cpu"]) < 4
    conditions = {c.type: c.status for c in node_list["notready"].status.conditions}
    assert conditions["Ready"] == "False"
    assert {c.type: c.status for c in node_list["unknown"].status.conditions}["Ready"] == "Unknown"

    pods = {p.metadata.name: p for p in core.list_namespaced_pod("azureml").items}
    crash = pods["crash"].status.container_statuses[0]
    assert crash.state.waiting.reason == "CrashLoopBackOff" and crash.restart_count == 5
    assert crash.last_state.terminated.exit_code == 1
    assert pods["pull"].status.container_statuses[0].state.waiting.reason == "ErrImagePull"
    assert pods["pending"].status.conditions[0].reason == "Unschedulable"
    assert pods["done"].status.qos_class == "Guaranteed"
    oom = pods["oom"].status.container_statuses[0].state.terminated
    assert (oom.reason, oom.exit_code) == ("OOMKilled", 137)

    deploy = apps.read_namespaced_deployment("gw", "azureml")
    assert (deploy.status.replicas, deploy.status.ready_replicas) == (2, 1)
    assert apps.read_namespaced_daemon_set("fluent", "azureml").status.number_ready == 2
    assert apps.read_namespaced_stateful_set("prom", "azureml").status.ready_replicas is None
    assert len(apps.list_namespaced_replica_set("azureml").items) == 1
    jobs = {j.metadata.name: j for j in batch.list_namespaced_job("azureml").items}
    assert jobs["probe"].status.conditions[0].type == "Complete"
    assert jobs["probe-failed"].status.conditions[0].type == "Failed"

    services = {s.metadata.name: s for s in core.list_namespaced_service("azureml").items}
    assert services["lb"].status.load_balancer.ingress[0].ip == "20.1.2.3"
    assert services["pending-lb"].status.load_balancer.ingress is None
    assert [p.port for p in services["internal"].spec.ports] == [80, 443]
    assert core.read_namespaced_secret("s", "azureml").data == {"token": "YWJj", "bin": "AAE="}
    assert core.read_namespaced_config_map("cm", "azureml").data == {"k": "v"}
    assert core.read_namespaced_service_account("sa", "azureml").metadata.name == "sa"
    assert core.list_namespaced_event("azureml").items[0].involved_object.name == "pull"
    assert core.read_namespaced_resource_quota("q", "azureml").status.hard == {"requests.cpu": "10"}
    assert len(core.list_namespaced_limit_range("azureml").items) == 1
    assert rbac.read_cluster_role("reader").rules[0].resources == ["nodes"]
    assert rbac.read_cluster_role_binding("reader").subjects[0].namespace == "azureml"
    assert rbac.read_namespaced_role_binding("r", "azureml").subjects[0].kind == "User"
    assert len(rbac.list_namespaced_role("azureml").items) == 1
    crds = kc.ApiextensionsV1Api(client).list_custom_resource_definition().items
    assert crds[0].spec.names.kind == "Job"
    assert storage.list_storage_class().items[0].provisioner == "disk.csi.azure.com"
    ingress = kc.NetworkingV1Api(client).list_ingress_class().items[0]
    assert ingress.metadata.annotations["ingressclass.kubernetes.io/is-default-class"] == "true"
    assert len(core.list_namespace().items) == 5


def test_loopback_bypasses_a_proxy_from_the_environment(
    kube_api: MakeApi, kubeconfig: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    api = kube_api([node("n1")])
    with load_client(kubeconfig(api), retries=False) as client:
        assert len(kc.CoreV1Api(client).list_node().items) == 1
    with load_client(kubeconfig(api), retries=False, no_proxy="") as client:
        assert client.configuration.proxy == "http://127.0.0.1:9"
        with pytest.raises(urllib3.exceptions.ProxyError):
            kc.CoreV1Api(client).list_node()


def test_unknown_kind_is_rejected_when_seeding() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        FakeKubeApi([obj("example.com/v1", "Widget", "w")])
    # crd() can only guess a kind from the plural; a wrong guess is reported with the fix
    with pytest.raises(ValueError, match="pass kind='IPAddressPool'"):
        FakeKubeApi(
            [
                crd("ipaddresspools.metallb.io", versions=("v1beta1",)),
                obj("metallb.io/v1beta1", "IPAddressPool", "lan", "metallb-system"),
            ]
        )
