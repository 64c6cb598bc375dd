"""Every built-in profile says where its data comes from and how old that is (issue 19 item 7).

Each host cites at least one dated document, the endpoints, audiences and Kubernetes window have
dated sources, the window is what the AKS calendar gives on the profile's ``as_of`` day, and
``preflight profiles NAME`` shows all of it. Bad ``sources``/``cites`` are exit 2 with file:line.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import one_line_exit_2, preflight

from preflight.profile import HostSpec, Profile, ProfileError, builtin_names, load_profile

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: the AKS release calendar as MicrosoftDocs/azure-aks-docs supported-kubernetes-versions.md
#: (ms.date 2026-08-05) has it: minor -> (GA month, end-of-life month). An end of life without
#: a day is the last day of the month (the page says so). Update this table, and the profiles'
#: ``aks-versions`` date, together when the page changes.
AKS_CALENDAR_DATE = "2026-08-05"
AKS_CALENDAR = {
    32: ((2025, 4), (2026, 3)),
    33: ((2025, 6), (2026, 7)),
    34: ((2025, 11), (2026, 11)),
    35: ((2026, 3), (2027, 3)),
    36: ((2026, 6), (2027, 6)),
    37: ((2026, 10), (2027, 10)),
}


def month_end(year: int, month: int) -> datetime.date:
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


def n_minus_2(day: datetime.date) -> tuple[int, int]:
    """The supported window on ``day`` by the calendar, read strictly: a minor counts as GA once
    its GA month is over (N never runs ahead of the calendar) and is gone after the last day of
    its end-of-life month; the window is N-2..N without the minors past their end of life."""
    ga = [minor for minor, (start, _) in AKS_CALENDAR.items() if month_end(*start) < day]
    newest = max(ga)
    alive = [m for m in range(newest - 2, newest + 1) if day <= month_end(*AKS_CALENDAR[m][1])]
    return min(alive), newest


def every_host(profile: Profile) -> Iterator[HostSpec]:
    """The hosts checked by default and those of the profile's host sets (when it has any)."""
    yield from profile.hosts
    for hosts in getattr(profile, "host_sets", {}).values():
        yield from hosts


def is_iso(text: str | None) -> bool:
    if text is None or not ISO.match(text):
        return False
    datetime.date.fromisoformat(text)
    return True


@pytest.mark.parametrize("name", builtin_names())
def test_every_host_cites_a_dated_source(name: str) -> None:
    profile = load_profile(name)
    assert profile.sources, f"{name} lists no sources"
    for spec in every_host(profile):
        cited = profile.cites(spec)
        assert cited, f"{name}: {spec.template}:{spec.port} cites no source"
        assert any(is_iso(s.date) for s in cited), (
            f"{name}: {spec.template}:{spec.port} cites only undated sources "
            f"{[s.id for s in cited]}"
        )


@pytest.mark.parametrize("name", builtin_names())
def test_each_source_is_dated_or_says_why_not(name: str) -> None:
    for source in load_profile(name).sources.values():
        assert source.url or source.repo, source
        assert source.title and source.covers, source
        assert is_iso(source.checked), f"{name}: {source.id} was never compared (checked)"
        if source.date is None:
            assert source.note and source.date_kind == "undated", source
        else:
            assert is_iso(source.date) and source.date_kind, source
            assert source.date <= source.checked, source  # type: ignore[operator]


@pytest.mark.parametrize("name", builtin_names())
@pytest.mark.parametrize("section", ["endpoints", "audiences", "kubernetes"])
def test_endpoints_audiences_and_window_have_dated_sources(name: str, section: str) -> None:
    supporting = load_profile(name).supporting(section)
    assert any(is_iso(s.date) for s in supporting), f"{name}: no dated source for {section}"


@pytest.mark.parametrize("name", builtin_names())
def test_window_is_what_the_aks_calendar_gives_on_as_of(name: str) -> None:
    profile = load_profile(name)
    window = profile.kubernetes
    versions = profile.sources["aks-versions"]
    assert versions.date == AKS_CALENDAR_DATE, (
        f"{name} cites the AKS calendar of {versions.date}; this test copies the one of "
        f"{AKS_CALENDAR_DATE}: compare the page again and update both"
    )
    assert "kubernetes" in versions.supports
    as_of = datetime.date.fromisoformat(window["as_of"])
    assert as_of >= datetime.date.fromisoformat(versions.date)
    assert (window["min_minor"], window["max_minor"]) == n_minus_2(as_of)


def test_window_is_the_same_in_every_cloud() -> None:
    """No calendar is documented for Azure China or US Gov: the stricter reading of the public
    one applies to all three (a lower minimum there would pass a cluster past end of life)."""
    windows = {
        (p.kubernetes["min_minor"], p.kubernetes["max_minor"], p.kubernetes["as_of"])
        for p in map(load_profile, builtin_names())
    }
    assert len(windows) == 1, windows


def test_calendar_reading_moves_with_the_day() -> None:
    assert n_minus_2(datetime.date(2026, 10, 15)) == (34, 36)  # 1.37 GA during October
    assert n_minus_2(datetime.date(2026, 11, 1)) == (35, 37)
    assert n_minus_2(datetime.date(2026, 4, 1)) == (33, 35)


def test_window_date_travels_as_text() -> None:
    """The profile goes to probe pods as JSON: ``as_of`` must not stay a YAML date object."""
    for name in builtin_names():
        json.dumps(load_profile(name).kubernetes)


def test_profiles_command_shows_the_sources() -> None:
    shown = preflight("profiles", "azure-china", "--set", "region=chinaeast2")
    assert shown.code == 0, shown.stderr
    out = shown.stdout
    assert "kubernetes: 1.35–1.37 (as of 2026-12-07)" in out
    assert "audience ml: https://ml.azure.cn/" in out
    assert "sources (each document's date" in out
    profile = load_profile("azure-china")
    for source in profile.sources.values():
        assert f"  {source.id}: {source.date or 'undated'}" in out, source.id
        assert (source.url or source.repo) in out
    # each host line is followed by the sources it rests on, with their dates
    assert re.search(
        r"  mcr\.azure\.cn:443 .*\n      sources: aks-egress \(2026-06-18\), "
        r"mcr-firewall \(2025-03-31\)\n",
        out,
    ), out


def test_profiles_command_shows_the_host_sets() -> None:
    """The hosts a check adds when it finds the cluster needs them (azure.monitoring's Container
    Insights hosts) are listed too, each with its sources."""
    shown = preflight("profiles", "azure-public")
    assert shown.code == 0, shown.stderr
    profile = load_profile("azure-public")
    assert profile.host_sets, "the built-in profile declares host sets"
    for name, hosts in profile.host_sets.items():
        section = shown.stdout.split(f"host set {name} ")[1].split("\n\n")[0]
        for spec in hosts:
            assert spec.template.split("{")[-1].split("}")[-1] in section, (name, spec.template)
        assert "sources: " in section


# -- the schema: what the loader refuses -------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(textwrap.dedent(text))
    return path


MINIMAL = """\
    name: mine
    cloud: AzureCloud
    sources:
      docs:
        title: A page
        url: https://example.org/page
        date: 2026-06-18
    hosts:
      - host: example.org
        cites: [{cite}]
    """


def test_a_host_citing_an_unknown_source_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.format(cite="doc"))
    with pytest.raises(
        ProfileError,
        match=r"mine\.yaml:10: cites unknown source 'doc' "
        r"\(did you mean 'docs'\?\)",
    ):
        load_profile(str(path))
    one_line_exit_2(preflight("profiles", str(path)), "mine.yaml:10", "'doc'")


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("18/06/2026", r"mine\.yaml:7: date must be a date like 2026-06-18, not '18/06/2026'"),
        # looks like a date to YAML, which used to end in a bare ValueError (a traceback)
        ("2026-13-01", r"mine\.yaml:7: '2026-13-01' is not a date: month must be in 1\.\.12"),
    ],
)
def test_a_date_that_is_not_iso_is_refused(tmp_path: Path, written: str, expected: str) -> None:
    path = write(tmp_path, MINIMAL.format(cite="docs").replace("2026-06-18", written))
    with pytest.raises(ProfileError, match=expected):
        load_profile(str(path))
    one_line_exit_2(preflight("profiles", str(path)), "mine.yaml:7")


def test_a_source_nobody_can_find_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.format(cite="docs").replace("url: https://example.org/page", ""))
    with pytest.raises(ProfileError, match=r"source 'docs' needs a url or a repo path"):
        load_profile(str(path))


def test_supports_names_only_profile_sections(tmp_path: Path) -> None:
    text = MINIMAL.format(cite="docs").replace(
        "date: 2026-06-18", "date: 2026-06-18\n        supports: [audience]"
    )
    with pytest.raises(ProfileError, match=r"supports lists profile sections"):
        load_profile(str(write(tmp_path, text)))


def test_a_user_profile_extends_the_sources_and_the_window(tmp_path: Path) -> None:
    """A child adds its own source beside the inherited ones, cites both, and lowers the
    window's minimum as the sovereign profiles' comments suggest; the rest is inherited."""
    path = write(
        tmp_path,
        """\
        name: mine
        cloud: AzureChinaCloud
        extends: azure-china
        kubernetes: {min_minor: 34}
        sources:
          versions-in-my-region:
            title: az aks get-versions -l chinaeast2
            repo: our-wiki/aks-versions.md
            date: 2026-12-01
        hosts:
          - host: mirror.example.cn
            cites: [versions-in-my-region, aks-egress]
        """,
    )
    profile = load_profile(str(path))
    assert profile.kubernetes == {"min_minor": 34, "max_minor": 37, "as_of": "2026-12-07"}
    assert "aks-egress" in profile.sources and "versions-in-my-region" in profile.sources
    mirror = next(h for h in profile.hosts if h.template == "mirror.example.cn")
    assert [s.id for s in profile.cites(mirror)] == ["versions-in-my-region", "aks-egress"]
    inherited = next(h for h in profile.hosts if h.template == "mcr.azure.cn")
    assert [s.date for s in profile.cites(inherited)] == ["2026-06-18", "2025-03-31"]
