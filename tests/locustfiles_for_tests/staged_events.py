"""Test-only locustfile: ``events_only``'s user (no network) driven by a k6-style stages shape, so
``--slo-until-settled`` can hold its last non-zero stage. Stages: ``$GATE_STAGES`` (default 1s:2,1s:0)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: locustfiles, slo_locust

from osiris_load.adapter.shape import StagesShape  # noqa: E402

_spec = importlib.util.spec_from_file_location("events_only", Path(__file__).with_name("events_only.py"))
assert _spec is not None and _spec.loader is not None
_events_only = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_events_only)
EventsOnly = _events_only.EventsOnly


class Stages(StagesShape):
    default_stages = os.environ.get("GATE_STAGES", "1s:2,1s:0")
