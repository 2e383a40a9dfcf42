"""The capacity front door without load: help, routing, scenario names, the out folder, and every bad
input refused before anything starts, by the rules ``osiris-load run`` checks its inputs with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from osiris_load.cli import _parser, completion_script, main
from osiris_load.core.exit_codes import (
    EXIT_CAPACITY_ABOVE_MAX,
    EXIT_CAPACITY_BELOW_MIN,
    EXIT_INCONCLUSIVE,
    EXIT_PROBE_ERROR,
    EXIT_SLO_FAILED,
    EXIT_TARGET_DOWN,
)
from osiris_load.jobs.capacity import EXIT_CODES_HELP, _settings, default_capacity_dir, resolve_locustfile
from osiris_load.jobs.capacity_probe import LocustProbe
from tests.test_run_preflight import SHARED_BAD_INPUTS, Door, open_door, typo_table


def test_capacity_exit_codes_are_distinct_from_every_other_code() -> None:
    codes = {0, 1, 2, EXIT_TARGET_DOWN, 4, EXIT_INCONCLUSIVE, EXIT_SLO_FAILED, 129, 130, 143}
    capacity = {EXIT_CAPACITY_BELOW_MIN, EXIT_CAPACITY_ABOVE_MAX, EXIT_PROBE_ERROR}
    assert len(capacity) == 3 and not capacity & codes
    for code in capacity:
        assert str(code) in EXIT_CODES_HELP


def test_help_names_the_options_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["capacity", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--scenario", "--url", "--slo-file", "--max-rate", "--min-rate", "--budget", "--probe-duration",
                   "--precision", "--workers", "--out", "96", "97"):
        assert option in text
    assert "capacity" in completion_script()


def test_scenarios_by_name_or_path(tmp_path: Path) -> None:
    assert resolve_locustfile("read_heavy").name == "read_heavy.py"
    own = tmp_path / "mine.py"
    own.write_text("")
    assert resolve_locustfile(str(own)) == own.resolve()
    with pytest.raises(ValueError, match="not a scenario"):
        resolve_locustfile("nope")


def test_default_out_folder_is_under_the_current_directory() -> None:
    folder = default_capacity_dir(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    assert folder == Path.cwd() / "osiris-runs" / "2026-01-02T03-04-05Z-capacity"


@pytest.fixture
def door(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Door]:
    yield from open_door(tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize(("args", "env", "fragments"), [
    # the environment each probe's Locust run reads: the same checks (and words) as osiris-load run's
    *SHARED_BAD_INPUTS,
    ([], {"OSIRIS_RATE_STAGES": "5s:2"}, ["--arrival-rate and --rate-stages both given",
                                          "(from the environment: OSIRIS_RATE_STAGES='5s:2')"]),
    ([], {"OSIRIS_MAX_VUS": "0"}, ["--max-vus must be a whole number of users >= 1, got '0'", "OSIRIS_MAX_VUS='0'"]),
    ([], {"OSIRIS_ARRIVAL_SEED": "x"}, ["--arrival-seed must be a whole number", "OSIRIS_ARRIVAL_SEED='x'"]),
    ([], {"OSIRIS_STAGES": "5s:2"}, ["--stages 5s:2 ramps users"]),
    (["--scenario", "propose_trade"], {"OSIRIS_PROMPTS": "missing.json"},
     ["prompts file missing.json", "file not found", "OSIRIS_PROMPTS"]),
    # its own options: capacity's messages, as before (these three were test_capacity_runs' own)
    (["--slo-file", "/nonexistent.toml"], {}, ["/nonexistent.toml: SLO file not found"]),
    (["--max-rate", "0.5"], {}, ["--max-rate"]),
    (["--budget", "2s"], {}, ["--budget"]),
    (["--slo-confidence", "95"], {}, ["95"]),
    (["--slo-window", "-1"], {}, ["--slo-window '-1'"]),
    (["--workers", "0"], {}, ["--workers 0: must be at least 1"]),
    (["--scenario", "read_hevy"], {}, ["--scenario 'read_hevy': not a scenario"]),
])
def test_each_bad_input_is_one_line_and_exit_2_with_nothing_started(
    door: Door, args: list[str], env: dict[str, str], fragments: list[str]
) -> None:
    scenario = [] if "--scenario" in args else ["--scenario", "read_heavy"]
    door.refuses_saying([*scenario, *args], env, fragments, command="capacity")


def test_the_target_the_slo_file_and_the_folder_are_checked_as_run_checks_them(
    door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "threshold 'p(95)<<400'" in door.refuses("--scenario", "read_heavy", "--slo-file",
                                                    str(typo_table(door.tmp)), command="capacity")
    a_file = door.tmp / "a-file"
    a_file.write_text("x", encoding="utf-8")
    assert f"--out {a_file / 'run'}: {a_file} is a file, not a folder" in door.refuses(
        "--scenario", "read_heavy", "--out", str(a_file / "run"), command="capacity")
    assert "--url 'localhost:8000' must start with http://" in door.refuses(
        "--scenario", "read_heavy", "--url", "localhost:8000", url=False, command="capacity")
    monkeypatch.setenv("OSIRIS_URL", "localhost:8000")
    assert "OSIRIS_URL 'localhost:8000' must start with http://" in door.refuses(
        "--scenario", "read_heavy", url=False, command="capacity")
    assert not (door.tmp / "osiris-runs").exists()


def test_the_search_s_own_gate_options_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probes get --slo-confidence/--slo-window as OSIRIS_SLO_CONFIDENCE/OSIRIS_SLO_WINDOW: a bad
    variable they replace is not refused, and the confidence planned with is the one the probes use."""
    args = _parser().parse_args(["capacity", "--scenario", "read_heavy", "--out", "x", "--slo-confidence", "0.9",
                                 "--slo-window", "2"])
    config, settings = _settings(args, {"OSIRIS_SLO_CONFIDENCE": "95", "OSIRIS_SLO_WINDOW": "5s"})
    assert (settings.confidence, settings.window) == ("0.9", "2")
    args = _parser().parse_args(["capacity", "--scenario", "read_heavy", "--out", "x"])
    planned_80 = _settings(args, {"OSIRIS_SLO_CONFIDENCE": "0.8"})[0].needs
    planned_99 = _settings(args, {"OSIRIS_SLO_CONFIDENCE": "0.99"})[0].needs
    assert planned_80 != planned_99


def test_every_probe_lets_its_last_iterations_finish_as_k6_s_graceful_stop_does() -> None:
    """Each probe's Locust run gets ``--stop-timeout`` (default 30 s, k6's ``gracefulStop``; whole
    seconds, as Locust reads it): what runs at a probe's end is judged, and served before the next
    probe starts (tests/test_capacity_runs.py shows both). ``0`` cuts at once, as Locust does."""
    def command(*extra: str) -> list[str]:
        args = _parser().parse_args(["capacity", "--scenario", "read_heavy", "--out", "x", *extra])
        settings = _settings(args, {})[1]
        return LocustProbe(settings, lambda *_: 0).command(2.0, 5, Path("x/probe"))

    default = command()
    assert default[default.index("--stop-timeout") + 1] == "30"
    assert command("--stop-timeout", "2.5s")[command("--stop-timeout", "2.5s").index("--stop-timeout") + 1] == "3"
    assert command("--stop-timeout", "45")[default.index("--stop-timeout") + 1] == "45"  # Locust's bare seconds
    assert "--stop-timeout" not in command("--stop-timeout", "0")
    with pytest.raises(SystemExit) as refused:
        _parser().parse_args(["capacity", "--scenario", "read_heavy", "--stop-timeout", "soon"])
    assert refused.value.code == 2


def test_locust_s_own_inputs_are_asked_of_locust_s_parser_with_a_probe_s_command_line(
    door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    (door.tmp / "locust.conf").write_text("spawn-rate = fast\n", encoding="utf-8")
    line = door.refuses("--scenario", "read_heavy", command="capacity", asks_locust=True)
    assert f"{door.tmp / 'locust.conf'}: Locust refuses it: argument -r/--spawn-rate: " in line, line
    assert "'fast'" in line, line
