"""Schema-constrained decoding of the trade proposal (jsonformer-style, batchable).

Why: the original sidecar answered ``/propose_trade_adjustments`` with JSON that *always* validated,
whatever the model. We get the same guarantee from any causal LM by constraining its next-token
choice: the JSON structure (braces, keys, quotes, commas) is forced token by token, and every value
is picked by the model's own logits under a mask of the tokens that keep the value well formed:

* ``ticker``: 1-5 uppercase letters; ``action`` / ``side``: one of the enum options;
* ``new_stop_pct`` / ``new_target_pct``: ``null`` or a non-negative number (up to ``99.99``);
* ``confidence``: ``0.`` followed by 1-3 digits, so it always lies in [0, 1];
* ``rationale``: printable ASCII without ``"`` or ``\\``, closed when the model picks the quote
  token or when its token budget (the request's ``max_length``) runs out.

Each short value is a small character automaton (enum options form a character trie). It is
compiled once per tokenizer against every token's surface text, so any tokenization of a value is
allowed, and each automaton state owns one precomputed row of a boolean mask table. Decoding a
step then costs O(1) Python per row (a dict lookup) plus one gather and one masked fill for the batch.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from jsonschema import Draft202012Validator
from transformers import LogitsProcessor

PROPOSAL_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "TradeProposal",
    "type": "object",
    "additionalProperties": False,
    "required": ["ticker", "action", "confidence", "rationale"],
    "properties": {
        "ticker": {"type": "string"},
        "action": {"type": "string", "enum": ["adjust", "pass", "abort"]},
        "side": {"type": "string", "enum": ["LONG", "SHORT"]},
        "new_stop_pct": {"type": ["number", "null"]},
        "new_target_pct": {"type": ["number", "null"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "rationale": {"type": "string"},
    },
}

_VALIDATOR = Draft202012Validator(PROPOSAL_SCHEMA)

# Constraint kinds returned by RowConstraint.constraint().
NONE, MASK, FORCE = 0, 1, 2

STRING_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}
DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class ProposalDecodingError(RuntimeError):
    """The proposal could not be decoded into an object that validates against PROPOSAL_SCHEMA."""


def validate_proposal(obj: Any) -> None:
    """Raise ProposalDecodingError unless ``obj`` validates against PROPOSAL_SCHEMA."""
    errors = sorted(_VALIDATOR.iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        raise ProposalDecodingError(f"proposal does not match the schema: {errors[0].message}")


# --------------------------------------------------------------------------------------------------
# Character automata for the short values
# --------------------------------------------------------------------------------------------------


@dataclass
class CharDFA:
    """A small acyclic automaton over characters: ``edges[state][char] -> state``."""

    edges: list[dict[str, int]]
    accepting: frozenset[int]
    start: int = 0

    @property
    def alphabet(self) -> frozenset[str]:
        return frozenset(c for e in self.edges for c in e)

    def longest(self) -> int:
        """Length of the longest accepted string (the automata here are acyclic)."""
        memo: dict[int, int] = {}

        def depth(s: int) -> int:
            if s not in memo:
                memo[s] = max((1 + depth(t) for t in self.edges[s].values()), default=0)
            return memo[s]

        return depth(self.start)


class _Builder:
    def __init__(self) -> None:
        self.edges: list[dict[str, int]] = []
        self.accepting: set[int] = set()

    def state(self, accepting: bool = False) -> int:
        self.edges.append({})
        if accepting:
            self.accepting.add(len(self.edges) - 1)
        return len(self.edges) - 1

    def edge(self, src: int, chars: Iterable[str], dst: int) -> None:
        for c in chars:
            self.edges[src][c] = dst

    def dfa(self) -> CharDFA:
        return CharDFA(self.edges, frozenset(self.accepting))


def enum_dfa(options: Sequence[str]) -> CharDFA:
    """A character trie of the options: the model picks among them, in any tokenization."""
    b = _Builder()
    root = b.state()
    for option in options:
        s = root
        for c in option:
            nxt = b.edges[s].get(c)
            if nxt is None:
                nxt = b.state()
                b.edge(s, c, nxt)
            s = nxt
        b.accepting.add(s)
    return b.dfa()


def letters_dfa(chars: str, min_len: int, max_len: int) -> CharDFA:
    """Strings of ``min_len``..``max_len`` characters from ``chars`` (the ticker)."""
    b = _Builder()
    states = [b.state(accepting=i >= min_len) for i in range(max_len + 1)]
    for i in range(max_len):
        b.edge(states[i], chars, states[i + 1])
    return b.dfa()


def nullable_pct_dfa() -> CharDFA:
    """``null`` or a JSON number without leading zeros: 1-2 integer digits, optional 1-2 decimals."""
    b = _Builder()
    start = b.state()
    zero, int1, int2 = b.state(True), b.state(True), b.state(True)
    dot, frac1, frac2 = b.state(), b.state(True), b.state(True)
    b.edge(start, "0", zero)
    b.edge(start, DIGITS[1:], int1)
    b.edge(int1, DIGITS, int2)
    for s in (zero, int1, int2):
        b.edge(s, ".", dot)
    b.edge(dot, DIGITS, frac1)
    b.edge(frac1, DIGITS, frac2)
    n1, n2, n3, null = b.state(), b.state(), b.state(), b.state(True)
    b.edge(start, "n", n1)
    b.edge(n1, "u", n2)
    b.edge(n2, "l", n3)
    b.edge(n3, "l", null)
    return b.dfa()


def unit_fraction_dfa(max_decimals: int = 3) -> CharDFA:
    """``0.`` followed by 1..max_decimals digits: a number that is always within [0, 1]."""
    b = _Builder()
    start, zero, dot = b.state(), b.state(), b.state()
    b.edge(start, "0", zero)
    b.edge(zero, ".", dot)
    prev = dot
    for _ in range(max_decimals):
        nxt = b.state(True)
        b.edge(prev, DIGITS, nxt)
        prev = nxt
    return b.dfa()


# --------------------------------------------------------------------------------------------------
# Per-tokenizer tables
# --------------------------------------------------------------------------------------------------


class TokenTable:
    """Each token's surface text and a table of boolean vocabulary masks, computed once per tokenizer.

    ``width`` is the logits width (a model's embedding matrix may be wider than its tokenizer); ids
    beyond the tokenizer are never allowed by any mask.
    """

    def __init__(self, tokenizer: Any, width: int | None = None, eos_token_id: int | None = None) -> None:
        self.tokenizer = tokenizer
        n = len(tokenizer)
        self.width = max(width or n, n)
        eos = eos_token_id if eos_token_id is not None else tokenizer.eos_token_id
        if eos is None:
            raise ProposalDecodingError("the tokenizer has no end-of-sequence token")
        self.eos_id = int(eos)
        self.surfaces = self._surfaces(tokenizer, n)
        self._rows: list[torch.Tensor] = []
        self._tables: dict[torch.device, torch.Tensor] = {}
        printable = [
            i for i, s in enumerate(self.surfaces)
            if s and all(c.isprintable() or c in "\n\t" for c in s) and "\ufffd" not in s
        ]
        self.row_any = self.add_row(range(n))
        self.row_any_no_eos = self.add_row(i for i in range(n) if i != self.eos_id)
        self.row_printable = self.add_row([*printable, self.eos_id])
        self.row_printable_no_eos = self.add_row(printable)
        by_surface: dict[str, int] = {}
        for i, s in enumerate(self.surfaces):
            if s and "\ufffd" not in s and s not in by_surface:
                by_surface[s] = i
        self.by_surface = by_surface
        self.max_surface_len = max((len(s) for s in by_surface), default=1)

    @staticmethod
    def _surfaces(tokenizer: Any, n: int) -> list[str | None]:
        """Text of each token *in context*: decode([anchor, t]) minus decode([anchor]).

        Decoding a token after an anchor keeps leading spaces that some decoders strip from the
        first token (SentencePiece's "▁"), so concatenating surfaces matches decoding a sequence.
        """
        special = set(tokenizer.all_special_ids)
        anchor_ids = tokenizer.encode("a", add_special_tokens=False)
        kwargs = {"skip_special_tokens": False, "clean_up_tokenization_spaces": False}
        if anchor_ids:
            anchor = anchor_ids[-1]
            prefix = tokenizer.decode([anchor], **kwargs)
            texts = tokenizer.batch_decode([[anchor, i] for i in range(n)], **kwargs)
        else:  # pragma: no cover - every real tokenizer can encode "a"
            prefix, texts = "", tokenizer.batch_decode([[i] for i in range(n)], **kwargs)
        out: list[str | None] = []
        for i, text in enumerate(texts):
            ok = i not in special and text.startswith(prefix) and len(text) > len(prefix)
            out.append(text[len(prefix):] if ok else None)
        return out

    def add_row(self, ids: Iterable[int]) -> int:
        """Register a mask row (allowed token ids) and return its index in the table."""
        row = torch.zeros(self.width, dtype=torch.bool)
        idx = list(ids)
        if idx:
            row[torch.tensor(idx, dtype=torch.long)] = True
        self._rows.append(row)
        self._tables.clear()
        return len(self._rows) - 1

    def table(self, device: torch.device) -> torch.Tensor:
        """The stacked mask table on ``device`` (cached)."""
        t = self._tables.get(device)
        if t is None:
            t = torch.stack(self._rows).to(device)
            self._tables[device] = t
        return t

    def tokenize_exact(self, text: str) -> list[int]:
        """Token ids whose surfaces concatenate to exactly ``text``.

        The tokenizer's own tokenization is preferred (what a real model has seen); when its surfaces
        do not reproduce the text, a greedy longest match over the vocabulary is used instead.
        """
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if all(self.surfaces[i] for i in ids) and "".join(self.surfaces[i] or "" for i in ids) == text:
            return list(ids)
        out: list[int] = []
        pos = 0
        while pos < len(text):
            for length in range(min(self.max_surface_len, len(text) - pos), 0, -1):
                tok = self.by_surface.get(text[pos:pos + length])
                if tok is not None:
                    out.append(tok)
                    pos += length
                    break
            else:
                raise ProposalDecodingError(f"no token sequence spells {text[pos:]!r} in this tokenizer")
        return out

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)


@dataclass
class CompiledDFA:
    """A CharDFA compiled against a vocabulary: token transitions and one mask row per state."""

    trans: list[dict[int, int]]
    rows: list[int]
    accepting: frozenset[int]
    terminator: int
    start: int
    max_tokens: int


def compile_dfa(table: TokenTable, dfa: CharDFA, terminator: int) -> CompiledDFA:
    """Walk every candidate token through the automaton from every state; keep live transitions."""
    alphabet = dfa.alphabet
    candidates = [(i, s) for i, s in enumerate(table.surfaces) if s and set(s) <= alphabet]
    n = len(dfa.edges)
    raw: list[dict[int, int]] = [{} for _ in range(n)]
    for state in range(n):
        for tok, surface in candidates:
            s: int | None = state
            for c in surface:
                s = dfa.edges[s].get(c)
                if s is None:
                    break
            if s is not None:
                raw[state][tok] = s
    live = set(dfa.accepting)
    changed = True
    while changed:
        changed = False
        for state in range(n):
            if state not in live and any(t in live for t in raw[state].values()):
                live.add(state)
                changed = True
    if dfa.start not in live:
        raise ProposalDecodingError("the vocabulary cannot spell a value of the proposal schema")
    trans = [{tok: t for tok, t in raw[s].items() if t in live} for s in range(n)]
    rows = [
        table.add_row([*trans[s], *([terminator] if s in dfa.accepting else [])]) if s in live else -1
        for s in range(n)
    ]
    return CompiledDFA(trans, rows, dfa.accepting, terminator, dfa.start, dfa.longest())


# --------------------------------------------------------------------------------------------------
# The proposal grammar and its per-row state
# --------------------------------------------------------------------------------------------------


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
        return obj


class RowConstraint(Protocol):
    """Per-row decoding state driven by BatchConstraintProcessor."""

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
    generated: int = 0
    done: bool = False

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
        if self.generated >= self.limit:
            return FORCE, t.eos_id
        if self.generated == 0:
            return MASK, t.row_printable_no_eos if self.printable else t.row_any_no_eos
        return MASK, t.row_printable if self.printable else t.row_any


class BatchConstraintProcessor(LogitsProcessor):
    """Applies each row's constraint in one batched step: a gathered mask table plus forced tokens.

    One instance serves one ``generate`` call; rows may mix free text and proposals. ``on_row_done``
    (row index, that row's ids so far) is called once when a row emits its EOS, so a short row can be
    answered while longer rows of the same batch are still generating.
    """

    def __init__(
        self,
        table: TokenTable,
        rows: Sequence[RowConstraint],
        on_row_done: Callable[[int, torch.Tensor], None] | None = None,
    ) -> None:
        self.table = table
        self.rows = list(rows)
        self.on_row_done = on_row_done
        self._last_len: int | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        cur = input_ids.shape[1]
        if self._last_len is not None and cur > self._last_len:
            last = input_ids[:, -1].tolist()
            for i, (row, tok) in enumerate(zip(self.rows, last, strict=True)):
                if row.done:
                    continue
                row.advance(tok)
                if row.done and self.on_row_done is not None:
                    self.on_row_done(i, input_ids[i])
        self._last_len = cur
        mask_rows: list[int] = []
        mask_idx: list[int] = []
        force_rows: list[int] = []
        force_toks: list[int] = []
        for i, row in enumerate(self.rows):
            kind, value = row.constraint()
            if kind == MASK:
                mask_rows.append(i)
                mask_idx.append(value)
            elif kind == FORCE:
                force_rows.append(i)
                force_toks.append(value)
        device = scores.device
        width = scores.shape[-1]
        if mask_rows:
            table = self.table.table(device)
            allowed = table[torch.tensor(mask_idx, device=device)]
            if allowed.shape[-1] != width:  # logits narrower/wider than the table: align
                fixed = torch.zeros((allowed.shape[0], width), dtype=torch.bool, device=device)
                w = min(width, allowed.shape[-1])
                fixed[:, :w] = allowed[:, :w]
                allowed = fixed
            idx = torch.tensor(mask_rows, device=device)
            scores[idx] = scores[idx].masked_fill(~allowed, float("-inf"))
        if force_rows:
            # Overwrite (not mask): a forced token must win even if an earlier processor penalised it.
            idx = torch.tensor(force_rows, device=device)
            scores[idx] = float("-inf")
            scores[idx, torch.tensor(force_toks, device=device)] = 0.0
        return scores
