"""Capacity: the highest open-model arrival rate at which a scenario still meets its SLO table.

``capacity.search`` is the pure search (bracket by growing the rate, then bisect), driven by any
callable probe; ``capacity.model`` the one schema of ``capacity.json`` (and of each probe's result);
``capacity.html`` renders ``capacity.html``; ``capacity.probe`` runs one probe as a real headless
Locust run and reads its verdict back; ``capacity.job`` is ``osiris-load capacity``. The user's page
is ``docs/capacity.md``.
"""
