"""Shared pieces of the Osiris locustfiles: base user, response checks, prompts, options, host rules.

Everything that must exist once per Locust process lives here (event listeners, custom options),
because a module is imported once even when ``mixed.py`` pulls in all three scenarios.

Per-request code (the ``check_*`` helpers and the ``OsirisUser`` request methods) is the hot path:
no logging, no I/O, JSON parsed once from the raw bytes, bodies pre-encoded at import, a
precompiled JSON-schema validator, and failure messages built only when something failed.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from time import perf_counter
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from locust import FastHttpUser, events
from locust.exception import StopTest, StopUser

from osiris_load.adapter import gate as _gate  # noqa: F401  (registers the SLO gate)
from osiris_load.adapter.context import context_of
from osiris_load.adapter.lean_http import LeanSession
from osiris_load.adapter.open_model import (
    OpenModelError,
    attach_start_form,
    check_stages,
    configure,
    install,
    new_iteration_context,
)
from osiris_load.adapter.scenario_options import (
    PROMPTS_HINT,
    PromptsError,
    check_url,
    load_prompts,
    prompts_path,
    shape_switch,
)
from osiris_load.adapter.shape import STAGES_ENV, stages_option
from osiris_load.core.exit_codes import EXIT_BAD_INPUT
from osiris_load.core.openmodel.config import OPTION_ENV
from osiris_load.core.openmodel.schedule import ARRIVALS
from osiris_load.core.openmodel.stages import StagesError, format_stages
from sidecar.contract import load_proposal_schema

logger = logging.getLogger("osiris.locustfiles")

# --------------------------------------------------------------------------------------------------
# Target, credentials, request bodies
# --------------------------------------------------------------------------------------------------

DEFAULT_HOST = "http://localhost:8000"
"""Where the k6 scripts point when ``OSIRIS_URL`` is unset."""


def _env_url(environ: Mapping[str, str]) -> str | None:
    """``OSIRIS_URL`` without a trailing slash (paths start with one), or None when unset/blank."""
    value = environ.get("OSIRIS_URL", "").strip()
    return value.rstrip("/") or None


OSIRIS_URL: str | None = _env_url(os.environ)
"""Read once at import: the default target when ``--host`` is not given (``--host`` wins, as in Locust)."""

API_KEY: str | None = os.environ.get("OSIRIS_API_KEY") or None
"""Optional key sent as ``X-API-Key`` on POSTs; read once so the hot path never touches os.environ."""

POST_HEADERS: dict[str, str] = {"Content-Type": "application/json"}
if API_KEY:
    POST_HEADERS["X-API-Key"] = API_KEY


def encode_json(payload: Any) -> bytes:
    """Encode a request body once, at import, in the compact form k6's ``JSON.stringify`` sends."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


GENERATE_BODY: bytes = encode_json({"prompt": "hello", "model_id": "phi3", "max_length": 16})
"""Exactly what k6_sidecar_load.js posts to ``/generate/``."""

PROPOSE_MAX_LENGTH = 64
"""``max_length`` k6_propose_trade.js sends with every prompt."""


def propose_body(prompt: str) -> bytes:
    """Body of one ``POST /propose_trade_adjustments/`` (as k6_propose_trade.js builds it)."""
    return encode_json({"prompt": prompt, "max_length": PROPOSE_MAX_LENGTH})


# --------------------------------------------------------------------------------------------------
# The proposal schema (the contract the original sidecar enforced with constrained decoding)
# --------------------------------------------------------------------------------------------------

PROPOSAL_SCHEMA: dict[str, Any] = load_proposal_schema()  # the one copy: sidecar/data/proposal.schema.json
Draft202012Validator.check_schema(PROPOSAL_SCHEMA)
PROPOSAL_VALIDATOR = Draft202012Validator(PROPOSAL_SCHEMA)
"""Compiled once; ``is_valid`` on the hot path, ``best_match`` only to explain a failure."""


# --------------------------------------------------------------------------------------------------
# prompts.json
# --------------------------------------------------------------------------------------------------


def load_prompts_or_exit(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Load prompts at import; on error print one clear line and exit 2 (before any load, no traceback)."""
    target = prompts_path() if path is None else Path(path)
    try:
        return load_prompts(target)
    except PromptsError as exc:
        sys.stderr.write(f"osiris-load: {exc} {PROMPTS_HINT}\n")
        sys.stderr.flush()
        raise SystemExit(EXIT_BAD_INPUT) from None


# --------------------------------------------------------------------------------------------------
# Turning the stages shape off
# --------------------------------------------------------------------------------------------------

def shape_enabled(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the locustfile should define its stages shape (``locustfiles.shape_switch``; a bad
    ``OSIRIS_SHAPE`` is one line and exit 2).

    Locust imports the locustfile *before* it parses options and picks up any shape class it
    finds, so the only way to give ``-u/-r/-t`` and the web UI's own controls back is not to
    define the class at all; hence this looks at ``sys.argv`` and ``OSIRIS_SHAPE`` at import.
    """
    try:
        return shape_switch(sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ)
    except ValueError as exc:
        sys.stderr.write(f"osiris-load: {exc}\n")
        raise SystemExit(EXIT_BAD_INPUT) from None


SHAPE_ENABLED: bool = shape_enabled()

# --------------------------------------------------------------------------------------------------
# Response checks (the k6 "check status 200", plus the body shape k6 never looked at)
# --------------------------------------------------------------------------------------------------

_BODY_EXCERPT = 200


def _status_failure(response: Any) -> str | None:
    """Why a response is not a 200, or None.  Connection errors keep Locust's own exception text."""
    status = response.status_code
    if status == 200:
        return None
    if not status:
        error = getattr(response, "error", None)
        return f"no response: {error!r}" if error is not None else "no response"
    content = response.content or b""
    excerpt = content[:_BODY_EXCERPT].decode("utf-8", "replace")
    return f"status {status}: {excerpt}" if excerpt else f"status {status}"


def _json_object(response: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Parse the body once (from bytes, skipping charset detection); return (object, why-not)."""
    try:
        body = json.loads(response.content)
    except (ValueError, TypeError):
        return None, "body is not JSON"
    if not isinstance(body, dict):
        return None, "body is not a JSON object"
    return body, None


def _conclude(response: Any, why: str | None) -> None:
    """Mark a caught response: a success, or a failure saying why."""
    if why is None:
        response.success()
    else:
        response.failure(why)


# Each check is a ``*_problem`` function (why the response fails, or None), usable on Locust's
# response and on the lean path's (``osiris_load.adapter.lean_http``), and a ``check_*`` that marks a caught
# Locust response with it.


def generate_problem(response: Any) -> str | None:
    """``POST /generate``: 200 and a JSON object with a string ``generated_text``."""
    why = _status_failure(response)
    if why is None:
        body, why = _json_object(response)
        if body is not None and not isinstance(body.get("generated_text"), str):
            present = "generated_text" in body
            why = "generated_text is not a string" if present else "missing generated_text"
    return why


def metrics_problem(response: Any) -> str | None:
    """``GET /metrics``: 200 and Prometheus text (cheap check: a ``# HELP`` or ``# TYPE`` line)."""
    why = _status_failure(response)
    if why is None:
        content = response.content or b""
        if b"# HELP " not in content and b"# TYPE " not in content:
            why = "not Prometheus text (no # HELP or # TYPE line)"
    return why


def health_problem(response: Any) -> str | None:
    """``GET /health``: 200 and a JSON object (its fields vary with the sidecar's configuration)."""
    why = _status_failure(response)
    if why is None:
        _, why = _json_object(response)
    return why


def proposal_problem(response: Any) -> str | None:
    """``POST /propose_trade_adjustments/``: 200, valid ``phi3_proposal``, string ``hermes_assessment``."""
    why = _status_failure(response)
    if why is None:
        body, why = _json_object(response)
        if body is not None:
            why = _proposal_problem(body)
    return why


def check_generate(response: Any) -> None:
    """Mark a caught ``POST /generate`` response (``generate_problem``)."""
    _conclude(response, generate_problem(response))


def check_metrics(response: Any) -> None:
    """Mark a caught ``GET /metrics`` response (``metrics_problem``)."""
    _conclude(response, metrics_problem(response))


def check_health(response: Any) -> None:
    """Mark a caught ``GET /health`` response (``health_problem``)."""
    _conclude(response, health_problem(response))


def check_proposal(response: Any) -> None:
    """Mark a caught proposal response (``proposal_problem``)."""
    _conclude(response, proposal_problem(response))


def _proposal_problem(body: dict[str, Any]) -> str | None:
    """What is wrong with a decoded proposal answer, or None."""
    if "phi3_proposal" not in body:
        return "missing phi3_proposal"
    proposal = body["phi3_proposal"]
    if not PROPOSAL_VALIDATOR.is_valid(proposal):
        error = best_match(PROPOSAL_VALIDATOR.iter_errors(proposal))
        where = error.json_path if error is not None else "$"
        message = error.message if error is not None else "invalid"
        return f"proposal does not validate: {where}: {message}"[:_BODY_EXCERPT]
    if "hermes_assessment" not in body:
        return "missing hermes_assessment"
    if not isinstance(body["hermes_assessment"], str):
        return "hermes_assessment is not a string"
    return None


# --------------------------------------------------------------------------------------------------
# The base user
# --------------------------------------------------------------------------------------------------


THINK_TIME_S = 1.0
"""Closed model: every k6 iteration ends with ``sleep(1)``."""


def _timed(task: Callable[[Any], None]) -> Callable[[Any], None]:
    """``task`` timed as one k6 iteration (``iteration_duration``): Locust has no event around a
    task, so the base class wraps each scenario's ``@task`` function. Two ``perf_counter`` calls and
    one call into the SLO gate per iteration; an iteration cut short by ``StopUser``/``StopTest`` (or
    the greenlet killed at the run's end) is no whole iteration and is not recorded. One that
    raised is, as k6 records an iteration that threw."""

    @functools.wraps(task)
    def iteration(user: Any) -> None:
        start = perf_counter()
        try:
            task(user)
        except (StopUser, StopTest):
            raise
        except Exception:
            user._osiris_iteration_end(start)
            raise
        user._osiris_iteration_end(start)

    iteration._osiris_timed = True  # type: ignore[attr-defined]  # a subclass of a subclass: wrap once
    return iteration


class OsirisUser(FastHttpUser):
    """Shared behaviour of every scenario: k6's think time, the host rule and the checked requests.

    ``abstract`` so Locust does not offer it as a runnable user; each scenario subclass has one
    task, which is one k6 iteration: its wall time goes to the SLO gate as ``iteration_duration``
    (``_timed``; closed and open model alike).
    """

    abstract = True
    host = OSIRIS_URL or DEFAULT_HOST  # --host overrides it (Locust sets user_class.host)
    lean_http = True
    """The scenario requests go through ``osiris_load.adapter.lean_http`` (about half the generator CPU per
    request, docs/benchmarks.md); False sends them through ``self.client`` (Locust's FastHttpSession)
    as before. ``self.client`` is Locust's session either way, for a locustfile's own requests."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Locust's metaclass has collected the @task functions into cls.tasks (a weight repeats one)
        wrapped: dict[Any, Callable[[Any], None]] = {}
        cls.tasks = [wrapped.setdefault(t, _timed(t))
                     if inspect.isfunction(t) and not getattr(t, "_osiris_timed", False) else t for t in cls.tasks]

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        context = context_of(environment)
        self._osiris_open = context.active_open_model()
        self._osiris_iteration, self._osiris_context = new_iteration_context()
        gate = context.gate
        self._osiris_recording = gate.recording if gate is not None else None  # osiris_load.adapter.gate.recording
        self._osiris_scenario = type(self).__name__  # k6's scenario tag: the user class
        self._osiris_http = (LeanSession(self.host, environment.events.request, self, self.connection_timeout,
                                         self.network_timeout) if self.lean_http else None)

    def _osiris_iteration_end(self, start: float) -> None:
        """One iteration ended (``_timed``): its wall time in ms to the gate, never a request event."""
        recording = self._osiris_recording
        if recording is not None:
            recording.record_iteration(self._osiris_scenario, (perf_counter() - start) * 1000.0,
                                  self._osiris_open is not None)

    # Open model (--arrival-rate/--rate-stages, osiris_load.adapter.open_model): instead of starting at
    # once and sleeping 1 s after each iteration, the user waits for the next due iteration of its
    # class; the scenario's @task is the iteration body either way. A scenario overriding
    # on_start/on_stop must call super().
    def on_start(self) -> None:
        if self._osiris_open is not None:
            self._osiris_open.join(self)

    def on_stop(self) -> None:
        if self._osiris_open is not None:
            self._osiris_open.leave(self)
        if self._osiris_http is not None:
            self._osiris_http.close()

    def wait_time(self) -> float:
        """Closed model: k6's 1 s; open model: block (as WAITING) until the next due iteration, then 0."""
        run = getattr(self, "_osiris_open", None)  # (also read off the class, as constant(1) could be)
        if run is None:
            return THINK_TIME_S
        run.done(self)
        run.take(self)
        return 0.0

    def context(self) -> dict[str, Any]:
        """Request-event context: the running iteration (its lateness) in the open model, else nothing."""
        return self._osiris_context if self._osiris_open is not None else {}

    def _request(self, method: str, path: str, name: str, body: bytes | None, headers: dict[str, str] | None,
                 problem: Callable[[Any], str | None]) -> None:
        """One checked request: through the lean path (``lean_http``, one event per request), or with
        ``lean_http = False`` through Locust's ``FastHttpSession`` with ``catch_response``; both record
        the same event, failure text and statistics (``tests/test_lean_http.py``)."""
        lean = self._osiris_http
        if lean is not None:
            lean.checked(method, path, name, body, headers, problem)
            return
        with self.client.request(method, path, name=name, data=body, headers=headers,
                                 catch_response=True) as response:
            _conclude(response, problem(response))

    def post_generate(self) -> None:
        """``POST /generate/`` with k6_sidecar_load.js's body, reported as ``POST /generate``."""
        self._request("POST", "/generate/", "/generate", GENERATE_BODY, POST_HEADERS, generate_problem)

    def get_metrics(self) -> None:
        """``GET /metrics``, checked for Prometheus text."""
        self._request("GET", "/metrics", "/metrics", None, None, metrics_problem)

    def get_health(self) -> None:
        """``GET /health``, checked for a JSON object."""
        self._request("GET", "/health", "/health", None, None, health_problem)

    def post_proposal(self, body: bytes) -> None:
        """``POST /propose_trade_adjustments/`` with a pre-encoded body, checked against the schema."""
        self._request("POST", "/propose_trade_adjustments/", "/propose_trade_adjustments/", body, POST_HEADERS,
                      proposal_problem)


# --------------------------------------------------------------------------------------------------
# Locust options and the init-time rules
# --------------------------------------------------------------------------------------------------

_ui_default_stages: str | None = None
"""Set at init to the running shape's default, so the web UI's "stages" field shows real stages."""


def _add_options(parser: Any, **_kwargs: Any) -> None:
    """Register ``--stages`` and ``--no-shape``.

    Locust calls this for every parser it builds (also per web-UI page load, to list the extra
    options), so it must be idempotent per parser and cheap.
    """
    parser.add_argument(
        "--stages",
        type=str,
        default=_ui_default_stages,
        env_var=STAGES_ENV,
        include_in_web_ui=SHAPE_ENABLED,
        help="k6-style stages, <duration>:<users>,... e.g. 10s:5,30s:5,5s:0 (default: the scenario's own). "
        "Each stage ramps linearly from the previous target (starting at 0).",
    )
    parser.add_argument(
        "--arrival-rate",
        type=str,
        default=None,
        env_var=OPTION_ENV["arrival_rate"],
        include_in_web_ui=SHAPE_ENABLED,
        help="Open model: start this many scenario iterations per second across all workers (e.g. 20 or "
        "0.5), whatever the target does; latencies are corrected for late starts (docs/open-model.md). "
        "The run lasts -t (or until stopped); -u/-r and --stages do not apply. Empty: the closed model.",
    )
    parser.add_argument(
        "--rate-stages",
        type=str,
        default=None,
        env_var=OPTION_ENV["rate_stages"],
        include_in_web_ui=SHAPE_ENABLED,
        help="Open model with ramps of the rate, k6 ramping-arrival-rate style: <duration>:<iterations/s>,... "
        "e.g. 10s:2,30s:5,5s:0 (each stage ramps from the previous target, starting at 0). Sets the "
        "duration: do not also give a different -t.",
    )
    parser.add_argument(
        "--arrivals",
        choices=ARRIVALS,
        default=ARRIVALS[0],
        env_var=OPTION_ENV["arrivals"],
        include_in_web_ui=SHAPE_ENABLED,
        help="Open model: poisson (random, exponential gaps; default) or constant (evenly spaced) arrivals.",
    )
    parser.add_argument(
        "--max-vus",
        type=str,
        default=None,
        env_var=OPTION_ENV["max_vus"],
        include_in_web_ui=SHAPE_ENABLED,
        help="Open model: users available to run iterations, across all workers (default max(10, ceil(4 x "
        "peak rate))). When all are busy, due iterations wait and start late; past 10 s worth of waiting "
        "iterations they are dropped.",
    )
    parser.add_argument(
        "--arrival-seed",
        type=str,
        default=None,
        env_var=OPTION_ENV["arrival_seed"],
        include_in_web_ui=False,
        help="Open model: seed of the poisson arrivals (default: a fresh random schedule each run).",
    )
    parser.add_argument(
        "--no-shape",
        action="store_true",
        default=False,
        include_in_web_ui=False,
        help="Do not ramp by stages; use -u/-r/-t (or the web UI's controls) as usual. "
        "Same as OSIRIS_SHAPE=off. Best given on the command line: the locustfile looks for it in argv "
        "when imported, before Locust parses options (see docs/scenarios.md).",
    )


def _fail_startup(message: str) -> None:
    """Print one line and exit 2 before any load is generated (no traceback: SystemExit is not logged)."""
    sys.stderr.write(f"osiris-load: {message}\n")
    sys.stderr.flush()
    raise SystemExit(EXIT_BAD_INPUT)


def _on_init(environment: Any, **kwargs: Any) -> None:
    """Apply the host precedence, validate ``--stages`` and reconcile the shape switch, before any load.

    Runs on master, workers and local runners alike; ``init`` is fired synchronously from
    Locust's main(), so ``SystemExit`` here ends the process with our code.
    """
    global _ui_default_stages
    options = environment.parsed_options

    # Host: --host/LOCUST_HOST > OSIRIS_URL > the class default (localhost:8000), as in Locust where the
    # command line wins over the environment. Locust copies environment.host onto every user class
    # when it spawns; setting it here also makes the web UI show the real target.
    if environment.host:
        environment.host = environment.host.rstrip("/")
        if OSIRIS_URL and environment.host != OSIRIS_URL:
            logger.info("--host %s overrides OSIRIS_URL=%s", environment.host, OSIRIS_URL)
    elif OSIRIS_URL:
        try:
            environment.host = check_url(OSIRIS_URL)
        except ValueError as exc:
            _fail_startup(str(exc))

    if options is None:  # Locust used as a library: nothing to validate
        return

    from osiris_load.adapter.shape import StagesShape

    shape = _one_shape(environment, StagesShape)
    stages_value = getattr(options, "stages", None)
    try:
        open_config = configure(options)
    except OpenModelError as exc:
        _fail_startup(str(exc))
        return
    try:
        check_stages(open_config, stages_value, _ui_default_stages)
    except OpenModelError as exc:
        _fail_startup(str(exc))
    if open_config is not None and getattr(options, "no_shape", False) and isinstance(shape, StagesShape):
        environment.shape_class = None  # --no-shape from a config file (see below)
    install(environment, open_config)
    web_ui = kwargs.get("web_ui")
    if web_ui is not None and SHAPE_ENABLED:  # the open model's fields are in the start form
        attach_start_form(environment, web_ui, lambda: _ui_default_stages)
    if open_config is not None:
        return  # the shape (if any) runs --max-vus users for the open model's duration
    if getattr(options, "no_shape", False) and isinstance(shape, StagesShape):
        # --no-shape came from a config file or LOCUST_* env, which import-time detection cannot see.
        logger.info("--no-shape (from a config file): not ramping by stages; -u/-r/-t apply after all")
        environment.shape_class = None
        shape = None
    if not isinstance(shape, StagesShape):
        if stages_value:
            logger.warning("--stages %s is ignored: the stages shape is off (--no-shape)", stages_value)
        return

    text = stages_value if isinstance(stages_value, str) and stages_value.strip() else shape.default_stages
    if not stages_value:
        source = f"{type(shape).__name__}.default_stages"
    elif any(arg == "--stages" or arg.startswith("--stages=") for arg in sys.argv[1:]):
        source = "--stages"
    elif os.environ.get(STAGES_ENV):
        source = STAGES_ENV
    else:
        source = "stages (config file)"
    try:
        stages = stages_option(text, source)
    except StagesError as exc:
        _fail_startup(str(exc))
        return
    options.stages = text
    _ui_default_stages = text
    if options.headless or options.autostart:
        shape.given_options = (options.num_users, options.spawn_rate, options.run_time)
    if shape.use_common_options and stages_value:
        logger.info("--stages %s wins over -u/-r (-t still ends the run)", format_stages(stages))
    elif not shape.use_common_options and any(getattr(options, n, None) for n in ("num_users", "spawn_rate")):
        logger.info(
            "Ramping by stages %s; pass --no-shape (or OSIRIS_SHAPE=off) to use -u/-r/-t",
            format_stages(stages),
        )


def _one_shape(environment: Any, stages_shape: type) -> Any:
    """The shape to run when ``-f`` named several scenarios (a folder, or ``a.py,b.py``).

    Locust would take the first shape it found; instead the mixed scenario's shape runs (all users,
    mixed.py's weights and stages) when it is among them, and otherwise the run is refused.
    """
    shapes = {name: shape for name, shape in (environment.available_shape_classes or {}).items()
              if isinstance(shape, stages_shape)}
    if len(shapes) <= 1:
        return environment.shape_class
    where = getattr(environment.parsed_options, "locustfile", None) or "the locustfiles"
    mixed = shapes.get("MixedShape")
    if mixed is None:
        _fail_startup(f"-f {where} names several scenarios with their own stages ({', '.join(sorted(shapes))}): "
                      "name one locustfile, or locustfiles/mixed.py to run them all as mixed traffic")
    if environment.shape_class is not None and environment.shape_class is not mixed:
        mixed.runner = environment.shape_class.runner
        environment.shape_class = mixed
    logger.info("-f %s names several scenarios: running all of them as one mixed run (mixed.py's weights and "
                "stages)", where)
    return mixed


if __name__ == "osiris_load.adapter.users":
    # Locust also loads this file by path as a module named "common" when -f names the folder; the
    # listeners belong to the one real module, so the options are added once (no argparse conflict).
    events.init_command_line_parser.add_listener(_add_options)
    events.init.add_listener(_on_init)
