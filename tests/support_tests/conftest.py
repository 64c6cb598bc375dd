"""The self-tests of tests/support share one rule: after every fixture stopped its servers, no
thread of theirs may linger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import support_threads


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Set up first, torn down last: after every fixture stopped its servers, none may linger."""
    yield
    assert support_threads() == []
