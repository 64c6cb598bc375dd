"""``extension.healthcheck``: the extension's own health check, read back after an install.

The Azure ML extension's Helm chart runs a health check as a hook (pre-install, pre-upgrade,
pre-rollback, pre-delete) and as its ``helm test`` (``helm test -n azureml <extension-name>
--logs`` re-runs it). It writes its verdict into a ConfigMap in namespace ``azureml``. This check
reads that ConfigMap and turns every checker line into a finding that explains the code
(``checks.healthcodes``) and names the preflight check that would have seen the problem before
the install (``details["foreseen_by"]``, read by the before/after comparison).

What is known (Microsoft's troubleshooting guides):

- ConfigMap ``arcml-healthcheck``: a summary under ``status-test`` and the details under
  ``reports-test``; hook runs add keys per hook (``reports-pre-install``, ...). Before extension
  1.0.75 it was ConfigMap ``amlarc-healthcheck`` with ``status-test-success`` /
  ``reports-test-success``.
- A report line seen in a public issue (Azure/AML-Kubernetes#293):
  ``Status: Failed Name: inferencev1 ErrorCode: E45005 ErrorMessage: Azureml Fe deployment
  confict``; other issues name checkers such as service, helmchart, instancetype,
  clusterresource and info.

What is assumed (the exact format is only partly documented, so decoding is tolerant):

- One checker per line, as ``Key: value`` pairs. Keys are known capitalised words followed by
  ``:`` (Status, Name, ErrorCode, ErrorMessage, Message, ...); a value runs to the next known
  key, so it may contain spaces; a key counts only the first time it appears on a line, so a
  message that quotes ``Name:`` stays whole. Lines without Status, Name or ErrorCode (headers,
  blank lines) are ignored.
- A value may instead be JSON: a list of objects, or an object holding such lists (or one per
  checker), with keys such as status/name/errorCode/message in any case.
- ``status-<hook>`` holds a summary word (Passed/Failed); ``-success`` at the end of a key is
  the old naming and belongs to the hook before it (``reports-test-success`` -> ``test``).
- ``binaryData`` is decoded like ``data`` when it is UTF-8 text.

Every key that holds something else is listed (names only, with a short excerpt) in one warning
instead of being guessed at. The ConfigMap may hold stale keys of earlier hook runs: each finding
names its hook, and re-running ``helm test`` refreshes the ``test`` keys.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Check, Context, Finding, Status, kubeshapes
from preflight.checks._shared.healthcodes import (
    DIAGNOSTIC_FROM,
    DOCS_HEALTHCHECK,
    CodeInfo,
    explain,
    foreseen_by,
    normalize_code,
)
from preflight.checks._shared.kube_reads import HELM_RELEASE_NAME, Read, get_one, meta, unverified
from preflight.checks._shared.plan import DOCS_TROUBLESHOOT, EXTENSION_NAME_PARAM, NAMESPACE

CONFIGMAP = "arcml-healthcheck"
LEGACY_CONFIGMAP = "amlarc-healthcheck"  # before extension 1.0.75
DEFAULT_RELEASE = "<extension-name>"

MAX_LINE = 500  # characters of a raw line kept in details
MAX_TEXT = 2_000_000  # characters of one value decoded (a ConfigMap holds at most 1 MiB)
MAX_RECORDS = 200  # checker findings per key; the rest is summarised
MAX_NAME = 80  # characters of a checker name in a target
EXCERPT = 80  # characters of a value shown when its format is not understood
MAX_KEYS = 100  # key names listed in details

#: the hooks in the order a reader follows an installation (others follow, sorted)
HOOK_ORDER = ("pre-install", "pre-upgrade", "pre-rollback", "pre-delete", "test")

_KEY_RE = re.compile(r"^(?P<kind>reports?|status)(?:[-_](?P<hook>.+))?$", re.IGNORECASE)

#: line keys (as written) -> the field they fill
LINE_KEYS = {
    "Status": "status",
    "Result": "status",
    "State": "status",
    "Name": "name",
    "Checker": "name",
    "Check": "name",
    "ErrorCode": "code",
    "Error Code": "code",
    "Code": "code",
    "ErrorMessage": "message",
    "Error Message": "message",
    "Message": "message",
    "Error": "message",
    "Reason": "message",
    "Description": "message",
    "Details": "message",
    "Detail": "message",
    "Suggestion": "suggestion",
    "Solution": "suggestion",
}
_LINE_KEY_RE = re.compile(
    r"(?<![^\s,;|{(\[])(?P<key>"
    + "|".join(re.escape(k) for k in sorted(LINE_KEYS, key=len, reverse=True))
    + r")\s*[:=]"
)
#: JSON keys (lower case, without "_"/"-") -> the field they fill
JSON_KEYS = {
    "status": "status",
    "result": "status",
    "state": "status",
    "name": "name",
    "checker": "name",
    "check": "name",
    "checkername": "name",
    "errorcode": "code",
    "code": "code",
    "errormessage": "message",
    "message": "message",
    "msg": "message",
    "error": "message",
    "reason": "message",
    "description": "message",
    "detail": "message",
    "details": "message",
    "suggestion": "suggestion",
    "solution": "suggestion",
}
_RECORD_FIELDS = ("status", "name", "code")

_STATUS_WORDS = {
    Status.FAIL: ("failed", "fail", "failure", "error", "errored", "false", "unhealthy"),
    Status.PASS: (
        "passed",
        "pass",
        "success",
        "succeeded",
        "successful",
        "ok",
        "true",
        "healthy",
    ),
    Status.WARN: ("warning", "warn", "warned", "warnings"),
    Status.SKIP: ("skipped", "skip", "notrun", "not run", "ignored"),
}
_STATUS_OF = {word: status for status, words in _STATUS_WORDS.items() for word in words}
_CONTROL_RE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)


# -- decoding (pure: no cluster, no I/O) -------------------------------------------------------


@dataclass
class Record:
    """One checker's verdict as the health check wrote it."""

    fields: dict[str, str]
    line: str  # the raw line (or the JSON object, re-serialised), cleaned and truncated
    number: int  # 1-based line (or item) number within its value

    @property
    def status_text(self) -> str:
        return self.fields.get("status", "")

    @property
    def status(self) -> Status | None:
        return parse_status(self.status_text)

    @property
    def checker(self) -> str:
        return self.fields.get("name", "")

    @property
    def code(self) -> str | None:
        return normalize_code(self.fields.get("code"))

    @property
    def raw_code(self) -> str:
        return self.fields.get("code", "")

    @property
    def message(self) -> str:
        return self.fields.get("message", "")


@dataclass
class Report:
    """What one ``reports-*`` value decoded to."""

    records: list[Record] = field(default_factory=list)
    summary: str | None = None  # a status the value itself carries (a JSON ``status``)
    form: str = "lines"  # lines | json | empty


def clean(text: str, limit: int = MAX_LINE) -> str:
    """Printable, one line, at most ``limit`` characters (odd bytes must not break a report)."""
    flat = _CONTROL_RE.sub("?", text.replace("\r", " ").replace("\n", " ").replace("\t", " "))
    flat = flat.strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def text_of(value: Any) -> str:
    """A ConfigMap value as text: the API gives strings, a hand-made object may not."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if value is None:
        return ""
    if isinstance(value, bytes):
        return ""  # binary, not text: nothing to decode
    try:
        return json.dumps(value)[:MAX_TEXT]
    except (TypeError, ValueError):
        return str(value)[:MAX_TEXT]


def parse_status(text: object) -> Status | None:
    """``Failed`` -> fail, ``Passed`` -> pass, ``Warning`` -> warn, ``Skipped`` -> skip; None
    when the word is not one the health check is known (or assumed) to write."""
    if text is None or isinstance(text, dict | list):
        return None
    word = re.sub(r"[\s_-]+", " ", str(text)).strip().strip(".!:;,'\"").lower()
    if not word:
        return None
    if word in _STATUS_OF:
        return _STATUS_OF[word]
    first = re.split(r"[^a-z]+", word, maxsplit=1)[0]
    return _STATUS_OF.get(first)


def parse_key(key: str) -> tuple[str, str] | None:
    """``("reports", "pre-install")`` for ``reports-pre-install``; ``("status", "test")`` for
    the old ``status-test-success``; None for a key preflight does not know."""
    match = _KEY_RE.match(key.strip())
    if not match:
        return None
    kind = "status" if match.group("kind").lower() == "status" else "reports"
    hook = (match.group("hook") or "").strip().lower()
    if hook.endswith("-success") and hook != "-success":
        hook = hook[: -len("-success")]
    return kind, hook or "default"


def parse_line(line: str) -> dict[str, str]:
    """``Status: Failed Name: service ErrorCode: E40001 ErrorMessage: no lb`` -> fields.

    A field counts only the first time a key for it appears: a later ``Name:`` or ``Code:``
    (inside a message, say) stays in the value before it, word for word."""
    found: list[tuple[str, int, int]] = []  # (field, key start, value start)
    for match in _LINE_KEY_RE.finditer(line):
        name = LINE_KEYS[match.group("key")]
        if all(name != seen for seen, _, _ in found):
            found.append((name, match.start(), match.end()))
    fields: dict[str, str] = {}
    for index, (name, _start, value_start) in enumerate(found):
        end = found[index + 1][1] if index + 1 < len(found) else len(line)
        fields[name] = line[value_start:end].strip().strip(",;|").strip().strip("'\"")
    return fields


def _is_record(fields: dict[str, str]) -> bool:
    return any(fields.get(f) for f in _RECORD_FIELDS)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return text_of(value)


def _json_fields(obj: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in obj.items():
        name = JSON_KEYS.get(re.sub(r"[\s_-]", "", str(key)).lower())
        if name is None or value is None or isinstance(value, dict | list):
            continue
        text = clean(_scalar(value), MAX_TEXT)
        fields[name] = f"{fields[name]}; {text}" if fields.get(name) else text
    return fields


def _is_record_object(obj: dict[str, Any]) -> bool:
    """An object that is one checker's verdict, not a container of them."""
    return _is_record(_json_fields(obj)) and not any(isinstance(v, list) for v in obj.values())


def _json_records(value: Any, depth: int = 0, default_name: str = "") -> Iterator[Record]:
    """Records from a decoded JSON value: a list of objects (or of report lines), an object
    that is one record, or an object holding lists or one object per checker."""
    if depth > 4:
        return
    if isinstance(value, str):
        fields = parse_line(value)
        if _is_record(fields):
            yield Record(fields, clean(value), 0)
        return
    if isinstance(value, list):
        for item in value:
            yield from _json_records(item, depth + 1)
        return
    if not isinstance(value, dict):
        return
    if _is_record_object(value):
        fields = _json_fields(value)
        if default_name and not fields.get("name"):
            fields["name"] = default_name
        yield Record(fields, clean(json.dumps(value, default=str)), 0)
        return
    for key, child in value.items():
        if isinstance(child, list):
            yield from _json_records(child, depth + 1)
        elif isinstance(child, dict):
            yield from _json_records(child, depth + 1, default_name=str(key))


def _json_value(text: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith(("[", "{")):
        return None
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        return None


def parse_report(value: Any) -> Report:
    """Decode one ``reports-*`` value (text, JSON text, or an already decoded JSON value)."""
    decoded = value if isinstance(value, list | dict) else _json_value(text_of(value))
    if decoded is not None:
        records = list(_json_records(decoded))
        for number, record in enumerate(records, 1):
            record.number = number
        summary = None
        if isinstance(decoded, dict) and not _is_record_object(decoded):
            summary = _json_fields(decoded).get("status")  # a container's own verdict
        return Report(records, summary, "json")
    text = text_of(value)
    if not text.strip():
        return Report(form="empty")
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = parse_line(line)
        if _is_record(fields):
            records.append(Record(fields, clean(line), number))
    return Report(records)


def parse_summary(value: Any) -> Status | None:
    """A ``status-*`` value: a word (Passed/Failed), possibly inside JSON or a longer text."""
    if isinstance(value, dict):
        return parse_status(_json_fields(value).get("status"))
    text = text_of(value)
    decoded = _json_value(text)
    if isinstance(decoded, dict):
        return parse_status(_json_fields(decoded).get("status"))
    if isinstance(decoded, str | bool):
        return parse_status(_scalar(decoded))
    return parse_status(text.strip().splitlines()[0] if text.strip() else "")


def configmap_values(obj: dict[str, Any]) -> dict[str, Any]:
    """``data`` and the UTF-8 text of ``binaryData`` (``data`` wins on a clash); a binary value
    that is not UTF-8 text stays bytes, listed but never decoded."""
    values: dict[str, Any] = {}  # keys cleaned: they end up in messages
    if not isinstance(obj, dict):  # not an object at all: nothing to decode
        return values
    binary = obj.get("binaryData")
    if isinstance(binary, dict):
        for key, raw in binary.items():
            try:
                blob = base64.b64decode(str(raw), validate=True)
            except (binascii.Error, ValueError):
                blob = str(raw).encode("utf-8", "replace")
            try:
                values[clean(str(key), MAX_NAME)] = blob.decode("utf-8")
            except UnicodeDecodeError:
                values[clean(str(key), MAX_NAME)] = blob  # not text: listed, never decoded
    data = obj.get("data")
    if isinstance(data, dict):
        values.update({clean(str(k), MAX_NAME): v for k, v in data.items()})
    return values


def hook_rank(hook: str) -> tuple[int, str]:
    return (HOOK_ORDER.index(hook), "") if hook in HOOK_ORDER else (len(HOOK_ORDER), hook)


# -- the check ---------------------------------------------------------------------------------


@dataclass
class Source:
    """The ConfigMap being read, and what a finding needs to say about it."""

    name: str
    release: str

    @property
    def helm_test(self) -> str:
        return f"helm test -n {NAMESPACE} {self.release} --logs"

    @property
    def logs(self) -> str:
        return (
            f"read the health check's logs ({self.helm_test} re-runs it; kubectl logs "
            f"healthcheck -n {NAMESPACE} shows the last run)"
        )


@dataclass
class Hook:
    """The keys one hook run wrote: its summary and its checker reports."""

    name: str
    summary_key: str | None = None
    summary_value: Any = None
    report_keys: list[tuple[str, Any]] = field(default_factory=list)


class ExtensionHealthcheck(Check):
    """The extension's own health check stops an install with a code and a line in a ConfigMap
    few people know how to read; this check reads it, explains each code and says which
    preflight check would have caught it before the install."""

    id = "extension.healthcheck"
    title = "The extension's own health check passed (arcml-healthcheck decoded)"
    category = "extension"
    needs = ("kube",)
    docs = DOCS_HEALTHCHECK
    parameters = EXTENSION_NAME_PARAM
    #: the health check writes its verdict during the install
    phases = ("after",)

    def run(self, ctx: Context) -> list[Finding]:
        release = ctx.param("extension_name") or ""
        name, read = CONFIGMAP, self._read(ctx, CONFIGMAP)
        if read.ok and not read.items:
            name, read = LEGACY_CONFIGMAP, self._read(ctx, LEGACY_CONFIGMAP)
        if not read.ok:
            return [
                unverified(name, "the extension's health-check verdict", [read], configmap=name)
            ]
        if not read.items:
            return [self._missing(release or DEFAULT_RELEASE)]
        obj = read.items[0]
        return decode_configmap(obj, Source(name, release or _helm_release(obj)))

    @staticmethod
    def _read(ctx: Context, name: str) -> Read:
        # a ConfigMap's data and binaryData map names to text: anything else is not the API
        # server's answer (an error naming the field); text the decoder cannot read is a warning
        return get_one(
            ctx, f"ConfigMap {name}", "v1", "configmaps", name, NAMESPACE, kubeshapes.CONFIGMAP
        )

    @staticmethod
    def _missing(release: str) -> Finding:
        return Finding.warned(
            CONFIGMAP,
            f"the extension's health check has not written its verdict: neither ConfigMap "
            f"{CONFIGMAP} nor {LEGACY_CONFIGMAP} exists in namespace {NAMESPACE} (the extension "
            "is not installed yet, its install is still in the pre-install hook, or the "
            "ConfigMap was deleted)",
            f"check the extension's state (az k8s-extension show --name {release} ...); once it "
            f"is installed, run helm test -n {NAMESPACE} {release} --logs to write the verdict, "
            "then run this check again",
            DOCS_TROUBLESHOOT + "#healthcheck-of-extension",
            configmap=CONFIGMAP,
            legacy_configmap=LEGACY_CONFIGMAP,
        )


def _helm_release(obj: dict[str, Any]) -> str:
    """The release named by Helm's annotation on the ConfigMap, else a placeholder."""
    annotations = meta(obj).get("annotations")
    value = annotations.get(HELM_RELEASE_NAME) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) and value.strip() else DEFAULT_RELEASE


def decode_configmap(obj: dict[str, Any], source: Source) -> list[Finding]:
    """Findings for a health-check ConfigMap (pure: the object in, findings out)."""
    values = configmap_values(obj)
    hooks, unknown = _group(values)
    findings: list[Finding] = []
    undecoded: list[str] = []
    for hook in sorted(hooks.values(), key=lambda h: hook_rank(h.name)):
        hook_findings, silent = _hook_findings(hook, source)
        findings += hook_findings
        undecoded += _keys_of(hook) if not hook_findings else silent
    if not findings:
        return [_unknown_format(values, source)]
    if undecoded:
        findings.append(_undecoded_keys(undecoded, values, source))
    if unknown:
        for finding in findings:
            finding.details.setdefault("other_keys", unknown)
    return findings


def _group(values: dict[str, Any]) -> tuple[dict[str, Hook], list[str]]:
    hooks: dict[str, Hook] = {}
    unknown: list[str] = []
    for key in sorted(values):
        parsed = parse_key(key)
        if parsed is None:
            unknown.append(key)
            continue
        kind, name = parsed
        hook = hooks.setdefault(name, Hook(name))
        if kind == "status" and hook.summary_key is None:
            hook.summary_key, hook.summary_value = key, values[key]
        elif kind == "status":
            unknown.append(key)  # a second summary of the same hook: listed, not guessed at
        else:
            hook.report_keys.append((key, values[key]))
    return hooks, unknown


def _keys_of(hook: Hook) -> list[str]:
    keys = [key for key, _ in hook.report_keys]
    return keys + ([hook.summary_key] if hook.summary_key else [])


def _hook_findings(hook: Hook, source: Source) -> tuple[list[Finding], list[str]]:
    """One finding per checker line. The summary adds one only when no line carries its
    verdict: the report holds no lines, or it says Failed while no line failed. Also the
    report keys that hold text but no line (listed, not guessed at)."""
    summary = parse_summary(hook.summary_value) if hook.summary_key else None
    findings: list[Finding] = []
    silent: list[str] = []
    used: dict[str, int] = {}  # targets given out in this hook
    for key, value in hook.report_keys:
        report = parse_report(value)
        if summary is None and report.summary is not None:
            summary = parse_status(report.summary)
        if not report.records and report.form != "empty" and report.summary is None:
            silent.append(key)
        findings += _record_findings(report.records, hook.name, key, source, used)
    if hook.summary_key:
        for finding in findings:
            finding.details["summary"] = clean(text_of(hook.summary_value), EXCERPT)
    if summary is None:
        return findings, silent
    if not findings:
        return [_summary_finding(hook, summary, False, source)], silent
    if summary == Status.FAIL and all(f.status != Status.FAIL for f in findings):
        findings.append(_summary_finding(hook, summary, True, source))
    return findings, silent


def _record_findings(
    records: list[Record], hook: str, key: str, source: Source, used: dict[str, int]
) -> list[Finding]:
    """A finding per record; past MAX_RECORDS, the failures are kept and the rest counted."""
    kept = records
    dropped: list[Record] = []
    if len(records) > MAX_RECORDS:
        ranked = sorted(records, key=lambda r: r.status == Status.PASS)
        kept = sorted(ranked[:MAX_RECORDS], key=lambda r: r.number)
        dropped = ranked[MAX_RECORDS:]
    findings: list[Finding] = []
    for record in kept:
        target = _target(record, hook, used)
        findings.append(_record_finding(record, target, hook, key, source))
    if dropped:
        findings.append(_dropped_finding(dropped, hook, key, source))
    return findings


def _target(record: Record, hook: str, used: dict[str, int]) -> str:
    """``test/service``; a checker named twice gets ``#2``; a nameless one its line number."""
    checker = clean(record.checker, MAX_NAME) or f"line-{record.number}"
    base = f"{hook}/{checker}"
    used[base] = used.get(base, 0) + 1
    return base if used[base] == 1 else f"{base}#{used[base]}"


def _record_finding(record: Record, target: str, hook: str, key: str, source: Source) -> Finding:
    checker = clean(record.checker, MAX_NAME) or "(unnamed)"
    said = clean(record.message)
    details: dict[str, Any] = {
        "checker": checker,
        "hook": hook,
        "configmap": source.name,
        "entry": key,  # the ConfigMap key (a detail named "key" would be redacted as secret)
        "line": record.line,
        "reported_status": clean(record.status_text, EXCERPT),
    }
    if said:
        details["health_check_message"] = said
    info: CodeInfo | None = None
    if record.code:
        info = explain(record.code)
        details.update(
            code=info.code,
            code_name=info.name or None,
            code_known=info.known,
            severity=info.severity,
            health_check=info.text,
            foreseen_by=foreseen_by(info.code),
        )
    elif record.raw_code:
        details["code"] = clean(record.raw_code, EXCERPT)
    run = f"the {hook} run" if hook != "default" else "its last run"
    status = record.status
    if status == Status.PASS:
        extra = f" ({said})" if said else ""
        return Finding.passed(
            target, f"checker {checker} passed in {run} of the health check{extra}", **details
        )
    if status == Status.SKIP:
        return Finding.skipped(
            target,
            f"checker {checker} was skipped in {run} of the health check"
            + (f": {said}" if said else ""),
            f"nothing to do unless you expected it to run; {source.logs}",
            **details,
        )
    if status is None:
        verdict = (
            f"wrote a status preflight does not understand ({clean(record.status_text, 40)!r})"
            if record.status_text
            else "wrote no status"
        )
        message = f"checker {checker} {verdict} in {run} of the health check"
    else:
        verb = "failed" if status == Status.FAIL else "warned"
        message = f"checker {checker} {verb} in {run} of the health check"
    message += _code_clause(info, record)
    if said:
        message += f"; it said: {said}"
    remediation, docs = _remedy(info, source)
    final = status if status in (Status.FAIL, Status.WARN) else Status.WARN
    return Finding(final, target, message, remediation, docs, details)


def _code_clause(info: CodeInfo | None, record: Record) -> str:
    if info is None:
        raw = clean(record.raw_code, EXCERPT)
        return f" with {raw!r}, which is not a health-check code" if raw else ""
    if info.known:
        return f" with {info.text}: {info.meaning}"
    kind = (
        f"codes from E{DIAGNOSTIC_FROM} up are diagnostic: the health check's logs say what it "
        "found"
        if info.severity == "diagnostic"
        else f"codes below E{DIAGNOSTIC_FROM} are critical: the install stops on them"
    )
    return f" with {info.code}, which is not in preflight's table of health-check codes; {kind}"


def _remedy(info: CodeInfo | None, source: Source) -> tuple[str, str]:
    """What to do, and the docs: the code's own fix, the check that catches it before the
    next install, then a fresh verdict."""
    rerun = f"then re-run the health check: {source.helm_test}"
    if info is None:
        return f"{source.logs}; fix what they name, {rerun}", DOCS_HEALTHCHECK
    if not info.known:
        return (
            f"{source.logs}, look the code up in the troubleshooting guide's health-check "
            f"table, fix what it names, {rerun}",
            DOCS_HEALTHCHECK,
        )
    steps = [info.remediation]
    if info.caught_by:
        checks = " ".join(f"--check {check}" for check in info.caught_by)
        steps.append(
            f"preflight's {', '.join(info.caught_by)} "
            f"check{'s' if len(info.caught_by) > 1 else ''} would have caught this before the "
            f"install: run preflight run {checks} before the next install or update"
        )
    steps.append(rerun)
    return "; ".join(steps), info.docs


def _dropped_finding(dropped: list[Record], hook: str, key: str, source: Source) -> Finding:
    failing = [r for r in dropped if r.status != Status.PASS]
    details = {"hook": hook, "entry": key, "configmap": source.name, "lines": len(dropped)}
    target = f"{hook}/more"
    if not failing:
        return Finding.passed(
            target, f"{len(dropped)} more checker lines of {key} passed (not itemised)", **details
        )
    return Finding.warned(
        target,
        f"{key} holds {len(dropped)} more checker lines than preflight itemises "
        f"({len(failing)} of them not passed)",
        f"{source.logs}; kubectl get configmap -n {NAMESPACE} {source.name} -o "
        f"jsonpath='{{.data.{key}}}' shows them all",
        DOCS_HEALTHCHECK,
        **details,
    )


def _summary_finding(hook: Hook, summary: Status, contradicted: bool, source: Source) -> Finding:
    key = hook.summary_key or "?"
    said = clean(text_of(hook.summary_value), EXCERPT)
    target = f"{hook.name}/summary"
    details = {"hook": hook.name, "configmap": source.name, "entry": key, "summary": said}
    run = f"the {hook.name} run" if hook.name != "default" else "the last run"
    if summary == Status.PASS:
        return Finding.passed(
            target, f"the health check passed in {run} ({key}: {said})", **details
        )
    if summary == Status.FAIL:
        why = (
            "but none of its checker lines failed"
            if contradicted
            else "and wrote no checker lines preflight could read"
        )
        return Finding.failed(
            target,
            f"the health check failed in {run} ({key}: {said}) {why}",
            f"{source.logs} to see which checker failed, fix it, then run this check again",
            DOCS_HEALTHCHECK,
            **details,
        )
    word = "warned" if summary == Status.WARN else "was skipped"
    return Finding(
        summary,
        target,
        f"the health check {word} in {run} ({key}: {said})",
        f"{source.logs} for the details",
        DOCS_HEALTHCHECK,
        details,
    )


def _excerpts(keys: Iterable[str], values: dict[str, Any]) -> dict[str, str]:
    shown: dict[str, str] = {}
    for key in keys:
        value = values.get(key)
        if isinstance(value, bytes):
            shown[key] = f"(binary, {len(value)} bytes)"
        else:
            shown[key] = clean(text_of(value), EXCERPT) or "(empty)"
    return shown


def _unknown_format(values: dict[str, Any], source: Source) -> Finding:
    keys = sorted(values)
    known = [k for k in keys if parse_key(k) is not None]
    changed = " (its format may have changed in this extension version)"
    if not keys:
        what = "holds no data (the health check may still be running, or it wrote nothing)"
        changed = ""
    elif known:
        what = (
            f"has the keys preflight knows ({', '.join(known)}) but they hold neither checker "
            "lines nor a status preflight understands"
        )
    else:
        what = f"holds keys preflight does not know: {', '.join(keys[:20])}"
    return Finding.warned(
        source.name,
        f"could not decode ConfigMap {source.name} in namespace {NAMESPACE}: it {what}{changed}",
        f"{source.logs}; kubectl describe configmap -n {NAMESPACE} {source.name} shows the "
        "raw report",
        DOCS_TROUBLESHOOT + "#healthcheck-of-extension",
        configmap=source.name,
        keys=keys[:MAX_KEYS],
        excerpts=_excerpts(known or keys[:20], values),
    )


def _undecoded_keys(keys: list[str], values: dict[str, Any], source: Source) -> Finding:
    return Finding.warned(
        f"{source.name}/undecoded",
        f"keys of ConfigMap {source.name} that preflight knows by name hold nothing it could "
        f"decode: {', '.join(keys)}",
        f"{source.logs}; kubectl describe configmap -n {NAMESPACE} {source.name} shows the "
        "raw report",
        DOCS_TROUBLESHOOT + "#healthcheck-of-extension",
        configmap=source.name,
        keys=keys,
        excerpts=_excerpts(keys, values),
    )


CHECKS = [ExtensionHealthcheck()]
