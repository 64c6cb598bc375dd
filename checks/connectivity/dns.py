"""``dns.resolve``: every profile host resolves, and if not, why not.

NXDOMAIN (the resolver says the name does not exist: a missing conditional forwarder or private
DNS zone), no data, timeout (the DNS server is unreachable), REFUSED and SERVFAIL lead to different
fixes, so each is its own message. Addresses are reported, not judged: a private answer is normal
with private endpoints; 0.0.0.0 is a sinkhole and fails.
"""

from __future__ import annotations

from preflight.api import (
    UNUSABLE,
    Check,
    Context,
    Finding,
    Host,
    Status,
    classify_address,
)
from preflight.checks._shared.cluster_hosts import cluster_hosts

DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall"


async def run_hosts(ctx: Context, check: str) -> tuple[list[Host], Finding | None]:
    """The profile's hosts and those the cluster's own Azure configuration adds (Container
    Insights, managed Prometheus: checks/_shared/cluster_hosts.py), and, when a named cluster's
    configuration could not be read, the finding that says those are not known."""
    extra = await cluster_hosts(ctx)
    return [*ctx.hosts(), *extra.hosts], extra.note(check)


def missing_parameter(host: Host) -> Finding:
    sets = " ".join(f"--set {name}=<name>" for name in host.missing)
    return Finding.skipped(
        host.target,
        f"not checked: {host.spec.template} needs {', '.join(host.missing)}",
        f"{sets} to check {host.spec.template}",
        **host.details(),
    )


def zone_of(fqdn: str) -> str:
    labels = fqdn.split(".")
    return ".".join(labels[1:]) if len(labels) > 2 else fqdn


def _unreachable(host: Host) -> Status:
    return Status.FAIL if host.required else Status.WARN


def usable_addresses(addresses: list[str]) -> list[str]:
    """The addresses a TCP connection can go to (no sinkholes, multicast or reserved ranges)."""
    return [a for a in addresses if classify_address(a) not in UNUSABLE]


def private_link_zone(cnames: list[str]) -> str | None:
    """The ``privatelink.`` zone a CNAME chain passes through (the name's private endpoint):
    ``myacr.privatelink.azurecr.io`` -> ``privatelink.azurecr.io``."""
    for name in cnames:
        labels = name.lower().rstrip(".").split(".")
        if "privatelink" in labels:
            return ".".join(labels[labels.index("privatelink") :])
    return None


#: address classes that mean "not the private endpoint" behind a privatelink CNAME
_PUBLIC = {"public", "special"}


class DnsResolve(Check):
    id = "dns.resolve"
    title = "DNS resolves every required host"
    category = "connectivity"
    needs = ("network",)
    docs = DOCS
    #: ``preflight probe`` runs it by default from every node pool (``--in-cluster``)
    vantage_dependent = True

    async def run(self, ctx: Context) -> list[Finding]:
        server = ctx.dns.describe()
        hosts, note = await run_hosts(ctx, self.id)
        findings = await ctx.probe_each(
            hosts, lambda host: self._probe(ctx, host, server), lambda h: h.target
        )
        return [*findings, *([note] if note is not None else [])]

    async def _probe(self, ctx: Context, host: Host, server: str) -> Finding:
        if host.fqdn is None:
            return missing_parameter(host)
        result = await ctx.dns.resolve(host.fqdn)
        details = {**host.details(), **result.to_details(), "resolver": server}
        details["vantage"] = ctx.vantage
        details["duration_ms"] = round(result.elapsed_s * 1000, 1)
        zone = zone_of(host.fqdn)
        status = _unreachable(host)
        docs = host.spec.docs or DOCS
        proxy = ctx.proxies.for_host(host.fqdn, host.port, host.tls)
        if proxy is not None:
            details["proxied"] = proxy.display
        private_zone = private_link_zone(result.cnames)
        if private_zone:
            details["private_link_zone"] = private_zone
        if not result.ok:
            # only a proxy that resolves names itself (http, https, socks5h, socks4a) makes a
            # local failure moot; socks5:// and socks4:// are handed what resolves here
            if proxy is not None and proxy.remote_dns:
                details["decided_by"] = "egress.https"
                return Finding.skipped(
                    host.fqdn,
                    f"not judged here: {server} cannot resolve {host.fqdn} ({result.outcome}), "
                    f"but this run reaches it through the proxy {proxy.display}, which resolves "
                    "names itself; egress.https decides whether the host is reachable",
                    "nothing, if egress.https passes for this host; the cluster's nodes resolve "
                    "names themselves unless they use the same proxy (see azure.outbound)",
                    **details,
                )
            message, remedy = _explain(
                result.outcome, host.fqdn, zone, server, result.error, result.cnames, host
            )
            return Finding(status, host.fqdn, message, remedy, docs, details=details)
        classes = {a: classify_address(a) for a in result.addresses}
        details["address_classes"] = classes
        unusable = [a for a, c in classes.items() if c in UNUSABLE]
        usable = [a for a, c in classes.items() if c not in UNUSABLE]
        kinds = sorted({classes[a] for a in unusable})
        if unusable and not usable:
            return Finding(
                status,
                host.fqdn,
                f"resolves only to {', '.join(unusable)} ({', '.join(kinds)}): a DNS sinkhole "
                "(blocked by a DNS filter) or a broken record, not a host",
                f"remove {host.fqdn} (or {zone}) from the DNS filter / block list of {server}, "
                "or fix its record",
                docs,
                details=details,
            )
        if unusable:
            return Finding.warned(
                host.fqdn,
                f"resolves to {', '.join(result.addresses)}: {', '.join(unusable)} "
                f"({', '.join(kinds)}) beside real addresses; clients that pick "
                f"{unusable[0]} fail (a DNS filter answering next to the real record?)",
                f"remove {host.fqdn} from the DNS filter of {server}, or fix the record so it "
                "holds only routable addresses",
                docs,
                **details,
            )
        via = f" via {' -> '.join(result.cnames)}" if result.cnames else ""
        if private_zone:
            public = [a for a in usable if classes[a] in _PUBLIC]
            if public:
                return Finding.warned(
                    host.fqdn,
                    f"{host.fqdn} has a private endpoint (CNAME into {private_zone}), but "
                    f"{server} answers with the public address {', '.join(public)}: this "
                    f"resolver lacks the private DNS zone {private_zone}, so traffic goes to the "
                    "public endpoint, which is usually closed",
                    f"link the private DNS zone {private_zone} to the virtual network of the "
                    f"resolver, or on a custom DNS server add a conditional forwarder for "
                    f"{_public_zone(private_zone)} to Azure DNS (168.63.129.16) from inside that "
                    "virtual network",
                    _PRIVATE_DNS_DOCS,
                    **details,
                )
            return Finding.passed(
                host.fqdn,
                f"resolves to the private endpoint {', '.join(result.addresses)}{via} "
                f"(zone {private_zone})",
                **details,
            )
        private = [a for a, c in classes.items() if c == "private"]
        note = " (private address: a private endpoint?)" if private else ""
        if proxy is not None:
            note += f"; this run reaches it through the proxy {proxy.display}"
        return Finding.passed(
            host.fqdn, f"resolves to {', '.join(result.addresses)}{via}{note}", **details
        )


_PRIVATE_DNS_DOCS = "https://learn.microsoft.com/azure/private-link/private-endpoint-dns"


def _public_zone(private_zone: str) -> str:
    """``privatelink.azurecr.io`` -> ``azurecr.io`` (the zone to forward)."""
    return private_zone.split(".", 1)[1] if "." in private_zone else private_zone


def _explain(
    outcome: str, fqdn: str, zone: str, server: str, error: str, cnames: list[str], host: Host
) -> tuple[str, str]:
    last = cnames[-1] if cnames else fqdn
    forwarder = (
        f"if {server} is a custom DNS server, add a conditional forwarder for {zone} "
        "to Azure DNS (168.63.129.16) or your upstream resolver"
    )
    typo = ""
    if host.spec.placeholders:
        typo = f"; check the value of {', '.join(host.spec.placeholders)} (it forms {fqdn})"
    if outcome == "nxdomain":
        chain = f" (followed CNAMEs to {last})" if cnames else ""
        hint = ""
        if "privatelink" in last:
            hint = (
                f"; the private DNS zone {zone_of(last)} is not linked to the resolver's "
                "virtual network or lacks the record"
            )
        return (
            f"NXDOMAIN: {server} says {fqdn} does not exist{chain}",
            f"{forwarder}{hint}{typo}",
        )
    if outcome == "nodata":
        return (
            f"{fqdn} exists but has no A or AAAA record at {server}",
            f"add the address record for {last} in its zone, or fix the record type; {forwarder}",
        )
    if outcome == "timeout":
        return (
            f"no DNS answer for {fqdn} from {server} ({error})",
            "make sure this machine reaches its DNS server on UDP and TCP 53 (firewall, NSG), "
            "or name a reachable one with --nameserver",
        )
    if outcome == "refused":
        return (
            f"{server} refused to resolve {fqdn} ({error})",
            "allow recursive queries from this client's network on that DNS server, or use a "
            "resolver that serves it (--nameserver)",
        )
    if outcome == "truncated":
        return (
            f"no usable DNS answer for {fqdn} from {server}: {error}",
            "allow TCP port 53 to the DNS server (large answers, e.g. long CNAME chains, need "
            "it), or trim the record",
        )
    if outcome == "servfail":
        return (
            f"SERVFAIL for {fqdn} from {server}: the server could not get an answer upstream",
            f"check the forwarder or upstream resolver for {zone} (and DNSSEC validation) on "
            "that DNS server",
        )
    if outcome == "invalid":
        return (
            f"{fqdn!r} is not a valid DNS host name",
            f"check the parameters that form it (template {host.spec.template})",
        )
    return (f"resolving {fqdn} failed: {error}", f"check the DNS configuration of {server}")


CHECKS = [DnsResolve()]
