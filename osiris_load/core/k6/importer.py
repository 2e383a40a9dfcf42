"""``osiris-load import-k6``: a k6 ``options`` object -> an SLO file and the matching command line.

What carries over (the full table: ``docs/k6-migration.md``), in k6's meaning:

* ``thresholds`` -> the SLO file's ``[thresholds]`` table, key for key and expression for
  expression (``osiris_load.core.slo.k6_metrics`` gives them k6's meaning), long forms with ``abortOnFail`` and
  ``delayAbortEval`` included; a script without thresholds gets one row that always holds, so
  the run passes as k6 passes it (never the guide's default rows);
* durations as k6 reads them: a number is milliseconds (``duration: 30000`` is ``30s``);
* the shortcuts as k6 derives its scenario from them: ``vus`` + ``duration`` -> ``-u N -r N -t D``;
  ``stages`` -> ``--stages``, starting at ``vus`` users (k6's ``startVUs``, 1 when not given);
  ``iterations`` (shared by ``vus``) -> ``-u N -r N -t maxDuration`` with a warning (no
  iteration count here);
* ``scenarios``: every executor (:data:`EXECUTORS`); one scenario per import (``--scenario``
  picks it, the others are listed with the command that imports each).

Everything else is listed as a warning, never dropped silently, with "did you mean" for a
misspelt key. Every load option written is checked with the same parsers Locust's run uses
(``--stages``, ``--rate-stages``, ``-t``). Pure: no Locust import, so it is tested (and runs)
without a load generator.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osiris_load.core.k6.js_literal import JsLiteralError, read_options
from osiris_load.core.openmodel.schedule import RateStagesError, parse_rate_stages
from osiris_load.core.openmodel.stages import Stage, StagesError, format_duration, format_stages, parse_stages
from osiris_load.core.scenarios import K6_SCENARIOS
from osiris_load.core.slo.expressions import ExpressionError, format_number
from osiris_load.core.slo.k6_metrics import NOT_MEASURED, K6KeyError, k6_seconds, parse_k6_expression, parse_k6_key
from osiris_load.core.slo.table import parse_table

__all__ = ["ALWAYS_HOLDS", "DEFAULT_LOCUSTFILE", "EXECUTORS", "K6ImportError", "K6Import", "convert",
           "guess_scenario", "load_options", "read_k6_options", "toml_string"]

DEFAULT_LOCUSTFILE = "locustfiles/mixed.py"
# k6's executors -> what each becomes (the docs' table says the same, with the differences)
EXECUTORS = {
    "constant-vus": "-u N -r N -t D",
    "ramping-vus": "--stages (from startVUs, default 1)",
    "constant-arrival-rate": "--arrival-rate R --arrivals constant --max-vus N -t D",
    "ramping-arrival-rate": "--rate-stages (from startRate) --arrivals constant --max-vus N",
    "shared-iterations": "-u N -r N -t maxDuration (no iteration count here: listed)",
    "per-vu-iterations": "-u N -r N -t maxDuration (no iteration count here: listed)",
    "externally-controlled": "-u N -r N -t D (change users live in Locust's web UI: listed)",
}
# The row written when no threshold carries over: it always holds, so the run passes as k6 passes a
# script without thresholds, and the SLO file still loads (a table needs a row).
ALWAYS_HOLDS = ("http_reqs", "count>=0")
_SHAPE_KEYS = ("stages", "vus", "duration", "iterations", "scenarios", "thresholds")
# k6 options that only shape k6's own engine or output: listed as "not carried over" with why.
_NO_EQUIVALENT = {
    "summaryTrendStats": "the verdict table and reports show the thresholds' own aggregates",
    "summaryTimeUnit": "times are shown in ms",
    "tags": "run-wide tags: Locust has none; rows select requests by name and method",
    "setupTimeout": "no setup() stage here (use Locust's test_start event)",
    "teardownTimeout": "no teardown() stage here (use Locust's test_stop event)",
    "ext": "k6 Cloud options",
    "cloud": "k6 Cloud options",
    "rps": "k6's global cap on requests per second (set the rate itself with --arrival-rate)",
    "minIterationDuration": "give the user class a wait_time in the locustfile",
    "discardResponseBodies": "the locustfiles' checks read the bodies",
    "userAgent": "set headers on the user's client in the locustfile",
    "vusMax": "deprecated in k6; --max-vus is the open model's",
}
# Every k6 option (k6's options reference): a key not among them is most likely a typo.
_K6_OPTIONS = (*_SHAPE_KEYS, *_NO_EQUIVALENT, "batch", "batchPerHost", "blacklistIPs", "blockHostnames",
               "compatibilityMode", "dns", "executionSegment", "executionSegmentSequence", "hosts", "httpDebug",
               "insecureSkipTLSVerify", "linger", "localIPs", "maxRedirects", "noConnectionReuse",
               "noCookiesReset", "noSetup", "noSummary", "noTeardown", "noThresholds", "noUsageReport",
               "noVUConnectionReuse", "paused", "systemTags", "throw", "tlsAuth", "tlsCipherSuites", "tlsVersion",
               "console", "logOutput", "logFormat", "browser", "webDashboard", "iterationsMax")
# Per executor: its own keys (besides the common ones), k6's docs.
_EXECUTOR_KEYS = {
    "constant-vus": ("vus", "duration"),
    "ramping-vus": ("startVUs", "stages", "gracefulRampDown"),
    "constant-arrival-rate": ("rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"),
    "ramping-arrival-rate": ("startRate", "timeUnit", "stages", "preAllocatedVUs", "maxVUs"),
    "shared-iterations": ("vus", "iterations", "maxDuration"),
    "per-vu-iterations": ("vus", "iterations", "maxDuration"),
    "externally-controlled": ("vus", "maxVUs", "duration"),
}
_COMMON_SCENARIO_KEYS = ("executor", "startTime", "gracefulStop", "exec", "env", "tags", "options")
_SCENARIO_KEY_NOTES = {
    "gracefulStop": "k6 lets running iterations finish for this long at the end; Locust's --stop-timeout does",
    "gracefulRampDown": "k6 lets a ramped-down VU finish its iteration; Locust's --stop-timeout does",
    "startTime": "the run starts at once here",
    "env": "set the variables in the environment of the command",
    "tags": "no run-wide tags here: rows select requests by name and method",
    "options": "browser options: no browser here",
}
_MAX_DURATION_DEFAULT_S = 600.0  # k6's maxDuration of the iteration executors: 10m


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """`` (did you mean 'thresholds'?)`` for a near miss among ``choices``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


class K6ImportError(ValueError):
    """Input that cannot be imported at all (exit 2): the message names file and position."""


@dataclass
class K6Import:
    """What an options object becomes: the SLO file text, the load options for Locust (and for
    ``osiris-load run`` when it has them) and the warnings for what did not carry over."""

    toml: str
    locust_args: list[str] = field(default_factory=list)
    run_args: list[str] | None = field(default_factory=list)  # None: osiris-load run has no such options
    warnings: list[str] = field(default_factory=list)
    threshold_keys: int = 0
    scenario: str | None = None  # the k6 scenario imported (None: the shortcuts, or none)

    def locust_command(self, locustfile: str, slo_file: str) -> str:
        return shlex.join(["locust", "-f", locustfile, "--headless", "--slo-file", slo_file, *self.locust_args])

    def run_command(self, slo_file: str, scenario: str | None = None) -> str | None:
        if self.run_args is None:
            return None
        scenarios = ["--scenarios", scenario] if scenario else []
        return shlex.join(["osiris-load", "run", *scenarios, "--slo-file", slo_file, *self.run_args])


def guess_scenario(path: str | Path) -> str | None:
    """The scenario a k6 file replaces, from its name (``k6_read_heavy.js`` -> ``read_heavy``)."""
    stem = Path(path).name
    return next((s for s in K6_SCENARIOS if s in stem), None)


def _json_object(pairs: list[tuple[str, Any]], notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            notes.append(f"key {key!r} given twice: the last value is kept, as in k6")
        out[key] = value
    return out


def read_k6_options(path: str | Path) -> tuple[dict[str, Any], list[str]]:
    """The options object in ``path`` (a JSON file, or a k6 script ``.js``/``.mjs``/``.ts`` with
    ``export const options = {...}`` written as a literal) and a note per key given twice (the last
    value is kept, as k6 does). :class:`K6ImportError` when it cannot be read."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a BOM (Windows editors, PowerShell's > file) is no text
    except FileNotFoundError:
        raise K6ImportError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise K6ImportError(f"{source}: is a directory, not a k6 options file") from None
    except UnicodeDecodeError as exc:
        raise K6ImportError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise K6ImportError(f"{source}: cannot read: {exc.strerror or exc}") from None
    notes: list[str] = []
    if Path(path).suffix in (".js", ".mjs", ".cjs", ".ts", ".mts"):
        try:
            data, notes = read_options(text)
        except JsLiteralError as exc:
            raise K6ImportError(f"{source}: {exc}") from None
    else:
        try:
            data = json.loads(text, object_pairs_hook=lambda pairs: _json_object(pairs, notes))
        except json.JSONDecodeError as exc:
            raise K6ImportError(f"{source}: line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg} "
                                "(a k6 script is read when its name ends in .js or .ts)") from None
        except RecursionError:
            raise K6ImportError(f"{source}: the JSON is nested too deeply to read") from None
        if isinstance(data, dict) and isinstance(data.get("options"), dict) and "thresholds" not in data:
            data = data["options"]  # {"options": {...}} as some exports wrap it
    if not isinstance(data, dict):
        raise K6ImportError(f"{source}: the options must be an object {{...}}, got {type(data).__name__}")
    return data, notes


def load_options(path: str | Path) -> dict[str, Any]:
    """:func:`read_k6_options` without the notes."""
    return read_k6_options(path)[0]


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _own_key(key: str, scenarios: tuple[list[str], str], warnings: list[str]) -> str | None:
    """``key`` as this run judges it, where its ``{scenario:X}`` names one of the options' own k6
    scenarios (per-scenario thresholds, as k6 scripts with several scenarios write them; no user class
    is called that, so kept as is it could only be refused or NO DATA, a FAIL): the imported
    scenario's is the whole run's (the tag dropped); another's is not carried over (it is that
    scenario's import). k6 names the shortcuts' scenario ``default``."""
    names, chosen = scenarios
    m = re.fullmatch(r"\s*([^{}]+?)\s*\{([^{}]*)\}\s*", key)
    if m is None:
        return key
    tags = m.group(2).split(",")
    tagged = [t for t in tags if t.partition(":")[0].strip() == "scenario"]
    scenario = tagged[0].partition(":")[2].strip() if len(tagged) == 1 else None
    if scenario not in names:
        return key
    if scenario != chosen:
        warnings.append(f"thresholds: {key}: judges k6 scenario {scenario!r}, not the one imported "
                        f"({chosen!r}): not carried over (it comes with --scenario {shlex.quote(str(scenario))})")
        return None
    rest = [t.strip() for t in tags if t is not tagged[0]]
    own = f"{m.group(1)}{{{','.join(rest)}}}" if rest else m.group(1)
    warnings.append(f"thresholds: {key}: the imported scenario's own, so the whole run's: written as {own}")
    return own


def _threshold_items(key: str, raw: Any, warnings: list[str]) -> list[str] | None:
    """The TOML array for one k6 threshold key, or ``None`` (with a warning) if it cannot carry over."""
    try:
        parsed = parse_k6_key(key)
    except K6KeyError as exc:
        warnings.append(f"thresholds: {exc}: not carried over")
        return None
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    allowed = ("threshold", "abortOnFail", "delayAbortEval")
    for item in items:
        if isinstance(item, dict):
            expr = item.get("threshold")
            for extra in (k for k in item if k not in allowed):
                warnings.append(f"thresholds: {key!r}: {extra}{did_you_mean(extra, allowed)} not carried over "
                                "(only threshold, abortOnFail, delayAbortEval are)")
        else:
            expr = item
        if not isinstance(expr, str):
            warnings.append(f"thresholds: {key!r}: {item!r} is not an expression string: not carried over")
            continue
        if parsed.metric not in NOT_MEASURED:
            try:
                parse_k6_expression(parsed.metric, expr)
            except (ExpressionError, K6KeyError) as exc:
                warnings.append(f"thresholds: {key!r}: {exc}: not carried over")
                continue
        if isinstance(item, dict):
            parts = [f"threshold = {toml_string(expr)}"]
            if isinstance(item.get("abortOnFail"), bool):
                parts.append(f"abortOnFail = {str(item['abortOnFail']).lower()}")
            elif "abortOnFail" in item:
                warnings.append(f"thresholds: {key!r}: abortOnFail {item['abortOnFail']!r} is not true or false: "
                                "not carried over")
            if "delayAbortEval" in item:
                try:  # k6's reading (a number is ms), written with its unit so no reader can take it for seconds
                    delay = format_duration(k6_seconds(item["delayAbortEval"]))
                    parts.append(f"delayAbortEval = {toml_string(delay)}")
                except ValueError as exc:
                    warnings.append(f"thresholds: {key!r}: delayAbortEval: {exc}: not carried over")
            out.append("{ " + ", ".join(parts) + " }")
        else:
            out.append(toml_string(expr))
    if parsed.scenario is not None and out:
        warnings.append(f"thresholds: {key}: {{scenario:...}} names a Locust user class here (e.g. ReadHeavyUser), "
                        "not a k6 scenario: check that the name is one")
    if parsed.metric in NOT_MEASURED and out:
        warnings.append(f"thresholds: {key}: {NOT_MEASURED[parsed.metric]} (kept in the file, listed at every run)")
    return out or None


def _count(value: Any, where: str, what: str, warnings: list[str], *, least: int = 0) -> int | None:
    """A whole number >= ``least`` (k6's VU and iteration counts), or ``None`` with a warning."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        warnings.append(f"{where}: {what} must be a whole number >= {least}, got {value!r}: not carried over")
        return None
    return value


def _seconds(value: Any, where: str, warnings: list[str]) -> float | None:
    try:
        return k6_seconds(value)
    except ValueError as exc:
        warnings.append(f"{where}: {exc}: not carried over")
        return None


def _run_time(seconds: float, where: str, warnings: list[str]) -> str | None:
    """``-t`` text Locust reads (whole seconds: ``1m30s``); a fraction is rounded up, with a warning."""
    if seconds <= 0:
        warnings.append(f"{where}: a duration of 0: not carried over (give the run a length with -t)")
        return None
    whole = math.ceil(seconds - 1e-9)
    if whole != seconds:
        warnings.append(f"{where}: {format_duration(seconds)} rounded up to {whole}s (-t takes whole seconds)")
    return format_duration(whole)


def _required_run_time(sc: dict[str, Any], executor: str, where: str, warnings: list[str]) -> str | None:
    """``-t`` from the ``duration`` k6 requires of ``executor`` (constant-vus, constant-arrival-rate,
    externally-controlled), or ``None`` with a warning: missing, not a duration, or 0."""
    if "duration" not in sc:
        warnings.append(f"{where}: {executor} needs a duration: not carried over")
        return None
    seconds = _seconds(sc["duration"], f"{where}: duration", warnings)
    return None if seconds is None else _run_time(seconds, f"{where}: duration", warnings)


def _k6_stages(stages: Any, where: str, warnings: list[str],
               target: Callable[[Any, str], float | None]) -> list[tuple[float, float]] | None:
    """``[(duration_s, target), ...]`` from k6 stages; ``None`` (with a warning) if one is bad."""
    if not isinstance(stages, list) or not stages:
        warnings.append(f"{where}: stages must be a non-empty list of {{duration, target}}: not carried over")
        return None
    out = []
    for i, stage in enumerate(stages, start=1):
        if not isinstance(stage, dict) or "duration" not in stage or "target" not in stage:
            warnings.append(f"{where}: stage {i} needs duration and target: stages not carried over")
            return None
        for extra in (k for k in stage if k not in ("duration", "target")):
            warnings.append(f"{where}: stage {i}: {extra}{did_you_mean(extra, ('duration', 'target'))} is not a "
                            "stage key (k6 reads duration and target): not carried over")
        seconds = _seconds(stage["duration"], f"{where}: stage {i}: duration", warnings)
        value = target(stage["target"], f"{where}: stage {i}")
        if seconds is None or value is None:
            return None
        out.append((seconds, value))
    return out


def _vus_stages(stages: Any, start: int, where: str, warnings: list[str]) -> str | None:
    """``--stages`` text: k6's ramp from ``start`` VUs (a ``0s`` stage jumps there), checked by
    the parser the locustfiles use."""
    def target(value: Any, at: str) -> float | None:
        return _count(value, at, "target", warnings)

    parsed = _k6_stages(stages, where, warnings, target)
    if parsed is None:
        return None
    ramp = ([Stage(0.0, start)] if start else []) + [Stage(d, int(t)) for d, t in parsed]
    text = format_stages(ramp)
    try:
        parse_stages(text)
    except StagesError as exc:
        warnings.append(f"{where}: {exc}: stages not carried over")
        return None
    return text


def _per_second(rate: Any, unit: Any, where: str, warnings: list[str]) -> float | None:
    try:
        seconds = k6_seconds(unit)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < math.inf or seconds <= 0:
            raise ValueError
    except ValueError:
        warnings.append(f"{where}: rate {rate!r} per timeUnit {unit!r} is not a rate: not carried over")
        return None
    return round(float(rate) / seconds, 9)


def _max_vus(sc: dict[str, Any], where: str, warnings: list[str]) -> list[str]:
    """``--max-vus N`` from k6's maxVUs (default: preAllocatedVUs): users start as needed up to it."""
    max_vus = sc.get("maxVUs", sc.get("preAllocatedVUs"))
    if max_vus is None:
        return []
    count = _count(max_vus, where, "maxVUs" if "maxVUs" in sc else "preAllocatedVUs", warnings, least=1)
    return [] if count is None else ["--max-vus", str(count)]


def _closed(result: K6Import, vus: int, run_time: str) -> None:
    result.locust_args += ["-u", str(vus), "-r", str(vus), "-t", run_time]
    result.run_args = None


def _stages_load(result: K6Import, stages: str) -> None:
    result.locust_args += ["--stages", stages]
    assert result.run_args is not None
    result.run_args += ["--stages", stages]


def _iterations(result: K6Import, where: str, vus: int, iterations: int, max_duration: Any, shared: bool) -> None:
    """shared-/per-vu-iterations: no iteration count here, so k6's upper bound (maxDuration) runs."""
    warnings = result.warnings
    seconds = _MAX_DURATION_DEFAULT_S if max_duration is None else _seconds(max_duration, f"{where}: maxDuration",
                                                                            warnings)
    if seconds is None:
        return
    run_time = _run_time(seconds, f"{where}: maxDuration", warnings)
    if run_time is None:
        return
    counted = f"{iterations} iteration{'s' if iterations != 1 else ''}"
    what = f"{counted} shared by {vus} VUs" if shared else f"{counted} for each of {vus} VUs"
    warnings.append(f"{where}: {what}: k6 ends the run when they are done; Locust has no iteration count, so the "
                    f"run lasts -t {run_time} (k6's maxDuration{', 10m by default' if max_duration is None else ''}, "
                    "its upper bound): shorten -t to the time the iterations take")
    _closed(result, vus, run_time)


def _executor(where: str, executor: str, sc: dict[str, Any], result: K6Import) -> None:
    """One executor's options -> load options (or warnings). ``sc`` holds k6's defaults filled in."""
    warnings = result.warnings
    if executor == "constant-vus":
        vus = _count(sc.get("vus", 1), where, "vus", warnings, least=1)
        run_time = _required_run_time(sc, executor, where, warnings)
        if vus is not None and run_time is not None:
            _closed(result, vus, run_time)
    elif executor == "ramping-vus":
        start = _count(sc.get("startVUs", 1), where, "startVUs", warnings)
        stages = None if start is None else _vus_stages(sc.get("stages"), start, where, warnings)
        if stages:
            _stages_load(result, stages)
    elif executor in ("constant-arrival-rate", "ramping-arrival-rate"):
        _arrival_rate(where, executor, sc, result)
    elif executor in ("shared-iterations", "per-vu-iterations"):
        vus = _count(sc.get("vus", 1), where, "vus", warnings, least=1)
        iterations = _count(sc.get("iterations", 1), where, "iterations", warnings, least=1)
        if vus is not None and iterations is not None:
            _iterations(result, where, vus, iterations, sc.get("maxDuration"), executor == "shared-iterations")
    else:  # externally-controlled
        cap = f" (up to maxVUs {sc['maxVUs']})" if "maxVUs" in sc else ""
        warnings.append(f"{where}: externally-controlled: k6 changes its VUs while it runs (k6 scale){cap}; here, "
                        "run without --headless and change the users in Locust's web UI")
        vus = _count(sc.get("vus", 1), where, "vus", warnings, least=1)
        run_time = _required_run_time(sc, executor, where, warnings)
        if vus is not None and run_time is not None:
            _closed(result, vus, run_time)


def _arrival_rate(where: str, executor: str, sc: dict[str, Any], result: K6Import) -> None:
    """The open model: k6 starts iterations evenly spaced at the rate (``--arrivals constant``)."""
    warnings = result.warnings
    unit = sc.get("timeUnit", "1s")
    if executor == "constant-arrival-rate":
        rate = _per_second(sc.get("rate"), unit, where, warnings)
        if rate == 0:  # k6 refuses it ("the iteration rate should be more than 0"), and so does --arrival-rate
            warnings.append(f"{where}: rate {sc.get('rate')!r} per timeUnit {unit!r} is no arrival rate above 0 "
                            "(k6 refuses a rate of 0): not carried over")
            rate = None
        run_time = _required_run_time(sc, executor, where, warnings)
        if rate is None or run_time is None:
            return
        load = ["--arrival-rate", format_number(rate), "--arrivals", "constant", *_max_vus(sc, where, warnings),
                "-t", run_time]
    else:
        start = _per_second(sc.get("startRate", 0), unit, where, warnings)
        if start is None:
            return

        def target(value: Any, at: str) -> float | None:
            return _per_second(value, unit, at, warnings)

        parsed = _k6_stages(sc.get("stages"), where, warnings, target)
        if parsed is None:
            return
        ramp = ([(0.0, start)] if start else []) + parsed
        text = ",".join(f"{format_duration(d)}:{format_number(t)}" for d, t in ramp)  # every digit of the rate
        try:
            parse_rate_stages(text)
        except RateStagesError as exc:
            warnings.append(f"{where}: {exc}: not carried over")
            return
        load = ["--rate-stages", text, "--arrivals", "constant", *_max_vus(sc, where, warnings)]
    result.locust_args += load
    result.run_args = None
    if "preAllocatedVUs" in sc:
        warnings.append(f"{where}: preAllocatedVUs {sc['preAllocatedVUs']}: users are started as needed up to "
                        "--max-vus (k6's maxVUs, else preAllocatedVUs)")


def _scenario(name: str, sc: Any, result: K6Import) -> None:
    """One scenario's executor -> load options (or warnings)."""
    warnings = result.warnings
    where = f"scenarios.{name}"
    if not isinstance(sc, dict):
        warnings.append(f"{where}: not an object: not carried over")
        return
    sc = {k: v for k, v in sc.items() if v is not None}
    executor = sc.get("executor")
    if executor not in _EXECUTOR_KEYS:
        hint = did_you_mean(executor, tuple(_EXECUTOR_KEYS)) if isinstance(executor, str) else ""
        warnings.append(f"{where}: executor {executor!r}{hint} is not a k6 executor ({', '.join(_EXECUTOR_KEYS)}): "
                        "not carried over")
        return
    _executor(where, executor, sc, result)
    if sc.get("exec") not in (None, "default"):
        warnings.append(f"{where}: exec {sc['exec']!r}: choose the matching locustfile with -f (or its user class)")
    known = (*_COMMON_SCENARIO_KEYS, *_EXECUTOR_KEYS[executor])
    for key in sc:
        if key in ("executor", "exec") or key in _EXECUTOR_KEYS[executor] and key != "gracefulRampDown":
            continue
        if key in _SCENARIO_KEY_NOTES:
            warnings.append(f"{where}: {key} not carried over ({_SCENARIO_KEY_NOTES[key]})")
        else:
            warnings.append(f"{where}: {key}{did_you_mean(key, known)} is not an option of {executor}: "
                            "not carried over")


def _thresholds_toml(options: dict[str, Any], result: K6Import, scenarios: tuple[list[str], str]) -> str:
    """The SLO file: the thresholds, or (none carried over) the one row that always holds. ``scenarios``:
    the options' k6 scenario names and the one imported (:func:`_own_key`)."""
    warnings = result.warnings
    lines = ["# Imported from a k6 options object by `osiris-load import-k6` (see docs/k6-migration.md).",
             "# Keys and expressions are k6's and keep k6's meaning (http_req_failed: rate = share failed).", ""]
    thresholds = options.get("thresholds")
    if thresholds is not None and not isinstance(thresholds, dict):
        warnings.append("thresholds: must be an object of metric -> list of expressions: not carried over")
    kept: dict[str, list[str]] = {}  # one TOML key each (iteration_duration{scenario:x} may become a key given)
    for key, raw in (thresholds if isinstance(thresholds, dict) else {}).items():
        own = _own_key(key, scenarios, warnings)
        items = None if own is None else _threshold_items(own, raw, warnings)
        if own is not None and items:
            kept.setdefault(own, []).extend(items)
    body = [f"{toml_string(key)} = [{', '.join(items)}]" for key, items in kept.items()]
    result.threshold_keys = len(body)
    if not body:
        key, expr = ALWAYS_HOLDS
        given = len(thresholds) if isinstance(thresholds, dict) else 0
        why = (f"none of the {given} threshold keys carried over (listed above)" if given
               else "the options have no thresholds")
        warnings.append(f"no threshold carried over ({why}): the SLO file has one row, {key} {expr}, which always "
                        "holds, so the run passes as k6 passes a script without thresholds; add yours to it")
        body = [f"# {why}: this row always holds (k6 passes a run without thresholds); replace it with yours",
                f"{toml_string(key)} = [{toml_string(expr)}]"]
    lines += ["[thresholds]", *body]
    toml = "\n".join(lines) + "\n"
    table = parse_table(toml, "<imported>")  # what is written must load (a bug here, not the user's input)
    warnings += [w.removeprefix("<imported>: ") for w in table.warnings]  # e.g. checks rate<0.01: said at every run
    return toml


def _shortcuts(options: dict[str, Any], result: K6Import) -> None:
    """k6's shortcut options -> the scenario k6 derives from them (k6's rules, its docs)."""
    warnings = result.warnings
    has = {k for k in ("vus", "duration", "iterations", "stages") if k in options}
    if "stages" in has:
        for other in ("duration", "iterations"):
            if other in has:
                warnings.append(f"{other}: k6 refuses {other} together with stages (it does not run the script); "
                                f"the stages are imported, {other} is not carried over")
        start = _count(options.get("vus", 1), "vus", "vus", warnings)
        stages = None if start is None else _vus_stages(options["stages"], start, "stages", warnings)
        if stages:
            _stages_load(result, stages)
    elif "iterations" in has:
        vus = _count(options.get("vus", 1), "vus", "vus", warnings, least=1)
        iterations = _count(options["iterations"], "iterations", "iterations", warnings, least=1)
        if vus is not None and iterations is not None:
            _iterations(result, "iterations", vus, iterations, options.get("duration"), shared=True)
    elif "duration" in has:
        _executor("options", "constant-vus", {"vus": options.get("vus", 1), "duration": options["duration"]}, result)
    else:  # k6 runs one iteration on one VU (and ignores vus alone); the locustfile's own stages run here
        ignored = f"ignores vus {options['vus']!r} without duration, iterations or stages and " if has else ""
        warnings.append(f"no duration, iterations, stages or scenarios: k6 {ignored}runs one iteration on one VU; "
                        "here the locustfile's own stages run: give -u N -t D (or --stages) for another shape")


def convert(options: dict[str, Any], *, scenario: str | None = None, notes: list[str] | None = None) -> K6Import:
    """The SLO file and load options for a k6 ``options`` object (see the module docstring).

    ``scenario`` picks one of ``scenarios`` (default: the first); ``notes`` (from
    :func:`read_k6_options`) head the warnings. :class:`K6ImportError` for an unknown ``scenario``."""
    result = K6Import(toml="", warnings=list(notes or []))
    warnings = result.warnings
    options = {k: v for k, v in options.items() if v is not None}  # null is unset (as `k6 inspect` prints it)
    scenarios = options.get("scenarios")
    names = list(scenarios) if isinstance(scenarios, dict) and scenarios else ["default"]
    chosen = scenario if scenario in names else names[0]
    result.toml = _thresholds_toml(options, result, (names, chosen))
    if scenarios is not None and not isinstance(scenarios, dict):
        warnings.append("scenarios: must be an object of name -> scenario: not carried over")
    elif scenarios:
        for other in ("stages", "vus", "duration", "iterations"):
            if other in options:
                warnings.append(f"{other}: ignored, as in k6, because scenarios are given")
        names = list(scenarios)
        if scenario is not None and scenario not in scenarios:
            raise K6ImportError(f"--scenario {scenario!r}{did_you_mean(scenario, names)}: the options' scenarios "
                                f"are {', '.join(names)}")
        chosen = scenario if scenario is not None else names[0]
        result.scenario = chosen
        if len(names) > 1:
            others = [n for n in names if n != chosen]
            warnings.append(f"scenarios: {len(names)} scenarios ({', '.join(names)}); one run carries one load "
                            f"shape: {chosen!r} is imported; import each other one with --scenario NAME (and its own "
                            f"--out), e.g. --scenario {shlex.quote(others[0])}, or run them together as user classes "
                            "with weights in one locustfile")
        _scenario(chosen, scenarios[chosen], result)
    else:
        if scenario is not None:
            raise K6ImportError(f"--scenario {scenario!r}: the options have no scenarios")
        _shortcuts(options, result)
    for key in options:
        if key in _SHAPE_KEYS:
            continue
        if key in _NO_EQUIVALENT or key in _K6_OPTIONS:
            warnings.append(f"{key}: not carried over ({_NO_EQUIVALENT.get(key, 'no equivalent here')})")
        else:
            warnings.append(f"{key}: not a k6 option{did_you_mean(key, _K6_OPTIONS)}: not carried over")
    return result
