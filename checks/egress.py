"""``egress.https``: every profile host accepts TCP, TLS (verified, SNI) and answers HTTP.

Any HTTP status proves the path: a 404 from mcr.microsoft.com means the firewall let us through.
Each failure names the phase where the path closed (dns, proxy, connect, tls, http), because each
has a different owner: the DNS team, the proxy team, the firewall team.
"""

from __future__ import annotations

import ssl

from preflight.api import (
    Check,
    Context,
    Finding,
    Host,
    ProbeResult,
    Status,
    classify_address,
    probe_endpoint,
)

from .dns import DOCS, missing_parameter

FIREWALL_DOCS = "https://learn.microsoft.com/azure/aks/outbound-rules-control-egress"


class EgressHttps(Check):
    id = "egress.https"
    title = "Outbound HTTPS reaches every required host"
    category = "connectivity"
    needs = ("network",)
    docs = DOCS

    async def run(self, ctx: Context) -> list[Finding]:
        tls = ctx.tls_context()
        return await ctx.probe_each(
            ctx.hosts(), lambda host: self._probe(ctx, host, tls), lambda h: h.target
        )

    async def _probe(self, ctx: Context, host: Host, tls: ssl.SSLContext) -> Finding:
        if host.fqdn is None:
            return missing_parameter(host)
        status = Status.FAIL if host.required else Status.WARN
        docs = host.spec.docs or DOCS
        details = {**host.details(), "vantage": ctx.vantage}
        proxy = ctx.proxies.for_host(host.fqdn, host.port, host.tls)
        addresses: list[str] = []
        if proxy is None:
            resolution = await ctx.dns.resolve(host.fqdn)
            details["dns"] = resolution.outcome
            if not resolution.ok:
                details["phase"] = "dns"
                return Finding(
                    status,
                    host.fqdn,
                    f"not tested: {host.fqdn} does not resolve ({resolution.outcome})",
                    "fix name resolution first (see the dns.resolve finding for this host)",
                    docs,
                    details=details,
                )
            addresses = [a for a in resolution.addresses if classify_address(a) != "sinkhole"]
            if not addresses:
                details["phase"] = "dns"
                return Finding(
                    status,
                    host.fqdn,
                    f"not tested: {host.fqdn} resolves only to a sinkhole",
                    "remove the name from the DNS filter (see dns.resolve)",
                    docs,
                    details=details,
                )
        result = await probe_endpoint(
            host.fqdn,
            host.port,
            addresses=addresses,
            tls_context=tls if host.tls else None,
            proxy=proxy,
            timeout=ctx.timeout,
        )
        details.update(result.to_details())
        scheme = "HTTPS" if host.tls else "HTTP"
        via = f" via proxy {result.proxy}" if result.proxy else ""
        if result.ok:
            total = round(sum(result.timings_ms.values()), 1)
            return Finding.passed(
                host.fqdn,
                f"{scheme} path open{via}: HTTP {result.http_status} in {total:g} ms",
                **details,
            )
        message, remedy = _explain(result, host, scheme, via)
        docs = FIREWALL_DOCS if result.phase == "connect" and not host.spec.docs else docs
        return Finding(status, host.fqdn, message, remedy, docs, details=details)


def _explain(r: ProbeResult, host: Host, scheme: str, via: str) -> tuple[str, str]:
    phase, kind, error = r.phase, r.kind, r.error
    rule = f"{host.rule}:{host.port}"
    allow = (
        f"allow outbound TCP {host.port} to {host.rule} on the firewall "
        f"(an application rule for FQDN {host.rule}, or the service tag where one exists)"
    )
    if phase == "proxy":
        if kind == "denied":
            return (
                f"the proxy refused the tunnel: {error}",
                f"allow CONNECT to {rule} in the proxy's allow list (and port {host.port} "
                "among its permitted CONNECT ports), or add the host to NO_PROXY if it must "
                "go direct",
            )
        if kind == "auth":
            return (
                f"the proxy wants credentials: {error}",
                "give them in the proxy URL (--proxy http://user:password@proxy:port or "
                "HTTPS_PROXY); they are redacted from every report",
            )
        return (
            f"the proxy could not be used: {error}",
            "check the proxy address and port (--proxy or HTTPS_PROXY), and that this "
            "machine may reach it",
        )
    if phase == "connect":
        if kind == "timeout":
            return (
                f"{scheme} to {host.fqdn}:{host.port} is blocked: {error}",
                f"{allow}; if egress must use a proxy, pass --proxy or set HTTPS_PROXY",
            )
        if kind == "refused":
            return (
                f"{host.fqdn}:{host.port} refused the connection: {error}",
                f"{allow}; a firewall may be rejecting, or DNS points at the wrong address "
                f"({', '.join(r.attempts[0].values()) if r.attempts else 'no address'})",
            )
        return (
            f"cannot connect to {host.fqdn}:{host.port}: {error}",
            f"{allow}; check routing (UDR) from this network to the internet or firewall",
        )
    if phase == "tls":
        cert = r.presented_certificate
        issuer = cert.get("issuer") if cert else None
        if kind == "untrusted":
            shown = f" issued by {issuer!r}" if issuer else ""
            return (
                f"TLS-inspecting proxy? {host.fqdn} presented a certificate{shown} from an "
                f"unknown issuer ({error})",
                "if your network inspects TLS, pass its root CA with --ca-bundle "
                "corp-ca.pem (the cluster nodes must trust it too), or exempt "
                f"{host.rule} from inspection; otherwise something is intercepting the "
                "connection",
            )
        if kind == "expired":
            return (
                f"{host.fqdn} presented an expired certificate{via}: {error}",
                "if a proxy or firewall re-signs TLS, renew its certificate; otherwise the "
                "traffic is not reaching the real service",
            )
        if kind == "hostname":
            names = ", ".join(cert.get("dns_names", [])) if cert else "unknown"
            return (
                f"{host.fqdn} presented a certificate for other names ({names}){via}",
                "DNS or a proxy is sending this name to the wrong server: check the DNS answer "
                "and any private endpoint records",
            )
        return (
            f"TLS with {host.fqdn} failed{via}: {error}",
            f"a firewall filtering by SNI may be dropping the handshake: {allow}",
        )
    return (
        f"{host.fqdn} accepted TLS{via} but did not answer HTTP: {error}",
        f"something between here and {host.fqdn} holds the request (an inspecting proxy or "
        "IPS): check its logs for this host",
    )


CHECKS = [EgressHttps()]
