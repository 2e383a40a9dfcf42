"""Locust's own configuration inputs, judged by Locust's own parser before anything starts.

Each Locust run of a job also reads ``LOCUST_*`` environment variables and config files
(``~/.locust.conf``, ``./locust.conf``, ``./pyproject.toml``'s ``[tool.locust]``): a typo there
(``LOCUST_USERS=1O``, ``usres = 5``) used to fail every scenario (every probe) in turn, after the
sidecar had started. No rule is written here: the verdict is Locust's parser's, on the very command
line each run gets, one source at a time so that the message names it.

Why a child process (``python -m osiris_load.jobs.locust_config``): importing anything of Locust runs
``gevent.monkey.patch_all()`` (``locust/__init__.py``), which would change this process's threads,
subprocesses and signals under the job. And why the locustfiles are imported there: their options
(``--stages``, ``--slo-file``...) exist only once their ``init_command_line_parser`` listeners are
registered, as Locust does it (``locust.argument_parser.get_parser`` fires them; its
``parse_options`` wrapper is deprecated since Locust 2.x). The child starts only when there is such
a source (the usual run pays nothing); it costs about 0.7 s of CPU (Locust's import).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from osiris_load.core.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from osiris_load.jobs.preflight import ConfigError

__all__ = ["CONFIG_FILES", "check_locust_config", "locust_sources"]

CONFIG_FILES = ("~/.locust.conf", "locust.conf", "pyproject.toml")
"""Where Locust looks for config files by itself (``locust.argument_parser.DEFAULT_CONFIG_FILES``;
a test compares). Here only to decide whether to ask: the child parses with Locust's own list."""
CHECK_TIMEOUT_S = 120.0


def locust_sources(environ: Mapping[str, str]) -> list[str]:
    """The ``LOCUST_*`` variables and the config files a Locust run started here would read."""
    files = [name for name in CONFIG_FILES if _read_by_locust(Path(name).expanduser())]
    return sorted(name for name in environ if name.startswith("LOCUST_")) + files


def _read_by_locust(path: Path) -> bool:
    if not path.is_file():
        return False
    if path.suffix != ".toml":
        return True
    try:  # a pyproject.toml counts when it has a [tool.locust] table, or when it is not TOML at all
        return "locust" in tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True


def check_locust_config(commands: Sequence[Sequence[str]], environ: Mapping[str, str]) -> None:
    """Have Locust's parser read each of ``commands`` (the arguments after ``python -m locust``) with
    each ``LOCUST_*`` variable and config file; :class:`ConfigError` with Locust's words and the
    source for the first it refuses. Nothing to read: no child, nothing done."""
    if not locust_sources(environ):
        return
    try:
        done = subprocess.run([sys.executable, "-m", "osiris_load.jobs.locust_config"],
                              input=json.dumps([*map(list, commands)]),
                              env=dict(environ), capture_output=True, text=True, timeout=CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return  # the check could not be made: the runs themselves will say what Locust thinks
    lines = done.stdout.strip().splitlines()
    if done.returncode == EXIT_BAD_INPUT and lines:
        raise ConfigError(lines[-1])


# --------------------------------------------------------------------------------------------------
# The child: python -m osiris_load.jobs.locust_config < commands.json
# --------------------------------------------------------------------------------------------------


def _import_locustfiles(commands: Sequence[Sequence[str]]) -> None:
    """Import each ``-f`` file once, as Locust does before it builds its parser."""
    seen: set[str] = set()
    for command in commands:
        for value in (command[i + 1] for i, arg in enumerate(command[:-1]) if arg in ("-f", "--locustfile")):
            for path in value.split(","):
                if path in seen:
                    continue
                seen.add(path)
                spec = importlib.util.spec_from_file_location(f"_osiris_checked_{len(seen)}", path)
                if spec is None or spec.loader is None:
                    continue
                spec.loader.exec_module(importlib.util.module_from_spec(spec))


def _refusal(command: Sequence[str], config_files: Sequence[str], env_vars: Mapping[str, str]) -> str | None:
    """Locust's error for ``command`` read with only these sources, or None."""
    from locust.argument_parser import get_parser

    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            parser = get_parser(default_config_files=list(config_files))
            parser.parse_args(args=list(command), env_vars=env_vars)
    except SystemExit as exc:
        if exc.code in (0, None):
            return None
        text = " ".join(line.strip() for line in said.getvalue().splitlines() if line.strip())
        return text.split(" error: ", 1)[-1] or f"exit code {exc.code}"
    return None


def main() -> int:
    commands = json.loads(sys.stdin.read())
    from locust.argument_parser import DEFAULT_CONFIG_FILES

    _import_locustfiles(commands)
    sources: list[tuple[str, Sequence[str], Mapping[str, str]]] = [
        (f"{name}={value!r}", (), {name: value}) for name, value in sorted(os.environ.items())
        if name.startswith("LOCUST_")]
    sources += [(str(Path(name).expanduser().absolute()), (name,), {}) for name in DEFAULT_CONFIG_FILES
                if Path(name).expanduser().is_file()]
    for label, files, env_vars in sources:
        for command in commands:
            problem = _refusal(command, files, env_vars)
            if problem:
                print(f"{label}: Locust refuses it: {problem}", flush=True)
                return EXIT_BAD_INPUT
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
