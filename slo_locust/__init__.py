"""Kept for locustfiles written against the old layout: ``import slo_locust`` registers the SLO gate,
which lives in ``osiris_load.adapter.gate`` (importing that, or any ``osiris_load.adapter.users``
user class, does the same)."""

from osiris_load.adapter import gate as plugin  # noqa: F401  (registers the gate's listeners)
