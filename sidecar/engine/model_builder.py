"""Offline builder of the default sidecar models.

The sidecar must answer with a *real* model's generation without downloading anything, so when no
model directory is configured we build a small GPT-2 style model with seeded random weights and a
byte-level BPE tokenizer trained on the shipped corpus (``sidecar/data/corpus.txt``). The result is
an ordinary ``save_pretrained`` directory: the runner loads it exactly as it would load a real model.

Builds are deterministic (same recipe -> same files), cached under a directory name that carries a
hash of the recipe (a changed recipe builds afresh), and safe when several processes start at once
(each builds into a private temporary directory, then one atomic ``os.rename`` publishes it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sidecar.infra.settings import Settings

# Bump when the build code changes in a way the recipe dict below does not capture.
BUILDER_VERSION = 1
CORPUS_PATH = Path(__file__).resolve().parents[1] / "data" / "corpus.txt"
SPECIAL_TOKEN = "<|endoftext|>"
MANIFEST_NAME = "osiris_build.json"

# Fixed weight seeds: distinct models for the two ids the API knows; other ids derive one from their name.
MODEL_SEEDS: dict[str, int] = {"hermes": 1_000_003, "phi3": 3_000_017}

DEFAULT_ARCH: dict[str, int] = {"n_layer": 2, "n_embd": 128, "n_head": 4, "n_positions": 2048}
TOKENIZER_RECIPE: dict[str, int] = {"vocab_size": 2048, "min_frequency": 2}


class ModelDirectoryError(RuntimeError):
    """A configured model directory is missing or unusable."""


def model_seed(model_id: str) -> int:
    """The weight seed of a model id: from the fixed table, else derived from the id (stable across runs)."""
    if model_id in MODEL_SEEDS:
        return MODEL_SEEDS[model_id]
    return int.from_bytes(hashlib.sha256(model_id.encode()).digest()[:4], "big")


def build_recipe(model_id: str, arch: dict[str, int] | None = None) -> dict[str, Any]:
    """Everything that determines the built files; its hash names the cache directory."""
    corpus_hash = hashlib.sha256(CORPUS_PATH.read_bytes()).hexdigest()
    return {
        "builder_version": BUILDER_VERSION,
        "model_id": model_id,
        "seed": model_seed(model_id),
        "arch": dict(arch or DEFAULT_ARCH),
        "tokenizer": dict(TOKENIZER_RECIPE),
        "special_token": SPECIAL_TOKEN,
        "corpus_sha256": corpus_hash,
    }


def recipe_hash(recipe: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def _safe_name(model_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id) or "model"


def _is_complete(directory: Path) -> bool:
    return (directory / MANIFEST_NAME).is_file()


@contextmanager
def quiet_progress() -> Iterator[None]:
    """Hide transformers' per-file progress bars (they clutter service logs), restoring the setting after."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _train_tokenizer(recipe: dict[str, Any]) -> Any:
    """Byte-level BPE trained on the shipped corpus, wrapped as a transformers fast tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2TokenizerFast

    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train(
        [str(CORPUS_PATH)],
        vocab_size=recipe["tokenizer"]["vocab_size"],
        min_frequency=recipe["tokenizer"]["min_frequency"],
        special_tokens=[SPECIAL_TOKEN],
        show_progress=False,
    )
    return GPT2TokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token=SPECIAL_TOKEN,
        eos_token=SPECIAL_TOKEN,
        unk_token=SPECIAL_TOKEN,
        pad_token=SPECIAL_TOKEN,
        model_max_length=recipe["arch"]["n_positions"],
    )


def _build_into(directory: Path, recipe: dict[str, Any]) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = _train_tokenizer(recipe)
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        **recipe["arch"],
    )
    # fork_rng: seed the weights without disturbing the caller's global RNG state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe["seed"])
        model = GPT2LMHeadModel(config)
    model.eval()
    model.generation_config.pad_token_id = eos
    with quiet_progress():
        model.save_pretrained(directory, safe_serialization=True)
        tokenizer.save_pretrained(directory)
    manifest = {"recipe": recipe, "recipe_hash": recipe_hash(recipe)}
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _remove_stale_builds(cache_dir: Path, name: str, max_age_s: float = 3600.0) -> None:
    """Temporary build directories left by a killed process (a live build takes seconds, not an hour)."""
    now = time.time()
    for leftover in cache_dir.glob(f".{name}.tmp-*"):
        try:
            if now - leftover.stat().st_mtime > max_age_s:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def ensure_default_model(model_id: str, cache_dir: Path, *, arch: dict[str, int] | None = None) -> Path:
    """Return the directory of the default model ``model_id``, building it first if needed.

    ``arch`` overrides the GPT-2 shape (n_layer, n_embd, n_head, n_positions), e.g. for a larger
    benchmark model; it is part of the recipe hash, so each shape gets its own directory.
    """
    recipe = build_recipe(model_id, arch)
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / f"{_safe_name(model_id)}-{recipe_hash(recipe)}"
    if _is_complete(target):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(cache_dir, target.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=cache_dir))
    try:
        _build_into(tmp, recipe)
        try:
            os.rename(tmp, target)  # atomic: readers see nothing or the complete directory
        except OSError:
            # Another process published first (target exists and is not empty): keep theirs.
            if not _is_complete(target):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model_dir(settings: Settings, model_id: str) -> Path:
    """The configured directory of ``model_id`` when set (it must exist), else the built default."""
    configured = settings.model_dir(model_id)
    if configured is not None:
        path = Path(configured).expanduser()
        if not path.is_dir():
            env = f"OSIRIS_{model_id.upper()}_MODEL_DIR"
            raise ModelDirectoryError(f"model directory for {model_id!r} ({env}) does not exist: {path}")
        return path
    return ensure_default_model(model_id, settings.model_cache_dir)
