"""Placeholder: filled in by issue 7 work."""

CHECKS: list[object] = []
