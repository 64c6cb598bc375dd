"""Helm 3's release records, read the way Helm stores them, for the checks that judge an earlier
installation (``extension.helm-history``; ``extension.conflicts`` reads only their labels).

Helm 3 keeps one Secret per revision (helm/helm ``pkg/storage/driver/secrets.go``, ``util.go``):

- name ``sh.helm.release.v1.<release>.v<revision>``, type ``helm.sh/release.v1``;
- labels ``owner=helm``, ``name=<release>``, ``status=<status>``, ``version=<revision>`` (newer
  Helm also ``createdAt`` / ``modifiedAt``, Unix seconds);
- ``data.release``: ``base64(gzip(json(release)))`` (``encodeRelease``), which the API server
  base64-encodes once more as it does every Secret value. Helm's decoder skips the gunzip when
  the gzip magic bytes ``1f 8b 08`` are absent, and so does this one.

Statuses (``pkg/release/status.go``): unknown, deployed, uninstalled, superseded, failed,
uninstalling, pending-install, pending-upgrade, pending-rollback.

Only the release's name, revision, status, times, description and chart name/version are kept:
its values and manifest can hold secrets and never leave this module.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Context
from preflight.checks._shared.kube_reads import Read, labels, list_all, meta, timestamp
from preflight.checks._shared.plan import NAMESPACE
from preflight.checks._shared.pods import as_dict

RELEASE_TYPE = "helm.sh/release.v1"
STATUSES = (
    "unknown",
    "deployed",
    "uninstalled",
    "superseded",
    "failed",
    "uninstalling",
    "pending-install",
    "pending-upgrade",
    "pending-rollback",
)
#: an operation still running, or one that died without finishing: Helm refuses the next
#: operation on the release ("another operation is in progress") while the latest revision
#: is in one of these
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
GZIP_MAGIC = b"\x1f\x8b\x08"
#: bytes of decompressed release JSON read at most (a chart's manifest is a few MiB; a Secret
#: holds at most 1 MiB compressed)
MAX_RELEASE = 64 * 1024 * 1024


class ReleaseUnreadable(ValueError):
    """``data.release`` is not what Helm writes; the message says which step failed."""


def decode_release(value: Any) -> dict[str, Any]:
    """The release object of a Secret's ``data.release`` as the API returns it (base64 of
    Helm's base64 of gzipped JSON). Raises ReleaseUnreadable naming the step that failed."""
    if not isinstance(value, str) or not value:
        raise ReleaseUnreadable("data.release is missing or not text")
    try:
        helm_text = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ReleaseUnreadable(
            "data.release is not base64 (as the API returns Secret data)"
        ) from None
    try:
        blob = base64.b64decode(helm_text, validate=True)
    except (binascii.Error, ValueError):
        raise ReleaseUnreadable(
            "the release is not base64 inside the Secret value (Helm 3 encodes it so)"
        ) from None
    if blob[:3] == GZIP_MAGIC:
        blob = _gunzip(blob)
    try:
        release = json.loads(blob)
    except (UnicodeDecodeError, ValueError):
        raise ReleaseUnreadable("the decoded release is not JSON") from None
    if not isinstance(release, dict):
        raise ReleaseUnreadable(f"the decoded release is a JSON {type(release).__name__}")
    return release


def _gunzip(blob: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(blob, MAX_RELEASE)
    except zlib.error as exc:
        raise ReleaseUnreadable(f"the release is not valid gzip ({exc})") from None
    if inflater.unconsumed_tail:
        raise ReleaseUnreadable(f"the release decompresses to more than {MAX_RELEASE} bytes")
    if not inflater.eof:
        raise ReleaseUnreadable("the release's gzip stream is cut short")
    return data


@dataclass
class ReleaseRecord:
    """One revision of one release: what its labels say and, when it decodes, its payload."""

    secret: str  # the Secret's name
    namespace: str
    name: str  # release name (label ``name``, else the payload's)
    revision: int | None  # label ``version``, else the payload's
    label_status: str  # label ``status`` ("" when absent)
    problem: str | None = None  # why the payload could not be read
    payload: dict[str, Any] = field(default_factory=dict)  # the safe fields only
    marks: dict[str, str] = field(default_factory=dict)  # the Secret's labels

    @property
    def status(self) -> str:
        """The payload's status (what Helm itself reads), else the label's."""
        return str(self.payload.get("status") or self.label_status or "unknown")

    @property
    def status_mismatch(self) -> bool:
        payload = self.payload.get("status")
        return bool(payload and self.label_status and payload != self.label_status)

    def last_change(self) -> dt.datetime | None:
        """When the operation of this revision started or last changed (payload
        ``info.last_deployed``, else the ``modifiedAt`` / ``createdAt`` labels)."""
        when = timestamp(self.payload.get("last_deployed"))
        if when is not None:
            return when
        return self._label_time("modifiedAt") or self._label_time("createdAt")

    def _label_time(self, key: str) -> dt.datetime | None:
        raw = self.marks.get(key)
        try:
            return dt.datetime.fromtimestamp(int(raw or ""), dt.UTC)
        except (ValueError, OverflowError, OSError):
            return None

    def summary(self) -> dict[str, Any]:
        """What a finding may show of this revision (never values or manifests)."""
        out: dict[str, Any] = {
            "record": self.secret,
            "revision": self.revision,
            "status": self.status,
            **{k: v for k, v in self.payload.items() if v not in (None, "")},
        }
        if self.status_mismatch:
            out["label_status"] = self.label_status
        if self.problem:
            out["unreadable"] = self.problem
        return out


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


def _text(value: Any, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def safe_fields(release: dict[str, Any]) -> dict[str, Any]:
    """The release fields a report may show: status, times, description, chart name and
    version. A field of another type is left out (the release still counts as read)."""
    info = as_dict(release.get("info"))
    chart = as_dict(release.get("chart"))
    chart_meta = as_dict(chart.get("metadata"))
    return {
        "status": _text(info.get("status")),
        "first_deployed": _text(info.get("first_deployed")),
        "last_deployed": _text(info.get("last_deployed")),
        "description": _text(info.get("description")),
        "chart": _text(chart_meta.get("name")),
        "chart_version": _text(chart_meta.get("version")),
        "app_version": _text(chart_meta.get("appVersion")),
        "payload_name": _text(release.get("name")),
        "payload_version": _int(release.get("version")),
    }


def read_record(secret: dict[str, Any]) -> ReleaseRecord:
    """One Helm release Secret as a record; a payload that does not decode is kept as a
    ``problem`` (the labels still say what they say)."""
    marks = {str(k): str(v) for k, v in labels(secret).items()}
    record = ReleaseRecord(
        secret=str(meta(secret).get("name") or "?"),
        namespace=str(meta(secret).get("namespace") or ""),
        name=marks.get("name", ""),
        revision=_int(marks.get("version")),
        label_status=marks.get("status", ""),
        marks=marks,
    )
    kind = secret.get("type")
    data = as_dict(secret.get("data"))
    if kind not in (None, RELEASE_TYPE):
        record.problem = f"Secret type is {kind!r}, not {RELEASE_TYPE!r}"
        return record
    try:
        fields = safe_fields(decode_release(data.get("release")))
    except ReleaseUnreadable as exc:
        record.problem = str(exc)
        return record
    payload_name = fields.pop("payload_name")
    payload_version = fields.pop("payload_version")
    record.payload = fields
    record.name = record.name or payload_name or ""
    if record.revision is None:
        record.revision = payload_version
    if fields["status"] is None:
        record.problem = "the decoded release has no info.status"
    return record


def release_secrets(ctx: Context) -> Read:
    """The Helm release records (Secrets labelled owner=helm) in the extension's namespace, as
    Helm 3 stores them: one read per run, shared by extension.conflicts and helm-history."""
    return list_all(
        ctx,
        f"Helm release records in {NAMESPACE}",
        "v1",
        "secrets",
        namespace=NAMESPACE,
        label_selector="owner=helm",
    )
