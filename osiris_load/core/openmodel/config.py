"""Which open-model run the options ask for (pure: no Locust, no gevent).

``--arrival-rate``/``--rate-stages``/``--arrivals``/``--max-vus``/``--arrival-seed`` (or their
``OSIRIS_*`` environment variables, :data:`OPTION_ENV`) become one :class:`OpenModelConfig`, or an
:class:`OpenModelError` saying which option is wrong. The one copy of these rules: the locustfiles
apply it at Locust's init and in the web UI's start form (``osiris_load.adapter.open_model``), and
``osiris-load run`` applies it to the environment its Locust runs inherit before it starts anything
(``osiris_load.jobs.preflight``), so neither can accept what the other refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from osiris_load.core.openmodel.schedule import (
    ARRIVALS,
    RatePlan,
    RateStagesError,
    default_max_vus,
    parse_arrival_rate,
    parse_rate_stages,
)

__all__ = ["OPTION_ENV", "OPTION_NAMES", "OpenModelConfig", "OpenModelError", "check_stages", "configure"]

OPTION_NAMES = ("arrival_rate", "rate_stages", "arrivals", "max_vus", "arrival_seed")
"""The open model's options on ``parsed_options`` (and fields of the web UI's start form)."""
OPTION_ENV = {name: f"OSIRIS_{name.upper()}" for name in OPTION_NAMES}
"""The environment variable of each option (``OSIRIS_ARRIVAL_RATE``...), as the Locust parser reads them."""


class OpenModelError(ValueError):
    """Open-model options that cannot be used together or understood; the message says which."""


@dataclass(frozen=True)
class OpenModelConfig:
    """What the options asked for: the plan, the arrivals, the users, the duration (None: until stopped)."""

    plan: RatePlan
    arrivals: str
    max_vus: int
    duration_s: float | None
    seed: int | None = None
    rate_stages: bool = False


def configure(options: Any) -> OpenModelConfig | None:
    """The open-model configuration the parsed options ask for, or None (a closed-model run).

    Raises :class:`OpenModelError` (the caller exits 2) when the options conflict: both
    ``--arrival-rate`` and ``--rate-stages``; ``--rate-stages`` with a different ``-t`` (the
    stages set the duration); ``--stages`` (users, the closed model) with either.
    """
    rate_text = str(getattr(options, "arrival_rate", None) or "").strip()
    stages_text = str(getattr(options, "rate_stages", None) or "").strip()
    # Checked with or without a rate: Locust's parser refuses a bad --arrivals (OSIRIS_ARRIVALS) either way
    arrivals = str(getattr(options, "arrivals", None) or ARRIVALS[0])
    if arrivals not in ARRIVALS:
        raise OpenModelError(f"--arrivals must be one of {', '.join(ARRIVALS)}, got {arrivals!r}")
    if not rate_text and not stages_text:
        return None
    if rate_text and stages_text:
        raise OpenModelError("--arrival-rate and --rate-stages both given: use one (a constant rate, or its ramps)")
    run_time = getattr(options, "run_time", None) or None
    try:
        if stages_text:
            plan = RatePlan.from_stages(parse_rate_stages(stages_text))
            duration: float | None = plan.duration_s
            if run_time and abs(float(run_time) - duration) > 1e-6:
                raise OpenModelError(f"--rate-stages {stages_text} last {duration:g} s and -t says {run_time} s: "
                                     "the rate stages set the duration; drop -t")
        else:
            plan = RatePlan.constant(parse_arrival_rate(rate_text))
            duration = float(run_time) if run_time else None
    except RateStagesError as exc:
        which = "--rate-stages" if stages_text else "--arrival-rate"
        raise OpenModelError(f"bad {which} value {stages_text or rate_text!r}: {exc}") from None
    max_vus_value = getattr(options, "max_vus", None)
    if max_vus_value in (None, ""):
        max_vus = default_max_vus(plan.peak_rate)
    else:
        try:
            max_vus = int(max_vus_value)
        except (TypeError, ValueError):
            raise OpenModelError(f"--max-vus must be a whole number of users >= 1, got {max_vus_value!r}") from None
        if max_vus < 1:
            raise OpenModelError(f"--max-vus must be a whole number of users >= 1, got {max_vus_value!r}")
    seed_value = getattr(options, "arrival_seed", None)
    try:
        seed = None if seed_value in (None, "") else int(seed_value)
    except (TypeError, ValueError):
        raise OpenModelError(f"--arrival-seed must be a whole number, got {seed_value!r}") from None
    return OpenModelConfig(plan=plan, arrivals=arrivals, max_vus=max_vus, duration_s=duration, seed=seed,
                           rate_stages=bool(stages_text))


def check_stages(config: OpenModelConfig | None, stages_value: Any, default_stages: str | None) -> None:
    """Refuse ``--stages`` (users: the closed model) beside an open-model plan, unless it is the
    scenario's own default (what the web UI's form shows in its ``stages`` field)."""
    if config is not None and stages_value and stages_value != default_stages:
        raise OpenModelError(f"--stages {stages_value} ramps users (the closed model); with --arrival-rate or "
                             "--rate-stages the users are --max-vus: ramp the rate with --rate-stages instead")
