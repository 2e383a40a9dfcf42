"""Fault injection for testing SLO gates: added latency and an error rate per route (off by default)."""

from __future__ import annotations

import asyncio
import random

from sidecar.infra.settings import Settings


class InjectedFault(Exception):
    """Raised to answer with the configured error status instead of doing the work."""


class Faults:
    def __init__(self, settings: Settings, rng: random.Random | None = None) -> None:
        self.latency_ms = dict(settings.fault_latency_ms)
        self.error_rate = dict(settings.fault_error_rate)
        self.status = settings.fault_status
        self.rng = rng or random.Random()

    @property
    def active(self) -> bool:
        return any(self.latency_ms.values()) or any(self.error_rate.values())

    def describe(self) -> dict[str, object]:
        return {"active": self.active, "latency_ms": self.latency_ms, "error_rate": self.error_rate,
                "status": self.status}

    async def apply(self, route: str) -> None:
        """Sleep the configured latency, then maybe raise InjectedFault; a no-op when nothing is set."""
        latency = self.latency_ms.get(route, self.latency_ms.get("*", 0.0))
        if latency:
            await asyncio.sleep(latency / 1000.0)
        rate = self.error_rate.get(route, self.error_rate.get("*", 0.0))
        if rate and self.rng.random() < rate:
            raise InjectedFault(route)
