"""The SLO table: which requests are judged by which thresholds, loaded from a TOML file.

The format is documented for users in ``docs/slo-file.md``. The loader is strict on purpose: an
SLO gate that silently ignores a misspelt key (``abortOnFail``) or a typo in a request name is a
gate that passes runs it should fail. Every problem raises :class:`SloFileError` whose message
names the file, the row (1-based index and name) and, where one is involved, the expression.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from osiris_load.core.slo.expressions import ExpressionError, Threshold, format_number, parse_threshold
from osiris_load.core.slo.k6_metrics import (
    ITERATION_METHOD,
    ITERATION_METRIC,
    LLM_METHOD,
    LLM_TOKENS,
    LLM_TRENDS,
    NOT_MEASURED,
    SCENARIO_MARK,
    TOKENS_METHOD,
    K6KeyError,
    k6_seconds,
    parse_k6_expression,
    parse_k6_key,
    sum_of_units,
)

__all__ = [
    "DEFAULT_TABLE_PATH",
    "HTTP_METHODS",
    "LLM_TABLE_PATH",
    "SloFileError",
    "SloRow",
    "SloTable",
    "ThresholdSpec",
    "load_table",
    "parse_duration",
    "parse_table",
    "request_matchers",
]

DEFAULT_TABLE_PATH: Path = Path(__file__).with_name("default.toml")
#: The LLM scenario's default table (``locustfiles/openai_chat.py``): the ``llm_*`` keys.
LLM_TABLE_PATH: Path = Path(__file__).with_name("llm.toml")

HTTP_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE",
                                 "CONNECT")

_TOP_KEYS = ("row", "thresholds")
_ROW_KEYS = ("name", "requests", "thresholds", "required", "description")
_THRESHOLD_KEYS = ("threshold", "abort_on_fail", "delay_abort_eval")
_K6_THRESHOLD_KEYS = ("threshold", "abortOnFail", "delayAbortEval")  # [thresholds]: k6's spelling
# A success-rate threshold ``rate < x`` (or ``<=``) with x at most this is almost surely a failure
# rate written the k6 way (``http_req_failed: rate<0.01``): warned about when the table loads.
SMALL_RATE = 0.1
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class SloFileError(ValueError):
    """A malformed SLO file. The message is meant to be printed as is (it names the file, the row
    and the expression)."""


@dataclass(frozen=True)
class ThresholdSpec:
    """A threshold and k6's long-form options: ``abort_on_fail`` stops the test as soon as the
    threshold fails during the run, but not before ``delay_abort_eval_s`` seconds have passed
    (so that a cold start does not abort it)."""

    threshold: Threshold
    abort_on_fail: bool = False
    delay_abort_eval_s: float = 0.0


def _compile_request(request: str) -> tuple[str, re.Pattern[str] | None, str]:
    """Split ``"METHOD NAME"``; the name is a pattern only if it holds ``*`` (any run of
    characters, ``/`` included). No other character is special: Locust names such as
    ``/items/[id]`` must match literally, which ``fnmatch``'s ``[...]`` classes would break."""
    method, _, name = request.strip().partition(" ")
    name = name.strip()
    if "*" not in name:
        return method.upper(), None, name
    regex = ".*".join(re.escape(part) for part in name.split("*"))
    return method.upper(), re.compile(regex, re.DOTALL), name


def request_matchers(requests: tuple[str, ...] | list[str]) -> Callable[[str, str], bool]:
    """``(method, name) -> bool``: whether a request is one of ``requests`` (``"METHOD NAME"``).

    The method compares case-insensitively (``*``: any method, for k6 metric keys, but not the
    ``LLM`` measurements: samples of requests, taken only by patterns that name their method), the
    name exactly, or by ``*`` wildcards over the whole name (never as a prefix)."""
    compiled = tuple(_compile_request(r) for r in requests)

    def matches(method: str, name: str) -> bool:
        method = method.upper()
        for row_method, pattern, row_name in compiled:
            if row_method != method and (row_method != "*" or method == LLM_METHOD):
                continue
            if name == row_name or (pattern is not None and pattern.fullmatch(name)):
                return True
        return False

    return matches


@dataclass(frozen=True)
class SloRow:
    """One SLO: the requests it pools (``"METHOD NAME"``) and the thresholds they must meet.

    All matched requests are pooled into one distribution, like a k6 sub-metric. ``required``
    makes "no data" (none of the requests ran) a failure instead of a neutral result.

    Rows from k6 metric keys (``[thresholds]``, ``osiris_load.core.slo.k6_metrics``) also carry ``metric`` and
    may narrow the requests by response ``status`` and by ``outcome`` (``True``: successful
    requests only, k6's ``expected_response:true``; ``False``: failed ones only). Those filters
    need a recorder that splits its keys by status and outcome (:attr:`needs_split`).
    """

    name: str
    requests: tuple[str, ...]
    thresholds: tuple[ThresholdSpec, ...]
    required: bool = False
    description: str = ""
    metric: str = ""
    status: int | None = None
    outcome: bool | None = None
    _matches: Callable[[str, str], bool] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_matches", request_matchers(self.requests))

    def matches(self, method: str, name: str) -> bool:
        """Whether a request (Locust's ``request_type`` and ``name``) belongs to this row
        (:func:`request_matchers`)."""
        return self._matches(method, name)

    @property
    def is_iteration(self) -> bool:
        """Whether this row judges iteration durations (k6's ``iteration_duration``), not requests."""
        return self.metric == ITERATION_METRIC

    @property
    def is_tokens(self) -> bool:
        """Whether this row judges tokens per answer (``llm_output_tokens``, ``llm_input_tokens``):
        its ``count`` is the tokens' sum and its ``rate`` tokens per second."""
        return self.metric in LLM_TOKENS

    @property
    def reserved_method(self) -> str | None:
        """The reserved recorder method this row alone selects (iterations, tokens), else ``None``."""
        return ITERATION_METHOD if self.is_iteration else TOKENS_METHOD if self.is_tokens else None

    @property
    def needs_split(self) -> bool:
        """Whether judging this row needs the recorder's keys split by status and outcome."""
        return self.status is not None or self.outcome is not None

    def matches_key(self, key: tuple[str, ...]) -> bool:
        """Whether a recorder key belongs to this row: ``(method, name)``, or, from a recorder that
        splits, ``(method, name, status, failed)``. A row with a status or outcome filter takes
        no unsplit key (it cannot tell which of its requests qualify). Iteration durations
        (:data:`~osiris_load.core.slo.k6_metrics.ITERATION_METHOD` keys) belong to ``iteration_duration`` rows only,
        and those rows take nothing else; tokens (``TOKENS_METHOD``) likewise to ``llm_*_tokens`` rows."""
        reserved = self.reserved_method
        if reserved is not None or key[0][:1] == "\x00":
            return key[0] == reserved and self._matches(reserved[1:], key[1])
        if not self._matches(key[0], key[1]):
            return False
        if not self.needs_split:
            return True
        if len(key) < 4:
            return False
        return (self.status is None or key[2] == self.status) and (self.outcome is None or key[3] != self.outcome)

    @property
    def latency_limits(self) -> tuple[float, ...]:
        """The limits (ms) of this row's percentile and median thresholds: decided by exact counts."""
        return tuple(s.threshold.value for s in self.thresholds if s.threshold.aggregation.kind in ("p", "med"))


@dataclass(frozen=True)
class SloTable:
    """All rows of one SLO file; ``source`` names the file (or ``<string>``) for messages."""

    rows: tuple[SloRow, ...]
    source: str
    #: What the file asks that is not judged (k6 metrics not measured here), one line each.
    notes: tuple[str, ...] = ()
    #: Probable mistakes (``rate<0.01`` on a success rate), one line each: printed once at load.
    warnings: tuple[str, ...] = ()

    @property
    def needs_split(self) -> bool:
        """Whether any row filters by status or outcome (the recorder must split its keys)."""
        return any(row.needs_split for row in self.rows)

    def row(self, name: str) -> SloRow:
        """The row called ``name`` (``KeyError`` if there is none)."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def select(self, names: list[str] | tuple[str, ...]) -> tuple[SloTable, tuple[str, ...]]:
        """The table restricted to the rows called ``names`` (in the file's order) and the names of
        the rows left out. Raises :class:`SloFileError` naming any unknown row (with a hint)."""
        known = [row.name for row in self.rows]
        unknown = [n for n in names if n not in known]
        if unknown:
            hints = []
            for n in unknown:
                close = difflib.get_close_matches(n, known, n=1)
                hints.append(f"{n!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise SloFileError(f"{self.source}: no row called {', '.join(hints)}; rows: {', '.join(known)}")
        kept = tuple(row for row in self.rows if row.name in names)
        left_out = tuple(row.name for row in self.rows if row.name not in names)
        return replace(self, rows=kept), left_out


def _type_name(value: object) -> str:
    """TOML's word for a value's type, for messages written for people who wrote TOML."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return "date/time" if value is not None else "nothing"


def _unknown_keys(keys: list[str], allowed: tuple[str, ...]) -> str:
    """``"unknown key 'abortOnFail' (did you mean 'abort_on_fail'?)"`` for each key not allowed."""
    parts = []
    for key in keys:
        close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
        if not close:
            close = [a for a in allowed if a.replace("_", "") == key.replace("_", "").lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parts.append(f"{key!r}{hint}")
    noun = "unknown key" if len(keys) == 1 else "unknown keys"
    return f"{noun} {', '.join(parts)}; allowed: {', '.join(allowed)}"


def parse_duration(value: object) -> float:
    """Seconds from ``"10s"``, ``"500ms"``, ``"1m"``, ``"1m30s"``, ``"1h"`` or a number of seconds.

    Raises ``ValueError`` with a message that shows the accepted forms.
    """
    accepted = "use e.g. \"10s\", \"500ms\", \"1m\" or a number of seconds"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"bad duration {value!r} ({_type_name(value)}): {accepted}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        parsed = sum_of_units(text, _DURATION_UNITS)
        if parsed is None:
            hint = " (a string needs a unit)" if re.fullmatch(r"[\d.]+", text) else ""
            raise ValueError(f"bad duration {value!r}{hint}: {accepted}")
        seconds = parsed
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"bad duration {value!r}: must be a finite number of seconds >= 0")
    return seconds


class _Loader:
    """Validates the decoded TOML document; kept as a class so every message gets the same
    ``file: row N 'name':`` prefix."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str, row: int | None = None, name: object = None,
              expression: str | None = None) -> SloFileError:
        where = self.source
        if row is not None:
            where += f": row {row}"
            if isinstance(name, str) and name.strip():
                where += f" {name!r}"
        if expression is not None:
            where += f": threshold {expression!r}"
        return SloFileError(f"{where}: {message}")

    def table(self, doc: dict[str, Any]) -> SloTable:
        unknown = [k for k in doc if k not in _TOP_KEYS]
        if unknown:
            raise self.error(_unknown_keys(unknown, _TOP_KEYS) + " (each SLO is a [[row]] table, or a k6 "
                             "metric key in [thresholds])")
        k6_rows, notes = self.k6_thresholds(doc.get("thresholds"))
        rows_raw = doc.get("row")
        if rows_raw is None and (k6_rows or notes):
            rows_raw = []
        elif rows_raw is None:
            raise self.error("no rows: add at least one [[row]] table with name, requests and thresholds")
        if isinstance(rows_raw, dict):
            raise self.error("'row' must be an array of tables: write [[row]], not [row]")
        if not isinstance(rows_raw, list):
            raise self.error(f"'row' must be an array of tables ([[row]]), got {_type_name(rows_raw)}")
        if not rows_raw and not k6_rows and not notes:
            raise self.error("no rows: add at least one [[row]] table with name, requests and thresholds")
        rows: list[SloRow] = []
        first_index: dict[str, int] = {}
        for index, raw in enumerate(rows_raw, start=1):
            row = self.row(index, raw)
            if row.name in first_index:
                raise self.error(f"duplicate row name (already used by row {first_index[row.name]})",
                                 index, row.name)
            first_index[row.name] = index
            rows.append(row)
        for row in k6_rows:
            if row.name in first_index:
                raise self.error(f"[thresholds] key {row.name!r} is also the name of row {first_index[row.name]}")
            rows.append(row)
        return SloTable(rows=tuple(rows), source=self.source, notes=tuple(notes),
                        warnings=tuple(_rate_warnings(self.source, rows)))

    def k6_thresholds(self, raw: object) -> tuple[list[SloRow], list[str]]:
        """``[thresholds]``: k6 metric keys with lists of expressions, as k6's ``options.thresholds``
        (``osiris_load.core.slo.k6_metrics``). Returns the rows and the notes for keys that are not measured."""
        if raw is None:
            return [], []
        if not isinstance(raw, dict):
            raise self.error(f"'thresholds' must be a table of k6 metric keys ([thresholds]), got {_type_name(raw)}")
        rows: list[SloRow] = []
        notes: list[str] = []
        for key, items in raw.items():
            where = f"[thresholds] {key!r}"
            try:
                parsed = parse_k6_key(key)
            except K6KeyError as exc:
                raise SloFileError(f"{self.source}: {exc}") from None
            if isinstance(items, str | dict):
                items = [items]
            if not isinstance(items, list) or not items:
                raise self.error(f"{where}: expected a non-empty array of expressions like \"p(95)<800\" "
                                 f"(k6's thresholds), got {_type_name(items) if items != [] else 'an empty array'}")
            if parsed.metric in NOT_MEASURED:
                exprs = ", ".join(repr(i if isinstance(i, str) else i.get("threshold")) for i in items)
                notes.append(f"{parsed.source}: {NOT_MEASURED[parsed.metric]} ({exprs} not judged)")
                continue
            specs = tuple(self.k6_threshold(where, parsed.metric, i, item) for i, item in enumerate(items, 1))
            rows.append(SloRow(name=parsed.source, requests=parsed.requests, thresholds=specs,
                               metric=parsed.metric, status=parsed.status, outcome=parsed.expected))
        return rows, notes

    def k6_threshold(self, where: str, metric: str, position: int, raw: object) -> ThresholdSpec:
        """One entry of a k6 threshold list: a string, or ``{threshold, abortOnFail, delayAbortEval}``."""
        if isinstance(raw, dict):
            unknown = [k for k in raw if k not in _K6_THRESHOLD_KEYS]
            if unknown:
                raise self.error(f"{where}: threshold {position}: {_unknown_keys(unknown, _K6_THRESHOLD_KEYS)}")
            expr = raw.get("threshold")
            if not isinstance(expr, str):
                raise self.error(f"{where}: threshold {position}: 'threshold' must be a string (the expression), "
                                 f"got {_type_name(expr)}")
            abort = raw.get("abortOnFail", False)
            if not isinstance(abort, bool):
                raise self.error(f"{where}: threshold {expr!r}: 'abortOnFail' must be true or false, "
                                 f"got {_type_name(abort)}")
            delay = 0.0
            if "delayAbortEval" in raw:
                try:  # k6's reading, as every key of [thresholds]: a number is milliseconds
                    delay = k6_seconds(raw["delayAbortEval"])
                except ValueError as exc:
                    raise self.error(f"{where}: threshold {expr!r}: 'delayAbortEval': {exc}") from None
        elif isinstance(raw, str):
            expr, abort, delay = raw, False, 0.0
        else:
            raise self.error(f"{where}: threshold {position} must be a string like \"p(95)<800\" or a table "
                             f"{{ threshold = \"...\", abortOnFail = true }}, got {_type_name(raw)}")
        try:
            threshold = parse_k6_expression(metric, expr)
        except ExpressionError as exc:
            raise self.error(f"{where}: threshold {expr!r}: {exc.detail}") from None
        return ThresholdSpec(threshold, abort_on_fail=abort, delay_abort_eval_s=delay)

    def row(self, index: int, raw: object) -> SloRow:
        if not isinstance(raw, dict):
            raise self.error(f"expected a table ([[row]] with name, requests, thresholds), "
                             f"got {_type_name(raw)}", index)
        name = raw.get("name")
        unknown = [k for k in raw if k not in _ROW_KEYS]
        if unknown:
            raise self.error(_unknown_keys(unknown, _ROW_KEYS), index, name)
        for key in ("name", "requests", "thresholds"):
            if key not in raw:
                raise self.error(f"missing key {key!r}", index, name)
        if not isinstance(name, str):
            raise self.error(f"'name' must be a string, got {_type_name(name)}", index)
        if not name.strip():
            raise self.error("'name' must not be empty", index)
        required = raw.get("required", False)
        if not isinstance(required, bool):
            raise self.error(f"'required' must be true or false, got {_type_name(required)}", index, name)
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise self.error(f"'description' must be a string, got {_type_name(description)}", index, name)
        metric, requests = self.llm_requests(index, name, raw["requests"])
        if not metric:
            requests = self.requests(index, name, raw["requests"])
        thresholds = self.thresholds(index, name, raw["thresholds"], metric)
        return SloRow(name=name, requests=requests, thresholds=thresholds, required=required,
                      description=description, metric=metric)

    def llm_requests(self, index: int, name: str, raw: object) -> tuple[str, tuple[str, ...]]:
        """A row over LLM measurements: ``requests = ["llm_ttft{name:/v1/chat/completions}"]``, keys of
        one ``llm_*`` metric (``osiris_load.core.slo.k6_metrics``); ``("", ())`` when the requests are
        not such keys. Its thresholds then read as that key's (``rate``: tokens per second)."""
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not any(isinstance(i, str) and i.strip().lower().startswith("llm_")
                                                  for i in items):
            return "", ()
        keys = []
        for item in items:
            if not isinstance(item, str) or not item.strip().lower().startswith("llm_"):
                raise self.error(f"request {item!r}: a row over an llm_* key takes llm_* keys only (one metric); "
                                 "put HTTP requests in a row of their own", index, name)
            try:
                keys.append(parse_k6_key(item))
            except K6KeyError as exc:
                raise self.error(str(exc), index, name) from None
        metrics = sorted({k.metric for k in keys})
        if len(metrics) > 1 or metrics[0] not in (*LLM_TRENDS, *LLM_TOKENS):
            raise self.error(f"requests {', '.join(map(repr, items))}: one row judges one llm_* metric "
                             f"(of {', '.join((*LLM_TRENDS, *LLM_TOKENS))}), got {', '.join(metrics)}", index, name)
        return metrics[0], tuple(dict.fromkeys(r for k in keys for r in k.requests))

    def requests(self, index: int, name: str, raw: object) -> tuple[str, ...]:
        if isinstance(raw, str):
            raw = [raw]  # one request is common enough to allow the short form
        if not isinstance(raw, list):
            raise self.error(f"'requests' must be an array of strings like \"GET /health\", "
                             f"got {_type_name(raw)}", index, name)
        if not raw:
            raise self.error("'requests' must not be empty: list the requests this SLO judges, "
                             "e.g. [\"GET /health\"]", index, name)
        out: list[str] = []
        for i, item in enumerate(raw, start=1):
            if not isinstance(item, str):
                raise self.error(f"request {i} must be a string like \"GET /health\", "
                                 f"got {_type_name(item)}", index, name)
            parts = item.split(None, 1)
            if len(parts) < 2 or not parts[1].strip():
                if parts and parts[0].upper() in HTTP_METHODS:
                    raise self.error(f"request {item!r} has no name after the method: write it as "
                                     f"'METHOD NAME', e.g. '{parts[0].upper()} /health'", index, name)
                raise self.error(f"request {item!r} has no method: write it as 'METHOD NAME', "
                                 f"e.g. 'GET {item.strip() or '/health'}'", index, name)
            method, req_name = parts[0], parts[1].strip()
            if method.upper() not in HTTP_METHODS and method.upper() != LLM_METHOD:
                raise self.error(f"unknown HTTP method {method!r} in request {item!r}; expected one of "
                                 f"{', '.join(HTTP_METHODS)} (or {LLM_METHOD} for the LLM measurements, "
                                 "or an llm_* key)", index, name)
            if method.upper() == LLM_METHOD and SCENARIO_MARK not in req_name:
                req_name += f"{SCENARIO_MARK}*"  # "LLM TTFT /v1/chat/completions": of any user class
            normalised = f"{method.upper()} {req_name}"
            if normalised in out:
                raise self.error(f"request {item!r} is listed twice", index, name)
            out.append(normalised)
        return tuple(out)

    def thresholds(self, index: int, name: str, raw: object, metric: str = "") -> tuple[ThresholdSpec, ...]:
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            raise self.error(f"'thresholds' must be an array of expressions like \"p(95)<800\", "
                             f"got {_type_name(raw)}", index, name)
        if not raw:
            raise self.error("'thresholds' must not be empty: add e.g. \"p(95)<800\"", index, name)
        return tuple(self.threshold(index, name, i, item, metric) for i, item in enumerate(raw, start=1))

    def threshold(self, index: int, name: str, position: int, raw: object, metric: str = "") -> ThresholdSpec:
        if isinstance(raw, str):
            return ThresholdSpec(self.expression(index, name, raw, metric))
        if not isinstance(raw, dict):
            raise self.error(f"threshold {position} must be a string like \"p(95)<800\" or a table "
                             f"{{ threshold = \"...\", abort_on_fail = true }}, got {_type_name(raw)}",
                             index, name)
        expr = raw.get("threshold")
        shown = expr if isinstance(expr, str) else None
        unknown = [k for k in raw if k not in _THRESHOLD_KEYS]
        if unknown:
            raise self.error(_unknown_keys(unknown, _THRESHOLD_KEYS), index, name, shown)
        if "threshold" not in raw:
            raise self.error(f"threshold {position}: missing key 'threshold' (the expression)", index, name)
        if not isinstance(expr, str):
            raise self.error(f"threshold {position}: 'threshold' must be a string, got {_type_name(expr)}",
                             index, name)
        threshold = self.expression(index, name, expr, metric)
        abort = raw.get("abort_on_fail", False)
        if not isinstance(abort, bool):
            raise self.error(f"'abort_on_fail' must be true or false, got {_type_name(abort)}",
                             index, name, expr)
        delay = 0.0
        if "delay_abort_eval" in raw:
            try:
                delay = parse_duration(raw["delay_abort_eval"])
            except ValueError as exc:
                raise self.error(f"'delay_abort_eval': {exc}", index, name, expr) from None
            if not abort:
                raise self.error("'delay_abort_eval' has no effect without abort_on_fail = true",
                                 index, name, expr)
        return ThresholdSpec(threshold, abort_on_fail=abort, delay_abort_eval_s=delay)

    def expression(self, index: int, name: str, text: str, metric: str = "") -> Threshold:
        try:
            return parse_k6_expression(metric, text) if metric else parse_threshold(text)
        except ExpressionError as exc:
            raise self.error(exc.detail, index, name, text) from None


def _rate_warnings(source: str, rows: list[SloRow]) -> list[str]:
    """A line per success-rate threshold that asks for *few* successes (``rate<0.01``): k6's
    ``http_req_failed`` line pasted onto a success rate, where a clean run fails."""
    out = []
    for row in rows:
        for spec in row.thresholds:
            t = spec.threshold
            if t.aggregation.kind == "rate" and t.op in ("<", "<=") and t.value <= SMALL_RATE:
                share = format_number(round(t.value * 100, 10))
                fix = f"fail_rate{t.op}{format_number(t.value)}"
                k6 = f'http_req_failed = ["{t.source}"] in [thresholds]' if not row.metric else None
                suggestion = f"write {fix!r}" + (f" (or, as in k6, {k6})" if k6 else " under http_req_failed")
                out.append(f"{source}: row {row.name!r}: {t.source!r} asks for a success rate below {share}%: "
                           f"a clean run fails it. If it is a failure rate, {suggestion}")
    return out


def parse_table(text: str, source: str = "<string>") -> SloTable:
    """Parse an SLO table from TOML text; ``source`` names it in error messages."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SloFileError(f"{source}: TOML syntax error: {exc}") from None
    return _Loader(source).table(doc)


def load_table(path: str | Path) -> SloTable:
    """Load an SLO table from a TOML file (see ``docs/slo-file.md``)."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise SloFileError(f"{source}: SLO file not found") from None
    except IsADirectoryError:
        raise SloFileError(f"{source}: is a directory, not an SLO file") from None
    except OSError as exc:
        raise SloFileError(f"{source}: cannot read the SLO file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SloFileError(f"{source}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8") from None
    return parse_table(text, source)
