"""Locust scenarios replacing Osiris's three k6 load-test scripts (plus a mixed-traffic one and an
OpenAI-compatible streaming one).

Run one with ``locust -f locustfiles/<scenario>.py``. The files and their user classes are public
(``from locustfiles.read_heavy import ReadHeavyUser``); the Locust plumbing they stand on (the base
user class, the gate, the shape, the open model) is ``osiris_load.adapter``.
"""
