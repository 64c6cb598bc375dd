"""``report.html``: the report a change board reads, as one self-contained file.

The page carries its CSS inline and loads nothing (no scripts, fonts, images or stylesheets), so it
opens on an air-gapped jump box and prints cleanly. Everything from the report is untrusted text
(host names and messages can come from DNS answers, API servers and user profiles): the jinja2
environment autoescapes everything, links are made only from http(s) URLs, and a
Content-Security-Policy forbids scripts as a second line of defence.

The data is shaped for the template here (``_view``) so the template holds layout, not logic.
"""

from __future__ import annotations

import functools
import pathlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._common import (
    SEVERITY_DESC,
    Categories,
    accepted_text,
    by_severity,
    category_of,
    category_sort_key,
    category_title,
    clean,
    format_duration,
    format_time,
    is_web_url,
    mapping,
    results_of,
    status_of,
    summary_of,
)
from .compare import comparison_view
from .gpu import gpu_view
from .matrix import probe_matrix
from .smoke import charts, view

if TYPE_CHECKING:
    import jinja2

TEMPLATES = pathlib.Path(__file__).parent / "templates"

#: details keys that say why a host is checked; shown as prose above the details table.
HOST_KEYS = ("purpose", "source", "required", "rule")
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"'`]+")


def render(report: Mapping[str, Any], categories: Categories | None = None) -> str:
    """The HTML page for a finished run; ``categories`` (id -> (order, title), as the installed
    checks declare them) orders and names the sections."""
    template = _environment().get_template("report.html.j2")
    return template.render(**_view(report, categories or {}))


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """The jinja2 environment, built once; jinja2 is imported here to keep CLI start-up fast."""
    # on first use: jinja2 (~30 ms) stays out of start-up (docs/ARCHITECTURE.md)
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its file name: all data is untrusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["linkify"] = linkify
    return env


def linkify(text: Any) -> Any:
    """Escaped text in which http(s) URLs become links (for a host's free-text ``source``)."""
    # on first use: markupsafe stays out of start-up (docs/ARCHITECTURE.md)
    from markupsafe import Markup, escape

    value = clean(text)
    out = Markup()
    pos = 0
    for match in _URL_IN_TEXT.finditer(value):
        url = match.group(0).rstrip(".,;:!?)]}")
        if not is_web_url(url):
            continue
        out += escape(value[pos : match.start()])
        out += Markup('<a href="{0}" rel="noopener noreferrer">{0}</a>').format(url)
        pos = match.start() + len(url)
    return out + escape(value[pos:])


def _view(report: Mapping[str, Any], categories: Categories) -> dict[str, Any]:
    """Everything the template shows, as plain strings, lists and dicts."""
    summary = summary_of(report)
    findings = results_of(report)
    tool = mapping(report.get("tool"))
    run = mapping(report.get("run"))
    profile = mapping(report.get("profile"))
    target = report.get("target") if isinstance(report.get("target"), Mapping) else None

    groups: dict[str, list[Mapping[str, Any]]] = {}
    for finding in findings:
        groups.setdefault(category_of(finding), []).append(finding)
    ordered = sorted(groups.items(), key=lambda item: category_sort_key(item[0], categories))

    recommendation = report.get("recommendation")
    phase = "after" if clean(report.get("phase")) == "after" else "before"
    return {
        "tool_name": clean(tool.get("name")) or "preflight",
        "tool_version": clean(tool.get("version")),
        "schema": clean(report.get("schema")),
        "run_id": clean(run.get("id")),
        "started": format_time(run.get("started_at")),
        "finished": format_time(run.get("finished_at")),
        "duration": format_duration(run.get("duration_s")),
        "profile_name": clean(profile.get("name")),
        "profile_cloud": clean(profile.get("cloud")),
        "cluster": _cluster(target),
        "verdict": summary["verdict"] if summary["verdict"] in ("pass", "warn", "fail") else "fail",
        "phase": phase,
        "verdict_word": _verdict_word(summary["verdict"], phase),
        "verdict_text": _verdict_text(summary, len(findings), phase),
        "counts": [{"status": s, "count": summary[s]} for s in SEVERITY_DESC],
        "ignored": summary.get("ignored", 0),
        "total": len(findings),
        "groups": [
            _group(index, category, items, categories)
            for index, (category, items) in enumerate(ordered, 1)
        ],
        "parameters": _pairs(report.get("parameters")),
        "recommendation": _recommendation(recommendation),
        "probe_matrix": probe_matrix(report),
        "smoke": _smoke(report),
        "gpu_nodes": gpu_view(report),
        "comparison": comparison_view(report),
    }


def _smoke(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The smoke.inference section: the figures (reports/smoke.py) and two inline SVG charts.

    The charts are built by reports/charts.py, which escapes every text it writes and checks
    every number, so they are marked safe here; everything else stays autoescaped."""
    # on first use: markupsafe stays out of start-up (docs/ARCHITECTURE.md)
    from markupsafe import Markup

    shaped = view(report)
    if shaped is None:
        return None
    drawn = charts(shaped)
    return {
        **{k: v for k, v in shaped.items() if k != "measurements"},
        "chart_percentiles": Markup(drawn["percentiles"]),  # noqa: S704 - escaped in charts.py
        "chart_histogram": Markup(drawn["histogram"]),  # noqa: S704 - escaped in charts.py
    }


def _cluster(target: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """Rows describing the target cluster; empty when the run had no cluster."""
    if not target:
        return []
    labels = (
        ("context", "Context"),
        ("api_server", "API server"),
        ("kubernetes_version", "Kubernetes"),
    )
    return [
        {"label": label, "value": clean(target.get(key))}
        for key, label in labels
        if target.get(key)
    ]


def _verdict_word(verdict: str, phase: str = "before") -> str:
    if phase == "after":  # verifying an installation, not readiness for one
        words = {"pass": "Healthy", "warn": "Healthy with warnings", "fail": "Not healthy"}
        return words.get(verdict, "Not healthy")
    return {"pass": "Ready", "warn": "Ready with warnings", "fail": "Not ready"}.get(
        verdict, "Not ready"
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _verdict_text(summary: Mapping[str, Any], total: int, phase: str = "before") -> str:
    """One or two sentences a reviewer can put in the change record."""
    if not total:
        return "No checks ran, so nothing was concluded about this cluster."
    verdict = summary["verdict"]
    if phase == "after":
        text = _after_text(summary)
    elif verdict == "pass":
        text = "No finding blocks installing the Azure Machine Learning extension."
    elif verdict == "warn":
        text = (
            f"Nothing blocks the installation, but {_plural(summary['warn'], 'warning')} "
            "should be reviewed first."
        )
    else:
        blocking = [_plural(summary["fail"], "failed finding")] if summary["fail"] else []
        if summary["error"]:
            blocking.append(_plural(summary["error"], "check") + " that could not conclude")
        text = (
            f"{' and '.join(blocking) or 'Blocking findings'} must be resolved before installing "
            "the Azure Machine Learning extension."
        )
        text = text[0].upper() + text[1:]
    if summary["skip"]:
        text += (
            f" {_plural(summary['skip'], 'finding')} skipped: those checks did not run; each "
            "says what it needs."
        )
    if summary.get("ignored"):
        text += (
            f" {_plural(summary['ignored'], 'finding')} accepted by waivers (not counted; each "
            "shows its reason)."
        )
    return text


def _after_text(summary: Mapping[str, Any]) -> str:
    """The verdict of a run that verifies an installation (``--set phase=after``)."""
    verdict = summary["verdict"]
    if verdict == "pass":
        return "No finding fails: the installation checks out."
    if verdict == "warn":
        return f"No finding fails, but {_plural(summary['warn'], 'warning')} should be reviewed."
    blocking = [_plural(summary["fail"], "failed finding")] if summary["fail"] else []
    if summary["error"]:
        blocking.append(_plural(summary["error"], "check") + " that could not conclude")
    text = f"{' and '.join(blocking) or 'Blocking findings'}: the installation needs attention."
    return text[0].upper() + text[1:]


def _group(
    index: int, category: str, findings: list[Mapping[str, Any]], categories: Categories
) -> dict[str, Any]:
    """One category section: its counts, non-pass findings in full, pass findings compactly."""
    ordered = by_severity(findings)
    counts = {s: 0 for s in SEVERITY_DESC}
    for finding in ordered:
        status = status_of(finding)
        if status in counts and not accepted_text(finding):
            counts[status] += 1
    # accepted findings (waivers) after those that still count, each with its reason
    ordered = sorted(ordered, key=lambda f: bool(accepted_text(f)))
    return {
        "anchor": f"category-{index}",
        "title": category_title(category, categories),
        "counts": [{"status": s, "count": counts[s]} for s in SEVERITY_DESC if counts[s]],
        "all_counts": [{"status": s, "count": counts[s]} for s in SEVERITY_DESC],
        "attention": [_finding(f) for f in ordered if status_of(f) != "pass"],
        "passed": [_finding(f) for f in ordered if status_of(f) == "pass"],
    }


def _finding(finding: Mapping[str, Any]) -> dict[str, Any]:
    """One finding with its host context split out of details and its docs link vetted."""
    status = status_of(finding)
    details = mapping(finding.get("details"))
    is_host = "purpose" in details or "source" in details
    host = {key: details.get(key) for key in HOST_KEYS if details.get(key) not in (None, "")}
    shown_elsewhere = set(HOST_KEYS) if is_host else set()
    docs = finding.get("docs")
    return {
        "status": status if status in SEVERITY_DESC else "error",
        "status_word": (clean(status).upper() or "UNKNOWN")
        + (" · ACCEPTED" if accepted_text(finding) else ""),
        "accepted": accepted_text(finding),
        "check": clean(finding.get("check")),
        "title": clean(finding.get("title")),
        "target": clean(finding.get("target")),
        "message": clean(finding.get("message")),
        "remediation": clean(finding.get("remediation")),
        "docs": clean(docs),
        "docs_is_link": is_web_url(docs),
        "duration": format_duration(finding.get("duration_s")),
        "host": _host(host) if is_host else None,
        "details": [pair for pair in _pairs(details) if pair["key"] not in shown_elsewhere],
    }


def _host(host: Mapping[str, Any]) -> dict[str, str]:
    """Why a host is checked, in words: purpose, where that comes from, and how much it matters."""
    required = host.get("required")
    if required is None:
        weight = ""
    elif required is True or str(required).lower() in ("true", "yes", "required"):
        weight = "Required: unreachable means the extension cannot work"
    else:
        weight = "Optional: unreachable is a warning, not a blocker"
    return {
        "purpose": clean(host.get("purpose")),
        "source": clean(host.get("source")),
        "rule": clean(host.get("rule")),
        "weight": weight,
    }


def _pairs(value: Any) -> list[dict[str, str]]:
    """A mapping as key/value rows; non-string values as compact JSON."""
    return [{"key": clean(k), "value": clean(v)} for k, v in mapping(value).items()]


def _recommendation(value: Any) -> dict[str, Any] | None:
    """The suggested ``az k8s-extension create`` command and the reasons behind its settings."""
    if not isinstance(value, Mapping) or not value.get("command"):
        return None
    reasons = value.get("reasons")
    if isinstance(reasons, str):
        reasons = [reasons]
    return {
        "command": clean(value.get("command")),
        "reasons": [clean(r) for r in reasons or [] if r],
    }
