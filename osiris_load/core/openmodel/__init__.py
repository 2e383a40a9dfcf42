"""The open model: scenario iterations started at a given arrival rate, whatever the target does.

Pure (no Locust import): the rate plans (``--arrival-rate``, ``--rate-stages``), the due-time
schedules (poisson or constant arrivals, split among workers) and the accounting of due, started,
late and dropped iterations and of goodput (``schedule``, ``counts``); the k6
stages notation that ``--rate-stages`` shares with the closed model's ``--stages``
(``osiris_load.core.openmodel.stages``). The
Locust part, which runs due iterations on a pool of users, is ``osiris_load.adapter.open_model``; the SLO
gate (``osiris_load.adapter.gate``) records the corrected times. See docs/open-model.md.
"""

from __future__ import annotations

from osiris_load.core.openmodel.counts import (
    ITERATION_KEY,
    LATE_TOLERANCE_S,
    ArrivalCounts,
    CountsByWorker,
    GoodputPlan,
    IssuedSpan,
    Iteration,
)
from osiris_load.core.openmodel.schedule import (
    ARRIVALS,
    ArrivalSchedule,
    RatePlan,
    RateStage,
    RateStagesError,
    class_shares,
    default_max_vus,
    format_rate_stages,
    parse_arrival_rate,
    parse_rate_stages,
    worker_share,
)

__all__ = [
    "ARRIVALS",
    "ITERATION_KEY",
    "LATE_TOLERANCE_S",
    "ArrivalCounts",
    "ArrivalSchedule",
    "CountsByWorker",
    "GoodputPlan",
    "IssuedSpan",
    "Iteration",
    "RatePlan",
    "RateStage",
    "RateStagesError",
    "class_shares",
    "default_max_vus",
    "format_rate_stages",
    "parse_arrival_rate",
    "parse_rate_stages",
    "worker_share",
]
