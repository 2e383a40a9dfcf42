"""Which workers reported, and which were lost: so a verdict can say what data may be missing.

Pure bookkeeping (no Locust import): the plugin feeds it each worker report and each worker Locust
marks missing; it estimates a lost worker's missing results from its own reporting rate.
"""

from __future__ import annotations

from dataclasses import dataclass

REPORT_INTERVAL_S = 3.0  # Locust workers report every 3 s


@dataclass
class WorkerRecord:
    first_report: float
    last_report: float
    requests: int = 0
    lost_at: float | None = None


@dataclass(frozen=True)
class LostWorker:
    worker_id: str
    requests_received: int
    silent_s: float  # from its last report to when it was found missing
    missing_estimate: int  # results it probably sent no report for

    def describe(self) -> str:
        return (f"lost worker {self.worker_id}: {self.requests_received} of its results were received; "
                f"about {self.missing_estimate} more may be missing (silent {self.silent_s:.1f} s before it "
                f"was found missing)")


class WorkerLedger:
    def __init__(self) -> None:
        self.workers: dict[str, WorkerRecord] = {}

    def reported(self, worker_id: str, requests: int, now: float) -> None:
        record = self.workers.get(worker_id)
        if record is None:
            record = self.workers[worker_id] = WorkerRecord(first_report=now, last_report=now)
        record.last_report = now
        record.requests += requests

    def mark_lost(self, worker_id: str, now: float) -> bool:
        """Record a worker found missing; True the first time."""
        record = self.workers.get(worker_id)
        if record is None:  # lost before it ever reported
            record = self.workers[worker_id] = WorkerRecord(first_report=now, last_report=now)
        if record.lost_at is not None:
            return False
        record.lost_at = now
        return True

    def lost(self) -> list[LostWorker]:
        result = []
        for worker_id, record in sorted(self.workers.items()):
            if record.lost_at is None:
                continue
            silent = max(0.0, record.lost_at - record.last_report)
            rate = record.requests / (record.last_report - record.first_report + REPORT_INTERVAL_S)
            result.append(LostWorker(worker_id, record.requests, silent, round(rate * silent)))
        return result

    def reset(self) -> None:
        self.workers.clear()
