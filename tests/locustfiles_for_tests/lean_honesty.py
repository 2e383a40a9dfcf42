"""Test-only locustfile for ``tests/test_lean_http.py``: every checked request of ``OsirisUser``,
through the lean path (``HONESTY_LEAN=1``) or Locust's ``FastHttpSession`` (``HONESTY_LEAN=0``).

Bounded by count, not time: each of the run's users does ``HONESTY_ITERATIONS`` iterations, then
stops; the last one to finish ends the run (``runner.quit()``, as ``-t`` does), so both paths send
exactly the same requests and Locust writes its statistics and the gate its verdict as usual.
"""

from __future__ import annotations

import os

import gevent
from locust import constant, task
from locust.exception import StopUser

from osiris_load.adapter.users import OsirisUser

ITERATIONS = int(os.environ.get("HONESTY_ITERATIONS", "10"))
USERS = int(os.environ.get("HONESTY_USERS", "1"))  # the -u of the run
PROPOSAL_BODY = b'{"prompt":"p","max_length":64}'
_finished: list[int] = [0]


class Honesty(OsirisUser):
    lean_http = os.environ.get("HONESTY_LEAN") == "1"
    wait_time = constant(0)

    def on_start(self) -> None:
        super().on_start()
        self.done = 0

    @task
    def every_request(self) -> None:
        if self.done >= ITERATIONS:
            _finished[0] += 1
            if _finished[0] == USERS:
                gevent.spawn(self.environment.runner.quit)
            raise StopUser
        self.get_health()
        self.get_metrics()
        self.post_generate()
        self.post_proposal(PROPOSAL_BODY)
        self.done += 1
