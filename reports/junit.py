"""``junit.xml``: findings as test results, so CI systems gate on and display a run natively.

One <testsuite> per check id and one <testcase> per finding. Only elements and attributes of the
Jenkins JUnit schema (xunit-plugin ``junit-10.xsd``) are written, the subset Azure DevOps
PublishTestResults, GitLab ``artifacts:reports:junit`` and the Jenkins junit plugin all read.
JUnit has no "warning": a warn finding is a passing testcase whose <system-out> starts with
``WARN:``, so it is visible in the CI test view without breaking the build on its own.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ._common import (
    accepted_text,
    clean,
    is_web_url,
    mapping,
    parse_time,
    results_of,
    status_of,
)


def render(report: Mapping[str, Any]) -> str:
    """The JUnit XML document (UTF-8 declaration included) for a finished run."""
    run = mapping(report.get("run"))
    timestamp = _timestamp(run.get("started_at"))
    hostname = clean(run.get("hostname")) or _local_hostname()

    suites: dict[str, list[Mapping[str, Any]]] = {}
    for finding in results_of(report):
        suites.setdefault(clean(finding.get("check")) or "unknown", []).append(finding)

    root = ET.Element("testsuites", name="preflight")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for index, (check_id, findings) in enumerate(suites.items()):
        suite = _suite(check_id, findings, index, timestamp, hostname)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))

    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    run_time = _seconds(run.get("duration_s"))
    if run_time is None:
        run_time = sum(_seconds(f.get("duration_s")) or 0.0 for f in results_of(report))
    root.set("time", _time_text(run_time))

    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _suite(
    check_id: str,
    findings: list[Mapping[str, Any]],
    index: int,
    timestamp: str,
    hostname: str,
) -> ET.Element:
    """One <testsuite> for all findings of one check."""
    # an accepted finding (a waiver) is reported as skipped, with the waiver's reason: it must
    # not fail the CI job that reads this file, and must not pass unseen either
    statuses = ["skip" if accepted_text(f) else status_of(f) for f in findings]
    total_time = sum(_seconds(f.get("duration_s")) or 0.0 for f in findings)
    suite = ET.Element(
        "testsuite",
        name=check_id,
        tests=str(len(findings)),
        failures=str(statuses.count("fail")),
        errors=str(statuses.count("error")),
        skipped=str(statuses.count("skip")),
        time=_time_text(total_time),
        timestamp=timestamp,
        hostname=hostname,
        id=str(index),
        package="preflight",
    )
    for finding in findings:
        suite.append(_testcase(check_id, finding))
    return suite


def _testcase(check_id: str, finding: Mapping[str, Any]) -> ET.Element:
    """One <testcase>; its child says what CI should make of the finding."""
    status = status_of(finding)
    case = ET.Element(
        "testcase",
        classname=f"preflight.{check_id}",
        name=clean(finding.get("target")) or check_id,
        time=_time_text(_seconds(finding.get("duration_s")) or 0.0),
    )
    message = clean(finding.get("message"))
    accepted = accepted_text(finding)
    if accepted and status != "pass":
        child = ET.SubElement(case, "skipped", message=f"{status.upper()} {accepted}: {message}")
        child.text = f"{accepted}\n{_explanation(finding)}"
    elif status in ("fail", "error"):
        tag = "failure" if status == "fail" else "error"
        child = ET.SubElement(case, tag, message=message, type=status)
        child.text = _explanation(finding)
    elif status == "skip":
        child = ET.SubElement(case, "skipped", message=message)
        child.text = _explanation(finding)
    elif status == "warn":
        out = ET.SubElement(case, "system-out")
        out.text = f"WARN: {message}\n{_explanation(finding)}"
    elif status != "pass":  # a status this version does not know: never let it pass silently
        child = ET.SubElement(case, "error", message=message, type=status or "unknown")
        child.text = _explanation(finding)
    return case


def _explanation(finding: Mapping[str, Any]) -> str:
    """Plain-text body CI shows under a result: what to do, where to read, and the evidence."""
    lines = []
    if finding.get("message"):
        lines.append(clean(finding.get("message")))
    if finding.get("remediation"):
        lines.append(f"Remediation: {clean(finding.get('remediation'))}")
    docs = finding.get("docs")
    if docs:
        # Shown as text either way; CI viewers linkify only real web URLs.
        lines.append(
            f"Docs: {clean(docs)}" if is_web_url(docs) else f"Docs (not a URL): {clean(docs)}"
        )
    details = finding.get("details")
    if isinstance(details, Mapping):
        for key, value in details.items():
            lines.append(f"{clean(key)}: {clean(value)}")
    return "\n".join(lines)


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 and seconds != float("inf") else None


def _time_text(seconds: float) -> str:
    """Seconds as plain decimal: the schema's time pattern forbids exponents, signs and NaN."""
    return f"{seconds:.3f}"


def _timestamp(started_at: Any) -> str:
    """Run start as 'YYYY-MM-DDTHH:MM:SS' in UTC: the zone-less form Jenkins' parser expects.

    A report without a start time gets the time of rendering: an empty attribute breaks parsers.
    """
    parsed = parse_time(started_at) or datetime.now(UTC)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S")


def _local_hostname() -> str:
    """Where the report was rendered, when the run did not record where it ran."""
    try:
        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"
