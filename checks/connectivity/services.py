"""What each kind of service answers, so ``egress.https`` can tell the origin's answer from a
proxy's, a mirror's or the service's own firewall (docs/DESIGN.md, "What proves a network path").

One row per kind: the path to ``GET`` (one the service answers meaningfully to an anonymous
client), the marks only that service puts on its answers (so a page without them, seen through
an inspecting proxy, is not taken for the service's), whether its certificates come from the
CAs Azure documents, and its "closed for you" signatures: the service's own refusal of this
client's network, with the fix. A profile host names its kind with ``service:``; without it the
kind follows from the host's suffix (``kind_for``).

Sources (each row cites its own):
- Azure CA list: https://learn.microsoft.com/azure/security/fundamentals/azure-ca-details
- Container Registry firewall: https://learn.microsoft.com/azure/container-registry/
  container-registry-access-selected-networks and .../container-registry-troubleshoot-access
- Storage firewall: https://learn.microsoft.com/azure/storage/common/storage-network-security
- Key Vault firewall: https://learn.microsoft.com/azure/key-vault/general/network-security
- Azure ML private link: https://learn.microsoft.com/azure/machine-learning/
  how-to-configure-private-link
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from preflight.api import HttpAnswer

DOCS_ACR_NETWORK = "https://learn.microsoft.com/azure/container-registry/container-registry-access-selected-networks"
DOCS_STORAGE_NETWORK = "https://learn.microsoft.com/azure/storage/common/storage-network-security"
DOCS_KEYVAULT_NETWORK = "https://learn.microsoft.com/azure/key-vault/general/network-security"
DOCS_AML_PRIVATE_LINK = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link"
)
DOCS_AZURE_CAS = "https://learn.microsoft.com/azure/security/fundamentals/azure-ca-details"


@dataclass(frozen=True)
class Closed:
    """The service refusing this client's network: status, a pattern over the answer's
    headers and body, what it means and how to open the path."""

    statuses: tuple[int, ...]
    pattern: re.Pattern[str]
    meaning: str
    remediation: str
    docs: str

    def matches(self, answer: HttpAnswer) -> bool:
        if answer.status not in self.statuses:
            return False
        text = " ".join(f"{k}: {v}" for k, v in answer.headers.items()) + "\n" + answer.text
        return bool(self.pattern.search(text))


@dataclass(frozen=True)
class Service:
    kind: str
    title: str
    #: what to GET: a path the service answers for anyone, with its own headers
    path: str = "/"
    #: response header names only this service sends ("x-ms-*": any header with that prefix)
    marks: tuple[str, ...] = ()
    #: a body pattern that is the service's own (used where headers are not distinctive)
    body_mark: re.Pattern[str] | None = None
    #: its certificates come from the CAs Azure documents (another issuer means interception)
    azure_ca: bool = False
    closed: tuple[Closed, ...] = ()
    #: refusals that are about identity (RBAC), not the network: the path is open
    rbac: tuple[re.Pattern[str], ...] = field(default_factory=tuple)
    #: what an open answer means, for the pass message
    open_note: str = ""

    def marked(self, answer: HttpAnswer) -> list[str]:
        """The marks of this service the answer carries (header names, or "body")."""
        found = []
        for mark in self.marks:
            if mark.endswith("*"):
                found += [h for h in answer.headers if h.startswith(mark[:-1])]
            elif mark in answer.headers:
                found.append(mark)
        if self.body_mark is not None and self.body_mark.search(answer.text):
            found.append("body")
        return sorted(set(found))

    def rbac_refusal(self, answer: HttpAnswer) -> bool:
        if answer.status == 401:
            return True
        text = " ".join(answer.headers.values()) + "\n" + answer.text
        return answer.status == 403 and any(p.search(text) for p in self.rbac)


_AZURE_MARKS = ("x-ms-*", "x-azure-ref", "x-msedge-ref")
_I = re.IGNORECASE | re.DOTALL

SERVICES: dict[str, Service] = {
    "acr": Service(
        "acr",
        "Azure Container Registry",
        path="/v2/",
        # the registry API answers /v2/ with 401 and Docker-Distribution-Api-Version when open
        marks=("docker-distribution-api-version", *_AZURE_MARKS),
        azure_ca=True,
        closed=(
            Closed(
                (403,),
                re.compile(r"DENIED.*not allowed access|not allowed access.*DENIED", _I),
                "the registry's firewall denies this client's IP address",
                "add the egress IP of the cluster (and of this machine) to the registry's "
                "network rules (`az acr network-rule add --name <acr> --ip-address <ip>`), or "
                "pull through the registry's private endpoint (DNS zone privatelink.azurecr.io)",
                DOCS_ACR_NETWORK,
            ),
            Closed(
                (403,),
                re.compile(r"public network access|publicNetworkAccess", _I),
                "the registry has public network access disabled",
                "reach it through its private endpoint: link the private DNS zone "
                "privatelink.azurecr.io (China: privatelink.azurecr.cn, US Gov: "
                "privatelink.azurecr.us) to the cluster's virtual network",
                DOCS_ACR_NETWORK,
            ),
        ),
        open_note="the registry answered (a 401 asks for credentials: the path is open)",
    ),
    "mcr": Service(
        "mcr",
        "Microsoft Container Registry",
        path="/v2/",
        marks=("docker-distribution-api-version", *_AZURE_MARKS),
        azure_ca=True,
        open_note="the registry answered",
    ),
    "storage": Service(
        "storage",
        "Azure Storage",
        path="/",
        marks=("x-ms-*",),
        azure_ca=True,
        closed=(
            Closed(
                (403,),
                re.compile(r"AuthorizationFailure", _I),
                "the storage account's firewall denies this client (AuthorizationFailure)",
                "add the cluster's egress IP or its virtual network/subnet to the storage "
                "account's network rules (`az storage account network-rule add`), or use the "
                "account's private endpoint (DNS zone privatelink.blob.core.windows.net; China "
                "privatelink.blob.core.chinacloudapi.cn, US Gov "
                "privatelink.blob.core.usgovcloudapi.net)",
                DOCS_STORAGE_NETWORK,
            ),
        ),
        rbac=(re.compile(r"AuthorizationPermissionMismatch", _I),),
        open_note="the storage service answered (credentials decide the rest)",
    ),
    # Key Vault authenticates before it applies its firewall: an anonymous request gets the 401
    # challenge (WWW-Authenticate: Bearer authorization=..., resource=...) even where the
    # firewall would refuse a signed-in one; only a token sees ForbiddenByFirewall. Sources:
    # https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses
    # and .../rest-error-codes ("HTTP 403 means that the request was authenticated").
    "keyvault": Service(
        "keyvault",
        "Azure Key Vault",
        path="/secrets?api-version=7.4",
        marks=("x-ms-keyvault-*", "x-ms-*"),
        azure_ca=True,
        closed=(
            Closed(
                (403,),
                re.compile(r"ForbiddenByFirewall|Client address is not authorized", _I),
                "the key vault's firewall denies this client (ForbiddenByFirewall)",
                "add the cluster's egress IP or virtual network to the key vault's firewall "
                "(`az keyvault network-rule add`), or use its private endpoint (DNS zone "
                "privatelink.vaultcore.azure.net)",
                DOCS_KEYVAULT_NETWORK,
            ),
            Closed(
                (403,),
                re.compile(r"ForbiddenByConnection|Public network access is disabled", _I),
                "the key vault has public network access disabled (ForbiddenByConnection)",
                "reach it through its private endpoint (DNS zone privatelink.vaultcore.azure.net; "
                "China privatelink.vaultcore.azure.cn, US Gov "
                "privatelink.vaultcore.usgovcloudapi.net)",
                DOCS_KEYVAULT_NETWORK,
            ),
        ),
        open_note="the key vault answered (its firewall applies after sign-in, so an "
        "anonymous probe cannot see it: a 401 proves the network path only)",
    ),
    "aml": Service(
        "aml",
        "Azure Machine Learning",
        path="/",
        marks=_AZURE_MARKS,
        azure_ca=True,
        closed=(
            # "Access to workspace was denied based on workspace private link configuration."
            # (MicrosoftDocs/azure-docs#90426, seen with 403 and 502), "... none of the
            # workspaces/registries are accessible from outside of the designated private
            # link" (Azure/azure-cli-extensions#6294)
            Closed(
                (401, 403, 502),
                re.compile(
                    r"denied based on workspace private link|outside of the designated private "
                    r"link|public network access|publicNetworkAccess",
                    _I,
                ),
                "the workspace allows no public network access (private link only)",
                "reach the workspace through its private endpoint: link the private DNS zones "
                "privatelink.api.azureml.ms and privatelink.notebooks.azure.net (China: "
                "privatelink.api.ml.azure.cn, US Gov: privatelink.api.ml.azure.us) to the "
                "cluster's virtual network, or allow public access from selected IPs",
                DOCS_AML_PRIVATE_LINK,
            ),
        ),
        open_note="Azure Machine Learning answered",
    ),
    "arm": Service(
        "arm",
        "Azure Resource Manager",
        path="/",
        marks=_AZURE_MARKS,
        azure_ca=True,
        open_note="Azure Resource Manager answered",
    ),
    "login": Service(
        "login",
        "Microsoft Entra ID",
        path="/common/v2.0/.well-known/openid-configuration",
        marks=_AZURE_MARKS,
        azure_ca=True,
        open_note="Microsoft Entra ID answered",
    ),
    "azure": Service(
        "azure",
        "an Azure service",
        path="/",
        marks=_AZURE_MARKS,
        azure_ca=True,
        open_note="the Azure service answered",
    ),
    "kubernetes": Service(
        "kubernetes",
        "the Kubernetes API server",
        path="/version",
        marks=("audit-id", "x-kubernetes-pf-*"),
        body_mark=re.compile(r'"gitVersion"|"kind"\s*:\s*"Status"'),
        open_note="the API server answered",
    ),
    "generic": Service("generic", "the host", path="/", open_note="the host answered"),
}

#: suffixes that name a service kind when the profile does not (most specific first)
_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".azurecr.io", "acr"),
    (".azurecr.cn", "acr"),
    (".azurecr.us", "acr"),
    ("mcr.microsoft.com", "mcr"),
    (".blob.core.windows.net", "storage"),
    (".table.core.windows.net", "storage"),
    (".queue.core.windows.net", "storage"),
    (".file.core.windows.net", "storage"),
    (".dfs.core.windows.net", "storage"),
    (".core.chinacloudapi.cn", "storage"),
    (".core.usgovcloudapi.net", "storage"),
    (".vault.azure.net", "keyvault"),
    (".vault.azure.cn", "keyvault"),
    (".vault.usgovcloudapi.net", "keyvault"),
    ("api.azureml.ms", "aml"),
    (".experiments.azureml.net", "aml"),
    (".instances.azureml.ms", "aml"),
    ("api.ml.azure.cn", "aml"),
    ("api.ml.azure.us", "aml"),
    ("management.azure.com", "arm"),
    ("management.chinacloudapi.cn", "arm"),
    ("management.usgovcloudapi.net", "arm"),
    ("login.microsoftonline.com", "login"),
    ("login.chinacloudapi.cn", "login"),
    ("login.microsoftonline.us", "login"),
    ("login.windows.net", "login"),
    (".login.microsoft.com", "login"),
    (".azmk8s.io", "kubernetes"),
    (".azure.com", "azure"),
    (".azure.cn", "azure"),
    (".azure.us", "azure"),
    (".azure.net", "azure"),
    (".windows.net", "azure"),
    (".chinacloudapi.cn", "azure"),
    (".usgovcloudapi.net", "azure"),
    (".azureml.ms", "aml"),
)


def kind_for(fqdn: str, declared: str | None) -> str:
    """The profile's ``service:`` if given, else the kind the host's suffix implies."""
    if declared:
        return declared
    name = fqdn.lower().rstrip(".")
    for suffix, kind in _SUFFIXES:
        if name == suffix.lstrip(".") or name.endswith(
            suffix if suffix[0] == "." else "." + suffix
        ):
            return kind
    return "generic"


# -- Azure's documented certificate authorities ---------------------------------------------------
#: issuer common names of the root and issuing CAs Azure services present certificates from
#: (DOCS_AZURE_CAS; the Azure China and US Gov services use the same DigiCert/Microsoft roots).
#: A leaf issued by anything else was re-signed on the way: an inspecting proxy or a mirror.
AZURE_ISSUERS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        r"^Microsoft Azure (RSA |ECC )?TLS Issuing CA \d{2}$",
        r"^Microsoft (RSA|ECC) TLS CA \d{2}$",
        r"^Microsoft TLS G2 (RSA|ECC) CA OCSP \d{2}$",
        r"^Microsoft TLS (RSA|ECC) Root G2$",
        r"^Microsoft (RSA|ECC) Root Certificate Authority 2017$",
        r"^Microsoft Azure (RSA|ECC) TLS Issuing CA \d{2}$",
        r"^DigiCert Global Root (CA|G2|G3)$",
        r"^DigiCert (Global G2|Global G3|TLS RSA SHA256 2020|TLS Hybrid ECC SHA384 2020) .*CA1$",
        r"^DigiCert (SHA2 Secure Server CA|Cloud Services CA-1|Basic RSA CN CA G2|"
        r"Secure Site CN CA G3|Basic ECC CN CA G2)$",
        r"^GeoTrust (Global TLS RSA4096 SHA256 2022 CA1|CN RSA CA G1)$",
        r"^Baltimore CyberTrust Root$",
    )
)


def azure_issuer(issuer_cn: str) -> bool:
    """Whether a certificate's issuer is one of the CAs Azure documents."""
    return any(p.match(issuer_cn.strip()) for p in AZURE_ISSUERS)


# -- proxies answering for themselves -------------------------------------------------------------
#: headers that proxy products put on answers they make themselves (error and block pages)
PROXY_MARKS = ("x-squid-error", "x-zscaler-*", "x-bluecoat-*", "x-iwsaas-*", "x-forcepoint-*")
_PROXY_SERVERS = re.compile(
    r"squid|tinyproxy|zscaler|bluecoat|forcepoint|mcafee web gateway|fortigate|"
    r"palo ?alto|netskope|websense|proxy",
    re.IGNORECASE,
)
_BLOCK_WORDS = re.compile(
    r"\b(blocked|access denied|access to this site|not permitted|web filter|"
    r"policy violation|forbidden by (your|the) (organization|administrator))",
    re.IGNORECASE,
)


def proxy_made(answer: HttpAnswer) -> list[str]:
    """The signs that a proxy made this answer itself (an error or block page)."""
    signs = []
    for mark in PROXY_MARKS:
        if mark.endswith("*"):
            signs += [f"header {h}" for h in answer.headers if h.startswith(mark[:-1])]
        elif mark in answer.headers:
            signs.append(f"header {mark}: {answer.headers[mark][:60]}")
    server = answer.header("server")
    if server and _PROXY_SERVERS.search(server):
        signs.append(f"Server: {server[:60]}")
    return signs


def block_words(answer: HttpAnswer) -> str | None:
    """The phrase of a block page in the answer's body, if any."""
    match = _BLOCK_WORDS.search(answer.text)
    return match.group(0) if match else None
