"""Which SLO table and rows a Locust run judges: ``--slo-file``, ``--slo-rows``, and the rows each
locustfile's users declare (``slo_rows``). Shared by the plugin and the web UI's start form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from locust.env import Environment

from slo.confidence import check_confidence
from slo.table import DEFAULT_TABLE_PATH, SloFileError, SloTable, load_table, parse_duration
from slo.windows import WindowMarks

__all__ = ["check_gate_options", "declared_rows", "load_gate_table", "option", "select_rows"]


def option(environment: Environment, name: str, default: Any = None) -> Any:
    """A parsed option, or ``default`` (no options: a test building its own Environment)."""
    options = environment.parsed_options
    return getattr(options, name, default) if options is not None else default


def declared_rows(environment: Environment) -> tuple[str, ...] | None:
    """The rows the locustfile's users declare (``slo_rows`` on each User class; the union over
    classes), or ``None`` when a user class declares none (then every row is judged)."""
    names: list[str] = []
    classes = list(environment.user_classes or [])
    for cls in classes:
        rows = getattr(cls, "slo_rows", None)
        if rows is None:
            return None
        names += [r for r in rows if r not in names]
    return tuple(names) if classes else None


def select_rows(environment: Environment, table: SloTable) -> tuple[SloTable, tuple[str, ...]]:
    """The table to judge and the rows left out: ``--slo-rows`` (unknown names are an error), else
    the rows the users declare that the table has (all rows when none of them is in the table)."""
    requested = [n.strip() for n in str(option(environment, "slo_rows", "") or "").split(",") if n.strip()]
    if requested:
        return table.select(requested)
    declared = declared_rows(environment)
    known = {row.name for row in table.rows}
    if declared is None or not known.intersection(declared):
        return table, ()
    return table.select([n for n in declared if n in known])


def load_gate_table(environment: Environment, path: str | None = None) -> tuple[SloTable, tuple[str, ...]]:
    """The SLO file (``--slo-file``) and the rows to judge; :class:`SloFileError` says what is wrong."""
    table = load_table(path or option(environment, "slo_file") or str(DEFAULT_TABLE_PATH))
    return select_rows(environment, table)


def check_gate_options(value_of: Callable[[str], Any]) -> None:
    """The gate's options that a parser type cannot check (``value_of(name)``: the command line's or
    the start form's value, ``None`` when absent); :class:`SloFileError` says which is wrong, so the
    CLI exits 2 and the web UI refuses the start with the same message."""
    checks = (("--slo-confidence", "slo_confidence", check_confidence),
              ("--slo-until-settled", "slo_until_settled", lambda v: str(v).strip() and parse_duration(str(v))),
              ("--slo-window", "slo_window", lambda v: WindowMarks(float(v))))
    for flag, name, check in checks:
        value = value_of(name)
        if value is None:
            continue
        try:
            check(value)
        except ValueError as exc:
            raise SloFileError(f"{flag} {value!r}: {exc}") from None
