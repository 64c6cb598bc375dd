"""The summary table ``preflight run`` prints on stdout: what an operator sees first.

User data goes into ``rich.text.Text`` objects, which rich never parses for markup or emoji
codes, so a host name such as ``[red]x`` or ``:warning:`` prints literally. (That is stricter than
``rich.markup.escape``, which doubles a trailing backslash.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._common import (
    SEVERITY_DESC,
    accepted_text,
    by_severity,
    clean,
    results_of,
    status_of,
    summary_of,
    verdict_words,
)
from .compare import summary_lines
from .smoke import terminal_lines

STATUS_STYLES = {
    "pass": "green",
    "skip": "cyan",
    "warn": "yellow",
    "fail": "bold red",
    "error": "bold magenta",
}


def print_summary(report: Mapping[str, Any], console: Any) -> None:
    """Print the findings table (most severe first) and the verdict on a ``rich`` Console."""
    # on first use: rich (~25 ms) stays out of start-up (docs/ARCHITECTURE.md)
    from rich import box
    from rich.table import Table
    from rich.text import Text

    def cell(value: Any) -> Text:
        return Text(clean(value))

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    table.add_column("Status", no_wrap=True)
    table.add_column("Check", no_wrap=True)
    table.add_column("Target", overflow="fold")
    table.add_column("Message", overflow="fold", ratio=1)
    passes: dict[str, int] = {}
    accepted: list[Mapping[str, Any]] = []
    for finding in by_severity(results_of(report)):
        status = status_of(finding)
        if accepted_text(finding):  # listed after what still counts
            accepted.append(finding)
            continue
        if status == "pass":  # one row per check: the HTML report lists every pass
            passes[clean(finding.get("check"))] = passes.get(clean(finding.get("check")), 0) + 1
            continue
        table.add_row(
            Text(status.upper() or "UNKNOWN", style=STATUS_STYLES.get(status, "bold magenta")),
            cell(finding.get("check")),
            cell(finding.get("target")),
            cell(finding.get("message")),
        )
    for finding in accepted:
        table.add_row(
            Text(f"{status_of(finding).upper()} (accepted)", style="dim"),
            cell(finding.get("check")),
            cell(finding.get("target")),
            Text(f"{clean(finding.get('message'))} [{accepted_text(finding)}]"),
        )
    for check, count in passes.items():
        table.add_row(
            Text("PASS", style=STATUS_STYLES["pass"]),
            cell(check),
            Text(f"{count} target(s)"),
            Text("all passed (every one is listed in the HTML and JSON reports)"),
        )
    if table.row_count:
        console.print(table)
    else:
        console.print("No findings: no checks ran.")

    _print_recommendation(report.get("recommendation"), console)
    _print_smoke(report, console)
    _print_comparison(report, console)

    summary = summary_of(report)
    verdict = summary["verdict"]
    counts = ", ".join(f"{summary[s]} {s}" for s in SEVERITY_DESC)
    if summary.get("ignored"):
        counts += f"; {summary['ignored']} accepted by waivers"
    line = Text("Verdict: ")
    line.append(
        verdict_words(report).get(verdict, clean(verdict).upper()),
        style=STATUS_STYLES.get(verdict, "bold"),
    )
    line.append(f"  ({counts})")
    console.print(line)


def _print_comparison(report: Mapping[str, Any], console: Any) -> None:
    """--baseline: the counts of what changed and each baseline warning that came true."""
    # on first use: rich (~25 ms) stays out of start-up (docs/ARCHITECTURE.md)
    from rich.text import Text

    lines = summary_lines(report)
    if not lines:
        return
    console.print(Text("Before and after:", style="bold"))
    for line in lines:
        console.print(Text(f"  {clean(line)}"), soft_wrap=True)
    console.print()


def _print_smoke(report: Mapping[str, Any], console: Any) -> None:
    """smoke.inference: one line per measurement (and per baseline comparison), plain Text."""
    # on first use: rich (~25 ms) stays out of start-up (docs/ARCHITECTURE.md)
    from rich.text import Text

    lines = terminal_lines(report)
    if not lines:
        return
    console.print(Text("Smoke inference (ms):", style="bold"))
    for line in lines:
        console.print(Text(f"  {clean(line)}"), soft_wrap=True)
    console.print()


def _print_recommendation(value: Any, console: Any) -> None:
    """'Recommended command:' and the command on a line of its own, never wrapped (it must
    paste as one command), then the reasons. Plain ``Text``: nothing in it is markup."""
    # on first use: rich (~25 ms) stays out of start-up (docs/ARCHITECTURE.md)
    from rich.text import Text

    if not isinstance(value, Mapping) or not value.get("command"):
        return
    console.print(Text("Recommended command:", style="bold"))
    console.print(Text(clean(value.get("command"))), soft_wrap=True)
    reasons = value.get("reasons")
    if isinstance(reasons, str):
        reasons = [reasons]
    for reason in reasons if isinstance(reasons, list) else []:
        if reason:
            console.print(Text(f"  - {clean(reason)}"))
    console.print()
