"""Kubernetes NetworkPolicy semantics, evaluated with what preflight can know before an install
(for ``extension.network-policy``).

As the API reference has it (https://kubernetes.io/docs/concepts/services-networking/
network-policies/): a pod selected by any policy of a type (Ingress, Egress) is isolated for that
type; isolated traffic is allowed if any policy of that type selecting the pod has a rule whose
peers and ports match; policies only add allowances. A policy without ``policyTypes`` has Ingress,
plus Egress when it has egress rules. A rule without ``from``/``to`` matches every peer, without
``ports`` every port; a peer's ``podSelector`` alone means pods of the policy's namespace,
``namespaceSelector`` alone every pod of the matching namespaces, both together pods matching
both; ``ipBlock`` is meant for addresses outside the cluster, and whether it matches pod
addresses is up to the network plugin. An empty node/pod selector term semantics aside, an empty
selector ``{}`` selects everything.

What preflight cannot know is answered "maybe" instead of guessed (three-valued logic: a policy
that may select a pod and may allow the traffic leaves the verdict open): the labels of the
extension's pods before the install (only ``{}`` surely selects them), namespace labels other than
``kubernetes.io/metadata.name``, named ports, ports the docs do not list, pod addresses against
``ipBlock``, and an ``ipBlock`` narrower than ``0.0.0.0/0`` against addresses that are not known.
A policy of a shape this module does not read (``Unreadable``) may select and may allow.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from preflight.checks._shared.pods import as_dict

NO, MAYBE, YES = 0, 1, 2
TYPES = ("Ingress", "Egress")
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def either(values: Iterable[int]) -> int:
    return max(values, default=NO)


def both(values: Iterable[int]) -> int:
    return min(values, default=YES)


class Unreadable(ValueError):
    """A policy field of a shape Kubernetes would not store (the message names it)."""


# -- what is known of each end of a flow ---------------------------------------------------------


@dataclass(frozen=True)
class Pods:
    """Pods of one namespace whose labels are known in part (``complete``: all of them)."""

    namespace: str
    what: str
    labels: Mapping[str, str] = field(default_factory=dict)
    complete: bool = False


@dataclass(frozen=True)
class Outside:
    """Addresses outside the pod network: the API server, the kubelets, Azure, clients."""

    what: str
    addresses: tuple[str, ...] = ()  # known addresses (node IPs); empty: not known
    anywhere: bool = False  # any public address (Azure's hosts, the router's clients)


End = Pods | Outside


@dataclass(frozen=True)
class Port:
    protocol: str
    number: int | None  # None: not documented (whatever port the component uses)

    def __str__(self) -> str:
        return f"{self.protocol} {self.number}" if self.number else f"{self.protocol} (any port)"


# -- the policies ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selector:
    labels: tuple[tuple[str, str], ...]
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...]

    def match(self, known: Mapping[str, str], complete: bool) -> int:
        results = []
        for key, value in self.labels:
            if key in known:
                results.append(YES if known[key] == value else NO)
            else:
                results.append(NO if complete else MAYBE)
        for key, operator, values in self.expressions:
            if key in known:
                present = {
                    "In": known[key] in values,
                    "NotIn": known[key] not in values,
                    "Exists": True,
                    "DoesNotExist": False,
                }[operator]
                results.append(YES if present else NO)
            elif complete:
                results.append(YES if operator in ("NotIn", "DoesNotExist") else NO)
            else:
                results.append(MAYBE)
        return both(results)


@dataclass(frozen=True)
class IpBlock:
    cidr: ipaddress.IPv4Network | ipaddress.IPv6Network
    excepts: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def holds(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return ip in self.cidr and not any(ip in e for e in self.excepts)


@dataclass(frozen=True)
class Peer:
    pods: Selector | None
    namespaces: Selector | None
    block: IpBlock | None


@dataclass(frozen=True)
class PortRule:
    protocol: str
    port: int | str | None
    end: int | None


@dataclass(frozen=True)
class Rule:
    peers: tuple[Peer, ...] | None  # None: every peer
    ports: tuple[PortRule, ...] | None  # None: every port


@dataclass(frozen=True)
class Policy:
    namespace: str
    name: str
    selector: Selector | None  # None: unreadable
    types: frozenset[str]
    rules: Mapping[str, tuple[Rule, ...]]
    problem: str = ""  # why it could not be read

    @property
    def ref(self) -> str:
        return f"NetworkPolicy/{self.namespace}/{self.name}"


def _obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unreadable(f"{where} is a {type(value).__name__}, not an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unreadable(f"{where} is a {type(value).__name__}, not a list")
    return value


def _selector(value: Any, where: str) -> Selector:
    raw = _obj(value, where)
    labels = _obj(raw.get("matchLabels"), where + ".matchLabels")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise Unreadable(f"{where}.matchLabels holds a value that is not text")
    expressions = []
    for index, item in enumerate(_list(raw.get("matchExpressions"), where + ".matchExpressions")):
        spot = f"{where}.matchExpressions[{index}]"
        entry = _obj(item, spot)
        key, operator = entry.get("key"), entry.get("operator")
        values = _list(entry.get("values"), spot + ".values")
        if not isinstance(key, str) or operator not in _OPERATORS:
            raise Unreadable(f"{spot}: key {key!r} with operator {operator!r}")
        expressions.append((key, str(operator), tuple(str(v) for v in values)))
    return Selector(tuple(sorted(labels.items())), tuple(expressions))


def _block(value: Any, where: str) -> IpBlock:
    raw = _obj(value, where)
    try:
        cidr = ipaddress.ip_network(str(raw.get("cidr")), strict=False)
        excepts = tuple(
            ipaddress.ip_network(str(e), strict=False)
            for e in _list(raw.get("except"), where + ".except")
        )
    except ValueError as exc:
        raise Unreadable(f"{where}: {exc}") from None
    return IpBlock(cidr, excepts)


def _peer(value: Any, where: str) -> Peer:
    raw = _obj(value, where)
    pods, spaces, block = raw.get("podSelector"), raw.get("namespaceSelector"), raw.get("ipBlock")
    if block is not None and (pods is not None or spaces is not None):
        raise Unreadable(f"{where} has ipBlock beside a selector")
    if pods is None and spaces is None and block is None:
        raise Unreadable(f"{where} names no podSelector, namespaceSelector or ipBlock")
    return Peer(
        _selector(pods, where + ".podSelector") if pods is not None else None,
        _selector(spaces, where + ".namespaceSelector") if spaces is not None else None,
        _block(block, where + ".ipBlock") if block is not None else None,
    )


def _port(value: Any, where: str) -> PortRule:
    raw = _obj(value, where)
    protocol = raw.get("protocol") or "TCP"
    port, end = raw.get("port"), raw.get("endPort")
    if not isinstance(protocol, str):
        raise Unreadable(f"{where}.protocol is not text")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int | str)):
        raise Unreadable(f"{where}.port is neither a number nor a name")
    if end is not None and (isinstance(end, bool) or not isinstance(end, int)):
        raise Unreadable(f"{where}.endPort is not a number")
    return PortRule(protocol.upper(), port, end)


def _rules(value: Any, peers_key: str, where: str) -> tuple[Rule, ...]:
    rules = []
    for index, item in enumerate(_list(value, where)):
        spot = f"{where}[{index}]"
        raw = _obj(item, spot)
        peers = _list(raw.get(peers_key), f"{spot}.{peers_key}")
        ports = _list(raw.get("ports"), spot + ".ports")
        rules.append(
            Rule(
                tuple(_peer(p, f"{spot}.{peers_key}[{i}]") for i, p in enumerate(peers))
                if peers
                else None,
                tuple(_port(p, f"{spot}.ports[{i}]") for i, p in enumerate(ports))
                if ports
                else None,
            )
        )
    return tuple(rules)


def parse(obj: dict[str, Any]) -> Policy:
    """A NetworkPolicy as the API returns it; an odd one comes back with ``problem`` set (it
    may select and may allow anything)."""
    metadata = as_dict(obj.get("metadata"))
    namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "?")
    try:
        spec = _obj(obj.get("spec"), "spec")
        if "podSelector" not in spec:
            raise Unreadable("spec.podSelector is missing")
        selector = _selector(spec.get("podSelector"), "spec.podSelector")
        raw_types = _list(spec.get("policyTypes"), "spec.policyTypes")
        if any(t not in TYPES for t in raw_types):
            raise Unreadable(f"spec.policyTypes holds {raw_types!r}")
        types = set(raw_types) or {"Ingress", *(["Egress"] if spec.get("egress") else [])}
        rules = {
            "Ingress": _rules(spec.get("ingress"), "from", "spec.ingress"),
            "Egress": _rules(spec.get("egress"), "to", "spec.egress"),
        }
    except Unreadable as exc:
        return Policy(namespace, name, None, frozenset(TYPES), {}, str(exc))
    return Policy(namespace, name, selector, frozenset(types), rules)


# -- evaluation -----------------------------------------------------------------------------------


def selects(policy: Policy, pods: Pods) -> int:
    if policy.namespace != pods.namespace:
        return NO
    if policy.selector is None:
        return MAYBE
    return policy.selector.match(pods.labels, pods.complete)


def _peer_matches(peer: Peer, namespace: str, end: End) -> int:
    if isinstance(end, Outside):
        if peer.block is None:
            return NO
        block = peer.block
        whole = block.cidr.prefixlen == 0 and not block.excepts
        if end.addresses:
            held = {block.holds(a) for a in end.addresses}
            return YES if held == {True} else NO if held == {False} else MAYBE
        return YES if whole else MAYBE
    if peer.block is not None:
        return MAYBE  # ipBlock against pod addresses: up to the network plugin
    if peer.namespaces is None:
        in_namespace = YES if end.namespace == namespace else NO
    else:
        in_namespace = peer.namespaces.match({NAMESPACE_LABEL: end.namespace}, complete=False)
    pods = YES if peer.pods is None else peer.pods.match(end.labels, end.complete)
    return both((in_namespace, pods))


def _port_matches(rule: PortRule, port: Port) -> int:
    if rule.protocol != port.protocol:
        return NO
    if rule.port is None:
        return YES
    if port.number is None or isinstance(rule.port, str):
        return MAYBE  # an undocumented port, or a named one
    last = rule.end or rule.port
    return YES if rule.port <= port.number <= last else NO


def _rule_allows(rule: Rule, namespace: str, peer: End, port: Port) -> int:
    peers = (
        YES if rule.peers is None else either(_peer_matches(p, namespace, peer) for p in rule.peers)
    )
    ports = YES if rule.ports is None else either(_port_matches(p, port) for p in rule.ports)
    return both((peers, ports))


@dataclass
class Side:
    """One direction of a flow at one end: the verdict and the policies behind it."""

    verdict: int
    isolating: list[str]  # policies that (may) select the pods for this direction
    allowing: list[str]  # policies that (may) allow the traffic


def direction(policies: Iterable[Policy], subject: Pods, peer: End, port: Port, kind: str) -> Side:
    """Whether ``kind`` (Ingress: from ``peer``; Egress: to ``peer``) traffic of ``subject`` on
    ``port`` is allowed."""
    isolated, allowed = NO, NO
    isolating: list[str] = []
    allowing: list[str] = []
    for policy in policies:
        if kind not in policy.types:
            continue
        chosen = selects(policy, subject)
        if chosen == NO:
            continue
        isolating.append(policy.ref)
        isolated = either((isolated, chosen))
        if policy.selector is None:
            allows = MAYBE
        else:
            allows = either(
                _rule_allows(r, policy.namespace, peer, port) for r in policy.rules[kind]
            )
        if allows != NO:
            allowing.append(policy.ref)
        allowed = either((allowed, both((chosen, allows))))
    return Side(either((YES - isolated, allowed)), isolating, allowing)
