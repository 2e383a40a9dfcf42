"""k6's built-in metric names as SLO keys: ``http_req_failed: ['rate<0.01']`` pasted as is.

A k6 ``options.thresholds`` object names a *metric* (optionally narrowed by tags) and lists
expressions over it. Here each such key becomes one SLO row (``osiris_load.core.slo.table``) whose requests,
status and outcome filters come from the tags, and whose expressions keep k6's meaning:

* ``http_req_failed``: ``rate`` is the share of requests that *failed* (read as ``fail_rate``);
* ``checks``: ``rate`` is the share that passed (a failed check fails its request here);
* ``http_req_duration``: latency (``avg min max med p(N)``);
* ``http_reqs``: ``count``, and ``rate`` = requests per second over the run (a throughput);
* ``iteration_duration``: the wall time (ms) of one iteration (one run of a user's ``@task``),
  measured by ``osiris_load.adapter.users.OsirisUser`` and recorded under the reserved method
  :data:`ITERATION_METHOD`, which no request row, count or listing ever takes (``avg min max med p(N)``,
  and ``count``: the number of iterations).
* ``llm_ttft``, ``llm_itl``, ``llm_tpot``, ``llm_e2el`` (trends, ms: ``avg min max med p(N)``): the
  streamed answers' measurements, which ``osiris_load.adapter.llm_user`` hands to the gate (no Locust
  request event: one streamed answer is one Locust request) under the method :data:`LLM_METHOD`,
  named by :func:`llm_entry_name` (``"TTFT /v1/chat/completions @OpenAIChatUser"``, ``"ITL ..."``: one
  sample per inter-token gap, ``"TPOT ..."``, ``"E2EL ..."``); the key selects those (:data:`LLM_TRENDS`).
  They are measurements, not requests (:func:`is_request`), and only rows that name the ``LLM``
  method take them (a ``*`` method does not);
* ``llm_output_tokens``, ``llm_input_tokens`` (counters: ``count`` = tokens, ``rate`` = tokens per
  second over the run): one sample per whole answer, its tokens as the value, recorded by the gate
  under the reserved method :data:`TOKENS_METHOD`, named ``"output <path> @<user class>"`` and
  ``"input <path> @<user class>"``.

Tags: on the ``llm_*`` keys ``name`` (the path the answers were asked at, e.g.
``/v1/chat/completions``; ``*`` wildcards as in rows) and ``scenario`` (the user class, as on
``iteration_duration``). Otherwise ``name`` (the Locust request name),
``method`` (``GET``, ``POST`` ...), ``status`` (the response code; 0 when no response came) and
``expected_response`` (``true``: successful requests only, ``false``: failed ones only); on
``iteration_duration`` only ``scenario`` (the user class). Pure: no Locust import; the message of every
:class:`K6KeyError` names the 1-based column of the problem in the key.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from osiris_load.core.slo.expressions import Aggregation, ExpressionError, Threshold, parse_threshold

__all__ = ["ITERATION_METHOD", "ITERATION_METRIC", "K6_METRICS", "LLM_METHOD", "LLM_TOKENS", "LLM_TRENDS",
           "SCENARIO_MARK", "TOKENS_METHOD", "is_request", "is_reserved", "llm_entry_name", "K6_TAGS", "K6Key",
           "K6KeyError", "NOT_MEASURED", "k6_seconds", "parse_k6_expression", "parse_k6_key", "sum_of_units"]

#: The recorder's method for iteration durations: Locust request types are printable names, so a
#: key starting with NUL can never be a request's (and the overflow pools use the empty method).
ITERATION_METHOD = "\x00ITERATION"
ITERATION_METRIC = "iteration_duration"
#: The recorder method of the LLM measurements (``osiris_load.core.slo.answers``): no Locust request type.
LLM_METHOD = "LLM"
#: The recorder's method for tokens per answer (never a request, as :data:`ITERATION_METHOD`).
TOKENS_METHOD = "\x00TOKENS"
#: ``llm_*`` trend key -> the prefix of its entries' names (``"TTFT /v1/chat/completions"``).
LLM_TRENDS: dict[str, str] = {"llm_ttft": "TTFT", "llm_itl": "ITL", "llm_tpot": "TPOT", "llm_e2el": "E2EL"}
#: ``llm_*`` counter key -> the prefix of its token keys' names (``"output /v1/chat/completions"``).
LLM_TOKENS: dict[str, str] = {"llm_output_tokens": "output", "llm_input_tokens": "input"}
_TREND = ("avg", "min", "max", "med", "p(N)")


def is_reserved(method: str) -> bool:
    """Whether a recorder key's method is a reserved one (iterations, tokens): never a request, so
    never counted, listed or judged as one."""
    return method.startswith("\x00")


def is_request(method: str) -> bool:
    """Whether a recorder key counts as requests: not a reserved key, nor an LLM measurement (listed
    with the endpoints, with its exact figures, but a sample of a request, not one)."""
    return method != LLM_METHOD and not method.startswith("\x00")


#: Between an LLM entry's path and its user class (:func:`llm_entry_name`).
SCENARIO_MARK = " @"


def llm_entry_name(prefix: str, path: str, scenario: str) -> str:
    """The recorder name of one LLM measurement or token count: ``"TTFT /v1/chat/completions @OpenAIChatUser"``
    (``prefix`` from :data:`LLM_TRENDS` or :data:`LLM_TOKENS`, the path asked, the user class), so that
    ``{name:...}`` and ``{scenario:...}`` both select; ``"*"`` parts make a pattern."""
    return f"{prefix} {path}{SCENARIO_MARK}{scenario}"


# metric -> the aggregations k6 allows on it (in the order a message lists them)
K6_METRICS: dict[str, tuple[str, ...]] = {
    "http_req_failed": ("rate",),
    "checks": ("rate",),
    "http_req_duration": ("avg", "min", "max", "med", "p(N)"),
    "http_reqs": ("count", "rate"),
    ITERATION_METRIC: ("avg", "min", "max", "med", "p(N)", "count"),  # count: of iterations (a k6 Trend's)
    **{metric: _TREND for metric in LLM_TRENDS},
    **{metric: ("count", "rate") for metric in LLM_TOKENS},
}
# k6 metrics that exist but are not measured here: why, for the listing
NOT_MEASURED: dict[str, str] = {}
K6_TAGS: tuple[str, ...] = ("name", "method", "status", "expected_response")
_ITERATION_TAGS: tuple[str, ...] = ("scenario",)  # k6's scenario tag: here the user class
_LLM_TAGS: tuple[str, ...] = ("name", "scenario")  # the path the answers were asked at, the user class
_KNOWN_K6 = ("http_req_blocked", "http_req_connecting", "http_req_receiving", "http_req_sending",
             "http_req_tls_handshaking", "http_req_waiting", "iterations", "vus", "vus_max", "data_received",
             "data_sent", "dropped_iterations", "group_duration")
_METRIC = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_K6_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class K6KeyError(ValueError):
    """A threshold key or expression k6 users wrote that cannot be judged here; the message says
    what and where (1-based column in the key)."""


@dataclass(frozen=True)
class K6Key:
    """A parsed key: the metric and the tag selectors (``None``: not narrowed by that tag)."""

    source: str
    metric: str
    name: str | None = None
    method: str | None = None
    status: int | None = None
    expected: bool | None = None
    scenario: str | None = None

    @property
    def requests(self) -> tuple[str, ...]:
        """The ``"METHOD NAME"`` pattern this key selects (``*`` for any method or name); for
        ``iteration_duration``, ``"ITERATION <user class or *>"`` (shown; ``SloRow.matches_key``
        takes only :data:`ITERATION_METHOD` keys for it)."""
        if self.metric == ITERATION_METRIC:
            return (f"ITERATION {self.scenario if self.scenario is not None else '*'}",)
        name = self.name if self.name is not None else "*"
        scenario = self.scenario if self.scenario is not None else "*"
        if self.metric in LLM_TRENDS:
            return (f"{LLM_METHOD} {llm_entry_name(LLM_TRENDS[self.metric], name, scenario)}",)
        if self.metric in LLM_TOKENS:
            return (f"TOKENS {llm_entry_name(LLM_TOKENS[self.metric], name, scenario)}",)
        return (f"{self.method or '*'} {self.name if self.name is not None else '*'}",)


def parse_k6_key(key: str) -> K6Key:
    """``http_req_duration{name:/generate,expected_response:true}`` -> :class:`K6Key`.

    As in k6, tags are ``tag:value`` pairs separated by commas inside one pair of braces; the
    value runs to the next comma (spaces around it are dropped)."""
    text = key
    m = _METRIC.match(text.strip())
    lead = len(text) - len(text.lstrip())
    if m is None:
        raise K6KeyError(f"threshold key {key!r}: expected a k6 metric name at column {lead + 1}")
    metric = m.group()
    pos = lead + m.end()
    rest = text[pos:].rstrip()
    if metric not in K6_METRICS and metric not in NOT_MEASURED:
        known = ", ".join((*K6_METRICS, *NOT_MEASURED))
        why = ("a k6 metric this gate does not measure" if metric in _KNOWN_K6
               else "not an LLM metric key" if metric.lower().startswith("llm")
               else "not a k6 built-in metric (custom metrics are not carried over)")
        close = ([] if metric in _KNOWN_K6
                 else difflib.get_close_matches(metric.lower(), [*K6_METRICS, *NOT_MEASURED], n=1, cutoff=0.75))
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise K6KeyError(f"threshold key {key!r}: {metric!r} is {why}{hint}; supported: {known}")
    fields: dict[str, object] = {}
    if rest:
        if not (rest.startswith("{") and rest.endswith("}")):
            raise K6KeyError(f"threshold key {key!r}: expected '{{tag:value,...}}' after {metric!r} "
                             f"at column {pos + 1}")
        column = pos + 2
        for part in rest[1:-1].split(","):
            tag, colon, value = part.partition(":")
            tag, value = tag.strip(), value.strip()
            if not colon or not tag or not value:
                raise K6KeyError(f"threshold key {key!r}: bad tag selector {part.strip()!r} at column {column}: "
                                 "write tag:value, e.g. {name:/generate}")
            tags = _tags_of(metric)
            if tag not in tags:
                raise K6KeyError(f"threshold key {key!r}: tag {tag!r} at column {column} is not recorded here"
                                 f"{' for ' + metric if tags is not K6_TAGS else ''}; "
                                 f"supported tags: {', '.join(tags)}")
            if tag in fields:
                raise K6KeyError(f"threshold key {key!r}: tag {tag!r} given twice (column {column})")
            fields[tag] = _tag_value(key, tag, value, column)
            column += len(part) + 1
    return K6Key(source=key.strip(), metric=metric, name=fields.get("name"),  # type: ignore[arg-type]
                 method=fields.get("method"), status=fields.get("status"),  # type: ignore[arg-type]
                 expected=fields.get("expected_response"),  # type: ignore[arg-type]
                 scenario=fields.get("scenario"))  # type: ignore[arg-type]


def _tags_of(metric: str) -> tuple[str, ...]:
    if metric == ITERATION_METRIC:
        return _ITERATION_TAGS
    if metric in LLM_TRENDS or metric in LLM_TOKENS:
        return _LLM_TAGS
    return K6_TAGS


def _tag_value(key: str, tag: str, value: str, column: int) -> object:
    if tag == "method":
        return value.upper()
    if tag == "status":
        if not value.isdigit() or int(value) > 999:
            raise K6KeyError(f"threshold key {key!r}: status {value!r} at column {column} is not an HTTP status "
                             "code (e.g. 200; 0 is no response)")
        return int(value)
    if tag == "expected_response":
        if value not in ("true", "false"):
            raise K6KeyError(f"threshold key {key!r}: expected_response must be true or false, got {value!r} "
                             f"(column {column})")
        return value == "true"
    return value


def parse_k6_expression(metric: str, text: str) -> Threshold:
    """An expression over ``metric`` with k6's meaning (see the module docstring): raises
    :class:`~osiris_load.core.slo.expressions.ExpressionError` for bad syntax and :class:`K6KeyError` for an
    aggregation the metric does not have."""
    counter = metric == "http_reqs" or metric in LLM_TOKENS
    threshold = parse_threshold(text, rate_is_throughput=counter)
    kind = threshold.aggregation.kind
    allowed = K6_METRICS[metric]
    if counter:
        ok = kind in ("count", "throughput")
    elif metric in LLM_TRENDS or metric == "http_req_duration":
        ok = threshold.aggregation.is_latency
    else:
        ok = {"http_req_failed": kind == "rate", "checks": kind == "rate",
              ITERATION_METRIC: threshold.aggregation.is_latency or kind == "count"}[metric]
    if not ok:
        label = threshold.aggregation.label()
        where = "" if metric in LLM_TRENDS or metric in LLM_TOKENS else " in k6"
        raise ExpressionError(f"{metric} has no {label!r}{where}; use {' or '.join(allowed)}", text, 1)
    if metric == "http_req_failed":  # k6's rate of a failure metric: the share that failed
        return Threshold(source=threshold.source, aggregation=Aggregation("fail_rate"), op=threshold.op,
                         value=threshold.value)
    return threshold


def sum_of_units(text: str, units: dict[str, float]) -> float | None:
    """``1m30s`` -> 90.0: the sum of number-unit parts (``units``: each suffix's seconds), the whole
    text and nothing else; ``None`` when it is not that. One reader for the SLO file's durations
    and k6's (which adds ``ns us µs d``)."""
    suffixes = "|".join(sorted(map(re.escape, units), key=len, reverse=True))
    pos, seconds = 0, 0.0
    for m in re.finditer(rf"(\d+(?:\.\d+)?|\.\d+)({suffixes})", text):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    return seconds if text and pos == len(text) else None


def k6_seconds(value: Any) -> float:
    """Seconds from a duration as k6 reads it: a number (or a string of digits) is milliseconds,
    a string is Go's duration syntax (``1m30s``, ``500ms``, ``1.5h``) with k6's ``d`` for days.
    ``ValueError`` with what is wrong otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a duration (a number of milliseconds or a string like '30s')")
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text) / 1000
        else:
            parsed = sum_of_units(text, _K6_UNITS)
            if parsed is None:
                raise ValueError(f"{value!r} is not a duration (e.g. '30s', '1m30s', '500ms', or a number of ms)")
            seconds = parsed
    else:
        seconds = float(value) / 1000
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r} is not a duration >= 0")
    return seconds
