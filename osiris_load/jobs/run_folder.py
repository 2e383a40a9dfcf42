"""The run folder of a job: made once every input is checked, and gone again if nothing was written in it.

Why both halves: whether a folder can be written is only known for sure by writing. Permission
bits say nothing to root (the tests run as root, so do many containers), and a read-only mount,
an immutable folder, a name longer than the filesystem allows or a link to nowhere show only when
tried. And a start that is refused or fails before its first file (a bad input, a target that is
down, a name that does not resolve, Ctrl+C while waiting) must leave nothing behind: no empty
``osiris-runs/<timestamp>`` folders to wonder about. Only the folders made here are ever removed,
and only while empty: a folder the user had (``--out existing``) is never touched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from osiris_load.jobs.preflight import ConfigError

__all__ = ["make_run_folder", "remove_unused"]


def make_run_folder(path: Path, source: str) -> list[Path]:
    """Make ``path`` (and its missing parents) and write a file in it, then remove the file; the
    folders made, outermost first. :class:`ConfigError` names ``source`` and the folder, with
    whatever it made removed again, when the folder cannot be made or written."""
    path = Path(path).absolute()
    missing = []
    level = path
    while not os.path.isdir(level) and level != level.parent:  # False, not an error, where it cannot look
        missing.append(level)
        level = level.parent
    created: list[Path] = []
    doing = ""
    try:
        for folder in reversed(missing):
            if os.path.islink(folder):
                raise ConfigError(f"{source} {path}: {folder} is a link to {os.readlink(folder)}, which is not a "
                                  "folder")
            doing = "make it" if folder == path else f"make {folder}"
            folder.mkdir()
            created.append(folder)
        doing = "write into it"
        with tempfile.TemporaryFile(dir=path):
            pass
    except (OSError, ConfigError) as exc:
        remove_unused(created)
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{source} {path}: cannot {doing}: {exc.strerror or type(exc).__name__}") from None
    return created


def remove_unused(created: Sequence[Path]) -> None:
    """Remove the folders ``make_run_folder`` made, innermost first, as long as they are empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:  # something was written there (or it is gone already): keep the rest
            return
