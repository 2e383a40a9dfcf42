"""Hold-steady: ``--slo-until-settled DURATION`` keeps the stages shape's last non-zero stage going
until every threshold is settled (at a live look, ``osiris_load.adapter.gate.live``) or DURATION
has passed. The shape asks through ``RunContext.hold_steady`` (``osiris_load.adapter.context``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from osiris_load.adapter.gate.output import say

if TYPE_CHECKING:  # pragma: no cover - the owner's type only
    from osiris_load.adapter.gate.core import Gate


class HoldSteady:
    """Whether the stages shape should keep its steady stage going, for one gate."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.settled = False  # settled at a look, or its duration spent
        self.since: float | None = None  # when the holding began

    def reset(self) -> None:
        self.settled, self.since = False, None

    def __call__(self) -> bool:
        """The stages shape asks at the end of its last non-zero stage: keep going? Yes while
        ``--slo-until-settled`` is on, a threshold is unsettled and its duration has not passed."""
        gate = self.gate
        limit = gate.until_settled_s if gate.table is not None else 0.0
        if not limit or self.settled or not gate.confidence:  # without intervals all is settled
            return False
        if self.since is None:
            self.since = time.monotonic()
            say(gate.environment, f"SLO gate: holding the steady stage until every threshold is settled (at most "
                                  f"{limit:g} s more)")
        if time.monotonic() - self.since >= limit:
            say(gate.environment, f"SLO gate: not settled after {limit:g} s more; ramping down as planned")
            self.settled = True  # no more holding: the duration is spent
            return False
        return True
