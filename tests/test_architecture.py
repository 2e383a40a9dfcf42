"""The layers of docs/architecture.md hold: no import cycle, no arrow from a lower layer to a higher one,
a pure core, and a sidecar that imports nothing of the load tester.

The graph is read from the source (every ``import`` at any depth of a file counts, lazy ones too; those
under ``if TYPE_CHECKING:`` never run, so they do not), module by module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("osiris_load", "sidecar", "locustfiles", "slo_locust")

LAYERS: tuple[tuple[str, ...], ...] = (
    # lowest first; a module may import its own layer and the ones before it
    ("sidecar",),
    ("osiris_load.core.exit_codes", "osiris_load.core.scenarios"),
    ("osiris_load.core.slo",),
    ("osiris_load.core.openmodel",),
    ("osiris_load.core.k6", "osiris_load.core.capacity", "osiris_load.core.report"),
    ("osiris_load.reports",),
    ("osiris_load.adapter",),
    ("locustfiles", "slo_locust"),
    ("osiris_load.jobs",),
    ("osiris_load.testing",),
    ("osiris_load.bench",),
    ("osiris_load.cli", "osiris_load.__main__"),
)
"""The floors, as docs/architecture.md draws them."""


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
            continue
        yield child
        yield from _nodes(child)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from pkg import sub`` names the submodule)."""
    files = [p for top in PROJECT for p in (ROOT / top).rglob("*.py")]
    modules = {_module_name(p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        module = _module_name(path)
        deps: set[str] = set()
        for node in _nodes(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                         for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            deps.update(n for n in names if n.split(".")[0] in PROJECT)
        graph[module] = {d for d in deps if d != module}
    return graph


def layer_of(module: str) -> int:
    if module in ("osiris_load", "osiris_load.core"):  # docstrings only: the lowest floor
        return 0
    for rank, floor in enumerate(LAYERS):
        if any(module == f or module.startswith(f + ".") for f in floor):
            return rank
    raise AssertionError(f"{module} is on no floor of LAYERS (add it, and to docs/architecture.md)")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*path, dep]
            if dep not in state and (found := visit(dep, [*path, dep])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [node])):
            return found
    return None


def test_the_import_graph_has_no_cycle() -> None:
    """Package ``__init__`` imports of their own submodules are how a package re-exports, not a circle."""
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in import_graph().items()}
    assert find_cycle(graph) is None


def test_no_arrow_runs_from_a_lower_layer_to_a_higher_one() -> None:
    upward = sorted(f"{m} -> {d}" for m, deps in import_graph().items() for d in deps if layer_of(d) > layer_of(m))
    assert upward == []


def test_the_sidecar_imports_nothing_of_the_load_tester() -> None:
    graph = import_graph()
    leaks = sorted(f"{m} -> {d}" for m, deps in graph.items() if m.startswith("sidecar")
                   for d in deps if not d.startswith("sidecar"))
    assert leaks == []


def test_every_module_is_on_a_floor() -> None:
    for module in import_graph():
        layer_of(module)


@pytest.mark.parametrize("package", ["osiris_load.core"])
def test_core_imports_nothing_of_locust_flask_or_pandas(package: str) -> None:
    """Every module of the pure core imports with Locust, gevent, Flask and pandas blocked."""
    code = (
        "import sys, importlib, pkgutil\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('locust', 'gevent', 'flask', 'pandas'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"pkg = importlib.import_module({package!r})\n"
        "names = [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 20  # every module was reached, not an empty walk


# --------------------------------------------------------------------------------------------------
# Locust's objects are Locust's: what the Osiris parts share lives in osiris_load/adapter/context.py
# (a declared, typed RunContext), and only Locust's public API is used.
# --------------------------------------------------------------------------------------------------

LOCUST_SIDE = ("osiris_load", "locustfiles")
CONTEXT_MODULE = "osiris_load/adapter/context.py"
SEAMS_MODULE = "osiris_load/adapter/seams.py"
"""The one module that wraps two methods of Locust's master runner, for the moments Locust has no
public hook for (its docstring names the Locust behaviour that forces each)."""
LOCUST_SETTABLE = {"process_exit_code", "host", "shape_class"}
"""Fields of Locust's ``Environment`` that Locust documents for a plugin or locustfile to set."""
LOCUST_OBJECTS = {"environment", "env", "runner"}


def _is_locust_object(node: ast.AST) -> bool:
    """``environment``, ``env``, ``runner`` or ``<anything>.environment`` / ``<anything>.runner``."""
    return ((isinstance(node, ast.Name) and node.id in LOCUST_OBJECTS)
            or (isinstance(node, ast.Attribute) and node.attr in ("environment", "runner")))


def _locust_side_files() -> list[Path]:
    return sorted(p for top in LOCUST_SIDE for p in (ROOT / top).rglob("*.py"))


def _where(name: str, node: ast.AST) -> str:
    return f"{name}:{getattr(node, 'lineno', 0)}: {ast.unparse(node)[:90]}"


def _source(path: Path) -> tuple[str, str]:
    return path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def stuck_attributes(name: str, source: str) -> list[str]:
    """Attributes set on an environment or runner, or read off one by name with ``getattr``/``hasattr``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for leaf in ast.walk(target):
                if (isinstance(leaf, ast.Attribute) and isinstance(leaf.ctx, ast.Store)
                        and _is_locust_object(leaf.value) and leaf.attr not in LOCUST_SETTABLE):
                    found.append(_where(name, node))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and node.args
                and _is_locust_object(node.args[0])):
            found.append(_where(name, node))
    return sorted(found, key=lambda hit: int(hit.split(":")[1]))


def locust_privates(name: str, source: str) -> list[str]:
    """Uses of Locust's private attributes: ``._handlers`` of an event, ``runner._...``, ``environment._...``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        if node.attr == "_handlers" or _is_locust_object(node.value):
            found.append(_where(name, node))
    return sorted(found, key=lambda hit: int(hit.split(":")[1]))


def test_nothing_is_stuck_on_locusts_environment_or_runner() -> None:
    """What the Osiris parts share goes through ``context_of(environment)``; the only assignments to a
    runner are the two wraps of ``adapter/seams.py``."""
    stuck = [hit for path in _locust_side_files()
             if path.relative_to(ROOT).as_posix() not in (CONTEXT_MODULE, SEAMS_MODULE)
             for hit in stuck_attributes(*_source(path))]
    assert stuck == []


def test_the_seams_are_the_two_runner_method_wraps() -> None:
    hits = [hit.split(": ", 1)[1] for hit in stuck_attributes(*_source(ROOT / SEAMS_MODULE))]
    assert hits == ["runner.quit = quit_after", "runner.start = start_after"]


def test_no_locust_private_is_used() -> None:
    privates = [hit for path in _locust_side_files() for hit in locust_privates(*_source(path))]
    assert privates == []


def test_the_scans_find_what_they_look_for() -> None:
    """The scans themselves, on the shapes of code they must refuse (so an empty list means something)."""
    sample = ("def f(environment, runner, self):\n"
              "    environment.osiris_open_model = 1\n"
              "    self.runner.quit = None\n"
              "    setattr(environment, 'slo_gate', 2)\n"
              "    getattr(self.environment, 'osiris_hold_steady', None)\n"
              "    environment.events.quitting._handlers.insert(0, f)\n"
              "    runner._send_stats()\n"
              "    environment.process_exit_code = 3\n"
              "    getattr(environment.parsed_options, 'slo_file', None)\n")
    assert [hit.split(":")[1] for hit in stuck_attributes("sample", sample)] == ["2", "3", "4", "5"]
    assert [hit.split(":")[1] for hit in locust_privates("sample", sample)] == ["6", "7"]


def test_every_scenario_of_the_catalogue_is_a_locustfile() -> None:
    """The one catalogue (``osiris_load.core.scenarios``) names the bundled scenario files, no more, no less."""
    from osiris_load.core.scenarios import ALL_SCENARIOS

    files = {p.stem for p in (ROOT / "locustfiles").glob("*.py")} - {"__init__", "common"}
    assert set(ALL_SCENARIOS) == files
