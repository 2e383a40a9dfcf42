"""One module of exit codes (``osiris_load.core.exit_codes``), and README's table says the same.

The expected table is derived from the module (its constants and the meaning each docstring starts
with), not copied here: a code added, removed or renamed in one place and not the other fails.
Pure: reads two files, milliseconds.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from osiris_load.core import exit_codes
from sidecar.infra import launcher

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "osiris_load" / "core" / "exit_codes.py"


def documented_constants() -> dict[str, str]:
    """Each ``EXIT_*`` constant of the module -> its docstring (the string right after it)."""
    body = ast.parse(MODULE.read_text(encoding="utf-8")).body
    found = {}
    for node, after in zip(body, body[1:], strict=False):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id.startswith("EXIT_"):
            doc = after.value.value if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) else None
            assert isinstance(doc, str), f"{node.targets[0].id} has no docstring saying when"
            found[node.targets[0].id] = doc
    return found


def meaning(doc: str) -> str:
    """The meaning a docstring starts with: up to its first colon, as README's table says it."""
    return _plain(doc.split(":", 1)[0])


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("`", "")).strip().lower()


def readme_table() -> dict[int, str]:
    """README's "Exit codes" table: each code -> the meaning cell of its row."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    table: dict[int, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|", 1)]
        if len(cells) == 2 and re.fullmatch(r"\d+(, \d+)*", cells[0]):
            for code in cells[0].split(", "):
                assert int(code) not in table, f"README lists exit code {code} twice"
                table[int(code)] = cells[1]
    return table


def test_every_exit_code_is_a_documented_constant_of_the_one_module() -> None:
    docs = documented_constants()
    assert set(docs) == {name for name in exit_codes.__all__ if name.startswith("EXIT_")}
    assert len(docs) >= 13


def test_readme_lists_exactly_the_exit_codes_with_their_meaning() -> None:
    table = readme_table()
    codes = {getattr(exit_codes, name) for name in documented_constants()}
    assert set(table) == codes | {launcher.EXIT_STARTUP_FAILED}  # the sidecar's own code, run by the front door
    for name, doc in documented_constants().items():
        code = getattr(exit_codes, name)
        assert meaning(doc) in _plain(table[code]), f"README's row for {code} does not say {meaning(doc)!r} ({name})"
    assert "sidecar" in table[launcher.EXIT_STARTUP_FAILED]


def test_no_other_module_defines_an_exit_code() -> None:
    """The load tester's modules name the constants: no ``EXIT_* = <number>`` outside the one module,
    no ``SystemExit(2)`` or ``sys.exit(2)``."""
    elsewhere = []
    for top in ("osiris_load", "locustfiles", "slo_locust"):
        for path in (ROOT / top).rglob("*.py"):
            if path == MODULE:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Constant, ast.BinOp)) \
                        and any(isinstance(t, ast.Name) and t.id.startswith("EXIT_") for t in node.targets) \
                        and not isinstance(getattr(node.value, "value", None), str):
                    elsewhere.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in \
                        ("SystemExit", "exit") and node.args and isinstance(node.args[0], ast.Constant) \
                        and isinstance(node.args[0].value, int):
                    elsewhere.append(f"{path.relative_to(ROOT)}:{node.lineno} (a number, not a constant)")
    assert elsewhere == []


def test_a_signal_exits_128_plus_its_number() -> None:
    assert (exit_codes.EXIT_INTERRUPTED, exit_codes.EXIT_TERMINATED, exit_codes.EXIT_HANGUP) == (130, 143, 129)
    assert exit_codes.signal_exit_code(15) == exit_codes.EXIT_TERMINATED
