"""Reading the YAML files users hand to preflight, safely and with line numbers.

Profiles, ``--config`` files and planned workload files are user input: a binary file, a
deeply nested document or an alias bomb ("billion laughs") must be one clear line and exit 2,
never a traceback or a hung process. Every mapping and list comes back remembering the line of
each entry, so later validation can say ``file:line``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from preflight.errors import UsageError

#: bytes read at most from one file (a profile with a thousand hosts is ~300 KiB)
MAX_BYTES = 2 * 1024 * 1024
#: nested collections at most
MAX_DEPTH = 64
#: nodes at most once aliases are expanded (an alias bomb expands to billions)
MAX_NODES = 200_000


class YamlError(UsageError):
    """A YAML file that cannot be used; the message names the file (and line)."""


class Located(dict[str, Any]):
    """A mapping that remembers the line of each key (``lines``), its file and its own line."""

    lines: dict[str, int]
    file: str
    line: int


class LocatedList(list[Any]):
    """A list that remembers the line of each item."""

    lines: list[int]
    file: str
    line: int


def where(obj: Any, key: str | int | None = None) -> str:
    """``file:line`` of ``key`` in a located mapping or list (of the object without a key)."""
    file = getattr(obj, "file", "input")
    line = getattr(obj, "line", 1)
    if isinstance(obj, Located) and isinstance(key, str) and key in obj.lines:
        line = obj.lines[key]
    elif isinstance(obj, LocatedList) and isinstance(key, int) and key < len(obj.lines):
        line = obj.lines[key] or line
    return f"{file}:{line}"


def read_text(path: Path, label: str | None = None) -> str:
    """The file's text, refusing what is not a reasonably sized UTF-8 text file."""
    shown = label or str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise YamlError(f"{shown}: is a directory, not a file") from None
    except OSError as exc:
        raise YamlError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise YamlError(f"{shown}: larger than {MAX_BYTES // 1024} KiB; not a preflight input")
    if b"\x00" in data:
        raise YamlError(f"{shown}: a binary file, not YAML text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlError(f"{shown}: not UTF-8 text (byte {exc.start})") from None


def load(text: str, label: str) -> Any:
    """Parse one YAML document from ``text`` (``label`` names it in errors) into plain values,
    with ``Located`` mappings and ``LocatedList`` lists. Keys must be scalars and unique."""
    # on first use: PyYAML stays out of start-up (docs/ARCHITECTURE.md)
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise YamlError(_marked(exc, label)) from None
    except yaml.YAMLError as exc:
        first = (str(exc).splitlines() or ["invalid YAML"])[0]
        raise YamlError(f"{label}: malformed YAML: {first}") from None
    except RecursionError:
        raise YamlError(f"{label}: malformed YAML: nested too deeply") from None
    if node is None:
        return None
    _check_size(node, label)
    return _construct(node, label)


def load_file(path: Path | str, label: str | None = None) -> Any:
    """``read_text`` then ``load``."""
    shown = label or str(path)
    return load(read_text(Path(path), shown), shown)


def load_all(text: str, label: str) -> list[tuple[Any, int]]:
    """Every document of a YAML stream, with the line each starts on."""
    # on first use: PyYAML stays out of start-up (docs/ARCHITECTURE.md)
    import yaml

    documents: list[tuple[Any, int]] = []
    try:
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
            if node is None:
                continue
            _check_size(node, label)
            documents.append((_construct(node, label), node.start_mark.line + 1))
    except yaml.MarkedYAMLError as exc:
        raise YamlError(_marked(exc, label)) from None
    except yaml.YAMLError as exc:
        first = (str(exc).splitlines() or ["invalid YAML"])[0]
        raise YamlError(f"{label}: malformed YAML: {first}") from None
    except RecursionError:
        raise YamlError(f"{label}: malformed YAML: nested too deeply") from None
    return documents


def _marked(exc: Any, label: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if exc.context_mark is not None and ("end of stream" in problem or "<stream end>" in problem):
        # an unclosed quote or bracket: point at where it was opened (not past the last line)
        mark = exc.context_mark
        problem = f"{problem} {exc.context or ''}".strip()
    where_ = f"{label}:{mark.line + 1}" if mark else label
    return f"{where_}: malformed YAML: {problem}"


def _check_size(root: Any, label: str) -> None:
    """Refuse documents that nest too deeply or expand (through aliases) to too many nodes.
    Sizes are memoised per node, so an alias bomb is measured without being expanded."""
    # on first use: PyYAML stays out of start-up (docs/ARCHITECTURE.md)
    import yaml

    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    visiting: set[int] = set()  # the nodes on the current path: one met again is a cycle
    # iterative post-order walk: no recursion limit, each distinct node visited once
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children: list[Any] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if not done:
            if key in visiting:  # an alias inside its own anchor: it would expand forever
                line = node.start_mark.line + 1
                raise YamlError(f"{label}:{line}: an alias refers to its own anchor (a cycle)")
            visiting.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        visiting.discard(key)
        sizes[key] = 1 + sum(sizes.get(id(c), 1) for c in children)
        depths[key] = 1 + max((depths.get(id(c), 1) for c in children), default=0)
        if depths[key] > MAX_DEPTH:
            line = node.start_mark.line + 1
            raise YamlError(f"{label}:{line}: nested more than {MAX_DEPTH} levels deep")
        if sizes[key] > MAX_NODES:
            line = node.start_mark.line + 1
            raise YamlError(
                f"{label}:{line}: expands to more than {MAX_NODES} values (aliases repeated "
                "too often: an alias bomb?)"
            )


def _construct(node: Any, label: str) -> Any:
    # on first use: PyYAML stays out of start-up (docs/ARCHITECTURE.md)
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, item: yaml.MappingNode) -> Located:
        result = Located()
        result.lines, result.file, result.line = {}, label, item.start_mark.line + 1
        loader.flatten_mapping(item)  # merge keys (<<) as PyYAML does
        for key_node, value_node in item.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise YamlError(f"{label}:{key_node.start_mark.line + 1}: keys must be text")
            key = str(key)
            if key in result:
                raise YamlError(f"{label}:{key_node.start_mark.line + 1}: duplicate key {key!r}")
            result[key] = loader.construct_object(value_node, deep=True)
            result.lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(loader: yaml.SafeLoader, item: yaml.SequenceNode) -> LocatedList:
        result = LocatedList(loader.construct_object(child, deep=True) for child in item.value)
        result.lines = [child.start_mark.line + 1 for child in item.value]
        result.file, result.line = label, item.start_mark.line + 1
        return result

    def construct_timestamp(loader: yaml.SafeLoader, item: yaml.ScalarNode) -> Any:
        # 2026-13-01 looks like a date to YAML; PyYAML then raises a bare ValueError
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, item)
        except ValueError as exc:
            line = item.start_mark.line + 1
            raise YamlError(f"{label}:{line}: {item.value!r} is not a date: {exc}") from None

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    Loader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp)
    loader = Loader("")
    try:
        return loader.construct_document(node)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where_ = f"{label}:{mark.line + 1}" if mark else label
        raise YamlError(f"{where_}: {exc.problem or 'cannot read this value'}") from None
    except RecursionError:
        raise YamlError(f"{label}: nested too deeply") from None
    finally:
        loader.dispose()
