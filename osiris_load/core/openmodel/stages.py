"""The k6 stages notation (pure: no Locust, no gevent): ``<duration>:<target>,...``.

One parser for both ramps of the project: ``--stages 10s:5,30s:5,5s:0`` (users, the closed model,
``osiris_load.adapter.shape``) and ``--rate-stages 10s:2,30s:5,5s:0`` (iterations per second, the open
model, ``osiris_load.core.openmodel.schedule``), which differ only in their targets (:func:`split_stages`). Durations
are k6/Go durations (:func:`parse_duration`); :func:`format_duration` writes them back.

It lives here, in the pure package, so that pure modules (the rate plans, the capacity search) and
tools need not import the Locust-side ``locustfiles`` package to read a stages text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Stage",
    "StagesError",
    "format_duration",
    "format_stages",
    "parse_duration",
    "parse_stages",
    "split_stages",
    "total_duration",
]

_UNIT_SECONDS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# One component of a Go/k6 duration: a number and a unit.  "ms" must be tried before "m".
_COMPONENT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|h|m|s)")
_DURATION = re.compile(rf"(?:{_COMPONENT.pattern})+")
_DURATION_HINT = "use e.g. 500ms, 10s, 1m30s, 2m, 1h"


class StagesError(ValueError):
    """A ``--stages`` value (or one part of it) that cannot be understood; the message names the part."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One k6 stage: ramp linearly from the previous target to ``target`` users over ``duration_s``."""

    duration_s: float
    target: int


def parse_duration(text: str) -> float:
    """Parse a k6/Go duration (``500ms``, ``10s``, ``1m30s``, ``2m``, ``1h``, ``1.5s``, ``0``) into seconds.

    A bare ``0`` is accepted like Go does; any other number needs a unit, because a bare ``30``
    is ambiguous (k6 reads numbers as milliseconds in JSON, Locust reads them as seconds).
    """
    value = text.strip()
    if not value:
        raise StagesError("empty duration")
    if value == "0":
        return 0.0
    if not _DURATION.fullmatch(value):
        if re.fullmatch(r"\d+(?:\.\d*)?", value):
            raise StagesError(f"duration {value!r} has no unit ({_DURATION_HINT})")
        raise StagesError(f"bad duration {value!r} ({_DURATION_HINT})")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _COMPONENT.findall(value))


def split_stages(text: str, *, noun: str = "stage", shape: str = "<target>", example: str = "10s:5,30s:5,5s:0",
                 error: type[StagesError] = StagesError) -> list[tuple[str, float, str]]:
    """Split a k6 stages text into ``(where, duration_s, target_text)`` per comma-separated part;
    ``error`` names the offending part (1-based position and text). Shared by ``--stages`` and the
    open model's ``--rate-stages`` (``osiris_load.core.openmodel.schedule``), which differ only in their targets."""
    if text is None or not str(text).strip():
        raise error(f"no {noun}s given (expected e.g. {example})")
    parts: list[tuple[str, float, str]] = []
    for position, raw in enumerate(str(text).split(","), start=1):
        part = raw.strip()
        where = f"{noun} {position} {part!r}"
        if not part:
            raise error(f"{noun} {position} is empty (stray comma?) in {text!r}")
        if part.count(":") != 1:
            raise error(f"{where}: expected <duration>:{shape}, e.g. {example.split(',')[0]}")
        duration_text, target_text = (piece.strip() for piece in part.split(":"))
        try:
            duration_s = parse_duration(duration_text)
        except StagesError as exc:
            raise error(f"{where}: {exc}") from None
        parts.append((where, duration_s, target_text))
    return parts


def parse_stages(text: str) -> list[Stage]:
    """Parse ``"10s:5,30s:5,5s:0"`` into ``[Stage(10.0, 5), Stage(30.0, 5), Stage(5.0, 0)]``.

    Each comma-separated part is ``<duration>:<target users>``.  Errors raise :class:`StagesError`
    naming the offending part (1-based position and text) so a user can fix a long spec quickly.
    """
    stages: list[Stage] = []
    for where, duration_s, target_text in split_stages(text):
        if not re.fullmatch(r"\d+", target_text):
            raise StagesError(f"{where}: target must be a whole number of users >= 0, got {target_text!r}")
        stages.append(Stage(duration_s=duration_s, target=int(target_text)))
    if total_duration(stages) <= 0:
        raise StagesError(f"stages {text!r} last 0s in total; at least one stage needs a duration")
    return stages


def format_duration(seconds: float) -> str:
    """Render seconds compactly in the same notation ``parse_duration`` reads (round-trips)."""
    if seconds == 0:
        return "0s"
    millis = round(seconds * 1000)
    if millis % 1000:
        return f"{millis}ms"
    whole = millis // 1000
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return out


def format_stages(stages: list[Stage]) -> str:
    """The inverse of :func:`parse_stages`, for log lines and the web UI."""
    return ",".join(f"{format_duration(s.duration_s)}:{s.target}" for s in stages)


def total_duration(stages: list[Stage]) -> float:
    """Seconds from the start of the first stage to the end of the last one."""
    return sum(s.duration_s for s in stages)
