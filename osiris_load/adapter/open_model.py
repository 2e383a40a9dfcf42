"""The open model in Locust: due iterations handed to a pool of up to ``--max-vus`` users.

The pure part (plans, schedules, counts) is the ``openmodel`` package; this is the thin Locust
part. With ``--arrival-rate`` or ``--rate-stages``:

* Locust runs ``--max-vus`` users (the stages shape holds them for the run; without the shape,
  ``-u``/``-r`` are set to them), split among workers and user classes as Locust splits users;
* in each process that runs users (local runner or worker), one dispatcher greenlet per user class
  sleeps until each absolute due time of its schedule (monotonic clock: no drift) and puts the due
  time in the class's queue; a free user takes it and runs one iteration of the scenario's own
  ``@task`` (``OsirisUser.on_start`` and ``wait_time`` take the next due iteration instead of
  sleeping 1 s: the scenario files stay the source of the iteration body);
* the iteration's lateness (start - due) is on the user's request ``context``; the SLO gate adds
  it to each request's latency (``osiris_load.adapter.gate``) and counts goodput;
* the master splits the rate: before each spawn it names the workers in the options it sends
  (:data:`SPLIT_OPTION`), and each worker runs ``1/N`` of the plan at its own phase;
* from the web UI, the options are fields of the start form (with the stages shape on): a start
  whose fields do not make a plan is refused with the reason (:func:`attach_start_form`), and each
  run takes up the fields it was started with (:meth:`OpenModelRun.refresh`, called by the shape
  when a run starts): an arrival rate makes it open, an empty one closed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import gevent
from gevent.queue import Queue
from locust.runners import MasterRunner, WorkerRunner
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_WAITING

from osiris_load.adapter import seams
from osiris_load.adapter.context import context_of
from osiris_load.core.openmodel.config import OPTION_NAMES, OpenModelConfig, OpenModelError, check_stages, configure
from osiris_load.core.openmodel.counts import ITERATION_KEY, LATE_TOLERANCE_S, ArrivalCounts, IssuedSpan, Iteration
from osiris_load.core.openmodel.schedule import ArrivalSchedule, class_shares, worker_share
from osiris_load.core.openmodel.stages import Stage

__all__ = ["OPTION_NAMES", "OpenModelConfig", "OpenModelError", "OpenModelRun", "SPLIT_OPTION", "attach_start_form",
           "check_stages", "configure", "describe", "install", "new_iteration_context", "start_form_refusal"]

SPLIT_OPTION = "osiris_open_split"
"""On ``parsed_options``: the worker ids the master split the rate among (sent with each spawn)."""
BACKLOG_S = 10.0
"""Due iterations wait for a free user up to this many seconds' worth of the pool's rate (at least one
per user); one due beyond that is dropped (k6 drops at once; a backlog keeps a short stall's
iterations, which start late and show it in their corrected times)."""
SPAWN_RATE_PER_USER = 1.0  # the shape spawns all --max-vus users within about a second
_IDLE_POLL_S = 0.25  # a worker without a share yet looks for one this often

log = logging.getLogger("osiris.open_model")


def _option_key(options: Any) -> tuple[str, ...]:
    """What an open-model configuration is made of: its options and ``-t``, as texts."""
    return tuple(str(getattr(options, name, None) or "").strip() for name in (*OPTION_NAMES, "run_time"))


def describe(config: OpenModelConfig) -> str:
    """The one log line that says which open-model plan runs."""
    rate = f"rate stages {config.plan.text}" if config.rate_stages else f"arrival rate {config.plan.text}"
    until = f"for {config.duration_s:g} s" if config.duration_s else "until stopped"
    return (f"open model: {rate}, {config.arrivals} arrivals, up to {config.max_vus} users (--max-vus), {until}; "
            "latencies are corrected for late starts")


class _Pool:
    """One user class's due iterations waiting for a free user, its users in this process, and how
    far its dispatcher issued its schedule (the window: ``osiris_load.core.openmodel.counts.IssuedSpan``)."""

    __slots__ = ("queue", "users", "backlog", "span")

    def __init__(self) -> None:
        self.queue: Queue = Queue()
        self.users = 0
        self.backlog = 1  # the most due iterations that may wait: see BACKLOG_S
        self.span = IssuedSpan()


class OpenModelRun:
    """The open model of one Locust process: configuration, counts, pools and dispatchers.

    Lives in the run's context (``osiris_load.adapter.context``, ``open_model``). The master only
    holds the configuration (its counts arrive from the workers, through the SLO gate)."""

    def __init__(self, environment: Any, config: OpenModelConfig | None = None) -> None:
        self.environment = environment
        self.config = config
        self.counts = ArrivalCounts()
        self._pools: dict[str, _Pool] = {}
        self._dispatchers: list[gevent.Greenlet] = []
        self._started_at: float | None = None
        self._stopped_at: float | None = None
        self._key: tuple[str, ...] | None = None  # the options ``config`` was made from (``refresh``)
        self.given_run_time: float | None = None  # -t as given at init (``install`` takes it off the options)

    @property
    def active(self) -> bool:
        """Whether this run is open-model (the options asked for an arrival rate)."""
        return self.config is not None

    def refresh(self) -> None:
        """A run starts on a local runner or the master (the stages shape calls this before its first
        tick): take up the open-model options as they are now. The web UI's start form writes its
        fields onto the options, so a start with an arrival rate is open, one with an empty rate
        closed; unchanged options keep the configuration (the command line's). ``-t`` falls back to
        the one given at init. Raises :class:`OpenModelError` (the form refused it already)."""
        options = self.environment.parsed_options
        if options is None or _option_key(options) == self._key:
            return
        run_time = getattr(options, "run_time", None) or self.given_run_time
        self.config = configure(SimpleNamespace(**{**vars(options), "run_time": run_time}))
        self._key = _option_key(options)
        log.info(describe(self.config) if self.config is not None else "closed model: no arrival rate")

    def target_rate(self, window_s: float) -> float:
        """The plan's mean rate over ``window_s`` (the verdict's ``target_rate``)."""
        assert self.config is not None
        return self.config.plan.mean_rate(window_s)

    # -- the users' side (OsirisUser calls these) --
    def pool(self, user: Any) -> _Pool:
        name = type(user).__name__
        pool = self._pools.get(name)
        if pool is None:
            pool = self._pools[name] = _Pool()
        return pool

    def join(self, user: Any) -> None:
        """A user of the pool starts: it waits for its first due iteration (as WAITING, so a stop kills it)."""
        self.pool(user).users += 1
        user._osiris_joined = True
        state = user._state
        user._state = LOCUST_STATE_WAITING
        self.take(user)
        user._state = state if state is not None else LOCUST_STATE_RUNNING

    def leave(self, user: Any) -> None:
        if getattr(user, "_osiris_joined", False):
            user._osiris_joined = False
            self.pool(user).users -= 1

    def take(self, user: Any) -> None:
        """Block until a due iteration is free for ``user``; note its lateness on the user's iteration."""
        due = self.pool(user).queue.get()
        lateness = time.monotonic() - due
        if lateness < 0.0:
            lateness = 0.0
        counts = self.counts
        counts.started += 1
        if lateness > LATE_TOLERANCE_S:
            counts.late += 1
        iteration: Iteration = user._osiris_iteration
        iteration.lateness_ms = lateness * 1000.0
        iteration.good = True

    def done(self, user: Any) -> None:
        """The user's iteration ended (its task returned or raised): count it, and whether it was good."""
        counts = self.counts
        counts.iterations += 1
        if user._osiris_iteration.good:
            counts.good += 1

    # -- the dispatchers --
    def start(self, user_classes: list[type]) -> None:
        """Start dispatching (``spawning_complete``: the users are there); later calls re-split only."""
        if self._dispatchers:
            return
        self.counts = ArrivalCounts()
        self._started_at = time.monotonic()
        self._stopped_at = None
        shares = class_shares({cls.__name__: getattr(cls, "weight", 1) for cls in user_classes})
        for pool in self._pools.values():
            pool.span = IssuedSpan(0.0)  # a class this run does not dispatch covers nothing
        for index, (name, share) in enumerate(sorted(shares.items())):
            pool = self._pools.setdefault(name, _Pool())
            pool.span = IssuedSpan(share)
            seed = None if self.config is None or self.config.seed is None else self.config.seed * 1_000_003 + index
            self._dispatchers.append(gevent.spawn(self._dispatch, pool, share, seed))

    def _my_share(self) -> tuple[float, float] | None:
        runner = self.environment.runner
        if not isinstance(runner, WorkerRunner):
            return 1.0, 1.0
        split = getattr(self.environment.parsed_options, SPLIT_OPTION, None)
        if not split:
            return 1.0, 1.0
        return worker_share(list(split), runner.client_id)

    def _dispatch(self, pool: _Pool, class_share: float, seed: int | None) -> None:
        """Put each due time of this class's schedule in its queue, at that absolute time, and note
        on ``pool.span`` how far the schedule was issued (the window: see ``IssuedSpan``)."""
        options = self.environment.parsed_options
        start = self._started_at
        assert start is not None and self.config is not None
        span, monotonic, sleep = pool.span, time.monotonic, gevent.sleep
        split = getattr(options, SPLIT_OPTION, None)
        mine = self._my_share()
        waited = mine is None
        while mine is None:  # a worker the master has not split the rate to (yet): share 0 meanwhile
            sleep(_IDLE_POLL_S)
            split, mine = getattr(options, SPLIT_OPTION, None), self._my_share()
        if seed is not None:
            seed += int(mine[1] * 1_000)  # each worker its own stream
        schedule = ArrivalSchedule(self.config.plan, self.config.arrivals, share=mine[0] * class_share,
                                   phase=mine[1], seed=seed)
        origin = 0.0
        if waited:  # the schedule starts where the share does, not with a burst of what was due before
            origin = monotonic() - start
            schedule.reshare(mine[0] * class_share, origin)
        span.share_from(origin, mine[0])
        end = self.planned_end_s
        pool.backlog = math.ceil(self.config.plan.peak_rate * mine[0] * class_share * BACKLOG_S)
        counts, queue = self.counts, pool.queue
        due = span.pending_s = schedule.next_due()
        while due is not None and (end is None or due <= end):
            current = getattr(options, SPLIT_OPTION, None)
            if current is not split:  # the master re-split the rate (workers came or went)
                split, mine = current, self._my_share()
                if mine is None:  # left out of the split (the master gives it no users): idle, count nothing
                    span.share_from(min(monotonic() - start, due), 0.0)
                    while mine is None:
                        sleep(_IDLE_POLL_S)
                        split, mine = getattr(options, SPLIT_OPTION, None), self._my_share()
                    at_s = monotonic() - start  # back: the schedule resumes from now
                else:
                    at_s = min(monotonic() - start, due)  # from where the schedule was issued: no gap
                span.share_from(at_s, mine[0])
                pool.backlog = math.ceil(self.config.plan.peak_rate * mine[0] * class_share * BACKLOG_S)
                due = span.pending_s = schedule.reshare(mine[0] * class_share, at_s)
                if due is None:
                    break
            at = start + due
            delay = at - monotonic()
            if delay > 0:
                sleep(delay)
            if self._stopped_at is not None:  # woken after the stop (a busy host): not issued
                return
            late = monotonic() - at  # the generator's own lateness: it waits for nothing else
            if late > counts.dispatch_late_max_s:
                counts.dispatch_late_max_s = late
            counts.due += 1
            if queue.qsize() >= max(pool.users, pool.backlog, 1):
                counts.dropped += 1  # every user busy and the backlog full
            else:
                queue.put_nowait(at)
                if delay <= 0:
                    sleep(0)  # catching up: let a user take it
            due = schedule.next_due()
            span.pending_s = math.inf if due is None else due

    def stop(self) -> None:
        """``test_stopping``: stop dispatching; iterations still waiting for a user are dropped.

        The window ends here (``IssuedSpan``: due times the dispatcher had not reached are not due).
        One ``sleep(0)`` first lets the users already handed an iteration (woken by the queue, not
        yet run: a busy host runs the stop in the same loop turn) take it: it started, it is not
        dropped. What still waits then had no free user."""
        if self._started_at is not None and self._stopped_at is None:
            self._stopped_at = time.monotonic()
        for greenlet in self._dispatchers:
            greenlet.kill(block=False)
        self._dispatchers = []
        if any(pool.queue.qsize() for pool in self._pools.values()):
            gevent.sleep(0)
        for pool in self._pools.values():
            waiting = pool.queue.qsize()
            if waiting:
                self.counts.dropped += waiting
                while not pool.queue.empty():
                    pool.queue.get_nowait()

    def _spans(self) -> list[tuple[IssuedSpan, float]]:
        """Each dispatcher's span and how far it is issued now (schedule seconds from the origin)."""
        assert self._started_at is not None
        now_s = (self._stopped_at if self._stopped_at is not None else time.monotonic()) - self._started_at
        end = self.planned_end_s
        return [(pool.span, pool.span.covered(now_s, end)) for pool in self._pools.values()]

    @property
    def share_s(self) -> float:
        """This process's share of the plan integrated over the span its dispatchers issued (each
        class weighted by its share of the process's rate): the window itself when alone."""
        if self._started_at is None:
            return 0.0
        return sum(span.weight * span.share_s(covered) for span, covered in self._spans())

    @property
    def window_s(self) -> float:
        """The span of the schedules this process issued (each class weighted by its share of the
        process's rate; see ``IssuedSpan``)."""
        if self._started_at is None:
            return 0.0
        return sum(span.weight * covered for span, covered in self._spans())

    @property
    def planned_end_s(self) -> float | None:
        """When dispatching ends, from its start: the run's duration (``-t`` or the rate stages), or
        None (until the run stops: no duration, or ``--slo-until-settled`` may hold the run longer)."""
        config = self.config
        if config is None or not config.duration_s:
            return None
        if str(getattr(self.environment.parsed_options, "slo_until_settled", "") or "").strip():
            return None
        return config.duration_s

    def snapshot(self) -> ArrivalCounts:
        """The counts so far, with the window."""
        self.counts.window_s, self.counts.share_s = self.window_s, self.share_s
        return ArrivalCounts(**self.counts.to_data())

    def report(self) -> dict[str, Any]:
        """A worker's report: the counts since the last one (the window is the whole run so far)."""
        self.counts.window_s, self.counts.share_s = self.window_s, self.share_s
        return self.counts.drain().to_data()

    # -- the run's users and duration --
    def user_stages(self) -> list[Stage]:
        """What the stages shape runs: ``--max-vus`` users for the duration (open-ended without one)."""
        assert self.config is not None
        duration = self.config.duration_s
        users = self.config.max_vus
        return [Stage(duration_s=0.0, target=users), Stage(duration_s=duration if duration else math.inf, target=users)]


def new_iteration_context() -> tuple[Iteration, dict[str, Any]]:
    """A user's iteration and the ``context()`` dict that carries it to request events."""
    iteration = Iteration()
    return iteration, {ITERATION_KEY: iteration}


def install(environment: Any, config: OpenModelConfig | None) -> OpenModelRun:
    """Attach the open model to an environment at init (every process; ``config`` None: closed model
    unless a worker's spawn message brings open-model options).

    Local runner or master: ``config`` sets the users (``--max-vus``) and, on the master, the split of
    the rate among workers. Workers learn the options from the master's spawn message, so they
    configure at ``test_start``; local runners and workers dispatch from ``spawning_complete`` to
    ``test_stopping``."""
    run = OpenModelRun(environment, config)
    context_of(environment).open_model = run
    options = environment.parsed_options
    runner = environment.runner
    events = environment.events
    if options is not None:
        run.given_run_time = getattr(options, "run_time", None) or None
    if config is not None and options is not None:
        options.num_users = config.max_vus
        options.spawn_rate = max(1.0, config.max_vus * SPAWN_RATE_PER_USER)
        if not config.rate_stages and config.duration_s and environment.shape_class is not None:
            options.run_time = None  # the shape ends the run after -t (and can hold it: --slo-until-settled)
        if config.rate_stages and environment.shape_class is None:
            options.run_time = config.duration_s  # without the shape, Locust's -t timer ends the stages
        log.info(describe(config))
    if options is not None:
        run._key = _option_key(options)
    if isinstance(runner, MasterRunner):
        def split_among_workers() -> None:
            ids = sorted(node.id for node in runner.clients.all if node.state != "missing")
            if run.active and list(getattr(options, SPLIT_OPTION, None) or []) != ids:
                setattr(options, SPLIT_OPTION, ids)  # a new list: workers see a new split

        seams.run_before_master_start(runner, split_among_workers)  # (a web UI run may go open later)
        return run

    def on_test_start(**_: Any) -> None:
        if isinstance(runner, WorkerRunner):  # the master's options arrived with the spawn message
            try:
                run.config = configure(environment.parsed_options)
            except OpenModelError as exc:
                log.error("open model off on this worker: %s", exc)
                run.config = None

    def on_spawning_complete(**_: Any) -> None:
        if run.active:
            run.start(list(runner.user_classes))

    def on_test_stopping(**_: Any) -> None:
        run.stop()

    def on_user_error(user_instance: Any, **_: Any) -> None:
        user = getattr(user_instance, "user", user_instance)
        iteration = getattr(user, "_osiris_iteration", None)
        if iteration is not None:
            iteration.good = False

    events.test_start.add_listener(on_test_start)
    events.spawning_complete.add_listener(on_spawning_complete)
    events.test_stopping.add_listener(on_test_stopping)
    events.user_error.add_listener(on_user_error)
    return run


def start_form_refusal(environment: Any, form: Mapping[str, str], default_stages: str | None) -> str | None:
    """Why a start from the web UI's form must be refused (its open-model fields make no plan, or
    ramp users beside a rate), as the command line exits 2; ``None`` to let it start."""
    options = environment.parsed_options
    values = dict(vars(options)) if options is not None else {}
    values.update({name: form[name] for name in (*OPTION_NAMES, "stages") if name in form})
    if str(form.get("run_time", "") or "").strip():
        from locust.util.timespan import parse_timespan

        try:
            values["run_time"] = parse_timespan(str(form["run_time"]))
        except ValueError:
            return None  # Locust's own form check says what is wrong with it
    else:
        run = context_of(environment).open_model
        values["run_time"] = values.get("run_time") or (run.given_run_time if run is not None else None)
    try:
        config = configure(SimpleNamespace(**values))
        check_stages(config, values.get("stages"), default_stages)
    except OpenModelError as exc:
        return f"Open model: {exc}"
    return None


def attach_start_form(environment: Any, web_ui: Any, default_stages: Callable[[], str | None]) -> None:
    """Refuse a start from the web UI's form whose open-model fields make no plan, with the reason in
    the form (``default_stages``: what the form's ``stages`` field shows, not a ramp of users)."""
    from flask import jsonify, request

    @web_ui.app.before_request
    def refuse_a_bad_open_model() -> Any:
        if request.endpoint != "locust.swarm" or request.method != "POST":
            return None
        why = start_form_refusal(environment, request.form, default_stages())
        if why is None:
            return None
        return jsonify({"success": False, "message": why, "host": environment.host})
