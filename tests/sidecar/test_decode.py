"""The decode loop's pieces that need no model: both samplers honour masks, top-k and greediness."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sidecar.engine.decode import Sampling, sample, sample_np


def masked_logits(rows: int = 64, width: int = 300) -> tuple[np.ndarray, list[set[int]]]:
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(rows, width)).astype(np.float32)
    allowed: list[set[int]] = []
    for r in range(rows):
        keep = set(rng.choice(width, size=1 + r % 7, replace=False).tolist())
        logits[r, [i for i in range(width) if i not in keep]] = -np.inf
        allowed.append(keep)
    return logits, allowed


def test_both_samplers_pick_only_allowed_tokens() -> None:
    logits, allowed = masked_logits()
    rng = np.random.default_rng(0)
    for _ in range(20):
        for tokens in (sample_np(logits.copy(), Sampling(0.8, 50), rng).tolist(),
                       sample(torch.from_numpy(logits.copy()), Sampling(0.8, 50)).tolist()):
            assert all(t in ok for t, ok in zip(tokens, allowed, strict=True))


def test_top_k_and_greedy() -> None:
    logits = np.tile(np.arange(100, dtype=np.float32), (8, 1))  # token 99 best, then 98, ...
    seen = set(sample_np(np.repeat(logits, 50, axis=0), Sampling(5.0, 3), np.random.default_rng(1)).tolist())
    assert seen == {97, 98, 99}  # a flat-ish distribution over exactly the top 3
    assert set(sample(torch.from_numpy(np.repeat(logits, 50, axis=0)), Sampling(5.0, 3)).tolist()) == {97, 98, 99}
    assert sample_np(logits, Sampling(0.0), np.random.default_rng(2)).tolist() == [99] * 8
    assert sample(torch.from_numpy(logits), Sampling(0.0)).tolist() == [99] * 8


def test_gumbel_draw_follows_the_softmax() -> None:
    logits = np.log(np.array([[0.7, 0.2, 0.1]], dtype=np.float32)).repeat(20000, axis=0)
    tokens = sample_np(logits, Sampling(1.0, 0), np.random.default_rng(3))
    freq = np.bincount(tokens, minlength=3) / len(tokens)
    assert np.allclose(freq, [0.7, 0.2, 0.1], atol=0.02)


class ZeroDraws:
    """An RNG whose exponential draws are all 0: the once-in-millions float32 draw, every time."""

    def standard_exponential(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> np.ndarray:
        if out is not None:
            out.fill(0.0)
            return out
        return np.zeros(size, dtype=dtype)


def test_a_zero_exponential_draw_never_picks_a_masked_token() -> None:
    """log(0) = -inf would make a masked token's score NaN, which argmax picks; a zero draw must not."""
    logits, allowed = masked_logits()
    for sampling in (Sampling(1.0, 0), Sampling(0.8, 50)):
        tokens = sample_np(logits.copy(), sampling, ZeroDraws())  # type: ignore[arg-type]
        assert all(t in ok for t, ok in zip(tokens.tolist(), allowed, strict=True))
