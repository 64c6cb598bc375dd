"""Where the trust in a TLS certificate comes from: the system store, or an extra CA given to us.

A TLS-inspecting proxy re-signs every site with its own CA, which users hand to preflight with
``--ca-bundle``. A handshake that verifies with the bundle proves only that the inspecting proxy
answered, not the origin (docs/DESIGN.md, "What proves a network path"). So a probe needs to know
*which* store made the chain verify. Python before 3.13 cannot show the chain a server sent,
so the answer comes from the handshakes themselves: with extra CAs present, verify against the
system store alone first, and only when that fails for an unknown issuer against system + extras.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from preflight.errors import UsageError

_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\s+.*?\s+-----END CERTIFICATE-----", re.DOTALL)
#: OpenSSL verify codes meaning "the chain ends at a CA this store does not hold"
UNKNOWN_ISSUER_CODES = frozenset({2, 18, 19, 20, 21, 27})
SYSTEM = "system"


def pem_certificates(text: str) -> list[bytes]:
    """The DER of every certificate in a PEM text (other blocks, e.g. keys, are ignored)."""
    return [ssl.PEM_cert_to_DER_cert(block) for block in _PEM_BLOCK.findall(text)]


def describe_certificate(der: bytes) -> dict[str, Any]:
    """Subject, issuer (whole DN, CN and O), expiry and DNS names of one DER certificate."""
    # on first use: cryptography (~35 ms) stays out of start-up (docs/ARCHITECTURE.md)
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)

    def first(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
        values = name.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    info: dict[str, Any] = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "issuer_cn": first(cert.issuer, NameOID.COMMON_NAME),
        "issuer_o": first(cert.issuer, NameOID.ORGANIZATION_NAME),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        info["dns_names"] = san.value.get_values_for_type(x509.DNSName)[:20]
    except x509.ExtensionNotFound:
        pass
    return info


def _authority_key_id(der: bytes) -> bytes:
    """The key id of a certificate's issuer (empty when absent or unreadable)."""
    if not der:
        return b""
    # on first use: cryptography (~35 ms) stays out of start-up (docs/ARCHITECTURE.md)
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except (ValueError, x509.ExtensionNotFound):
        return b""
    return aki.value.key_identifier or b""


def _subject_of(der: bytes) -> str:
    # on first use: cryptography (~35 ms) stays out of start-up (docs/ARCHITECTURE.md)
    from cryptography import x509

    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


@dataclass(frozen=True)
class ExtraCa:
    """CA certificates trusted beyond the system store, and where they came from."""

    label: str  # "--ca-bundle", "kubeconfig", ...
    certificates: tuple[bytes, ...]
    subjects: frozenset[str] = field(default_factory=frozenset)


class Trust:
    """The system store plus named extra CAs, with the contexts a probe verifies against.

    ``system`` trusts the system store alone; ``combined`` adds every extra CA (certificates
    already in the system store are not "extra": passing the whole system bundle changes
    nothing). ``source_for`` says which of them a verified chain needed, once per issuer.
    """

    def __init__(self, extras: Sequence[ExtraCa] = (), system: ssl.SSLContext | None = None):
        self.system = system or ssl.create_default_context()
        known = set(self.system.get_ca_certs(binary_form=True))
        kept: list[ExtraCa] = []
        for extra in extras:
            new = tuple(der for der in dict.fromkeys(extra.certificates) if der not in known)
            if new:
                kept.append(ExtraCa(extra.label, new, frozenset(_subject_of(d) for d in new)))
        self.extras: tuple[ExtraCa, ...] = tuple(kept)
        self._sources: dict[tuple[str, bytes], asyncio.Future[str]] = {}
        self.combined = self.system
        if self.extras:
            self.combined = ssl.create_default_context()
            self.combined.load_verify_locations(
                cadata="".join(
                    ssl.DER_cert_to_PEM_cert(der) for e in self.extras for der in e.certificates
                )
            )

    @property
    def has_extras(self) -> bool:
        return bool(self.extras)

    def source_of(self, issuer: str) -> str:
        """Which extra CA made a chain verify, given the leaf's issuer DN (rfc4514). A leaf
        signed by an intermediate names no extra CA directly: then the first extra source
        (``--ca-bundle`` comes before others)."""
        for extra in self.extras:
            if issuer in extra.subjects:
                return extra.label
        return self.extras[0].label if self.extras else SYSTEM

    async def source_for(
        self,
        issuer: str,
        leaf: bytes,
        system_alone: Callable[[], Awaitable[bool | None]],
    ) -> str:
        """Which store verified a chain whose leaf has this issuer: ``system`` or an extra
        CA's label. Decided once per issuer (name and authority key id) for the whole run, by
        ``system_alone()``, a handshake trusting the system store only; concurrent probes of
        the same issuer wait for that one answer. When it cannot be settled (the second
        handshake failed for another reason), the extra CA is named: claiming an origin
        answered when it may not have is the worse mistake."""
        key = (issuer, _authority_key_id(leaf))
        if key not in self._sources:
            self._sources[key] = asyncio.ensure_future(self._settle(issuer, system_alone))
        return await asyncio.shield(self._sources[key])

    async def _settle(self, issuer: str, system_alone: Callable[[], Awaitable[bool | None]]) -> str:
        verdict = await system_alone()
        return SYSTEM if verdict is True else self.source_of(issuer)

    def with_extra(self, label: str, pem: str | Sequence[bytes]) -> Trust:
        """This trust plus one more named CA source (e.g. the kubeconfig's cluster CA), given
        as PEM text or DER certificates."""
        ders = tuple(pem_certificates(pem)) if isinstance(pem, str) else tuple(pem)
        if not ders:
            return self
        return Trust([*self.extras, ExtraCa(label, ders)], system=self.system)


def load_trust(
    ca_bundle: str | None = None, *, ca_text: str | None = None, label: str | None = None
) -> Trust:
    """The run's trust: the system store plus ``--ca-bundle`` (a file, or its text). A bundle
    that cannot be read or holds no certificate is a usage error (exit 2)."""
    if not ca_bundle and ca_text is None:
        return Trust()
    shown = label or str(ca_bundle)
    label = "--ca-bundle"
    if ca_text is None:
        try:
            with open(str(ca_bundle), encoding="utf-8", errors="replace") as handle:
                ca_text = handle.read()
        except OSError as exc:
            raise UsageError(
                f"--ca-bundle {ca_bundle}: not a readable file ({exc.strerror or exc})"
            ) from None
    try:
        ders = pem_certificates(ca_text)
    except (ValueError, ssl.SSLError) as exc:
        raise UsageError(
            f"--ca-bundle {shown}: cannot load PEM certificates (malformed: {exc})"
        ) from None
    if not ders:
        raise UsageError(
            f"--ca-bundle {shown}: cannot load PEM certificates (none in it: expected "
            "-----BEGIN CERTIFICATE-----)"
        )
    return Trust([ExtraCa(label, tuple(ders))])


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verified TLS: the system trust store plus the optional ``--ca-bundle`` PEM file."""
    context = ssl.create_default_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UsageError(
                f"--ca-bundle {ca_bundle}: cannot load PEM certificates ({reason})"
            ) from None
    return context


def verifies_with(
    leaf: bytes, host: str, anchors: Sequence[bytes], others: Sequence[bytes]
) -> bool:
    """Whether ``leaf`` (DER) chains to one of ``anchors`` (DER), through ``others`` as candidate
    intermediates: would a client trusting only ``anchors`` accept the chain's root? (E.g. the
    cluster's ``httpProxyConfig.trustedCa`` and an inspecting proxy's certificate.)

    Only names and signatures are walked: the handshake already verified validity and the host
    name, and a strict RFC 5280 policy would reject certificates TLS clients accept (inspection
    appliances and test CAs mark subjectAltName critical beside a subject)."""
    if not leaf or not anchors:
        return False
    # on first use: cryptography (~35 ms) stays out of start-up (docs/ARCHITECTURE.md)
    from cryptography import x509

    try:
        roots = [x509.load_der_x509_certificate(d) for d in anchors]
        pool = [x509.load_der_x509_certificate(d) for d in others] + roots
        current = x509.load_der_x509_certificate(leaf)
    except ValueError:
        return False
    root_ders = set(anchors)
    for _ in range(6):
        issuers = [c for c in pool if c.subject == current.issuer]
        signed = None
        for issuer in issuers:
            try:
                current.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, Exception):  # noqa: BLE001 - InvalidSignature etc.
                continue
            signed = issuer
            break
        if signed is None:
            return False
        from cryptography.hazmat.primitives.serialization import Encoding

        if signed.public_bytes(Encoding.DER) in root_ders:
            return True
        if signed.subject == signed.issuer:  # a self-signed root that is not an anchor
            return False
        current = signed
    return False
