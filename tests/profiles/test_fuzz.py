"""Hypothesis fuzzing of the profile loader: any file is a profile or one ProfileError line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.strategies import PROFILE_DOC

from preflight.profile import ProfileError, load_profile


def _load(text: str) -> None:
    """Either a profile that holds what the format promises, or one ProfileError line naming
    the file: nothing else (no other exception, no half-valid profile)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            profile = load_profile(str(path))
        except ProfileError as exc:
            assert "\n" not in str(exc)
            assert str(path) in str(exc)
            return
        assert isinstance(profile.name, str) and profile.name.strip()
        assert isinstance(profile.cloud, str) and profile.cloud.strip()
        assert profile.hosts, "a loaded profile has hosts"
        for host in profile.hosts:
            assert isinstance(host.template, str) and host.template
            assert isinstance(host.port, int) and 1 <= host.port <= 65535
            assert isinstance(host.required, bool) and isinstance(host.tls, bool)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROFILE_DOC)
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
