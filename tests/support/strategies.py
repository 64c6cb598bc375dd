"""Hypothesis strategies shared by the property-based tests: YAML values of any shape and the
documents a user writes (a profile), for the parsers that must load them or refuse them in one
line (tests/engine/test_properties.py, tests/profiles/test_fuzz.py); JSON values of any shape,
and a document with one value replaced by one of them, for the readers of what an API answers
(tests/engine/test_properties.py, tests/checks/extension/test_cluster_objects_shapes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

YAML_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(-5, 70000),  # around the port range's bounds
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["{acr}.azurecr.io", "{", "}", "*.x", "a.b:99999", "&a", "*a", "!!python/x"]),
)
YAML_VALUES = st.recursive(
    YAML_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)
HOST_ENTRY = st.fixed_dictionaries(
    {"host": st.one_of(st.text(max_size=30), st.sampled_from(["{acr}.azurecr.io", "{", "a.b"]))},
    optional={
        k: YAML_VALUES
        for k in (
            "port",
            "needed_for",
            "required",
            "tls",
            "purpose",
            "rule",
            "docs",
            "service",
            "extra",
        )
    },
)
PROFILE_DOC = st.fixed_dictionaries(
    {"name": YAML_VALUES, "cloud": YAML_VALUES},
    optional={
        "hosts": st.one_of(YAML_VALUES, st.lists(HOST_ENTRY, max_size=4)),
        "extends": st.one_of(
            st.none(), st.sampled_from(["azure-china", "nope", "x.yaml"]), YAML_VALUES
        ),
        "scenarios": YAML_VALUES,
        "parameters": YAML_VALUES,
        "kubernetes": st.one_of(
            YAML_VALUES,
            st.fixed_dictionaries(
                {}, optional={"min_minor": YAML_VALUES, "max_minor": YAML_VALUES}
            ),
        ),
        "endpoints": YAML_VALUES,
        "audiences": YAML_VALUES,
        "confidence": YAML_VALUES,
        "extra": YAML_VALUES,
    },
)

HUGE = st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1, 10**20])
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    HUGE,
    st.floats(),  # NaN and Infinity too: Python's JSON parser accepts them from a peer
    st.text(max_size=24),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _spots(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value in a JSON document, the document itself first."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _spots(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _spots(item, (*path, index))


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def one_wrong(draw: st.DrawFn, base: st.SearchStrategy[Any]) -> Any:
    """A document of ``base`` with one of its values (or the whole) replaced by any JSON; half
    the time an object or a list (where a wrong type breaks more than a wrong value)."""
    document = draw(base)
    spots = list(_spots(document))
    inner = [p for p in spots if isinstance(_at(document, p), dict | list)]
    path = draw(st.sampled_from(inner if inner and draw(st.booleans()) else spots))
    return _replaced(document, path, draw(JSON_VALUES))
