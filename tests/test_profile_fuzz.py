"""Hypothesis fuzzing of the profile loader: any file is a profile or one ProfileError line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.profile import ProfileError, load_profile

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.text(max_size=20),
    st.floats(allow_nan=True),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)
host_entries = st.fixed_dictionaries(
    {"host": st.one_of(st.text(max_size=30), st.sampled_from(["{acr}.azurecr.io", "{", "a.b"]))},
    optional={
        "port": values,
        "needed_for": values,
        "required": values,
        "tls": values,
        "purpose": values,
        "rule": values,
        "docs": values,
        "extra": values,
    },
)
profiles = st.fixed_dictionaries(
    {"name": values, "cloud": values},
    optional={
        "hosts": st.one_of(values, st.lists(host_entries, max_size=4)),
        "extends": st.one_of(st.none(), st.sampled_from(["azure-china", "nope", "x.yaml"]), values),
        "scenarios": values,
        "parameters": values,
        "kubernetes": values,
        "endpoints": values,
    },
)


def _load(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_profile(str(path))
        except ProfileError as exc:
            assert "\n" not in str(exc)
            assert str(path) in str(exc)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles)
def test_structured_profiles_load_or_fail_cleanly(data: dict) -> None:
    _load(yaml.safe_dump(data, allow_unicode=True))


@settings(max_examples=250, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_loads_or_fails_cleanly(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return
    _load(text)
