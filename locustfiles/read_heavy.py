"""k6_read_heavy.js as a Locust scenario: ``GET /health`` then ``GET /metrics``, 1 s think time.

The script the original CI ran nightly against a freshly started sidecar.  Default ramp (the k6
script's stages): 5s -> 5 users, 20s at 5, 5s -> 0.  Override with ``--stages``/``OSIRIS_STAGES``;
turn the ramp off with ``--no-shape``/``OSIRIS_SHAPE=off``.
"""

from __future__ import annotations

from locust import task

from osiris_load.adapter.users import SHAPE_ENABLED, OsirisUser

DEFAULT_STAGES = "5s:5,20s:5,5s:0"


class ReadHeavyUser(OsirisUser):
    """One k6 iteration: health, then metrics."""

    weight = 5  # only matters in mixed.py: the script's 5 VUs
    slo_rows = ("health", "metrics")  # the SLO rows this scenario exercises (mixed.py: the union)

    @task
    def health_then_metrics(self) -> None:
        """Both reads are checked; a failed health check does not skip the metrics read (as in k6)."""
        self.get_health()
        self.get_metrics()


if SHAPE_ENABLED:
    from osiris_load.adapter.shape import StagesShape

    class ReadHeavyShape(StagesShape):
        """Ramp like the k6 script unless ``--stages`` says otherwise."""

        default_stages = DEFAULT_STAGES
