"""The bundled scenarios by name: the one catalogue the front door, the capacity search, the k6
importer and the reports read (each name is a file ``locustfiles/<name>.py``; a test checks they exist).

Pure names, no import of the locustfiles (that would import Locust).
"""

from __future__ import annotations

K6_SCENARIOS: tuple[str, ...] = ("read_heavy", "sidecar_load", "propose_trade")
"""Osiris's three k6 scripts, one locustfile each: the default set of ``osiris-load run``, in the order
it runs them and the reports list them."""
MIXED = "mixed"
"""The three k6 scenarios' users in one run (their weights), by name only."""
LLM_SCENARIO = "openai_chat"
"""Streamed chat completions from any OpenAI-compatible server: runnable by name, not in the default set."""
ALL_SCENARIOS: tuple[str, ...] = (*K6_SCENARIOS, MIXED, LLM_SCENARIO)
"""Every scenario ``--scenarios``/``--scenario`` accepts by name, in report order."""
