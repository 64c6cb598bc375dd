"""--set and --extension-config parsing, including fuzzing: bad input is a UsageError, never
a traceback."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.errors import UsageError
from preflight.params import parse_extension_config, parse_set, truthy

KNOWN = {"region": "", "acr": "", "storage_account": ""}


def test_parse_set_values_and_unknown_key_lists_known() -> None:
    assert parse_set(["region=chinaeast2", "acr= myacr "], KNOWN) == {
        "region": "chinaeast2",
        "acr": "myacr",
    }
    with pytest.raises(
        UsageError, match=r"unknown parameter \(did you mean region\?\); known: acr"
    ):
        parse_set(["regoin=x"], KNOWN)
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        parse_set(["region"], KNOWN)


def test_extension_config_is_case_insensitive_and_strict() -> None:
    settings_ = parse_extension_config(
        "enableInference=True inferenceRouterServiceType=loadBalancer"
    )
    assert settings_["ENABLEINFERENCE"] == "True"
    assert "inferenceroutertype" not in settings_
    assert settings_.original_key("inferencerouterservicetype") == "inferenceRouterServiceType"
    assert truthy(settings_["enableinference"]) is True
    # the same key twice with the same value is harmless; with different values it is an error
    assert len(parse_extension_config("a=1 A=1")) == 1
    for bad, message in [
        ("enableInference", "has no '='"),
        ("=True", "empty key"),
        ("a=1 A=2", "given twice"),
        ('a="unterminated', "No closing quotation"),
    ]:
        with pytest.raises(UsageError, match=message):
            parse_extension_config(bad)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=5))
def test_parse_set_never_raises_anything_but_usage_error(items: list[str]) -> None:
    try:
        result = parse_set(items, KNOWN)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert set(result) <= set(KNOWN)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_extension_config_fuzz(text: str) -> None:
    with contextlib.suppress(UsageError):
        parse_extension_config(text)
