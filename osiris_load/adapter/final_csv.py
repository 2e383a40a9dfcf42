"""Rewrite Locust's ``--csv`` stats files once more at the very end of a run.

Locust rewrites ``PREFIX_stats.csv``, ``_failures.csv`` and ``_exceptions.csv`` every second and not
again at shutdown, so up to the last second of requests can be missing from them. Reports read those
files beside the gate's exact CSVs; this final snapshot makes both count the same requests.
"""

from __future__ import annotations

import csv
from pathlib import Path

from locust.env import Environment
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV


def write_final_locust_csv(environment: Environment, prefix: str) -> None:
    writer = StatsCSV(environment, PERCENTILES_TO_REPORT)
    for suffix, write in (("_stats.csv", writer.requests_csv), ("_failures.csv", writer.failures_csv),
                          ("_exceptions.csv", writer.exceptions_csv)):
        with Path(f"{prefix}{suffix}").open("w", newline="", encoding="utf-8") as handle:
            write(csv.writer(handle))
