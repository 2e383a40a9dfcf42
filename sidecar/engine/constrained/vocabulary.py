"""The vocabulary table: each token's surface text and the registry of allowed-token mask rows.

Pure Python (no torch), computed once per tokenizer. A mask row is a set of allowed token ids,
registered once and referred to by its index; the torch processor stacks the rows into one boolean
tensor per device, so a decoding step selects a row per batch row with a single gather.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class ProposalDecodingError(RuntimeError):
    """A proposal cannot be decoded: the tokenizer cannot be constrained, or the output does not validate."""


class TokenTable:
    """Each token's surface text and the mask rows, for one tokenizer.

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
        self.rows: list[tuple[int, ...]] = []
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
        """Register a mask row (the allowed token ids) and return its index."""
        self.rows.append(tuple(sorted(set(ids))))
        return len(self.rows) - 1

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
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False))
