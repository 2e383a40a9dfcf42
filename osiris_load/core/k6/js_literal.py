"""Read ``export const options = {...}`` out of a k6 script, without running any JavaScript.

k6 options are almost always a plain object literal. This is a small recursive-descent reader
for exactly that subset: objects (bare or quoted keys, unicode names), arrays, strings in ``'``
or ``"``, numbers (``1_000``, ``0x10``, ``5.``), ``true``/``false``/``null``/``undefined``,
trailing commas, comments and template strings without ``${...}``. TypeScript's ``export const
options: Options = {...}`` is read too (k6 runs ``.ts`` files), and so are ``as const`` and
``satisfies`` after a value, and CommonJS's ``module.exports.options = {...}``. An options object
in a comment or a string is not the script's: the search skips both. Anything computed (a
variable, a call, a ``${...}`` template, a spread, an arithmetic expression) is refused with its
line and column, so nothing is guessed: the user is told to write the value out or export the
object as JSON. A key given twice keeps its last value, as JavaScript (and so k6) does; the
reader lists it (:func:`read_options`). Pure and dependency-free.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["JsLiteralError", "extract_options", "read_options"]

# ``export const options = {``, TypeScript's ``export const options: Options = {`` (a type, maybe
# qualified or generic: ``k6.Options``, ``Partial<Options>``) included
_TYPE = r"(?::\s*[A-Za-z_$][\w$.]*(?:\s*<[^=;{}]*>)?\s*)?"
# ... and CommonJS, which k6 runs too: ``module.exports.options = {`` or ``exports.options = {``
_EXPORT = re.compile(rf"(?:export\s+(?:const|let|var)\s+options\s*{_TYPE}|(?<![\w$.])(?:module\.)?exports\.options\s*)"
                     r"=\s*")
# ``const options = {...}`` exported apart: ``export { options }`` (or ``export { options, ... }``)
_DECLARED = re.compile(rf"(?:^|[;\n])\s*(?:const|let|var)\s+options\s*{_TYPE}=\s*")
_EXPORT_LIST = re.compile(r"export\s*\{[^}]*\boptions\b(?!\s*as\b)[^}]*\}")
_IDENT = re.compile(r"(?:[^\W\d]|\$)[\w$]*")  # JavaScript's identifiers are Unicode: {lecture_élevée: ...}
# JavaScript's number literals: 1_000 separators, 5. and .5, hex/octal/binary (read by int(text, 0))
_DIGITS = r"\d(?:_?\d)*"
_NUMBER = re.compile(rf"[-+]?(?:0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|0[oO][0-7](?:_?[0-7])*|0[bB][01](?:_?[01])*"
                     rf"|(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?)")
# TypeScript after a value: ``'ramping-vus' as const``, ``x as Type``, ``{...} satisfies Type`` (types only)
_TYPE_AFTER = re.compile(r"(?:as|satisfies)\s+(?:const\b|[A-Za-z_$][\w$.]*(?:\s*<[^=;{}]*>)?(?:\[\])*)")
# What the search for the options skips: comments (an old options object commented out above the real
# one) and strings/templates; each replaced by spaces, so positions and line numbers stay the same.
_NOT_CODE = re.compile(r"//[^\n]*|/\*.*?(?:\*/|\Z)|'(?:\\.|[^'\\\n])*'?|\"(?:\\.|[^\"\\\n])*\"?|`(?:\\.|[^`\\])*`?",
                       re.DOTALL)
# (a backslash before a newline is JavaScript's line continuation: it and the newline read as nothing; the
# importer reads the file with universal newlines, so a CRLF or CR line end arrives here as ``\n``)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0", "\n": ""}


class JsLiteralError(ValueError):
    """The options could not be read; ``line`` and ``column`` are 1-based (``None``: not found)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.line, self.column = line, column
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(where + message)


class _Reader:
    def __init__(self, text: str, pos: int) -> None:
        self.text, self.pos = text, pos
        self.duplicates: list[str] = []  # "line L: key 'k' given twice ..." for each repeated key

    def fail(self, message: str, pos: int | None = None) -> JsLiteralError:
        pos = self.pos if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return JsLiteralError(message, line, column)

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            if text[self.pos].isspace():
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated /* comment")
                self.pos = end + 2
            else:
                return

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def value(self) -> Any:
        c = self.peek()
        if c == "{":
            return self.obj()
        if c == "[":
            return self.array()
        if c and c in "'\"":  # ("" is in every string: the end of the text is no quote)
            return self.string()
        m = _NUMBER.match(self.text, self.pos)
        if m and (c.isdigit() or c in "-+."):
            number = m.group()  # int() and float() read the 1_000 separators _NUMBER lets through (PEP 515)
            try:
                if number.lstrip("+-")[1:2] in ("x", "X", "o", "O", "b", "B"):
                    value: float = int(number, 0)
                else:
                    value = float(number) if any(ch in number for ch in ".eE") else int(number)
            except ValueError:
                raise self.fail(f"{m.group()!r} is not a number literal") from None
            self.pos = m.end()
            return value
        m = _IDENT.match(self.text, self.pos)
        if m:
            word = {"true": True, "false": False, "null": None, "undefined": None}  # undefined: unset, as in k6
            if m.group() in word:
                self.pos = m.end()
                return word[m.group()]
            raise self.fail(f"{m.group()!r} is computed, not a literal value: write the value out "
                            "(or export the options as JSON)")
        if c == "`":
            return self.template()
        if c == "":
            raise self.fail("unexpected end of the file inside the options object")
        raise self.fail(f"unexpected {c!r}: the options must be a plain object literal")

    def typed_value(self) -> Any:
        """A value and any TypeScript type assertion after it (``'constant-vus' as const``)."""
        value = self.value()
        while self.peek() in ("a", "s"):
            m = _TYPE_AFTER.match(self.text, self.pos)
            if m is None:
                break
            self.pos = m.end()
        return value

    def string(self) -> str:
        quote, start = self.text[self.pos], self.pos
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == quote:
                self.pos += 1
                return "".join(out)
            if c == "\n":
                break
            if c == "\\":
                nxt = self.text[self.pos + 1:self.pos + 2]
                if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", self.text[self.pos + 2:self.pos + 6]):
                    out.append(chr(int(self.text[self.pos + 2:self.pos + 6], 16)))
                    self.pos += 6
                    continue
                out.append(_ESCAPES.get(nxt, nxt))
                self.pos += 2
                continue
            out.append(c)
            self.pos += 1
        raise self.fail("unterminated string", start)

    def template(self) -> str:
        """A template string without ``${...}``: a plain string (one with ``${`` is computed)."""
        start = self.pos
        end = self.text.find("`", start + 1)
        if end < 0:
            raise self.fail("unterminated template string")  # at its backquote: self.pos is still start
        body = self.text[start + 1:end]
        hole = body.find("${")
        if hole >= 0:
            raise self.fail("template strings with ${...} are computed: write the value out", start + 1 + hole)
        self.pos = end + 1
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.DOTALL)

    def key(self) -> str:
        c = self.peek()
        if c and c in "'\"":
            return self.string()
        m = _IDENT.match(self.text, self.pos)
        if m is None:
            if c == "[":
                raise self.fail("computed keys ([...]) are not read: write the key out")
            if c == ".":
                raise self.fail("spread (...) is not read: write the keys out")
            raise self.fail(f"expected a key, found {c!r}" if c else "unexpected end of the file")
        self.pos = m.end()
        return m.group()

    def obj(self) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        while True:
            if self.peek() == "}":
                self.pos += 1
                return out
            key_pos = self.pos
            key = self.key()
            if self.peek() != ":":
                raise self.fail(f"expected ':' after key {key!r}")
            self.pos += 1
            if key in out:  # JavaScript keeps the last value, in the key's first place
                line = self.text.count("\n", 0, key_pos) + 1
                self.duplicates.append(f"line {line}: key {key!r} given twice: the last value is kept, as in k6")
            out[key] = self.typed_value()
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c != "}":
                raise self.fail(f"expected ',' or '}}' after the value of {key!r}"
                                + (f", found {c!r} (only literal values are read)" if c else ""))

    def array(self) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        while True:
            if self.peek() == "]":
                self.pos += 1
                return out
            out.append(self.typed_value())
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c != "]":
                raise self.fail("expected ',' or ']' in an array" + (f", found {c!r}" if c else ""))


def read_options(text: str) -> tuple[dict[str, Any], list[str]]:
    """The ``options`` object a k6 script exports, as plain Python data, and one note per key given
    twice; :class:`JsLiteralError` (with line and column) when there is none or it is not a plain
    literal."""
    code = _NOT_CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)  # same positions, no comments
    m = _EXPORT.search(code) or (_DECLARED.search(code) if _EXPORT_LIST.search(code) else None)
    if m is None:
        raise JsLiteralError("no 'export const options = {...}' in the script")
    reader = _Reader(text, m.end())
    if reader.peek() != "{":
        raise reader.fail("options must be an object literal '{...}'")
    try:
        return reader.obj(), reader.duplicates
    except RecursionError:
        raise reader.fail("the options are nested too deeply to read") from None


def extract_options(text: str) -> dict[str, Any]:
    """:func:`read_options` without the notes."""
    return read_options(text)[0]
