"""Hypothesis strategies shared by the property-based tests: YAML values of any shape and the
documents a user writes (a profile), for the parsers that must load them or refuse them in one
line (tests/engine/test_properties.py, tests/profiles/test_fuzz.py)."""

from __future__ import annotations

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
