"""Reading k6's ``export const options = {...}`` without running JavaScript (osiris_load/core/k6/js_literal.py):
every literal form read to its exact Python value, and every refusal's exact message with its line
and column (counted by hand on the texts below)."""

from __future__ import annotations

import pytest

from osiris_load.core.k6.js_literal import JsLiteralError, extract_options, read_options

HEAD = "export const options = "  # 23 characters: the object starts at column 24
COMPUTED = "is computed, not a literal value: write the value out (or export the options as JSON)"


def _refusal(text: str) -> tuple[str, int | None, int | None]:
    """The message, line and column of the error that reading ``text`` raises."""
    with pytest.raises(JsLiteralError) as caught:
        extract_options(text)
    return str(caught.value), caught.value.line, caught.value.column


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
    assert _refusal(text) == (f"line {line}, column {column}: {message}", line, column)


def test_no_options_export() -> None:
    for text in ("export default function () {}", "const options = {}", "export const opts = {}"):
        assert _refusal(text) == ("no 'export const options = {...}' in the script", None, None)


@pytest.mark.parametrize(("literal", "value"), [
    ("`ramping-vus`", "ramping-vus"),
    ("``", ""),
    ("`a\nb`", "a\nb"),  # a template may span lines: the newline is part of the value
    ("`a\\tb\\nc`", "a\tb\nc"),
    ("`it's \"quoted\"`", "it's \"quoted\""),
    ("`\\q\\\\`", "q\\"),  # a backslash before a plain character is that character
    ("`a\\\nb`", "ab"),  # backslash-newline is a line continuation: nothing
    ("`$5 {x} $`", "$5 {x} $"),  # a dollar without a brace is text, not a substitution
    ("'a\\\nb'", "ab"),  # the same line continuation in a quoted string
])
def test_template_strings_without_substitutions_are_plain_strings(literal: str, value: str) -> None:
    assert extract_options(HEAD + "{a:" + literal + ",b:1}") == {"a": value, "b": 1}
    assert extract_options(HEAD + "{a: [" + literal + "]}") == {"a": [value]}
    # each template ends at its own closing backquote
    assert extract_options(HEAD + "{a: " + literal + ", b: `b`}") == {"a": value, "b": "b"}


@pytest.mark.parametrize(("text", "message", "line", "column"), [
    (HEAD + "{a: `${x}`}", "template strings with ${...} are computed: write the value out", 1, 29),
    (HEAD + "{a: `ab${x}`}", "template strings with ${...} are computed: write the value out", 1, 31),
    (HEAD + "{a: `ab${x}${y}`}", "template strings with ${...} are computed: write the value out", 1, 31),
    (HEAD + "{a: `a\nb${x}`}", "template strings with ${...} are computed: write the value out", 2, 2),
    (HEAD + "{a: `abc}", "unterminated template string", 1, 28),
    (HEAD + "{a: `", "unterminated template string", 1, 28),
])
def test_template_refusals_point_at_the_substitution(text: str, message: str, line: int, column: int) -> None:
    assert _refusal(text) == (f"line {line}, column {column}: {message}", line, column)


@pytest.mark.parametrize(("literal", "value"), [
    ("1_000", 1000), ("1_000.5", 1000.5), ("0x10", 16), ("0X1f", 31), ("0xA_B", 171), ("0o17", 15), ("0O7", 7),
    ("0b101", 5), ("0B1_1", 3), ("-0x10", -16), ("+0b11", 3), ("+3", 3), ("5.", 5.0), ("-5.", -5.0),
    ("1E+2", 100.0), ("2.5e-1", 0.25), ("1_0e1_0", 1e11), (".5e1", 5.0), ("0", 0), ("-0.0", -0.0),
])
def test_number_literals_have_their_javascript_value(literal: str, value: float) -> None:
    options = extract_options(HEAD + "{n:" + literal + ",m:[" + literal + "]}")
    assert options == {"n": value, "m": [value]}
    # integers stay int (a count of VUs), anything with a point or an exponent is a float
    assert type(options["n"]) is type(value)


@pytest.mark.parametrize(("literal", "value"), [
    ("'constant-vus' as const", "constant-vus"),
    ("[1, 2] as number[]", [1, 2]),
    ("{x: 1} satisfies Scenario", {"x": 1}),
    ("{x: 1} as k6.Scenario", {"x": 1}),
    ("{x: 1} as Record<string, number>", {"x": 1}),
    ("'a' as const satisfies string", "a"),
    ("true as boolean", True),
])
def test_typescript_type_assertions_after_a_value_are_dropped(literal: str, value: object) -> None:
    assert extract_options(HEAD + "{a: " + literal + ", b: [" + literal + "]}") == {"a": value, "b": [value]}


def test_a_word_after_a_value_that_is_no_type_assertion_is_refused() -> None:
    for text, found in ((HEAD + "{a: 1 asx}", "a"), (HEAD + "{a: 1 sat}", "s")):
        assert _refusal(text) == (f"line 1, column 30: expected ',' or '}}' after the value of 'a', found {found!r} "
                                  "(only literal values are read)", 1, 30)


@pytest.mark.parametrize(("script", "options"), [
    ("export const options: Options = {vus: 1};", {"vus": 1}),
    ("export let options : k6.Options={vus: 2}", {"vus": 2}),
    ("export var options: Partial<Options> = {vus: 3}", {"vus": 3}),
    ("module.exports.options = {vus: 4};", {"vus": 4}),
    ("exports.options={vus: 5}", {"vus": 5}),
    ("const options = {vus: 6};\nexport { options };", {"vus": 6}),
    ("let options = {vus: 7}; export {setup, options, teardown}", {"vus": 7}),
    ("const options: Options = {vus: 8}\nexport { options }", {"vus": 8}),
    # an options object in a comment or a string is not the script's
    ("// export const options = {vus: 0};\nexport const options = {vus: 9};", {"vus": 9}),
    ("/* export const options = {vus: 0}; */ export const options = {vus: 10};", {"vus": 10}),
    ("const s = 'export const options = {vus: 0}';\nexport const options = {vus: 11};", {"vus": 11}),
    ("const s = \"exports.options = {vus: 0}\";\nexports.options = {vus: 12};", {"vus": 12}),
    ("const s = `\nexport const options = {vus: 0}`;\nexport const options = {vus: 13};", {"vus": 13}),
    # ... but the reader reads the script's own text at the object: a string in it keeps its value
    ("export const options = {tag: '// not a comment', t: \"/* nor this */\"}",
     {"tag": "// not a comment", "t": "/* nor this */"}),
])
def test_every_way_a_script_exports_its_options(script: str, options: dict[str, object]) -> None:
    assert extract_options(script) == options


@pytest.mark.parametrize("script", [
    "const options = {vus: 1};",  # declared but never exported
    "const options = {vus: 1};\nexport { options as opts };",  # exported under another name
    "const options = {vus: 1};\nexport { myoptions };",
    "foo.exports.options = {vus: 1};",  # not CommonJS's exports
    "$exports.options = {vus: 1};",
    "export const optionsX = {vus: 1};",
    "// export const options = {vus: 1};",
    "const s = 'export const options = {vus: 1}';",
])
def test_what_is_not_the_exported_options(script: str) -> None:
    assert _refusal(script) == ("no 'export const options = {...}' in the script", None, None)


def test_a_key_given_twice_keeps_its_last_value_in_its_first_place() -> None:
    options, notes = read_options(HEAD + "{a: 1,\n b: 2,\n 'a': 3,\n c: {d: 1, d: [2]}}")
    assert list(options) == ["a", "b", "c"] and options == {"a": 3, "b": 2, "c": {"d": [2]}}
    assert notes == ["line 3: key 'a' given twice: the last value is kept, as in k6",
                     "line 4: key 'd' given twice: the last value is kept, as in k6"]
    assert read_options(HEAD + "{a: 1, b: {a: 2}}") == ({"a": 1, "b": {"a": 2}}, [])  # another object's key
    assert read_options("\n" + HEAD + "{a: 1, a: 2}")[1] == [
        "line 2: key 'a' given twice: the last value is kept, as in k6"]  # a first empty line counts


def test_options_nested_too_deeply_are_refused_not_a_crash() -> None:
    message, line, _ = _refusal(HEAD + "{a: " + "[" * 100_000 + "]" * 100_000 + "}")
    assert message.endswith(": the options are nested too deeply to read") and line == 1


@pytest.mark.parametrize(("text", "message", "column"), [
    (HEAD + "{a: 0x}", "expected ',' or '}' after the value of 'a', found 'x' (only literal values are read)", 29),
    (HEAD + "{a: 1__0}", "expected ',' or '}' after the value of 'a', found '_' (only literal values are read)", 29),
    (HEAD + "{a: 1_}", "expected ',' or '}' after the value of 'a', found '_' (only literal values are read)", 29),
    (HEAD + "{a: +}", "unexpected '+': the options must be a plain object literal", 28),
    (HEAD + "{a: .}", "unexpected '.': the options must be a plain object literal", 28),
    (HEAD + "{a: 'x' + 'y'}", "expected ',' or '}' after the value of 'a', found '+' (only literal values are read)",
     32),
    (HEAD + "{a: }", "unexpected '}': the options must be a plain object literal", 28),
    (HEAD + "{a: ", "unexpected end of the file inside the options object", 28),
    (HEAD + "{a: 1,", "unexpected end of the file", 30),
    (HEAD + "{a", "expected ':' after key 'a'", 26),
    (HEAD + "{'a' 1}", "expected ':' after key 'a'", 29),
    (HEAD + "{\"a\nb\": 1}", "unterminated string", 25),
    (HEAD + "{a: f(1)}", f"'f' {COMPUTED}", 28),
    (HEAD + "{a: trueish}", f"'trueish' {COMPUTED}", 28),
    (HEAD + "{a: $x}", f"'$x' {COMPUTED}", 28),
    (HEAD + "{a: [1,,2]}", "unexpected ',': the options must be a plain object literal", 31),
    (HEAD + "{a: [1}", "expected ',' or ']' in an array, found '}'", 30),
])
def test_more_refusals_say_what_and_where(text: str, message: str, column: int) -> None:
    assert _refusal(text) == (f"line 1, column {column}: {message}", 1, column)


def test_literal_words_and_unicode_keys() -> None:
    assert extract_options(HEAD + "{a: undefined, b: null, c: true, d: false, lecture_élevée: 1, $: 2, _x: 3,"
                                  " 'with space': 4, \"dq\": 5, ü$1: 6}") == {
        "a": None, "b": None, "c": True, "d": False, "lecture_élevée": 1, "$": 2, "_x": 3, "with space": 4, "dq": 5,
        "ü$1": 6}


def test_a_number_too_long_to_read_is_refused_with_its_place() -> None:
    digits = "9" * 5000  # JavaScript reads it (as Infinity); Python's int() refuses more than 4,300 digits
    assert _refusal(HEAD + "{a: " + digits + "}") == (f"line 1, column 28: '{digits}' is not a number literal", 1, 28)
