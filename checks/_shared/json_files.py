"""Reading a JSON file a user handed us (``--set aks_json``, ``--set service_tags``) with a
one-line reason for what is wrong with it, never a parser's traceback."""

from __future__ import annotations

import json
from typing import Any


def json_error(exc: json.JSONDecodeError) -> str:
    return f"not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"


def read_json(path: str) -> Any:
    """The parsed JSON of ``path``. Raises OSError or ValueError with a one-line reason."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if not raw.strip():
        raise ValueError("the file is empty")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(json_error(exc)) from None
    except UnicodeDecodeError:
        raise ValueError("not a text (UTF-8) JSON file") from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None
    except ValueError:  # a number of thousands of digits
        raise ValueError("not valid JSON (a number too long to read)") from None
