"""k6_sidecar_load.js as a Locust scenario: ``POST /generate/`` then ``GET /metrics``, 1 s think time.

Default ramp (the k6 script's stages): 10s -> 5 users, 30s at 5, 5s -> 0.  Override with
``--stages``/``OSIRIS_STAGES``; turn the ramp off with ``--no-shape``/``OSIRIS_SHAPE=off``.
"""

from __future__ import annotations

from locust import task

from osiris_load.adapter.users import SHAPE_ENABLED, OsirisUser

DEFAULT_STAGES = "10s:5,30s:5,5s:0"


class SidecarLoadUser(OsirisUser):
    """One k6 iteration: generate with the structured phi3 model, then scrape the metrics."""

    weight = 5  # only matters in mixed.py: the script's 5 VUs
    slo_rows = ("generate", "metrics")  # the SLO rows this scenario exercises (mixed.py: the union)

    @task
    def generate_then_metrics(self) -> None:
        """k6 checks both answers and carries on after a failed check; so do we."""
        self.post_generate()
        self.get_metrics()


if SHAPE_ENABLED:
    from osiris_load.adapter.shape import StagesShape

    class SidecarLoadShape(StagesShape):
        """Ramp like the k6 script unless ``--stages`` says otherwise."""

        default_stages = DEFAULT_STAGES
