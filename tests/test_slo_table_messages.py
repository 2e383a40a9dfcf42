# ruff: noqa: E501  (golden messages are compared whole)
"""Every message of the SLO file loader and of durations, word for word: what a user sees of a bad
file in a CI log (the mutation test of ``slo/`` relies on these)."""

from __future__ import annotations

import pytest

from osiris_load.core.slo.table import SloFileError, parse_duration, parse_table

CASES = [
    ('[[row]]\nname = true\nrequests = ["GET /a"]\nthresholds = ["p(95)<1"]\n',
     "f.toml: row 1: 'name' must be a string, got boolean"),
    ('[[row]]\nname = "a"\nrequests = 3\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': \'requests\' must be an array of strings like "GET /health", got integer'),
    ('[[row]]\nname = "a"\nrequests = 3.5\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': \'requests\' must be an array of strings like "GET /health", got float'),
    ('[[row]]\nname = "a"\nrequests = {x = 1}\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': \'requests\' must be an array of strings like "GET /health", got table'),
    ('[[row]]\nname = "a"\nrequests = [[1]]\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': request 1 must be a string like "GET /health", got array'),
    ('[[row]]\nname = "a"\nrequests = [1979-05-27]\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': request 1 must be a string like "GET /health", got date/time'),
    ('[[row]]\nname = "a"\nrequests = ["/health"]\nthresholds = ["p(95)<1"]\n',
     "f.toml: row 1 'a': request '/health' has no method: write it as 'METHOD NAME', e.g. 'GET /health'"),
    ('[[row]]\nname = "a"\nrequests = ["  "]\nthresholds = ["p(95)<1"]\n',
     "f.toml: row 1 'a': request '  ' has no method: write it as 'METHOD NAME', e.g. 'GET /health'"),
    ('[[row]]\nname = "a"\nrequests = ["get"]\nthresholds = ["p(95)<1"]\n',
     "f.toml: row 1 'a': request 'get' has no name after the method: write it as 'METHOD NAME', e.g. 'GET /health'"),
    ('[[row]]\nname = "a"\nrequests = []\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': \'requests\' must not be empty: list the requests this SLO judges, e.g. ["GET /health"]'),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [3]\n',
     'f.toml: row 1 \'a\': threshold 1 must be a string like "p(95)<800" or a table { threshold = "...", abort_on_fail = true }, got integer'),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{abort_on_fail = true}]\n',
     "f.toml: row 1 'a': threshold 1: missing key 'threshold' (the expression)"),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = 1}]\n',
     "f.toml: row 1 'a': threshold 1: 'threshold' must be a string, got integer"),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = "p(95)<1", abort_on_fail = "yes"}]\n',
     "f.toml: row 1 'a': threshold 'p(95)<1': 'abort_on_fail' must be true or false, got string"),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = "p(95)<1", abort_on_fail = true, delay_abort_eval = "10"}]\n',
     'f.toml: row 1 \'a\': threshold \'p(95)<1\': \'delay_abort_eval\': bad duration \'10\' (a string needs a unit): use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = "p(95)<1", delay_abort_eval = "10s"}]\n',
     "f.toml: row 1 'a': threshold 'p(95)<1': 'delay_abort_eval' has no effect without abort_on_fail = true"),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = "p(95)<1", abortOnFail = true, delay_Abort_Eval = 1}]\n',
     "f.toml: row 1 'a': threshold 'p(95)<1': unknown keys 'abortOnFail' (did you mean 'abort_on_fail'?), 'delay_Abort_Eval' (did you mean 'delay_abort_eval'?); allowed: threshold, abort_on_fail, delay_abort_eval"),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = {}\n',
     'f.toml: row 1 \'a\': \'thresholds\' must be an array of expressions like "p(95)<800", got table'),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = []\n',
     'f.toml: row 1 \'a\': \'thresholds\' must not be empty: add e.g. "p(95)<800"'),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = ["p(95)<1"]\nrequire = true\n',
     "f.toml: row 1 'a': unknown key 'require' (did you mean 'required'?); allowed: name, requests, thresholds, required, description"),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_loader_messages(text: str, message: str) -> None:
    with pytest.raises(SloFileError) as caught:
        parse_table(text, "f.toml")
    assert str(caught.value) == message


DURATIONS = [
    (True, 'bad duration True (boolean): use e.g. "10s", "500ms", "1m" or a number of seconds'),
    (None, 'bad duration None (nothing): use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ('10', 'bad duration \'10\' (a string needs a unit): use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ('', 'bad duration \'\': use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ('1x', 'bad duration \'1x\': use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ('-1s', 'bad duration \'-1s\': use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ([1], 'bad duration [1] (array): use e.g. "10s", "500ms", "1m" or a number of seconds'),
    (float("inf"), 'bad duration inf: must be a finite number of seconds >= 0'),
]


@pytest.mark.parametrize(("value", "message"), DURATIONS)
def test_duration_messages(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert str(caught.value) == message


def test_durations_and_requests_that_load() -> None:
    assert [parse_duration(v) for v in (1.5, "1m30s", "500ms", ".5s", 0, "1h")] == [1.5, 90.0, 0.5, 0.5, 0.0, 3600.0]
    table = parse_table('[[row]]\nname = "a"\nrequests = ["get  /a b", "POST /x"]\nthresholds = '
                        '[{threshold = "p(95)<1", abort_on_fail = true, delay_abort_eval = "2s"}, "count>1"]\n')
    row = table.rows[0]
    assert row.requests == ("GET /a b", "POST /x") and row.thresholds[0].delay_abort_eval_s == 2.0
    assert row.thresholds[1].delay_abort_eval_s == 0.0 and not row.thresholds[1].abort_on_fail
    assert row.latency_limits == (1.0,) and table.row("a") is row
    with pytest.raises(KeyError):
        table.row("b")
