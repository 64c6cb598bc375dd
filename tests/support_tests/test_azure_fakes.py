"""Self-tests of the Azure fakes: ``FakeArm``, ``FakeImds``, the fake ``az`` and the builders.

The client is real httpx over real TLS (trusting the session test CA through ``ca_bundle``), and
the fake ``az`` runs as a subprocess. If one of these fails, every Azure-side test is suspect.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import support_threads
from support.arm_server import (
    CLOUDS,
    DEFAULT_PRINCIPAL,
    GOOD_TOKEN,
    FakeArm,
    FakeImds,
    write_azure_profile,
)
from support.azure_objects import (
    AZUREML_EXTENSION_TYPE,
    agent_pool,
    cluster_id,
    connected_cluster,
    extension,
    managed_cluster,
    provider,
    service_tags,
    write_service_tags,
)
from support.fake_az import FakeAz

SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-ml"
AKS_VERSION = "2024-09-01"
CLUSTER = cluster_id("aks1", SUB, RG)


@pytest.fixture
def client(ca_bundle: Path) -> Iterator[httpx.Client]:
    """An httpx client trusting the test CA, no proxies from the environment."""
    ctx = ssl.create_default_context(cafile=str(ca_bundle))
    with httpx.Client(verify=ctx, trust_env=False, timeout=5.0) as c:
        yield c


def get(
    client: httpx.Client,
    arm: FakeArm,
    path: str,
    *,
    token: str | None = GOOD_TOKEN,
    api_version: str | None = AKS_VERSION,
    **kwargs: Any,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    params = {"api-version": api_version} if api_version is not None else {}
    return client.get(arm.url + path, params=params, headers=headers, **kwargs)


def error_of(response: httpx.Response) -> tuple[str, str]:
    error = response.json()["error"]
    return error["code"], error["message"]


# -- resources ------------------------------------------------------------------------------------
def test_cluster_get_returns_the_stored_document(
    fake_arm: Callable[..., FakeArm], client: httpx.Client
) -> None:
    arm = fake_arm([managed_cluster("aks1", SUB, RG, authorized_ranges=["20.42.0.0/24"])])
    response = get(client, arm, CLUSTER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-ms-request-id"]
    body = response.json()
    assert body["id"] == CLUSTER
    assert body["type"] == "Microsoft.ContainerService/ManagedClusters"
    props = body["properties"]
    assert props["apiServerAccessProfile"]["authorizedIPRanges"] == ["20.42.0.0/24"]
    assert props["servicePrincipalProfile"] == {"clientId": "msi"}
    assert body["identity"]["type"] == "SystemAssigned"

    # ARM matches paths case-insensitively and ignores a trailing slash
    assert get(client, arm, CLUSTER.lower() + "/").json()["id"] == CLUSTER
    # subscription and resource group came into being with the cluster
    assert get(client, arm, f"/subscriptions/{SUB}").json()["state"] == "Enabled"
    group = get(client, arm, f"/subscriptions/{SUB}/resourceGroups/{RG}").json()
    assert group["name"] == RG and group["location"] == "eastus"

    [request, *_] = arm.requests
    assert request.method == "GET" and request.path == CLUSTER
    assert request.api_version == AKS_VERSION
    assert request.token == "valid" and request.authenticated
    assert request.principal == DEFAULT_PRINCIPAL
    assert request.status == 200
    assert "authorization" not in {k.lower() for k in request.headers}
    assert GOOD_TOKEN not in repr(arm.requests) + repr(arm)


def test_put_with_an_explicit_id_and_delete(
    fake_arm: Callable[..., FakeArm], client: httpx.Client
) -> None:
    arm = fake_arm()
    path = f"/subscriptions/{SUB}/providers/Microsoft.KubernetesConfiguration"
    arm.put(path, provider("Microsoft.KubernetesConfiguration", "NotRegistered"))
    body = get(client, arm, path, api_version="2021-04-01").json()
    assert body["id"] == path
    assert body["registrationState"] == "NotRegistered"
    assert arm.delete(path)
    response = get(client, arm, path, api_version="2021-04-01")
    assert response.status_code == 404
    assert error_of(response) == (
        "InvalidResourceNamespace",
        "The resource namespace 'Microsoft.KubernetesConfiguration' is invalid.",
    )


def test_api_version_is_required_and_checked(
    fake_arm: Callable[..., FakeArm], client: httpx.Client
) -> None:
    arm = fake_arm(
        [managed_cluster("aks1", SUB, RG)],
        api_versions={"Microsoft.ContainerService/managedClusters": ["2024-09-01", "2024-05-01"]},
    )
    missing = get(client, arm, CLUSTER, api_version=None)
    assert missing.status_code == 400
    assert error_of(missing) == (
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )
    bad = get(client, arm, CLUSTER, api_version="latest")
    assert bad.status_code == 400 and error_of(bad)[0] == "InvalidApiVersionParameter"
    unsupported = get(client, arm, CLUSTER, api_version="2019-01-01")
    assert unsupported.status_code == 400
    code, message = error_of(unsupported)
    assert code == "NoRegisteredProviderFound"
    assert "'2019-01-01'" in message and "2024-09-01, 2024-05-01" in message
    assert get(client, arm, CLUSTER, api_version="2024-05-01").status_code == 200
    assert [r.api_version for r in arm.requests] == [None, "latest", "2019-01-01", "2024-05-01"]


# -- authentication -------------------------------------------------------------------------------
def test_401_shapes(fake_arm: Callable[..., FakeArm], client: httpx.Client) -> None:
    arm = fake_arm([managed_cluster("aks1", SUB, RG)])

    invalid = get(client, arm, CLUSTER, token="not-the-token")
    assert invalid.status_code == 401
    assert invalid.json() == {
        "error": {"code": "InvalidAuthenticationToken", "message": "The access token is invalid."}
    }
    challenge = invalid.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer authorization_uri="https://login.windows.net/"')
    assert 'error="invalid_token"' in challenge and "error_description=" in challenge

    missing = get(client, arm, CLUSTER, token=None)
    assert missing.status_code == 401
    assert error_of(missing) == (
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing.",
    )
    assert 'error="invalid_token"' in missing.headers["WWW-Authenticate"]

    malformed = client.get(
        arm.url + CLUSTER,
        params={"api-version": AKS_VERSION},
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    )
    assert malformed.status_code == 401 and error_of(malformed)[0] == "AuthenticationFailed"
    assert [r.token for r in arm.requests] == ["invalid", "missing", "malformed"]
    assert not any(r.authenticated for r in arm.requests)


def test_wrong_audience(fake_arm: Callable[..., FakeArm], client: httpx.Client) -> None:
    arm = fake_arm([managed_cluster("aks1", SUB, RG)], wrong_audience_tokens={"china-token"})
    response = get(client, arm, CLUSTER, token="china-token")
    assert response.status_code == 401
    code, message = error_of(response)
    assert code == "InvalidAuthenticationTokenAudience"
    assert message == (
        "The access token has been obtained for wrong audience or resource "
        "'https://management.chinacloudapi.cn/'. It should exactly match with one of the allowed "
        "audiences 'https://management.core.windows.net/','https://management.core.windows.net',"
        "'https://management.azure.com/','https://management.azure.com'."
    )
    assert arm.requests[0].token == "wrong-audience"

    china = fake_arm(
        cloud="AzureChinaCloud", wrong_audience_tokens={"public": "https://management.azure.com/"}
    )
    response = get(client, china, f"/subscriptions/{SUB}", token="public")
    message = error_of(response)[1]
    assert "'https://management.azure.com/'" in message
    assert all(a in message for a in CLOUDS["AzureChinaCloud"].audiences)
    assert "login.chinacloudapi.cn" in response.headers["WWW-Authenticate"]


def test_tokens_map_to_principals_and_can_be_replaced(
    fake_arm: Callable[..., FakeArm], client: httpx.Client
) -> None:
    arm = fake_arm([managed_cluster("aks1", SUB, RG)], tokens={"t-alice": "alice-oid"})
    assert get(client, arm, CLUSTER, token="t-alice").status_code == 200
    assert arm.requests[-1].principal == "alice-oid"
    arm.set_tokens({"t-bob"})
    assert get(client, arm, CLUSTER, token="t-alice").status_code == 401
    assert get(client, arm, CLUSTER, token="t-bob").status_code == 200


# -- not found ------------------------------------------------------------------------------------
def test_404_shapes(fake_arm: Callable[..., FakeArm], client: httpx.Client) -> None:
    arm = fake_arm([managed_cluster("aks1", SUB, RG)])
    response = get(client, arm, cluster_id("x", SUB, RG))
    assert response.status_code == 404
    assert error_of(response) == (
        "ResourceNotFound",
        f"The Resource 'Microsoft.ContainerService/managedClusters/x' under resource group "
        f"'{RG}' was not found. For more details please go to "
        "https://aka.ms/ARMResourceNotFoundFix",
    )
    response = get(client, arm, cluster_id("aks1", SUB, "nope"))
    assert response.status_code == 404
    assert error_of(response) == (
        "ResourceGroupNotFound",
        "Resource group 'nope' could not be found.",
    )
    other = "99999999-9999-9999-9999-999999999999"
    response = get(client, arm, cluster_id("aks1", other, RG))
    assert response.status_code == 404
    assert error_of(response) == (
        "SubscriptionNotFound",
        f"The subscription '{other}' could not be found.",
    )
    # a nested child under a missing parent, and an extension under a missing cluster
    response = get(client, arm, cluster_id("ghost", SUB, RG) + "/agentPools/p1")
    assert error_of(response) == (
        "ParentResourceNotFound",
        "Can not perform requested operation on nested resource. Parent resource 'ghost' not "
        "found.",
    )
    ext_list = (
        cluster_id("ghost", SUB, RG) + "/providers/Microsoft.KubernetesConfiguration/extensions"
    )
    response = get(client, arm, ext_list, api_version="2023-05-01")
    assert response.status_code == 404
    code, message = error_of(response)
    assert code == "ResourceNotFound" and "managedClusters/ghost" in message
    assert get(client, arm, "/nonsense").status_code == 404


# -- lists ----------------------------------------------------------------------------------------
def test_lists(fake_arm: Callable[..., FakeArm], client: httpx.Client) -> None:
    aks2 = cluster_id("aks2", SUB, "rg-other")
    arm = fake_arm(
        [
            managed_cluster("aks1", SUB, RG),
            managed_cluster("aks2", SUB, "rg-other"),
            extension("azureml", CLUSTER, config={"enableInference": "True"}),
            extension("flux", CLUSTER, extension_type="microsoft.flux"),
            provider("Microsoft.KubernetesConfiguration", sub=SUB),
            provider("Microsoft.Kubernetes", "NotRegistered", sub=SUB),
        ]
    )
    extensions = CLUSTER + "/providers/Microsoft.KubernetesConfiguration/extensions"
    body = get(client, arm, extensions, api_version="2023-05-01").json()
    assert [e["name"] for e in body["value"]] == ["azureml", "flux"]
    assert body["value"][0]["properties"]["extensionType"] == AZUREML_EXTENSION_TYPE
    # a cluster without extensions lists none
    empty = aks2 + "/providers/Microsoft.KubernetesConfiguration/extensions"
    assert get(client, arm, empty, api_version="2023-05-01").json() == {"value": []}
    # one extension by name
    azureml = get(client, arm, extensions + "/AzureML", api_version="2023-05-01").json()
    assert azureml["properties"]["configurationSettings"] == {"enableInference": "True"}

    in_rg = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService"
    in_rg += "/managedClusters"
    assert [c["name"] for c in get(client, arm, in_rg).json()["value"]] == ["aks1"]
    in_sub = f"/subscriptions/{SUB}/providers/Microsoft.ContainerService/managedClusters"
    assert [c["name"] for c in get(client, arm, in_sub).json()["value"]] == ["aks1", "aks2"]
    providers = get(client, arm, f"/subscriptions/{SUB}/providers", api_version="2021-04-01")
    states = {p["namespace"]: p["registrationState"] for p in providers.json()["value"]}
    assert states == {
        "Microsoft.KubernetesConfiguration": "Registered",
        "Microsoft.Kubernetes": "NotRegistered",
    }
    groups = get(client, arm, f"/subscriptions/{SUB}/resourceGroups", api_version="2021-04-01")
    assert sorted(g["name"] for g in groups.json()["value"]) == [RG, "rg-other"]


def test_list_paging_with_next_link(fake_arm: Callable[..., FakeArm], client: httpx.Client) -> None:
    arm = fake_arm([managed_cluster(f"aks{i}", SUB, RG) for i in range(5)], page_size=2)
    url: str | None = arm.url + (
        f"/subscriptions/{SUB}/providers/Microsoft.ContainerService/managedClusters"
        f"?api-version={AKS_VERSION}"
    )
    names: list[str] = []
    pages = 0
    while url:
        page = client.get(url, headers={"Authorization": f"Bearer {GOOD_TOKEN}"}).json()
        names += [c["name"] for c in page["value"]]
        url = page.get("nextLink")
        pages += 1
    assert names == [f"aks{i}" for i in range(5)] and pages == 3


# -- faults ---------------------------------------------------------------------------------------
def test_403_authorization_failed_body(
    fake_arm: Callable[..., FakeArm], client: httpx.Client
) -> None:
    arm = fake_arm([managed_cluster("aks1", SUB, RG)], tokens={"t": "0a1b2c3d-oid"})
    arm.inject(r"/managedClusters/aks1$", status=403)
    response = get(client, arm, CLUSTER, token="t")
    assert response.status_code == 403
    assert error_of(response) == (
        "AuthorizationFailed",
        "The client '0a1b2c3d-oid' with object id '0a1b2c3d-oid' does not have authorization to "
        "perform action 'Microsoft.ContainerService/managedClusters/read' over scope "
        f"'{CLUSTER}' or the scope is invalid. If access was recently granted, please refresh "
        "your credentials.",
    )
    extensions = CLUSTER + "/providers/Microsoft.KubernetesConfiguration/extensions"
    arm.inject("/extensions", status=403)
    message = error_of(get(client, arm, extensions, token="t"))[1]
    assert "'Microsoft.KubernetesConfiguration/extensions/read'" in message
    # authentication comes first: a bad token still gets 401, not the injected 403
    assert get(client, arm, CLUSTER, token="bad").status_code == 401


def test_429_with_retry_after_then_normal(
    fake_arm: Callable[..., FakeArm], client: httpx.Client
) -> None:
    arm = fake_arm([managed_cluster("aks1", SUB, RG)])
    fault = arm.inject("managedClusters", status=429, retry_after=7, times=2)
    statuses = []
    for _ in range(3):
        response = get(client, arm, CLUSTER)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["Retry-After"] == "7"
            code, message = error_of(response)
            assert code == "SubscriptionRequestsThrottled"
            assert f"subscription '{SUB}'" in message and "'7' seconds" in message
    assert statuses == [429, 429, 200] and fault.hits == 2
    assert arm.count("managedClusters", status=429) == 2


def test_500_and_raw_body_and_overrides(
    fake_arm: Callable[..., FakeArm], client: httpx.Client
) -> None:
    arm = fake_arm([managed_cluster("aks1", SUB, RG)])
    arm.inject("aks1", status=500, times=1)
    response = get(client, arm, CLUSTER)
    assert response.status_code == 500
    code, message = error_of(response)
    assert code == "InternalServerError" and message.startswith("Encountered internal server error")
    arm.inject("aks1", status=503, code="ServerBusy", message="try later", times=1)
    assert error_of(get(client, arm, CLUSTER)) == ("ServerBusy", "try later")
    arm.inject("aks1", body="<html>gateway</html>", status=502, content_type="text/html", times=1)
    response = get(client, arm, CLUSTER)
    assert response.status_code == 502 and response.text == "<html>gateway</html>"
    assert get(client, arm, CLUSTER).status_code == 200


def test_hang_until_stop_and_delay(tls_ca: Any, client: httpx.Client) -> None:
    with FakeArm([managed_cluster("aks1", SUB, RG)], ca=tls_ca) as arm:
        arm.inject("aks1", hang=True, times=1)
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            get(client, arm, CLUSTER, timeout=0.5)
        assert 0.4 < time.monotonic() - started < 3
        assert arm.requests[0].status is None
        arm.inject("aks1", delay=0.3, times=1)
        started = time.monotonic()
        assert get(client, arm, CLUSTER).status_code == 200
        assert time.monotonic() - started >= 0.3
        arm.inject("aks1", hang=True)
        with pytest.raises(httpx.ReadTimeout):
            get(client, arm, CLUSTER, timeout=0.2)
        started = time.monotonic()
    assert time.monotonic() - started < 3  # stop() wakes hung handlers
    assert not support_threads()


def test_drop_closes_without_answer(fake_arm: Callable[..., FakeArm], client: httpx.Client) -> None:
    arm = fake_arm([managed_cluster("aks1", SUB, RG)])
    arm.inject("aks1", drop=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        get(client, arm, CLUSTER)
    assert get(client, arm, CLUSTER).status_code == 200


def test_tls_certificate_chains_to_the_test_ca(fake_arm: Callable[..., FakeArm]) -> None:
    arm = fake_arm()
    with httpx.Client(trust_env=False) as untrusting, pytest.raises(httpx.ConnectError):
        untrusting.get(arm.url + "/subscriptions", params={"api-version": "2022-12-01"})
    assert arm.url.startswith("https://127.0.0.1:")


# -- IMDS -----------------------------------------------------------------------------------------
IMDS_PATH = "/metadata/identity/oauth2/token"
IMDS_PARAMS = {"api-version": "2018-02-01", "resource": "https://management.azure.com/"}


def test_imds_requires_the_metadata_header(fake_imds: Callable[..., FakeImds]) -> None:
    imds = fake_imds()
    assert imds.url.startswith("http://127.0.0.1:")
    with httpx.Client(trust_env=False) as c:
        without = c.get(imds.url + IMDS_PATH, params=IMDS_PARAMS)
        assert without.status_code == 400
        assert without.json() == {
            "error": "bad_request_102",
            "error_description": "Required metadata header not specified",
        }
        ok = c.get(imds.url + IMDS_PATH, params=IMDS_PARAMS, headers={"Metadata": "true"})
        assert ok.status_code == 200
        body = ok.json()
        assert body["access_token"] == "imds-token"
        assert body["expires_in"] == "3599" and body["token_type"] == "Bearer"
        assert body["resource"] == "https://management.azure.com/"
        assert int(body["expires_on"]) > time.time()
        no_resource = c.get(
            imds.url + IMDS_PATH, params={"api-version": "2018-02-01"}, headers={"Metadata": "true"}
        )
        assert no_resource.status_code == 400
    assert [r.metadata_header for r in imds.requests] == [None, "true", "true"]
    assert imds.requests[1].resource == "https://management.azure.com/"


def test_imds_failures(fake_imds: Callable[..., FakeImds], tls_ca: Any, ca_bundle: Path) -> None:
    headers = {"Metadata": "true"}
    no_identity = fake_imds(identity=False)
    per_resource = fake_imds(tokens={"https://management.chinacloudapi.cn/": "cn-token"})
    over_tls = fake_imds("tls-token", tls=True)
    with httpx.Client(trust_env=False) as c:
        response = c.get(no_identity.url + IMDS_PATH, params=IMDS_PARAMS, headers=headers)
        assert response.status_code == 400
        assert response.json() == {
            "error": "invalid_request",
            "error_description": "Identity not found",
        }
        response = c.get(per_resource.url + IMDS_PATH, params=IMDS_PARAMS, headers=headers)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_resource"
        assert "AADSTS500011" in response.json()["error_description"]
        china = {**IMDS_PARAMS, "resource": "https://management.chinacloudapi.cn/"}
        response = c.get(per_resource.url + IMDS_PATH, params=china, headers=headers)
        assert response.json()["access_token"] == "cn-token"
        per_resource.inject(IMDS_PATH, status=429, retry_after=2, times=1)
        response = c.get(per_resource.url + IMDS_PATH, params=china, headers=headers)
        assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    ctx = ssl.create_default_context(cafile=str(ca_bundle))
    with httpx.Client(trust_env=False, verify=ctx) as c:
        assert over_tls.url.startswith("https://")
        response = c.get(over_tls.url + IMDS_PATH, params=IMDS_PARAMS, headers=headers)
        assert response.json()["access_token"] == "tls-token"


# -- fake az --------------------------------------------------------------------------------------
def run_az(az: FakeAz, *args: str) -> subprocess.CompletedProcess[str]:
    env = az.env()
    exe = shutil.which("az", path=env["PATH"])
    assert exe == str(az.path)
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=30)


def test_fake_az_token_cloud_and_version(fake_az: Callable[..., FakeAz]) -> None:
    az = fake_az(token="cli-token", cloud="AzureChinaCloud")
    audience = "https://management.chinacloudapi.cn/"
    done = run_az(az, "account", "get-access-token", "--resource", audience, "-o", "json")
    assert done.returncode == 0, done.stderr
    token = json.loads(done.stdout)
    assert token["accessToken"] == "cli-token" and token["tokenType"] == "Bearer"
    assert set(token) >= {"expiresOn", "expires_on", "subscription", "tenant"}
    assert az.resources() == [audience]
    assert az.calls()[0] == ["account", "get-access-token", "--resource", audience, "-o", "json"]

    done = run_az(az, "cloud", "show", "--query", "name", "-o", "tsv")
    assert (done.returncode, done.stdout) == (0, "AzureChinaCloud\n")
    version = json.loads(run_az(az, "version", "-o", "json").stdout)
    assert version["azure-cli"] == "2.61.0"
    assert version["extensions"] == {"k8s-extension": "1.6.1"}
    az.configure(extensions={}, cli_version="2.50.0", cloud="AzureUSGovernment")
    version = json.loads(run_az(az, "version", "-o", "json").stdout)
    assert version == {
        "azure-cli": "2.50.0",
        "azure-cli-core": "2.50.0",
        "azure-cli-telemetry": "1.1.0",
        "extensions": {},
    }
    assert (
        run_az(az, "cloud", "show", "--query", "name", "-o", "tsv").stdout == "AzureUSGovernment\n"
    )
    assert str(az) == str(az.path.parent) and Path(az) == az.path.parent


def test_fake_az_failures(fake_az: Callable[..., FakeAz]) -> None:
    az = fake_az(logged_in=False)
    done = run_az(az, "account", "get-access-token", "--resource", "https://x/", "-o", "json")
    assert done.returncode == 1
    assert done.stderr.strip() == "ERROR: Please run 'az login' to setup account."
    assert done.stdout == ""

    az.configure(logged_in=True, tokens={"https://management.azure.com/": "public-token"})
    done = run_az(
        az, "account", "get-access-token", "--resource", "https://management.chinacloudapi.cn/"
    )
    assert done.returncode == 1 and "AADSTS500011" in done.stderr
    done = run_az(az, "account", "get-access-token", "--resource", "https://management.azure.com/")
    assert json.loads(done.stdout)["accessToken"] == "public-token"

    az.configure(failures={"cloud show": {"exit": 3, "stderr": "ERROR: broken"}})
    done = run_az(az, "cloud", "show", "--query", "name", "-o", "tsv")
    assert (done.returncode, done.stderr.strip()) == (3, "ERROR: broken")
    assert run_az(az, "frobnicate").returncode == 2
    with pytest.raises(TypeError):
        az.configure(no_such_setting=1)


# -- builders -------------------------------------------------------------------------------------
def test_managed_cluster_shapes() -> None:
    msi = managed_cluster("a", SUB, RG)
    assert msi["identity"]["type"] == "SystemAssigned"
    assert msi["properties"]["servicePrincipalProfile"] == {"clientId": "msi"}
    assert "apiServerAccessProfile" not in msi["properties"]
    assert msi["properties"]["disableLocalAccounts"] is False
    assert msi["properties"]["fqdn"].endswith(".hcp.eastus.azmk8s.io")
    assert msi == managed_cluster("a", SUB, RG)  # deterministic

    sp = managed_cluster(
        "b", SUB, RG, identity=None, sp_client_id="3fa85f64-5717-4562-b3fc-2c963f66afa6"
    )
    assert "identity" not in sp and "identityProfile" not in sp["properties"]
    assert sp["properties"]["servicePrincipalProfile"]["clientId"].startswith("3fa85f64")
    uai = managed_cluster("c", SUB, RG, identity="UserAssigned")
    assert uai["identity"]["type"] == "UserAssigned"
    assert len(uai["identity"]["userAssignedIdentities"]) == 1

    private = managed_cluster(
        "d",
        SUB,
        RG,
        "chinaeast2",
        private=True,
        authorized_ranges=[],
        disable_local_accounts=True,
        pools=[
            agent_pool("system", 3, mode="System"),
            agent_pool(
                "gpu",
                2,
                "Standard_NC24ads_A100_v4",
                taints=["sku=gpu:NoSchedule"],
                labels={"accelerator": "nvidia"},
            ),
        ],
    )
    props = private["properties"]
    assert props["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert props["apiServerAccessProfile"]["authorizedIPRanges"] == []
    assert "fqdn" not in props and props["privateFQDN"].endswith(".cx.prod.service.azk8s.cn")
    assert props["disableLocalAccounts"] is True
    gpu = props["agentPoolProfiles"][1]
    assert gpu["vmSize"] == "Standard_NC24ads_A100_v4" and gpu["mode"] == "User"
    assert gpu["nodeTaints"] == ["sku=gpu:NoSchedule"]
    assert gpu["nodeLabels"] == {"accelerator": "nvidia"}
    assert gpu["orchestratorVersion"] == props["kubernetesVersion"] == "1.30.4"
    assert "nodeTaints" not in props["agentPoolProfiles"][0]


def test_connected_cluster_provider_and_extension_shapes() -> None:
    arc = connected_cluster("arc1", SUB, RG, "eastus", connectivity="Expired")
    assert arc["type"] == "Microsoft.Kubernetes/connectedClusters"
    props = arc["properties"]
    assert props["connectivityStatus"] == "Expired"
    assert props["agentVersion"] == "1.21.10" and props["distribution"] == "k3s"
    assert props["infrastructure"] == "generic" and props["kubernetesVersion"] == "1.30.4"
    assert (
        props["lastConnectivityTime"]
        < connected_cluster("arc1", SUB, RG)["properties"]["lastConnectivityTime"]
    )
    assert arc["identity"]["type"] == "SystemAssigned"

    reg = provider("Microsoft.KubernetesConfiguration", "Registering", sub=SUB)
    assert reg["id"] == f"/subscriptions/{SUB}/providers/Microsoft.KubernetesConfiguration"
    assert reg["registrationState"] == "Registering"
    assert "extensions" in {t["resourceType"] for t in reg["resourceTypes"]}

    ext = extension(
        "azureml",
        CLUSTER,
        provisioning_state="Failed",
        config={"enableTraining": "True"},
        protected_keys=["sslKeyPemFile"],
        error_detail="helm install failed",
    )
    assert ext["id"] == CLUSTER + "/providers/Microsoft.KubernetesConfiguration/extensions/azureml"
    props = ext["properties"]
    assert props["extensionType"] == "Microsoft.AzureML.Kubernetes"
    assert props["configurationProtectedSettings"] == {"sslKeyPemFile": None}
    assert props["errorInfo"] == {
        "code": "ExtensionOperationFailed",
        "message": "helm install failed",
    }
    assert props["version"] is None and props["currentVersion"] == "1.1.63"
    assert extension("e", CLUSTER, auto_upgrade=False)["properties"]["version"] == "1.1.63"


def test_service_tags_file_shape(tmp_path: Path) -> None:
    path = write_service_tags(
        tmp_path, "Public", {"AzureMachineLearning.EastUS": ["20.42.0.0/24", "40.71.11.64/28"]}
    )
    assert path.name == "ServiceTags_Public_20240902.json"
    doc = json.loads(path.read_text())
    assert doc["cloud"] == "Public" and isinstance(doc["changeNumber"], int)
    by_name = {v["name"]: v for v in doc["values"]}
    regional = by_name["AzureMachineLearning.EastUS"]
    assert regional["id"] == "AzureMachineLearning.EastUS"
    props = regional["properties"]
    assert set(props) == {
        "changeNumber",
        "region",
        "regionId",
        "platform",
        "systemService",
        "addressPrefixes",
        "networkFeatures",
    }
    assert props["region"] == "eastus" and props["systemService"] == "AzureMachineLearning"
    assert props["platform"] == "Azure" and props["addressPrefixes"] == [
        "20.42.0.0/24",
        "40.71.11.64/28",
    ]
    assert by_name["AzureMachineLearning"]["properties"]["region"] == ""
    china = service_tags("China")
    assert china["cloud"] == "China"
    assert any(v["properties"]["region"] == "chinaeast2" for v in china["values"])


# -- profiles and the real ARM client -------------------------------------------------------------
def test_azure_profile_keeps_builtin_audiences(
    azure_profile: Callable[..., Path], tmp_path: Path
) -> None:
    from preflight.profile import load_profile

    path = azure_profile(base="azure-china", arm="https://127.0.0.1:1", imds="http://127.0.0.1:2")
    profile = load_profile(str(path))
    assert profile.cloud == "AzureChinaCloud"
    assert profile.endpoints["arm"] == "https://127.0.0.1:1"
    assert profile.endpoints["imds"] == "http://127.0.0.1:2"
    assert profile.endpoints["login"] == "https://login.chinacloudapi.cn"
    assert profile.audiences["arm"] == "https://management.chinacloudapi.cn/"
    again = write_azure_profile(tmp_path, "azure-usgov", arm="https://127.0.0.1:3")
    assert load_profile(str(again)).audiences["arm"] == "https://management.usgovcloudapi.net/"


def _arm_client(
    arm_url: str, audience: str, ca_bundle: Path, environ: dict[str, str], imds: str | None = None
) -> Any:
    from preflight.clients.arm import ArmClient

    return ArmClient(
        arm_url,
        audience,
        imds=imds,
        verify=ssl.create_default_context(cafile=str(ca_bundle)),
        proxy_for=lambda host, port, tls: None,
        timeout=5.0,
        remaining=lambda: 30.0,
        environ=environ,
    )


def test_the_real_arm_client_against_the_fakes(
    fake_arm: Callable[..., FakeArm],
    fake_imds: Callable[..., FakeImds],
    fake_az: Callable[..., FakeAz],
    ca_bundle: Path,
) -> None:
    """preflight's own client takes a token from each source and reads through the fakes."""
    from preflight.clients.arm import ArmError

    audience = "https://management.chinacloudapi.cn/"
    arm = fake_arm(
        [managed_cluster("aks1", SUB, RG, "chinaeast2")],
        cloud="AzureChinaCloud",
        tokens={"env-token", "cli-token", "imds-token"},
        wrong_audience_tokens={"public-token": "https://management.azure.com/"},
    )
    arm.inject("aks1", status=429, retry_after=0, times=1)

    async def read(client: Any) -> dict[str, Any]:
        try:
            return await client.get(CLUSTER, AKS_VERSION)
        finally:
            await client.aclose()

    env_client = _arm_client(arm.url, audience, ca_bundle, {"AZURE_ACCESS_TOKEN": "env-token"})
    assert env_client.token().source == "env"
    assert asyncio.run(read(env_client))["name"] == "aks1"  # after one 429
    assert arm.count("aks1", status=429) == 1 and arm.count("aks1", status=200) == 1

    az = fake_az(token="cli-token", cloud="AzureChinaCloud")
    cli_client = _arm_client(arm.url, audience, ca_bundle, {"PATH": az.path_with("/usr/bin:/bin")})
    token = cli_client.token()
    assert token.source == "azure-cli" and token.cli_cloud == "AzureChinaCloud"
    assert az.resources() == [audience]
    assert asyncio.run(read(cli_client))["location"] == "chinaeast2"

    imds = fake_imds()
    imds_client = _arm_client(arm.url, audience, ca_bundle, {"PATH": "/nonexistent"}, imds.url)
    assert imds_client.token().source == "managed-identity"
    assert imds.requests[-1].resource == audience
    assert asyncio.run(read(imds_client))["id"] == CLUSTER

    wrong = _arm_client(arm.url, audience, ca_bundle, {"AZURE_ACCESS_TOKEN": "public-token"})
    wrong.token()
    with pytest.raises(ArmError) as caught:
        asyncio.run(read(wrong))
    assert caught.value.kind == "audience" and caught.value.status == 401
    assert "public-token" not in str(caught.value)
