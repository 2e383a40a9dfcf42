"""Every exit code of the load tester, once: what each one means and when a command exits with it.

The lowest floor (it imports nothing of the project): the gate, the jobs and the front door all
name these constants, so that a code cannot mean one thing in one command and another elsewhere.
README's "Exit codes" table lists exactly these codes with the meaning each docstring starts with
(``tests/test_exit_codes.py`` checks it). The sidecar (a separate package) keeps its own codes.

Each docstring starts with the meaning as README's table says it, up to its first colon.
"""

from __future__ import annotations

import signal

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CAPACITY_ABOVE_MAX",
    "EXIT_CAPACITY_BELOW_MIN",
    "EXIT_HANGUP",
    "EXIT_INCONCLUSIVE",
    "EXIT_INTERRUPTED",
    "EXIT_LOCUST_ERROR",
    "EXIT_OK",
    "EXIT_PROBE_ERROR",
    "EXIT_REGRESSION",
    "EXIT_SLO_FAILED",
    "EXIT_TARGET_DOWN",
    "EXIT_TERMINATED",
    "EXIT_USER_EXCEPTIONS",
    "SIGNAL_EXIT_BASE",
    "signal_exit_code",
]

EXIT_OK = 0
"""every SLO threshold held: a run that passed its gate, a capacity found (``capacity``), a report
written, a comparison without a regression (``report``, ``compare``)."""

EXIT_USER_EXCEPTIONS = 1
"""unhandled exceptions in user code: Locust's own code for them (its ``--exit-code-on-error``, 1
unless set); the gate keeps it when no SLO failed, and its summary says how many and the first."""

EXIT_REGRESSION = 1
"""a regression beyond the tolerance: ``osiris-load compare`` found a figure of the new run worse than
the old one's by more than ``--tolerance``."""

EXIT_BAD_INPUT = 2
"""bad configuration: a malformed SLO file, option, variable, run folder or verdict file; the
command stops before it sends a request (the gate exits with it before a test starts, ``run`` and
``capacity`` before they start anything, ``report``/``compare`` before they write)."""

EXIT_LOCUST_ERROR = 2
"""an unhandled error in Locust or a plugin: Locust's own code for it; the gate keeps it when no SLO
failed."""

EXIT_TARGET_DOWN = 3
"""the target never became healthy: ``run``/``capacity`` waited for it in vain, or stopped waiting
where waiting cannot help (a name that does not resolve, a certificate that does not verify)."""

EXIT_PROBE_ERROR = 95
"""a probe ended without a verdict: one of ``capacity``'s Locust runs wrote no verdict (its log,
``PREFIX.log``, says why)."""

EXIT_CAPACITY_BELOW_MIN = 96
"""fails even at `--min-rate`: ``capacity`` found no passing rate (the SLO fails, or cannot be shown
to pass, at the lowest rate it may probe)."""

EXIT_CAPACITY_ABOVE_MAX = 97
"""meets the SLO at every rate probed: ``capacity``'s answer is a lower bound (the capacity is above
``--max-rate``, the budget ran out, or the load generator was the bottleneck above ``--min-rate``)."""

EXIT_INCONCLUSIVE = 98
"""no threshold failed with confidence, but one is INCONCLUSIVE: under ``--slo-inconclusive fail``;
also ``capacity`` when the load generator was the bottleneck already at ``--min-rate``. Not 0, 1, 2,
3 or 99, so that CI can tell "not enough evidence" from "violated"."""

EXIT_SLO_FAILED = 99
"""the SLO verdict failed: a threshold failed, an abort-on-fail threshold fired, a worker was lost...
(k6's code for failed thresholds)."""

SIGNAL_EXIT_BASE = 128
"""A job stopped by a signal exits ``SIGNAL_EXIT_BASE + signal``, as a shell reports it."""

EXIT_INTERRUPTED = SIGNAL_EXIT_BASE + signal.SIGINT
"""Ctrl+C: the job stopped everything it started, no verdict (130; also the front door's own Ctrl+C
before a job began)."""

EXIT_TERMINATED = SIGNAL_EXIT_BASE + signal.SIGTERM
"""SIGTERM: CI cancellation or ``timeout``, as Ctrl+C (143)."""

EXIT_HANGUP = SIGNAL_EXIT_BASE + signal.SIGHUP
"""SIGHUP: the terminal closed, as Ctrl+C (129)."""


def signal_exit_code(signum: int) -> int:
    """The exit code of a job stopped by ``signum``: :data:`EXIT_INTERRUPTED`, :data:`EXIT_TERMINATED`
    or :data:`EXIT_HANGUP` for the signals the jobs stop on."""
    return SIGNAL_EXIT_BASE + signum
