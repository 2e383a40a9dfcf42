"""Which workers delivered their final results, and which were lost: so that a verdict is taken
only on complete data, or says what is missing.

Pure bookkeeping (no Locust import). The plugin feeds it every worker that connects, every report
(``final`` for the last one a worker sends before it exits), and every worker Locust marks missing
or that leaves without a final report. A worker that reports again after being marked missing is
not lost. A lost worker's missing results are estimated from reporting rates: one that reported
lost at most one report interval; one that never reported lost everything, estimated at the rate
of its peers that were not lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from osiris_load.core.slo.verdict import LostWorkerInfo

__all__ = ["DETECTION_S", "REPORT_INTERVAL_S", "WorkerLedger", "WorkerRecord"]

REPORT_INTERVAL_S = 3.0  # Locust workers report every 3 s
DETECTION_S = 3.0  # Locust marks a worker missing after ~3 missed 1 s heartbeats


@dataclass
class WorkerRecord:
    first_report: float | None = None
    last_report: float | None = None
    requests: int = 0
    missing_since: float | None = None
    gone: str | None = None  # why it left without a final report ("quit", "timed out"...)
    final: bool = False

    def rate(self) -> float | None:
        if self.first_report is None or self.last_report is None:
            return None
        return self.requests / (self.last_report - self.first_report + REPORT_INTERVAL_S)

    @property
    def lost(self) -> bool:
        return not self.final and (self.missing_since is not None or self.gone is not None)


class WorkerLedger:
    def __init__(self) -> None:
        self.workers: dict[str, WorkerRecord] = {}

    def connected(self, worker_id: str) -> None:
        self.workers.setdefault(worker_id, WorkerRecord())

    def reported(self, worker_id: str, requests: int, now: float, *, final: bool = False) -> None:
        record = self.workers.setdefault(worker_id, WorkerRecord())
        if record.first_report is None:
            record.first_report = now
        record.last_report = now
        record.requests += requests
        record.missing_since = None  # it is back: its reports count
        if final:
            record.final, record.gone = True, None

    def mark_missing(self, worker_id: str, now: float) -> bool:
        """Record a worker Locust found missing; True the first time (until it reports again)."""
        record = self.workers.setdefault(worker_id, WorkerRecord())
        if record.missing_since is not None or record.final:
            return False
        record.missing_since = now
        return True

    def back(self, worker_id: str) -> None:
        """Locust hears the worker again (it self-healed): it is not lost."""
        record = self.workers.get(worker_id)
        if record is not None and record.gone is None:
            record.missing_since = None

    def mark_gone(self, worker_id: str, why: str, now: float) -> None:
        """A worker left (or was given up on) without its final report."""
        record = self.workers.setdefault(worker_id, WorkerRecord())
        if not record.final and record.gone is None:
            record.gone = why
            if record.missing_since is None:
                record.missing_since = now

    def missing(self) -> list[str]:
        """Workers marked missing (not delivered, not given up on)."""
        return [w for w, r in self.workers.items() if not r.final and r.gone is None and r.missing_since is not None]

    def pending(self) -> list[str]:
        """Workers that neither delivered their final results nor were lost."""
        return [w for w, r in self.workers.items() if not r.final and not r.lost]

    def lost(self, started_at: float) -> tuple[LostWorkerInfo, ...]:
        """Lost workers with estimates; ``started_at`` is when the test started (same clock)."""
        peer_rates = [rate for r in self.workers.values() if not r.lost and (rate := r.rate()) is not None]
        peer_rate = sum(peer_rates) / len(peer_rates) if peer_rates else None
        result = []
        for worker_id, record in sorted(self.workers.items()):
            if not record.lost:
                continue
            assert record.missing_since is not None
            why = record.gone or "no heartbeat"
            rate = record.rate() if record.requests else None  # reports without requests tell no rate
            if rate is not None and record.last_report is not None:
                silent = max(0.0, record.missing_since - record.last_report)
                estimate: int | None = round(rate * min(silent, REPORT_INTERVAL_S))
                result.append(LostWorkerInfo(worker_id, record.requests, True, estimate, why))
            else:
                alive = max(0.0, record.missing_since - DETECTION_S - started_at)
                estimate = round(peer_rate * alive) if peer_rate is not None else None
                result.append(LostWorkerInfo(worker_id, 0, False, estimate, why))
        return tuple(result)

    def reset(self) -> None:
        """A new test: forget reports, keep the workers that are connected."""
        self.workers = {w: WorkerRecord() for w, r in self.workers.items() if not r.lost}
