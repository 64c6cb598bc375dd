"""``egress.https``: every profile host answers HTTP from the origin, directly or via a proxy.

A status code proves a path only when the origin sent it (docs/DESIGN.md, "What proves a network
path"). The probe (``preflight.clients.net``) records who verified the certificate and what came
back; this check judges it with the service table (``services.py``):

- the service's own refusal of this network (ACR ``DENIED``, Storage ``AuthorizationFailure``,
  Key Vault ``ForbiddenByFirewall``, a workspace without public access) is a closed path;
- a certificate that verifies only through ``--ca-bundle``, or an Azure host whose certificate
  does not come from a CA Azure documents, means the TLS session ended at an inspecting proxy or
  a mirror: its 502/503/504, its own error pages and block pages are not the origin's answer,
  and the cluster must trust that CA too (``httpProxyConfig.trustedCa`` / Arc ``--proxy-cert``);
- plain HTTP through a proxy is sent as an absolute-URI GET, and the proxy's own error page
  (``X-Squid-Error`` ...) is told from the origin's answer.

Each failure names the phase where the path closed (dns, proxy, connect, tls, http), because each
has a different owner: the DNS team, the proxy team, the firewall team, the service's owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from preflight.api import (
    Check,
    Context,
    Finding,
    Host,
    ProbeResult,
    Status,
    Trust,
    classify_address,
    probe_endpoint,
    verifies_with,
)
from preflight.checks._shared.cluster_resource import cluster_trust
from preflight.checks.connectivity.dns import DOCS, missing_parameter, run_hosts, usable_addresses
from preflight.checks.connectivity.services import (
    DOCS_AZURE_CAS,
    SERVICES,
    Service,
    azure_issuer,
    block_words,
    kind_for,
    proxy_made,
)

FIREWALL_DOCS = "https://learn.microsoft.com/azure/aks/outbound-rules-control-egress"
#: the trust source named when a chain verifies through the cluster's own trusted CAs
TRUSTED_CA = "httpProxyConfig.trustedCa"
PROXY_DOCS = "https://learn.microsoft.com/azure/aks/http-proxy"
ARC_PROXY_DOCS = (
    "https://learn.microsoft.com/azure/azure-arc/kubernetes/quickstart-connect-cluster"
    "#connect-using-an-outbound-proxy-server"
)


@dataclass
class Verdict:
    """How an answer is judged: ``open`` (pass), ``closed`` (the host's failure status),
    ``unsure`` (warn: the evidence does not say whose answer it was)."""

    outcome: str
    message: str
    remediation: str = ""
    docs: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    #: TLS ended at a CA the cluster must trust as well (its issuer), to be checked
    inspected_by: str | None = None


class EgressHttps(Check):
    id = "egress.https"
    title = "Outbound HTTPS reaches every required host"
    category = "connectivity"
    needs = ("network",)
    docs = DOCS
    #: ``preflight probe`` runs it by default from every node pool (``--in-cluster``)
    vantage_dependent = True
    host_services = {kind: service.title for kind, service in SERVICES.items()}

    async def run(self, ctx: Context) -> list[Finding]:
        trust = ctx.trust()
        hosts, note = await run_hosts(ctx, self.id)
        findings = await ctx.probe_each(
            hosts, lambda host: self._probe(ctx, host, trust), lambda h: h.target
        )
        return [*findings, *([note] if note is not None else [])]

    async def _probe(self, ctx: Context, host: Host, trust: Trust) -> Finding:
        if host.fqdn is None:
            return missing_parameter(host)
        closed = Status.FAIL if host.required else Status.WARN
        docs = host.spec.docs or DOCS
        service = SERVICES[kind_for(host.fqdn, host.spec.service)]
        details: dict[str, Any] = {**host.details(), "vantage": ctx.vantage}
        details["service"] = service.kind
        proxy = ctx.proxies.for_host(host.fqdn, host.port, host.tls)
        addresses: list[str] = []
        # a socks5:// or socks4:// proxy is handed addresses resolved here; the others resolve
        # names themselves (and an unusable proxy setting fails in the probe, naming itself)
        if proxy is None or not (proxy.remote_dns or proxy.error):
            resolution = await ctx.dns.resolve(host.fqdn)
            details["dns"] = resolution.outcome
            if not resolution.ok:
                details["phase"] = "dns"
                return Finding(
                    closed,
                    host.fqdn,
                    f"not tested: {host.fqdn} does not resolve ({resolution.outcome})",
                    "fix name resolution first (see the dns.resolve finding for this host)",
                    docs,
                    details=details,
                )
            addresses = usable_addresses(resolution.addresses)
            if not addresses:
                details["phase"] = "dns"
                classes = sorted({classify_address(a) for a in resolution.addresses})
                return Finding(
                    closed,
                    host.fqdn,
                    f"not tested: {host.fqdn} resolves only to unusable addresses "
                    f"({', '.join(resolution.addresses)}: {', '.join(classes)})",
                    "remove the name from the DNS filter or fix its record (see dns.resolve)",
                    docs,
                    details=details,
                )
        host_trust = trust
        kube = ctx.options.kube_target
        if (
            service.kind == "kubernetes"
            and kube is not None
            and kube.ca_pem
            and (kube.server_host or "").lower() == host.fqdn
        ):
            host_trust = trust.with_extra("kubeconfig", kube.ca_pem)
        result = await probe_endpoint(
            host.fqdn,
            host.port,
            addresses=addresses,
            trust=host_trust if host.tls else None,
            proxy=proxy,
            timeout=ctx.timeout,
            path=service.path,
            proxy_tls=trust.combined,
        )
        if not result.ok and result.kind == "untrusted" and host.tls:
            # the cluster's own trusted CAs (AKS httpProxyConfig.trustedCa) count as a trust
            # source too: a chain they verify ends at the cluster's inspecting proxy
            known = await cluster_trust(ctx)
            if known.certificates:
                retried = await probe_endpoint(
                    host.fqdn,
                    host.port,
                    addresses=addresses,
                    trust=host_trust.with_extra(TRUSTED_CA, known.certificates),
                    proxy=proxy,
                    timeout=ctx.timeout,
                    path=service.path,
                    proxy_tls=trust.combined,
                )
                if retried.ok:
                    result = retried
                    host_trust = host_trust.with_extra(TRUSTED_CA, known.certificates)
        details.update(result.to_details())
        scheme = "HTTPS" if host.tls else "HTTP"
        if not result.ok:
            message, remedy = _explain(result, host, scheme, proxy is not None)
            if result.phase == "connect" and not host.spec.docs:
                docs = FIREWALL_DOCS
            return Finding(closed, host.fqdn, message, remedy, docs, details=details)
        verdict = judge(result, service, host, scheme)
        if verdict.inspected_by is not None and verdict.outcome == "open":
            verdict = await _with_cluster_trust(ctx, verdict, result, host, service, host_trust)
        details.update(verdict.details)
        if verdict.outcome == "open":
            return Finding(Status.PASS, host.fqdn, verdict.message, details=details)
        status = closed if verdict.outcome == "closed" else Status.WARN
        return Finding(
            status,
            host.fqdn,
            verdict.message,
            verdict.remediation,
            verdict.docs or docs,
            details=details,
        )


# -- judging an answer ----------------------------------------------------------------------------


def judge(r: ProbeResult, service: Service, host: Host, scheme: str) -> Verdict:
    """Whose answer came back, and what it says about the path (see the module docstring)."""
    answer = r.answer
    assert answer is not None and host.fqdn is not None
    status = answer.status
    via = f" via proxy {r.proxy}" if r.proxy else ""
    marks = service.marked(answer)
    evidence: dict[str, Any] = {"origin_marks": marks}
    issuer = str(r.tls.get("issuer_cn") or r.tls.get("issuer") or "")
    inspected_by: str | None = None
    why_inspected = ""
    if r.trust not in (None, "system", "kubeconfig"):
        inspected_by = issuer
        why_inspected = (
            f"the certificate for {host.fqdn} verifies only through {r.trust} (issuer "
            f"{issuer!r}): the TLS session ends at whoever holds that CA, an inspecting proxy"
        )
    elif service.azure_ca and r.tls and not azure_issuer(str(r.tls.get("issuer_cn") or "")):
        inspected_by = issuer
        why_inspected = (
            f"{host.fqdn} presented a certificate issued by {issuer!r}, which is not one of the "
            "CAs Azure services use: the TLS session ends at an inspecting proxy or a mirror "
            f"({'trusted through ' + r.trust if r.trust else 'trusted by this machine'})"
        )
    if inspected_by is not None:
        evidence["inspected_by"] = inspected_by
        evidence["inspection"] = why_inspected
    proxy_may_answer = inspected_by is not None or r.mode == "forward"
    who = _who(r, inspected_by)

    for refusal in service.closed:
        if refusal.matches(answer):
            return Verdict(
                "closed",
                f"{service.title} at {host.fqdn} refuses this network{via}: {refusal.meaning} "
                f"(HTTP {status})",
                refusal.remediation,
                refusal.docs,
                {**evidence, "closed_by": "service"},
            )
    made_by_proxy = proxy_made(answer)
    if proxy_may_answer and not marks:
        if status in (502, 503, 504):
            return Verdict(
                "closed",
                f"{who} answered HTTP {status} for {host.fqdn} itself: it could not reach the "
                f"origin (the answer carries none of {service.title}'s marks)",
                f"let {who} reach {host.rule}:{host.port} (its firewall, upstream proxy or DNS), "
                f"or exempt {host.rule} from inspection; the proxy's logs name the cause",
                PROXY_DOCS,
                {**evidence, "closed_by": "proxy"},
            )
        if made_by_proxy and status >= 400:
            return Verdict(
                "closed",
                f"{who} refused {host.fqdn} with its own error page (HTTP {status}; "
                f"{', '.join(made_by_proxy)})",
                f"allow {host.rule}:{host.port} in the proxy's policy (or its allowed ports), "
                "or reach the host without the proxy (NO_PROXY)",
                PROXY_DOCS,
                {**evidence, "closed_by": "proxy", "proxy_marks": made_by_proxy},
            )
        phrase = block_words(answer)
        if answer.looks_like_html and (service.marks or service.body_mark or phrase):
            hint = f" ({phrase!r})" if phrase else ""
            if service.marks or service.body_mark:
                return Verdict(
                    "closed",
                    f"{who} served its own HTML page for {host.fqdn} (HTTP {status}){hint}: a "
                    f"block page, not {service.title}'s answer (none of its marks: "
                    f"{', '.join(service.marks) or 'its body'})",
                    f"allow {host.rule} in the proxy's URL filter / TLS inspection policy",
                    PROXY_DOCS,
                    {**evidence, "closed_by": "proxy"},
                )
            return Verdict(
                "unsure",
                f"{who} returned an HTML page for {host.fqdn} (HTTP {status}){hint} that looks "
                "like a block page; whose answer it was cannot be told",
                f"read the page in details.answer.body_prefix; if it is the proxy's, allow "
                f"{host.rule} in its policy",
                PROXY_DOCS,
                {**evidence, "closed_by": "unknown"},
            )
    if inspected_by is not None and (service.marks or service.body_mark) and not marks:
        return Verdict(
            "unsure",
            f"{host.fqdn} answered HTTP {status} through {who}, without any of "
            f"{service.title}'s marks ({', '.join(service.marks) or 'its body'}): whose answer "
            "it was cannot be told",
            f"check the answer in details; exempt {host.rule} from TLS inspection, or run "
            "from a network without the proxy to compare",
            PROXY_DOCS,
            evidence,
        )
    total = round(sum(r.timings_ms.values()), 1)
    note = service.open_note or "the host answered"
    if service.rbac_refusal(answer):
        note += " (an authorization refusal: the path is open, credentials decide the rest)"
    proof = _proof(r, marks, issuer)
    message = f"{scheme} path open{via}: HTTP {status} in {total:g} ms; {note} ({proof})"
    if not answer.body_complete and answer.body_error:
        return Verdict(
            "unsure",
            f"{host.fqdn} answered HTTP {status}{via}, but {answer.body_error}: something on "
            "the path (an IPS or proxy) may be holding the response",
            f"check the proxy or IPS between here and {host.rule} for this host",
            details={**evidence, "evidence": proof},
        )
    return Verdict(
        "open", message, details={**evidence, "evidence": proof}, inspected_by=inspected_by
    )


def _who(r: ProbeResult, inspected_by: str | None) -> str:
    if r.proxy and inspected_by:
        return f"the inspecting proxy {r.proxy} (CA {inspected_by!r})"
    if r.proxy:
        return f"the proxy {r.proxy}"
    if inspected_by:
        return f"the device holding CA {inspected_by!r} (transparent TLS inspection or a mirror)"
    return "the host"


def _proof(r: ProbeResult, marks: list[str], issuer: str) -> str:
    parts = []
    if r.tls:
        source = r.trust or "system"
        parts.append(f"TLS verified by the {source} store, issuer {issuer!r}")
    if marks:
        parts.append(f"the service's own marks: {', '.join(marks)}")
    if r.mode == "forward":
        parts.append("plain HTTP handed to the proxy; no proxy error marks")
    return "; ".join(parts) or "plain HTTP straight from the host"


async def _with_cluster_trust(
    ctx: Context, verdict: Verdict, r: ProbeResult, host: Host, service: Service, trust: Trust
) -> Verdict:
    """An answer that came through inspection: open here, but will the cluster trust the CA?"""
    assert host.fqdn is not None
    known = await cluster_trust(ctx)
    others = [der for extra in trust.extras for der in extra.certificates]
    details = dict(verdict.details)
    ca = verdict.inspected_by
    if known.known:
        details["cluster_trust"] = known.source
        if verifies_with(r.leaf_der, host.fqdn, known.certificates, others):
            details["cluster_trusts_ca"] = True
            return Verdict(
                "open",
                verdict.message + f"; TLS inspected by {ca!r}, which the cluster trusts "
                f"({known.source})",
                details=details,
            )
        details["cluster_trusts_ca"] = False
        return Verdict(
            "unsure",
            f"{host.fqdn} answered, but TLS to it is inspected by {ca!r} and the cluster does "
            f"not trust that CA ({known.source}): image pulls and the extension's calls from "
            'the nodes will fail with "x509: certificate signed by unknown authority"',
            "add the inspecting proxy's root CA to the cluster: `az aks update "
            "--http-proxy-config FILE` with trustedCa (base64 PEM), or exempt "
            f"{host.rule} from TLS inspection",
            PROXY_DOCS,
            details,
        )
    details["cluster_trusts_ca"] = None
    details["cluster_trust"] = known.why
    if r.trust not in (None, "system"):
        # the user named the inspecting CA (--ca-bundle): the origin's answer came through it,
        # which proves the path from here; what the nodes trust is the open question, said
        return Verdict(
            "open",
            verdict.message + f"; TLS inspected by {ca!r} (given with {r.trust}): the cluster's "
            "nodes must trust it too (not checked: see details.cluster_trust)",
            details=details,
        )
    return Verdict(
        "unsure",
        f"{host.fqdn} answered HTTP {r.http_status} through TLS inspection by {ca!r}, not "
        "a CA Azure uses: the nodes must trust that CA too or image pulls and the extension's "
        'calls fail with "x509: certificate signed by unknown authority"; not checked: '
        f"{known.why}",
        "give the cluster the inspecting CA (AKS: `az aks update --http-proxy-config FILE` with "
        "trustedCa; Arc: `az connectedk8s connect --proxy-cert FILE`) and name the cluster so "
        f"preflight can confirm it; or exempt {host.rule} from inspection. Azure's CAs: "
        f"{DOCS_AZURE_CAS}",
        PROXY_DOCS,
        details,
    )


# -- failures before an answer --------------------------------------------------------------------


def _explain(r: ProbeResult, host: Host, scheme: str, proxied: bool) -> tuple[str, str]:
    phase, kind, error = r.phase, r.kind, r.error
    via = f" via proxy {r.proxy}" if r.proxy else ""
    rule = f"{host.rule}:{host.port}"
    allow = (
        f"allow outbound TCP {host.port} to {host.rule} on the firewall "
        f"(an application rule for FQDN {host.rule}, or the service tag where one exists)"
    )
    if phase == "proxy":
        scheme = r.proxy.split("://", 1)[0] if r.proxy and "://" in r.proxy else "http"
        if kind == "config":
            return (
                f"the proxy setting cannot be used, so {scheme} egress through it was not "
                f"tested: {error}",
                "fix the variable (a URL such as http://proxy:3128, https://proxy:443 or "
                "socks5h://proxy:1080; user:password@ before the host when it needs "
                "credentials), unset it if this machine needs no proxy, or give --proxy",
            )
        if kind == "tls-untrusted":
            return (
                f"the https:// proxy's certificate is not trusted: {error}",
                "pass the CA that signed the proxy's certificate with --ca-bundle (the URL's "
                "host must be a name on that certificate), or use http:// if the proxy also "
                "listens without TLS",
            )
        if kind == "tls":
            return (
                f"no TLS session with the https:// proxy: {error}",
                "check that the port speaks TLS (https:// proxy URLs are for proxies reached "
                "over TLS; most proxies listen in plain HTTP: http://)",
            )
        if r.proxy_reply and kind in ("unreachable", "refused"):
            return (
                f"the SOCKS proxy could not reach {host.fqdn}:{host.port}: {error}",
                f"the proxy's own egress to {rule} is closed: allow outbound TCP {host.port} "
                f"to {host.rule} from the proxy (or its upstream firewall)",
            )
        proxy_page = ""
        if r.proxy_answer is not None:
            signs = proxy_made(r.proxy_answer)
            if signs:
                proxy_page = f" ({', '.join(signs)})"
        if kind == "denied" and r.proxy_reply:
            return (
                f"the SOCKS proxy refused the tunnel: {error}",
                f"allow {rule} in the SOCKS proxy's rules, or add the host to NO_PROXY if it "
                "must go direct",
            )
        if kind == "denied":
            return (
                f"the proxy refused the tunnel: {error}{proxy_page}",
                f"allow CONNECT to {rule} in the proxy's allow list (and port {host.port} "
                "among its permitted CONNECT ports), or add the host to NO_PROXY if it must "
                "go direct",
            )
        if kind == "auth":
            if r.proxy and "@" in r.proxy:
                return (
                    f"the proxy rejected the credentials in the proxy URL: {error}",
                    "check the user name and password in the proxy URL (--proxy or "
                    "HTTPS_PROXY; special characters must be percent-encoded), and that this "
                    "account may use the proxy",
                )
            return (
                f"the proxy wants credentials: {error}",
                f"give them in the proxy URL (--proxy {scheme}://user:password@proxy:port or "
                "HTTPS_PROXY); they are redacted from every report",
            )
        if kind == "garbage":
            return (
                f"the proxy did not speak {'SOCKS' if r.mode == 'socks' else 'HTTP'}: {error}",
                "check that --proxy / HTTPS_PROXY names the proxy's address and port with the "
                "scheme it speaks (http:// for an HTTP proxy, https:// for one reached over TLS, "
                "socks5h:// for SOCKS5)",
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
        subject = cert.get("subject") if cert else None
        if kind == "untrusted":
            shown = f" issued by {issuer!r} for {subject!r}" if issuer else ""
            return (
                f"TLS-inspecting proxy? {host.fqdn} presented a certificate{shown} that no "
                f"trusted CA vouches for ({error})",
                f"if your network inspects TLS, pass the root CA that issued {issuer or 'it'} "
                "with --ca-bundle ca.pem (the cluster must trust it too: "
                "httpProxyConfig.trustedCa on AKS, --proxy-cert on Arc), or exempt "
                f"{host.rule} from inspection; otherwise something is intercepting the "
                "connection",
            )
        if kind == "expired":
            return (
                f"{host.fqdn} presented an expired certificate{via}: {error}"
                + (f" (issuer {issuer!r}, valid until {cert.get('not_after')})" if cert else ""),
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
        if kind == "aborted":
            return (
                f"{host.fqdn} ended the TLS session right after the handshake{via}: {error}",
                "a TLS-inspecting device or the server rejected this client (TLS 1.3 sends "
                "such alerts after the handshake); check the inspection policy for "
                f"{host.rule}",
            )
        return (
            f"TLS with {host.fqdn} failed{via}: {error}",
            f"a firewall filtering by SNI may be dropping the handshake: {allow}",
        )
    return (
        f"{host.fqdn} accepted {'TLS' if host.tls else 'the connection'}{via} but did not "
        f"answer HTTP: {error}",
        f"something between here and {host.fqdn} holds the request (an inspecting proxy or "
        "IPS): check its logs for this host",
    )


CHECKS = [EgressHttps()]
