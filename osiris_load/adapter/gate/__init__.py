"""The SLO gate as a Locust plugin: a thin adapter between Locust's events and the pure gate
(``osiris_load.core.slo``). Importing this package (or ``slo_locust``, kept for old locustfiles)
registers it, once per process: its options (``options``), its ``init`` listener (:func:`on_init`)
and the ``quitting`` listener that settles the exit code last.

The gate is split by role, as Locust's ``runners.py`` is (one class per kind of process, chosen
once at ``init``):

* ``core``: :class:`Gate`, the gate on one Environment: the table, the one reset, the verdict;
* ``recording``: the recorders and, where users run, the per-request listener (the hot path),
  iterations and the generator's self-monitor;
* ``roles`` and ``distributed``: a local runner; a worker's reports; the master's merge, lost
  workers and final results;
* ``live``: the periodic evaluation (progress lines, web UI, abort-on-fail, sequential looks);
* ``hold``: ``--slo-until-settled``;
* ``output``: the CSVs, the verdict JSON, the console summary and the exit code.

What the gate shares with the other Osiris parts of a run (the open model, the stages shape, the
users, the web UI, the progress lines) is declared in ``osiris_load.adapter.context``.
"""

from __future__ import annotations

import sys
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import Runner

from osiris_load.adapter.context import context_of
from osiris_load.adapter.gate.core import Gate, role_for
from osiris_load.adapter.gate.options import add_arguments
from osiris_load.adapter.selection import check_gate_options, load_gate_table, option
from osiris_load.adapter.webui import attach as attach_web_ui
from osiris_load.core.exit_codes import EXIT_BAD_INPUT
from osiris_load.core.slo.confidence import load_quantiles
from osiris_load.core.slo.table import SloFileError

__all__ = ["Gate", "on_init", "settle_exit_code"]

events.init_command_line_parser.add_listener(add_arguments)


@events.init.add_listener
def on_init(environment: Environment, runner: Runner | None = None, web_ui: Any = None, **_: Any) -> None:
    """Attach the gate: record where users run, judge where the verdict is made."""
    role = role_for(runner or environment.runner)
    table, left_out = None, ()
    if role.judges:
        load_quantiles()  # this process judges: scipy now, not in the middle of the run
        try:
            table, left_out = load_gate_table(environment)
            check_gate_options(lambda name: option(environment, name))
            for line in (*table.warnings, *(f"{table.source}: {n}" for n in table.notes)):
                sys.stderr.write(f"SLO gate: warning: {line}\n")
        except SloFileError as exc:
            sys.stderr.write(f"SLO gate: {exc}\n")
            sys.stderr.flush()
            raise SystemExit(EXIT_BAD_INPUT) from None
    gate = Gate(environment, table, left_out, role=role)
    context = context_of(environment)
    context.gate = gate
    context.hold_steady = gate.hold  # the stages shape asks
    if environment.events is not events:  # an Environment with its own Events (embedded): settle there too,
        environment.events.quitting.add_listener(settle_exit_code)  # after the gate's judging listener
    if web_ui is not None:  # first: its test_start listener reloads the table before the gate resets
        attach_web_ui(environment, web_ui)
    gate.attach(environment.events)
    # Locust's -t timer (gevent.spawn_later, set right after init) counts from the event loop's cached clock,
    # last read when the loop last ran: before the imports. On a busy machine those take seconds, and -t 2s
    # would end the run before its first user ran. Read the clock now.
    gevent.get_hub().loop.update_now()


@events.quitting.add_listener
def settle_exit_code(environment: Environment, **_: Any) -> None:
    """The exit code and the files, after every other ``quitting`` listener that was added after this
    one (Locust fires ``quitting`` in reverse): registered when the gate is first imported, so before
    the locustfile's own listeners, the runner's, every ``init`` listener's and the gate's judging one."""
    gate = context_of(environment).gate
    if gate is not None:
        gate.settle_exit_code()
