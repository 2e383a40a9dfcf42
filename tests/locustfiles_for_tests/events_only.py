"""Test-only locustfile: no network. Users fire Locust's ``request`` event as ``$GATE_SCRIPT`` (JSON) says,
so a test controls every response time exactly. Every loop is bounded.

``{"samples": [[method, name, ms | null | "nan", failed], ...]}``: each user fires these once, then idles;
``{"loop": {"method", "name", "ms", "every_s", "max", "sleep_first", "fail_every"}}``: each user fires up to
``max`` requests, one every ``every_s`` s, every ``fail_every``-th failed; with ``sleep_first`` the request
"takes" ``ms`` (the user sleeps that long first, so it is in flight at a stop); ``{"raise": true}``: each
user's task raises once (a locustfile bug);
``{"slo_rows": [...]}``: the rows the user declares; ``{"failing_quitting": true}``: another plugin's ``quitting``
listener raises; ``{"count_dir": path}``: each process writes how many request events it fired to
``path/fired.<pid>`` as it exits (Locust's ``quit``), the truth a verdict's judged count is held to;
``{"slow_start_s": S}``: importing this file blocks S seconds without running gevent's loop
(as imports on a busy machine do).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import gevent
import gevent.monkey
from locust import User, constant, events, task

import slo_locust  # noqa: F401  (registers the SLO gate)

SCRIPT: dict[str, Any] = json.loads(os.environ.get("GATE_SCRIPT", "{}"))

if SCRIPT.get("slow_start_s"):
    gevent.monkey.get_original("time", "sleep")(float(SCRIPT["slow_start_s"]))  # the loop's clock stands still


if SCRIPT.get("count_dir"):
    _fired = [0]

    @events.request.add_listener
    def _count(**_: Any) -> None:
        _fired[0] += 1

    @events.quit.add_listener
    def _write_count(**_: Any) -> None:
        (Path(SCRIPT["count_dir"]) / f"fired.{os.getpid()}").write_text(str(_fired[0]))


if SCRIPT.get("failing_quitting"):

    @events.quitting.add_listener
    def _another_plugin_fails(**_: Any) -> None:
        raise RuntimeError("another plugin's quitting listener failed")


def _ms(value: Any) -> float | None:
    return float("nan") if value == "nan" else value


class EventsOnly(User):
    wait_time = constant(0)
    if "slo_rows" in SCRIPT:
        slo_rows = tuple(SCRIPT["slo_rows"])

    def on_start(self) -> None:
        self.raised = False

    @task
    def fire(self) -> None:
        fire = self.environment.events.request.fire
        if SCRIPT.get("raise") and not self.raised:
            self.raised = True
            raise ZeroDivisionError("a bug in the locustfile")
        for method, name, ms, failed in SCRIPT.get("samples", ()):
            fire(request_type=method, name=name, response_time=_ms(ms), response_length=0,
                 exception=RuntimeError("failed") if failed else None, context={})
        loop = SCRIPT.get("loop")
        if loop:
            fail_every = int(loop.get("fail_every", 0))
            for i in range(int(loop.get("max", 1000))):
                if loop.get("sleep_first"):
                    gevent.sleep(loop["ms"] / 1000)
                failed = fail_every and i % fail_every == 0
                fire(request_type=loop.get("method", "GET"), name=loop.get("name", "/health"),
                     response_time=loop["ms"], response_length=0, exception=RuntimeError("failed") if failed else None,
                     context={})
                gevent.sleep(loop.get("every_s", 0.01))
        while True:  # idle until the run ends (bounded by -t)
            gevent.sleep(0.5)
