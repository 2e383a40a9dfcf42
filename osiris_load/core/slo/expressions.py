"""k6 threshold expressions (``p(95)<800``, ``rate>=0.999``), parsed without any dependency.

Users migrate from k6, so the grammar is k6's: ``<aggregation> <op> <value>`` with optional
whitespace. Two deliberate differences, both documented in ``docs/slo-file.md``:

* the expression is not tied to a k6 metric: the SLO row selects the requests, so ``rate`` is the
  *success* rate of those requests and ``fail_rate`` the failure rate (k6's ``http_req_failed``
  ``rate`` is a failure rate; ``rate<0.01`` there is ``fail_rate<0.01`` here);
* latency values may carry a unit (``800ms``, ``0.8s``) and rate values a percent sign
  (``99.9%``); a bare number is milliseconds or a ratio, as in k6.

Every malformed expression raises :class:`ExpressionError` whose message names the problem and
the 1-based column where it starts, because a CI log line is all a user sees of a bad SLO file.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

__all__ = [
    "AGGREGATION_KINDS",
    "Aggregation",
    "COMPARISONS",
    "COUNT_KINDS",
    "ExpressionError",
    "LATENCY_KINDS",
    "OPERATORS",
    "RATE_KINDS",
    "THROUGHPUT_KINDS",
    "Threshold",
    "exact_fraction",
    "format_number",
    "parse_threshold",
]

LATENCY_KINDS = frozenset({"p", "avg", "med", "min", "max"})
RATE_KINDS = frozenset({"rate", "fail_rate"})
COUNT_KINDS = frozenset({"count"})
# Requests per second over the run: k6's ``http_reqs`` ``rate``. Never written as such in an
# expression: ``parse_threshold(..., rate_is_throughput=True)`` reads ``rate`` as this kind.
THROUGHPUT_KINDS = frozenset({"throughput"})
AGGREGATION_KINDS = LATENCY_KINDS | RATE_KINDS | COUNT_KINDS
_ALL_KINDS = AGGREGATION_KINDS | THROUGHPUT_KINDS
# In the order users read them in an error message.
_AGGREGATION_HELP = "p(N), avg, med, min, max, rate, fail_rate, count"

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
# k6 also writes equality as JavaScript's ``===``; it is read as ``==`` (the source keeps ``===``).
_OP_ALIASES = {"===": "=="}
OPERATORS: tuple[str, ...] = tuple(_OPS)
COMPARISONS = _OPS  # the same table for exact fractions and floats alike (osiris_load.core.slo.confidence)
_OPERATOR_HELP = ", ".join((*OPERATORS, *_OP_ALIASES))

_WS = re.compile(r"\s*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OP_RUN = re.compile(r"[<>=!]+")
_PCT_TOKEN = re.compile(r"[^()\s<>=!]*")
_PCT_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TOKEN = re.compile(r"\S*")
_UNIT_WORD = re.compile(r"[A-Za-z%µ]+")
_LATENCY_UNITS = {"us": Decimal("0.001"), "µs": Decimal("0.001"), "ms": Decimal(1), "s": Decimal(1000)}


class ExpressionError(ValueError):
    """A threshold expression that cannot be parsed.

    ``str(error)`` is ``"<expression>: <detail>"``; the parts are kept apart (``expression``,
    ``detail``, ``column``) so that the SLO file loader can prefix file and row without repeating
    the expression.
    """

    def __init__(self, detail: str, expression: str | None = None, column: int | None = None) -> None:
        self.detail = detail
        self.expression = expression
        self.column = column
        super().__init__(f"{expression}: {detail}" if expression else detail)


def exact_fraction(value: float) -> Fraction:
    """The decimal a number was written as, exactly: ``0.999`` is 999/1000, not the binary float
    0.99899999999999999911... Every exact comparison of the gate (rate limits, nearest ranks, the
    share a percentile leaves beyond its limit) goes through this one rule."""
    return Fraction(Decimal(repr(float(value))))


def format_number(value: float) -> str:
    """Shortest plain decimal that reads back as ``value`` (``95``, ``99.9``, ``0.00001``).

    Labels and canonical expressions must parse back to the same float, and ``p(1e-05)`` is not
    valid percentile syntax, so scientific notation is expanded.
    """
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


@dataclass(frozen=True)
class Aggregation:
    """What to compute over a row's requests.

    ``kind`` is one of ``p avg med min max`` (latency, milliseconds), ``rate`` (success ratio),
    ``fail_rate`` (failure ratio) or ``count`` (number of requests); ``arg`` is the N of ``p(N)``.
    """

    kind: str
    arg: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in _ALL_KINDS:
            raise ValueError(f"unknown aggregation kind {self.kind!r}")
        if self.kind == "p":
            if self.arg is None or not (0 < self.arg <= 100):
                raise ValueError(f"p(N) needs 0 < N <= 100, got {self.arg!r}")
        elif self.arg is not None:
            raise ValueError(f"{self.kind} takes no argument")

    def label(self) -> str:
        """The aggregation as written in an expression: ``p(95)``, ``p(99.9)``, ``avg``."""
        if self.kind == "p":
            assert self.arg is not None
            return f"p({format_number(self.arg)})"
        return "rate" if self.kind == "throughput" else self.kind

    @property
    def is_latency(self) -> bool:
        """True for aggregations measured in milliseconds."""
        return self.kind in LATENCY_KINDS

    @property
    def is_rate(self) -> bool:
        """True for ``rate`` and ``fail_rate`` (ratios in 0..1)."""
        return self.kind in RATE_KINDS


@dataclass(frozen=True)
class Threshold:
    """One parsed expression. ``value`` is in milliseconds for latency aggregations (units already
    converted), a ratio in 0..1 for rates, a number of requests for ``count``, requests per second
    for ``throughput``. ``op`` is canonical (``===`` is stored as ``==``; ``source`` keeps it)."""

    source: str
    aggregation: Aggregation
    op: str
    value: float

    def holds(self, observed: float) -> bool:
        """Whether the observed aggregate satisfies the threshold (``observed <op> value``)."""
        return _OPS[self.op](observed, self.value)

    def compare(self, observed: Fraction, limit: Fraction) -> bool:
        """``observed <op> limit`` on exact fractions (rates: no float rounding at the limit)."""
        return _OPS[self.op](observed, limit)

    def canonical(self) -> str:
        """A normalised spelling (no spaces, no units) that parses back to an equal threshold."""
        return f"{self.aggregation.label()}{self.op}{format_number(self.value)}"


def _err(text: str, pos: int, what: str, tail: str = "") -> ExpressionError:
    """``<what> at column N<tail>``; ``pos`` is 0-based, users count columns from 1."""
    return ExpressionError(f"{what} at column {pos + 1}{tail}", text, pos + 1)


def _skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]  # \s* always matches


def _unknown_aggregation_hint(name: str) -> str:
    if re.fullmatch(r"[pP]\d+(?:\.\d+)?", name):
        return f"; did you mean p({name[1:]})?"
    if name.lower() in AGGREGATION_KINDS:
        return f"; aggregations are lower case: did you mean {name.lower()!r}?"
    if name.startswith("http_req") or name.startswith("iteration"):
        return "; write only the aggregation (e.g. p(95)<800): the SLO row selects the requests"
    close = difflib.get_close_matches(name, sorted(AGGREGATION_KINDS), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def parse_threshold(text: str, *, rate_is_throughput: bool = False) -> Threshold:
    """Parse a k6-style threshold expression such as ``p(95)<800``, ``p(99.9) <= 1.2s`` or
    ``rate>=0.999``.

    ``rate_is_throughput`` reads ``rate`` as k6's ``http_reqs`` rate (requests per second, any
    non-negative number, optionally written ``/s``) instead of a ratio in 0..1.

    Raises :class:`ExpressionError` (a ``ValueError``) with a message that says what is wrong and
    at which 1-based column; nothing else escapes for any input string.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"a threshold must be a string, got {type(text).__name__}")
    pos = _skip_ws(text, 0)
    if pos == len(text):
        raise ExpressionError("empty threshold expression")
    source = text.strip()

    # --- aggregation -------------------------------------------------------------------------
    m = _NAME.match(text, pos)
    if m is None:
        raise _err(text, pos, f"missing aggregation before {text[pos]!r}",
                   f"; expected one of {_AGGREGATION_HELP}")
    name = m.group()
    name_pos = pos
    pos = m.end()
    if name not in AGGREGATION_KINDS:
        raise _err(text, name_pos, f"unknown aggregation {name!r}",
                   f"; expected one of {_AGGREGATION_HELP}{_unknown_aggregation_hint(name)}")
    after_name = _skip_ws(text, pos)
    arg: float | None = None
    if name == "p":
        if after_name >= len(text) or text[after_name] != "(":
            found = "the end" if after_name >= len(text) else repr(text[after_name])
            raise _err(text, after_name, f"expected '(' after 'p', found {found}",
                       "; write the percentile in parentheses, e.g. p(95)")
        pos = _skip_ws(text, after_name + 1)
        tok = _PCT_TOKEN.match(text, pos)
        assert tok is not None
        token = tok.group()
        token_pos = pos
        pos = _skip_ws(text, tok.end())
        if token:
            if not _PCT_NUMBER.fullmatch(token):
                raise _err(text, token_pos, f"bad percentile {token!r}",
                           ": expected a number greater than 0 and at most 100, e.g. p(95) or p(99.9)")
            arg = float(token)
            if not (0 < arg <= 100):
                raise _err(text, token_pos, f"percentile {token} out of range",
                           ": must be greater than 0 and at most 100")
        if pos >= len(text) or text[pos] != ")":
            found = "the end" if pos >= len(text) else repr(text[pos])
            raise _err(text, pos, "missing ')' after the percentile", f" (found {found})")
        if not token:
            raise _err(text, token_pos, "missing percentile in 'p()'", ": write e.g. p(95)")
        pos += 1
    elif after_name < len(text) and text[after_name] == "(":
        raise _err(text, after_name, f"{name!r} takes no argument",
                   "; only p(N) has one")
    aggregation = Aggregation("throughput" if rate_is_throughput and name == "rate" else name, arg)
    label = text[name_pos:pos]

    # --- operator ----------------------------------------------------------------------------
    pos = _skip_ws(text, pos)
    if pos >= len(text):
        raise _err(text, pos, f"missing operator after {label!r}", f"; expected one of {_OPERATOR_HELP}")
    m = _OP_RUN.match(text, pos)
    if m is None:
        raise _err(text, pos, f"missing operator after {label!r}",
                   f" (found {text[pos]!r}); expected one of {_OPERATOR_HELP}")
    op = _OP_ALIASES.get(m.group(), m.group())
    if op not in _OPS:
        hint = "; use == for equality" if op == "=" else ""
        raise _err(text, pos, f"unknown operator {op!r}", f"; expected one of {_OPERATOR_HELP}{hint}")
    op_pos = pos
    op_text = m.group()
    pos = _skip_ws(text, m.end())

    # --- value -------------------------------------------------------------------------------
    if pos >= len(text):
        raise _err(text, op_pos + len(op_text), f"missing value after {op_text!r}")
    value_pos = pos
    token = _TOKEN.match(text, pos).group()  # type: ignore[union-attr]
    m = _NUMBER.match(text, pos)
    if m is None:
        raise _err(text, value_pos, f"bad number {token!r}")
    number_text = m.group()
    pos = m.end()
    unit: str | None = None
    unit_pos = pos
    rest = text[pos:value_pos + len(token)]
    if rest:
        # Something glued to the number: a unit ("800ms"), or a malformed number ("8x0", "1e").
        if (_UNIT_WORD.fullmatch(rest) and rest[0] not in "eE") or rest == "/s":
            unit = rest
            pos += len(rest)
        elif rest[0].isalnum() or rest[0] in ".+-":
            raise _err(text, value_pos, f"bad number {token!r}")
        # else punctuation such as "800," falls through to the trailing-garbage error below
    else:
        # A unit separated by spaces ("800 ms") is accepted; anything else is trailing garbage.
        nxt = _skip_ws(text, pos)
        word = _TOKEN.match(text, nxt).group()  # type: ignore[union-attr]
        if word and (word in _LATENCY_UNITS or word == "%"):
            unit, unit_pos, pos = word, nxt, nxt + len(word)
    end = _skip_ws(text, pos)
    if end < len(text):
        garbage = _TOKEN.match(text, end).group()  # type: ignore[union-attr]
        raise _err(text, end, f"unexpected {garbage!r} after the value",
                   "; an expression is <aggregation> <op> <value>, one per list entry")

    number = Decimal(number_text)
    if not math.isfinite(float(number)):
        raise _err(text, value_pos, f"bad number {number_text!r}", ": not a finite number")
    if number < 0:
        raise _err(text, value_pos, f"negative value {number_text}", ": thresholds compare non-negative "
                   "quantities")
    if aggregation.is_latency:
        if unit is not None and unit not in _LATENCY_UNITS:
            raise _err(text, unit_pos, f"unknown unit {unit!r}",
                       f": {label} is a latency; write milliseconds (800 or 800ms) or seconds (0.8s)")
        value = float(number * _LATENCY_UNITS[unit or "ms"])
    elif aggregation.is_rate:
        if unit is not None and unit != "%":
            raise _err(text, unit_pos, f"unit {unit!r} not allowed on {label}",
                       ": it is a ratio between 0 and 1 (e.g. 0.999) or a percentage (99.9%)")
        value = float(number / 100) if unit == "%" else float(number)
        if not (0 <= value <= 1):
            shown = f"{number_text}%" if unit == "%" else number_text
            raise _err(text, value_pos, f"{label} value {shown} out of range",
                       ": must be between 0 and 1 (write 0.999, not 99.9)")
    elif aggregation.kind == "throughput":
        if unit is not None and unit != "/s":
            raise _err(text, unit_pos, f"unit {unit!r} not allowed on http_reqs' rate",
                       ": it is requests per second (e.g. rate>50 or rate>50/s)")
        value = float(number)
    else:
        if unit is not None:
            raise _err(text, unit_pos, f"unit {unit!r} not allowed on count",
                       ": count is a number of requests")
        value = float(number)
    return Threshold(source=source, aggregation=aggregation, op=op, value=value)
