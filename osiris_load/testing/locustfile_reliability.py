"""Test-only locustfile of the reliability suite: the real request mix, no think time, every answer recorded.

Pick the users on the command line (``locust -f this.py OverloadUser``); no shape, so ``-u/-r/-t`` apply.
It carries the SLO gate (through ``osiris_load.adapter.users``) and sends ``X-API-Key`` when
``OSIRIS_API_KEY`` is set, like the real locustfiles.

Where users run, a request listener counts every answer by (method, name, status), where status 0
is a connection error (refused, reset, timeout: Locust's "no response"), notes 503s without
``Retry-After``, keeps the response time of every 200 and the ``transaction_id`` of every proposal
answered 200 (``REL_RECORD=off`` turns the listener off). At ``quitting`` each process writes
``$REL_OUT_DIR/records-<pid>.json``; a worker also writes its Locust client id to
``$REL_OUT_DIR/worker-<pid>.id`` as soon as it starts, and the number of its reports to the master
that carried requests to ``$REL_OUT_DIR/worker-<pid>.reports``, and ``$REL_OUT_DIR/worker-<pid>.sent`` once
its users have had ``SENT_MARK`` answers (so a test knows this worker's load runs, whatever else hits the
target). ``REL_WORKER_REPORT_INTERVAL`` sets the worker's report interval (Locust's is 3 s).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import locust.runners
from locust import FastHttpUser, constant, events, task
from locust.runners import WorkerRunner

from osiris_load.adapter.users import GENERATE_BODY, POST_HEADERS, load_prompts_or_exit, propose_body

OUT_DIR = Path(os.environ.get("REL_OUT_DIR", "."))
if os.environ.get("REL_WORKER_REPORT_INTERVAL"):  # a worker that reports late: to kill it before its first report
    locust.runners.WORKER_REPORT_INTERVAL = float(os.environ["REL_WORKER_REPORT_INTERVAL"])
PROPOSE_NAME = "/propose_trade_adjustments/"
PROPOSE_BODIES = tuple(propose_body(prompt) for prompt in load_prompts_or_exit())
# The proposal bodies of the Redis-loss case: shorter rationales, so more proposals per second.
SHORT_PROPOSE_BODIES = tuple(
    json.dumps({"prompt": json.loads(body)["prompt"], "max_length": 16}).encode() for body in PROPOSE_BODIES
)

STATUSES: Counter[str] = Counter()
CONNECTION_ERRORS: Counter[str] = Counter()
OK_MS: dict[str, list[float]] = {}
PROPOSAL_IDS: list[str] = []
NO_RETRY_AFTER = [0]
SENT_MARK = 20
SENT: list[Path | None] = [None]  # a worker's .sent file until it is written, then None
ANSWERS = [0]


def _record(request_type: str, name: str, response_time: float, response: Any = None, exception: Any = None,
            **_: Any) -> None:
    status = getattr(response, "status_code", 0) or 0
    STATUSES[f"{request_type} {name} {status}"] += 1
    if SENT[0] is not None:
        ANSWERS[0] += 1
        if ANSWERS[0] >= SENT_MARK:
            SENT[0].write_text(str(ANSWERS[0]))
            SENT[0] = None
    if status == 0:
        CONNECTION_ERRORS[type(exception).__name__ if exception is not None else "no response"] += 1
    elif status == 200:
        OK_MS.setdefault(name, []).append(round(response_time, 3))
        if name == PROPOSE_NAME:
            try:
                PROPOSAL_IDS.append(json.loads(response.content)["transaction_id"])
            except (ValueError, KeyError, TypeError):
                PROPOSAL_IDS.append("<200 without a transaction_id>")
    elif status == 503:
        headers = getattr(response, "headers", None)
        if not headers or not headers.get("Retry-After"):
            NO_RETRY_AFTER[0] += 1


if os.environ.get("REL_RECORD", "on") != "off":  # off: the soak run measures Locust and the gate alone
    events.request.add_listener(_record)


@events.init.add_listener
def _announce_worker(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        (OUT_DIR / f"worker-{os.getpid()}.id").write_text(runner.client_id)
        SENT[0] = OUT_DIR / f"worker-{os.getpid()}.sent"
        environment.events.report_to_master.add_listener(_count_report)


REPORTS_WITH_REQUESTS = [0]


def _count_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    """Worker: count the reports to the master that carried requests (``worker-<pid>.reports``)."""
    if any(entry.get("num_requests") for entry in data.get("stats", ())):
        REPORTS_WITH_REQUESTS[0] += 1
        (OUT_DIR / f"worker-{os.getpid()}.reports").write_text(str(REPORTS_WITH_REQUESTS[0]))


@events.quitting.add_listener
def _dump(environment: Any, **_: Any) -> None:
    if not STATUSES:  # a master (or a process that sent nothing): nothing to say
        return
    data = {"statuses": dict(STATUSES), "no_retry_after": NO_RETRY_AFTER[0], "ok_ms": OK_MS,
            "proposal_ids": PROPOSAL_IDS, "connection_errors": dict(CONNECTION_ERRORS)}
    (OUT_DIR / f"records-{os.getpid()}.json").write_text(json.dumps(data))


class _Recorded(FastHttpUser):
    abstract = True
    network_timeout = 30.0
    connection_timeout = 10.0

    def generate(self) -> None:
        self.client.request("POST", "/generate/", name="/generate", data=GENERATE_BODY, headers=POST_HEADERS)

    def propose(self, bodies: tuple[bytes, ...] = PROPOSE_BODIES) -> None:
        self.client.request("POST", PROPOSE_NAME, name=PROPOSE_NAME, data=random.choice(bodies),
                            headers=POST_HEADERS)


class OverloadUser(_Recorded):
    """The k6 sidecar-load request, plus some proposals, with no think time."""

    wait_time = constant(0)

    @task(9)
    def generate_task(self) -> None:
        self.generate()

    @task(1)
    def propose_task(self) -> None:
        self.propose()


class ProposerUser(_Recorded):
    """propose_trade-like load, a little faster (short think time, short rationale)."""

    wait_time = constant(0.05)

    @task
    def propose_task(self) -> None:
        self.propose(SHORT_PROPOSE_BODIES)


class HealthUser(_Recorded):
    """GET /health with no think time (the soak run)."""

    wait_time = constant(0)

    @task
    def health(self) -> None:
        self.client.request("GET", "/health", name="/health")


class ReaderUser(_Recorded):
    """GET /health and /metrics with a short think time (the distributed run)."""

    wait_time = constant(0.05)

    @task
    def read(self) -> None:
        self.client.request("GET", "/health", name="/health")
        self.client.request("GET", "/metrics", name="/metrics")
