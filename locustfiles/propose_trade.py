"""k6_propose_trade.js as a Locust scenario: ``POST /propose_trade_adjustments/`` with a random prompt.

Prompts come from the bundled ``osiris_load/adapter/prompts.json``, or the file named by ``OSIRIS_PROMPTS``;
they are loaded and validated once at import (a bad file exits 2 with one clear line, before any
load).  Default ramp (the k6 script's stages): 5s -> 3 users, 20s at 3, 5s -> 0.  Override with
``--stages``/``OSIRIS_STAGES``; turn the ramp off with ``--no-shape``/``OSIRIS_SHAPE=off``.
"""

from __future__ import annotations

import random

from locust import task

from osiris_load.adapter.users import SHAPE_ENABLED, OsirisUser, load_prompts_or_exit, propose_body

DEFAULT_STAGES = "5s:3,20s:3,5s:0"

PROMPTS: list[str] = load_prompts_or_exit()
PROPOSE_BODIES: tuple[bytes, ...] = tuple(propose_body(prompt) for prompt in PROMPTS)
"""One pre-encoded body per prompt: picking one per iteration costs no JSON encoding."""


class ProposeTradeUser(OsirisUser):
    """One k6 iteration: propose a trade for a random prompt and validate the proposal."""

    weight = 3  # only matters in mixed.py: the script's 3 VUs
    slo_rows = ("propose",)  # the SLO rows this scenario exercises (mixed.py: the union)

    @task
    def propose(self) -> None:
        """Like k6's ``prompts[Math.floor(Math.random() * prompts.length)]``: uniform, with replacement."""
        self.post_proposal(random.choice(PROPOSE_BODIES))


if SHAPE_ENABLED:
    from osiris_load.adapter.shape import StagesShape

    class ProposeTradeShape(StagesShape):
        """Ramp like the k6 script unless ``--stages`` says otherwise."""

        default_stages = DEFAULT_STAGES
