"""Reading the planned-workload files users name (``--instance-types``, ``--deployment``):
strict, with ``FILE:LINE`` in every complaint.

These files describe objects that do not exist yet, so what cannot be read is the user's input
to fix before any check runs (exit 2, DESIGN.md "Planned workloads"): a file that does not
parse, a field nobody documents (a typo such as ``memroy`` would otherwise be silently ignored),
a value of the wrong type, or a resource quantity Kubernetes would refuse. The same walkers
judge objects read from the cluster, where a problem becomes a finding instead (``Bad`` carries
the field and line either way).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preflight.api import yamlfile


class Bad(ValueError):
    """One problem in a planned file or object: ``where`` (``FILE:LINE``) and what is wrong.
    ``str()`` is the one line the engine prints (``FILE:LINE: problem``)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def where(obj: Any, key: str | int | None = None) -> str:
    """``FILE:LINE`` of ``key`` in a mapping or list read from a file (``cluster`` for an
    object read from the API, which has no lines)."""
    if isinstance(obj, yamlfile.Located | yamlfile.LocatedList):
        return yamlfile.where(obj, key)
    return getattr(obj, "file", "cluster")


def join(path: str, key: str | int) -> str:
    """``spec.resources`` + ``limits`` -> ``spec.resources.limits``; lists as ``items[2]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The closest known spelling (for "did you mean")."""
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def known_keys(obj: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
    """Bad for the first key of ``obj`` not in ``allowed`` (naming it, with a hint)."""
    allowed = tuple(allowed)
    for key in obj:
        if key not in allowed:
            hint = nearest(str(key), allowed)
            did = f" (did you mean {join(path, hint)}?)" if hint else ""
            raise Bad(where(obj, key), f"unknown field {join(path, str(key))}{did}")


def mapping(parent: Any, key: str | int, path: str, *, required: bool = False) -> Any:
    """``parent[key]`` when it is a mapping (None when absent or null, unless ``required``)."""
    value = parent.get(key) if isinstance(parent, Mapping) else None
    if value is None:
        if required:
            raise Bad(where(parent, key), f"{join(path, key)} is missing")
        return None
    if not isinstance(value, Mapping):
        raise Bad(where(parent, key), f"{join(path, key)}: expected a mapping, got {shown(value)}")
    return value


def shown(value: Any) -> str:
    """A value as the user wrote it (``true``, ``'three'``, ``[...]``), short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def typed(parent: Mapping[str, Any], key: str, path: str, kind: str) -> Any:
    """``parent[key]`` checked against ``kind`` (``bool``, ``int``, ``number``, ``str``),
    or None when absent or null; Bad names the field and what it should be."""
    value = parent.get(key)
    if value is None:
        return None
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "str": isinstance(value, str),
    }[kind]
    if kind == "int" and isinstance(value, float) and value.is_integer():
        ok, value = True, int(value)
    if not ok:
        words = {
            "bool": "true or false",
            "int": "a whole number",
            "number": "a number",
            "str": "text",
        }[kind]
        raise Bad(where(parent, key), f"{join(path, key)}: expected {words}, got {shown(value)}")
    return value


# -- Kubernetes quantities -----------------------------------------------------------------------
# The grammar of k8s.io/apimachinery/pkg/api/resource (quantity.go): a signed decimal number and
# one suffix, binary (Ki..Ei), decimal (n, u, m, "", k, M, G, T, P, E) or an exponent (e3, E-2).
# https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/

_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<decimal>[numkMGTPE])|[eE](?P<exponent>[+-]?\d+))?$"
)
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_DECIMAL.update({"P": 1e15, "E": 1e18})
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity_value(value: Any) -> float | None:
    """A Kubernetes quantity (text, or a YAML number) in base units (cores, bytes, devices);
    None when Kubernetes would refuse it. Negative quantities are refused: no resource is."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if number >= 0 and number == number and number != float("inf") else None
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if match is None:
        return None
    number = float(match["number"])
    if match["binary"]:
        number *= _BINARY[match["binary"]]
    elif match["decimal"]:
        number *= _DECIMAL[match["decimal"]]
    elif match["exponent"] is not None:
        power = int(match["exponent"])
        if abs(power) > 300:
            return None
        number *= 10.0**power
    return number if number >= 0 else None


def quantity(parent: Mapping[str, Any], key: str, path: str) -> float:
    """``parent[key]`` as a quantity; Bad naming the field when it is not one."""
    value = quantity_value(parent.get(key))
    if value is None:
        raise Bad(
            where(parent, key),
            f"{join(path, key)}: {shown(parent.get(key))} is not a Kubernetes quantity "
            "(e.g. 500m or 2 for cpu, 1536Mi or 2Gi for memory, 1 for nvidia.com/gpu)",
        )
    return value


# -- resource amounts as people read them ----------------------------------------------------------

GIB = 1024**3
MIB = 1024**2


def cpu_text(cores: float) -> str:
    """0.1 -> '100m', 2.0 -> '2', 3.86 -> '3860m' (as Kubernetes writes cpu)."""
    milli = round(cores * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def memory_text(size: float) -> str:
    """Bytes as Kubernetes would write them: '2Gi', '1500Mi', '12.1Gi'."""
    if size >= GIB and size % GIB == 0:
        return f"{size // GIB:.0f}Gi"
    if size % MIB == 0 and size < 100 * GIB:
        return f"{size // MIB:.0f}Mi"
    if size >= GIB:
        return f"{size / GIB:.2f}Gi"
    return f"{size / MIB:.1f}Mi".replace(".0Mi", "Mi")


def amount_text(resource: str, value: float) -> str:
    if resource == "cpu":
        return cpu_text(value)
    if resource == "memory":
        return memory_text(value)
    return f"{value:g}"


# -- files -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """One document of a planned file: its value (``Located`` mappings), its 1-based index and
    the line it starts on."""

    value: Any
    index: int
    line: int


def read_documents(path: str, *, label: str | None = None) -> list[Document]:
    """Every YAML document of ``path`` (Bad with ``FILE:LINE`` when it does not parse)."""
    shown_as = label or path
    try:
        text = yamlfile.read_text(Path(path), shown_as)
        found = yamlfile.load_all(text, shown_as)
    except yamlfile.YamlError as exc:
        raise ValueError(str(exc)) from None
    return [Document(value, i + 1, line) for i, (value, line) in enumerate(found)]


def read_json_or_yaml(path: str, *, label: str | None = None) -> Any:
    """One document: JSON (a ``.json`` file, or text starting with ``{``) with the line of a
    syntax error, else YAML. Keys keep their lines where YAML can read the JSON as it is (it
    can, but for tabs and duplicate keys: then lines are the file's first)."""
    shown_as = label or path
    try:
        text = yamlfile.read_text(Path(path), shown_as)
    except yamlfile.YamlError as exc:
        raise ValueError(str(exc)) from None
    if path.lower().endswith(".json") or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Bad(f"{shown_as}:{exc.lineno}", f"not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise Bad(f"{shown_as}:1", "not valid JSON: nested too deeply") from None
        try:
            located = yamlfile.load(text.expandtabs(), shown_as)
        except yamlfile.YamlError:
            located = None
        return located if located == data else _at_first_line(data, shown_as)
    try:
        return yamlfile.load(text, shown_as)
    except yamlfile.YamlError as exc:
        raise ValueError(str(exc)) from None


def _at_first_line(value: Any, label: str) -> Any:
    """JSON values as ``Located`` collections whose every line is 1 (complaints still name
    the file)."""
    if isinstance(value, dict):
        located = yamlfile.Located()
        for key, item in value.items():
            located[key] = _at_first_line(item, label)
        located.lines, located.file, located.line = dict.fromkeys(value, 1), label, 1
        return located
    if isinstance(value, list):
        items = yamlfile.LocatedList(_at_first_line(item, label) for item in value)
        items.lines, items.file, items.line = [1] * len(value), label, 1
        return items
    return value
