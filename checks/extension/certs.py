"""Certificate and key logic for ``extension.tls``: pure functions over PEM bytes, no I/O.

Kept apart from the check so it can be tested without a cluster, and so that nothing here ever
returns key material: results carry names, dates, fingerprints and key *types* only, and error
messages are written here (a library's exception text is never passed on, as it could quote input).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

#: a bound on what is read (real certificate chains and keys are a few KiB)
MAX_PEM_BYTES = 1 << 20
#: certificates expiring sooner than this many days are a warning
EXPIRY_WARN_DAYS = 30
MIN_RSA_BITS = 2048

_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


class PemError(ValueError):
    """Input that is not what the extension needs; ``str(exc)`` is safe to show a user."""


class EncryptedKeyError(PemError):
    """The private key is passphrase-protected, which the extension does not support."""


@dataclass
class Problem:
    """Something wrong with a certificate: ``status`` is "fail" or "warn"."""

    status: str
    message: str
    remediation: str


@dataclass
class CertInfo:
    """What a finding may say about a certificate (no key material)."""

    subject: str
    issuer: str
    common_name: str | None
    not_before: dt.datetime
    not_after: dt.datetime
    sha256: str
    dns_names: list[str]
    ip_addresses: list[str]
    has_san: bool
    self_signed: bool
    is_ca: bool
    key_type: str

    def days_left(self, now: dt.datetime) -> int:
        return (self.not_after - now) // dt.timedelta(days=1)

    def details(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left(now),
            "sha256_fingerprint": self.sha256,
            "dns_names": self.dns_names,
            "ip_addresses": self.ip_addresses,
            "self_signed": self.self_signed,
            "public_key_type": self.key_type,
        }


@dataclass
class Coverage:
    """Whether a certificate covers a host name, and through which field."""

    covered: bool
    via: str | None  # "san" | "cn" | None
    names: list[str] = field(default_factory=list)


# -- parsing --------------------------------------------------------------------------------------


def pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """``[(label, whole block), ...]`` for every PEM block, in order."""
    return [(m.group(1).decode("ascii"), m.group(0)) for m in _BLOCK.finditer(data)]


def _looks_der(data: bytes) -> bool:
    return data[:1] == b"\x30"  # an ASN.1 SEQUENCE: binary DER, not PEM text


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM chain, leaf first as the extension expects.

    Raises PemError (with a message safe to show) when there is none or one block is broken.
    """
    if not data.strip():
        raise PemError("is empty")
    if len(data) > MAX_PEM_BYTES:
        raise PemError(f"is larger than {MAX_PEM_BYTES // 1024} KiB: not a PEM certificate chain")
    blocks = [(label, block) for label, block in pem_blocks(data) if label.endswith("CERTIFICATE")]
    if not blocks:
        if _looks_der(data):
            raise PemError(
                "holds binary (DER) data, not PEM; convert it with "
                "`openssl x509 -inform der -in cert.der -out cert.pem`"
            )
        if b"PRIVATE KEY-----" in data:
            raise PemError("holds a private key but no certificate (are the two files swapped?)")
        raise PemError("holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)")
    certificates = []
    for index, (label, block) in enumerate(blocks, start=1):
        if label != "CERTIFICATE":
            raise PemError(
                f"certificate block {index} is a {label!r} block; the extension needs "
                "-----BEGIN CERTIFICATE----- blocks"
            )
        try:
            certificates.append(x509.load_pem_x509_certificate(block))
        except (ValueError, UnsupportedAlgorithm):
            raise PemError(
                f"certificate block {index} of {len(blocks)} is malformed (it does not parse "
                "as an X.509 certificate)"
            ) from None
    return certificates


def _encrypted(data: bytes) -> bool:
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


PrivateKey = Any  # one of cryptography's private key types


def load_private_key(data: bytes) -> PrivateKey:
    """The first private key in PEM ``data``. Raises EncryptedKeyError or PemError."""
    if not data.strip():
        raise PemError("is empty")
    if len(data) > MAX_PEM_BYTES:
        raise PemError(f"is larger than {MAX_PEM_BYTES // 1024} KiB: not a PEM private key")
    if _encrypted(data):
        raise EncryptedKeyError("is passphrase-protected (encrypted)")
    blocks = [block for label, block in pem_blocks(data) if label.endswith("PRIVATE KEY")]
    if not blocks:
        if b"-----BEGIN CERTIFICATE-----" in data:
            raise PemError("holds a certificate but no private key (are the two files swapped?)")
        if _looks_der(data):
            raise PemError(
                "holds binary (DER) data, not PEM; convert it with "
                "`openssl pkey -inform der -in key.der -out key.pem`"
            )
        raise PemError("holds no PEM private key (no -----BEGIN PRIVATE KEY----- block)")
    if b"OPENSSH PRIVATE KEY" in blocks[0]:
        raise PemError(
            "holds an OpenSSH-format key; the extension needs a PEM (PKCS#8 or PKCS#1) key"
        )
    try:
        return serialization.load_pem_private_key(blocks[0], password=None)
    except TypeError:  # "Password was not given but private key is encrypted"
        raise EncryptedKeyError("is passphrase-protected (encrypted)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise PemError(
            "holds a private key block that is malformed or of an unsupported type"
        ) from None


# -- describing -----------------------------------------------------------------------------------


def _utc(cert: x509.Certificate, name: str) -> dt.datetime:
    value = getattr(cert, f"{name}_utc", None)  # cryptography >= 42
    if isinstance(value, dt.datetime):
        return value
    naive: dt.datetime = getattr(cert, name)
    return naive.replace(tzinfo=dt.UTC)


def not_before(cert: x509.Certificate) -> dt.datetime:
    return _utc(cert, "not_valid_before")


def not_after(cert: x509.Certificate) -> dt.datetime:
    return _utc(cert, "not_valid_after")


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, as ``AB:CD:...`` (what browsers and openssl show)."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def key_type(key: Any) -> str:
    """``RSA 2048``, ``EC secp256r1``, ``Ed25519``: the kind of a public or private key."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey | ed448.Ed448PrivateKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey | dsa.DSAPrivateKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


def _common_name(cert: x509.Certificate) -> str | None:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def describe(cert: x509.Certificate) -> CertInfo:
    san = _san(cert)
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_name=_common_name(cert),
        not_before=not_before(cert),
        not_after=not_after(cert),
        sha256=fingerprint(cert),
        dns_names=san.get_values_for_type(x509.DNSName) if san else [],
        ip_addresses=[str(ip) for ip in san.get_values_for_type(x509.IPAddress)] if san else [],
        has_san=san is not None,
        self_signed=cert.issuer == cert.subject,
        is_ca=_is_ca(cert),
        key_type=key_type(cert.public_key()),
    )


# -- judging --------------------------------------------------------------------------------------


def validity_problems(
    chain: list[x509.Certificate], now: dt.datetime, warn_days: int = EXPIRY_WARN_DAYS
) -> list[Problem]:
    """Dates of the leaf (fail expired / not yet valid, warn near expiry) and of the chain."""
    problems: list[Problem] = []
    leaf = chain[0]
    info = describe(leaf)
    days = info.days_left(now)
    renew = (
        "renew the certificate with its issuer, then update the secret or PEM files before "
        "installing (clients reject an expired certificate)"
    )
    if info.not_after <= now:
        ago = (now - info.not_after) // dt.timedelta(days=1)
        problems.append(
            Problem(
                "fail",
                f"the certificate expired on {info.not_after:%Y-%m-%d} ({ago} day(s) ago)",
                renew,
            )
        )
    elif info.not_before > now:
        problems.append(
            Problem(
                "fail",
                f"the certificate is not valid yet: it becomes valid on "
                f"{info.not_before:%Y-%m-%d %H:%M} UTC",
                "wait until it is valid, or check the clock of the machine that issued it; "
                "clients reject a certificate before its notBefore date",
            )
        )
    elif days < warn_days:
        problems.append(
            Problem(
                "warn",
                f"the certificate expires in {days} day(s), on {info.not_after:%Y-%m-%d}",
                "renew it soon and update the extension (az k8s-extension update) with the new "
                "certificate",
            )
        )
    if info.is_ca and not info.self_signed:
        problems.append(
            Problem(
                "warn",
                "the first certificate is a CA certificate, not the server (leaf) certificate",
                "put the server certificate first in cert.pem, followed by its intermediates",
            )
        )
    for position, (child, parent) in enumerate(zip(chain, chain[1:], strict=False), start=1):
        if child.issuer != parent.subject:
            problems.append(
                Problem(
                    "warn",
                    f"the chain is out of order: certificate {position} was not issued by "
                    f"certificate {position + 1} ({parent.subject.rfc4514_string()})",
                    "order cert.pem leaf first, then each issuer in turn",
                )
            )
            break
    for position, cert in enumerate(chain[1:], start=2):
        if not_after(cert) <= now:
            problems.append(
                Problem(
                    "warn",
                    f"chain certificate {position} ({cert.subject.rfc4514_string()}) expired on "
                    f"{not_after(cert):%Y-%m-%d}",
                    "replace it with the issuer's current intermediate certificate",
                )
            )
    return problems


def normalize_host(name: str) -> str:
    """Lower-case, no trailing dot, IDNA (punycode) for non-ASCII labels."""
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def name_matches(pattern: str, hostname: str) -> bool:
    """RFC 6125 matching as browsers do it: a ``*`` only as the whole left-most label, covering
    exactly one label (``*.contoso.com`` covers ``a.contoso.com``, not ``a.b.contoso.com`` nor
    ``contoso.com``); a wildcard needs at least two labels after it."""
    pattern, hostname = normalize_host(pattern), normalize_host(hostname)
    if not pattern or not hostname:
        return False
    if pattern == hostname:
        return True
    if not pattern.startswith("*."):
        return False
    suffix = pattern[2:]
    if "*" in suffix or suffix.count(".") < 1:
        return False
    head, dot, rest = hostname.partition(".")
    return bool(dot) and bool(head) and rest == suffix


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip().strip("[]"))
    except ValueError:
        return None


def coverage(cert: x509.Certificate, hostname: str) -> Coverage:
    """Whether the leaf covers ``hostname``: SAN DNS names (or IPs), CN only when no SAN."""
    info = describe(cert)
    address = _ip(hostname)
    if info.has_san:
        if address is not None:
            names = info.ip_addresses
            return Coverage(any(_ip(n) == address for n in names), "san", names)
        names = info.dns_names
        return Coverage(any(name_matches(n, hostname) for n in names), "san", names)
    names = [info.common_name] if info.common_name else []
    if address is not None:
        return Coverage(any(_ip(n) == address for n in names), "cn", names)
    return Coverage(any(name_matches(n, hostname) for n in names), "cn", names)


def key_matches(key: PrivateKey, cert: x509.Certificate) -> bool:
    """The private key's public half is the certificate's public key."""
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    try:
        ours = key.public_key().public_bytes(der, spki)
    except (AttributeError, ValueError, UnsupportedAlgorithm):
        return False
    return bool(ours == cert.public_key().public_bytes(der, spki))


def key_problems(key: PrivateKey) -> list[Problem]:
    """Weak or unusual keys (a warning: the extension may still install)."""
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        return [
            Problem(
                "warn",
                f"the RSA key has {key.key_size} bits; current clients require at least "
                f"{MIN_RSA_BITS}",
                f"reissue the certificate with an RSA key of {MIN_RSA_BITS}+ bits or an EC key",
            )
        ]
    if isinstance(key, dsa.DSAPrivateKey):
        return [
            Problem(
                "warn",
                "the key is a DSA key, which TLS 1.2 clients no longer accept",
                "reissue the certificate with an RSA (2048+ bits) or EC key",
            )
        ]
    return []
