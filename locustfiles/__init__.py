"""Locust scenarios replacing Osiris's three k6 load-test scripts (plus a mixed-traffic one).

Run one with ``locust -f locustfiles/<scenario>.py``.

This package ``__init__`` deliberately imports nothing from Locust: importing ``locust``
monkey-patches the whole process with gevent, which tools and test processes that only need the
stages parser (``locustfiles.stages``) or the prompts loader below must not suffer.  That is why
the pure prompts loader lives here rather than in ``locustfiles.common`` (which re-exports it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_PROMPTS_PATH", "PromptsError", "load_prompts", "prompts_path"]

DEFAULT_PROMPTS_PATH = Path(__file__).with_name("prompts.json")


class PromptsError(Exception):
    """prompts.json is missing, unreadable or not a non-empty JSON array of non-empty strings."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"prompts file {self.path}: {reason}")


def prompts_path(environ: Mapping[str, str] | None = None) -> Path:
    """``OSIRIS_PROMPTS`` if set (users point it at their own inputs), else the bundled prompts.json."""
    environ = os.environ if environ is None else environ
    override = environ.get("OSIRIS_PROMPTS", "").strip()
    return Path(override) if override else DEFAULT_PROMPTS_PATH


def load_prompts(path: str | os.PathLike[str]) -> list[str]:
    """Read and validate a prompts file; raise :class:`PromptsError` saying exactly what is wrong."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise PromptsError(path, "file not found") from None
    except IsADirectoryError:
        raise PromptsError(path, "is a directory, not a file") from None
    except OSError as exc:
        raise PromptsError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PromptsError(path, f"is not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise PromptsError(path, f"is not valid JSON ({exc.msg} at {where})") from None
    if not isinstance(data, list):
        raise PromptsError(path, f"must be a JSON array of strings, got a JSON {_json_type(data)}")
    if not data:
        raise PromptsError(path, "is an empty array; add at least one prompt")
    for index, item in enumerate(data):
        if not isinstance(item, str):
            raise PromptsError(path, f"entry {index} is a JSON {_json_type(item)}, expected a string")
        if not item.strip():
            raise PromptsError(path, f"entry {index} is an empty string")
    return data


def _json_type(value: Any) -> str:
    """JSON's name for a decoded value's type, for error messages users understand."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
