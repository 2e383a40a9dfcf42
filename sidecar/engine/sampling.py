"""Choosing the next token from a batch of logits: top-k sampling at a temperature, or greedy.

Two implementations of one distribution: :func:`sample` on torch tensors (any device) and
:func:`sample_np` on CPU arrays; the ONNX step can also do it inside its own graph
(:func:`sidecar.engine.inplace_cache.add_sampling`), the same draw as :func:`sample_np`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.8
    top_k: int = 50


def sample(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """One token per row: top-k sampling at ``temperature`` (greedy when it is 0)."""
    if sampling.temperature <= 0:
        return logits.argmax(-1)
    k = min(sampling.top_k, logits.shape[-1]) if sampling.top_k > 0 else logits.shape[-1]
    values, indices = (logits / sampling.temperature).topk(k, dim=-1)
    choice = torch.multinomial(torch.softmax(values, dim=-1), 1)
    return indices.gather(-1, choice).squeeze(-1)


def sample_np(logits: np.ndarray, sampling: Sampling, rng: np.random.Generator) -> np.ndarray:
    """:func:`sample` on a CPU array: top-k, then one Gumbel-max draw among the k for the whole batch.

    Same distribution as softmax + multinomial over the top k (argmax of ``v/T + G``, G Gumbel, taken as
    argmax of ``v - T*log(E)``, E exponential: one float32 draw and one log), in a handful of numpy calls:
    torch's multinomial costs more than a whole ONNX step of the default models.
    """
    temperature = sampling.temperature
    if temperature <= 0:
        return logits.argmax(-1)
    width = logits.shape[-1]
    k = min(sampling.top_k, width) if sampling.top_k > 0 else width
    top: np.ndarray | None = None
    if k < width:  # torch's topk beats numpy's argpartition here; from_numpy shares the memory
        top_values, top_t = torch.from_numpy(logits).topk(k, dim=-1, sorted=False)
        values, top = top_values.numpy(), top_t.numpy()
    else:
        values = logits
    noise = exponential_noise(rng, values.shape)
    np.log(noise, out=noise)
    noise *= temperature
    choice = (values - noise).argmax(-1)
    return choice if top is None else top[np.arange(top.shape[0]), choice]


TINY = np.finfo(np.float32).tiny


def exponential_noise(rng: np.random.Generator, shape: tuple[int, ...], out: np.ndarray | None = None) -> np.ndarray:
    """Standard exponential float32 draws, none of them 0.

    Why not 0: float32 draws are exactly 0 about once in 7 million, and ``log(0) = -inf`` turns a
    masked token's score into ``-inf - -inf = NaN``, which argmax picks: a forbidden token. The
    smallest normal float32 instead still makes that draw's token win, as a 0 would, if it is allowed.
    """
    if out is None:
        out = rng.standard_exponential(shape, dtype=np.float32)
    else:
        rng.standard_exponential(dtype=np.float32, out=out)
    np.maximum(out, TINY, out=out)
    return out
