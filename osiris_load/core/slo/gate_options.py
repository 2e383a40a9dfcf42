"""The SLO gate's options: their environment variables and the checks a parser type cannot make (pure).

The one copy of these rules: the Locust plugin registers the options under these environment
variables and checks them at init (``osiris_load.adapter.gate``), the web UI's start form checks its fields
with :func:`check_gate_options` (``osiris_load.adapter.webui``), and ``osiris-load run`` checks the environment
its Locust runs inherit with :func:`check_gate_env` before it starts anything (``osiris_load.jobs.preflight``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from osiris_load.core.slo.confidence import check_confidence
from osiris_load.core.slo.evaluate import POLICIES
from osiris_load.core.slo.table import SloFileError, parse_duration
from osiris_load.core.slo.windows import WindowMarks

__all__ = ["ENV_VAR", "FLAG_OPTIONS", "FLOAT_OPTIONS", "GENERATOR_MONITOR_CHOICES", "check_gate_env",
           "check_gate_options", "flag_value", "requested_rows"]

ENV_VAR = {name: f"OSIRIS_{name.upper()}" for name in (
    "slo_file", "slo_rows", "slo_strict", "slo_allow_lost_workers", "slo_confidence", "slo_inconclusive",
    "slo_until_settled", "slo_window", "slo_eval_interval", "slo_final_wait", "slo_generator_monitor")}
"""Each gate option's environment variable (``OSIRIS_SLO_FILE``...), as the Locust parser reads them."""
GENERATOR_MONITOR_CHOICES = ("on", "off")
"""``--slo-generator-monitor``: measure the generator's own delays (on, the default) or not."""
FLOAT_OPTIONS = ("slo_window", "slo_eval_interval", "slo_final_wait")
"""The options the Locust parser reads as numbers (``type=float``)."""
FLAG_OPTIONS = ("slo_strict", "slo_allow_lost_workers")
"""The on/off options (``store_true``): set from the environment as Locust's parser (configargparse) reads a flag."""
_FLAG_WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def flag_value(text: str) -> bool:
    """An on/off option's value in an environment variable, read as the Locust parser reads it
    (configargparse: true/yes/on/1, false/no/off/0, any case); :class:`ValueError` otherwise."""
    try:
        return _FLAG_WORDS[text.lower()]
    except KeyError:
        raise ValueError(f"{text!r} is not one of true, false, yes, no, on, off, 1, 0") from None


def requested_rows(text: Any) -> list[str]:
    """The row names of a ``--slo-rows`` value (comma-separated; blanks ignored)."""
    return [name.strip() for name in str(text or "").split(",") if name.strip()]


def check_gate_options(value_of: Callable[[str], Any], called: Mapping[str, str] | None = None) -> None:
    """The gate's options that a parser type cannot check (``value_of(name)``: the command line's or
    the start form's value, ``None`` when absent); :class:`SloFileError` says which is wrong (by its
    flag, or by ``called[name]``: its environment variable), so the CLI exits 2 and the web UI
    refuses the start with the same message."""
    checks = (("slo_confidence", check_confidence),
              ("slo_until_settled", lambda v: str(v).strip() and parse_duration(str(v))),
              ("slo_window", lambda v: WindowMarks(float(v))))
    for name, check in checks:
        value = value_of(name)
        if value is None:
            continue
        try:
            check(value)
        except ValueError as exc:
            label = (called or {}).get(name) or f"--{name.replace('_', '-')}"
            raise SloFileError(f"{label} {value!r}: {exc}") from None


def check_gate_env(environ: Mapping[str, str]) -> None:
    """The gate's options as environment variables (what a Locust run inherits): each must parse as
    the Locust parser parses it (a number, a choice, a flag), then pass :func:`check_gate_options`;
    :class:`SloFileError` names the variable and what is wrong."""
    for name, env in ENV_VAR.items():
        text = environ.get(env)
        if text is None:
            continue
        try:
            if name in FLOAT_OPTIONS:
                float(text)
            elif name in FLAG_OPTIONS:
                flag_value(text)
            elif name == "slo_inconclusive" and text not in POLICIES:
                raise ValueError(f"must be one of {', '.join(POLICIES)}")
            elif name == "slo_generator_monitor" and text not in GENERATOR_MONITOR_CHOICES:
                raise ValueError(f"must be one of {', '.join(GENERATOR_MONITOR_CHOICES)}")
        except ValueError as exc:
            raise SloFileError(f"{env} {text!r}: {'not a number' if name in FLOAT_OPTIONS else exc}") from None
    check_gate_options(lambda name: environ.get(ENV_VAR[name]), ENV_VAR)
