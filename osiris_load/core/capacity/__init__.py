"""Capacity: the highest open-model arrival rate at which a scenario still meets its SLO table.

``osiris_load.core.capacity.search`` is the pure search (bracket by growing the rate, then bisect), driven by any
callable probe; ``osiris_load.core.capacity.model`` the one schema of ``capacity.json`` (and of each probe's result);
``capacity.html`` renders ``capacity.html``; ``osiris_load.jobs.capacity_probe`` runs one probe as a real headless
Locust run and reads its verdict back; ``osiris_load.jobs.capacity`` is ``osiris-load capacity``. The user's page
is ``docs/capacity.md``.
"""
