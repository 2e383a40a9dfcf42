"""The open-model fixture target (:mod:`osiris_load.testing.open_model_target`) as a child process, and
read-heavy Locust runs against it: what the open-model and generator-health tests and the benchmarks
``open_model_rate``, ``generator_overhead`` and ``generator_cases`` start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from osiris_load.testing import support
from osiris_load.testing.support import ROOT, LocustRun, ahead_for_the_cpu

READ_HEAVY = ROOT / "locustfiles" / "read_heavy.py"


class Target:
    """The target process; ``url`` once it listens."""

    def __init__(self, *stalls: str, delay_ms: float = 0.0, first: bool = False) -> None:
        """``first``: ahead of other processes for the CPU where allowed (``nice -5``), so that on a
        shared machine its answers stay as fast as the test says (issue 17's fast-server case)."""
        command = [sys.executable, "-m", "osiris_load.testing.open_model_target", "--port", "0", "--delay-ms",
                   f"{delay_ms:g}"]
        for stall in stalls:
            command += ["--stall", stall]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                        preexec_fn=ahead_for_the_cpu if first else None)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until it listens (or exits: then "")
        assert line.startswith("listening "), f"the target did not start: {line!r}"
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def run_local(url: str, prefix: Path, *args: str, timeout: float = 120) -> LocustRun:
    """``locustfiles/read_heavy.py`` headless in one process against ``url``, ``--csv PREFIX``."""
    return support.run_locust(READ_HEAVY, "--host", url, "--csv", str(prefix), *args, timeout=timeout)


def run_distributed(url: str, prefix: Path, *args: str, workers: int = 2, timeout: float = 150) -> LocustRun:
    """The same with a master and ``workers`` worker processes."""
    return support.run_distributed(READ_HEAVY, "--host", url, "--csv", str(prefix), *args, workers=workers,
                                   timeout=timeout)
