"""The SLO gate's pure core: k6 threshold expressions, the SLO table, exact per-endpoint
histograms and the verdict.

Nothing here imports Locust, so the gate can be unit-tested, reused on recorded data, and
adapted to Locust by a thin plugin (``slo.plugin``).
"""
