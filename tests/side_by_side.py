"""Real-process runs of a test module started side by side (a few at a time) in one module fixture,
and read back by the tests: the one helper of the ``*_runs`` modules that do so.

Each run is a function of its own fresh folder. A run that raises is kept as its exception and
raised again by the test that reads it (:func:`outcome`), so one broken run fails its own tests,
not the whole module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

__all__ = ["outcome", "run_side_by_side"]


def run_side_by_side(runs: Mapping[str, Callable[[Path], Any]], tmp_path_factory: pytest.TempPathFactory,
                     at_once: int) -> dict[str, Any]:
    """Every run of ``runs``, ``at_once`` at a time, each in its own folder: name -> what it
    returned, or the exception it raised."""
    folders = {name: tmp_path_factory.mktemp(name.replace("+", "")) for name in runs}  # here: mktemp is not thread-safe

    def one(name: str) -> Any:
        try:
            return runs[name](folders[name])
        except Exception as exc:  # reported by the test that reads it
            return exc

    with ThreadPoolExecutor(max_workers=at_once) as pool:
        return dict(zip(runs, pool.map(one, runs), strict=True))


def outcome(runs: Mapping[str, Any], name: str) -> Any:
    """What run ``name`` returned; the exception it raised, raised again."""
    value = runs[name]
    if isinstance(value, Exception):
        raise value
    return value
