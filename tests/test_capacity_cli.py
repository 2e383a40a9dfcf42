"""The capacity front door without load: help, routing, scenario names, the out folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from capacity.job import EXIT_CODES_HELP, default_capacity_dir, resolve_locustfile
from slo.verdict import (
    EXIT_CAPACITY_ABOVE_MAX,
    EXIT_CAPACITY_BELOW_MIN,
    EXIT_INCONCLUSIVE,
    EXIT_PROBE_ERROR,
    EXIT_SLO_FAILED,
)
from suite.cli import completion_script, main
from suite.main_job import EXIT_TARGET_DOWN


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
