"""``osiris-load import-k6``: a k6 ``options`` object -> an SLO file and the matching command line.

What carries over (see ``docs/k6-migration.md``):

* ``thresholds`` -> the SLO file's ``[thresholds]`` table, key for key and expression for
  expression (``slo.k6_metrics`` gives them k6's meaning), long forms with ``abortOnFail`` and
  ``delayAbortEval`` included;
* ``stages`` -> ``--stages``; ``vus`` + ``duration`` -> ``-u N -r N -t D`` (k6 starts every VU at
  once);
* ``scenarios``: ``ramping-vus`` -> ``--stages``, ``constant-vus`` -> ``-u/-r/-t``,
  ``constant-arrival-rate`` -> ``--arrival-rate R --max-vus N -t D`` (R per second).

Everything else is listed as a warning, never dropped silently: a threshold key this gate
cannot judge, an executor without an equivalent, an option with no meaning here. Pure: no
Locust import, so it is tested (and runs) without a load generator.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slo.expressions import ExpressionError, format_number
from slo.js_literal import JsLiteralError, extract_options
from slo.k6_metrics import NOT_MEASURED, K6KeyError, parse_k6_expression, parse_k6_key
from slo.table import parse_duration, parse_table

__all__ = ["DEFAULT_LOCUSTFILE", "K6ImportError", "K6Import", "convert", "guess_scenario", "load_options",
           "toml_string"]

DEFAULT_LOCUSTFILE = "locustfiles/mixed.py"
SCENARIOS = ("sidecar_load", "read_heavy", "propose_trade")  # Osiris's k6 scripts, one locustfile each
# k6 options that only shape k6's own engine or output: listed as "no equivalent" with why.
_NO_EQUIVALENT = {
    "iterations": "a total iteration count (Locust runs for a time: use -t)",
    "summaryTrendStats": "the verdict table and reports show the thresholds' own aggregates",
    "summaryTimeUnit": "times are shown in ms",
    "tags": "run-wide tags (Locust has none; rows select requests by name and method)",
    "setupTimeout": "no setup() stage here (use Locust's test_start event)",
    "teardownTimeout": "no teardown() stage here (use Locust's test_stop event)",
    "ext": "k6 Cloud options",
    "cloud": "k6 Cloud options",
}
_SHAPE_KEYS = ("stages", "vus", "duration", "scenarios")


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
    return next((s for s in SCENARIOS if s in stem), None)


def load_options(path: str | Path) -> dict[str, Any]:
    """The options object in ``path``: a JSON file, or a k6 script (``.js``/``.mjs``/``.ts``) with
    ``export const options = {...}`` written as a literal. :class:`K6ImportError` otherwise."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise K6ImportError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise K6ImportError(f"{source}: is a directory, not a k6 options file") from None
    except UnicodeDecodeError as exc:
        raise K6ImportError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise K6ImportError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if Path(path).suffix in (".js", ".mjs", ".ts"):
        try:
            data: Any = extract_options(text)
        except JsLiteralError as exc:
            raise K6ImportError(f"{source}: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise K6ImportError(f"{source}: line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg} "
                                "(a k6 script is read when its name ends in .js)") from None
        if isinstance(data, dict) and isinstance(data.get("options"), dict) and "thresholds" not in data:
            data = data["options"]  # {"options": {...}} as some exports wrap it
    if not isinstance(data, dict):
        raise K6ImportError(f"{source}: the options must be an object {{...}}, got {type(data).__name__}")
    return data


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _threshold_items(key: str, raw: Any, warnings: list[str]) -> list[str] | None:
    """The TOML array for one k6 threshold key, or ``None`` (with a warning) if it cannot carry over."""
    try:
        parsed = parse_k6_key(key)
    except K6KeyError as exc:
        warnings.append(f"thresholds: {exc}: not carried over")
        return None
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, dict):
            expr = item.get("threshold")
            extra = [k for k in item if k not in ("threshold", "abortOnFail", "delayAbortEval")]
            if extra:
                warnings.append(f"thresholds: {key!r}: {', '.join(extra)} not carried over (only threshold, "
                                "abortOnFail, delayAbortEval are)")
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
            if "delayAbortEval" in item:
                try:
                    parse_duration(item["delayAbortEval"])
                    parts.append(f"delayAbortEval = {toml_string(str(item['delayAbortEval']))}")
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


def _stages_arg(stages: Any, where: str, warnings: list[str]) -> str | None:
    """``--stages`` text from k6 stages (``[{duration, target}, ...]``)."""
    if not isinstance(stages, list) or not stages:
        warnings.append(f"{where}: stages must be a non-empty list of {{duration, target}}: not carried over")
        return None
    parts = []
    for i, stage in enumerate(stages, start=1):
        if not isinstance(stage, dict) or "duration" not in stage or "target" not in stage:
            warnings.append(f"{where}: stage {i} needs duration and target: stages not carried over")
            return None
        target = stage["target"]
        try:
            parse_duration(stage["duration"])
        except ValueError as exc:
            warnings.append(f"{where}: stage {i}: {exc}: stages not carried over")
            return None
        if isinstance(target, bool) or not isinstance(target, int) or target < 0:
            warnings.append(f"{where}: stage {i}: target must be a whole number of VUs >= 0, got {target!r}: "
                            "stages not carried over")
            return None
        duration = stage["duration"] if isinstance(stage["duration"], str) else f"{format_number(stage['duration'])}s"
        parts.append(f"{duration}:{target}")
    return ",".join(parts)


def _seconds_text(value: Any, where: str, warnings: list[str]) -> str | None:
    try:
        parse_duration(value)
    except ValueError as exc:
        warnings.append(f"{where}: {exc}: not carried over")
        return None
    return value if isinstance(value, str) else f"{format_number(float(value))}s"


def _scenario(name: str, sc: Any, result: K6Import) -> None:
    """One scenario's executor -> load options (or warnings)."""
    warnings = result.warnings
    where = f"scenarios.{name}"
    if not isinstance(sc, dict):
        warnings.append(f"{where}: not an object: not carried over")
        return
    executor = sc.get("executor")
    used: set[str] = {"executor", "exec"}
    if executor == "ramping-vus":
        used |= {"stages", "startVUs"}
        if sc.get("startVUs"):
            warnings.append(f"{where}: startVUs {sc['startVUs']} not carried over: stages here start at 0 users "
                            "(add a short first stage to that target)")
        stages = _stages_arg(sc.get("stages"), where, warnings)
        if stages:
            result.locust_args += ["--stages", stages]
            assert result.run_args is not None
            result.run_args += ["--stages", stages]
    elif executor == "constant-vus":
        used |= {"vus", "duration"}
        vus = sc.get("vus", 1)
        duration = _seconds_text(sc.get("duration"), f"{where}.duration", warnings)
        if duration:
            result.locust_args += ["-u", str(vus), "-r", str(vus), "-t", duration]
            result.run_args = None
    elif executor == "constant-arrival-rate":
        used |= {"rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"}
        rate, unit = sc.get("rate"), sc.get("timeUnit", "1s")
        duration = _seconds_text(sc.get("duration"), f"{where}.duration", warnings)
        try:
            per_second = float(rate) / parse_duration(unit)
        except (TypeError, ValueError, ZeroDivisionError):
            warnings.append(f"{where}: rate {rate!r} per {unit!r} is not a rate: not carried over")
            return
        max_vus = sc.get("maxVUs", sc.get("preAllocatedVUs"))
        if duration:
            result.locust_args += ["--arrival-rate", format_number(round(per_second, 9))]
            if max_vus is not None:
                result.locust_args += ["--max-vus", str(max_vus)]
            result.locust_args += ["-t", duration]
            result.run_args = None
        if "preAllocatedVUs" in sc:
            warnings.append(f"{where}: preAllocatedVUs {sc['preAllocatedVUs']}: users are started as needed "
                            "up to --max-vus")
    else:
        warnings.append(f"{where}: executor {executor!r} has no equivalent here (ramping-vus, constant-vus and "
                        "constant-arrival-rate carry over): not carried over")
        return
    if sc.get("exec") not in (None, "default"):
        warnings.append(f"{where}: exec {sc['exec']!r}: choose the matching locustfile with -f")
    for key in sc:
        if key not in used:
            warnings.append(f"{where}: {key} not carried over")


def convert(options: dict[str, Any]) -> K6Import:
    """The SLO file and load options for a k6 ``options`` object (see the module docstring)."""
    result = K6Import(toml="")
    warnings = result.warnings
    lines = ["# Imported from a k6 options object by `osiris-load import-k6` (see docs/k6-migration.md).",
             "# Keys and expressions are k6's and keep k6's meaning (http_req_failed: rate = share failed).", ""]
    thresholds = options.get("thresholds")
    body: list[str] = []
    if thresholds is not None and not isinstance(thresholds, dict):
        warnings.append("thresholds: must be an object of metric -> list of expressions: not carried over")
    for key, raw in (thresholds or {}).items():
        items = _threshold_items(key, raw, warnings)
        if items:
            body.append(f"{toml_string(key)} = [{', '.join(items)}]")
    result.threshold_keys = len(body)
    if body:
        lines += ["[thresholds]", *body]
    else:
        warnings.append("no threshold carried over: the SLO file keeps the guide's default rows")
        lines += [line for line in Path(__file__).with_name("default.toml").read_text(encoding="utf-8").splitlines()]
    result.toml = "\n".join(lines) + "\n"
    parse_table(result.toml, "<imported>")  # what is written must load (a bug here, not the user's input)

    scenarios = options.get("scenarios")
    if scenarios:
        for other in ("stages", "vus", "duration"):
            if other in options:
                warnings.append(f"{other}: ignored, as in k6, because scenarios are given")
        if not isinstance(scenarios, dict):
            warnings.append("scenarios: must be an object of name -> scenario: not carried over")
        else:
            names = list(scenarios)
            if len(names) > 1:
                warnings.append(f"scenarios: {len(names)} scenarios ({', '.join(names)}); one run carries one load "
                                f"shape: {names[0]!r} is imported, the others are not carried over (run them "
                                "separately, or as user classes with weights in one locustfile)")
            if names:
                _scenario(names[0], scenarios[names[0]], result)
    elif "stages" in options:
        stages = _stages_arg(options["stages"], "stages", warnings)
        if stages:
            result.locust_args += ["--stages", stages]
            assert result.run_args is not None
            result.run_args += ["--stages", stages]
        if "vus" in options:
            warnings.append("vus: ignored, as in k6, because stages are given")
    elif "duration" in options or "vus" in options:
        vus = options.get("vus", 1)
        if "duration" not in options:
            warnings.append("vus without duration: k6 would run one iteration per VU; not carried over")
        else:
            duration = _seconds_text(options["duration"], "duration", warnings)
            if duration:
                result.locust_args += ["-u", str(vus), "-r", str(vus), "-t", duration]
                result.run_args = None
    for key in options:
        if key in _SHAPE_KEYS or key == "thresholds":
            continue
        why = _NO_EQUIVALENT.get(key, "no equivalent here")
        warnings.append(f"{key}: not carried over ({why})")
    return result
