"""The in-cluster runtime (preflight/kube/): one namespace per run, pods that really run,
failures told plainly, and nothing left behind -- after success, after a failure, after Ctrl-C
or SIGTERM mid-run, and (``preflight cleanup``) after a run that was killed outright.

The runtime is driven the way checks drive it: a test-only plugin (installed out of tree, found
through the ``preflight.checks`` entry points like any third-party plugin) run by the real
``preflight run``. The fake API server runs its pods as local processes (support/kube_runner.py):
a Job's ``preflight checks --json`` is the real entry point, a Deployment's ``python -m
http.server`` is reached through its Service's DNS name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.kube_objects import namespace, secret
from support.leftovers import nothing_left
from support.rbac import runner_roles
from support.runtime_plugin import allow_namespace_requests_by_name, cluster, run

from preflight.checks._shared.pod_platform import pod_annotations
from preflight.context import Context, RunOptions
from preflight.kube.explain import explain, registry_of
from preflight.kube.image import DEFAULT_IMAGE
from preflight.kube.leftovers import parse_duration
from preflight.kube.manifests import (
    deployment_manifest,
    job_manifest,
    pod_manifest,
    service_manifest,
)
from preflight.kube.outcome import EventRecord, Outcome
from preflight.kube.params import parse_node_selector, parse_tolerations
from preflight.kube.pod_proxy import pod_proxy
from preflight.profile import load_profile
from tests.clirun import preflight


def run_namespaces(api: Any) -> list[dict[str, Any]]:
    return [n for n in api.objects("namespaces") if n["metadata"]["name"].startswith("preflight-")]


def created(api: Any, resource: str) -> list[Any]:
    return [r for r in api.requests if r.verb == "create" and r.resource == resource]


# -- success -------------------------------------------------------------------------------------
def test_a_job_runs_the_real_entry_point_and_nothing_is_left(
    kube_api: Any, kube_runner: Any, tmp_path: Path, runtime_plugin: Path
) -> None:
    api = kube_api(cluster())
    runner = kube_runner(api)
    result = run(api, tmp_path, runtime_plugin, steps="job,pod")
    assert result.code == 0, result.stdout + result.stderr
    findings = {f["target"]: f for f in result.findings("test.runtime")}
    probe = findings["probe"]
    assert probe["status"] == "pass", probe
    assert probe["message"] == "ran on aks-nodepool1-0"
    ids = {c["id"] for c in json.loads(probe["details"]["log"])}
    assert {"dns.resolve", "egress.https"} <= ids, "the pod ran the real `preflight checks`"
    assert findings["once"]["message"] == "hello from a pod"

    run_id = result.report()["run"]["id"]
    ns_name = f"preflight-{run_id}"
    [ns_create] = created(api, "namespaces")
    ns_body = json.loads(ns_create.body)
    assert ns_body["metadata"]["name"] == ns_name
    assert ns_body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "preflight"
    assert ns_body["metadata"]["labels"]["preflight.io/run-id"] == run_id
    assert "preflight.io/created-at" in ns_body["metadata"]["annotations"]
    [binding] = [json.loads(r.body) for r in created(api, "rolebindings")]
    assert binding["metadata"]["namespace"] == ns_name
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "preflight-run",
    }
    assert binding["subjects"] == [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "kubernetes-admin"}
    ]
    [job_create] = created(api, "jobs")
    job = json.loads(job_create.body)
    assert job_create.namespace == ns_name
    assert job["metadata"]["labels"]["preflight.io/run-id"] == run_id
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == (
        "preflight"
    )
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] > 0 and job["spec"]["ttlSecondsAfterFinished"]
    [pod_create] = created(api, "pods")
    assert json.loads(pod_create.body)["spec"]["activeDeadlineSeconds"] > 0
    deletes = [r for r in api.requests if r.verb == "delete" and r.resource == "namespaces"]
    assert [r.name for r in deletes] == [ns_name]
    nothing_left(api, runner)


def test_a_service_reaches_its_deployment_by_dns_name(
    kube_api: Any, kube_runner: Any, tmp_path: Path, runtime_plugin: Path
) -> None:
    api = kube_api(cluster())
    runner = kube_runner(api)
    result = run(api, tmp_path, runtime_plugin, steps="web")
    assert result.code == 0, result.stdout + result.stderr
    [web] = result.findings("test.runtime")
    assert web["status"] == "pass", web
    assert web["message"] == "status 200"
    assert web["details"]["url"].endswith(".svc.cluster.local:80/")
    nothing_left(api, runner)


def test_dry_run_prints_the_manifests_and_creates_nothing(
    kube_api: Any, kube_runner: Any, tmp_path: Path, runtime_plugin: Path
) -> None:
    api = kube_api(cluster())
    kube_runner(api)
    result = run(
        api,
        tmp_path,
        runtime_plugin,
        "--dry-run",
        "--set",
        "probe_image=myregistry.azurecr.cn/preflight:0.1.0",
        "--set",
        "probe_proxy=http://alice:s3cret@proxy.corp:3128",
        steps="job,web",
        # this machine's proxy never reaches the pods (only --set probe_proxy does)
        env={"HTTPS_PROXY": "http://bob:l4ptop@laptop-proxy.corp:3128", "NO_PROXY": ".corp"},
    )
    assert result.code == 0, result.stdout + result.stderr
    writes = [r for r in api.requests if r.verb in ("create", "delete", "update", "patch")]
    assert {r.resource for r in writes} <= {"selfsubjectreviews"}, [r.path for r in writes]
    assert not run_namespaces(api)
    text = (tmp_path / "out" / "manifests.yaml").read_text()
    assert "s3cret" not in text and "s3cret" not in result.stdout
    assert "laptop-proxy" not in text and "l4ptop" not in text
    docs = [d for d in yaml.safe_load_all(text) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds == [
        "Namespace",
        "RoleBinding",
        "Secret",
        "Job",
        "Deployment",
        "Service",
    ], kinds
    run_id = result.report()["run"]["id"]
    assert all(d["metadata"]["labels"]["preflight.io/run-id"] == run_id for d in docs)
    job = docs[3]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "myregistry.azurecr.cn/preflight:0.1.0"
    env = {e["name"]: e for e in container["env"]}
    assert env["HTTPS_PROXY"]["valueFrom"]["secretKeyRef"] == {
        "name": "preflight-proxy",
        "key": "HTTPS_PROXY",
    }
    assert env["NO_PROXY"]["value"].split(",") == [
        "localhost",
        "127.0.0.1",
        ".svc",
        ".cluster.local",
        "kubernetes.default",
    ]
    assert env["PREFLIGHT_PROXY_SOURCE"]["value"] == "probe_proxy"
    # stdout: the summary, then the same YAML stream
    assert result.stdout.index("kind: Namespace") > result.stdout.index("wrote ")
    findings = result.findings("test.runtime")
    assert {f["status"] for f in findings} == {"skip"}
    # with --quiet stdout is nothing but the manifests (pipe it to kubectl apply -f -)
    quiet = run(api, tmp_path, runtime_plugin, "--dry-run", "--quiet", steps="job")
    assert [d["kind"] for d in yaml.safe_load_all(quiet.stdout) if d] == [
        "Namespace",
        "RoleBinding",
        "Job",
    ]


# -- failures become findings, and still nothing is left ------------------------------------------
def test_image_pull_failure_quotes_the_event_and_cleans_up(
    kube_api: Any, kube_runner: Any, tmp_path: Path, runtime_plugin: Path
) -> None:
    api = kube_api(cluster())
    runner = kube_runner(api)
    runner.fault("image_pull", name="probe")
    started = time.monotonic()
    result = run(api, tmp_path, runtime_plugin, steps="job")
    assert time.monotonic() - started < 30, "a pull that cannot succeed ends the wait early"
    assert result.code == 1, result.stdout + result.stderr
    [probe] = result.findings("test.runtime")
    assert probe["status"] == "fail"
    message, remedy = probe["message"], probe["remediation"]
    assert f"could not pull image {DEFAULT_IMAGE} from docker.io" in message
    assert "Failed to pull image" not in message or "401 Unauthorized" in message
    assert "401 Unauthorized" in message
    assert "--set image_pull_secrets=" in remedy and "--set probe_image=" in remedy
    assert probe["details"]["reason"] in ("ErrImagePull", "ImagePullBackOff")
    assert any("Failed to pull image" in e for e in probe["details"]["events"])
    nothing_left(api, runner)


def test_untolerated_taint_says_which_toleration_to_pass(
    kube_api: Any, kube_runner: Any, tmp_path: Path, runtime_plugin: Path
) -> None:
    api = kube_api(cluster(taint="sku=gpu:NoSchedule"))
    runner = kube_runner(api)
    result = run(api, tmp_path, runtime_plugin, steps="job")
    [probe] = result.findings("test.runtime")
    assert probe["status"] == "fail", probe
    assert "2 node(s) had untolerated taint {sku: gpu}" in probe["message"]
    assert "--set probe_tolerations=sku=gpu" in probe["remediation"]
    nothing_left(api, runner)
    # and the advice works
    again = run(api, tmp_path, runtime_plugin, "--set", "probe_tolerations=sku=gpu", steps="job")
    assert again.code == 0, again.stdout + again.stderr
    nothing_left(api, runner)


def test_pod_security_denial_is_quoted(
    kube_api: Any, kube_runner: Any, tmp_path: Path, runtime_plugin: Path
) -> None:
    api = kube_api(cluster())
    runner = kube_runner(api)
    runner.fault("admission")
    result = run(api, tmp_path, runtime_plugin, steps="pod,job")
    by_target = {f["target"]: f for f in result.findings("test.runtime")}
    for target in ("once", "probe"):  # a bare pod is refused at create; a Job's pod by event
        finding = by_target[target]
        assert finding["status"] == "fail", finding
        assert 'violates PodSecurity "restricted:latest"' in finding["message"]
        assert "NET_ADMIN" in finding["message"]
        assert "mutating webhook" in finding["remediation"]
        assert "app.kubernetes.io/managed-by=preflight" in finding["remediation"]
    assert "could not create its pod" in by_target["probe"]["message"]
    nothing_left(api, runner)


def test_quota_and_crash(
    kube_api: Any, kube_runner: Any, tmp_path: Path, runtime_plugin: Path
) -> None:
    api = kube_api(cluster())
    runner = kube_runner(api)
    runner.fault("quota", name="once")
    runner.fault("crash", name="probe", message="boom: cannot reach 10.0.0.4", exit_code=3)
    result = run(api, tmp_path, runtime_plugin, steps="pod,job")
    by_target = {f["target"]: f for f in result.findings("test.runtime")}
    quota = by_target["once"]
    assert "ResourceQuota compute-resources" in quota["message"]
    assert "exceeded quota" in quota["message"]
    crash = by_target["probe"]
    assert crash["status"] == "fail"
    assert "exit code 3" in crash["message"]
    assert "boom: cannot reach 10.0.0.4" in crash["message"]
    assert crash["details"]["exit_code"] == 3
    nothing_left(api, runner)


def test_rbac_propagation_and_forbidden_namespace(
    kube_api: Any, kube_runner: Any, tmp_path: Path, runtime_plugin: Path
) -> None:
    """Without the runner's ClusterRole the namespace create is refused, plainly."""
    api = kube_api(cluster())
    kube_runner(api)
    api.set_rbac([])
    result = run(api, tmp_path, runtime_plugin, steps="job")
    [probe] = result.findings("test.runtime")
    assert probe["status"] == "fail"
    assert "not allowed" in probe["message"] and "namespaces" in probe["message"]
    assert "deploy/rbac-runner.yaml" in probe["remediation"]
    assert not run_namespaces(api)


# -- interruptions -------------------------------------------------------------------------------
def start(
    api: Any, tmp_path: Path, runtime_plugin: Path, steps: str, *extra: str
) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
    }
    env["PYTHONPATH"] = str(runtime_plugin)
    argv = [
        sys.executable,
        "-m",
        "preflight",
        "run",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kubeconfig")),
        "--check",
        "test.runtime",
        "--set",
        f"runtime_steps={steps}",
        "--format",
        "json",
        "--out",
        str(tmp_path / "out"),
        *extra,
    ]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    ends = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < ends, "timed out waiting"
        time.sleep(0.05)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_mid_run_cleans_up_and_writes_the_report(
    kube_api: Any,
    kube_runner: Any,
    tmp_path: Path,
    runtime_plugin: Path,
    signum: int,
    code: int,
) -> None:
    api = kube_api(cluster())
    runner = kube_runner(api)
    runner.fault("hang", name="stuck")
    process = start(api, tmp_path, runtime_plugin, "stuck")
    try:
        wait_for(lambda: any(r.name.startswith("stuck-") for r in runner.live()))
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, stdout + stderr
    assert "Traceback" not in stderr, stderr
    name = signal.Signals(signum).name
    assert f"interrupted ({name})" in stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    [finding] = [r for r in report["results"] if r["check"] == "test.runtime"]
    # the engine's error for an unfinished check, or the check's own when it saw the cancel
    # first and answered in time
    assert finding["status"] == "error"
    assert "interrupted" in finding["message"]
    nothing_left(api, runner)


def test_a_second_interrupt_during_cleanup_leaves_without_a_traceback(
    kube_api: Any, kube_runner: Any, tmp_path: Path, runtime_plugin: Path
) -> None:
    api = kube_api(cluster())
    runner = kube_runner(api)
    runner.fault("hang", name="stuck")
    api.inject("namespaces", verb="delete", delay=30)  # a cleanup that takes its time
    process = start(api, tmp_path, runtime_plugin, "stuck")
    try:
        wait_for(lambda: any(r.name.startswith("stuck-") for r in runner.live()))
        process.send_signal(signal.SIGINT)
        wait_for(lambda: api.count(verb="delete", resource="namespaces") > 0)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr, stderr
    assert "preflight cleanup" in stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    problems = [r for r in report["results"] if r["check"] == "preflight.cleanup"]
    assert problems and problems[0]["status"] == "warn"
    assert "preflight cleanup" in problems[0]["remediation"]


def test_a_killed_run_leaves_nothing_running_and_cleanup_removes_the_rest(
    kube_api: Any, kube_runner: Any, tmp_path: Path, runtime_plugin: Path
) -> None:
    """kill -9: no handler runs. The Job's activeDeadlineSeconds still stops its pod; the
    namespace stays until `preflight cleanup`."""
    api = kube_api(cluster())
    runner = kube_runner(api)
    runner.fault("hang", name="stuck")
    process = start(api, tmp_path, runtime_plugin, "stuck", "--set", "runtime_job_deadline=2")
    try:
        wait_for(lambda: any(r.name.startswith("stuck-") for r in runner.live()))
        process.kill()
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    [ns] = run_namespaces(api)

    def job_failed() -> bool:  # the pod stops first, then the Job controller writes its verdict
        jobs = api.objects("jobs", ns["metadata"]["name"])
        return not runner.live() and bool(jobs and jobs[0]["status"].get("conditions"))

    wait_for(job_failed, timeout=15)
    [job] = api.objects("jobs", ns["metadata"]["name"])
    [condition] = job["status"]["conditions"]
    assert (condition["type"], condition["reason"]) == ("Failed", "DeadlineExceeded")
    done = preflight("cleanup", "--kubeconfig", str(tmp_path / "kubeconfig"), "--older-than", "0")
    assert f"deleted namespace {ns['metadata']['name']}" in done.stdout, done.stdout + done.stderr
    nothing_left(api, runner)


def test_a_new_rolebinding_takes_a_moment_to_count(
    kube_api: Any, kube_runner: Any, tmp_path: Path, runtime_plugin: Path
) -> None:
    """On a real cluster the run's RoleBinding reaches the authorizer a moment after it is
    created: the first create in the new namespace may be refused, and is retried."""
    import threading

    api = kube_api(cluster())
    kube_runner(api)
    runner_rules, run_rules = runner_roles()
    api.set_rbac(runner_rules)

    def later(binding: dict[str, Any]) -> dict[str, Any]:
        namespaced = {binding["metadata"]["namespace"]: run_rules}
        threading.Timer(1.0, api.set_rbac, (runner_rules,), {"namespaced": namespaced}).start()
        return binding

    api.on_create("rolebindings", later)
    allow_namespace_requests_by_name(api)
    result = run(api, tmp_path, runtime_plugin, steps="job")
    assert result.code == 0, result.stdout + result.stderr
    refused = [r for r in api.requests if r.status == 403 and r.resource == "jobs"]
    assert refused, "the first Job create came before the binding counted"
    assert not run_namespaces(api)


# -- preflight cleanup ---------------------------------------------------------------------------
def leftover(name: str, run_id: str, *, expires: str | None) -> dict[str, Any]:
    annotations = {"preflight.io/created-at": "2024-06-01T12:00:00+00:00"}
    if expires:
        annotations["preflight.io/expires-at"] = expires
    return namespace(
        name,
        labels={"app.kubernetes.io/managed-by": "preflight", "preflight.io/run-id": run_id},
        annotations=annotations,
    )


def test_cleanup_removes_what_a_crashed_run_left(kube_api: Any, tmp_path: Path) -> None:
    crashed = leftover("preflight-0123456789ab", "0123456789ab", expires="2024-06-01T12:10:00Z")
    running = leftover("preflight-live00000000", "live00000000", expires="2999-01-01T00:00:00Z")
    api = kube_api(
        cluster(
            crashed,
            running,
            secret("regcred", "preflight-0123456789ab"),
            namespace("payments", labels={"app.kubernetes.io/managed-by": "preflight"}),
        )
    )
    kubeconfig = str(api.kubeconfig(tmp_path / "kubeconfig"))
    dry = preflight("cleanup", "--kubeconfig", kubeconfig, "--dry-run")
    assert dry.code == 0, dry.stderr
    assert "would delete namespace preflight-0123456789ab" in dry.stdout
    assert "kept preflight-live00000000" in dry.stdout
    assert api.get("namespaces", "preflight-0123456789ab") is not None

    done = preflight("cleanup", "--kubeconfig", kubeconfig)
    assert done.code == 0, done.stderr
    assert "deleted namespace preflight-0123456789ab" in done.stdout
    assert api.get("namespaces", "preflight-0123456789ab") is None
    assert api.get("secrets", "regcred", "preflight-0123456789ab") is None
    assert api.get("namespaces", "preflight-live00000000") is not None
    # the install namespace (no run id) and other namespaces are never touched
    assert api.get("namespaces", "preflight") is not None
    assert api.get("namespaces", "payments") is not None

    forced = preflight("cleanup", "--kubeconfig", kubeconfig, "--older-than", "0")
    assert "deleted namespace preflight-live00000000" in forced.stdout
    assert api.get("namespaces", "preflight") is not None
    again = preflight("cleanup", "--kubeconfig", kubeconfig)
    assert again.code == 0 and "nothing to clean up" in again.stdout
    bad = preflight("cleanup", "--kubeconfig", kubeconfig, "--older-than", "soon")
    assert bad.code == 2 and "duration" in bad.stderr


def test_cleanup_binds_itself_where_it_may_not_delete(kube_api: Any, tmp_path: Path) -> None:
    """An identity with only preflight-runner (e.g. another CI job's) binds preflight-run in
    the leftover namespace, then deletes it."""
    crashed = leftover("preflight-0123456789ab", "0123456789ab", expires=None)
    api = kube_api(cluster(crashed))
    runner_rules, run_rules = runner_roles()
    api.set_rbac(runner_rules)

    def bind(obj: dict[str, Any]) -> dict[str, Any]:  # the RBAC authorizer honours RoleBindings
        api.set_rbac(runner_rules, namespaced={obj["metadata"]["namespace"]: run_rules})
        return obj

    api.on_create("rolebindings", bind)
    allow_namespace_requests_by_name(api)
    done = preflight("cleanup", "--kubeconfig", str(api.kubeconfig(tmp_path / "kubeconfig")))
    assert done.code == 0, done.stdout + done.stderr
    assert api.get("namespaces", "preflight-0123456789ab") is None
    [binding] = [json.loads(r.body) for r in created(api, "rolebindings")]
    assert binding["roleRef"]["name"] == "preflight-run"


# -- builders and explanations, in-process -------------------------------------------------------
def context(**params: str) -> Context:
    return Context(RunOptions(profile=load_profile("azure-public"), params=dict(params)))


def test_pods_meet_the_restricted_pod_security_profile() -> None:
    ctx = context(
        probe_node_selector="agentpool=system",
        probe_tolerations="CriticalAddonsOnly,sku=gpu:NoSchedule",
        image_pull_secrets="regcred,infra/mirror",
    )
    job = job_manifest(ctx, "probe", ["preflight", "probe"], args=["--json"], node_name="n1")
    spec = job["spec"]["template"]["spec"]
    pod_sc, [container] = spec["securityContext"], spec["containers"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] == 65532
    assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    assert spec["automountServiceAccountToken"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", "agentpool": "system"}
    assert spec["tolerations"] == [
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    ]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}, {"name": "mirror"}]
    term = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchFields"][0]["values"] == ["n1"]
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["ttlSecondsAfterFinished"] == 300
    assert container["image"] == DEFAULT_IMAGE
    deployment = deployment_manifest(ctx, "web", ["preflight", "serve-model"], ports=[5001])
    assert deployment["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert "activeDeadlineSeconds" not in deployment["spec"]["template"]["spec"]
    service = service_manifest(ctx, "web", port=80, target_port=5001)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert pod_manifest(ctx, "once", ["true"])["spec"]["activeDeadlineSeconds"] >= 60
    with pytest.raises(ValueError, match="not a valid name"):
        job_manifest(ctx, "Probe_1", ["true"])


@pytest.mark.parametrize(
    ("text", "error"),
    [("sku=gpu:NoSchedul", "unknown taint effect"), ("=x", "not a toleration")],
)
def test_bad_tolerations(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_tolerations(text)


def test_parameters_are_checked_before_the_run(tmp_path: Path) -> None:
    bad = preflight("run", "--check", "dns.*", "--set", "probe_tolerations=a:Never", out=tmp_path)
    assert bad.code == 2 and "probe_tolerations" in bad.stderr and "Traceback" not in bad.stderr
    bad = preflight("run", "--check", "dns.*", "--set", "probe_node_selector=x", out=tmp_path)
    assert bad.code == 2 and "probe_node_selector" in bad.stderr
    assert parse_node_selector("a=b, kubernetes.io/os=linux") == {
        "a": "b",
        "kubernetes.io/os": "linux",
    }
    assert parse_tolerations("*") == [{"operator": "Exists"}]
    assert parse_duration("1h30m") == 5400 and parse_duration("90") == 90


def test_pods_get_the_clusters_proxy_never_this_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe pods measure the cluster's path: the laptop's HTTPS_PROXY / --proxy stay out
    of them (AKS injects its own httpProxyConfig); only --set probe_proxy puts one in."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "10.0.0.0/8,.svc")

    def pod(ctx: Any, **kwargs: Any) -> dict[str, Any]:
        return job_manifest(ctx, "p", ["x"], **kwargs)["spec"]["template"]

    def env_of(template: dict[str, Any]) -> dict[str, str]:
        return {e["name"]: e.get("value", "") for e in template["spec"]["containers"][0]["env"]}

    flagged = Context(RunOptions(profile=load_profile("azure-public"), proxy="http://f.corp:3128"))
    platform = pod(flagged)
    assert pod_proxy(context()) is None
    assert "HTTPS_PROXY" not in env_of(platform) and "https_proxy" not in env_of(platform)
    assert env_of(platform)["PREFLIGHT_PROXY_SOURCE"] == "platform"
    assert "annotations" not in platform["metadata"]  # AKS's webhook may inject its proxy

    explicit = context(probe_proxy="http://cluster-proxy.corp:8080")
    proxy = pod_proxy(explicit)
    assert proxy is not None and proxy.https == "http://cluster-proxy.corp:8080"
    assert proxy.no_proxy.split(",") == [
        "localhost",
        "127.0.0.1",
        ".svc",
        ".cluster.local",
        "kubernetes.default",
    ]
    assert not proxy.has_credentials
    env = env_of(pod(explicit))
    assert env["HTTPS_PROXY"] == env["https_proxy"] == "http://cluster-proxy.corp:8080"
    assert env["PREFLIGHT_PROXY_SOURCE"] == "probe_proxy"

    for ctx, policy in ((context(probe_proxy="none"), "cluster"), (context(), "none")):
        # the checks tell AKS to stay out whenever preflight chose the proxy
        annotations = pod_annotations(ctx, policy)
        assert annotations == {"kubernetes.azure.com/no-http-proxy-vars": "true"}
        opted_out = pod(ctx, proxy=policy, annotations=annotations)
        assert opted_out["metadata"]["annotations"] == annotations
        assert "HTTPS_PROXY" not in env_of(opted_out)
        assert env_of(opted_out)["PREFLIGHT_PROXY_SOURCE"] == "none"
    assert pod_annotations(explicit) == {"kubernetes.azure.com/no-http-proxy-vars": "true"}
    assert pod_annotations(flagged) == {}  # the platform's proxy, if any, is the one to measure


def outcome(reason: str, *events: tuple[str, str, str], **fields: Any) -> Outcome:
    return Outcome(
        False,
        "Job",
        "probe",
        "preflight-x",
        reason=reason,
        pod="probe-abcde",
        image=fields.pop("image", DEFAULT_IMAGE),
        events=[EventRecord(t, r, m, "Pod/probe-abcde") for t, r, m in events],
        **fields,
    )


@pytest.mark.parametrize(
    ("said", "advice"),
    [
        ("dial tcp 20.1.2.3:443: i/o timeout", "allow egress from the node network to myacr"),
        ("myacr.azurecr.io/preflight:0.1.0: not found", "is not in myacr.azurecr.io"),
        ("unexpected status 401 Unauthorized", "image_pull_secrets"),
    ],
)
def test_image_pull_advice_follows_the_event(said: str, advice: str) -> None:
    image = "myacr.azurecr.io/preflight:0.1.0"
    event = ("Warning", "Failed", f'Failed to pull image "{image}": {said}')
    message, remedy = explain(outcome("ImagePullBackOff", event, image=image))
    assert said in message and advice in remedy
    assert registry_of(image) == "myacr.azurecr.io" and registry_of("preflight:1") == "docker.io"


def test_scheduling_advice_names_each_reason() -> None:
    said = (
        "0/4 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
        "affinity/selector, 2 node(s) had untolerated taint {dedicated: infra}. preemption: "
        "0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    )
    spec = {
        "nodeSelector": {"agentpool": "gpu"},
        "containers": [{"resources": {"requests": {"cpu": "50m"}}}],
    }
    message, remedy = explain(
        outcome("Unschedulable", ("Warning", "FailedScheduling", said), pod_spec=spec)
    )
    assert said in message
    assert "free cpu" in remedy and "(the pod requests cpu 50m)" in remedy
    assert "agentpool=gpu" in remedy and "--set probe_tolerations=dedicated=infra" in remedy


def test_timeout_says_where_it_was_stuck() -> None:
    message, remedy = explain(
        outcome(
            "Timeout",
            ("Normal", "Pulling", 'Pulling image "x"'),
            ("Warning", "FailedMount", "MountVolume.SetUp failed for volume"),
            message="Job probe did not complete within 60s; its pod was Pending "
            "(ContainerCreating)",
            state="Pending (ContainerCreating)",
            timed_out=True,
        )
    )
    assert "Pending (ContainerCreating)" in message and "FailedMount" in message
    assert "--deadline" in remedy


def test_kube_client_writes_and_fresh_reads(kube_api: Any, tmp_path: Path) -> None:
    from preflight.clients.kube import KubeClient, KubeError, KubeSettings

    api = kube_api([namespace("work")])
    kube = KubeClient(KubeSettings(str(api.kubeconfig(tmp_path / "kc")), None, 5))
    body = {"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}}
    made = kube.create("/api/v1/namespaces/work/configmaps", body)
    assert made["metadata"]["uid"] and made["kind"] == "ConfigMap"
    with pytest.raises(KubeError) as conflict:
        kube.create("/api/v1/namespaces/work/configmaps", body)
    assert conflict.value.kind == "conflict"
    assert kube.get("/api/v1/namespaces/work/configmaps/b") is None  # cached from now on
    kube.create("/api/v1/namespaces/work/configmaps", {"metadata": {"name": "b"}})
    assert kube.get_fresh("/api/v1/namespaces/work/configmaps/b") is not None
    assert [
        c["metadata"]["name"]
        for c in kube.list_fresh("/api/v1/namespaces/work/configmaps", label_selector="x=1")
    ] == ["a"]
    api.add(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "work"},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running"},
        }
    )
    api.set_pod_log("work", "p", "one\ntwo\nthree\n")
    assert kube.log("work", "p", tail_lines=2) == "two\nthree\n"
    kube.delete_collection("/api/v1/namespaces/work/configmaps", "x=1")
    assert api.get("configmaps", "a", "work") is None and api.get("configmaps", "b", "work")
    assert kube.delete("/api/v1/namespaces/work/configmaps/b") is True
    assert kube.delete("/api/v1/namespaces/work/configmaps/b") is False  # already gone
    delete = [r for r in api.requests if r.method == "DELETE"][-1]
    assert delete.param("propagationPolicy") == "Background"
    with pytest.raises(ValueError):
        kube.delete_collection("/api/v1/namespaces/work/configmaps", " ")
