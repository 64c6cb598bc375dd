"""What Azure endpoints answer an anonymous probe, as ``(status, headers, body)`` responses.

Each function returns a ``ServiceResponse`` (a named tuple, so it is also the plain
``(status, headers, body)`` that ``TlsHttpServer(routes=..., responder=...)`` takes). Each one
cites where its status, headers and body come from; "approximate" marks the parts that are
modelled on a near relative rather than copied from a captured response. Request ids, dates and
correlation ids are fresh per call (real services never repeat them)::

    acr = tls_server(["myacr.azurecr.io"], status=404,
                     routes={"/v2/": azure_services.acr_v2_challenge("myacr.azurecr.io")})
    blocked = tls_server(["myacr.azurecr.io"],
                         routes={"/v2/": azure_services.acr_firewall_denied("198.51.100.7")})

``MEANING`` says, for every response here, what it proves about the network path when the
*origin* sent it (DESIGN.md, "What proves a network path"): ``"reachable"`` (the service answered
and would serve an authorized client from here) or ``"denied-by-service-network-rules"``
(the service itself refuses this client address: not a pass). ``RESPONSES`` maps the same names
to the functions (called with their defaults).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any, NamedTuple

__all__ = [
    "MEANING",
    "RESPONSES",
    "ServiceResponse",
    "acr_firewall_denied",
    "acr_v2_challenge",
    "arm_unauthenticated",
    "azureml_private_link_denied",
    "entra_openid_configuration",
    "keyvault_challenge",
    "keyvault_firewall_denied",
    "kube_unauthorized",
    "kube_version",
    "mcr_v2",
    "storage_blob_open",
    "storage_firewall_denied",
    "storage_permission_mismatch",
    "storage_public_access_not_permitted",
]

#: The public cloud's tenant-independent login host.
LOGIN_HOST = "login.microsoftonline.com"


class ServiceResponse(NamedTuple):
    """One canned answer: the triple a route or responder returns."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _http_date() -> str:
    return format_datetime(_now(), usegmt=True)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _storage_time() -> str:
    return _now().strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _storage_request_id() -> str:
    # Storage request ids are GUIDs ending in six zeros (a020365c-101e-0052-37cd-c205c2000000).
    return f"{uuid.uuid4()}"[:30] + "000000"


# -- Azure Container Registry ------------------------------------------------------------------
def acr_v2_challenge(registry: str = "myacr.azurecr.io") -> ServiceResponse:
    """``GET /v2/`` on an open registry, no credentials: ``401`` with the Bearer challenge.

    Source: Azure/acr docs/AAD-OAuth.md ("Makes an HTTPS GET call to the registry server's
    ``/v2`` endpoint, without credentials. A bearer token authentication challenge is expected,
    specifying realm and service values") and its captured ``curl -v`` output
    (``Www-Authenticate: Bearer realm="https://contosoregistry.azurecr.io/oauth2/token",
    service="contosoregistry.azurecr.io"``). Headers (``Server: openresty``,
    ``Docker-Distribution-Api-Version: registry/2.0``, ``X-Ms-Correlation-Request-Id``,
    ``Access-Control-Expose-Headers``) and the error body wording ("authentication required,
    visit https://aka.ms/acr/authorization for more information.") from the recorded 401s in
    Azure/azure-sdk-for-js
    sdk/containerregistry/container-registry/recordings/node/repository_and_artifact_tests/
    recording_sets_manifest_properties.js. Approximate: for ``/v2/`` itself there is no scope in
    the challenge and ``detail`` is ``null`` (docker distribution's base-route error).
    """
    body = _json(
        {
            "errors": [
                {
                    "code": "UNAUTHORIZED",
                    "message": (
                        "authentication required, visit https://aka.ms/acr/authorization for "
                        "more information."
                    ),
                    "detail": None,
                }
            ]
        }
    )
    return ServiceResponse(
        401,
        {
            "Server": "openresty",
            "Date": _http_date(),
            "Content-Type": "application/json; charset=utf-8",
            "Connection": "keep-alive",
            "Access-Control-Expose-Headers": (
                "Docker-Content-Digest, WWW-Authenticate, Link, X-Ms-Correlation-Request-Id"
            ),
            "Docker-Distribution-Api-Version": "registry/2.0",
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
            "Www-Authenticate": (
                f'Bearer realm="https://{registry}/oauth2/token",service="{registry}"'
            ),
            "X-Content-Type-Options": "nosniff",
            "X-Ms-Correlation-Request-Id": str(uuid.uuid4()),
        },
        body,
    )


def acr_firewall_denied(client_ip: str = "198.51.100.7") -> ServiceResponse:
    """Any registry call from an address the registry's network rules do not allow: ``403``.

    Source: the body exactly as the Docker daemon quotes it in docker/build-push-action#1214
    (https://github.com/docker/build-push-action/issues/1214: ``denied: {"errors":[{"code":
    "DENIED","message":"client with IP '172.214.169.102' is not allowed access. Refer
    https://aka.ms/acr/firewall to grant access."}]}``) and Azure/acr#633
    (https://github.com/Azure/acr/issues/633, ``GET /v2/...``: "denied: client with IP 'x.x.x.x'
    is not allowed access"). Status ``403`` and the registry headers are approximate (the
    reports show the body only; ACR's other errors carry these headers).
    """
    body = _json(
        {
            "errors": [
                {
                    "code": "DENIED",
                    "message": (
                        f"client with IP '{client_ip}' is not allowed access. "
                        "Refer https://aka.ms/acr/firewall to grant access."
                    ),
                }
            ]
        }
    )
    return ServiceResponse(
        403,
        {
            "Server": "openresty",
            "Date": _http_date(),
            "Content-Type": "application/json; charset=utf-8",
            "Connection": "keep-alive",
            "Docker-Distribution-Api-Version": "registry/2.0",
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
            "X-Content-Type-Options": "nosniff",
            "X-Ms-Correlation-Request-Id": str(uuid.uuid4()),
        },
        body,
    )


def mcr_v2() -> ServiceResponse:
    """``GET https://mcr.microsoft.com/v2/``: ``200`` with ``{}`` (anonymous pulls allowed).

    Source: microsoft/containerregistry#180
    (https://github.com/microsoft/containerregistry/issues/180: "Opening
    https://mcr.microsoft.com/v2/ in a browser returns {}"); the
    ``Docker-Distribution-Api-Version: registry/2.0`` header is what every registry v2 sends on
    the base route (docker-archive/migrator#116 checks MCR-style registries for it). Other
    headers approximate.
    """
    return ServiceResponse(
        200,
        {
            "Date": _http_date(),
            "Content-Type": "application/json",
            "Docker-Distribution-Api-Version": "registry/2.0",
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
            "X-Content-Type-Options": "nosniff",
            "X-Ms-Request-Id": str(uuid.uuid4()),
        },
        b"{}",
    )


# -- Storage ----------------------------------------------------------------------------------
def storage_blob_open(
    content: bytes = b"hello from blob storage\n", content_type: str = "text/plain"
) -> ServiceResponse:
    """Anonymous ``GET`` of a blob in a container with public (blob) access: ``200``.

    Source: the Get Blob response headers in the Storage REST reference
    (https://learn.microsoft.com/rest/api/storageservices/get-blob: ``x-ms-blob-type``,
    ``x-ms-request-id``, ``x-ms-version``, ``ETag``, ``Last-Modified``) and the ``Server``
    value of recorded blob responses in Azure/azure-sdk-for-js sdk/storage/storage-blob/
    recordings. Approximate (values, not a capture).
    """
    return ServiceResponse(
        200,
        {
            "Content-Type": content_type,
            "Last-Modified": "Mon, 01 Jul 2024 00:00:00 GMT",
            "Accept-Ranges": "bytes",
            "ETag": '"0x8DC9A0B1C2D3E4F"',
            "Server": "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
            "x-ms-request-id": _storage_request_id(),
            "x-ms-version": "2009-09-19",
            "x-ms-creation-time": "Mon, 01 Jul 2024 00:00:00 GMT",
            "x-ms-lease-status": "unlocked",
            "x-ms-lease-state": "available",
            "x-ms-blob-type": "BlockBlob",
            "x-ms-server-encrypted": "true",
            "Date": _http_date(),
        },
        content,
    )


def _storage_error(status: int, code: str, message: str, server: str) -> ServiceResponse:
    request_id = _storage_request_id()
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error>'
        f"<Code>{code}</Code><Message>{message}\n"
        f"RequestId:{request_id}\nTime:{_storage_time()}</Message></Error>"
    ).encode()
    return ServiceResponse(
        status,
        {
            "Content-Type": "application/xml",
            "Server": server,
            "x-ms-request-id": request_id,
            "x-ms-error-code": code,
            "Date": _http_date(),
        },
        body,
    )


def storage_firewall_denied() -> ServiceResponse:
    """A storage request from an address outside the account's firewall rules: ``403``.

    Source: Storage Explorer reports microsoft/AzureStorageExplorer#9006 and #9150
    (https://github.com/microsoft/AzureStorageExplorer/issues/9006: ``statusCode: 403``,
    ``errorCode: AuthorizationFailure``, ``content-length: 246``, ``content-type:
    application/xml``, ``server: Microsoft-HTTPAPI/2.0`` (not ``Windows-Azure-Blob``: the front
    end refuses before the blob service), ``message: This request is not authorized to perform
    this operation.\\nRequestId:...\\nTime:...``) and the XML body captured in
    promptflow's report (``<?xml version="1.0" encoding="utf-8"?><Error><Code>
    AuthorizationFailure</Code><Message>This request is not authorized to perform this
    operation.\\nRequestId:...\\nTime:...</Message></Error>``).
    """
    return _storage_error(
        403,
        "AuthorizationFailure",
        "This request is not authorized to perform this operation.",
        "Microsoft-HTTPAPI/2.0",
    )


def storage_permission_mismatch() -> ServiceResponse:
    """An authenticated request whose identity lacks the data role: ``403`` (RBAC, *not* network).

    Source: Azure/azure-sdk-for-js sdk/storage/storage-blob/recordings/node/
    shared_access_signature_sas_generation_nodejs_only/
    recording_generateaccountsasqueryparameters_should_not_work_with_invalid_permission.js
    (``403``, ``Server: Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0``, ``x-ms-error-code:
    AuthorizationPermissionMismatch``, ``<Message>This request is not authorized to perform
    this operation using this permission.\\nRequestId:...\\nTime:...</Message>``) and the SAS
    error-code table (https://learn.microsoft.com/rest/api/storageservices/sas-error-codes).
    """
    return _storage_error(
        403,
        "AuthorizationPermissionMismatch",
        "This request is not authorized to perform this operation using this permission.",
        "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
    )


def storage_public_access_not_permitted() -> ServiceResponse:
    """Anonymous ``GET`` on an account that disallows anonymous access: ``409``.

    The storage service answered, so the path is open; only anonymous reads are off. Source:
    the body ``<Code>PublicAccessNotPermitted</Code><Message>Public access is not permitted on
    this storage account. RequestId:... Time:...</Message>`` as quoted in several public
    write-ups found by code search; the status is approximate (one write-up says ``HTTP 409``,
    another ``403``; 409 is used here).
    """
    return _storage_error(
        409,
        "PublicAccessNotPermitted",
        "Public access is not permitted on this storage account.",
        "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
    )


# -- Key Vault --------------------------------------------------------------------------------
def _keyvault_headers(client_ip: str) -> dict[str, str]:
    return {
        "Cache-Control": "no-cache",
        "Pragma": "no-cache",
        "Content-Type": "application/json; charset=utf-8",
        "Expires": "-1",
        "x-ms-keyvault-region": "westus2",
        "x-ms-request-id": str(uuid.uuid4()),
        "x-ms-keyvault-service-version": "1.9.12.0",
        "x-ms-keyvault-network-info": f"conn_type=Ipv4;addr={client_ip};act_addr_fam=InterNetwork;",
        "X-Powered-By": "ASP.NET",
        "Strict-Transport-Security": "max-age=31536000;includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "Date": _http_date(),
    }


def keyvault_challenge(
    tenant: str = "72f988bf-86f1-41af-91ab-2d7cd011db47", client_ip: str = "198.51.100.7"
) -> ServiceResponse:
    """Any vault data-plane call without a token: ``401`` with the challenge.

    Source: recorded responses in Azure/azure-sdk-for-js sdk/keyvault/keyvault-keys/recordings/
    node/keys_client__list_keys_in_various_ways/recording_before_all_hook.js (``401``,
    ``{"error":{"code":"Unauthorized","message":"Request is missing a Bearer or PoP token."}}``,
    ``WWW-Authenticate: Bearer authorization="https://login.windows.net/<tenant>",
    resource="https://vault.azure.net"``, ``x-ms-keyvault-region``,
    ``x-ms-keyvault-service-version``, ``x-ms-keyvault-network-info``); newer recordings prefix
    the message with ``AKV10000: ``. The 401 for a missing token is documented in
    MicrosoftDocs/azure-docs articles/key-vault/general/rest-error-codes.md.
    """
    headers = _keyvault_headers(client_ip)
    headers["WWW-Authenticate"] = (
        f'Bearer authorization="https://login.windows.net/{tenant}", '
        'resource="https://vault.azure.net"'
    )
    body = _json(
        {
            "error": {
                "code": "Unauthorized",
                "message": "AKV10000: Request is missing a Bearer or PoP token.",
            }
        }
    )
    return ServiceResponse(401, headers, body)


def keyvault_firewall_denied(
    client_ip: str = "198.51.100.7", vault: str = "myvault", location: str = "westeurope"
) -> ServiceResponse:
    """A vault call from an address outside the vault's network rules: ``403``.

    Source: the raw body quoted in a Container Apps troubleshooting guide found by code search
    (``{"error":{"code":"Forbidden","message":"Client address is not authorized and caller is
    not a trusted service.\\r\\nClient address: ...\\r\\nCaller: appid=...;oid=...\\r\\nVault:
    someakv;location=westeurope","innererror":{"code":"ForbiddenByFirewall"}}}``), matching the
    SDK renderings in hashicorp/terraform-provider-azurerm#20742 and Azure/sap-automation#245
    (``Status=403 Code="Forbidden" ... InnerError={"code":"ForbiddenByFirewall"}``). The
    message text is documented in rest-error-codes.md ("Client address (00.00.00.00) is not
    authorized and caller is not a trusted service"). Key Vault checks the network before the
    token, so an anonymous probe from a refused address gets this 403, not the 401 (approximate:
    the reports are from authenticated callers).
    """
    body = _json(
        {
            "error": {
                "code": "Forbidden",
                "message": (
                    "Client address is not authorized and caller is not a trusted service.\r\n"
                    f"Client address: {client_ip}\r\nCaller: \r\n"
                    f"Vault: {vault};location={location}"
                ),
                "innererror": {"code": "ForbiddenByFirewall"},
            }
        }
    )
    return ServiceResponse(403, _keyvault_headers(client_ip), body)


# -- Azure Machine Learning -------------------------------------------------------------------
def azureml_private_link_denied() -> ServiceResponse:
    """A workspace call from the public network when public network access is disabled.

    Source: MicrosoftDocs/azure-docs#90426
    (https://github.com/MicrosoftDocs/azure-docs/issues/90426): ``{"error": {"code":
    "UserError", "message": "Access to workspace was denied based on workspace private link
    configuration.", "details": [], "additionalInfo": [{"type": "ComponentName", "info":
    {"value": "managementfrontend"}}, ...]}}``. Status ``403`` is approximate: that report got
    the body behind a gateway that turned it into 502; the SDK raises ClientAuthenticationError
    for the same class of refusal (Azure/azure-cli-extensions#6294, "...not accessible from
    outside of the designated private link") and microsoft/vscode-tools-for-ai#885 saw 403.
    """
    request_id = str(uuid.uuid4())
    body = _json(
        {
            "error": {
                "code": "UserError",
                "message": (
                    "Access to workspace was denied based on workspace private link configuration."
                ),
                "details": [],
                "additionalInfo": [
                    {"type": "ComponentName", "info": {"value": "managementfrontend"}},
                    {
                        "type": "Correlation",
                        "info": {
                            "value": {
                                "operation": uuid.uuid4().hex,
                                "request": uuid.uuid4().hex[:16],
                            }
                        },
                    },
                ],
            },
            "correlation": {"operation": uuid.uuid4().hex, "request": uuid.uuid4().hex[:16]},
        }
    )
    return ServiceResponse(
        403,
        {
            "Content-Type": "application/json; charset=utf-8",
            "x-ms-request-id": request_id,
            "x-ms-correlation-request-id": request_id,
            "x-ms-response-type": "error",
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
            "X-Content-Type-Options": "nosniff",
            "Date": _http_date(),
        },
        body,
    )


# -- Resource Manager and Entra ID ------------------------------------------------------------
def arm_unauthenticated(login: str = "https://login.windows.net/") -> ServiceResponse:
    """``GET https://management.azure.com/...`` without a token: ``401 AuthenticationFailed``.

    Source: the body as documented for ARM-fronted APIs (Azure Monitor Log Analytics API
    errors, https://learn.microsoft.com/azure/azure-monitor/logs/api/errors: ``{"error":
    {"code": "AuthenticationFailed", "message": "Authentication failed. The 'Authorization'
    header is missing."}}``) and the same against management.chinacloudapi.cn in the
    LuBu0505/My-Code wiki; headers as this repo's FakeArm sends them (tests/support/
    arm_server.py, ``WWW-Authenticate: Bearer authorization_uri=..., error="invalid_token",
    error_description="The authentication failed because of missing 'Authorization'
    header."``, ``x-ms-request-id``, ``x-ms-correlation-request-id``,
    ``x-ms-routing-request-id``) plus ``x-ms-failure-cause: gateway`` (approximate).
    """
    request_id = str(uuid.uuid4())
    routing = f"WESTEUROPE:{_now().strftime('%Y%m%dT%H%M%SZ')}:{request_id}"
    body = _json(
        {
            "error": {
                "code": "AuthenticationFailed",
                "message": "Authentication failed. The 'Authorization' header is missing.",
            }
        }
    )
    return ServiceResponse(
        401,
        {
            "Cache-Control": "no-cache",
            "Pragma": "no-cache",
            "Content-Type": "application/json; charset=utf-8",
            "Expires": "-1",
            "WWW-Authenticate": (
                f'Bearer authorization_uri="{login}", error="invalid_token", '
                'error_description="The authentication failed because of missing '
                "'Authorization' header.\""
            ),
            "x-ms-failure-cause": "gateway",
            "x-ms-request-id": request_id,
            "x-ms-correlation-request-id": request_id,
            "x-ms-routing-request-id": routing,
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
            "X-Content-Type-Options": "nosniff",
            "Date": _http_date(),
        },
        body,
    )


def entra_openid_configuration(
    tenant: str = "12345678-1234-1234-1234-123456789012", host: str = LOGIN_HOST
) -> ServiceResponse:
    """``GET https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration``.

    Anonymous and ``200``. Source: the recorded response in Azure/azure-sdk-for-js
    sdk/containerregistry/container-registry/recordings/node/repository_and_artifact_tests/
    recording_sets_manifest_properties.js (body fields, ``Cache-Control: max-age=86400,
    private``, ``Access-Control-Allow-Origin: *``, ``x-ms-request-id``, ``x-ms-ests-server``,
    ``P3P``). Trimmed to the fields clients read.
    """
    base = f"https://{host}/{tenant}"
    body = _json(
        {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "WW",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
    )
    return ServiceResponse(
        200,
        {
            "Cache-Control": "max-age=86400, private",
            "Content-Type": "application/json; charset=utf-8",
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
            "X-Content-Type-Options": "nosniff",
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, OPTIONS",
            "P3P": 'CP="DSP CUR OTPi IND OTRi ONL FIN"',
            "x-ms-request-id": str(uuid.uuid4()),
            "x-ms-ests-server": "2.1.12071.7 - WUS2 ProdSlices",
            "Date": _http_date(),
        },
        body,
    )


# -- Kubernetes API server --------------------------------------------------------------------
def kube_version(git_version: str = "v1.30.4") -> ServiceResponse:
    """``GET /version`` (anonymous access allowed by default): ``200`` version info.

    Source: the fields this repo's FakeKubeApi serves (tests/support/kube_api.py,
    ``_version_body``), which follow k8s.io/apimachinery ``version.Info``; ``Audit-Id`` and
    ``Cache-Control: no-cache, private`` as the API server sends them (nmap capture of a real
    API server found by code search).
    """
    major, minor = git_version.lstrip("v").split(".")[:2]
    body = json.dumps(
        {
            "major": major,
            "minor": minor,
            "gitVersion": git_version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2024-08-14T00:00:00Z",
            "goVersion": "go1.22.5",
            "compiler": "gc",
            "platform": "linux/amd64",
        },
        indent=2,
    ).encode()
    return ServiceResponse(
        200,
        {
            "Audit-Id": str(uuid.uuid4()),
            "Cache-Control": "no-cache, private",
            "Content-Type": "application/json",
            "X-Kubernetes-Pf-Flowschema-Uid": str(uuid.uuid4()),
            "X-Kubernetes-Pf-Prioritylevel-Uid": str(uuid.uuid4()),
            "Date": _http_date(),
        },
        body,
    )


def kube_unauthorized() -> ServiceResponse:
    """Any API call with no or a rejected token when anonymous auth is off: ``401`` Status.

    Source: an nmap capture of a real API server found by code search (``HTTP/1.0 401
    Unauthorized``, ``Audit-Id``, ``Cache-Control: no-cache, private``, ``Content-Type:
    application/json``, ``Content-Length: 129``, newline-terminated body ``{"kind":"Status",
    "apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized",
    "reason":"Unauthorized","code":401}``).
    """
    body = (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"Unauthorized","reason":"Unauthorized","code":401}\n'
    )
    return ServiceResponse(
        401,
        {
            "Audit-Id": str(uuid.uuid4()),
            "Cache-Control": "no-cache, private",
            "Content-Type": "application/json",
            "Date": _http_date(),
        },
        body,
    )


#: Every response here by name, called with its defaults.
RESPONSES: dict[str, Callable[[], ServiceResponse]] = {
    "acr_open": acr_v2_challenge,
    "acr_firewall": acr_firewall_denied,
    "mcr_open": mcr_v2,
    "storage_open": storage_blob_open,
    "storage_anonymous_disabled": storage_public_access_not_permitted,
    "storage_firewall": storage_firewall_denied,
    "storage_rbac": storage_permission_mismatch,
    "keyvault_open": keyvault_challenge,
    "keyvault_firewall": keyvault_firewall_denied,
    "azureml_private": azureml_private_link_denied,
    "arm_anonymous": arm_unauthenticated,
    "entra_openid": entra_openid_configuration,
    "kube_version": kube_version,
    "kube_unauthorized": kube_unauthorized,
}

_REACHABLE = "reachable"
_DENIED = "denied-by-service-network-rules"

#: What each response proves about the path when the origin sent it (DESIGN.md).
MEANING: dict[str, str] = {
    "acr_open": _REACHABLE,
    "acr_firewall": _DENIED,
    "mcr_open": _REACHABLE,
    "storage_open": _REACHABLE,
    "storage_anonymous_disabled": _REACHABLE,
    "storage_firewall": _DENIED,
    "storage_rbac": _REACHABLE,  # AuthorizationPermissionMismatch is RBAC, not network
    "keyvault_open": _REACHABLE,
    "keyvault_firewall": _DENIED,
    "azureml_private": _DENIED,
    "arm_anonymous": _REACHABLE,
    "entra_openid": _REACHABLE,
    "kube_version": _REACHABLE,
    "kube_unauthorized": _REACHABLE,
}
