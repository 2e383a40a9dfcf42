"""Benchmark: the client's cost of recording one streamed answer's measurements, per answer and per
token, the way before issue 20's second part (a Locust request event per measurement: TTFT, every
inter-token gap, TPOT, E2EL) against the way now (``Recording.record_answer``: straight into the
gate's recorders, no Locust event), side by side in one process.

Both against a real Locust ``Environment`` with a local runner (whose ``request`` listener keeps
Locust's statistics) and the SLO gate on the LLM scenario's own table (``llm.toml``) listening, as
in a run; the answer's own request event (one either way) is left out. Closed model, and open model
(the corrected/measured pair and the goodput check) with ``--open``. ROUNDS alternations of ANSWERS
answers of TOKENS tokens each; the median and the minimum per answer.

    osiris-load bench llm_answer_cost [--tokens 128] [--answers 2000] [--rounds 7] [--open]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
import warnings
from typing import Any


def _setup(open_model: bool) -> tuple[Any, Any, Any]:
    with warnings.catch_warnings():  # gevent's notice that redis was imported before the patch
        warnings.simplefilter("ignore")
        from locust.env import Environment

        from osiris_load.adapter.gate import Gate
        from osiris_load.core.openmodel.counts import ITERATION_KEY, Iteration
        from osiris_load.core.slo.table import LLM_TABLE_PATH, load_table

    environment = Environment()
    environment.create_local_runner()  # its request listener keeps Locust's statistics
    gate = Gate(environment, load_table(LLM_TABLE_PATH))
    gate.attach(environment.events)
    iteration = Iteration() if open_model else None
    if iteration is not None:
        iteration.lateness_ms = 3.0
    context = {ITERATION_KEY: iteration} if iteration is not None else {}
    return environment, gate, (iteration, context)


def per_answer_us(way: str, tokens: int, answers: int, open_model: bool) -> float:
    from osiris_load.adapter.llm_stream import measurement_names, token_names
    from osiris_load.core.slo.k6_metrics import LLM_METHOD

    environment, gate, (iteration, context) = _setup(open_model)
    rng = random.Random(1)
    path, user = "/v1/chat/completions", "OpenAIChatUser"
    names, (output, input_) = measurement_names(path, user), token_names(path, user)
    gaps = [[rng.uniform(5.0, 40.0) for _ in range(tokens - 1)] for _ in range(16)]
    fire = environment.events.request.fire
    recording = gate.recording
    started = time.perf_counter()
    for i in range(answers):
        ttft, answer_gaps = 100.0 + (i & 63), gaps[i & 15]
        e2e = ttft + sum(answer_gaps)
        tpot = (e2e - ttft) / (tokens - 1)
        if way == "events":  # one Locust request event per measurement (the ITL/TPOT ones as measured)
            ttft_name, itl_name, tpot_name, e2el_name = names
            fire(request_type=LLM_METHOD, name=ttft_name, response_time=ttft, response_length=0, exception=None,
                 context=context)
            for gap in answer_gaps:
                fire(request_type=LLM_METHOD, name=itl_name, response_time=gap, response_length=0, exception=None,
                     context={})
            fire(request_type=LLM_METHOD, name=tpot_name, response_time=tpot, response_length=0, exception=None,
                 context={})
            fire(request_type=LLM_METHOD, name=e2el_name, response_time=e2e, response_length=0, exception=None,
                 context=context)
        else:
            recording.record_answer(names, ttft, answer_gaps, tpot, e2e, iteration)
        recording.record_tokens(output, tokens, input_, 20, open_model)
    return (time.perf_counter() - started) / answers * 1e6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tokens", type=int, default=128, help="tokens per answer (gaps: one less)")
    parser.add_argument("--answers", type=int, default=2000, help="answers per round")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds")
    parser.add_argument("--open", action="store_true", help="the open model (corrected/measured pair, goodput)")


def main(args: argparse.Namespace) -> int:
    results: dict[str, list[float]] = {"events": [], "gate": []}
    for _ in range(args.rounds):
        for way in results:
            results[way].append(per_answer_us(way, args.tokens, args.answers, args.open))
    print(f"# {platform.node()} {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"{args.tokens} tokens an answer, {'open' if args.open else 'closed'} model")
    for way, label in (("events", "Locust event per measurement"), ("gate", "record_answer (gate only)")):
        median = statistics.median(results[way])
        print(f"{label:30s} median {median:8.1f} us/answer ({median / args.tokens:6.2f} us/token)  "
              f"min {min(results[way]):8.1f}")
    print(f"events / gate (medians): {statistics.median(results['events']) / statistics.median(results['gate']):.1f}")
    return 0
