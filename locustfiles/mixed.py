"""All three k6 scenarios at once, as mixed traffic: sidecar load, read heavy and propose trade.

Users are split by the classes' weights, 5 : 5 : 3 (the k6 scripts' VU counts), so at the default
peak of 13 users there are 5 sidecar-load, 5 read-heavy and 3 propose-trade users; while ramping,
Locust's dispatcher keeps the split as close to those weights as whole users allow.

Default ramp: 10s -> 13 users, 30s at 13, 5s -> 0 (the sidecar-load script's timing, all VUs).
Override with ``--stages``/``OSIRIS_STAGES``; turn the ramp off with ``--no-shape``/``OSIRIS_SHAPE=off``.
Pick a subset from the command line as usual, e.g. ``locust -f locustfiles/mixed.py ReadHeavyUser``.
"""

from __future__ import annotations

from locustfiles.propose_trade import ProposeTradeUser
from locustfiles.read_heavy import ReadHeavyUser
from locustfiles.sidecar_load import SidecarLoadUser
from osiris_load.adapter.users import SHAPE_ENABLED

DEFAULT_STAGES = "10s:13,30s:13,5s:0"

# Imported by name on purpose: Locust runs every non-abstract User class in this module's namespace.
__all__ = ["SidecarLoadUser", "ReadHeavyUser", "ProposeTradeUser", "DEFAULT_STAGES"]


if SHAPE_ENABLED:
    from osiris_load.adapter.shape import StagesShape

    class MixedShape(StagesShape):
        """Ramp all users together unless ``--stages`` says otherwise."""

        default_stages = DEFAULT_STAGES
