"""``slo_locust``'s pieces one at a time, not only through whole runs: which table and rows a run judges
(``selection``), the gate's options a parser cannot check, and the final rewrite of Locust's CSVs
(``final_csv``). Importing Locust gevent-patches a process, so the pieces run in one child (Locust
imported first) that prints what each saw as JSON; the tests assert on that. The default SLO table is
the user's own (``slo/default.toml``). No load, no network: a second or two of Locust's import.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from osiris_load.core.slo.table import DEFAULT_TABLE_PATH
from osiris_load.testing.support import ROOT, locust_env

MARK = "@@slo-locust-pieces@@"


def _user(rows: tuple[str, ...] | None) -> type:
    from locust import User

    name = "Declares_" + "_".join(rows) if rows is not None else "DeclaresNothing"  # Locust wants unique names
    return type(name, (User,), {} if rows is None else {"slo_rows": rows})


def _environment(user_classes: list[type], **options: Any) -> Any:
    from locust.env import Environment

    return Environment(user_classes=user_classes, parsed_options=types.SimpleNamespace(**options))


def _selection() -> dict[str, Any]:
    from osiris_load.adapter.selection import declared_rows, load_gate_table, option
    from osiris_load.core.slo.table import SloFileError

    def rows(env: Any) -> Any:
        try:
            table, left_out = load_gate_table(env)
        except SloFileError as exc:
            return {"error": str(exc)}
        return {"rows": [r.name for r in table.rows], "left_out": list(left_out)}

    from locust.env import Environment

    return {
        "declared_none": declared_rows(_environment([_user(("health",)), _user(None)])),
        "declared_union": declared_rows(_environment([_user(("metrics", "health")), _user(("health", "propose"))])),
        "declared_no_class": declared_rows(_environment([])),
        "no_options": option(Environment(), "slo_rows", "fallback"),
        "all": rows(_environment([_user(None)], slo_rows="", slo_file=None)),
        "declared": rows(_environment([_user(("metrics", "health", "unknown"))], slo_rows="", slo_file=None)),
        "declared_unknown_only": rows(_environment([_user(("nothing",))], slo_rows="", slo_file=None)),
        "cli_wins": rows(_environment([_user(("health",))], slo_rows=" propose , generate ", slo_file=None)),
        "cli_typo": rows(_environment([_user(None)], slo_rows="helth", slo_file=None)),
    }


def _gate_options() -> dict[str, Any]:
    from osiris_load.adapter.selection import check_gate_options
    from osiris_load.core.slo.table import SloFileError

    def refusal(values: dict[str, Any]) -> str | None:
        try:
            check_gate_options(values.get)
        except SloFileError as exc:
            return str(exc)
        return None

    return {"fine": refusal({"slo_confidence": "0.99", "slo_until_settled": "5m", "slo_window": "2"}),
            "absent": refusal({}),
            "confidence": refusal({"slo_confidence": "1.5"}),
            "until": refusal({"slo_until_settled": "soon"}),
            "window_off": refusal({"slo_window": "0"}),
            "window": refusal({"slo_window": "0.5"})}


def _final_csv(folder: Path) -> dict[str, Any]:
    from osiris_load.adapter.final_csv import write_final_locust_csv

    env = _environment([])
    runner = env.create_local_runner()
    try:
        for ms in (10, 20, 30):
            runner.stats.log_request("GET", "/health", ms, 100)
        runner.stats.log_error("GET", "/health", "boom")
        prefix = folder / "run"
        write_final_locust_csv(env, str(prefix))
    finally:
        runner.quit()
    return {suffix: Path(f"{prefix}{suffix}").read_text(encoding="utf-8")
            for suffix in ("_stats.csv", "_failures.csv", "_exceptions.csv")}


def _registration() -> dict[str, Any]:
    """Every way in (the gate package, the ``slo_locust`` shim, the users module) registers the gate once."""
    import gc

    from locust import events

    import osiris_load.adapter.gate as gate
    import osiris_load.adapter.users  # noqa: F401
    import slo_locust
    from osiris_load.adapter.context import context_of
    from osiris_load.adapter.gate.distributed import MasterRole, WorkerRole
    from osiris_load.adapter.gate.options import add_arguments
    from osiris_load.adapter.gate.roles import LocalRole

    def count(hook: Any, listener: Any) -> int:
        return sum(1 for handler in hook._handlers if handler == listener)  # the test may look inside Locust

    env = _environment([])
    runner = env.create_local_runner()
    try:
        gate.on_init(environment=env, runner=runner, web_ui=None)
        context = context_of(env)
        roles = {"local": type(context.gate.role).__name__}
        local_listeners = count(env.events.request, context.gate.recording.on_request)
    finally:
        runner.quit()
    stand_in = types.SimpleNamespace(parsed_options=None)  # a test's environment: no weak reference
    kept = type("OpenModelStandIn", (), {"active": False})()
    context_of(stand_in).open_model = kept
    del env, context, runner
    gc.collect()
    from osiris_load.adapter import context as context_module

    return {"same_module": slo_locust.plugin is gate,
            "init": count(events.init, gate.on_init), "parser": count(events.init_command_line_parser, add_arguments),
            "settle": count(events.quitting, gate.settle_exit_code), "roles": roles,
            "role_for": [gate.role_for(None).__name__, LocalRole.__name__, WorkerRole.__name__, MasterRole.__name__],
            "request_listeners": local_listeners, "stand_in": context_of(stand_in).open_model is kept,
            "contexts_left": len(context_module._CONTEXTS)}


def child_main(folder: str) -> None:
    import traceback

    seen: dict[str, Any] = {}
    for name, piece in (("selection", _selection), ("gate_options", _gate_options),
                        ("final_csv", lambda: _final_csv(Path(folder))), ("registration", _registration)):
        try:
            seen[name] = {"value": piece()}
        except Exception:
            seen[name] = {"error": traceback.format_exc()}
    print(MARK + json.dumps(seen))


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    code = "import locust, sys; from tests import test_slo_locust_pieces as t; t.child_main(sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path_factory.mktemp("pieces"))], cwd=ROOT,
                          env=locust_env(), capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    assert done.returncode == 0 and lines, done.stdout + done.stderr
    return json.loads(lines[-1][len(MARK):])


def value(seen: dict[str, Any], name: str) -> Any:
    assert "error" not in seen[name], seen[name].get("error")
    return seen[name]["value"]


def test_the_rows_a_run_judges(seen: dict[str, Any]) -> None:
    got = value(seen, "selection")
    assert got["declared_none"] is None  # one class declares nothing: every row is judged
    assert got["declared_union"] == ["metrics", "health", "propose"]  # the union, first seen first
    assert got["declared_no_class"] is None
    assert got["no_options"] == "fallback"
    assert got["all"] == {"rows": ["generate", "health", "metrics", "propose"], "left_out": []}
    # declared rows the table has, in the file's order; a declared row the table lacks is ignored
    assert got["declared"] == {"rows": ["health", "metrics"], "left_out": ["generate", "propose"]}
    assert got["declared_unknown_only"] == {"rows": ["generate", "health", "metrics", "propose"], "left_out": []}
    assert got["cli_wins"] == {"rows": ["generate", "propose"], "left_out": ["health", "metrics"]}  # --slo-rows
    assert got["cli_typo"] == {"error": f"{DEFAULT_TABLE_PATH}: no row called 'helth' (did you mean 'health'?); "
                                        "rows: generate, health, metrics, propose"}


def test_the_gate_options_a_parser_cannot_check(seen: dict[str, Any]) -> None:
    got = value(seen, "gate_options")
    assert got["fine"] is None and got["absent"] is None
    assert got["confidence"].startswith("--slo-confidence '1.5': ")
    assert got["until"].startswith("--slo-until-settled 'soon': ")
    assert got["window_off"] is None  # 0: windows off
    assert got["window"] == "--slo-window '0.5': a time window is 0 (off) or at least 1 s, got 0.5"


def test_the_final_rewrite_of_locusts_csvs(seen: dict[str, Any]) -> None:
    got = value(seen, "final_csv")
    stats = got["_stats.csv"].splitlines()
    assert stats[0].startswith("Type,Name,Request Count,Failure Count,")
    health = next(line.split(",") for line in stats if line.startswith("GET,/health,"))
    assert health[2:4] == ["3", "1"]  # the three requests, one of them failed (log_error counts the failure)
    assert got["_failures.csv"].splitlines()[1].startswith("GET,/health,boom,1,")  # then first/last seen
    assert got["_exceptions.csv"].splitlines() == ["Count,Message,Traceback,Nodes"]


def test_the_gate_registers_once_whichever_way_it_is_imported(seen: dict[str, Any]) -> None:
    """``osiris_load.adapter.gate``, ``slo_locust`` and ``osiris_load.adapter.users`` all register the gate's
    listeners exactly once per process; a local runner gets the local role and one request listener; the
    run context goes with its environment (none left once it is collected), a stand-in keeps one."""
    got = value(seen, "registration")
    assert got["same_module"] is True
    assert (got["init"], got["parser"], got["settle"]) == (1, 1, 1)
    assert got["roles"] == {"local": "LocalRole"}
    assert got["role_for"] == ["LocalRole", "LocalRole", "WorkerRole", "MasterRole"]
    assert got["request_listeners"] == 1
    assert got["stand_in"] is True
    assert got["contexts_left"] == 0
