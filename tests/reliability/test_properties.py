"""Case 7, property-based: the file loaders never fail with anything but their own error, naming the problem.

Already covered elsewhere: the threshold parser on any text and on grammar soup
(``tests/test_slo_expressions.py``), ``parse_table`` on TOML fragments and on any text
(``tests/test_slo_table.py``). Added here: the same through the files users actually write
(``load_table`` and ``load_prompts`` on arbitrary bytes and on arbitrary JSON / TOML content), and
that an SLO error names the file, the row and the expression.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris_load.adapter.scenario_options import PromptsError, load_prompts
from osiris_load.core.slo.table import SloFileError, SloTable, load_table

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


# --------------------------------------------------------------------------------------------------
# prompts.json
# --------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5),
    max_leaves=15,
)
# Mostly arrays of strings (blank ones too), so that both outcomes are common.
prompts_documents = st.one_of(
    st.lists(st.text(alphabet=st.sampled_from([" ", "\t", "\n", "a", "é", "€", '"', "\\"]), max_size=6), max_size=5),
    st.lists(json_values, max_size=5),
    json_values,
)


def check_prompts(path: Path) -> list[str] | None:
    try:
        prompts = load_prompts(path)
    except PromptsError as exc:
        assert exc.path == str(path)
        assert str(exc).startswith(f"prompts file {path}: ") and exc.reason
        return None
    assert isinstance(prompts, list) and prompts
    assert all(isinstance(p, str) and p.strip() for p in prompts)
    return prompts


@PROPERTY_SETTINGS
@given(prompts_documents)
def test_prompts_any_json_loads_or_raises_prompts_error(workdir: Path, document: object) -> None:
    path = workdir / "prompts.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    prompts = check_prompts(path)
    valid = (isinstance(document, list) and bool(document)
             and all(isinstance(p, str) and p.strip() for p in document))
    assert (prompts is not None) == valid, (document, prompts)
    if valid:
        assert prompts == document


@PROPERTY_SETTINGS
@given(st.binary(max_size=200))
def test_prompts_any_bytes_load_or_raise_prompts_error(workdir: Path, raw: bytes) -> None:
    path = workdir / "prompts.bin"
    path.write_bytes(raw)
    check_prompts(path)


@PROPERTY_SETTINGS
@given(st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=4), st.data())
def test_prompts_damaged_json_raises_prompts_error(workdir: Path, prompts: list[str], data: st.DataObject) -> None:
    text = json.dumps(prompts)
    cut = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    junk = data.draw(st.text(alphabet=st.sampled_from(list('[]{}",:\\ x0\x00')), max_size=3))
    path = workdir / "damaged.json"
    path.write_text(text[:cut] + junk, encoding="utf-8")
    check_prompts(path)


# --------------------------------------------------------------------------------------------------
# SLO files
# --------------------------------------------------------------------------------------------------

_toml_fragments = st.sampled_from([
    "[[row]]\n", "[row]\n", "name = ", '"g"', '"h"', "\n", "requests = ", "thresholds = ", '["GET /x"]',
    '["p(95)<800"]', '["p(95)<8x0"]', '["rate>=0.999", "avg<1s"]', "[", "]", "{", "}", ", ",
    "abort_on_fail = true", 'threshold = "avg<1"', 'delay_abort_eval = "1s"', 'delay_abort_eval = "1x"',
    "required = ", "description = ", "true", "1", '"', "=", "#", "row = ", "[]", "x = 1\n", '"POST"', '"/x"',
    "3.5", "'lit'", '"GET"', '"GET /x"', '"FETCH /x"', "\ufeff", "\x00",
])


def check_table(path: Path) -> SloTable | None:
    try:
        table = load_table(path)
    except SloFileError as exc:
        assert str(exc).startswith(f"{path}: "), str(exc)
        return None
    assert isinstance(table, SloTable) and table.rows
    return table


@PROPERTY_SETTINGS
@given(st.lists(_toml_fragments, max_size=30).map("".join))
def test_slo_file_of_toml_fragments_loads_or_raises_slo_file_error(workdir: Path, text: str) -> None:
    path = workdir / "fragments.toml"
    path.write_text(text, encoding="utf-8")
    check_table(path)


@PROPERTY_SETTINGS
@given(st.binary(max_size=300))
def test_slo_file_of_any_bytes_loads_or_raises_slo_file_error(workdir: Path, raw: bytes) -> None:
    path = workdir / "bytes.toml"
    path.write_bytes(raw)
    check_table(path)


def toml_string(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped, everything else as is."""
    body = "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F or c in '"\\' else c for c in text)
    return f'"{body}"'


expression_text = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.text(alphabet=st.sampled_from(list("pavgmedinxrtfl_co()<>=!.0123456789 e%sm-+")), max_size=20),
)
row_names = st.text(alphabet=string.ascii_letters + string.digits + " _-", min_size=1, max_size=12).filter(str.strip)


@PROPERTY_SETTINGS
@given(row_names, expression_text, st.booleans())
def test_slo_error_in_an_expression_names_file_row_and_expression(workdir: Path, name: str, expression: str,
                                                                  long_form: bool) -> None:
    threshold = (f"{{ threshold = {toml_string(expression)}, abort_on_fail = true }}" if long_form
                 else toml_string(expression))
    path = workdir / "expression.toml"
    path.write_text('[[row]]\nname = "ok"\nrequests = ["GET /health"]\nthresholds = ["p(95)<400"]\n\n'
                    f'[[row]]\nname = {toml_string(name)}\nrequests = ["POST /generate"]\n'
                    f"thresholds = [{threshold}]\n", encoding="utf-8")
    try:
        table = load_table(path)
    except SloFileError as exc:
        assert str(exc).startswith(f"{path}: row 2 {name!r}: threshold {expression!r}: "), str(exc)
    else:
        assert [row.name for row in table.rows] == ["ok", name]
