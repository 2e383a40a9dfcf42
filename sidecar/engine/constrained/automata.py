"""Character automata for the proposal's short values, and their compilation against a vocabulary.

Pure Python (no torch): a :class:`CharDFA` accepts the strings a value may take (an enum, a ticker,
a number); :func:`compile_dfa` walks every token's surface text through it from every state, so any
tokenization of a value is allowed, and gives each live state one mask row of the vocabulary table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sidecar.engine.constrained.vocabulary import ProposalDecodingError, TokenTable

DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


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

    def accepts(self, text: str) -> bool:
        state: int | None = self.start
        for c in text:
            state = self.edges[state].get(c)
            if state is None:
                return False
        return state in self.accepting


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


@dataclass
class CompiledDFA:
    """A CharDFA compiled against a vocabulary: token transitions and one mask row per live state."""

    trans: list[dict[int, int]]
    rows: list[int]
    accepting: frozenset[int]
    terminator: int
    start: int
    max_tokens: int


def compile_dfa(table: TokenTable, dfa: CharDFA, terminator: int) -> CompiledDFA:
    """Walk every candidate token through the automaton from every state; keep live transitions.

    A state is live when an accepting state is reachable from it; the mask row of an accepting state
    also allows ``terminator`` (the token that closes the value).
    """
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
