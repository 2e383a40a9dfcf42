"""The LLM scenario's shared pieces: its options, its prompts and the streamed, measured request.

Kept apart from ``locustfiles/openai_chat.py`` (which only declares the user class and its shape) for
the same reason as ``osiris_load.adapter.users``: the options and listeners must be registered once per
process, by the one module ``osiris_load.adapter.llm_user``, even when Locust also loads this file by path.

Per request (the hot path): one pre-encoded body picked at random, the answer read line by line off
the socket (``readline`` returns each SSE line as soon as it arrived), each line timed with one
``perf_counter`` call and fed to :class:`osiris_load.adapter.llm_stream.StreamMeter`, one gevent timer
re-armed per line for the stall timeout. Then **one** Locust request event for the answer
(``POST /v1/chat/completions``, its time the end-to-end latency, a broken stream its failure): in
Locust's statistics, CSVs and web UI one streamed answer is one request. The measurements of a whole
answer go to the SLO gate of this process directly, through the typed run context
(``RunContext.gate`` -> ``Recording.record_answer``; on a worker they travel to the master in the
gate's own report, as every recorded request does):

- TTFT: one sample per answer, corrected for a late start under the open model (the user waited for
  it), as the request itself is;
- ITL: one sample per inter-token gap, never corrected (a gap is not delayed by a late start);
- TPOT: one per answer of two or more tokens, never corrected;
- E2EL: one per whole answer (the request's time, without the broken streams), corrected as the
  request is.

Recorded under the method ``LLM`` and names ``"TTFT <path> @<user class>"`` (``measurement_names``),
which the ``llm_*`` keys select by ``{name:...}`` and ``{scenario:...}``. Output and input tokens
(``usage``, else counted chunks) go in the request event's ``context`` (``llm_tokens``), to the gate
(``Recording.record_tokens``: ``llm_output_tokens``, ``llm_input_tokens``) and into a per-process
total printed when the test stops. Without a gate (plain ``locust`` with the plugin off) nothing but
the answer's request is recorded.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
from time import perf_counter
from typing import Any

import gevent
import gevent.lock
from locust import events
from locust.exception import StopTest

from osiris_load.adapter.llm_prompts import (
    LlmPromptsError,
    Messages,
    as_completion_prompt,
    generated_prompts,
    load_llm_prompts,
)
from osiris_load.adapter.llm_stream import (
    ENDPOINTS,
    Measurement,
    StreamFailure,
    StreamMeter,
    measurement_names,
    token_names,
)
from osiris_load.adapter.scenario_options import DEFAULT_PROMPTS_PATH
from osiris_load.adapter.users import API_KEY, OsirisUser, _status_failure
from osiris_load.core.exit_codes import EXIT_BAD_INPUT
from osiris_load.core.slo.table import LLM_TABLE_PATH

logger = logging.getLogger("osiris.llm")

DEFAULT_MAX_TOKENS = 128
DEFAULT_STREAM_TIMEOUT_S = 60.0

OPENAI_API_KEY: str | None = os.environ.get("OPENAI_API_KEY") or None
"""Sent as ``Authorization: Bearer``; read once, so the hot path never touches os.environ."""


def request_headers() -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream", "Accept-Encoding": "identity"}
    if OPENAI_API_KEY:
        headers["Authorization"] = f"Bearer {OPENAI_API_KEY}"
    if API_KEY:
        headers["X-API-Key"] = API_KEY
    return headers


HEADERS = request_headers()


class TokenTotals:
    """Tokens of this process's whole answers, and where their counts came from."""

    def __init__(self) -> None:
        self.output = self.input = self.answers = 0
        self.sources: set[str] = set()
        self.first: float | None = None
        self.last = 0.0

    def add(self, m: Measurement, start: float, end: float) -> None:
        self.output += m.output_tokens
        self.input += m.input_tokens or 0
        self.answers += 1
        self.sources.add(m.token_source)
        self.first = start if self.first is None else min(self.first, start)
        self.last = max(self.last, end)

    def summary(self) -> str:
        span = self.last - self.first if self.first is not None else 0.0
        rate = f", {self.output / span:.1f} output tokens/s over {span:.1f} s" if span > 0 else ""
        source = " and ".join(sorted(self.sources)) or "none"
        return (f"LLM tokens: {self.answers} whole answers, {self.output} output tokens (counted from {source}), "
                f"{self.input} input tokens{rate}")


TOTALS = TokenTotals()


class LlmUser(OsirisUser):
    """Streams OpenAI-style completions and measures them (see the module docstring)."""

    abstract = True
    slo_default_table = str(LLM_TABLE_PATH)  # judged by the llm_* keys unless --slo-file says otherwise
    bodies: list[bytes] = []  # pre-encoded, filled once the model is known (the test's first user's on_start)
    path = ENDPOINTS["chat"]
    chat = True
    names: tuple[str, str, str, str] = ("", "", "", "")  # the gate's names of TTFT, ITL, TPOT, E2EL (``_prepare``)
    token_names: tuple[str, str] = ("", "")  # of the output and input tokens

    def on_start(self) -> None:
        cls = type(self)
        if not cls.bodies:
            with _PREPARING:  # the first user asks for the model; those starting meanwhile wait for it
                if not cls.bodies:
                    _prepare(cls, self)
        super().on_start()

    def stream_answer(self) -> None:
        """One streamed request, measured; a broken stream is a failed request saying why."""
        cls = type(self)
        path = cls.path
        start = perf_counter()
        measured: Measurement | None = None
        with self.client.request("POST", path, name=path, data=random.choice(cls.bodies), headers=HEADERS,
                                 stream=True, catch_response=True) as response:
            why = _status_failure(response)
            end = perf_counter()
            if why is None:
                try:
                    measured, end = _read(response.stream, StreamMeter(start, cls.chat), _STREAM_TIMEOUT[0])
                except StreamFailure as exc:
                    why, end = str(exc), perf_counter()
            response.request_meta["response_time"] = (end - start) * 1000.0
            if why is not None:
                response.failure(why)
            else:
                response.success()
                assert measured is not None
                response.request_meta["context"] = {**self.context(), "llm_tokens": {
                    "output": measured.output_tokens, "input": measured.input_tokens,
                    "source": measured.token_source}}
        if measured is not None:
            TOTALS.add(measured, start, end)
            self._report(measured)

    def _report(self, m: Measurement) -> None:
        """The answer's measurements and tokens to the gate (no Locust event: they are samples of
        the answer's one request)."""
        recording = self._osiris_recording
        if recording is None:
            return
        cls = type(self)
        open_model = self._osiris_open is not None
        recording.record_answer(cls.names, m.ttft_ms, m.gaps_ms, m.tpot_ms, m.e2e_ms,
                                self._osiris_iteration if open_model else None)
        output, input_ = cls.token_names
        recording.record_tokens(output, m.output_tokens, input_, m.input_tokens, open_model)


_STREAM_TIMEOUT = [DEFAULT_STREAM_TIMEOUT_S]  # set at init from --stream-timeout
_PREPARING = gevent.lock.BoundedSemaphore()


def _read(stream: Any, meter: StreamMeter, idle_s: float) -> tuple[Measurement, float]:
    """Feed every line to ``meter`` as it is read; StreamFailure when the stream breaks or stalls."""
    timer = gevent.Timeout(idle_s)
    timer.start()
    now = meter.start
    try:
        readline = stream.readline
        while True:
            line = readline(b"\n")
            now = perf_counter()
            if not line:
                break
            timer.cancel()
            timer.start()
            if meter.feed(line, now):
                break
        measured = meter.finish(now)
        if meter.done:  # read the rest (the chunked body's end) so the connection can be reused
            while readline(b"\n"):
                pass
        return measured, now
    except gevent.Timeout as exc:
        if exc is not timer:
            raise
        if meter.done:
            return meter.finish(now), now
        raise StreamFailure(f"stream stalled: nothing for {idle_s:g} s (--stream-timeout) after "
                            f"{meter.chunks} text chunks") from None
    except StreamFailure:
        raise
    except Exception as exc:  # the connection broke mid-stream (reset, parse error of the HTTP framing)
        raise StreamFailure(f"stream cut before [DONE] after {meter.chunks} text chunks "
                            f"({type(exc).__name__}: {exc})") from None
    finally:
        timer.close()


# ------------------------------------------------------------------------------------------ setup


def _prepare(cls: type[LlmUser], user: LlmUser) -> None:
    """The model (``--model``, else the first of ``/v1/models``) and the pre-encoded bodies."""
    options = user.environment.parsed_options
    endpoint = getattr(options, "endpoint", "chat")
    cls.path, cls.chat = ENDPOINTS[endpoint], endpoint == "chat"
    cls.names, cls.token_names = measurement_names(cls.path, cls.__name__), token_names(cls.path, cls.__name__)
    model = getattr(options, "model", None) or _first_model(user)
    max_tokens = int(getattr(options, "max_tokens", DEFAULT_MAX_TOKENS) or DEFAULT_MAX_TOKENS)
    extra: dict[str, Any] = {"ignore_eos": True} if getattr(options, "ignore_eos", False) else {}
    bodies = []
    for messages in _PROMPTS or generated_prompts(32):
        payload: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "stream": True,
                                   "stream_options": {"include_usage": True}, **extra}
        if cls.chat:
            payload["messages"] = messages
        else:
            payload["prompt"] = as_completion_prompt(messages)
        bodies.append(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    cls.bodies = bodies


def _first_model(user: LlmUser) -> str:
    with user.client.request("GET", "/v1/models", name="/v1/models", headers=HEADERS,
                             catch_response=True) as response:
        why = _status_failure(response)
        model = None
        if why is None:
            try:
                data = json.loads(response.content)["data"]
                model = str(data[0]["id"])
            except (ValueError, KeyError, IndexError, TypeError):
                why = "the answer is not an OpenAI model list with a model in it"
        if why is not None:
            response.failure(why)
            logger.error("cannot pick a model from %s/v1/models (%s); pass --model", user.host, why)
            raise StopTest()
        response.success()
    logger.info("model %s (the first of /v1/models)", model)
    return model


_PROMPTS: list[Messages] = []


def _add_options(parser: Any, **_kwargs: Any) -> None:
    """The LLM scenario's options (idempotent per parser: Locust builds parsers more than once)."""
    parser.add_argument("--model", type=str, default="", env_var="OPENAI_MODEL", include_in_web_ui=True,
                        help="Model to ask for (default: the first of the target's GET /v1/models)")
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, env_var="OSIRIS_MAX_TOKENS",
                        include_in_web_ui=True, help=f"max_tokens of each request (default {DEFAULT_MAX_TOKENS})")
    parser.add_argument("--endpoint", choices=tuple(ENDPOINTS), default="chat", env_var="OSIRIS_LLM_ENDPOINT",
                        include_in_web_ui=True,
                        help="chat: POST /v1/chat/completions (default); completions: POST /v1/completions")
    parser.add_argument("--llm-prompts", type=str, default="", env_var="OSIRIS_LLM_PROMPTS", include_in_web_ui=False,
                        help="Prompts file: a JSON array or JSON Lines of prompt strings, {\"prompt\": ...} or chat "
                        "messages (default: the bundled prompts.json, or --input-tokens)")
    parser.add_argument("--input-tokens", type=int, default=0, env_var="OSIRIS_INPUT_TOKENS", include_in_web_ui=False,
                        help="Generate prompts of about this many tokens (words) instead of reading a file")
    parser.add_argument("--ignore-eos", action="store_true", default=False, env_var="OSIRIS_IGNORE_EOS",
                        include_in_web_ui=False,
                        help="Send ignore_eos (vLLM, the bundled sidecar) so every answer has --max-tokens tokens")
    parser.add_argument("--stream-timeout", type=float, default=DEFAULT_STREAM_TIMEOUT_S,
                        env_var="OSIRIS_STREAM_TIMEOUT", include_in_web_ui=False,
                        help=f"A stream that sends nothing for this many seconds fails (default "
                        f"{DEFAULT_STREAM_TIMEOUT_S:g})")


def _fail_startup(message: str) -> None:
    sys.stderr.write(f"osiris-load: {message}\n")
    sys.stderr.flush()
    raise SystemExit(EXIT_BAD_INPUT)


def _on_init(environment: Any, **_kwargs: Any) -> None:
    """Check the options and load the prompts before any load (exit 2 with one line when wrong)."""
    options = environment.parsed_options
    if options is None:
        return
    if type(environment.shape_class).__name__ == "MixedShape":  # -f locustfiles/: the k6 scenarios' mixed run
        environment.user_classes[:] = [c for c in environment.user_classes if not issubclass(c, LlmUser)]
        logger.info("the LLM scenario is not part of the mixed run; run it with -f locustfiles/openai_chat.py")
        return
    if options.max_tokens < 1:
        _fail_startup(f"--max-tokens must be at least 1, got {options.max_tokens}")
    if not options.stream_timeout > 0:
        _fail_startup(f"--stream-timeout must be more than 0 seconds, got {options.stream_timeout}")
    try:
        _load_options(options)
    except LlmPromptsError as exc:
        _fail_startup(str(exc))


def _load_options(options: Any) -> None:
    """The stall timeout and the prompts the options say (LlmPromptsError when the prompts are wrong)."""
    _STREAM_TIMEOUT[0] = float(options.stream_timeout)
    source = (options.llm_prompts, options.input_tokens)
    if source == _PROMPTS_SOURCE[0]:
        return
    if options.llm_prompts:
        prompts = load_llm_prompts(options.llm_prompts)
    elif options.input_tokens:
        prompts = generated_prompts(options.input_tokens)
    else:
        prompts = load_llm_prompts(DEFAULT_PROMPTS_PATH)
    _PROMPTS[:], _PROMPTS_SOURCE[0] = prompts, source


_PROMPTS_SOURCE: list[tuple[str, int] | None] = [None]  # what _PROMPTS were loaded from


def _on_test_start(environment: Any, **_kwargs: Any) -> None:
    """Each test prepares its bodies anew (the web UI's form may have changed the model, length, endpoint),
    and takes the options again: a worker gets the master's (``--stream-timeout``, the prompts) only
    with the first spawn, after its ``init``."""
    options = environment.parsed_options
    if options is not None and hasattr(options, "stream_timeout") and options.stream_timeout > 0:
        try:
            _load_options(options)
        except LlmPromptsError as exc:  # the master read them at its start; here they are not readable
            logger.error("the prompts the master was given cannot be read here: %s; keeping the ones loaded", exc)
    for cls in environment.user_classes or []:
        if issubclass(cls, LlmUser):
            cls.bodies = []


def _on_test_stop(environment: Any, **_kwargs: Any) -> None:
    if TOTALS.answers:
        logger.info("%s", TOTALS.summary())


if __name__ == "osiris_load.adapter.llm_user":
    events.init_command_line_parser.add_listener(_add_options)
    events.init.add_listener(_on_init)
    events.test_start.add_listener(_on_test_start)
    events.test_stop.add_listener(_on_test_stop)
