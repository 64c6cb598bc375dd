"""``azure.credentials``: which Azure token this run uses, and whether it is for the profile's
cloud, so that a wrong-cloud sign-in shows as one clear finding instead of a 401 on every call.

The token comes from the first source that has one (the ARM client tries them in this order):
``AZURE_ACCESS_TOKEN``, the Azure CLI (``az account get-access-token``), the managed-identity
endpoint (IMDS) when running in Azure. The finding names the source, never the token. When the
token is a JWT its audience and expiry are read (not verified: ARM does that) to catch a token for
another cloud before any call is made.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

from preflight.api import Check, Context, Finding
from preflight.checks._shared.cluster_resource import DOCS_CLI_CLOUDS, arm_skip

SOURCES = {
    "env": "the AZURE_ACCESS_TOKEN environment variable",
    "azure-cli": "the Azure CLI (az account get-access-token)",
    "managed-identity": "the managed-identity endpoint (IMDS)",
}
#: ARM host suffix -> cloud, to name the cloud a token was issued for
CLOUD_SUFFIXES = {
    "chinacloudapi.cn": "AzureChinaCloud",
    "usgovcloudapi.net": "AzureUSGovernment",
    "azure.com": "AzureCloud",
    "windows.net": "AzureCloud",
}


def claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT, unverified; None when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    return data if isinstance(data, dict) else None


def _host(audience: str) -> str:
    host = urlsplit(audience).hostname if "://" in audience else None
    return (host or "").lower()


def audience_matches(token_audience: str, wanted: str) -> bool | None:
    """Whether a token's ``aud`` is ARM of the wanted cloud. ARM takes both of its audiences
    (``management.azure.com`` and the classic ``management.core.windows.net``, and their sovereign
    twins). None when ``aud`` is not a URL (an application id: cannot tell)."""
    got, want = _host(token_audience), _host(wanted)
    if not got or not want:
        return None
    suffix = want.removeprefix("management.")
    classic = {
        "azure.com": "core.windows.net",
        "chinacloudapi.cn": "core.chinacloudapi.cn",
        "usgovcloudapi.net": "core.usgovcloudapi.net",
    }.get(suffix, f"core.{suffix}")
    return got in (want, f"management.{classic}")


def cloud_of(audience: str) -> str | None:
    host = _host(audience)
    for suffix, cloud in CLOUD_SUFFIXES.items():
        if host == suffix or host.endswith("." + suffix):
            return cloud
    return None


class AzureCredentials(Check):
    id = "azure.credentials"
    title = "Azure credentials for the profile's cloud"
    category = "azure"
    docs = DOCS_CLI_CLOUDS  # needs ARM: see azure_common.arm_skip for why it is not declared

    async def run(self, ctx: Context) -> list[Finding]:
        skip = await arm_skip(ctx)
        if skip is not None:
            return [skip]
        token = ctx.arm.token()  # acquired once by arm_skip: no new sign-in here
        assert token is not None
        cloud = ctx.profile.cloud
        audience = ctx.profile.audiences.get("arm", "")
        details: dict[str, Any] = {
            "source": token.source,
            "tried": [{"source": a.source, "outcome": a.outcome} for a in ctx.arm.attempts],
            "profile": ctx.profile.name,
            "profile_cloud": cloud,
            "audience": audience,
            "arm_endpoint": ctx.profile.endpoints.get("arm"),
        }
        if token.source == "azure-cli":
            details["cli_cloud"] = token.cli_cloud
        if token.source == "managed-identity":
            details["imds"] = token.detail
        described = SOURCES.get(token.source, token.source)
        findings: list[Finding] = []
        payload = claims(token.value) or {}
        aud = str(payload.get("aud") or "")
        expiry = payload.get("exp")
        if aud:
            details["token_audience"] = aud
        if isinstance(expiry, int | float):
            details["token_expires"] = dt.datetime.fromtimestamp(expiry, dt.UTC).isoformat()
        matches = audience_matches(aud, audience) if aud else None
        if matches is False:
            other = cloud_of(aud) or "another cloud"
            findings.append(
                Finding.errored(
                    token.source,
                    f"the token from {described} is for {aud} ({other}), but this run is for "
                    f"{cloud} (profile {ctx.profile.name}, audience {audience}): Azure Resource "
                    "Manager will reject it",
                    f"sign in to {cloud}: `az cloud set --name {cloud}` then `az login`, or set "
                    f"AZURE_ACCESS_TOKEN from `az account get-access-token --resource {audience}`",
                    **details,
                )
            )
        elif isinstance(expiry, int | float) and expiry < dt.datetime.now(dt.UTC).timestamp():
            findings.append(
                Finding.errored(
                    token.source,
                    f"the token from {described} expired at {details['token_expires']}",
                    "get a fresh one (`az account get-access-token`, or `az login`)",
                    **details,
                )
            )
        else:
            findings.append(
                Finding.passed(
                    token.source,
                    f"a token for {cloud} ({audience}) comes from {described}",
                    **details,
                )
            )
        if token.source == "azure-cli" and token.cli_cloud and token.cli_cloud != cloud:
            findings.append(
                Finding.warned(
                    "az cloud",
                    f"the Azure CLI's active cloud is {token.cli_cloud}, but this run is for "
                    f"{cloud} (profile {ctx.profile.name}): `az` commands run next (az "
                    "k8s-extension create) would go to the wrong cloud",
                    f"az cloud set --name {cloud} && az login",
                    DOCS_CLI_CLOUDS,
                    **details,
                )
            )
        return findings


CHECKS = [AzureCredentials()]
