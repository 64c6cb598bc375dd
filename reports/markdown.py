"""``summary.md``: a short run summary for ``$GITHUB_STEP_SUMMARY`` and Azure Pipelines summaries.

Both render Markdown with inline HTML, so every piece of user data (a host name, a message) is
escaped: a ``|`` must not split a table cell and ``<script>`` must stay text. Statuses are words,
not emoji, so the file reads the same in a log, a mail or a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ._common import (
    SEVERITY_DESC,
    accepted_text,
    by_severity,
    clean,
    format_duration,
    format_time,
    is_web_url,
    mapping,
    results_of,
    status_of,
    summary_of,
    verdict_words,
)
from .compare import summary_lines
from .smoke import view

#: Rows of the findings table at most; GitHub caps a step summary at 1 MiB.
MAX_ROWS = 200

# Backslash escapes for Markdown punctuation that could start emphasis, code, links or strike-
# through, or end a table cell; entities for what HTML would read as markup.
_MD_ESCAPES = {
    "\\": "\\\\",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "|": "\\|",
    "~": "\\~",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
}
_MD_SPECIAL = re.compile(r"[\\`*_\[\]|~&<>]")
_NEWLINES = re.compile(r"\r\n|\r|\n")


def escape(value: Any) -> str:
    """User data as inert Markdown text, safe inside a table cell (newlines become <br>)."""
    text = _MD_SPECIAL.sub(lambda m: _MD_ESCAPES[m.group(0)], clean(value).strip())
    return _NEWLINES.sub("<br>", text)


def render(report: Mapping[str, Any]) -> str:
    """The Markdown summary of a finished run."""
    summary = summary_of(report)
    verdict = summary["verdict"]
    words = verdict_words(report)
    lines = [f"## preflight: {words.get(verdict, escape(verdict).upper())}", ""]
    context = _context_line(report)
    if context:
        lines += [context, ""]

    lines += ["| Status | Count |", "|---|---:|"]
    lines += [f"| {status} | {summary[status]} |" for status in SEVERITY_DESC]
    if summary.get("ignored"):
        lines.append(f"| accepted (waivers) | {summary['ignored']} |")
    lines.append("")

    findings = results_of(report)
    accepted = [f for f in by_severity(findings) if accepted_text(f)]
    attention = [
        f for f in by_severity(findings) if status_of(f) != "pass" and not accepted_text(f)
    ]
    passed = len(findings) - len(attention) - len(accepted)
    if attention:
        lines += [
            "### Findings that need attention",
            "",
            "| Status | Check | Target | Message | Remediation |",
            "|---|---|---|---|---|",
        ]
        for finding in attention[:MAX_ROWS]:
            lines.append(_row(finding))
        if len(attention) > MAX_ROWS:
            lines += [
                "",
                f"{len(attention) - MAX_ROWS} more findings are listed in report.html and "
                "report.json.",
            ]
        lines.append("")
    if accepted:
        lines += [
            "### Accepted findings (waivers)",
            "",
            "| Status | Check | Target | Message | Accepted |",
            "|---|---|---|---|---|",
        ]
        for finding in accepted[:MAX_ROWS]:
            lines.append(
                f"| {escape(status_of(finding))} | {escape(finding.get('check'))} "
                f"| {escape(finding.get('target'))} | {escape(finding.get('message'))} "
                f"| {escape(accepted_text(finding))} |"
            )
        lines.append("")
    if not findings:
        lines.append("No findings: no checks ran.")
    elif attention or accepted:
        lines.append(f"{passed} of {len(findings)} findings passed.")
    else:
        lines.append(f"All {passed} findings passed.")
    smoke = _smoke(report)
    if smoke:
        lines += ["", *smoke]
    compared = _comparison(report)
    if compared:
        lines += ["", *compared]
    recommendation = _recommendation(report.get("recommendation"))
    if recommendation:
        lines += ["", *recommendation]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def _comparison(report: Mapping[str, Any]) -> list[str]:
    """--baseline: what changed since the earlier run and which warnings came true."""

    lines = summary_lines(report)
    if not lines:
        return []
    return ["### Before and after", "", *(f"- {escape(line)}" for line in lines)]


def _smoke(report: Mapping[str, Any]) -> list[str]:
    """smoke.inference's figures as a small table: one row per measurement, then the changes
    against the baseline and the router's overhead (reports/smoke.py shapes them)."""

    shaped = view(report)
    if shaped is None:
        return []
    columns = shaped["columns"]
    lines = [
        "### Smoke inference (latency, ms)",
        "",
        "| Measurement | " + " | ".join(columns) + " | errors | achieved / target rps |",
        "|---|" + "---:|" * (len(columns) + 2),
    ]
    for row in shaped["rows"]:
        label = escape(row["label"]) + (
            f" ({escape(row['status'].upper())})" if row["status"] else ""
        )
        cells = [escape(c) for c in row["cells"]]
        lines.append(
            f"| {label} | " + " | ".join(cells) + f" | {escape(row['error_rate'])} | "
            f"{escape(row['rate'])} |"
        )
    for delta in shaped["deltas"]:
        label = escape(delta["label"])
        if delta["verdict"]:
            label += f" ({escape(delta['verdict'].upper())})"
        if not delta["comparable"]:
            lines.append(
                f"| {label} | not comparable: {escape(delta['reason'])} |"
                + " |" * (len(columns) + 1)
            )
            continue
        cells = [escape(c["text"]) for c in delta["cells"]]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {escape(delta['error_rate'])} | |")
    if shaped["overhead"]:
        parts = ", ".join(f"{o['label']} {escape(o['text'])} ms" for o in shaped["overhead"])
        lines += ["", f"Router overhead (routed - direct): {parts}"]
    if shaped["settings"]:
        lines += ["", f"Load: {escape(shaped['settings'])}."]
    return lines


def _recommendation(value: Any) -> list[str]:
    """The suggested ``az k8s-extension create`` command in a code block, reasons as a list.

    Inside a fenced block Markdown and HTML are inert, so the command stays copyable as is; the
    fence is longer than any run of backticks in it, so nothing in the command can close it.
    """
    if not isinstance(value, Mapping) or not value.get("command"):
        return []
    command = clean(value.get("command"))
    longest = max((len(run) for run in re.findall(r"`+", command)), default=0)
    fence = "`" * max(3, longest + 1)
    lines = ["### Recommended command", "", f"{fence}sh", command, fence, ""]
    reasons = value.get("reasons")
    if isinstance(reasons, str):
        reasons = [reasons]
    if isinstance(reasons, list):
        lines += [f"- {escape(reason)}" for reason in reasons if reason]
        if any(reasons):
            lines.append("")
    return lines


def _context_line(report: Mapping[str, Any]) -> str:
    """Profile, cluster, run id, start time and duration on one line."""
    parts = []
    profile = mapping(report.get("profile"))
    if profile.get("name"):
        cloud = f" ({escape(profile['cloud'])})" if profile.get("cloud") else ""
        parts.append(f"Profile: **{escape(profile['name'])}**{cloud}")
    target = report.get("target")
    if isinstance(target, Mapping) and any(target.values()):
        cluster = escape(target.get("context") or target.get("api_server") or "")
        version = target.get("kubernetes_version")
        parts.append(
            f"Cluster: {cluster}" + (f" (Kubernetes {escape(version)})" if version else "")
        )
    else:
        parts.append("Cluster: none given")
    run = mapping(report.get("run"))
    if run.get("id"):
        parts.append(f"Run: {escape(run['id'])}")
    if run.get("started_at"):
        parts.append(f"Started: {escape(format_time(run['started_at']))}")
    duration = format_duration(run.get("duration_s"))
    if duration:
        parts.append(f"Duration: {duration}")
    return " · ".join(parts)


def _row(finding: Mapping[str, Any]) -> str:
    """One table row: status word, check id, target, message, remediation (+ docs link)."""
    remediation = escape(finding.get("remediation"))
    docs = finding.get("docs")
    if isinstance(docs, str) and is_web_url(docs):
        # Percent-encode what could end the link destination or the table cell.
        url = quote(docs, safe=":/?#@!$&'*+,;=%~-._")
        remediation = f"{remediation} [docs]({url})".strip()
    cells = [
        escape(status_of(finding).upper()) or "UNKNOWN",
        escape(finding.get("check")),
        escape(finding.get("target")),
        escape(finding.get("message")),
        remediation,
    ]
    return "| " + " | ".join(cell or " " for cell in cells) + " |"
