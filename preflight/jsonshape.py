"""Judging JSON that comes from outside (API server, ARM, IMDS, probe pods, the scoring service).

Nothing read from a peer is trusted to have the shape its API documents: a proxy in front of it,
a half-written body, another service on the port or a bug at the far end can hand back a list
where an object belongs, a number where a string does, a body cut short, or hundreds of megabytes.
Each such answer is a ``ShapeError`` that names the endpoint and what was wrong with the answer
in the user's terms (never a Python type or a traceback), so a check turns it into a finding::

    from preflight.api import ShapeError, jsonshape

    CAPACITY = jsonshape.Obj(values=jsonshape.STR)
    NODE = jsonshape.Obj({"status": jsonshape.Obj({"capacity": CAPACITY})})
    try:
        page = jsonshape.loads(body, "GET /api/v1/nodes")
        jsonshape.check(page, jsonshape.Obj({"items": jsonshape.Arr(NODE)}), "GET /api/v1/nodes")
    except ShapeError as exc:
        return [Finding.errored(target, exc.message, exc.remediation)]

``check`` validates a whole document against a declared shape (keys a shape does not name are
not looked at; ``null`` is accepted wherever a key is optional, as Kubernetes and ARM omit or null
empty fields); ``expect``/``field`` judge one value on the way. The engine turns a ShapeError
that a check lets escape into an ``error`` finding with the same message (not "the check failed
inside preflight").
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

#: the largest body a client reads from one answer before giving up (a page of 500 nodes with
#: their image lists is a few MiB; a ConfigMap is at most 1 MiB)
MAX_BODY = 64 * 1024 * 1024
#: how deep JSON may nest (Python's parser would otherwise overflow its stack on ``[[[[...``)
MAX_DEPTH = 200

DEFAULT_REMEDY = (
    "the answer did not have the documented shape: check that the address really is the service "
    "it should be (a proxy, a captive portal or another service on that port answers like this), "
    "then run preflight again"
)


class ShapeError(ValueError):
    """An answer that is not the JSON its endpoint documents (wrong type, missing field,
    truncated, not JSON, too big or too deep). ``message`` is one line naming the endpoint."""

    def __init__(
        self,
        endpoint: str,
        problem: str,
        *,
        at: str = "",
        remediation: str | None = None,
        statement: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        #: what was wrong, as the object of "answered": "items[3] as a list, not an object"
        self.problem = problem
        self.at = at
        self.remediation = remediation or DEFAULT_REMEDY
        #: the same as a sentence of its own ("items[3] is a list, not an object"), for a file
        #: or a setting rather than an answer
        self.statement = statement or problem
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.endpoint} answered {self.problem}" if self.endpoint else self.statement


def describe(value: Any) -> str:
    """What a JSON value is, in words: ``an object``, ``a list``, ``a string``, ``a number``,
    ``true or false``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"  # from YAML: a date, a datetime, bytes


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")


def join(at: str, key: str | int) -> str:
    """``items[3].metadata.labels["kubernetes.io/os"]``: a path into a document for messages."""
    if isinstance(key, int):
        return f"{at}[{key}]"
    if _PLAIN_KEY.match(key):
        return f"{at}.{key}" if at else key
    shown = json.dumps(key if len(key) <= 60 else key[:57] + "...", ensure_ascii=True)
    return f"{at}[{shown}]"


# -- reading a body ---------------------------------------------------------------------------


def loads(
    data: bytes | bytearray | str,
    endpoint: str,
    *,
    limit: int = MAX_BODY,
    remediation: str | None = None,
) -> Any:
    """Parse one JSON body, or raise ShapeError: empty, too big, not UTF-8, not JSON (or cut
    short), nested too deeply."""
    size = len(data)
    if size > limit:
        raise ShapeError(
            endpoint,
            f"more than {size_text(limit)} (a body this big is refused)",
            remediation=remediation,
        )
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise ShapeError(
                endpoint, "bytes that are not UTF-8 text, not JSON", remediation=remediation
            ) from None
    else:
        text = data
    if not text.strip():
        raise ShapeError(endpoint, "an empty body, not JSON", remediation=remediation)
    depth = _nesting(text)
    if depth > MAX_DEPTH:
        raise ShapeError(
            endpoint, f"JSON nested more than {MAX_DEPTH} levels deep", remediation=remediation
        )
    try:
        return json.loads(text)
    except RecursionError:  # pragma: no cover - _nesting bounds it first
        raise ShapeError(endpoint, "JSON nested too deeply", remediation=remediation) from None
    except ValueError as exc:
        raise ShapeError(endpoint, not_json(text, exc), remediation=remediation) from None


def not_json(text: str, exc: ValueError) -> str:
    """Why ``text`` is not JSON, in words (a cut-short body says so)."""
    position = getattr(exc, "pos", None)
    ended = isinstance(position, int) and position >= len(text.rstrip())
    if ended or str(exc).startswith("Unterminated string"):  # the body stops inside a string
        return f"JSON that ends too early (cut short after {len(text)} bytes?)"
    start = text.lstrip()[:1]
    if start == "<":
        return "HTML or XML, not JSON"
    line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    where = f" (line {line}, column {column})" if line and column else ""
    return f"something that is not JSON{where}"


def _nesting(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings, at C speed (a 10 MiB page costs
    milliseconds)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)))


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MiB"
    if size >= 1024:
        return f"{size / 1024:g} KiB"
    return f"{size} bytes"


# -- shapes -----------------------------------------------------------------------------------


class Shape:
    """What a JSON value must be. ``name`` says it in words ("an object")."""

    name = "a value"

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def fits(self, value: Any) -> bool:
        """Whether ``validate`` would pass, without building the paths its messages need: the
        fast way through the common case (50,000 pods), ``validate`` then says why not."""
        return self.accepts(value)

    def validate(self, value: Any, at: str, endpoint: str) -> None:
        if not self.accepts(value):
            raise _mismatch(endpoint, at, value, self.name)


class _Scalar(Shape):
    def __init__(self, name: str, *types: type, exclude_bool: bool = False) -> None:
        self.name = name
        self.types = types
        self.exclude_bool = exclude_bool

    def accepts(self, value: Any) -> bool:
        if self.exclude_bool and isinstance(value, bool):
            return False
        return isinstance(value, self.types)


class _Anything(Shape):
    name = "any value"

    def accepts(self, value: Any) -> bool:
        return True


STR: Shape = _Scalar("a string", str)
INT: Shape = _Scalar("a whole number", int, exclude_bool=True)
NUM: Shape = _Scalar("a number", int, float, exclude_bool=True)
BOOL: Shape = _Scalar("true or false", bool)
#: a string, number or boolean (quantities and values that some writers send unquoted)
SCALAR: Shape = _Scalar("a string, number or true/false", str, int, float, bool)
ANY: Shape = _Anything()


class OneOf(Shape):
    """Any of the given shapes (the first that accepts the value validates inside it)."""

    def __init__(self, *shapes: Shape) -> None:
        self.shapes = shapes
        self.name = " or ".join(s.name for s in shapes)

    def accepts(self, value: Any) -> bool:
        return any(s.accepts(value) for s in self.shapes)

    def fits(self, value: Any) -> bool:
        for shape in self.shapes:
            if shape.accepts(value):
                return shape.fits(value)
        return False

    def validate(self, value: Any, at: str, endpoint: str) -> None:
        for shape in self.shapes:
            if shape.accepts(value):
                shape.validate(value, at, endpoint)
                return
        raise _mismatch(endpoint, at, value, self.name)


class Obj(Shape):
    """A JSON object. ``fields``: the shape of each named key (others are not looked at;
    ``null`` is accepted for a key unless it is ``required``); ``values``: the shape of every
    value (a map such as labels)."""

    name = "an object"

    def __init__(
        self,
        fields: Mapping[str, Shape] | None = None,
        *,
        values: Shape | None = None,
        required: Sequence[str] = (),
    ) -> None:
        self.fields = dict(fields or {})
        self.values = values
        self.required = tuple(required)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def fits(self, value: Any) -> bool:
        if type(value) is not dict and not isinstance(value, Mapping):  # dict: no ABC check
            return False
        get = value.get
        for key in self.required:
            if get(key) is None:
                return False
        for key, shape in self.fields.items():
            item = get(key)
            if item is not None and not shape.fits(item):
                return False
        if self.values is not None:
            fields, values = self.fields, self.values
            for key, item in value.items():
                if not isinstance(key, str):
                    return False
                if item is not None and key not in fields and not values.fits(item):
                    return False
        return True

    def validate(self, value: Any, at: str, endpoint: str) -> None:
        if self.fits(value):
            return
        if not isinstance(value, Mapping):
            raise _mismatch(endpoint, at, value, self.name)
        for key in self.required:
            if value.get(key) is None:
                where = at or "an object"
                raise ShapeError(
                    endpoint,
                    f"{where} without {key}",
                    at=join(at, key),
                    statement=f"{join(at, key)} is missing",
                )
        for key, shape in self.fields.items():
            item = value.get(key)
            if item is not None:
                shape.validate(item, join(at, key), endpoint)
        if self.values is not None:
            for key, item in value.items():
                if not isinstance(key, str):  # pragma: no cover - JSON keys are strings
                    raise ShapeError(endpoint, f"{at} with a key that is not a string", at=at)
                if key not in self.fields and item is not None:
                    self.values.validate(item, join(at, key), endpoint)

    def extend(self, fields: Mapping[str, Shape], *, required: Sequence[str] = ()) -> Obj:
        """This shape with more (or replaced) fields."""
        return Obj(
            {**self.fields, **fields}, values=self.values, required=self.required + tuple(required)
        )


class Arr(Shape):
    """A JSON list whose items have shape ``items`` (and may not be null, unless ``items``
    is None: any items)."""

    name = "a list"

    def __init__(self, items: Shape | None = None, *, max_items: int | None = None) -> None:
        self.items = items
        self.max_items = max_items

    def accepts(self, value: Any) -> bool:
        return isinstance(value, list | tuple)

    def fits(self, value: Any) -> bool:
        if not isinstance(value, list | tuple):
            return False
        if self.max_items is not None and len(value) > self.max_items:
            return False
        if self.items is None:
            return True
        items = self.items
        return all(item is not None and items.fits(item) for item in value)

    def validate(self, value: Any, at: str, endpoint: str) -> None:
        if self.fits(value):
            return
        if not isinstance(value, list | tuple):
            raise _mismatch(endpoint, at, value, self.name)
        if self.max_items is not None and len(value) > self.max_items:
            raise ShapeError(
                endpoint, f"{at or 'a list'} with more than {self.max_items} entries", at=at
            )
        if self.items is None:
            return
        for index, item in enumerate(value):
            where = join(at, index)
            if item is None:
                raise ShapeError(
                    endpoint,
                    f"{where} as null, not {self.items.name}",
                    at=where,
                    statement=f"{where} is null, not {self.items.name}",
                )
            self.items.validate(item, where, endpoint)


def _mismatch(endpoint: str, at: str, value: Any, wanted: str) -> ShapeError:
    found = describe(value)
    if not at:
        return ShapeError(
            endpoint,
            f"JSON that is {found}, not {wanted}",
            statement=f"the document is {found}, not {wanted}",
        )
    return ShapeError(
        endpoint,
        f"{at} as {found}, not {wanted}",
        at=at,
        statement=f"{at} is {found}, not {wanted}",
    )


# -- judging ----------------------------------------------------------------------------------


def check(value: Any, shape: Shape, endpoint: str, *, at: str = "") -> Any:
    """``value`` if it has ``shape``, else ShapeError naming ``endpoint`` and where it differs."""
    if value is None:
        raise _mismatch(endpoint, at, value, shape.name)
    shape.validate(value, at, endpoint)
    return value


def expect(value: Any, kind: Shape | type | tuple[type, ...], endpoint: str, at: str = "") -> Any:
    """``value`` if it is ``kind`` (a shape, or ``dict``/``list``/``str``/``int``/``float``/
    ``bool``), else ShapeError."""
    return check(value, _shape_of(kind), endpoint, at=at)


def field(
    doc: Any,
    path: str | Sequence[str | int],
    kind: Shape | type | tuple[type, ...],
    endpoint: str,
    *,
    default: Any = None,
    at: str = "",
) -> Any:
    """The value at ``path`` (``"status.capacity"`` or ``("data", "key.with.dots")``) of
    ``doc``, checked to be ``kind``; ``default`` when it (or an object on the way) is missing or
    null. ShapeError when something on the way is not an object (or the value not ``kind``)."""
    keys: Sequence[str | int] = path.split(".") if isinstance(path, str) else path
    value = doc
    where = at
    for key in keys:
        if value is None:
            return default
        if isinstance(key, int):
            if not isinstance(value, list | tuple):
                raise _mismatch(endpoint, where, value, "a list")
            value = value[key] if -len(value) <= key < len(value) else None
        else:
            if not isinstance(value, Mapping):
                raise _mismatch(endpoint, where, value, "an object")
            value = value.get(key)
        where = join(where, key)
    if value is None:
        return default
    return check(value, _shape_of(kind), endpoint, at=where)


_TYPES: dict[type, Shape] = {dict: Obj(), list: Arr(), str: STR, int: INT, float: NUM, bool: BOOL}


def _shape_of(kind: Shape | type | tuple[type, ...]) -> Shape:
    if isinstance(kind, Shape):
        return kind
    if isinstance(kind, tuple):
        return OneOf(*(_shape_of(k) for k in kind))
    try:
        return _TYPES[kind]
    except KeyError:
        raise TypeError(f"jsonshape: no shape for {kind!r}") from None
