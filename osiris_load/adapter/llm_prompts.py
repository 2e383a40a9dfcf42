"""Prompts of the LLM scenario: read from a file (JSON list or JSONL) or generated to an input length.

No Locust here (pure). Each entry of a file is one request's input, in any of these forms:

- a string: a plain prompt (sent as one user message to the chat endpoint);
- ``{"prompt": "..."}``: the same;
- ``{"messages": [{"role": ..., "content": ...}, ...]}`` or the list of messages itself: a chat.

To the completions endpoint a chat goes as its messages' contents, one per line. The file is a JSON
array of entries, or JSON Lines (one entry a line; blank lines skipped). Generated prompts
(:func:`generated_prompts`) hold ``n`` common English words each, about ``n`` tokens for most
tokenizers (the server's ``usage.prompt_tokens`` gives the exact count); each starts differently,
so that no two share a cached prefix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

Messages = list[dict[str, str]]

WORDS = ("the market opened higher as traders weighed new data on jobs prices and rates while analysts "
         "watched energy stocks banks and tech shares for signs of a turn in the trend").split()


class LlmPromptsError(Exception):
    """A prompts file that cannot be used; the message says where and what."""


def load_llm_prompts(path: str | os.PathLike[str]) -> list[Messages]:
    """Every entry of the file as chat messages; :class:`LlmPromptsError` says what is wrong and where."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LlmPromptsError(f"prompts file {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LlmPromptsError(f"prompts file {path}: cannot be read as UTF-8 text ({exc})") from None
    entries: list[tuple[str, Any]] = []
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, list) and whole and all(_is_message(m) for m in whole):
        entries = [("the file (one chat)", whole)]
    elif isinstance(whole, list):
        entries = [(f"entry {i}", e) for i, e in enumerate(whole)]
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entries.append((f"line {number}", json.loads(line)))
            except ValueError as exc:
                raise LlmPromptsError(f"prompts file {path}: line {number} is not JSON ({exc}); the file must be "
                                      "a JSON array or JSON Lines") from None
    if not entries:
        raise LlmPromptsError(f"prompts file {path}: no prompts in it")
    return [_messages(entry, f"prompts file {path}: {where}") for where, entry in entries]


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and "role" in value and "content" in value


def _messages(entry: Any, where: str) -> Messages:
    if isinstance(entry, str):
        if not entry.strip():
            raise LlmPromptsError(f"{where} is an empty prompt")
        return [{"role": "user", "content": entry}]
    if isinstance(entry, dict) and "prompt" in entry:
        return _messages(entry["prompt"], where) if isinstance(entry["prompt"], str) else _bad(where)
    if isinstance(entry, dict) and "messages" in entry:
        entry = entry["messages"]
    if isinstance(entry, list) and entry and all(_is_message(m) and isinstance(m["content"], str) for m in entry):
        return [{"role": str(m["role"]), "content": m["content"]} for m in entry]
    return _bad(where)


def _bad(where: str) -> Messages:
    raise LlmPromptsError(f'{where} is neither a prompt string, {{"prompt": "..."}}, nor chat messages '
                          '([{"role": ..., "content": "..."}, ...] or {"messages": [...]})')


def generated_prompts(words: int, count: int = 64) -> list[Messages]:
    """``count`` prompts of ``words`` words each (see the module docstring)."""
    if words < 1:
        raise LlmPromptsError(f"--input-tokens must be at least 1, got {words}")
    prompts = []
    for i in range(count):
        body = [str(i)] + [WORDS[(i * 7 + j) % len(WORDS)] for j in range(words - 1)]
        prompts.append([{"role": "user", "content": " ".join(body)}])
    return prompts


def as_completion_prompt(messages: Messages) -> str:
    """A chat for the completions endpoint: its contents, one per line."""
    return "\n".join(m["content"] for m in messages)
