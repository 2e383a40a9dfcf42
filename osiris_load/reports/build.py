"""Write a run folder's reports (``report.html``, ``junit.xml``, ``summary.json``) from its CSVs.

The adapter between the pure renderers and the file system: load once, render three ways, write
each file atomically (a temporary file renamed into place), so that the web UI serving a download
or a CI step reading ``junit.xml`` never sees a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from osiris_load.core.report.model import ReportError
from osiris_load.reports.html import render_html
from osiris_load.reports.junit import render_junit
from osiris_load.reports.load import load_run
from osiris_load.reports.summary_json import render_json

__all__ = ["OUTPUTS", "build_all", "write_atomic"]

OUTPUTS: tuple[str, ...] = ("report.html", "junit.xml", "summary.json")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; reports are shared like the CSVs next to them
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ReportError(f"{path}: cannot write: {exc.strerror or exc}") from None


def build_all(run_dir: Path) -> list[Path]:
    """(Re)generate the three reports in ``run_dir``; returns their paths in ``OUTPUTS`` order.

    Raises ``ReportError`` (one-line message) for a missing folder, a folder without Locust CSVs,
    malformed CSVs or a run with no request; writes nothing in that case.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    texts = {"report.html": render_html(run), "junit.xml": render_junit(run), "summary.json": render_json(run)}
    paths = []
    for name in OUTPUTS:
        path = run_dir / name
        write_atomic(path, texts[name])
        paths.append(path)
    return paths
