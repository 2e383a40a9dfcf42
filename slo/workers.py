"""Which workers reported, and which were lost: so a verdict can say what data may be missing.

Pure bookkeeping (no Locust import): the plugin feeds it each worker report and each worker Locust
marks missing; it estimates a lost worker's missing results from reporting rates. A worker reports
every 3 s, so one that reported and then died lost at most one interval of results; one that never
reported lost everything it did, estimated at its peers' rate.
"""

from __future__ import annotations

from dataclasses import dataclass

REPORT_INTERVAL_S = 3.0  # Locust workers report every 3 s
DETECTION_S = 3.0  # Locust marks a worker missing after ~3 missed 1 s heartbeats


@dataclass
class WorkerRecord:
    first_report: float | None = None
    last_report: float | None = None
    requests: int = 0
    lost_at: float | None = None

    def rate(self) -> float | None:
        if self.first_report is None or self.last_report is None:
            return None
        return self.requests / (self.last_report - self.first_report + REPORT_INTERVAL_S)


@dataclass(frozen=True)
class LostWorker:
    worker_id: str
    requests_received: int
    reported: bool
    missing_estimate: int | None  # None: no way to estimate (it never reported and had no peers)

    def describe(self) -> str:
        if self.reported:
            return (f"lost worker {self.worker_id}: {self.requests_received} of its results were received; "
                    f"up to about {self.missing_estimate} more may be missing (one report interval)")
        if self.missing_estimate is None:
            return f"lost worker {self.worker_id}: it never reported; all its results (count unknown) may be missing"
        return (f"lost worker {self.worker_id}: it never reported; at its peers' rate, about "
                f"{self.missing_estimate} more may be missing (all of its results)")


class WorkerLedger:
    def __init__(self) -> None:
        self.workers: dict[str, WorkerRecord] = {}

    def reported(self, worker_id: str, requests: int, now: float) -> None:
        record = self.workers.setdefault(worker_id, WorkerRecord())
        if record.first_report is None:
            record.first_report = now
        record.last_report = now
        record.requests += requests

    def mark_lost(self, worker_id: str, now: float) -> bool:
        """Record a worker found missing; True the first time."""
        record = self.workers.setdefault(worker_id, WorkerRecord())
        if record.lost_at is not None:
            return False
        record.lost_at = now
        return True

    def lost(self, started_at: float) -> list[LostWorker]:
        """Lost workers with estimates; ``started_at`` is when the test started (same clock)."""
        peer_rates = [rate for r in self.workers.values() if r.lost_at is None and (rate := r.rate())]
        peer_rate = sum(peer_rates) / len(peer_rates) if peer_rates else None
        result = []
        for worker_id, record in sorted(self.workers.items()):
            if record.lost_at is None:
                continue
            rate = record.rate()
            if rate is not None and record.last_report is not None:
                silent = max(0.0, record.lost_at - record.last_report)
                estimate: int | None = round(rate * min(silent, REPORT_INTERVAL_S))
                result.append(LostWorker(worker_id, record.requests, True, estimate))
            else:
                alive = max(0.0, record.lost_at - DETECTION_S - started_at)
                estimate = round(peer_rate * alive) if peer_rate is not None else None
                result.append(LostWorker(worker_id, 0, False, estimate))
        return result

    def reset(self) -> None:
        self.workers.clear()
