"""Locust users of ``osiris-load bench generator_cost``: the project's ``ReadHeavyUser`` without its think time.

Importing it registers the SLO gate (through ``osiris_load.adapter.users``), as a real run does; the run
writes Locust's statistics with ``--csv`` like any other. ``BENCH_THINK_S`` (seconds, default 0)
gives the think time back for the loop-lag and memory steps.
"""

from __future__ import annotations

import os

from locust import constant

from locustfiles.read_heavy import ReadHeavyUser

THINK_S = float(os.environ.get("BENCH_THINK_S", "0"))


class ReadHeavyLean(ReadHeavyUser):
    """The project's read-heavy user as it runs now (the lean HTTP path)."""

    wait_time = constant(THINK_S)


class ReadHeavyLocustHttp(ReadHeavyUser):
    """The same user with its requests through Locust's FastHttpSession (the path before issue 21)."""

    lean_http = False
    wait_time = constant(THINK_S)


if os.environ.get("BENCH_PROFILE"):  # osiris-load bench generator_profile: profile the load only, not the start-up
    import cProfile

    from locust import events

    _profiler = cProfile.Profile()

    @events.test_start.add_listener
    def _profile_start(**_: object) -> None:
        _profiler.enable()

    @events.test_stop.add_listener
    def _profile_stop(**_: object) -> None:
        _profiler.disable()
        _profiler.dump_stats(os.environ["BENCH_PROFILE"])
