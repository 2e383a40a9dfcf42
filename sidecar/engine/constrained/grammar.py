"""The proposal grammar and the per-row decoding states (pure Python, no torch).

Why: the original sidecar answered ``/propose_trade_adjustments`` with JSON that *always* validated,
whatever the model. We get the same guarantee from any causal LM by constraining its next-token
choice: the JSON structure (braces, keys, quotes, commas) is forced token by token, and every value
is picked by the model's own logits under a mask of the tokens that keep the value well formed:

* ``ticker``: 1-5 uppercase letters; ``action`` / ``side``: one of the enum options;
* ``new_stop_pct`` / ``new_target_pct``: ``null`` or a non-negative number (up to ``99.99``);
* ``confidence``: ``0.`` followed by 1-3 digits, so it always lies in [0, 1];
* ``rationale``: printable ASCII without ``"`` or ``\\``, closed when the model picks the quote
  token or when its token budget (the request's ``max_length``) runs out.

The schema is the contract file (:mod:`sidecar.contract`); the enum options are read from it.
Each state answers :meth:`~RowConstraint.constraint` with ``(FORCE, token)``, ``(MASK, row)`` or
``(NONE, 0)`` in O(1) Python; the torch processor applies them to a batch in a few tensor ops.

Budget: ``max_length`` bounds the *rationale* tokens only; the structure and the short values are
extra, at most :meth:`ProposalGrammar.max_new_tokens` minus ``max_length`` tokens (79 with the
default model's tokenizer; typically 60-90 for GPT-2 style tokenizers).

Tokenizers whose decoding is not the concatenation of the tokens' texts (e.g. some SentencePiece
setups) cannot be constrained this way: :class:`ProposalGrammar` raises :class:`ProposalDecodingError`
when its self-test fails, and :meth:`ProposalGrammar.parse` raises it for any output that does not
validate, so an invalid object is never returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from jsonschema import Draft202012Validator

from sidecar.contract import PROPOSAL_SCHEMA
from sidecar.engine.constrained.automata import (
    UPPER,
    CompiledDFA,
    compile_dfa,
    enum_dfa,
    letters_dfa,
    nullable_pct_dfa,
    unit_fraction_dfa,
)
from sidecar.engine.constrained.vocabulary import ProposalDecodingError, TokenTable

__all__ = [
    "FORCE", "MASK", "NONE", "FreeTextState", "ProposalDecodingError", "ProposalGrammar", "ProposalState",
    "RowConstraint", "validate_proposal",
]

# Constraint kinds returned by RowConstraint.constraint().
NONE, MASK, FORCE = 0, 1, 2

STRING_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}

_VALIDATOR = Draft202012Validator(PROPOSAL_SCHEMA)


def validate_proposal(obj: Any) -> None:
    """Raise ProposalDecodingError unless ``obj`` validates against the proposal schema."""
    errors = sorted(_VALIDATOR.iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        raise ProposalDecodingError(f"proposal does not match the schema: {errors[0].message}")


@dataclass(frozen=True)
class _Forced:
    ids: tuple[int, ...]


@dataclass(frozen=True)
class _Value:
    dfa: CompiledDFA


@dataclass(frozen=True)
class _String:
    pass


@dataclass(frozen=True)
class _Eos:
    pass


class ProposalGrammar:
    """Precomputed constraint tables of the proposal for one tokenizer (build once, share by rows)."""

    FIELDS: tuple[str, ...] = (
        "ticker", "action", "side", "new_stop_pct", "new_target_pct", "confidence", "rationale",
    )

    def __init__(self, table: TokenTable) -> None:
        self.table = table
        quote = table.by_surface.get('"')
        comma = table.by_surface.get(",")
        if quote is None or comma is None:
            raise ProposalDecodingError('the vocabulary has no single-character \'"\' or \',\' token')
        self.quote_id, self.comma_id = quote, comma
        props = PROPOSAL_SCHEMA["properties"]
        ticker = compile_dfa(table, letters_dfa(UPPER, 1, 5), quote)
        action = compile_dfa(table, enum_dfa(props["action"]["enum"]), quote)
        side = compile_dfa(table, enum_dfa(props["side"]["enum"]), quote)
        stop = compile_dfa(table, nullable_pct_dfa(), comma)
        target = compile_dfa(table, nullable_pct_dfa(), comma)
        conf = compile_dfa(table, unit_fraction_dfa(), comma)
        string_ids = [i for i, s in enumerate(table.surfaces) if s and set(s) <= STRING_CHARS]
        self.row_string = table.add_row(string_ids)
        self.row_string_or_quote = table.add_row([*string_ids, quote])

        def forced(text: str) -> _Forced:
            return _Forced(tuple(table.tokenize_exact(text)))

        # Each value consumes its terminator (the quote or comma); the forced text resumes after it.
        self.steps: tuple[Any, ...] = (
            forced('{"ticker": "'), _Value(ticker),
            forced(', "action": "'), _Value(action),
            forced(', "side": "'), _Value(side),
            forced(', "new_stop_pct": '), _Value(stop),
            forced(' "new_target_pct": '), _Value(target),
            forced(' "confidence": '), _Value(conf),
            forced(' "rationale": "'), _String(),
            forced("}"), _Eos(),
        )
        self.rationale_step = next(i for i, s in enumerate(self.steps) if isinstance(s, _String))
        self._overhead = sum(
            len(s.ids) if isinstance(s, _Forced) else s.dfa.max_tokens + 1 if isinstance(s, _Value) else 1
            for s in self.steps
        )  # the rationale's closing quote and the EOS count 1 each
        self._self_test()

    def _self_test(self) -> None:
        """Decode a sample spelled with the grammar's own tokens; it must reproduce the text and validate.

        Fails for tokenizers whose decoding is not the concatenation of token texts (e.g. decoders that
        join tokens with spaces), so they are refused up front instead of producing invalid objects.
        """
        samples = iter(["AB", "pass", "LONG", "1.5", "null", "0.25"])
        ids: list[int] = []
        for step in self.steps:
            if isinstance(step, _Forced):
                ids += step.ids
            elif isinstance(step, _Value):
                ids += [*self.table.tokenize_exact(next(samples)), step.dfa.terminator]
            elif isinstance(step, _String):
                ids += [*self.table.tokenize_exact("ok"), self.quote_id]
        expected = "".join(self.table.surfaces[i] or "" for i in ids)
        text = self.table.decode(ids)
        if text != expected:
            raise ProposalDecodingError(
                "this tokenizer's decoding does not reproduce forced text "
                f"({expected[:30]!r}... decodes as {text[:30]!r}...); schema-constrained decoding is unsupported"
            )
        self.parse(text)

    def max_new_tokens(self, max_length: int) -> int:
        """Upper bound of the tokens a proposal with a ``max_length``-token rationale needs (with EOS)."""
        return self._overhead + max(0, max_length)

    def new_state(self, max_length: int) -> ProposalState:
        return ProposalState(self, max(0, max_length))

    def parse(self, text: str) -> dict[str, Any]:
        """json.loads + schema validation; ProposalDecodingError if either fails."""
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProposalDecodingError(f"generated proposal is not JSON ({exc}): {text[:200]!r}") from exc
        validate_proposal(obj)
        if not isinstance(obj, dict):  # pragma: no cover - the schema requires an object
            raise ProposalDecodingError("generated proposal is not an object")
        return obj

    def parse_head(self, text: str) -> dict[str, Any]:
        """Every field but the rationale, from a proposal decoded up to its rationale's opening quote.

        Why: the assessment only needs the head (ticker, action, confidence), so it can start while
        the rationale is still being generated.
        """
        head = self.parse(text + '"}')
        head.pop("rationale", None)
        return head


class RowConstraint(Protocol):
    """Per-row decoding state driven by the decode loop."""

    done: bool

    def advance(self, token: int) -> None: ...

    def constraint(self) -> tuple[int, int]: ...


@dataclass
class ProposalState:
    """Where one row is in the proposal grammar; O(1) work per generated token."""

    grammar: ProposalGrammar
    budget: int
    step: int = 0
    sub: int = 0
    done: bool = False
    _entered: bool = field(default=False, repr=False)

    def _enter(self) -> None:
        """Initialise the sub-state of the current step (skipping empty forced texts)."""
        steps = self.grammar.steps
        while isinstance(steps[self.step], _Forced) and not steps[self.step].ids:
            self.step += 1
        step = steps[self.step]
        self.sub = step.dfa.start if isinstance(step, _Value) else 0
        self._entered = True

    def _next_step(self) -> None:
        self.step += 1
        self._enter()

    @property
    def head_done(self) -> bool:
        """Every field before the rationale is decoded (see :meth:`ProposalGrammar.parse_head`)."""
        return self.step >= self.grammar.rationale_step

    def advance(self, token: int) -> None:
        if self.done:
            return
        if not self._entered:
            self._enter()
        step = self.grammar.steps[self.step]
        if isinstance(step, _Forced):
            if token != step.ids[self.sub]:
                raise ProposalDecodingError(f"forced token {step.ids[self.sub]} was not generated ({token})")
            self.sub += 1
            if self.sub == len(step.ids):
                self._next_step()
        elif isinstance(step, _Value):
            d = step.dfa
            if token == d.terminator and self.sub in d.accepting:
                self._next_step()
            else:
                nxt = d.trans[self.sub].get(token)
                if nxt is None:
                    raise ProposalDecodingError(f"token {token} is not allowed in a proposal value")
                self.sub = nxt
        elif isinstance(step, _String):
            if token == self.grammar.quote_id:
                self._next_step()
            else:
                self.sub += 1
        else:
            self.done = True

    def constraint(self) -> tuple[int, int]:
        if self.done:
            return NONE, 0
        if not self._entered:
            self._enter()
        g = self.grammar
        step = g.steps[self.step]
        if isinstance(step, _Forced):
            return FORCE, step.ids[self.sub]
        if isinstance(step, _Value):
            return MASK, step.dfa.rows[self.sub]
        if isinstance(step, _String):
            if self.sub >= self.budget:
                return FORCE, g.quote_id
            return MASK, g.row_string if self.sub == 0 else g.row_string_or_quote
        return FORCE, g.table.eos_id


@dataclass
class FreeTextState:
    """A free-text row: the model generates freely, stopped (EOS forced) at its own token limit.

    ``printable`` restricts it to tokens that decode to whole printable characters, so a random-weight
    model never emits broken UTF-8 or control bytes; EOS is blocked on the first step so text is non-empty.
    """

    table: TokenTable
    limit: int
    printable: bool = True
    ignore_eos: bool = False  # EOS only at the limit (benchmarks' fixed output lengths)
    generated: int = 0
    done: bool = False
    cancelled: bool = False  # set from another thread when the caller left: EOS is forced at the next step

    def advance(self, token: int) -> None:
        if self.done:
            return
        if token == self.table.eos_id:
            self.done = True
        else:
            self.generated += 1

    def constraint(self) -> tuple[int, int]:
        t = self.table
        if self.done:
            return NONE, 0
        if self.generated >= self.limit or self.cancelled:
            return FORCE, t.eos_id
        if self.generated == 0 or self.ignore_eos:
            return MASK, t.row_printable_no_eos if self.printable else t.row_any_no_eos
        return MASK, t.row_printable if self.printable else t.row_any
