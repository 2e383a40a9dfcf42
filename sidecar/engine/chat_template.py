"""Chat messages to one prompt string: the model's own chat template, else a plain documented fallback.

Why a fallback: the bundled random-weight models (and many small base models) ship no chat template,
and an OpenAI-compatible server must still answer ``/v1/chat/completions``. The fallback is one line
per message, ``<role>: <content>``, then ``assistant:`` to cue the answer, e.g.::

    system: You are terse.
    user: Hello
    assistant:
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def fallback_chat(messages: Sequence[dict[str, str]]) -> str:
    """The fallback template (see the module docstring)."""
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    lines.append("assistant:")
    return "\n".join(lines)


def render_chat(tokenizer: Any, messages: Sequence[dict[str, str]]) -> str:
    """The tokenizer's chat template with the generation prompt when it has one, else :func:`fallback_chat`."""
    if getattr(tokenizer, "chat_template", None):
        text: str = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return text
    return fallback_chat(messages)
