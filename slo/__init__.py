"""The SLO gate's pure core: k6 threshold expressions (``expressions``), the SLO table (``table``),
exact per-endpoint recording (``recorder``), evaluation (``evaluate``) into the verdict object
(``verdict``), its one formatter (``formatting``) and the worker ledger (``workers``).

Nothing here imports Locust, Flask or pandas (a test proves it), so the gate can be unit-tested,
reused on recorded data, and adapted to Locust by the thin ``slo_locust`` package beside it.
"""
