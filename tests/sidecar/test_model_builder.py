"""The default models are built offline, deterministically, once, and load like any HF directory."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from sidecar.engine.model_builder import (
    MANIFEST_NAME,
    ModelDirectoryError,
    build_recipe,
    ensure_default_model,
    recipe_hash,
    resolve_model_dir,
)
from sidecar.infra.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_builds_a_loadable_gpt2_directory(cache: Path) -> None:
    d = ensure_default_model("hermes", cache)
    assert d.parent == cache and (d / MANIFEST_NAME).is_file()
    tok = AutoTokenizer.from_pretrained(d, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(d, local_files_only=True)
    assert model.config.model_type == "gpt2"
    assert model.config.n_positions == 2048
    assert 2 <= model.config.n_layer <= 4 and 128 <= model.config.n_embd <= 256
    assert model.config.vocab_size == len(tok) <= 2048
    assert tok.eos_token and tok.pad_token and tok.bos_token
    text = 'AAPL LONG {"action": "adjust", "confidence": 0.7}'
    assert tok.decode(tok.encode(text)) == text  # byte-level BPE round-trips
    assert len(tok.encode("BTC SHORT adjust pass abort")) < len("BTC SHORT adjust pass abort")  # merges learned
    ids = tok("hello market", return_tensors="pt")
    with torch.inference_mode():
        out = model(**ids)
    assert out.logits.shape[-1] == len(tok)


def test_second_call_reuses_the_directory(cache: Path) -> None:
    d1 = ensure_default_model("hermes", cache)
    mtime = (d1 / "model.safetensors").stat().st_mtime_ns
    d2 = ensure_default_model("hermes", cache)
    assert d2 == d1 and (d2 / "model.safetensors").stat().st_mtime_ns == mtime


def test_builds_are_deterministic(cache: Path, tmp_path: Path) -> None:
    a = ensure_default_model("hermes", cache)
    b = ensure_default_model("hermes", tmp_path)
    assert a.name == b.name
    assert _digests(a) == _digests(b)


def test_hermes_and_phi3_have_different_weights(cache: Path) -> None:
    h = ensure_default_model("hermes", cache)
    p = ensure_default_model("phi3", cache)
    assert h != p
    dh, dp = _digests(h), _digests(p)
    assert dh["model.safetensors"] != dp["model.safetensors"]
    assert dh["tokenizer.json"] == dp["tokenizer.json"]


def test_directory_name_carries_the_recipe_hash(cache: Path) -> None:
    d = ensure_default_model("hermes", cache)
    assert d.name == f"hermes-{recipe_hash(build_recipe('hermes'))}"
    small = {"n_layer": 1, "n_embd": 64, "n_head": 2, "n_positions": 256}
    other = ensure_default_model("hermes", cache, arch=small)
    assert other != d
    assert AutoModelForCausalLM.from_pretrained(other, local_files_only=True).config.n_layer == 1


def test_concurrent_builds_end_with_one_good_directory(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(REPO)!r})
        from sidecar.engine.model_builder import ensure_default_model
        print(ensure_default_model("phi3", Path(sys.argv[1])))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1]
    entries = list(tmp_path.iterdir())
    assert [e.name for e in entries] == [Path(outs[0]).name]  # no temporary leftovers
    AutoTokenizer.from_pretrained(entries[0], local_files_only=True)
    AutoModelForCausalLM.from_pretrained(entries[0], local_files_only=True)


def test_resolve_model_dir(cache: Path, tmp_path: Path) -> None:
    settings = Settings(model_cache_dir=cache)
    assert resolve_model_dir(settings, "phi3") == ensure_default_model("phi3", cache)
    configured = Settings(hermes_model_dir=tmp_path, model_cache_dir=cache)
    assert resolve_model_dir(configured, "hermes") == tmp_path
    missing = Settings(hermes_model_dir=tmp_path / "nope", model_cache_dir=cache)
    with pytest.raises(ModelDirectoryError, match="OSIRIS_HERMES_MODEL_DIR"):
        resolve_model_dir(missing, "hermes")
