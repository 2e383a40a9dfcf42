"""Reading k6's ``export const options = {...}`` without running JavaScript (osiris_load/core/k6/js_literal.py):
every literal form read to its exact Python value, and every refusal's exact message with its line
and column (counted by hand on the texts below)."""

from __future__ import annotations

import pytest

from osiris_load.core.k6.js_literal import JsLiteralError, extract_options

HEAD = "export const options = "  # 23 characters: the object starts at column 24
COMPUTED = "is computed, not a literal value: write the value out (or export the options as JSON)"


def test_every_literal_form() -> None:
    options = extract_options(HEAD + "{a: 1, b: -2.5, c: 1e3, d: .5, e: -.25, f: 0, g: true, h: false, i: null, "
                                      "'j k': \"x\", \"l\": [1, 'two', [], {}], m: {n: {o: []}}, $p_1: 2E-1,}")
    assert options == {"a": 1, "b": -2.5, "c": 1000.0, "d": 0.5, "e": -0.25, "f": 0, "g": True, "h": False,
                       "i": None, "j k": "x", "l": [1, "two", [], {}], "m": {"n": {"o": []}}, "$p_1": 0.2}
    assert [type(options[k]) for k in "acf"] == [int, float, int]
    assert extract_options(HEAD + "{a: [1, 2,], b: -7}") == {"a": [1, 2], "b": -7}
    assert extract_options(HEAD + "{a:1,b:'x',X:[2]}") == {"a": 1, "b": "x", "X": [2]}  # nothing between tokens


def test_comments_next_to_tokens() -> None:
    text = HEAD + "{a: /*x*/1, //c\nb: 2, c: /*/ 3 */ 4, d: /**/ 5}"
    assert extract_options(text) == {"a": 1, "b": 2, "c": 4, "d": 5}


def test_string_escapes() -> None:
    text = HEAD + "{a: '\\n\\t\\r\\b\\f\\v\\0\\'\\\"\\\\\\u00e9\\q', b: \"it's\", c: '\\u12', d: 'A\\u0042'}"
    assert extract_options(text) == {"a": "\n\t\r\b\f\v\0'\"\\\u00e9q", "b": "it's", "c": "u12", "d": "AB"}
    assert extract_options(HEAD + "{a: '\\u00E9\\u4e2d'}") == {"a": "\u00e9\u4e2d"}


def test_comments_and_whitespace_anywhere() -> None:
    text = ("// k6 script\n/* multi\n line */ export let options = /* x */ { // y\n a /* z */ : 1, // w\n"
            "\t'b'\r\n:\n[ /* */ 2 // two\n ] }")
    assert extract_options(text) == {"a": 1, "b": [2]}
    assert extract_options("export\tvar  options=\n{}") == {}
    assert extract_options("export const options = {}; export const other = {a: b}") == {}


@pytest.mark.parametrize(("text", "message", "line", "column"), [
    (HEAD + "[1]", "options must be an object literal '{...}'", 1, 24),
    (HEAD + "{a: /* x", "unterminated /* comment", 1, 28),
    (HEAD + "{\n  vus: N,\n}", f"'N' {COMPUTED}", 2, 8),
    (HEAD + "{a: !1}", "unexpected '!': the options must be a plain object literal", 1, 28),  # +1 is a signed number
    (HEAD + "{a: 'abc\n}", "unterminated string", 1, 28),
    (HEAD + "{a: 'abc", "unterminated string", 1, 28),
    (HEAD + "{a: 'ab\nc'}", "unterminated string", 1, 28),
    (HEAD + "{a: X}", f"'X' {COMPUTED}", 1, 28),
    (HEAD + "{a: -x}", "unexpected '-': the options must be a plain object literal", 1, 28),
    (HEAD + "{a: /*/ 1}", "unterminated /* comment", 1, 28),
    ("\n" + HEAD + "{a: q}", f"'q' {COMPUTED}", 2, 28),
    (HEAD + "{[k]: 1}", "computed keys ([...]) are not read: write the key out", 1, 25),
    (HEAD + "{...base}", "spread (...) is not read: write the keys out", 1, 25),
    (HEAD + "{1: 2}", "expected a key, found '1'", 1, 25),
    (HEAD + "{a 1}", "expected ':' after key 'a'", 1, 27),
    (HEAD + "{a: 1 b: 2}", "expected ',' or '}' after the value of 'a', found 'b' (only literal values are read)",
     1, 30),
    (HEAD + "{a: 1 // end", "expected ',' or '}' after the value of 'a'", 1, 36),
    (HEAD + "{a: [1 2]}", "expected ',' or ']' in an array, found '2'", 1, 31),
    (HEAD + "{a: [1", "expected ',' or ']' in an array", 1, 30),
    ("x\n\n" + HEAD + "{\n  a: 1,\n    b: q\n}", f"'q' {COMPUTED}", 5, 8),
])
def test_refusals_say_what_and_where(text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(JsLiteralError) as caught:
        extract_options(text)
    assert (str(caught.value), caught.value.line, caught.value.column) == (
        f"line {line}, column {column}: {message}", line, column)


def test_no_options_export() -> None:
    for text in ("export default function () {}", "const options = {}", "export const opts = {}"):
        with pytest.raises(JsLiteralError) as caught:
            extract_options(text)
        assert (str(caught.value), caught.value.line, caught.value.column) == (
            "no 'export const options = {...}' in the script", None, None)
