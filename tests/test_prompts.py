"""prompts.json: the bundled file and every way a user-supplied one can be wrong.

``load_prompts`` lives in the Locust-free package ``__init__`` so it is tested in-process; the
exit-2-at-startup behaviour of the locustfiles is covered in ``test_locustfiles.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osiris_load.adapter.scenario_options import DEFAULT_PROMPTS_PATH, PromptsError, load_prompts, prompts_path


def test_bundled_prompts_are_like_the_originals() -> None:
    prompts = load_prompts(DEFAULT_PROMPTS_PATH)
    assert len(prompts) == 3
    assert all(isinstance(p, str) and p.strip() for p in prompts)
    joined = " ".join(prompts)
    for ticker in ("AAPL", "BTC", "SPY"):
        assert ticker in joined
    # a plain JSON array of strings, nothing else (users edit this file by hand)
    assert json.loads(DEFAULT_PROMPTS_PATH.read_text(encoding="utf-8")) == prompts


def test_prompts_path_default_and_override(tmp_path: Path) -> None:
    assert prompts_path({}) == DEFAULT_PROMPTS_PATH
    assert prompts_path({"OSIRIS_PROMPTS": "  "}) == DEFAULT_PROMPTS_PATH
    assert prompts_path({"OSIRIS_PROMPTS": str(tmp_path / "mine.json")}) == tmp_path / "mine.json"


def test_load_prompts_accepts_any_nonempty_array_of_strings(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(["één", "two words", "x" * 5000]), encoding="utf-8")
    assert load_prompts(path) == ["één", "two words", "x" * 5000]
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(["bom is fine"]).encode())  # editors on Windows add a BOM
    assert load_prompts(path) == ["bom is fine"]
    assert load_prompts(str(path)) == ["bom is fine"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is not valid JSON (Expecting value at line 1 column 1)"),
        (b'["a", ', "is not valid JSON"),
        (b"['single quotes']", "is not valid JSON"),
        (b'{"prompts": ["a"]}', "must be a JSON array of strings, got a JSON object"),
        (b'"just a string"', "must be a JSON array of strings, got a JSON string"),
        (b"42", "got a JSON number"),
        (b"null", "got a JSON null"),
        (b"[]", "is an empty array; add at least one prompt"),
        (b'["ok", 3]', "entry 1 is a JSON number, expected a string"),
        (b'["ok", null]', "entry 1 is a JSON null, expected a string"),
        (b'[["nested"]]', "entry 0 is a JSON array, expected a string"),
        (b'[{"prompt": "x"}]', "entry 0 is a JSON object, expected a string"),
        (b"[true]", "entry 0 is a JSON boolean"),
        (b'["ok", ""]', "entry 1 is an empty string"),
        (b'["ok", "   "]', "entry 1 is an empty string"),
        (b'["\xff\xfe"]', "is not UTF-8 text"),
    ],
)
def test_load_prompts_errors_say_what_is_wrong(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "prompts.json"
    path.write_bytes(content)
    with pytest.raises(PromptsError) as info:
        load_prompts(path)
    assert reason in str(info.value)
    assert str(info.value).startswith(f"prompts file {path}: ")
    assert info.value.path == str(path)
    assert "\n" not in str(info.value)  # printed as one line


def test_load_prompts_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(PromptsError, match="file not found") as info:
        load_prompts(path)
    assert str(path) in str(info.value)


def test_load_prompts_directory(tmp_path: Path) -> None:
    with pytest.raises(PromptsError, match="is a directory, not a file"):
        load_prompts(tmp_path)


def test_load_prompts_unreadable(tmp_path: Path) -> None:
    """A path that exists but cannot be read, for every user: CI runs as root, which reads a file whatever
    its mode (so a ``chmod 0`` file would be read), but no one reads through a symbolic link loop (ELOOP)."""
    path, other = tmp_path / "prompts.json", tmp_path / "other.json"
    path.symlink_to(other)
    other.symlink_to(path)
    with pytest.raises(PromptsError) as info:
        load_prompts(path)
    assert str(info.value) == f"prompts file {path}: cannot be read (Too many levels of symbolic links)"


def test_prompts_error_keeps_reason_separately() -> None:
    error = PromptsError("/x/p.json", "file not found")
    assert error.reason == "file not found"
    assert str(error) == "prompts file /x/p.json: file not found"


def test_load_prompts_os_error_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the uid the suite runs as, an OSError from reading becomes a one-line PromptsError."""
    path = tmp_path / "p.json"
    path.write_text('["a"]')

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(PromptsError) as info:
        load_prompts(path)
    assert str(info.value) == f"prompts file {path}: cannot be read (Permission denied)"
