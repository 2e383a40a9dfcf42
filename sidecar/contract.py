"""The proposal contract: the one copy of the trade proposal's JSON schema, shared by both sides.

Why a data file: the sidecar constrains and validates proposals against it, and the locustfiles check
responses against it; both read ``sidecar/data/proposal.schema.json`` through this module, which
imports nothing beyond the standard library (the load tester installs without torch).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

PROPOSAL_SCHEMA_FILE = "proposal.schema.json"


def load_proposal_schema() -> dict[str, Any]:
    """The schema as a fresh dict (callers may not share mutations)."""
    text = resources.files("sidecar").joinpath("data", PROPOSAL_SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


PROPOSAL_SCHEMA: dict[str, Any] = load_proposal_schema()
