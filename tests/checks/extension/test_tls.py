"""extension.tls: the HTTPS certificate and key the extension will serve, from local PEM files
(no cluster needed) and from the sslSecret in a fake API server, through the real CLI.

Certificates are made here with ``cryptography`` (a test CA, an intermediate, leaves with chosen
names and dates, keys of several types); nothing about preflight is mocked.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from preflight.checks.extension import certs as certs
from tests.clirun import Result, preflight

NOW = dt.datetime.now(dt.UTC)
CNAME = "inference.contoso.com"


# -- making certificates -------------------------------------------------------------------------


def _key(kind: str = "ec") -> Any:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Issued:
    cert: x509.Certificate
    key: Any

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, password: bytes | None = None, traditional: bool = False) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        fmt = (
            serialization.PrivateFormat.TraditionalOpenSSL
            if traditional
            else serialization.PrivateFormat.PKCS8
        )
        return self.key.private_bytes(serialization.Encoding.PEM, fmt, encryption)


def issue(
    names: Sequence[str] = (CNAME,),
    *,
    cn: str | None = None,
    san: bool = True,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    issuer: Issued | None = None,
    ca: bool = False,
    key_kind: str = "ec",
) -> Issued:
    """A certificate for ``names``, signed by ``issuer`` (self-signed when None)."""
    key = _key(key_kind)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Contoso"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn or (names[0] if names else "Contoso CA")),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - dt.timedelta(days=1))
        .not_valid_after(not_after or NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san and names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Issued(cert, key)


@pytest.fixture(scope="module")
def root() -> Issued:
    return issue((), cn="Contoso Test Root CA", ca=True, not_after=NOW + dt.timedelta(days=3650))


@pytest.fixture(scope="module")
def intermediate(root: Issued) -> Issued:
    return issue((), cn="Contoso Test Issuing CA", ca=True, issuer=root)


def chain_pem(*issued: Issued) -> bytes:
    return b"".join(i.cert_pem for i in issued)


def key_body(pem: bytes) -> list[str]:
    """The base64 lines of a PEM block: what must never appear in any output."""
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


# -- running the CLI -----------------------------------------------------------------------------


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def run_tls(tmp_path: Path, config: str, *args: str) -> Result:
    return preflight(
        "run",
        "--check",
        "extension.tls",
        "--extension-config",
        config,
        "--format",
        "json,html,junit,md",
        *args,
        out=tmp_path / "out",
    )


def files_config(cert: Path | None, key: Path | None, cname: str | None = CNAME) -> str:
    parts = ["enableInference=True", "inferenceRouterServiceType=loadBalancer"]
    if cert:
        parts.append(f"sslCertPemFile={cert}")
    if key:
        parts.append(f"sslKeyPemFile={key}")
    if cname:
        parts.append(f"sslCname={cname}")
    return " ".join(parts)


def all_output(result: Result) -> str:
    assert result.out is not None
    texts = [result.stdout, result.stderr]
    texts += [p.read_text(errors="replace") for p in sorted(result.out.iterdir()) if p.is_file()]
    return "\n".join(texts)


def assert_no_key_material(result: Result, *pems: bytes) -> None:
    text = all_output(result)
    assert "PRIVATE KEY" not in text
    for pem in pems:
        for line in key_body(pem):
            assert line not in text


# -- pure logic ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("inference.contoso.com", "inference.contoso.com", True),
        ("Inference.Contoso.com.", "inference.contoso.COM", True),
        ("*.contoso.com", "a.contoso.com", True),
        ("*.contoso.com", "a.b.contoso.com", False),
        ("*.contoso.com", "contoso.com", False),
        ("*.com", "contoso.com", False),
        ("a*.contoso.com", "ab.contoso.com", False),
        ("*.*.contoso.com", "a.b.contoso.com", False),
        ("contoso.com", "a.contoso.com", False),
        ("*.bücher.example", "shop.xn--bcher-kva.example", True),
    ],
)
def test_name_matching_follows_rfc6125(pattern: str, host: str, expected: bool) -> None:
    assert certs.name_matches(pattern, host) is expected


def test_coverage_uses_cn_only_without_san() -> None:
    cn_only = issue((CNAME,), san=False)
    cover = certs.coverage(cn_only.cert, CNAME)
    assert (cover.covered, cover.via) == (True, "cn")
    with_san = issue(("other.contoso.com",), cn=CNAME)
    cover = certs.coverage(with_san.cert, CNAME)
    assert (cover.covered, cover.via, cover.names) == (False, "san", ["other.contoso.com"])


def test_key_matching_and_encryption_detection() -> None:
    leaf, other = issue(), issue()
    assert certs.key_matches(certs.load_private_key(leaf.key_pem()), leaf.cert)
    assert not certs.key_matches(certs.load_private_key(other.key_pem()), leaf.cert)
    for pem in (leaf.key_pem(b"pw"), issue(key_kind="rsa").key_pem(b"pw", traditional=True)):
        with pytest.raises(certs.EncryptedKeyError):
            certs.load_private_key(pem)
    with pytest.raises(certs.PemError, match="swapped"):
        certs.load_private_key(leaf.cert_pem)
    with pytest.raises(certs.PemError, match="swapped"):
        certs.parse_certificates(leaf.key_pem())


def test_malformed_inputs_get_messages_without_their_content() -> None:
    broken = b"-----BEGIN CERTIFICATE-----\nTUlJQmFkRGF0YQ==\n-----END CERTIFICATE-----\n"
    cases = {
        b"": "empty",
        b"hello world": "no PEM certificate",
        b"\x30\x82\x01\x0a\x02": "DER",
        broken: "malformed",
    }
    for data, expected in cases.items():
        with pytest.raises(certs.PemError, match=expected) as info:
            certs.parse_certificates(data)
        assert "TUlJQmFk" not in str(info.value)


def test_validity_problems_expired_expiring_future_and_chain(
    root: Issued, intermediate: Issued
) -> None:
    def statuses(chain: list[x509.Certificate]) -> list[tuple[str, str]]:
        return [(p.status, p.message) for p in certs.validity_problems(chain, NOW)]

    good = issue(issuer=intermediate)
    assert statuses([good.cert, intermediate.cert, root.cert]) == []
    expired = issue(not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=3))
    assert statuses([expired.cert])[0][0] == "fail"
    assert "3 day(s) ago" in statuses([expired.cert])[0][1]
    soon = issue(not_after=NOW + dt.timedelta(days=10, hours=1))
    assert statuses([soon.cert]) == [
        (
            "warn",
            f"the certificate expires in 10 day(s), on {certs.not_after(soon.cert):%Y-%m-%d}",
        )
    ]
    future = issue(not_before=NOW + dt.timedelta(days=2))
    assert "not valid yet" in statuses([future.cert])[0][1]
    out_of_order = statuses([good.cert, root.cert, intermediate.cert])
    assert [s for s, _ in out_of_order] == ["warn"]
    assert "out of order" in out_of_order[0][1]
    ca_first = statuses([intermediate.cert, root.cert])
    assert any("CA certificate" in m for _, m in ca_first)


# -- local PEM files, no cluster, through the CLI ------------------------------------------------


def test_valid_chain_and_key_pass_without_a_cluster(
    tmp_path: Path, root: Issued, intermediate: Issued
) -> None:
    leaf = issue((CNAME, "*.inference.contoso.com"), issuer=intermediate, key_kind="rsa")
    cert = write(tmp_path, "cert.pem", chain_pem(leaf, intermediate))
    key = write(tmp_path, "key.pem", leaf.key_pem())
    result = run_tls(tmp_path, files_config(cert, key))
    assert result.code == 0, result.stdout + result.stderr
    found = result.by_target("extension.tls", unique=True)
    assert set(found) == {"sslCertPemFile", "sslKeyPemFile", "sslCname"}
    assert {f["status"] for f in found.values()} == {"pass"}
    cert_details = found["sslCertPemFile"]["details"]
    fingerprint = leaf.cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert cert_details["sha256_fingerprint"] == fingerprint
    assert cert_details["chain_length"] == 2
    assert cert_details["dns_names"] == [CNAME, "*.inference.contoso.com"]
    assert 363 <= cert_details["days_left"] <= 365
    assert found["sslKeyPemFile"]["details"]["key_type"] == "RSA 2048"
    assert "matches the certificate" in found["sslKeyPemFile"]["message"]
    assert result.report()["target"] is None  # no cluster was needed
    assert_no_key_material(result, leaf.key_pem())


def test_expired_certificate_fails_with_e40007(tmp_path: Path, intermediate: Issued) -> None:
    leaf = issue(
        issuer=intermediate,
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW - dt.timedelta(days=5),
    )
    cert = write(tmp_path, "cert.pem", chain_pem(leaf, intermediate))
    key = write(tmp_path, "key.pem", leaf.key_pem())
    result = run_tls(tmp_path, files_config(cert, key))
    assert result.code == 1
    finding = result.by_target("extension.tls", unique=True)["sslCertPemFile"]
    assert finding["status"] == "fail"
    assert "expired" in finding["message"] and "5 day(s) ago" in finding["message"]
    assert "E40007" in finding["message"]
    assert finding["details"]["health_check"] == "E40007 INVALID_SSL_SETTING"
    assert finding["remediation"] and finding["docs"]
    assert_no_key_material(result, leaf.key_pem())


def test_certificate_expiring_in_ten_days_warns_with_days_left(
    tmp_path: Path, intermediate: Issued
) -> None:
    leaf = issue(issuer=intermediate, not_after=NOW + dt.timedelta(days=10, hours=2))
    cert = write(tmp_path, "cert.pem", chain_pem(leaf, intermediate))
    key = write(tmp_path, "key.pem", leaf.key_pem())
    result = run_tls(tmp_path, files_config(cert, key), "--fail-on", "warn")
    assert result.code == 1
    assert result.report()["summary"]["verdict"] == "warn"
    finding = result.by_target("extension.tls", unique=True)["sslCertPemFile"]
    assert finding["status"] == "warn"
    assert "expires in 10 day(s)" in finding["message"]
    assert finding["details"]["days_left"] == 10


def test_certificate_not_yet_valid_fails(tmp_path: Path, intermediate: Issued) -> None:
    leaf = issue(issuer=intermediate, not_before=NOW + dt.timedelta(days=3))
    cert = write(tmp_path, "cert.pem", chain_pem(leaf, intermediate))
    key = write(tmp_path, "key.pem", leaf.key_pem())
    finding = run_tls(tmp_path, files_config(cert, key)).by_target("extension.tls", unique=True)[
        "sslCertPemFile"
    ]
    assert finding["status"] == "fail"
    assert "not valid yet" in finding["message"]


def test_wrong_cname_fails_and_names_what_the_certificate_covers(
    tmp_path: Path, intermediate: Issued
) -> None:
    leaf = issue(("api.contoso.com",), issuer=intermediate)
    cert = write(tmp_path, "cert.pem", chain_pem(leaf, intermediate))
    key = write(tmp_path, "key.pem", leaf.key_pem())
    result = run_tls(tmp_path, files_config(cert, key))
    assert result.code == 1
    found = result.by_target("extension.tls", unique=True)
    assert found["sslCertPemFile"]["status"] == "pass"
    assert found["sslKeyPemFile"]["status"] == "pass"
    name = found["sslCname"]
    assert name["status"] == "fail"
    assert CNAME in name["message"] and "api.contoso.com" in name["message"]
    assert "E40007" in name["message"]
    assert name["details"]["certificate_names"] == ["api.contoso.com"]


@pytest.mark.parametrize(
    ("cname", "status"),
    [("a.contoso.com", "pass"), ("a.b.contoso.com", "fail"), ("contoso.com", "fail")],
)
def test_wildcard_certificate_covers_exactly_one_label(
    tmp_path: Path, intermediate: Issued, cname: str, status: str
) -> None:
    leaf = issue(("*.contoso.com",), issuer=intermediate)
    cert = write(tmp_path, "cert.pem", chain_pem(leaf, intermediate))
    key = write(tmp_path, "key.pem", leaf.key_pem())
    finding = run_tls(tmp_path, files_config(cert, key, cname)).by_target(
        "extension.tls", unique=True
    )["sslCname"]
    assert finding["status"] == status, finding["message"]
    assert finding["details"]["matched_by"] == "san"


def test_cn_only_certificate_is_a_warning_that_says_so(
    tmp_path: Path, intermediate: Issued
) -> None:
    leaf = issue((CNAME,), san=False, issuer=intermediate)
    cert = write(tmp_path, "cert.pem", chain_pem(leaf, intermediate))
    key = write(tmp_path, "key.pem", leaf.key_pem())
    finding = run_tls(tmp_path, files_config(cert, key)).by_target("extension.tls", unique=True)[
        "sslCname"
    ]
    assert finding["status"] == "warn"
    assert finding["details"]["matched_by"] == "cn"
    assert (
        "subject CN" in finding["message"] and "no subject alternative names" in finding["message"]
    )


def test_mismatched_key_fails_with_fingerprint_not_key(
    tmp_path: Path, intermediate: Issued
) -> None:
    leaf, stranger = issue(issuer=intermediate), issue(issuer=intermediate, key_kind="rsa")
    cert = write(tmp_path, "cert.pem", chain_pem(leaf, intermediate))
    key = write(tmp_path, "key.pem", stranger.key_pem())
    result = run_tls(tmp_path, files_config(cert, key))
    assert result.code == 1
    finding = result.by_target("extension.tls", unique=True)["sslKeyPemFile"]
    assert finding["status"] == "fail"
    assert "does not belong to the certificate" in finding["message"]
    assert leaf.cert.fingerprint(hashes.SHA256()).hex(":").upper() in finding["message"]
    assert finding["details"]["health_check"] == "E40007 INVALID_SSL_SETTING"
    assert_no_key_material(result, stranger.key_pem(), leaf.key_pem())


@pytest.mark.parametrize("traditional", [False, True], ids=["pkcs8", "openssl-traditional"])
def test_passphrase_protected_key_fails(
    tmp_path: Path, intermediate: Issued, traditional: bool
) -> None:
    leaf = issue(issuer=intermediate, key_kind="rsa")
    cert = write(tmp_path, "cert.pem", chain_pem(leaf, intermediate))
    encrypted = leaf.key_pem(b"correct horse", traditional=traditional)
    key = write(tmp_path, "key.pem", encrypted)
    result = run_tls(tmp_path, files_config(cert, key))
    assert result.code == 1
    finding = result.by_target("extension.tls", unique=True)["sslKeyPemFile"]
    assert finding["status"] == "fail"
    assert "PEM file with pass phrase protected isn't supported" in finding["message"]
    assert finding["details"]["encrypted"] is True
    assert "openssl pkey" in finding["remediation"]
    assert_no_key_material(result, encrypted)


def test_garbage_files_fail_as_malformed(tmp_path: Path) -> None:
    cert = write(
        tmp_path,
        "cert.pem",
        b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    key = write(
        tmp_path,
        "key.pem",
        b"-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n",
    )
    result = run_tls(tmp_path, files_config(cert, key))
    assert result.code == 1
    found = result.by_target("extension.tls", unique=True)
    assert found["sslCertPemFile"]["status"] == "fail"
    assert "malformed" in found["sslCertPemFile"]["message"]
    assert found["sslKeyPemFile"]["status"] == "fail"
    assert "malformed" in found["sslKeyPemFile"]["message"]
    assert "sslCname" not in found  # nothing to compare a name with
    text = all_output(result)
    assert "bm90IGEgY2VydGlmaWNhdGU" not in text and "Z2FyYmFnZQ" not in text


def test_self_signed_certificate_warns(tmp_path: Path) -> None:
    leaf = issue()
    cert = write(tmp_path, "cert.pem", leaf.cert_pem)
    key = write(tmp_path, "key.pem", leaf.key_pem())
    finding = run_tls(tmp_path, files_config(cert, key)).by_target("extension.tls", unique=True)[
        "sslCertPemFile"
    ]
    assert finding["status"] == "warn"
    assert "self-signed" in finding["message"]


def test_unreadable_or_missing_files_are_skipped_with_the_setting_as_target(
    tmp_path: Path, intermediate: Issued
) -> None:
    # whether the settings are complete and the paths exist is extension.config's verdict;
    # extension.tls says what it could not look at, and still checks the half it has
    result = run_tls(tmp_path / "a", files_config(tmp_path / "nope.pem", None))
    found = result.by_target("extension.tls", unique=True)
    assert found["sslCertPemFile"]["status"] == "skip"
    assert "does not exist" in found["sslCertPemFile"]["message"]
    assert found["sslKeyPemFile"]["status"] == "skip"
    assert "extension.config" in found["sslKeyPemFile"]["message"]

    leaf = issue(issuer=intermediate, not_after=NOW - dt.timedelta(days=1))
    cert = write(tmp_path, "cert.pem", chain_pem(leaf, intermediate))
    alone = run_tls(tmp_path / "b", files_config(cert, None, cname=None)).by_target(
        "extension.tls", unique=True
    )
    assert alone["sslCertPemFile"]["status"] == "fail"  # expired, even without the key
    assert alone["sslKeyPemFile"]["status"] == "skip"
    assert alone["sslCname"]["status"] == "skip"
    assert CNAME in alone["sslCname"]["message"]  # what the certificate would cover


def test_skips_say_which_setting_would_make_it_run(tmp_path: Path) -> None:
    none = run_tls(tmp_path, "")
    insecure = run_tls(
        tmp_path / "b",
        "enableInference=True inferenceRouterServiceType=nodePort allowInsecureConnections=True",
    )
    for result in (none, insecure):
        assert result.code == 0, result.stdout + result.stderr
        (finding,) = result.findings("extension.tls")
        assert finding["status"] == "skip"
        assert "sslSecret" in finding["remediation"] and "sslCertPemFile" in finding["remediation"]
    assert "allowInsecureConnections=True" in insecure.findings("extension.tls")[0]["message"]


def test_secret_without_a_cluster_is_skipped_but_files_still_checked(
    tmp_path: Path, intermediate: Issued
) -> None:
    leaf = issue(issuer=intermediate)
    cert = write(tmp_path, "cert.pem", chain_pem(leaf, intermediate))
    key = write(tmp_path, "key.pem", leaf.key_pem())
    config = files_config(cert, key) + " sslSecret=inference-tls"
    result = run_tls(tmp_path, config)
    findings = result.findings("extension.tls")
    secret = [f for f in findings if f["target"] == "Secret/azureml/inference-tls"]
    assert [f["status"] for f in secret] == ["skip"]
    assert secret[0]["details"]["missing"] == "kube"
    assert "kubeconfig" in secret[0]["remediation"]
    assert {f["target"]: f["status"] for f in findings if f not in secret} == {
        "sslCertPemFile": "pass",
        "sslKeyPemFile": "pass",
        "sslCname": "pass",
    }


# -- the sslSecret in a cluster (fake API server over HTTP) ----------------------------------------


def secret_config(name: str = "inference-tls", cname: str = CNAME) -> str:
    return (
        "enableInference=True inferenceRouterServiceType=loadBalancer "
        f"sslSecret={name} sslCname={cname}"
    )


def secret_finding(result: Result, name: str = "inference-tls", entry: str = "") -> dict[str, Any]:
    """The finding about the secret (``entry=""``) or one of its entries ("cert.pem")."""
    target = f"Secret/azureml/{name}" + (f":{entry}" if entry else "")
    return result.by_target("extension.tls", unique=True)[target]


def test_secret_with_valid_certificate_passes(
    tmp_path: Path, kube_api: Any, intermediate: Issued
) -> None:
    from support.kube_objects import default_namespaces, namespace, secret

    leaf = issue(issuer=intermediate)
    pem, key_pem = chain_pem(leaf, intermediate), leaf.key_pem()
    api = kube_api(
        objects=[
            *default_namespaces(),
            namespace("azureml"),
            secret("inference-tls", "azureml", data={"cert.pem": pem, "key.pem": key_pem}),
        ]
    )
    result = run_tls(
        tmp_path, secret_config(), "--kubeconfig", str(api.kubeconfig(tmp_path / "kc"))
    )
    assert result.code == 0, result.stdout + result.stderr
    assert secret_finding(result, entry="cert.pem")["status"] == "pass"
    assert secret_finding(result, entry="key.pem")["status"] == "pass"
    assert result.by_target("extension.tls", unique=True)["sslCname"]["status"] == "pass"
    # neither the key nor the base64 the API returned leaks into any output
    assert_no_key_material(result, key_pem)
    text = all_output(result)
    for blob in (base64.b64encode(key_pem).decode(), base64.b64encode(pem).decode()):
        assert blob[:40] not in text


def test_secret_missing_or_with_wrong_entries_fails(
    tmp_path: Path, kube_api: Any, intermediate: Issued
) -> None:
    from support.kube_objects import default_namespaces, namespace, secret

    leaf = issue(issuer=intermediate)
    api = kube_api(
        objects=[
            *default_namespaces(),
            namespace("azureml"),
            secret(
                "tls-style",
                "azureml",
                type="kubernetes.io/tls",
                data={"tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem()},
            ),
        ]
    )
    kc = str(api.kubeconfig(tmp_path / "kc"))
    missing = run_tls(tmp_path / "a", secret_config("absent-secret"), "--kubeconfig", kc)
    finding = secret_finding(missing, "absent-secret")
    assert finding["status"] == "fail"
    assert "does not exist" in finding["message"] and "E40007" in finding["message"]
    assert "kubectl create secret generic absent-secret -n azureml" in finding["remediation"]

    wrong = run_tls(tmp_path / "b", secret_config("tls-style"), "--kubeconfig", kc)
    finding = secret_finding(wrong, "tls-style")
    assert finding["status"] == "fail"
    assert "tls.crt" in finding["message"] and "cert.pem" in finding["message"]
    assert finding["details"]["data_entries"] == ["tls.crt", "tls.key"]
    assert_no_key_material(wrong, leaf.key_pem())


def test_secret_with_expired_certificate_and_encrypted_key_fails(
    tmp_path: Path, kube_api: Any, intermediate: Issued
) -> None:
    from support.kube_objects import default_namespaces, namespace, secret

    leaf = issue(issuer=intermediate, not_after=NOW - dt.timedelta(days=1))
    encrypted = leaf.key_pem(b"s3cret-pass")
    api = kube_api(
        objects=[
            *default_namespaces(),
            namespace("azureml"),
            secret(
                "inference-tls",
                "azureml",
                data={"cert.pem": chain_pem(leaf, intermediate), "key.pem": encrypted},
            ),
        ]
    )
    result = run_tls(
        tmp_path, secret_config(), "--kubeconfig", str(api.kubeconfig(tmp_path / "kc"))
    )
    assert result.code == 1
    assert "expired" in secret_finding(result, entry="cert.pem")["message"]
    assert "pass phrase" in secret_finding(result, entry="key.pem")["message"]
    assert_no_key_material(result, encrypted)


def test_secret_read_forbidden_is_a_warning_with_the_permission(
    tmp_path: Path, kube_api: Any
) -> None:
    from support.kube_objects import default_namespaces, namespace

    api = kube_api(objects=[*default_namespaces(), namespace("azureml")])
    api.inject("GET", "/api/v1/namespaces/azureml/secrets/inference-tls", status=403)
    result = run_tls(
        tmp_path, secret_config(), "--kubeconfig", str(api.kubeconfig(tmp_path / "kc"))
    )
    finding = secret_finding(result)
    assert finding["status"] == "warn"
    assert "could not verify" in finding["message"]
    assert "get secrets" in finding["remediation"]
    assert json.dumps(finding["details"]["unverified"])
