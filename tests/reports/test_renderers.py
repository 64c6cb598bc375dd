"""Renderers: each format is rendered from a report dict (tests/support/sample_reports.py) and
checked on its real output."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from support.paths import DATA
from support.sample_reports import IMG, JS_URL, MDS, SCRIPT, hostile_report, sample_report

from preflight import report as report_document
from preflight import reports
from preflight.reports import html as html_report
from preflight.reports import json_report, junit, markdown, terminal


def test_write_reports_writes_selected_formats_atomically(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "out"
    (tmp_path / "nested").mkdir()
    written = reports.write_reports(sample_report(), out, ["md", "json", "html", "junit", "json"])
    assert [p.name for p in written] == ["summary.md", "report.json", "report.html", "junit.xml"]
    assert sorted(os.listdir(out)) == sorted(reports.FILENAMES.values())  # no temp files left
    mode = (out / "report.json").stat().st_mode & 0o777
    assert mode & 0o044, "reports must be readable like ordinary files, not 0600 temp files"

    # Re-writing replaces content (a later run into the same --out).
    report = sample_report()
    report["run"]["id"] = "second-run"
    reports.write_reports(report, out, ["json"])
    assert report_document.load(out / "report.json")["run"]["id"] == "second-run"


def test_write_reports_rejects_unknown_format_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        reports.write_reports(sample_report(), tmp_path / "out", ["json", "pdf"])
    assert not (tmp_path / "out").exists()


def test_sample_summary_matches_the_result_model() -> None:
    from preflight.model import Finding, summarize

    for report in (sample_report(), hostile_report()):
        findings = [Finding.from_dict(r) for r in report["results"]]
        assert summarize(findings) == report["summary"]


def test_formats_and_filenames_match_cli_contract() -> None:
    assert reports.FORMATS == ("html", "json", "junit", "md")
    assert reports.FILENAMES == {
        "html": "report.html",
        "json": "report.json",
        "junit": "junit.xml",
        "md": "summary.md",
    }


def test_importing_reports_does_not_import_jinja2_or_rich() -> None:
    code = (
        "import sys, preflight.reports as r, preflight.reports.json_report, "
        "preflight.reports.junit, preflight.reports.markdown, preflight.reports.terminal; "
        "print(sorted(m for m in ('jinja2', 'rich', 'markupsafe') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- JSON


def test_json_round_trip(tmp_path: Path) -> None:
    report = sample_report()
    report["results"][0]["message"] = "解析成功: 中国东部 2"
    text = json_report.render(report)
    assert "中国东部" in text  # ensure_ascii=False
    assert list(json.loads(text)) == list(report)  # key order kept
    path = tmp_path / "report.json"
    path.write_text(text, encoding="utf-8")
    assert report_document.load(path) == report


def test_json_non_finite_numbers_become_null() -> None:
    report = sample_report()
    report["results"][0]["details"]["latency"] = float("nan")
    report["run"]["duration_s"] = float("inf")
    data = json.loads(json_report.render(report), parse_constant=lambda c: pytest.fail(c))
    assert data["results"][0]["details"]["latency"] is None
    assert data["run"]["duration_s"] is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"schema": "preflight.report/v2", "results": []}', "unsupported report schema"),
        ('{"results": []}', "no 'schema' key"),
        ("[1, 2]", "expected a JSON object"),
        ('{"schema": "preflight.report/v1"', "not JSON"),
        ('{"schema": "preflight.report/v1", "results": {}}', "'results' must be a list"),
        (
            '{"schema": "preflight.report/v1", "results": [{"check": "x", "status": "ok"}]}',
            r"results\[0\].status 'ok'",
        ),
        ('{"schema": "preflight.report/v1", "results": [], "target": "x"}', "'target'"),
    ],
)
def test_json_load_rejects_with_one_line_reason(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "run.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=reason) as exc:
        report_document.load(path)
    assert "\n" not in str(exc.value)
    assert str(path) in str(exc.value)


def test_json_load_missing_file_is_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        report_document.load(tmp_path / "absent.json")


# --------------------------------------------------------------------------- JUnit


def _parse_junit(report: dict[str, Any]) -> ET.Element:
    text = junit.render(report)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(text.encode("utf-8"))


def test_junit_counts_per_status() -> None:
    root = _parse_junit(sample_report())
    assert root.tag == "testsuites"
    assert root.get("name") == "preflight"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("14", "3", "1")
    assert root.get("time") == "28.410"

    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites)[:3] == ["dns.resolve", "egress.https", "cluster.reachable"]
    egress = suites["egress.https"]
    assert (egress.get("tests"), egress.get("failures"), egress.get("skipped")) == ("2", "0", "1")
    for suite in suites.values():
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", ""))
        assert suite.get("timestamp") == "2024-05-01T12:00:03"
        assert suite.get("hostname")
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(cases)
        assert int(suite.get("failures", "-1")) == len(
            [c for c in cases if c.find("failure") is not None]
        )
        assert int(suite.get("errors", "-1")) == len(
            [c for c in cases if c.find("error") is not None]
        )

    cases = root.findall(".//testcase")
    assert sum(1 for c in cases if c.find("failure") is not None) == 3
    assert sum(1 for c in cases if c.find("error") is not None) == 1
    assert sum(1 for c in cases if c.find("skipped") is not None) == 2


def test_junit_case_content() -> None:
    root = _parse_junit(sample_report())
    by_name = {c.get("name"): c for c in root.iter("testcase")}

    failed = by_name["myacr.azurecr.cn"]
    assert failed.get("classname") == "preflight.dns.resolve"
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("type") == "fail"
    assert failure.get("message", "").startswith("NXDOMAIN")
    assert "privatelink.azurecr.cn" in (failure.text or "")
    assert "Docs: https://learn.microsoft.com/" in (failure.text or "")

    warned = by_name["chinaeast2.data.mcr.azk8s.cn"]
    assert [child.tag for child in warned] == ["system-out"]  # passes in CI, warning visible
    out = warned.find("system-out")
    assert out is not None and (out.text or "").startswith("WARN: TLS handshake timed out")

    skipped = by_name["Microsoft.KubernetesConfiguration"].find("skipped")
    assert skipped is not None and skipped.get("message") == "no Azure credentials found"

    errored = by_name["inferenceRouterServiceType"].find("error")
    assert errored is not None and errored.get("type") == "error"

    assert list(by_name["mcr.microsoft.com"]) == []  # plain pass
    assert "misc.legacy" in by_name  # no target: named after the check


def test_junit_strips_illegal_xml_characters_and_escapes_markup() -> None:
    report = hostile_report()
    report["results"][0]["message"] = "bad\x00byte\x1b[31m and \x07bell\ttab"
    report["results"][0]["remediation"] = "line1\nline2 & <b>"
    root = _parse_junit(report)
    case = next(root.iter("testcase"))
    assert case.get("name") == f"{SCRIPT}.azurecr.cn"  # escaped by ET, read back as text
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "badbyte[31m and bell\ttab"
    assert "line1\nline2 & <b>" in (failure.text or "")


# The Jenkins JUnit schema (xunit-plugin junit-10.xsd) as element -> (attributes, children).
_JENKINS_SUBSET = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, {"testsuite"}),
    "testsuite": (
        {
            "name",
            "tests",
            "failures",
            "errors",
            "group",
            "time",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
            "file",
            "log",
            "url",
        },
        {"testsuite", "properties", "testcase", "system-out", "system-err"},
    ),
    "properties": (set(), {"property"}),
    "property": ({"name", "value"}, set()),
    "testcase": (
        {"name", "time", "classname", "group"},
        {"skipped", "error", "failure", "system-out", "system-err"},
    ),
    "failure": ({"type", "message"}, set()),
    "error": ({"type", "message"}, set()),
    "skipped": ({"type", "message"}, set()),
    "system-out": (set(), set()),
    "system-err": (set(), set()),
}
_REQUIRED = {
    "testsuite": {"name", "tests", "failures", "errors"},
    "testcase": {"name"},
    "property": {"name", "value"},
}
_SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")


def _check_jenkins_subset(element: ET.Element) -> None:
    attributes, children = _JENKINS_SUBSET[element.tag]
    assert set(element.attrib) <= attributes, (element.tag, element.attrib)
    assert _REQUIRED.get(element.tag, set()) <= set(element.attrib), element.tag
    if element.tag in ("testsuites", "testsuite") and "time" in element.attrib:
        assert _SUREFIRE_TIME.fullmatch(element.get("time", "")), element.get("time")
    for child in element:
        assert child.tag in children, (element.tag, child.tag)
        _check_jenkins_subset(child)


def test_junit_uses_only_the_jenkins_schema_subset() -> None:
    _check_jenkins_subset(_parse_junit(hostile_report()))


def _xsd_errors(path: Path) -> str | None:
    """Schema errors of a JUnit file (None when valid); skips when no validator is installed."""
    xsd = DATA / "junit-jenkins.xsd"
    xmllint = shutil.which("xmllint")
    if xmllint:
        result = subprocess.run(
            [xmllint, "--noout", "--schema", str(xsd), str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return None if result.returncode == 0 else result.stderr
    etree = pytest.importorskip("lxml.etree", reason="neither xmllint nor lxml is installed")
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    return None if schema.validate(etree.parse(str(path))) else str(schema.error_log)


def test_junit_validates_against_xsd(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    text = junit.render(hostile_report())
    path.write_text(text, encoding="utf-8")
    assert _xsd_errors(path) is None
    # The schema is strict enough to matter: testcase-level properties are outside the subset.
    path.write_text(
        text.replace(
            "</testcase>", '<properties><property name="a" value="b"/></properties></testcase>', 1
        ),
        encoding="utf-8",
    )
    assert _xsd_errors(path)


# --------------------------------------------------------------------------- Markdown

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def test_markdown_summary_structure() -> None:
    text = markdown.render(sample_report())
    lines = text.splitlines()
    assert lines[0] == "## preflight: FAIL: not ready"
    assert "| fail | 3 |" in lines and "| pass | 5 |" in lines
    rows = [line for line in lines if re.match(r"\| (ERROR|FAIL|WARN|SKIP|PASS) \|", line)]
    assert [row.split(" | ")[0] for row in rows] == (
        ["| ERROR"] + ["| FAIL"] * 3 + ["| WARN"] * 3 + ["| SKIP"] * 2
    )
    assert "5 of 14 findings passed." in lines
    assert "[docs](https://learn.microsoft.com/azure/aks/gpu-cluster)" in text
    # Emoji-free: nothing from the pictographic planes or dingbats.
    assert not re.search("[\u2600-\u27bf\U0001f000-\U0001faff]", text)


def test_markdown_escapes_user_data() -> None:
    text = markdown.render(hostile_report())
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in text
    assert "docs](javascript" not in text  # hostile docs URL is not linked
    header = next(line for line in text.splitlines() if line.startswith("| Status | Check"))
    for line in text.splitlines():
        if line.startswith("| FAIL |") or line.startswith("| ERROR |"):
            assert len(_UNESCAPED_PIPE.findall(line)) == len(_UNESCAPED_PIPE.findall(header))
    hostile_row = next(line for line in text.splitlines() if "pwned" in line)
    assert "\\| \\[red\\]x \\`code\\` \\~\\~strike\\~\\~" in hostile_row


def test_markdown_newlines_stay_in_their_cell() -> None:
    report = sample_report()
    report["results"][1]["message"] = "first line\nsecond | line\r\nthird"
    text = markdown.render(report)
    assert "first line<br>second \\| line<br>third" in text
    assert not any(line.startswith("second") for line in text.splitlines())


def test_markdown_all_pass() -> None:
    report = sample_report()
    report["results"] = [r for r in report["results"] if r["status"] == "pass"]
    del report["summary"]  # computed from results when absent
    text = markdown.render(report)
    assert text.startswith("## preflight: PASS")
    assert "All 5 findings passed." in text
    assert "Findings that need attention" not in text


# --------------------------------------------------------------------------- terminal


def _terminal_text(report: dict[str, Any], **console_args: Any) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=160, record=True, **console_args)
    terminal.print_summary(report, console)
    return console.export_text()


def test_terminal_summary_orders_and_escapes() -> None:
    report = hostile_report()
    report["results"].append(
        {
            **report["results"][-1],
            "status": "warn",
            "target": "[red]x\\",
            "message": ":warning: [bold]no[/bold]",
        }
    )
    report["summary"]["warn"] += 1
    text = _terminal_text(report, no_color=True)
    assert "[red]x\\" in text
    assert ":warning: [bold]no[/bold]" in text
    statuses = re.findall(r"^\s*(ERROR|FAIL|WARN|SKIP|PASS)\s", text, flags=re.M)
    assert statuses == sorted(statuses, key=["ERROR", "FAIL", "WARN", "SKIP", "PASS"].index)
    assert statuses[0] == "ERROR" and statuses[-1] == "PASS"
    assert "Verdict: FAIL: not ready  (1 error, 4 fail, 4 warn, 2 skip, 5 pass)" in text
    # passes collapse to one row per check; problems are listed one by one
    assert len(re.findall(r"^\s*PASS\s", text, flags=re.M)) == len(
        {r["check"] for r in report["results"] if r["status"] == "pass"}
    )


def test_terminal_summary_with_colour_and_no_findings() -> None:
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=100, force_terminal=True, color_system="truecolor")
    terminal.print_summary(sample_report(), console)
    assert "\x1b[" in buffer.getvalue()

    empty = {"schema": "preflight.report/v1", "results": []}
    text = _terminal_text(empty, no_color=True)
    assert "No findings" in text and "Verdict: PASS" in text


# --------------------------------------------------------------------------- HTML


class _Page(HTMLParser):
    """The parts of a rendered page the tests look at: elements, attributes and visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def test_html_environment_autoescapes_everything() -> None:
    env = html_report._environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x=SCRIPT) == (
        "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"
    )


def test_html_escapes_hostile_data() -> None:
    html = html_report.render(hostile_report())
    for raw in (SCRIPT, IMG, "<script", "<img", 'onmouseover="x', 'href="javascript'):
        assert raw not in html, raw
    page = _page(html)
    text = page.all_text
    assert f"{SCRIPT}.azurecr.cn" in text  # the target is shown, as text
    assert f"resolver answered {IMG}" in text  # message
    assert f"pull images {IMG}" in text  # host purpose
    assert "pwned" in text and IMG in text  # parameter values and details values
    assert JS_URL in text  # the hostile docs URL is shown as text...
    hrefs = [attrs.get("href") or "" for tag, attrs in page.tags if tag == "a"]
    assert hrefs and all(h.startswith(("https://", "http://", "#")) for h in hrefs), hrefs
    assert 'https://ok.example/"onmouseover="x' not in hrefs  # quote ends the linkified URL
    assert not [t for t, _ in page.tags if t in ("script", "img", "iframe", "object", "embed")]
    assert not any(k.startswith("on") for _, attrs in page.tags for k in attrs)


def test_html_is_self_contained() -> None:
    html = html_report.render(sample_report())
    page = _page(html)
    assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe")]
    assert not any("src" in attrs for _, attrs in page.tags)
    style = html[html.index("<style>") : html.index("</style>")]
    assert "@import" not in style and "url(" not in style and "@font-face" not in style
    csp = [
        a for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp and "default-src 'none'" in (csp[0].get("content") or "")
    assert "@media print" in style


def test_html_layout_and_order() -> None:
    from preflight import registry

    report = sample_report()
    # the order and titles the installed checks declare (the command layer passes them)
    html = html_report.render(report, registry.load().category_order())
    page = _page(html)
    text = page.all_text

    # Header: tool version, profile + cloud, cluster, run id, start and duration.
    for expected in (
        "preflight 0.1.0",
        "azure-china (AzureChinaCloud)",
        "aks-prod-cn",
        "v1.28.9",
        report["run"]["id"],
        "2024-05-01 12:00:03 UTC",
        "28.4 s",
        "Not ready",
    ):
        assert expected in text, expected

    # Category sections in the fixed order, the plugin's category after them, 'other' last.
    headings = re.findall(
        r'<section class="category" id="[^"]+">\s*<header>\s*<h2>([^<]+)</h2>', html
    )
    assert headings == [
        "Connectivity",
        "Cluster",
        "Extension",
        "Azure",
        "GPU",
        "Smoke test",
        "vendor-security",
        "Other",
    ]

    # Inside a group: failures first; passes collapsed in a closed <details> with the count.
    connectivity = html[html.index('id="category-1"') : html.index('id="category-2"')]
    badges = re.findall(r'<article class="finding s-(\w+)">', connectivity)
    assert badges == ["fail", "warn", "skip"]
    assert (
        '<details class="passed">' in connectivity and "<summary>1 passed</summary>" in connectivity
    )
    assert '<details class="passed" open' not in html
    before_details = connectivity[: connectivity.index("<details")]
    assert "NXDOMAIN" in before_details and "mcr.microsoft.com</td>" not in before_details

    # Host findings say why the host matters and where that comes from, visibly.
    assert "pull model images from the workspace registry" in before_details
    assert "seed 001 (DNS table)" in before_details
    assert "Optional: unreachable is a warning" in before_details
    assert "*.data.mcr.azk8s.cn" in before_details
    assert f'<a href="{MDS}" rel="noopener noreferrer">{MDS}</a>' in connectivity  # in a pass

    # Remediation and a visible docs link.
    url = "https://learn.microsoft.com/azure/aks/gpu-cluster"
    assert f'<a href="{url}" rel="noopener noreferrer">{url}</a>' in html
    assert "Install the NVIDIA device plugin DaemonSet" in text

    # Details as key/value, non-strings as JSON; parameters; recommendation in a <pre>.
    assert '<th scope="row">allocatable</th><td>{&#34;cpu&#34;: &#34;24&#34;' in html
    assert '<td class="key">nameservers</td><td>[&#34;10.0.0.10&#34;]</td>' in html
    pre = re.search(r"<pre>(.*?)</pre>", html, flags=re.S)
    assert pre and pre.group(1).startswith("az k8s-extension create --name azureml")
    assert "a LoadBalancer Service can be provisioned" in text


def test_html_without_cluster_summary_or_recommendation() -> None:
    report = sample_report()
    report["target"] = None
    del report["recommendation"]
    del report["summary"]
    report["results"] = [r for r in report["results"] if r["status"] in ("pass", "warn")]
    html = html_report.render(report)
    text = _page(html).all_text
    assert "no cluster given" in text
    assert "Ready with warnings" in text
    assert "<pre>" not in html and "Recommended command" not in text


def test_html_empty_run() -> None:
    report: dict[str, Any] = {"schema": "preflight.report/v1", "results": [], "target": None}
    text = _page(html_report.render(report)).all_text
    assert "No findings: no checks ran." in text
    assert "No parameters were set." in text


def test_renderers_tolerate_unknown_status_and_odd_types() -> None:
    report = copy.deepcopy(sample_report())
    report["results"].append({"check": "x.y", "status": "mystery", "details": {"k": None}})
    report["results"].append("not a finding")
    report["run"] = None
    report["parameters"] = None
    for fmt in reports.FORMATS:
        assert reports.render(report, fmt)
    root = ET.fromstring(junit.render(report).encode())
    case = [c for c in root.iter("testcase") if c.get("classname") == "preflight.x.y"][0]
    assert case.find("error") is not None  # never silently passes


def test_html_categories_come_from_the_checks_not_the_renderer() -> None:
    """Without declared categories the renderer knows none by name: they come alphabetically,
    as the findings spell them, 'other' last."""
    report = sample_report()
    plain = _page(html_report.render(report))
    declared = _page(html_report.render(report, {"smoke": (1, "Smoke first"), "gpu": (2, "GPUs")}))
    assert "Smoke first" in declared.all_text and "GPUs" in declared.all_text
    assert "Smoke first" not in plain.all_text
    assert declared.all_text.index("Smoke first") < declared.all_text.index("GPUs")
