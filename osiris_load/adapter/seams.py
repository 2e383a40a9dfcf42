"""The two places where the Osiris adapter wraps a method of Locust's master runner, because Locust
has no public hook for the moment it needs. Everything else goes through Locust's events and public
methods; this module is the only one allowed to assign to a runner (``tests/test_architecture.py``).

* ``MasterRunner.quit()`` (Locust 2.x ``runners.py``) stops, sends ``quit`` to the workers, sleeps
  0.5 s and kills the runner's greenlets, among them the one that receives the workers' messages.
  No event fires between the call and the kill (``test_stopping`` only when a test is running, and
  also on a plain stop from the web UI, after which the workers must stay), and ``quitting`` fires
  only after the kill; yet Locust calls ``quit()`` itself (the ``-t`` timer, the last worker leaving,
  a shape's end, ``StopTest``). The gate must collect every worker's final report before that kill:
  :func:`run_before_master_quit`.
* ``MasterRunner.start()`` sends the spawn message with ``parsed_options`` to the workers; it is
  called for each start and for each rebalancing when a worker joins, and fires ``test_start`` only
  on the first. The open model must put its split of the rate among the current workers into those
  options before each one: :func:`run_before_master_start`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from locust.runners import MasterRunner


def run_before_master_quit(runner: MasterRunner, before: Callable[[Callable[[], None]], None]) -> None:
    """``runner.quit()`` calls ``before(quit)`` instead, which calls Locust's ``quit`` when it is done."""
    original = runner.quit

    def quit_after() -> None:
        before(original)

    runner.quit = quit_after  # type: ignore[method-assign]  # see the module's docstring


def run_before_master_start(runner: MasterRunner, before: Callable[[], None]) -> None:
    """``runner.start(...)`` calls ``before()`` first, then Locust's ``start``."""
    original = runner.start

    def start_after(*args: Any, **kwargs: Any) -> Any:
        before()
        return original(*args, **kwargs)

    runner.start = start_after  # type: ignore[method-assign]  # see the module's docstring
