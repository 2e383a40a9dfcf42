"""k6-style load stages: the k6 ramp arithmetic and a Locust ``LoadTestShape`` that follows them.

The three Osiris k6 scripts ramp with ``stages`` (the ramping-VUs executor).  To stay a drop-in
replacement, every scenario here ramps the same way by default, and the stages can be overridden
with the same compact notation the k6 CLI uses, ``--stages 10s:5,30s:5,5s:0``.

The notation (parser and formatter) is the pure ``osiris_load.core.openmodel.stages``, shared with ``--rate-stages``
and re-exported here. The arithmetic (everything above ``StagesShape``) imports nothing from Locust on
purpose: importing ``locust`` monkey-patches the whole process with gevent, which a CLI, a report
generator or a pytest process must not suffer just to validate a ``--stages`` value.  The Locust
shape class is therefore created lazily, on first access to ``osiris_load.adapter.shape.StagesShape``
(PEP 562 module ``__getattr__``).
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from osiris_load.adapter.context import context_of
from osiris_load.core.openmodel.stages import (
    Stage,
    StagesError,
    format_duration,
    format_stages,
    parse_duration,
    parse_stages,
    split_stages,
    total_duration,
)

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from locust import LoadTestShape

__all__ = [
    "STAGES_ENV",
    "Stage",
    "StagesError",
    "parse_duration",
    "parse_stages",
    "split_stages",
    "format_stages",
    "total_duration",
    "target_at",
    "plan_tick",
    "common_options_given",
    "common_options_stages",
    "describe_plan",
    "stages_option",
    "steady_end_s",
    "StagesShape",  # noqa: F822  (created lazily by the module __getattr__ below)
]

logger = logging.getLogger("osiris.locustfiles.stages")

STAGES_ENV = "OSIRIS_STAGES"
"""The environment variable of ``--stages`` (Locust's parser reads it; so does ``osiris-load run``)."""


def stages_option(text: str, source: str) -> list[Stage]:
    """The stages a ``--stages`` value asks for; :class:`StagesError` naming ``source`` (the flag, the
    environment variable or the default it came from) and the bad part. The locustfiles' init and
    ``osiris-load run``'s preflight both call it: one rule, one message."""
    try:
        return parse_stages(text)
    except StagesError as exc:
        raise StagesError(f"bad {source} value {text!r}: {exc}") from None


def _toward_start(start: int, end: int, fraction: float) -> int:
    """``start + (end - start) * fraction``, truncated toward ``start``, as k6's ramping-VUs does.

    k6 adds the n-th extra VU of a ramp at ``n/|delta|`` of the stage (and removes them likewise),
    so the count only reaches the next integer once the ramp has fully got there.  The tiny
    epsilon keeps exact boundaries (``0.2 * 5 == 0.9999999``) on the right side.
    """
    delta = end - start
    steps = math.floor(abs(delta) * fraction + 1e-9)
    return start + steps if delta >= 0 else start - steps


def target_at(stages: list[Stage], elapsed_s: float) -> int | None:
    """Users the stages ask for ``elapsed_s`` seconds into the test; ``None`` once they are over.

    k6 semantics: the test starts at 0 users; each stage ramps linearly from the previous stage's
    target to its own over its duration; a zero-length stage jumps at once.
    """
    if elapsed_s < 0:
        elapsed_s = 0.0
    previous = 0
    stage_start = 0.0
    for stage in stages:
        stage_end = stage_start + stage.duration_s
        if elapsed_s < stage_end:
            fraction = (elapsed_s - stage_start) / stage.duration_s  # duration > 0 here
            return _toward_start(previous, stage.target, fraction)
        previous = stage.target
        stage_start = stage_end
    return None


def steady_end_s(stages: list[Stage]) -> float:
    """When the last stage with a non-zero target ends: the steady part a run may be held at."""
    end = elapsed = 0.0
    for stage in stages:
        elapsed += stage.duration_s
        if stage.target > 0:
            end = elapsed
    return end


def plan_tick(
    stages: list[Stage], elapsed_s: float, previous: tuple[int, float] | None = None
) -> tuple[int, float] | None:
    """What a shape's ``tick()`` should return: ``(users, spawn_rate)``, or ``None`` to end the test.

    The spawn rate is the size of the step (at least 1 user/s).  Locust's shape worker blocks in
    ``runner.start()`` until a step is fully spawned, and it ticks about once a second, so a rate
    of ``|delta|`` per second spreads the new users over the coming second (close to k6, which
    staggers VU starts evenly) and never lets a step lag into the next tick.  When the user count
    does not change, ``previous`` is returned unchanged: Locust only calls ``runner.start()`` when
    the tick differs from the last one, so this avoids a pointless re-dispatch (and a log line).
    """
    users = target_at(stages, elapsed_s)
    if users is None:
        return None
    previous_users = 0 if previous is None else previous[0]
    if previous is not None and users == previous_users:
        return previous
    return users, float(max(1, abs(users - previous_users)))


# --------------------------------------------------------------------------------------------------
# Locust's -u/-r/-t: explicit values win over a scenario's default stages (Locust's habit)
# --------------------------------------------------------------------------------------------------

_USERS_FLAGS = ("-u", "--users")
_RUN_TIME_FLAGS = ("-t", "--run-time")


def common_options_given(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``-u/--users`` or ``-t/--run-time`` is on the command line (or in ``LOCUST_USERS``/``LOCUST_RUN_TIME``).

    Looked up when the shape class is created, at import: Locust reads the shape's
    ``use_common_options`` before any event fires (to warn that -u/-t are ignored). Only explicit
    values switch it on, so the web UI keeps the stages unless the command line asked otherwise.
    """
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    for arg in argv:
        for flag in _USERS_FLAGS + _RUN_TIME_FLAGS:
            if arg == flag or arg.startswith(flag + "=") or (len(flag) == 2 and arg.startswith(flag) and len(arg) > 2):
                return True
    return any(environ.get(name, "").strip() for name in ("LOCUST_USERS", "LOCUST_RUN_TIME"))


def common_options_stages(num_users: int | None, spawn_rate: float | None, run_time: float | None,
                          default: list[Stage]) -> list[Stage]:
    """Locust's plan as stages: ramp to ``-u`` at ``-r`` users/s (Locust's default 1/s), then hold.

    Without ``-u`` the default stages' peak is held; without ``-t`` the hold is open-ended (Locust
    runs until stopped). Locust's own ``-t`` timer ends the test at ``run_time``.
    """
    users = num_users if num_users is not None else max(s.target for s in default)
    rate = spawn_rate if spawn_rate and spawn_rate > 0 else 1.0
    ramp_s = users / rate
    hold_s = max(0.0, run_time - ramp_s) if run_time else math.inf
    stages = [Stage(duration_s=ramp_s, target=users)] if ramp_s > 0 else []
    if hold_s > 0 or not stages:
        stages.append(Stage(duration_s=hold_s, target=users))
    return stages


def describe_plan(num_users: int | None, spawn_rate: float | None, run_time: float | None, users: int) -> str:
    """The one log line that says which plan runs, in the flags the user typed."""
    given = " ".join(part for part in (
        f"-u {num_users}" if num_users is not None else "",
        f"-r {spawn_rate:g}" if spawn_rate else "",
        f"-t {format_duration(run_time)}" if run_time else "",
    ) if part)
    until = f"until {format_duration(run_time)}" if run_time else "until stopped"
    return (f"{given} given: they replace the scenario's default stages (ramp to {users} users at "
            f"{spawn_rate or 1:g}/s, hold {until}); use --stages for a k6-style ramp")


# --------------------------------------------------------------------------------------------------
# The Locust part: created on first use so that importing this module does not import Locust.
# --------------------------------------------------------------------------------------------------

_shape_class: type[LoadTestShape] | None = None


def _build_shape_class() -> type[LoadTestShape]:
    """Define ``StagesShape`` (needs Locust, hence deferred; see the module docstring)."""
    from locust import LoadTestShape

    from osiris_load.adapter.open_model import OpenModelError

    class StagesShape(LoadTestShape):
        """Follow k6-style stages: ``--stages``/``OSIRIS_STAGES`` when given, else ``default_stages``.

        Subclasses (one per locustfile) only set ``default_stages``.  The stages are read from
        ``runner.environment.parsed_options.stages`` when a run starts (``reset_time``), not at
        import, so a value typed into the web UI's "stages" field applies to the next run.
        """

        abstract = True
        default_stages: str = ""
        # Explicit -u/-t on the command line win over the default stages (see common_options_given).
        use_common_options = common_options_given()
        # -u/-r/-t as given, noted at init: headless Locust fills in its defaults (1 user, 1/s) later.
        given_options: tuple[int | None, float | None, float | None] | None = None

        def __init__(self) -> None:
            super().__init__()
            self._stages: list[Stage] | None = None
            self._last_tick: tuple[int, float] | None = None
            self._held_s = 0.0  # time the steady part was extended (``hold_steady``)

        def reset_time(self) -> None:
            """Locust calls this when a shape run starts: restart the clock and re-read the stages."""
            super().reset_time()
            self._stages = None
            self._last_tick = None
            self._held_s = 0.0

        def configured_stages_text(self) -> str:
            """The stages text in force: the option's value if set (CLI, env, web UI), else the default."""
            value: Any = None
            runner = self.runner
            options = runner.environment.parsed_options if runner is not None else None
            if options is not None:
                value = getattr(options, "stages", None)
            if isinstance(value, str) and value.strip():
                return value
            return self.default_stages

        def common_options(self) -> tuple[int | None, float | None, float | None] | None:
            """``(-u, -r, -t)`` when they replace the default stages for this run, else None.

            They do when the command line gave ``-u`` or ``-t`` (``use_common_options``) and no
            ``--stages`` other than the scenario's own was asked for (``--stages`` wins).
            """
            if not self.use_common_options or self.configured_stages_text() != self.default_stages:
                return None
            if self.given_options is not None:
                users, rate, run_time = self.given_options
            else:  # the web UI's form (its values are what the user typed)
                options = self.runner.environment.parsed_options if self.runner is not None else None
                users = getattr(options, "num_users", None)
                rate = getattr(options, "spawn_rate", None)
                run_time = getattr(options, "run_time", None)
            if users is None and not run_time:
                return None
            return users, rate, run_time

        def stages(self) -> list[Stage]:
            """The stages for this run (parsed once per run; raises StagesError if invalid)."""
            if self._stages is None:
                open_run = context_of(self.runner.environment).open_model if self.runner is not None else None
                if open_run is not None:
                    open_run.refresh()  # a run starts: the web UI's form may have set (or cleared) a rate
                    if open_run.active:  # the open model: --max-vus users throughout
                        self._stages = open_run.user_stages()
                        return self._stages
                common = self.common_options()
                if common is not None:
                    self._stages = common_options_stages(*common, parse_stages(self.default_stages))
                    logger.info("%s: %s", type(self).__name__,
                                describe_plan(*common, users=self._stages[-1].target))
                else:
                    self._stages = parse_stages(self.configured_stages_text())
                    logger.info(
                        "%s: stages %s (%.1fs)",
                        type(self).__name__,
                        format_stages(self._stages),
                        total_duration(self._stages),
                    )
            return self._stages

        def planned_duration(self) -> float | None:
            """Seconds the plan lasts (None when open-ended: -u without -t), for progress lines."""
            total = total_duration(self.stages())
            return total if math.isfinite(total) else None

        def tick(self) -> tuple[int, float] | None:
            """Interpolated users for now (k6 ramp), or ``None`` after the last stage (ends the test)."""
            try:
                stages = self.stages()
            except (StagesError, OpenModelError) as exc:
                # Only reachable from the web UI (the CLI value is validated at init): stop cleanly.
                logger.error("%s: bad stages, stopping: %s", type(self).__name__, exc)
                return None
            elapsed = self.get_run_time() - self._held_s
            steady_end = steady_end_s(stages)
            if elapsed >= steady_end > 0 and self._hold_steady():
                self._held_s += elapsed - steady_end  # stay at the end of the last non-zero stage
                elapsed = steady_end - 1e-9
            self._last_tick = plan_tick(stages, elapsed, self._last_tick)
            return self._last_tick

        def _hold_steady(self) -> bool:
            """Whether a plugin asks to keep the steady part going (the SLO gate's
            ``--slo-until-settled``): the run context's ``hold_steady``."""
            hold = context_of(self.runner.environment).hold_steady if self.runner is not None else None
            return bool(hold()) if hold is not None else False

    return StagesShape


def __getattr__(name: str) -> Any:
    """PEP 562 hook: build ``StagesShape`` (importing Locust) only when someone asks for it."""
    global _shape_class
    if name == "StagesShape":
        if _shape_class is None:
            _shape_class = _build_shape_class()
        return _shape_class
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
