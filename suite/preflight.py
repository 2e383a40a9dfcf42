"""Every input of ``osiris-load run`` checked before it starts or waits for anything.

A mistyped character in the SLO file, ``--stages``, the prompts file or an ``OSIRIS_*`` variable
used to surface only inside each scenario's Locust run, after the sidecar (and Redis, and on a
first run the model build) had started: once per scenario, and read as a failed run. Here each input
is checked in about a second, with no process started, and the first problem is one
:class:`ConfigError` (``osiris-load run`` prints it once and exits 2).

No rule is written twice: each check calls the function the Locust side calls on the same input
(``slo.table.load_table`` and ``SloTable.select`` as the gate's ``--slo-file``/``--slo-rows``,
``slo.gate_options`` as its other options, ``locustfiles.stages.stages_option`` as ``--stages``,
``openmodel.config`` as the open model's options, ``locustfiles.load_prompts``,
``locustfiles.shape_switch`` and ``locustfiles.check_url`` as the locustfiles at import), so the
front door and a plain ``locust`` run cannot disagree about what is bad. Pure: no Locust import
(that would gevent-patch this process), no network, nothing written.

What only the front door adds: its own options (``--url``, ``--out``, ``--progress-every``,
``--startup-timeout``), and that every scenario must end by itself: ``osiris-load run`` gives its
Locust runs no ``-t``, so ``OSIRIS_SHAPE=off`` or an ``OSIRIS_ARRIVAL_RATE`` without
``LOCUST_RUN_TIME`` would run until stopped.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

import locustfiles
from locustfiles import PROMPTS_HINT, PromptsError, check_url, load_prompts, loads_prompts, prompts_path, shape_switch
from locustfiles.stages import STAGES_ENV, stages_option
from openmodel.config import OPTION_ENV, OpenModelError, check_stages, configure
from openmodel.stages import StagesError
from slo.gate_options import ENV_VAR, check_gate_env, requested_rows
from slo.table import DEFAULT_TABLE_PATH, SloFileError, load_table

__all__ = ["ConfigError", "check_out_dir", "check_run", "locustfile_of", "target_url"]

RUN_TIME_ENV = "LOCUST_RUN_TIME"
"""Locust's own ``-t`` as an environment variable: the one way to give ``osiris-load run``'s scenarios one."""


class ConfigError(ValueError):
    """One input of ``osiris-load run`` is unusable; the message names it and says what is wrong."""


def locustfile_of(scenario: str) -> Path:
    """The bundled locustfile of a scenario name."""
    return Path(locustfiles.__file__).parent / f"{scenario}.py"


def check_run(args: argparse.Namespace, environ: Mapping[str, str], out: Path) -> None:
    """Raise :class:`ConfigError` for the first unusable input of ``run`` (``out``: its run folder,
    ``--out`` or the default): its options first, then the environment variables its Locust runs read."""
    _check_target(args, environ)
    check_out_dir(out, "--out" if args.out is not None else "the run folder")
    if args.progress_every < 0:
        raise ConfigError(f"--progress-every {args.progress_every:g}: seconds between progress lines must be >= 0 "
                          "(0: none)")
    if not args.startup_timeout > 0:
        raise ConfigError(f"--startup-timeout {args.startup_timeout:g}: seconds to wait for the sidecar, must be > 0")
    _check_load_shape(args, environ)
    _check_slo(args, environ)
    try:
        check_gate_env(environ)
    except SloFileError as exc:
        raise ConfigError(str(exc)) from None
    if any(loads_prompts(locustfile_of(name)) for name in args.scenarios):
        try:
            load_prompts(prompts_path(environ))
        except PromptsError as exc:
            raise ConfigError(f"{exc} {PROMPTS_HINT}") from None


def target_url(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str | None, str]:
    """The target ``run`` uses and where it comes from: ``--url``, else ``OSIRIS_URL`` (blank: unset,
    as the locustfiles read it), else None (the bundled sidecar)."""
    if args.url:
        return args.url, "--url"
    return environ.get("OSIRIS_URL", "").strip() or None, "OSIRIS_URL"


def _check_target(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    url, source = target_url(args, environ)
    if url is None:
        return
    try:
        check_url(url, source)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def check_out_dir(path: Path, source: str) -> None:
    """``path`` is a folder this process can write into, or can create: checked without creating it
    (a refused run leaves nothing behind)."""
    path = Path(path).absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    where = f"{source} {path}"
    if not existing.is_dir():
        raise ConfigError(f"{where}: {existing} is a file, not a folder" if existing != path
                          else f"{where}: is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{where}: {existing} is not writable" + (" (cannot create the folder in it)"
                                                                     if existing != path else ""))


def _check_slo(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    """The SLO file each scenario's gate loads (``--slo-file``, else ``OSIRIS_SLO_FILE``, else the
    default) and the rows ``OSIRIS_SLO_ROWS`` names in it; an environment variable is named."""
    from_env = not args.slo_file and bool(environ.get(ENV_VAR["slo_file"]))
    path = args.slo_file or environ.get(ENV_VAR["slo_file"]) or str(DEFAULT_TABLE_PATH)
    try:
        table = load_table(path)
    except SloFileError as exc:
        raise ConfigError(f"{exc} (from {ENV_VAR['slo_file']})" if from_env else str(exc)) from None
    rows = requested_rows(environ.get(ENV_VAR["slo_rows"]))
    try:
        if rows:
            table.select(rows)
    except SloFileError as exc:
        raise ConfigError(f"{ENV_VAR['slo_rows']}={environ[ENV_VAR['slo_rows']]!r}: {exc}") from None


def _check_load_shape(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    """How each scenario ramps, as its locustfile decides at init (``locustfiles.common._on_init``):
    ``OSIRIS_SHAPE``, the open model's variables, then ``--stages`` (else ``OSIRIS_STAGES``), which
    only a shape of the closed model reads."""
    try:
        shape = shape_switch((), environ)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    stages, source = (args.stages, "--stages") if args.stages else (environ.get(STAGES_ENV), STAGES_ENV)
    given = {name: environ[env] for name, env in OPTION_ENV.items() if environ.get(env)}
    try:
        config = configure(SimpleNamespace(**given, run_time=None))
        check_stages(config, stages, None)
    except OpenModelError as exc:
        settings = ", ".join(f"{OPTION_ENV[name]}={value!r}" for name, value in given.items())
        raise ConfigError(f"{exc} (from the environment: {settings})") from None
    if shape and config is None and stages:
        try:
            stages_option(stages, source)
        except StagesError as exc:
            raise ConfigError(str(exc)) from None
    if environ.get(RUN_TIME_ENV, "").strip():
        return
    if not shape and not (config is not None and config.rate_stages):
        raise ConfigError(f"OSIRIS_SHAPE={environ.get('OSIRIS_SHAPE', '')!r} turns the scenarios' stages off, and "
                          f"osiris-load run gives them no -t: each would run until stopped; unset OSIRIS_SHAPE, or set "
                          f"{RUN_TIME_ENV} (e.g. 1m)")
    if config is not None and config.duration_s is None:
        raise ConfigError(f"{OPTION_ENV['arrival_rate']}={given['arrival_rate']!r} runs until stopped (osiris-load "
                          f"run gives its scenarios no -t): use {OPTION_ENV['rate_stages']} (e.g. 30s:"
                          f"{given['arrival_rate']}), which sets the duration, or set {RUN_TIME_ENV} (e.g. 1m)")
