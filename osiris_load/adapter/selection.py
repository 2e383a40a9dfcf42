"""Which SLO table and rows a Locust run judges: ``--slo-file``, ``--slo-rows``, and the rows each
locustfile's users declare (``slo_rows``), or the table they declare as theirs when ``--slo-file`` is
left at the default (``slo_default_table``: the LLM scenario's ``llm.toml``, whose keys the guide's
table lacks). Shared by the plugin and the web UI's start form."""

from __future__ import annotations

from typing import Any

from locust.env import Environment

from osiris_load.core.slo.gate_options import check_gate_options, requested_rows
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, SloTable, load_table

__all__ = ["check_gate_options", "declared_rows", "declared_table", "load_gate_table", "option", "select_rows"]


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
    requested = requested_rows(option(environment, "slo_rows", ""))
    if requested:
        return table.select(requested)
    declared = declared_rows(environment)
    known = {row.name for row in table.rows}
    if declared is None or not known.intersection(declared):
        return table, ()
    return table.select([n for n in declared if n in known])


def declared_table(environment: Environment) -> str | None:
    """The table every user class declares as its default (``slo_default_table``), else ``None``."""
    tables = {str(getattr(cls, "slo_default_table", "") or "") for cls in environment.user_classes or []}
    return tables.pop() if len(tables) == 1 and "" not in tables else None


def load_gate_table(environment: Environment, path: str | None = None) -> tuple[SloTable, tuple[str, ...]]:
    """The SLO file (``--slo-file``) and the rows to judge; :class:`SloFileError` says what is wrong."""
    path = path or option(environment, "slo_file") or str(DEFAULT_TABLE_PATH)
    if path == str(DEFAULT_TABLE_PATH):
        path = declared_table(environment) or path
    table = load_table(path)
    return select_rows(environment, table)
