"""Parsing of ``--set KEY=VALUE`` parameters and of planned ``--extension-config "k=v k=v"``."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator, Mapping

from preflight.errors import UsageError, nearest

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def parse_set(items: Iterable[str], known: Mapping[str, str] | None = None) -> dict[str, str]:
    """``["region=chinaeast2", ...]`` -> dict. Unknown keys are an error listing the known ones."""
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE (e.g. --set region=eastus)")
        if not _KEY.match(key):
            raise UsageError(f"--set {item!r}: {key!r} is not a valid parameter name")
        if known is not None and key not in known:
            hint = nearest(key, list(known))
            did = f" (did you mean {hint}?)" if hint else ""
            raise UsageError(
                f"--set {key}: unknown parameter{did}; known: {', '.join(sorted(known))}"
            )
        params[key] = value.strip()
    return params


class CaseInsensitiveDict(Mapping[str, str]):
    """Settings looked up whatever their case, the user's spelling kept.

    Lookups match case-insensitively; ``as_given()`` keeps every key exactly as it was written
    (``a=1 A=1`` gives both), for readers that, like the Azure ML extension, match keys exactly
    and must tell ``InferenceRouterHA`` from ``inferenceRouterHA``."""

    def __init__(
        self, items: Mapping[str, str] | None = None, given: Mapping[str, str] | None = None
    ) -> None:
        self._data: dict[str, tuple[str, str]] = {}
        for key, value in (items or {}).items():
            self._data[key.lower()] = (key, value)
        self._given = dict(given if given is not None else items or {})

    def as_given(self) -> dict[str, str]:
        """Every key in the user's spelling, in the order given (case variants included)."""
        return dict(self._given)

    def __getitem__(self, key: str) -> str:
        return self._data[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._data

    def original_key(self, key: str) -> str:
        return self._data[key.lower()][0]

    def __repr__(self) -> str:
        return f"CaseInsensitiveDict({dict(self.items())!r})"


def parse_extension_config(text: str | None) -> CaseInsensitiveDict:
    """Parse the planned ``az k8s-extension create --config`` settings ("k=v k=v").

    Lookups ignore case; ``as_given()`` keeps each key as written, since the extension itself
    matches keys exactly (checks judge the spelling). A token without ``=``, an empty key, or the
    same key twice (in any case) with different values is a usage error; quoting follows the
    shell.
    """
    if not text or not text.strip():
        return CaseInsensitiveDict()
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"--extension-config: {exc}") from None
    seen: dict[str, tuple[str, str]] = {}
    given: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep:
            raise UsageError(
                f"--extension-config: {token!r} has no '='; write settings as key=value "
                "(e.g. enableInference=True)"
            )
        if not key.strip():
            raise UsageError(f"--extension-config: {token!r} has an empty key")
        key = key.strip()
        previous = seen.get(key.lower())
        if previous is not None and previous[1] != value:
            raise UsageError(
                f"--extension-config: {key} is given twice with different values "
                f"({previous[0]}={previous[1]!r} and {key}={value!r})"
            )
        seen[key.lower()] = (key, value)
        given[key] = value
    return CaseInsensitiveDict({k: v for k, v in seen.values()}, given)


def truthy(value: str | None) -> bool | None:
    """Interpret an Azure CLI style boolean ("True"/"false"/"1"); None when unset or not boolean."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    return None
