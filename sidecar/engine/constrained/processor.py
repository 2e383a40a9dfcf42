"""The torch side of constrained decoding: per-row constraints applied to a batch of logits.

The vocabulary table's mask rows become one float tensor of additive biases (0 where a token is
allowed, -inf where not), built once per device; a step then gathers one bias row per batch row and
adds it: two tensor ops, whatever mix of free-text and proposal rows the batch holds. Forced tokens
need no mask at all: the decode loop overrides the sampled token of a forced row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sidecar.engine.constrained.grammar import FORCE, MASK, RowConstraint
from sidecar.engine.constrained.vocabulary import TokenTable


class ConstraintProcessor:
    """Applies the constraints of a batch's rows to its logits (one instance per model and device)."""

    def __init__(self, table: TokenTable, width: int, device: torch.device | str) -> None:
        self.table = table
        self.width = width
        self.device = torch.device(device)
        self._bias: torch.Tensor | None = None
        self._bias_np: np.ndarray | None = None

    def bias_table(self) -> torch.Tensor:
        """[rows, width] additive masks; rebuilt if rows were registered since the last build."""
        rows = self.table.rows
        if self._bias is None or self._bias.shape[0] != len(rows):
            bias = torch.full((len(rows), self.width), float("-inf"))
            for r, ids in enumerate(rows):
                allowed = [i for i in ids if i < self.width]
                if allowed:
                    bias[r, torch.tensor(allowed, dtype=torch.long)] = 0.0
            self._bias = bias.to(self.device)
        return self._bias

    def bias_array(self) -> np.ndarray:
        """The bias table as a numpy array (CPU): the decode loop's CPU path works on numpy logits."""
        if self._bias_np is None or self._bias_np.shape[0] != len(self.table.rows):
            self._bias_np = self.bias_table().cpu().numpy()
        return self._bias_np

    def plan(self, rows: Sequence[RowConstraint]) -> tuple[list[int], dict[int, int]]:
        """Each row's mask row index (``row_any`` when unmasked) and the forced token of forced rows."""
        mask_rows: list[int] = []
        forced: dict[int, int] = {}
        any_row = self.table.row_any
        for i, row in enumerate(rows):
            kind, value = row.constraint()
            if kind == MASK:
                mask_rows.append(value)
            else:
                mask_rows.append(any_row)
                if kind == FORCE:
                    forced[i] = value
        return mask_rows, forced

    def apply(self, logits: torch.Tensor, mask_rows: list[int]) -> torch.Tensor:
        """``logits`` [batch, width] plus each row's bias (a new tensor)."""
        index = torch.tensor(mask_rows, dtype=torch.long, device=self.device)
        return logits + self.bias_table().index_select(0, index)

    def apply_np(self, logits: np.ndarray, mask_rows: list[int]) -> np.ndarray:
        """The same on a numpy array, in place: numpy's per-call overhead is a fraction of torch's."""
        logits += self.bias_array()[mask_rows]
        return logits
