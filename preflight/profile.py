"""Cloud profiles: data files listing endpoints, token audiences and the hosts to check.

A profile is data (docs/DESIGN.md, "Profiles"). This module loads one by built-in name or path,
follows ``extends:`` (maps merge deeply; a host entry with the same ``host`` replaces the
inherited one), validates it strictly and reports any problem as ``file:line: what is wrong``.
"""

from __future__ import annotations

import datetime
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from preflight import yamlfile
from preflight.errors import UsageError, nearest

SCENARIOS = ("aks", "arc", "extension", "inference", "training", "workspace", "gpu")
TOP_KEYS = (
    "name",
    "cloud",
    "extends",
    "description",
    "confidence",
    "endpoints",
    "audiences",
    "kubernetes",
    "scenarios",
    "parameters",
    "hosts",
    "host_sets",
    "sources",
)
HOST_KEYS = (
    "host",
    "port",
    "tls",
    "purpose",
    "needed_for",
    "required",
    "source",
    "docs",
    "rule",
    "service",
    "cites",
)
#: what a ``sources:`` entry may say: where the document is, its date and what it covers
SOURCE_KEYS = ("title", "url", "repo", "date", "date_kind", "checked", "covers", "supports", "note")
_MAX_EXTENDS_DEPTH = 8


class ProfileError(UsageError):
    """A profile that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class HostSpec:
    """One host entry of a profile, still a template such as ``{acr}.azurecr.cn``."""

    template: str
    port: int = 443
    purpose: str = ""
    needed_for: tuple[str, ...] = ()
    required: bool = True
    source: str = ""
    docs: str | None = None
    rule: str | None = None
    tls: bool = True
    #: what answers at this host (``acr``, ``storage``, ...: names the checks know), so a check
    #: can tell that service's own answer from a proxy's; None: let the check infer it
    service: str | None = None
    #: ``file:line`` of each key of the entry, for errors found after loading
    locations: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def placeholders(self) -> tuple[str, ...]:
        return template_fields(self.template)

    def where(self, key: str = "host") -> str:
        """``file:line`` of ``key`` in this entry (of the entry itself when the key is absent)."""
        return self.locations.get(key) or self.locations.get("host") or "profile"

    def render(self, params: Mapping[str, str]) -> str | None:
        """The concrete FQDN, or None when a placeholder's parameter is not set."""
        if any(not params.get(name) for name in self.placeholders):
            return None
        return self.template.format_map({k: params[k] for k in self.placeholders}).strip().lower()


@dataclass(frozen=True)
class Source:
    """A document a profile rests on, with its date, so a reader can tell how current the
    profile's data is and where to check it again (``sources:`` in a profile)."""

    id: str
    title: str = ""
    url: str = ""
    #: the page's source file, ``owner/name/path`` in a public repository
    repo: str = ""
    #: ISO date (YYYY-MM-DD) of the document: its ms.date, a commit or release date; None:
    #: undated (``note`` says why)
    date: str | None = None
    #: what ``date`` is (``ms.date``, ``commit``, ``release``, ...)
    date_kind: str = ""
    #: ISO date the profile was last compared with the document
    checked: str | None = None
    covers: str = ""
    #: profile sections other than hosts this document is the source of (``audiences``, ...)
    supports: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Profile:
    name: str
    cloud: str
    hosts: tuple[HostSpec, ...]
    description: str = ""
    confidence: str = ""
    endpoints: Mapping[str, str] = field(default_factory=dict)
    audiences: Mapping[str, str] = field(default_factory=dict)
    kubernetes: Mapping[str, Any] = field(default_factory=dict)
    scenarios: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    path: str = ""
    #: named groups of hosts that are not checked by default: a check adds a set to the run
    #: when what it reads says the cluster needs those hosts (``host_sets:`` of the YAML)
    host_sets: Mapping[str, tuple[HostSpec, ...]] = field(default_factory=dict)
    sources: Mapping[str, Source] = field(default_factory=dict)
    #: the ``cites:`` of each host entry, by (template, port): kept beside the hosts rather than
    #: in HostSpec, so a host travels (to probe pods) without the profile's bibliography
    host_cites: Mapping[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)

    def placeholders(self) -> set[str]:
        every = [*self.hosts, *(h for hosts in self.host_sets.values() for h in hosts)]
        return {name for h in every for name in h.placeholders}

    def cites(self, spec: HostSpec) -> tuple[Source, ...]:
        """The sources a host entry names in ``cites:``, in its order."""
        ids = self.host_cites.get((spec.template.lower(), spec.port), ())
        return tuple(self.sources[i] for i in ids if i in self.sources)

    def supporting(self, section: str) -> tuple[Source, ...]:
        """The sources that say they support a profile section (``audiences``, ...)."""
        return tuple(s for s in self.sources.values() if section in s.supports)


def template_fields(template: str) -> tuple[str, ...]:
    """Names of the ``{placeholders}`` in a host template, in order, without repeats."""
    names: list[str] = []
    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None and name not in names:
            names.append(name)
    return tuple(names)


def builtin_dir() -> Path:
    return Path(str(resources.files("preflight.profiles")))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def resolve_path(name_or_path: str, relative_to: Path | None = None) -> Path:
    """A built-in name (``azure-china``) or a path to a YAML file."""
    if name_or_path in builtin_names():
        return builtin_dir() / f"{name_or_path}.yaml"
    candidate = Path(name_or_path).expanduser()
    if relative_to is not None and not candidate.is_absolute():
        candidate = relative_to / candidate
    if candidate.suffix in (".yaml", ".yml") or candidate.exists() or "/" in name_or_path:
        if not candidate.is_file():
            raise ProfileError(f"profile file {candidate} does not exist")
        return candidate
    hint = nearest(name_or_path, builtin_names())
    did = f" (did you mean {hint}?)" if hint else ""
    raise ProfileError(
        f"unknown profile {name_or_path!r}{did}; built-in profiles: {', '.join(builtin_names())}"
        " (or pass a path to a YAML file)"
    )


def load_profile(name_or_path: str) -> Profile:
    """Load, merge (``extends``) and validate a profile. Raises ProfileError with file:line."""
    path = resolve_path(name_or_path)
    data, lines = _load_merged(path, seen=())
    return _validate(data, lines, str(path))


# -- loading -----------------------------------------------------------------------------------


_Located = yamlfile.Located
_LocatedList = yamlfile.LocatedList


def load_profile_text(text: str, label: str) -> Profile:
    """A profile given as text rather than a file (``preflight probe --profile env:VAR``: a pod
    cannot read the controller's file). ``label`` names it in errors; ``extends`` is resolved
    from the working directory."""
    data = _read_yaml(Path(label), text)
    if not isinstance(data, _Located):
        raise ProfileError(f"{label}:1: a profile must be a YAML mapping (name, cloud, hosts, ...)")
    parent = data.get("extends")
    if parent not in (None, ""):
        if not isinstance(parent, str):
            raise ProfileError(f"{label}:{data.lines['extends']}: extends must be a profile name")
        base, _ = _load_merged(resolve_path(parent), seen=())
        data = _merge(base, data)
    return _validate(data, {}, label)


def _read_yaml(path: Path, text: str | None = None) -> Any:
    """A profile file (or its text), parsed safely with line numbers (preflight.yamlfile)."""
    try:
        if text is None:
            text = yamlfile.read_text(path)
        return yamlfile.load(text, str(path))
    except yamlfile.YamlError as exc:
        raise ProfileError(str(exc)) from None


def _load_merged(path: Path, seen: tuple[Path, ...]) -> tuple[Any, dict[str, Any]]:
    resolved = path.resolve()
    if resolved in seen:
        chain = " -> ".join(str(p) for p in (*seen, resolved))
        raise ProfileError(f"{path}: extends forms a cycle: {chain}")
    if len(seen) >= _MAX_EXTENDS_DEPTH:
        raise ProfileError(f"{path}: extends is nested more than {_MAX_EXTENDS_DEPTH} deep")
    data = _read_yaml(path)
    if not isinstance(data, _Located):
        raise ProfileError(f"{path}:1: a profile must be a YAML mapping (name, cloud, hosts, ...)")
    parent = data.get("extends")
    if parent in (None, ""):
        return data, {}
    if not isinstance(parent, str):
        raise ProfileError(
            f"{path}:{data.lines['extends']}: extends must be a profile name or path"
        )
    try:
        parent_path = resolve_path(parent, relative_to=path.parent)
    except ProfileError as exc:
        raise ProfileError(f"{path}:{data.lines['extends']}: extends: {exc}") from None
    base, _ = _load_merged(parent_path, (*seen, resolved))
    return _merge(base, data), {}


def _merge(base: Any, override: Any) -> Any:
    """Deep-merge maps; merge ``hosts`` by host template (same host replaces, new ones append)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = _Located(base)
        merged.lines = {**getattr(base, "lines", {}), **getattr(override, "lines", {})}
        merged.file = getattr(override, "file", getattr(base, "file", ""))
        merged.line = getattr(override, "line", 1)
        for key, value in override.items():
            if key == "hosts" and isinstance(value, list) and isinstance(base.get(key), list):
                merged[key] = _merge_hosts(base[key], value)
            elif key in base:
                merged[key] = _merge(base[key], value)
            else:
                merged[key] = value
        merged.pop("extends", None)
        return merged
    return override


def _merge_hosts(base: list[Any], override: list[Any]) -> _LocatedList:
    result = _LocatedList(base)
    result.lines = list(getattr(base, "lines", [0] * len(base)))
    result.file = getattr(override, "file", "")
    result.line = getattr(override, "line", 1)
    index = {h.get("host"): i for i, h in enumerate(base) if isinstance(h, dict)}
    for i, entry in enumerate(override):
        line = override.lines[i] if hasattr(override, "lines") else 0
        key = entry.get("host") if isinstance(entry, dict) else None
        if key is not None and key in index:
            result[index[key]] = entry
            result.lines[index[key]] = line
        else:
            result.append(entry)
            result.lines.append(line)
    return result


# -- validation --------------------------------------------------------------------------------


_where = yamlfile.where


def _require_str(obj: Any, key: str, *, required: bool) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise ProfileError(f"{_where(obj)}: missing required key {key!r}")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ProfileError(f"{_where(obj, key)}: {key} must be non-empty text")
    return value


def _str_map(obj: Any, key: str) -> dict[str, str]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ProfileError(f"{_where(obj, key)}: {key} must be a mapping of name: text")
    return dict(value)


def _unknown_keys(obj: _Located, allowed: tuple[str, ...], what: str) -> None:
    for key in obj:
        if key not in allowed:
            hint = nearest(key, allowed)
            did = f" (did you mean {hint!r}?)" if hint else ""
            raise ProfileError(
                f"{_where(obj, key)}: unknown {what} key {key!r}{did}; "
                f"allowed: {', '.join(allowed)}"
            )


def _validate(data: _Located, _lines: dict[str, Any], path: str) -> Profile:
    _unknown_keys(data, TOP_KEYS, "profile")
    name = _require_str(data, "name", required=True)
    cloud = _require_str(data, "cloud", required=True)
    kubernetes = data.get("kubernetes") or {}
    if not isinstance(kubernetes, dict):
        raise ProfileError(f"{_where(data, 'kubernetes')}: kubernetes must be a mapping")
    for key in ("min_minor", "max_minor"):
        if key in kubernetes and (
            not isinstance(kubernetes[key], int) or isinstance(kubernetes[key], bool)
        ):
            raise ProfileError(f"{_where(kubernetes, key)}: kubernetes.{key} must be an integer")
    kubernetes = dict(kubernetes)
    if kubernetes.get("as_of") is not None:
        # the day the window was worked out from its sources (plain text: the profile is also
        # sent to probe pods as JSON)
        kubernetes["as_of"] = _iso_date(data["kubernetes"], "as_of", "kubernetes.as_of")
    sources = _sources(data)
    scenarios = _str_map(data, "scenarios")
    for scenario, condition in scenarios.items():
        if scenario not in SCENARIOS or not condition.partition("=")[0].rstrip("!").strip():
            raise ProfileError(
                f"{_where(data['scenarios'], scenario)}: scenarios entries look like "
                f"'arc: \"cluster_type=arc\"' (or !=) with a scenario of {', '.join(SCENARIOS)}"
            )
    parameters = data.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ProfileError(f"{_where(data, 'parameters')}: parameters must be a mapping")
    for pname, spec in parameters.items():
        if not isinstance(spec, dict):
            raise ProfileError(
                f"{_where(parameters, pname)}: parameter {pname!r} must be a mapping with "
                "description and example"
            )
    hosts_raw = data.get("hosts")
    if not isinstance(hosts_raw, list) or not hosts_raw:
        raise ProfileError(f"{_where(data, 'hosts')}: hosts must be a non-empty list")
    hosts = tuple(_host(hosts_raw, i) for i in range(len(hosts_raw)))
    seen: set[tuple[str, int]] = set()
    for i, spec in enumerate(hosts):
        if (spec.template.lower(), spec.port) in seen:
            raise ProfileError(
                f"{_where(hosts_raw, i)}: host {spec.template}:{spec.port} is listed twice"
            )
        seen.add((spec.template.lower(), spec.port))
    _check_rule_placeholders(hosts, parameters)
    host_sets = _host_sets(data, parameters)
    host_cites = _all_cites(data, sources)
    return Profile(
        name=name,
        cloud=cloud,
        hosts=hosts,
        description=_require_str(data, "description", required=False),
        confidence=_require_str(data, "confidence", required=False),
        endpoints=_str_map(data, "endpoints"),
        audiences=_str_map(data, "audiences"),
        kubernetes=kubernetes,
        scenarios=scenarios,
        parameters={k: {kk: str(vv) for kk, vv in v.items()} for k, v in parameters.items()},
        path=path,
        host_sets=host_sets,
        sources=sources,
        host_cites=host_cites,
    )


def source_lines(profile: Profile) -> list[str]:
    """``preflight profiles NAME``'s account of where the profile's data comes from: each
    source with its date, where to read it and what it is the source of."""
    lines: list[str] = []
    for source in profile.sources.values():
        date = source.date or "undated"
        kind = f" ({source.date_kind})" if source.date_kind and source.date else ""
        lines.append(f"  {source.id}: {date}{kind}  {source.title}".rstrip())
        for text in (source.url, source.repo):
            if text:
                lines.append(f"      {text}")
        if source.supports:
            lines.append(f"      source of: {', '.join(source.supports)}")
        if source.checked:
            lines.append(f"      checked: {source.checked}")
        if source.note:
            lines.append(f"      note: {source.note}")
    return lines


def cite_text(profile: Profile, spec: HostSpec) -> str:
    """``id (date), ...`` for the sources a host cites; empty when it cites none."""
    return ", ".join(f"{s.id} ({s.date or 'undated'})" for s in profile.cites(spec))


def _iso_date(obj: Any, key: str, what: str) -> str:
    """A date written as YAML date or ``YYYY-MM-DD`` text, as ISO text."""
    value = obj.get(key)
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ProfileError(f"{_where(obj, key)}: {what} must be a date like 2026-06-18, not {value!r}")


def _sources(data: Any) -> dict[str, Source]:
    """``sources:``: a mapping of short ids to the documents the profile rests on. A mapping,
    not a list, so ``extends`` merges a child's sources into its parent's."""
    raw = data.get("sources")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProfileError(
            f"{_where(data, 'sources')}: sources must be a mapping of id: {{title, url, date, ...}}"
        )
    sections = tuple(k for k in TOP_KEYS if k not in ("hosts", "sources"))
    found: dict[str, Source] = {}
    for sid, entry in raw.items():
        if not isinstance(entry, _Located):
            raise ProfileError(
                f"{_where(raw, sid)}: source {sid!r} must be a mapping (title, url, date, ...)"
            )
        _unknown_keys(entry, SOURCE_KEYS, "source")
        texts = {
            key: _require_str(entry, key, required=False)
            for key in ("title", "url", "repo", "date_kind", "covers", "note")
        }
        if not texts["url"] and not texts["repo"]:
            raise ProfileError(f"{_where(raw, sid)}: source {sid!r} needs a url or a repo path")
        supports = entry.get("supports") or []
        if not isinstance(supports, list) or any(s not in sections for s in supports):
            raise ProfileError(
                f"{_where(entry, 'supports')}: supports lists profile sections, of "
                f"{', '.join(sections)}"
            )
        found[str(sid)] = Source(
            id=str(sid),
            date=None if entry.get("date") is None else _iso_date(entry, "date", "date"),
            checked=(
                None if entry.get("checked") is None else _iso_date(entry, "checked", "checked")
            ),
            supports=tuple(supports),
            **texts,
        )
    return found


def _all_cites(data: Any, sources: Mapping[str, Source]) -> dict[tuple[str, int], tuple[str, ...]]:
    """The ``cites:`` of every host entry (``hosts`` and each of ``host_sets``), by host."""
    entries = list(data.get("hosts") or [])
    for group in (data.get("host_sets") or {}).values():
        entries += list(group or [])
    found: dict[tuple[str, int], tuple[str, ...]] = {}
    for entry in entries:
        cites = _cites(entry, sources)
        if cites:
            key = (str(entry["host"]).strip().lower(), entry.get("port", 443))
            found.setdefault(key, cites)
    return found


def _cites(entry: Any, sources: Mapping[str, Source]) -> tuple[str, ...]:
    """A host entry's ``cites:``: ids of the profile's ``sources`` (each must exist)."""
    if not isinstance(entry, dict) or entry.get("cites") is None:
        return ()
    cites = entry["cites"]
    if isinstance(cites, str):
        cites = [cites]
    if not isinstance(cites, list) or not all(isinstance(c, str) for c in cites):
        raise ProfileError(f"{_where(entry, 'cites')}: cites must be a list of source ids")
    for cite in cites:
        if cite not in sources:
            hint = nearest(cite, sorted(sources))
            did = f" (did you mean {hint!r}?)" if hint else ""
            raise ProfileError(
                f"{_where(entry, 'cites')}: cites unknown source {cite!r}{did}; the profile's "
                f"sources: {', '.join(sorted(sources)) or 'none'}"
            )
    return tuple(cites)


def _host_sets(data: _Located, parameters: Mapping[str, Any]) -> dict[str, tuple[HostSpec, ...]]:
    """``host_sets: {name: [host entries]}``: each entry as strict as one of ``hosts``."""
    raw = data.get("host_sets")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProfileError(
            f"{_where(data, 'host_sets')}: host_sets must be a mapping of set name: list of hosts"
        )
    sets: dict[str, tuple[HostSpec, ...]] = {}
    for set_name, entries in raw.items():
        if not isinstance(set_name, str) or not set_name.isidentifier():
            raise ProfileError(
                f"{_where(raw, set_name)}: host set names are words like azure_monitor"
            )
        if not isinstance(entries, list) or not entries:
            raise ProfileError(
                f"{_where(raw, set_name)}: host_sets.{set_name} must be a non-empty list of hosts"
            )
        specs = tuple(_host(entries, i) for i in range(len(entries)))
        seen: set[tuple[str, int]] = set()
        for i, spec in enumerate(specs):
            if (spec.template.lower(), spec.port) in seen:
                raise ProfileError(
                    f"{_where(entries, i)}: host {spec.template}:{spec.port} is listed twice"
                )
            seen.add((spec.template.lower(), spec.port))
        _check_rule_placeholders(specs, parameters)
        sets[set_name] = specs
    return sets


#: values a run always has, whatever the profile declares
RUN_VALUES = ("api_server",)


def _check_rule_placeholders(hosts: tuple[HostSpec, ...], parameters: Mapping[str, Any]) -> None:
    """Every ``{placeholder}`` of a ``rule`` names a value the run can have: a declared
    parameter, one a host template uses (a host template declares its own), or a run value.
    Anything else could never be filled in (and used to crash ``preflight profiles``)."""
    known = set(parameters) | set(RUN_VALUES) | {n for h in hosts for n in h.placeholders}
    for spec in hosts:
        if not spec.rule:
            continue
        try:
            names = template_fields(spec.rule)
        except ValueError as exc:
            raise ProfileError(
                f"{spec.where('rule')}: bad rule template {spec.rule!r}: {exc}"
            ) from None
        for name in names:
            if not name.isidentifier():
                raise ProfileError(
                    f"{spec.where('rule')}: placeholders in {spec.rule!r} must be names like "
                    "{region}"
                )
            if name not in known:
                hint = nearest(name, sorted(known))
                did = f" (did you mean {{{hint}}}?)" if hint else ""
                raise ProfileError(
                    f"{spec.where('rule')}: rule {spec.rule!r} uses {{{name}}}, which is not a "
                    f"parameter of this profile{did}; declare it under parameters: or use one of "
                    f"{', '.join(sorted(known)) or 'none'}"
                )


def _host(hosts: Any, i: int) -> HostSpec:
    entry = hosts[i]
    where = _where(hosts, i)
    if isinstance(entry, str):
        raise ProfileError(f"{where}: a host entry is a mapping: '- host: {entry}'")
    if not isinstance(entry, _Located):
        raise ProfileError(f"{where}: a host entry must be a mapping with at least 'host'")
    _unknown_keys(entry, HOST_KEYS, "host")
    template = _require_str(entry, "host", required=True)
    try:
        template_fields(template)
    except ValueError as exc:
        raise ProfileError(
            f"{_where(entry, 'host')}: bad host template {template!r}: {exc}"
        ) from None
    if any(not name.isidentifier() for name in template_fields(template)):
        raise ProfileError(
            f"{_where(entry, 'host')}: placeholders in {template!r} must be names like {{acr}}"
        )
    port = entry.get("port", 443)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ProfileError(f"{_where(entry, 'port')}: port must be an integer from 1 to 65535")
    needed_for = entry.get("needed_for", [])
    if isinstance(needed_for, str):
        needed_for = [needed_for]
    if not isinstance(needed_for, list) or not all(isinstance(s, str) for s in needed_for):
        raise ProfileError(f"{_where(entry, 'needed_for')}: needed_for must be a list of scenarios")
    for scenario in needed_for:
        if scenario not in SCENARIOS:
            hint = nearest(scenario, SCENARIOS)
            did = f" (did you mean {hint!r}?)" if hint else ""
            raise ProfileError(
                f"{_where(entry, 'needed_for')}: unknown scenario {scenario!r}{did}; "
                f"known: {', '.join(SCENARIOS)}"
            )
    required = entry.get("required", True)
    if not isinstance(required, bool):
        raise ProfileError(f"{_where(entry, 'required')}: required must be true or false")
    tls = entry.get("tls", port != 80)
    if not isinstance(tls, bool):
        raise ProfileError(f"{_where(entry, 'tls')}: tls must be true or false")
    docs = entry.get("docs")
    if docs is not None and not isinstance(docs, str):
        raise ProfileError(f"{_where(entry, 'docs')}: docs must be a URL")
    service = entry.get("service")
    if service is not None and (not isinstance(service, str) or not service.strip()):
        raise ProfileError(f"{_where(entry, 'service')}: service must be a service kind name")
    return HostSpec(
        service=service.strip().lower() if service else None,
        locations={key: _where(entry, key) for key in entry},
        template=template.strip(),
        port=port,
        purpose=_require_str(entry, "purpose", required=False),
        needed_for=tuple(needed_for),
        required=required,
        source=_require_str(entry, "source", required=False),
        docs=docs,
        rule=_require_str(entry, "rule", required=False) or None,
        tls=tls,
    )
