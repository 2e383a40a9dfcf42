"""Every input of ``osiris-load run`` checked before it starts or waits for anything.

A mistyped character in the SLO file, ``--stages``, the prompts file or an ``OSIRIS_*`` variable
used to surface only inside each scenario's Locust run, after the sidecar (and Redis, and on a
first run the model build) had started: once per scenario, and read as a failed run. Here each input
is checked in about a second, with no process started, and the first problem is one
:class:`ConfigError` (``osiris-load run`` prints it once and exits 2).

No rule is written twice: each check calls the function the Locust side calls on the same input
(``osiris_load.core.slo.table.load_table`` and ``SloTable.select`` as the gate's ``--slo-file``/``--slo-rows``,
``osiris_load.core.slo.gate_options`` as its other options, ``osiris_load.adapter.shape.stages_option`` as ``--stages``,
``osiris_load.core.openmodel.config`` as the open model's options, ``locustfiles.load_prompts``,
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
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace

import locustfiles
from osiris_load.adapter.scenario_options import (
    PROMPTS_HINT,
    PromptsError,
    check_url,
    load_prompts,
    loads_prompts,
    prompts_path,
    shape_switch,
)
from osiris_load.adapter.shape import STAGES_ENV, stages_option
from osiris_load.core.openmodel.config import OPTION_ENV, OpenModelConfig, OpenModelError, check_stages, configure
from osiris_load.core.openmodel.stages import StagesError
from osiris_load.core.slo.gate_options import ENV_VAR, check_gate_env, requested_rows
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, SloFileError, SloTable, load_table

__all__ = ["ConfigError", "check_gate_environment", "check_open_model", "check_out_dir", "check_prompts",
           "check_run", "check_shape_switch", "check_sidecar_settings", "check_slo", "check_startup_timeout",
           "check_target", "check_variable_names", "locustfile_of", "target_url"]

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
    check_variable_names(environ)
    if check_target(args, environ) is None:
        check_sidecar_settings()
    check_out_dir(out, "--out" if args.out is not None else "the run folder")
    if args.progress_every < 0:
        raise ConfigError(f"--progress-every {args.progress_every:g}: seconds between progress lines must be >= 0 "
                          "(0: none)")
    check_startup_timeout(args.startup_timeout)
    _check_load_shape(args, environ)
    check_slo(args.slo_file, environ)
    check_gate_environment(environ)
    check_prompts([locustfile_of(name) for name in args.scenarios], environ)


OWN_VARIABLES = ("OSIRIS_URL", "OSIRIS_SHAPE", "OSIRIS_PROMPTS", "OSIRIS_API_KEY", "OSIRIS_PROGRESS_EVERY")
"""The job's and the locustfiles' variables besides the gate's (``ENV_VAR``), the open model's
(``OPTION_ENV``) and ``OSIRIS_STAGES``; the bundled sidecar's come from its settings."""


def _one_edit_apart(a: str, b: str) -> bool:
    """One character inserted, dropped, replaced, or two neighbours swapped: a mistyped name."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and (a[diff[0]], a[diff[1]]) == (b[diff[1]], b[diff[0]]))
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def check_variable_names(environ: Mapping[str, str]) -> None:
    """A variable one typo away from one osiris-load reads (``OSIRIS_ULR``, ``OSRIS_URL``,
    ``OSIRIS_SLO_FLIE``) is refused with the name meant: every reader ignores an unknown name, so
    ``OSIRIS_ULR=http://host`` started the bundled sidecar instead of using that target, and
    ``OSIRIS_SLO_FLIE`` judged by the default table, with no word said. Names further away are left
    alone (a user's own variables); the sidecar's names are looked up only when one may be meant."""
    known = {*ENV_VAR.values(), *OPTION_ENV.values(), STAGES_ENV, *OWN_VARIABLES}
    unknown = [name for name in environ if name not in known]
    if any(name.upper().startswith(("OSIRIS", "OSRIS", "OISRIS")) for name in unknown):
        known |= _sidecar_variables()
    for name in unknown:
        if name in known:
            continue
        meant = sorted(k for k in known if _one_edit_apart(name, k))
        if meant:
            raise ConfigError(f"{name} is set, but nothing reads a variable of that name: did you mean "
                              f"{' or '.join(meant)}? (fix or unset it)")


def _sidecar_variables() -> set[str]:
    """``OSIRIS_<FIELD>`` for each of the sidecar's settings (none without the sidecar extra)."""
    try:
        from sidecar.infra.settings import Settings
    except ImportError:
        return set()
    return {f"OSIRIS_{field.upper()}" for field in Settings.model_fields}


def check_sidecar_settings() -> None:
    """The bundled sidecar's ``OSIRIS_*`` settings, read from this process's environment as the sidecar
    (its child) will read them (``sidecar.infra.settings.load_checked``; the job gives it its ``--port``). A
    typo there (``OSIRIS_MAX_BATCH_SIZE=1O``) started the sidecar, which refused it, and the job ended
    "target not usable", exit 3. Without the sidecar extra there is nothing to check here: the job
    says what is missing when it starts the sidecar."""
    try:
        from sidecar.infra.settings import SettingsError, load_checked
    except ImportError:
        return
    try:
        load_checked(port=1)
    except SettingsError as exc:
        raise ConfigError(f"the bundled sidecar would refuse its {exc}") from None


def check_startup_timeout(seconds: float) -> None:
    if not seconds > 0:
        raise ConfigError(f"--startup-timeout {seconds:g}: seconds to wait for the sidecar, must be > 0")


def check_gate_environment(environ: Mapping[str, str]) -> None:
    """The SLO gate's ``OSIRIS_SLO_*`` variables as its Locust runs read them (``core.slo.gate_options``)."""
    try:
        check_gate_env(environ)
    except SloFileError as exc:
        raise ConfigError(str(exc)) from None


def check_prompts(locustfiles_run: Sequence[Path], environ: Mapping[str, str]) -> None:
    """The prompts file (``OSIRIS_PROMPTS``, else the bundled one), if one of these locustfiles loads it."""
    if any(loads_prompts(path) for path in locustfiles_run):
        try:
            load_prompts(prompts_path(environ))
        except PromptsError as exc:
            raise ConfigError(f"{exc} {PROMPTS_HINT}") from None


def check_shape_switch(environ: Mapping[str, str]) -> bool:
    """``OSIRIS_SHAPE`` as the locustfiles read it at import (``locustfiles.shape_switch``): on or off."""
    try:
        return shape_switch((), environ)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def check_open_model(environ: Mapping[str, str], stages: str | None,
                     given: Mapping[str, str] | None = None) -> OpenModelConfig | None:
    """The open model a Locust run with these options reads (``osiris_load.core.openmodel.config``): ``given`` are its
    command line's (by option name), which win over their ``OSIRIS_*`` variables, as in Locust's parser;
    ``stages``: its ``--stages`` (else ``OSIRIS_STAGES``), which only the closed model takes."""
    given = dict(given or {})
    from_env = {name: environ[env] for name, env in OPTION_ENV.items() if environ.get(env) and name not in given}
    try:
        config = configure(SimpleNamespace(**from_env, **given, run_time=None))
        check_stages(config, stages, None)
    except OpenModelError as exc:
        settings = ", ".join(f"{OPTION_ENV[name]}={value!r}" for name, value in from_env.items())
        raise ConfigError(f"{exc} (from the environment: {settings})" if settings else str(exc)) from None
    return config


def target_url(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str | None, str]:
    """The target ``run`` uses and where it comes from: ``--url``, else ``OSIRIS_URL`` (blank: unset,
    as the locustfiles read it), else None (the bundled sidecar)."""
    if args.url:
        return args.url, "--url"
    return environ.get("OSIRIS_URL", "").strip() or None, "OSIRIS_URL"


def check_target(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The target (:func:`target_url`) in its normal form (no trailing /), or None: the bundled sidecar."""
    url, source = target_url(args, environ)
    if url is None:
        return None
    try:
        return check_url(url, source)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def check_out_dir(path: Path, source: str) -> None:
    """``path`` is not a file, nor under one: said in these words before anything else is checked
    (whether the folder can really be made and written is known only by doing it:
    ``osiris_load.jobs.run_folder.make_run_folder``, once every input is checked)."""
    path = Path(path).absolute()
    existing = path
    while not os.path.exists(existing) and existing != existing.parent:  # False, not an error, where it cannot look
        existing = existing.parent
    if not os.path.isdir(existing):
        raise ConfigError(f"{source} {path}: {existing} is a file, not a folder" if existing != path
                          else f"{source} {path}: is a file, not a folder")


def check_slo(slo_file: str | Path | None, environ: Mapping[str, str]) -> SloTable:
    """The SLO table each Locust run's gate loads (``--slo-file``, else ``OSIRIS_SLO_FILE``, else the
    default) with the rows ``OSIRIS_SLO_ROWS`` names in it; an environment variable is named."""
    from_env = not slo_file and bool(environ.get(ENV_VAR["slo_file"]))
    path = slo_file or environ.get(ENV_VAR["slo_file"]) or str(DEFAULT_TABLE_PATH)
    try:
        table = load_table(str(path))
    except SloFileError as exc:
        raise ConfigError(f"{exc} (from {ENV_VAR['slo_file']})" if from_env else str(exc)) from None
    rows = requested_rows(environ.get(ENV_VAR["slo_rows"]))
    try:
        if rows:
            table.select(rows)
    except SloFileError as exc:
        raise ConfigError(f"{ENV_VAR['slo_rows']}={environ[ENV_VAR['slo_rows']]!r}: {exc}") from None
    return table


def _check_load_shape(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    """How each scenario ramps, as its locustfile decides at init (``osiris_load.adapter.users._on_init``):
    ``OSIRIS_SHAPE``, the open model's variables, then ``--stages`` (else ``OSIRIS_STAGES``), which
    only a shape of the closed model reads."""
    shape = check_shape_switch(environ)
    stages, source = (args.stages, "--stages") if args.stages else (environ.get(STAGES_ENV), STAGES_ENV)
    config = check_open_model(environ, stages)
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
        rate = environ[OPTION_ENV["arrival_rate"]]
        raise ConfigError(f"{OPTION_ENV['arrival_rate']}={rate!r} runs until stopped (osiris-load run gives its "
                          f"scenarios no -t): use {OPTION_ENV['rate_stages']} (e.g. 30s:{rate}), which sets the "
                          f"duration, or set {RUN_TIME_ENV} (e.g. 1m)")
