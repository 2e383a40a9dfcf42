"""The benchmarks' one way to get a sidecar to measure: a running one (``--url``), or the bundled one
started here (``python -m sidecar`` on a free loopback port, its own Redis, the repository's model
cache) and stopped on the way out. Only a sidecar started here has a process whose RSS a bench can sample."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from osiris_load.jobs.run import wait_healthy
from osiris_load.jobs.supervisor import free_port
from osiris_load.testing.support import ROOT, stop_process

__all__ = ["sidecar"]


@contextmanager
def sidecar(url: str | None = None, env: Mapping[str, str] | None = None, log: Path | None = None,
            timeout_s: float = 600) -> Iterator[tuple[str, int | None]]:
    """(url, pid): ``url`` as given (pid None), or a bundled sidecar started with ``env`` added (its output
    to ``log``, else nowhere), once healthy."""
    if url is not None:
        yield url, None
        return
    port = free_port()
    full_env = {**os.environ, "OSIRIS_MODEL_CACHE_DIR": os.environ.get("OSIRIS_MODEL_CACHE_DIR",
                                                                       str(ROOT / ".cache" / "models")), **(env or {})}
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") if log is not None else open(os.devnull, "wb") as output:
        proc = subprocess.Popen([sys.executable, "-m", "sidecar", "--port", str(port)], cwd=ROOT, env=full_env,
                                stdout=output, stderr=subprocess.STDOUT)
    try:
        started = f"http://127.0.0.1:{port}"
        wait_healthy(started, proc, timeout_s)
        yield started, proc.pid
    finally:
        stop_process(proc)
