"""The SLO file: the default table matches the guide, and every mistake names file, row and
expression."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osiris_load.core.slo.expressions import Aggregation
from osiris_load.core.slo.table import (
    DEFAULT_TABLE_PATH,
    SloFileError,
    SloRow,
    SloTable,
    ThresholdSpec,
    load_table,
    parse_duration,
    parse_table,
)

EXAMPLE = """
[[row]]
name = "generate"
requests = ["POST /generate"]
thresholds = ["rate>=0.999", "p(95)<800", "p(99)<1200"]

[[row]]
name = "propose"
requests = ["POST /propose_trade_adjustments/"]
thresholds = [
  "rate>=0.995",
  { threshold = "p(95)<1500", abort_on_fail = true, delay_abort_eval = "10s" },
]
"""


def _expressions(row: SloRow) -> list[str]:
    return [spec.threshold.source for spec in row.thresholds]


# --- the default table --------------------------------------------------------------------------

def test_default_table_is_the_guides() -> None:
    table = load_table(DEFAULT_TABLE_PATH)
    assert DEFAULT_TABLE_PATH.name == "default.toml"
    assert DEFAULT_TABLE_PATH.parent.name == "slo"
    by_name = {row.name: row for row in table.rows}
    assert list(by_name) == ["generate", "health", "metrics", "propose"]

    generate = by_name["generate"]
    assert generate.matches("POST", "/generate")
    assert generate.matches("POST", "/generate/")  # the k6 script's spelling
    assert _expressions(generate) == ["rate>=0.999", "p(95)<800", "p(99)<1200"]
    for name in ("health", "metrics"):
        row = by_name[name]
        assert row.requests == (f"GET /{name}",)
        assert _expressions(row) == ["rate>=0.999", "p(95)<400"]
    propose = by_name["propose"]
    assert propose.matches("POST", "/propose_trade_adjustments/")
    assert _expressions(propose) == ["rate>=0.995", "p(95)<1500"]

    for row in table.rows:
        assert not row.required  # scenarios only hit some endpoints
        for spec in row.thresholds:
            assert spec.abort_on_fail is False
            if spec.threshold.aggregation.kind == "p":
                assert spec.threshold.op == "<"  # the guide's limits are strict


def test_default_table_rows_do_not_overlap() -> None:
    table = load_table(DEFAULT_TABLE_PATH)
    for row in table.rows:
        for request in row.requests:
            method, name = request.split(" ", 1)
            owners = [r.name for r in table.rows if r.matches(method, name)]
            assert owners == [row.name]


# --- the format ---------------------------------------------------------------------------------

def test_example_parses() -> None:
    table = parse_table(EXAMPLE, "slo.toml")
    assert table.source == "slo.toml"
    generate, propose = table.rows
    assert generate.requests == ("POST /generate",)
    assert [s.abort_on_fail for s in generate.thresholds] == [False, False, False]
    long_form = propose.thresholds[1]
    assert long_form.abort_on_fail is True
    assert long_form.delay_abort_eval_s == 10.0
    assert long_form.threshold.aggregation == Aggregation("p", 95.0)
    assert long_form.threshold.value == 1500.0
    assert table.row("propose") is propose
    with pytest.raises(KeyError):
        table.row("nope")


def test_optional_keys_and_short_forms() -> None:
    table = parse_table(
        '[[row]]\nname = "h"\nrequests = "get  /health"\nthresholds = "p(95)<400"\n'
        'required = true\ndescription = "liveness"\n'
    )
    (row,) = table.rows
    assert row.requests == ("GET /health",)  # method upper-cased, spaces normalised
    assert row.required is True
    assert row.description == "liveness"
    assert len(row.thresholds) == 1


def test_matching_method_case_and_exact_name() -> None:
    row = parse_table('[[row]]\nname = "g"\nrequests = ["POST /generate"]\nthresholds = ["avg<1"]').rows[0]
    assert row.matches("POST", "/generate")
    assert row.matches("post", "/generate")
    assert not row.matches("GET", "/generate")
    assert not row.matches("POST", "/generate/")
    assert not row.matches("POST", "/Generate")
    assert not row.matches("POST", "/generate?x=1")


def test_matching_wildcards() -> None:
    row = parse_table(
        '[[row]]\nname = "w"\nrequests = ["GET /items/*", "POST *", "GET /a/*/b", "GET /lit/[id]"]\n'
        'thresholds = ["avg<1"]'
    ).rows[0]
    assert row.matches("GET", "/items/")
    assert row.matches("GET", "/items/42/details")  # * crosses "/"
    assert row.matches("POST", "anything at all")
    assert row.matches("GET", "/a/x/y/b")
    assert not row.matches("GET", "/a/x/c")
    assert row.matches("GET", "/lit/[id]")  # brackets are literal, not a character class
    assert not row.matches("GET", "/lit/i")
    assert not row.matches("PUT", "/items/1")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("10s", 10.0), ("500ms", 0.5), ("1m", 60.0), ("1m30s", 90.0), ("1h", 3600.0), ("0.5s", 0.5),
     (5, 5.0), (2.5, 2.5), (0, 0.0), (" 10s ", 10.0)],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["10", "10x", "s", "", "-1s", "1s 2s", "ten seconds", -1, True, [1],
                                   float("inf"), float("nan")])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(value)


def test_constructed_rows_match_too() -> None:
    table = parse_table(EXAMPLE)
    spec = table.rows[0].thresholds[0]
    row = SloRow(name="x", requests=("GET /a*",), thresholds=(spec,))
    assert row.matches("get", "/abc")
    assert isinstance(ThresholdSpec(spec.threshold).delay_abort_eval_s, float)
    assert SloTable(rows=(row,), source="mem").rows[0] == row


# --- errors --------------------------------------------------------------------------------------

def _row(body: str) -> str:
    return f'[[row]]\nname = "ok"\nrequests = ["GET /ok"]\nthresholds = ["avg<1"]\n\n[[row]]\n{body}\n'


ROW_ERRORS = [
    # (second row body, expected message)
    ('name = "generate"\nrequests = ["POST /generate"]\nthresholds = ["p(95)<8x0"]',
     "slo.toml: row 2 'generate': threshold 'p(95)<8x0': bad number '8x0' at column 7"),
    ('name = "g"\nrequests = ["POST /g"]\nthresholds = [{ threshold = "rate>=2", abort_on_fail = true }]',
     "slo.toml: row 2 'g': threshold 'rate>=2': rate value 2 out of range at column 7"),
    ('requests = ["GET /x"]\nthresholds = ["avg<1"]', "slo.toml: row 2: missing key 'name'"),
    ('name = "g"\nthresholds = ["avg<1"]', "slo.toml: row 2 'g': missing key 'requests'"),
    ('name = "g"\nrequests = ["GET /x"]', "slo.toml: row 2 'g': missing key 'thresholds'"),
    ('name = 5\nrequests = ["GET /x"]\nthresholds = ["avg<1"]', "row 2: 'name' must be a string, got integer"),
    ('name = "  "\nrequests = ["GET /x"]\nthresholds = ["avg<1"]', "row 2: 'name' must not be empty"),
    ('name = "g"\nrequests = 3\nthresholds = ["avg<1"]', "row 2 'g': 'requests' must be an array of strings"),
    ('name = "g"\nrequests = []\nthresholds = ["avg<1"]', "row 2 'g': 'requests' must not be empty"),
    ('name = "g"\nrequests = [1]\nthresholds = ["avg<1"]', "row 2 'g': request 1 must be a string"),
    ('name = "g"\nrequests = ["/generate"]\nthresholds = ["avg<1"]',
     "row 2 'g': request '/generate' has no method: write it as 'METHOD NAME', e.g. 'GET /generate'"),
    ('name = "g"\nrequests = ["POST"]\nthresholds = ["avg<1"]', "row 2 'g': request 'POST' has no name"),
    ('name = "g"\nrequests = ["FETCH /x"]\nthresholds = ["avg<1"]',
     "row 2 'g': unknown HTTP method 'FETCH' in request 'FETCH /x'; expected one of GET, POST"),
    ('name = "g"\nrequests = ["GET /x", "get /x"]\nthresholds = ["avg<1"]',
     "row 2 'g': request 'get /x' is listed twice"),
    ('name = "g"\nrequests = ["GET /x"]\nthresholds = {}', "row 2 'g': 'thresholds' must be an array"),
    ('name = "g"\nrequests = ["GET /x"]\nthresholds = []', "row 2 'g': 'thresholds' must not be empty"),
    ('name = "g"\nrequests = ["GET /x"]\nthresholds = [800]',
     "row 2 'g': threshold 1 must be a string like \"p(95)<800\" or a table"),
    ('name = "g"\nrequests = ["GET /x"]\nthresholds = [{ abort_on_fail = true }]',
     "row 2 'g': threshold 1: missing key 'threshold'"),
    ('name = "g"\nrequests = ["GET /x"]\nthresholds = [{ threshold = 5 }]',
     "row 2 'g': threshold 1: 'threshold' must be a string, got integer"),
    ('name = "g"\nrequests = ["GET /x"]\nthresholds = [{ threshold = "avg<1", abortOnFail = true }]',
     "row 2 'g': threshold 'avg<1': unknown key 'abortOnFail' (did you mean 'abort_on_fail'?)"),
    ('name = "g"\nrequests = ["GET /x"]\nthresholds = [{ threshold = "avg<1", abort_on_fail = "yes" }]',
     "row 2 'g': threshold 'avg<1': 'abort_on_fail' must be true or false, got string"),
    ('name = "g"\nrequests = ["GET /x"]\n'
     'thresholds = [{ threshold = "avg<1", abort_on_fail = true, delay_abort_eval = "10x" }]',
     "row 2 'g': threshold 'avg<1': 'delay_abort_eval': bad duration '10x'"),
    ('name = "g"\nrequests = ["GET /x"]\n'
     'thresholds = [{ threshold = "avg<1", abort_on_fail = true, delay_abort_eval = "10" }]',
     "bad duration '10' (a string needs a unit)"),
    ('name = "g"\nrequests = ["GET /x"]\nthresholds = [{ threshold = "avg<1", delay_abort_eval = "1s" }]',
     "row 2 'g': threshold 'avg<1': 'delay_abort_eval' has no effect without abort_on_fail = true"),
    ('name = "g"\nrequests = ["GET /x"]\nthresholds = ["avg<1"]\nrequired = 1',
     "row 2 'g': 'required' must be true or false, got integer"),
    ('name = "g"\nrequests = ["GET /x"]\nthresholds = ["avg<1"]\ndescription = 1',
     "row 2 'g': 'description' must be a string, got integer"),
    ('name = "g"\nrequests = ["GET /x"]\nthresholds = ["avg<1"]\nendpoint = "x"\nthreshold = 1',
     "row 2 'g': unknown keys 'endpoint', 'threshold' (did you mean 'thresholds'?); allowed: name, requests"),
    ('name = "ok"\nrequests = ["GET /y"]\nthresholds = ["avg<1"]',
     "slo.toml: row 2 'ok': duplicate row name (already used by row 1)"),
]


@pytest.mark.parametrize(("body", "message"), ROW_ERRORS)
def test_row_errors(body: str, message: str) -> None:
    with pytest.raises(SloFileError) as info:
        parse_table(_row(body), "slo.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("slo.toml: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "slo.toml: no rows: add at least one [[row]]"),
        ("row = []", "slo.toml: no rows"),
        ("# only a comment\n", "slo.toml: no rows"),
        ('[row]\nname = "x"', "slo.toml: 'row' must be an array of tables: write [[row]], not [row]"),
        ('row = "x"', "slo.toml: 'row' must be an array of tables ([[row]]), got string"),
        ("row = [1]", "slo.toml: row 1: expected a table"),
        ('[[rows]]\nname = "x"', "slo.toml: unknown key 'rows' (did you mean 'row'?)"),
        ('[[row]]\nname = "x"\nrequests = ["GET /"]\nthresholds = ["avg<1"]\nversion = 1\n',
         "slo.toml: row 1 'x': unknown key 'version'"),
        ('[[row]]\nname = "x"\nrequests = ["GET /"]\nthresholds = ["avg<1"]\n[other]\n',
         "slo.toml: unknown key 'other'; allowed: row"),
        ('[[row]]\nname = "x\n', "slo.toml: TOML syntax error: "),
        ('[[row]]\nname = "x"\nname = "y"\n', "(at line 3"),
    ],
)
def test_document_errors(text: str, message: str) -> None:
    with pytest.raises(SloFileError) as info:
        parse_table(text, "slo.toml")
    assert message in str(info.value)


def test_syntax_error_names_the_line() -> None:
    text = '[[row]]\nname = "x"\nrequests = ["GET /"\nthresholds = ["avg<1"]\n'
    with pytest.raises(SloFileError, match=r"slo\.toml: TOML syntax error: .*line 4"):
        parse_table(text, "slo.toml")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(SloFileError, match=r"nope\.toml: SLO file not found"):
        load_table(path)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(SloFileError, match="is a directory"):
        load_table(tmp_path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.toml"
    path.write_text(EXAMPLE)

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)  # chmod does not stop root, which CI may be
    with pytest.raises(SloFileError, match=r"secret\.toml: cannot read the SLO file: Permission denied"):
        load_table(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(b'[[row]]\nname = "caf\xe9"\n')
    with pytest.raises(SloFileError, match=r"latin\.toml: not UTF-8"):
        load_table(path)


def test_load_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "slo.toml"
    path.write_text(_row('name = "generate"\nrequests = ["POST /generate"]\nthresholds = ["p(95)<8x0"]'))
    with pytest.raises(SloFileError) as info:
        load_table(path)
    assert str(info.value) == (f"{path}: row 2 'generate': threshold 'p(95)<8x0': bad number '8x0' "
                               "at column 7")


def test_load_accepts_str_path(tmp_path: Path) -> None:
    path = tmp_path / "slo.toml"
    path.write_text(EXAMPLE)
    table = load_table(str(path))
    assert table.source == str(path)
    assert [r.name for r in table.rows] == ["generate", "propose"]


# --- properties ----------------------------------------------------------------------------------

_toml_fragments = st.sampled_from([
    "[[row]]\n", "[row]\n", "name = ", '"g"', '"h"', "\n", "requests = ", "thresholds = ", '["GET /x"]',
    '["p(95)<800"]', '["p(95)<8x0"]', "[", "]", "{", "}", ", ", "abort_on_fail = true",
    'threshold = "avg<1"', 'delay_abort_eval = "1s"', "required = ", "true", "1", '"', "=", "#",
    "row = ", "[]", "x = 1\n", '"POST"', '"/x"', "3.5", "'lit'",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_toml_fragments, max_size=25).map("".join))
def test_parse_table_raises_only_slo_file_error(text: str) -> None:
    try:
        table = parse_table(text, "fuzz.toml")
    except SloFileError as exc:
        assert str(exc).startswith("fuzz.toml: ")
    else:
        assert isinstance(table, SloTable) and table.rows


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_parse_table_on_any_text(text: str) -> None:
    try:
        parse_table(text)
    except SloFileError:
        pass
