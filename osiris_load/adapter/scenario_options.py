"""Locust scenarios replacing Osiris's three k6 load-test scripts (plus a mixed-traffic one).

Run one with ``locust -f locustfiles/<scenario>.py``.

This package ``__init__`` deliberately imports nothing from Locust: importing ``locust``
monkey-patches the whole process with gevent, which tools and test processes that only need the
stages parser (``osiris_load.adapter.shape``) or the rules below must not suffer.  That is why the pure
rules the locustfiles apply when they are imported (the prompts file, ``OSIRIS_SHAPE``,
``OSIRIS_URL``) live here rather than in ``osiris_load.adapter.users`` (which applies them): ``osiris-load
run`` applies the same functions before it starts anything (``osiris_load.jobs.preflight``).
"""

from __future__ import annotations

import ast
import json
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_PROMPTS_PATH", "PROMPTS_HINT", "PromptsError", "check_url", "load_prompts", "loads_prompts",
           "prompts_path", "shape_switch"]

DEFAULT_PROMPTS_PATH = Path(__file__).with_name("prompts.json")
PROMPTS_HINT = "(set OSIRIS_PROMPTS to use another file)"
"""Said after a prompts file's problem, wherever it is reported."""


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


def loads_prompts(locustfile: str | os.PathLike[str]) -> bool:
    """Whether importing ``locustfile`` loads the prompts file: it calls ``load_prompts_or_exit``, or
    imports a sibling locustfile that does (``mixed.py`` imports ``propose_trade.py``): a module of the
    locustfile's own package (``locustfiles.``, named by its folder, not by this module's package).
    Read with :mod:`ast`, without importing it (that would import Locust)."""
    path = Path(locustfile)
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "load_prompts_or_exit" and isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"{path.parent.name}."):
            sibling = path.with_name(node.module.rsplit(".", 1)[1] + ".py")
            if sibling != path and sibling.name != "common.py" and loads_prompts(sibling):
                return True
    return False


# --------------------------------------------------------------------------------------------------
# OSIRIS_SHAPE / --no-shape
# --------------------------------------------------------------------------------------------------

_SHAPE_OFF = {"off", "0", "false", "no"}
_SHAPE_ON = {"", "on", "1", "true", "yes"}


def shape_switch(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether a locustfile defines its stages shape: not with ``--no-shape`` in ``argv`` or
    ``OSIRIS_SHAPE=off``; :class:`ValueError` for an ``OSIRIS_SHAPE`` that is neither on nor off."""
    if "--no-shape" in argv:
        return False
    value = environ.get("OSIRIS_SHAPE", "").strip().lower()
    if value in _SHAPE_OFF:
        return False
    if value in _SHAPE_ON:
        return True
    raise ValueError(f"OSIRIS_SHAPE must be 'on' or 'off', got {value!r}")


# --------------------------------------------------------------------------------------------------
# The target: OSIRIS_URL (and osiris-load's --url)
# --------------------------------------------------------------------------------------------------


def check_url(url: str, source: str = "OSIRIS_URL") -> str:
    """``url`` without a trailing slash, if it can name a target (``http(s)://host[:port][/prefix]``);
    :class:`ValueError` naming ``source`` and what is wrong otherwise (``localhost:8000`` without its
    scheme, a port that is not a number, a query string...)."""
    text = url.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port  # raises ValueError when it is not a number in 0..65535
    except ValueError as exc:
        raise ValueError(f"{source} {url!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{source} {url!r} must start with http:// or https:// (e.g. http://localhost:8000)")
    if not parts.hostname:
        raise ValueError(f"{source} {url!r} names no host (e.g. http://localhost:8000)")
    if port == 0:
        raise ValueError(f"{source} {url!r}: port 0 is not a port to connect to")
    if parts.query or parts.fragment:
        raise ValueError(f"{source} {url!r}: a target is scheme://host[:port][/path], without ?query or #fragment")
    return text.rstrip("/")
