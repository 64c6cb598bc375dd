"""Errors the CLI turns into one line and exit code 2 (usage or configuration problems)."""

from __future__ import annotations

import difflib


class UsageError(Exception):
    """Bad input from the user: a flag, a file or a value. Printed as one line; exit code 2."""


def nearest(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """The closest known spelling of ``word`` (case-insensitive), for "did you mean" hints."""

    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None
