"""The SLO gate's pure core: k6 threshold expressions (``expressions``), the SLO table (``table``),
exact per-endpoint recording (``recorder``), evaluation (``evaluate``) into the verdict object
(``verdict``), its one formatter (``formatting``) and the worker ledger (``workers``); k6's metric
keys (``k6_metrics``) and the k6 options importer (``k6_import``, reading scripts with ``js_literal``).

Nothing here imports Locust, Flask or pandas (a test proves it), so the gate can be unit-tested,
reused on recorded data, and adapted to Locust by ``osiris_load.adapter``.
"""
