"""The child processes of the main job (the sidecar, each Locust run) and how they are stopped.

Each child starts in its own process group (so a Ctrl+C typed in the terminal reaches the main job
only, which then stops the children in order) and with the kernel's parent-death signal set (so
even a main job killed with SIGKILL takes them down). ``stop_child`` asks the child to stop with
SIGTERM, waits a few seconds, then kills whatever is left in its group (Locust's ``--processes``
workers, the sidecar's Redis), so nothing the main job started outlives it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from sidecar.infra.ports import free_port as free_port  # one copy, shared with the sidecar

STOP_GRACE_S = 10.0
"""How long a child gets to stop by itself (Locust judges, the sidecar stops its Redis) before SIGKILL."""

_PR_SET_PDEATHSIG = 1


def _in_own_group_dying_with_parent() -> None:  # runs in the child between fork and exec
    os.setpgid(0, 0)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])  # the parent may hold its stop signals while it registers us
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_child(command: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
                stdout: int | IO[bytes] | None = None,
                stderr: int | IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new process group that dies with this process."""
    return subprocess.Popen(list(command), cwd=cwd, env=env, stdout=stdout, stderr=stderr,
                            preexec_fn=_in_own_group_dying_with_parent)


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def send_stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask a child to stop (SIGTERM to the child only: it stops its own children in order)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)


def reap(proc: subprocess.Popen[bytes], deadline: float) -> int:
    """Wait for a child until ``deadline`` (monotonic), SIGKILL its group if it is late; sweep the group."""
    try:
        proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
    # The leader is gone; anything left in its group (a forked Locust worker, a Redis) goes too.
    _kill_group(proc.pid, signal.SIGKILL)
    return proc.returncode


def stop_children(procs: Sequence[subprocess.Popen[bytes]], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM every child at once, then reap each within one shared grace period."""
    for proc in procs:
        send_stop(proc)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        reap(proc, deadline)
