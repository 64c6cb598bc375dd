"""``extension.tls``: the HTTPS material the router will serve (the sslSecret, or the PEM files),
judged against the planned ``--extension-config`` *before* ``az k8s-extension create`` stops on it.

An expired certificate, a key of another certificate or with a passphrase, or a CNAME the
certificate does not cover fails the install's health check (E40007) or the clients later; that
check runs inside the Helm install, when it is too late. PEM files need no cluster.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.api import Check, Context, Finding, Status

if TYPE_CHECKING:
    from preflight.checks.extension import certs as certs
else:

    class _Certs:
        """``certs`` imported on first use: it pulls in cryptography (~50 ms), and listing
        checks (``preflight checks``) must not pay for that."""

        def __getattr__(self, name: str) -> Any:
            from preflight.checks.extension import certs as module

            return getattr(module, name)

    certs = _Certs()
from preflight.checks._shared.kube_reads import (
    code_details,
    code_text,
    get_one,
    planned_bool,
    unverified,
)
from preflight.checks._shared.plan import NAMESPACE, Plan

DOCS_TLS = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-secure-kubernetes-online-endpoint"
)


@dataclass
class Material:
    """The certificate and key of one source (the sslSecret, or the PEM files)."""

    label: str  # "sslSecret azureml/x" | "sslCertPemFile /path/cert.pem"
    cert_target: str
    key_target: str
    cert: bytes | None = None
    key: bytes | None = None
    cert_label: str = ""
    key_label: str = ""
    source: str = ""


def _read_file(path_text: str) -> tuple[bytes | None, str | None]:
    """The file's bytes, or why they cannot be read (never its content)."""
    path = Path(os.path.expanduser(path_text))
    where = f"{path_text}" + ("" if path.is_absolute() else f" (relative to {Path.cwd()})")
    try:
        if path.is_dir():
            return None, f"{where} is a directory, not a PEM file"
        with path.open("rb") as handle:
            data = handle.read(certs.MAX_PEM_BYTES + 1)
    except FileNotFoundError:
        return None, f"{where} does not exist"
    except PermissionError:
        return None, f"{where} cannot be read (permission denied)"
    except OSError as exc:
        return None, f"{where} cannot be read ({exc.strerror or type(exc).__name__})"
    return data, None


class ExtensionTls(Check):
    """The certificate and key the router will serve: an expired certificate, a key of another
    certificate or with a passphrase, or a CNAME the certificate does not cover fails the
    install's health check (E40007) or the clients later. PEM files need no cluster."""

    id = "extension.tls"
    title = "HTTPS certificate and key are valid and cover the CNAME"
    category = "extension"
    needs = ()  # PEM files are checked without a cluster; the secret part asks for "kube" itself
    docs = DOCS_TLS

    def run(self, ctx: Context) -> list[Finding]:
        plan = Plan(ctx.extension_settings)
        how = (
            "plan HTTPS in --extension-config: sslSecret=<secret in azureml> or "
            "sslCertPemFile=<cert.pem> sslKeyPemFile=<key.pem>, with sslCname=<endpoint FQDN>"
        )
        if not plan.given:
            return [
                Finding.skipped(
                    "sslSecret", "no --extension-config given, so no HTTPS settings to check", how
                )
            ]
        secret = plan.value("sslSecret") if plan.explicit("sslSecret") else None
        cert_file = plan.value("sslCertPemFile") if plan.explicit("sslCertPemFile") else None
        key_file = plan.value("sslKeyPemFile") if plan.explicit("sslKeyPemFile") else None
        if not (secret or cert_file or key_file):
            insecure, _ = planned_bool(plan, "allowInsecureConnections")
            why = (
                "allowInsecureConnections=True plans HTTP endpoints"
                if insecure
                else "neither sslSecret nor sslCertPemFile/sslKeyPemFile is set (whether HTTPS "
                "settings are required is extension.config's call)"
            )
            return [Finding.skipped("sslSecret", f"no TLS certificate to check: {why}", how)]
        now = dt.datetime.now(dt.UTC)
        cnames = [c.strip() for c in (plan.value("sslCname") or "").split(",") if c.strip()]
        # Which settings are required or clash is extension.config's call (it reports both
        # sources given, a PEM file without its pair, a missing sslCname): here the material.
        findings: list[Finding] = []
        if secret:
            findings += self._secret(ctx, secret, cnames, now)
        if cert_file or key_file:
            findings += self._files(cert_file, key_file, cnames, now)
        return findings

    # -- sources --------------------------------------------------------------------------------

    def _secret(
        self, ctx: Context, name: str, cnames: list[str], now: dt.datetime
    ) -> list[Finding]:
        target = f"Secret/{NAMESPACE}/{name}"
        missing = ctx.missing_need("kube")
        if missing is not None:
            reason, how = missing
            return [
                Finding.skipped(
                    target,
                    f"skipped: the certificate in sslSecret is in the cluster, and {reason}",
                    how,
                    missing="kube",
                )
            ]
        read = get_one(ctx, f"Secret {NAMESPACE}/{name}", "v1", "secrets", name, NAMESPACE)
        if not read.ok:
            return [unverified(target, f"the sslSecret {NAMESPACE}/{name}", [read])]
        create = (
            f"kubectl create secret generic {name} -n {NAMESPACE} "
            "--from-file=cert.pem=<cert chain file> --from-file=key.pem=<key file>"
        )
        if not read.items:
            ns = get_one(ctx, f"Namespace {NAMESPACE}", "v1", "namespaces", NAMESPACE, None)
            no_ns = ns.ok and not ns.items
            return [
                Finding.failed(
                    target,
                    f"sslSecret {name!r} does not exist in namespace {NAMESPACE}"
                    + (" (the namespace itself does not exist yet)" if no_ns else "")
                    + f": the install fails ({code_text('E40007')})",
                    (
                        "create it first: "
                        + (f"kubectl create namespace {NAMESPACE}; " if no_ns else "")
                    )
                    + create,
                    DOCS_TLS,
                    **code_details("E40007"),
                )
            ]
        data = read.items[0].get("data") or {}
        present = sorted(data)
        problems: list[str] = []
        blobs: dict[str, bytes] = {}
        for key in ("cert.pem", "key.pem"):
            if key not in data:
                problems.append(f"it has no {key!r} entry")
                continue
            try:
                blobs[key] = base64.b64decode(data[key], validate=True)
            except (binascii.Error, ValueError, TypeError):
                problems.append(f"its {key!r} entry is not valid base64")
        if problems:
            hint = ""
            if {"tls.crt", "tls.key"} <= set(present):
                hint = (
                    " (it is a kubernetes.io/tls-style secret: the extension reads cert.pem and "
                    "key.pem, not tls.crt and tls.key)"
                )
            return [
                Finding.failed(
                    target,
                    f"sslSecret {name!r} cannot be used: {'; '.join(problems)}{hint} "
                    f"({code_text('E40007')})",
                    "recreate it with the entries the extension reads: " + create,
                    DOCS_TLS,
                    data_entries=present,
                    **code_details("E40007"),
                )
            ]
        material = Material(
            f"sslSecret {NAMESPACE}/{name}",
            f"{target}:cert.pem",
            f"{target}:key.pem",
            blobs["cert.pem"],
            blobs["key.pem"],
            f"cert.pem of sslSecret {name!r}",
            f"key.pem of sslSecret {name!r}",
            source="secret",
        )
        return self._judge(material, cnames, now)

    def _files(
        self, cert_file: str | None, key_file: str | None, cnames: list[str], now: dt.datetime
    ) -> list[Finding]:
        findings: list[Finding] = []
        material = Material(
            f"sslCertPemFile {cert_file}",
            "sslCertPemFile",
            "sslKeyPemFile",
            cert_label=f"sslCertPemFile {cert_file}",
            key_label=f"sslKeyPemFile {key_file}",
            source="files",
        )
        for setting, path, other in (
            ("sslCertPemFile", cert_file, "sslKeyPemFile"),
            ("sslKeyPemFile", key_file, "sslCertPemFile"),
        ):
            if path is None:
                findings.append(
                    Finding.skipped(
                        setting,
                        f"{setting} is not set, so the material in {other} is checked alone "
                        "(extension.config reports the missing setting)",
                        f"add {setting}=<path> to --config-protected",
                    )
                )
                continue
            data, problem = _read_file(path)
            if problem:
                findings.append(
                    Finding.skipped(
                        setting,
                        f"cannot check {setting}: {problem} (extension.config reports the setting)",
                        f"point {setting} at the PEM file (az reads it where az runs)",
                        path=path,
                    )
                )
            elif setting == "sslCertPemFile":
                material.cert = data
            else:
                material.key = data
        return findings + self._judge(material, cnames, now)

    # -- judging --------------------------------------------------------------------------------

    def _judge(self, material: Material, cnames: list[str], now: dt.datetime) -> list[Finding]:
        findings: list[Finding] = []
        chain: list[Any] = []
        if material.cert is not None:
            finding, chain = self._certificate(material, now)
            findings.append(finding)
            if chain:
                findings += self._names(material, chain[0], cnames)
        if material.key is not None:
            findings.append(self._key(material, chain[0] if chain else None))
        return findings

    def _certificate(self, material: Material, now: dt.datetime) -> tuple[Finding, list[Any]]:
        assert material.cert is not None
        target = material.cert_target
        base = {"source": material.source}
        try:
            chain = certs.parse_certificates(material.cert)
        except certs.PemError as exc:
            return (
                Finding.failed(
                    target,
                    f"{material.cert_label} {exc} ({code_text('E40007')})",
                    "provide the PEM-encoded certificate chain, server certificate first "
                    "(inspect it with: openssl crl2pkcs7 -nocrl -certfile cert.pem | openssl "
                    "pkcs7 -print_certs -noout)",
                    DOCS_TLS,
                    **base,
                    **code_details("E40007"),
                ),
                [],
            )
        info = certs.describe(chain[0])
        details = {**base, **info.details(now), "chain_length": len(chain)}
        problems = certs.validity_problems(chain, now)
        if info.self_signed:
            problems.append(
                certs.Problem(
                    "warn",
                    "the certificate is self-signed: use it for development only; clients must "
                    "be told to trust it",
                    "use a certificate from a CA your clients trust for production endpoints",
                )
            )
        days = info.days_left(now)
        summary = (
            f"{material.cert_label}: {info.subject}, issued by {info.issuer}, valid until "
            f"{info.not_after:%Y-%m-%d} ({days} day(s) left), SHA-256 {info.sha256}"
        )
        if not problems:
            note = ""
            if len(chain) == 1 and not info.self_signed:
                note = (
                    "; it holds only the server certificate: if an intermediate CA issued it, "
                    "append the intermediates (the docs ask for the full chain)"
                )
            return Finding.passed(target, summary + note, **details), chain
        worst = Status.FAIL if any(p.status == "fail" for p in problems) else Status.WARN
        message = f"{material.cert_label}: " + "; ".join(p.message for p in problems)
        if worst is Status.FAIL:
            message += f" ({code_text('E40007')})"
            details.update(code_details("E40007"))
        remediation = " ".join(dict.fromkeys(p.remediation for p in problems))
        return Finding(worst, target, message, remediation, DOCS_TLS, details), chain

    def _names(self, material: Material, leaf: Any, cnames: list[str]) -> list[Finding]:
        info = certs.describe(leaf)
        shown = ", ".join(info.dns_names + info.ip_addresses) or (info.common_name or "(none)")
        if not cnames:
            return [
                Finding.skipped(
                    "sslCname",
                    f"sslCname is not set, so there is no name to compare with the certificate "
                    f"in {material.label} (it covers: {shown}); extension.config reports "
                    "sslCname where HTTPS requires it",
                    "set sslCname=<the FQDN clients call>",
                    certificate_names=info.dns_names or [n for n in [info.common_name] if n],
                )
            ]
        findings = []
        for cname in cnames:
            cover = certs.coverage(leaf, cname)
            details = {
                "sslCname": cname,
                "matched_by": cover.via,
                "certificate_names": cover.names,
                "source": material.source,
            }
            if not cover.covered:
                field_name = "subject alternative names" if cover.via == "san" else "subject CN"
                wildcard = (
                    " (a wildcard covers exactly one label)"
                    if any(n.startswith("*.") for n in cover.names)
                    else ""
                )
                findings.append(
                    Finding.failed(
                        "sslCname",
                        f"the certificate in {material.label} does not cover sslCname {cname!r}: "
                        f"its {field_name} are {', '.join(cover.names) or '(none)'}{wildcard} "
                        f"({code_text('E40007')})",
                        f"reissue the certificate with {cname} in its subject alternative names, "
                        "or set sslCname to a name the certificate covers",
                        DOCS_TLS,
                        **details,
                        **code_details("E40007"),
                    )
                )
            elif cover.via == "cn":
                findings.append(
                    Finding.warned(
                        "sslCname",
                        f"the certificate in {material.label} covers {cname!r} only through its "
                        "subject CN: it has no subject alternative names, and current clients "
                        "(browsers, Go, Python 3.7+) ignore the CN",
                        f"reissue the certificate with {cname} as a subject alternative name",
                        DOCS_TLS,
                        **details,
                    )
                )
            else:
                findings.append(
                    Finding.passed(
                        "sslCname",
                        f"the certificate in {material.label} covers sslCname {cname!r} "
                        f"(subject alternative names: {', '.join(cover.names)})",
                        **details,
                    )
                )
        return findings

    def _key(self, material: Material, leaf: Any | None) -> Finding:
        assert material.key is not None
        target = material.key_target
        label = material.key_label
        try:
            key = certs.load_private_key(material.key)
        except certs.EncryptedKeyError:
            return Finding.failed(
                target,
                f"{label} is passphrase-protected: \"PEM file with pass phrase protected isn't "
                f'supported" (extension docs) ({code_text("E40007")})',
                "write an unencrypted copy (openssl pkey -in key.pem -out key-plain.pem asks for "
                "the passphrase once) and protect that file or secret instead",
                DOCS_TLS,
                source=material.source,
                encrypted=True,
                **code_details("E40007"),
            )
        except certs.PemError as exc:
            return Finding.failed(
                target,
                f"{label} {exc} ({code_text('E40007')})",
                "provide the PEM-encoded private key of the certificate, unencrypted",
                DOCS_TLS,
                source=material.source,
                **code_details("E40007"),
            )
        details: dict[str, Any] = {
            "source": material.source,
            "key_type": certs.key_type(key),
            "encrypted": False,
        }
        if leaf is None:
            return Finding.passed(
                target,
                f"{label}: an unencrypted {certs.key_type(key)} private key (not compared with a "
                "certificate: none could be read)",
                **details,
            )
        info = certs.describe(leaf)
        details["certificate_sha256"] = info.sha256
        if not certs.key_matches(key, leaf):
            return Finding.failed(
                target,
                f"{label} does not belong to the certificate (key {certs.key_type(key)}; "
                f"certificate {info.subject}, public key {info.key_type}, SHA-256 "
                f"{info.sha256}) ({code_text('E40007')})",
                "use the private key generated with this certificate's request; compare "
                "`openssl x509 -noout -pubkey -in cert.pem | openssl sha256` with "
                "`openssl pkey -pubout -in key.pem | openssl sha256`",
                DOCS_TLS,
                **details,
                **code_details("E40007"),
            )
        weak = certs.key_problems(key)
        if weak:
            return Finding.warned(
                target,
                f"{label}: {weak[0].message}",
                weak[0].remediation,
                DOCS_TLS,
                **details,
            )
        return Finding.passed(
            target,
            f"{label}: an unencrypted {certs.key_type(key)} private key that matches the "
            f"certificate (SHA-256 {info.sha256})",
            **details,
        )


CHECKS = [ExtensionTls()]
