"""Issue 22: ``osiris-load import-k6`` on k6 scripts as people write them (``tests/data/k6/corpus``:
JavaScript and TypeScript, shortcuts and every executor, thresholds in every form k6 accepts).

One test per defect the issue found, each on a script of the shape that broke, and one that imports
the whole corpus through the front door: never a traceback, exit 0 or 2 only, every option and
threshold key either in the SLO file or named on stderr, and every printed command accepted by the
parser that would run it (Locust's own, with this project's options; checked in one child process,
nothing is run)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from osiris_load.adapter.shape import parse_stages, target_at
from osiris_load.cli import main as front_door
from osiris_load.core.k6.importer import EXECUTORS, K6ImportError, convert, read_k6_options
from osiris_load.core.k6.js_literal import JsLiteralError, read_options
from osiris_load.core.openmodel.schedule import RatePlan, parse_rate_stages
from osiris_load.core.slo.evaluate import evaluate, plan_for
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import load_table, parse_table
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "data" / "k6" / "corpus"
SCRIPTS = sorted(p for p in CORPUS.iterdir() if p.suffix in (".js", ".mjs", ".ts", ".json"))
REFUSED = {  # exit 2, one line: where and why
    "computed_options.js": "line 6, column 8: 'VUS' is computed, not a literal value: write the value out (or export "
                           "the options as JSON)",
    "not_a_literal_ts.ts": "line 5, column 3: spread (...) is not read: write the keys out"}


def _import(name: str, **kwargs: object):  # noqa: ANN202  (a K6Import)
    options, notes = read_k6_options(CORPUS / name)
    return convert(options, notes=notes, **kwargs)  # type: ignore[arg-type]


# -- the five defects ------------------------------------------------------------------------------

def test_numbers_are_milliseconds_as_in_k6() -> None:
    """Defect 1: ``duration: 30000`` is 30 s (was ``-t 30000s``); ``delayAbortEval: 10000`` is 10 s (was
    written as ``"10000"`` and refused by the importer's own check: a traceback); stage durations too."""
    imported = _import("numbers_as_durations.js")
    assert imported.locust_args == ["-u", "5", "-r", "5", "-t", "30s"]
    table = parse_table(imported.toml)
    assert [s.delay_abort_eval_s for s in table.rows[0].thresholds] == [10.0, 10.0]
    assert 'delayAbortEval = "10s"' in imported.toml
    stages = _import("stages_as_numbers.js")
    assert stages.locust_args == ["--stages", "0s:1,10s:20,1m:20,1500ms:0"]
    partial = _import("partial_options.ts")  # timeUnit: 500 (ms), duration: 90000 (ms), delayAbortEval: 5000
    assert partial.locust_args == ["--arrival-rate", "4", "--arrivals", "constant", "--max-vus", "8", "-t", "1m30s"]
    assert parse_table(partial.toml).rows[0].thresholds[0].delay_abort_eval_s == 5.0
    rounded = convert({"vus": 1, "duration": 1500})
    assert rounded.locust_args[-2:] == ["-t", "2s"]
    assert "options: duration: 1500ms rounded up to 2s (-t takes whole seconds)" in rounded.warnings


def test_typed_typescript_options_are_read() -> None:
    """Defect 2: ``export const options: Options = {...}`` (and ``Partial<k6.Options>``, ``satisfies``)."""
    typed = _import("typed_options.ts")
    assert typed.locust_args == ["-u", "10", "-r", "10", "-t", "45s"] and typed.threshold_keys == 2
    assert _import("satisfies_options.ts").locust_args == ["--stages", "0s:1,20s:15,1m:15,20s:0"]
    assert _import("partial_options.ts").threshold_keys == 1


def test_vus_with_stages_is_where_the_ramp_starts() -> None:
    """Defect 3: ``vus`` is k6's ``startVUs`` (10 VUs held for a minute, not a ramp from 0); iterations are
    shared by the VUs (not one per VU); ``duration`` beside ``stages`` is named (k6 refuses the mix)."""
    held = convert({"vus": 10, "stages": [{"duration": "1m", "target": 10}]})
    assert held.locust_args == ["--stages", "0s:10,1m:10"]
    plan = parse_stages(held.locust_args[1])  # what the locustfiles' shape runs: 10 users from the start
    assert [target_at(plan, t) for t in (0.0, 1.0, 30.0, 59.0)] == [10, 10, 10, 10]
    assert not any("vus" in w for w in held.warnings)
    assert _import("spike_with_vus.js").locust_args == ["--stages", "0s:10,1m:10,10s:200,1m:200,10s:10,1m:10"]
    assert convert({"stages": [{"duration": "10s", "target": 3}]}).locust_args == ["--stages", "0s:1,10s:3"]
    shared = _import("shared_iterations_shortcut.js")
    assert shared.locust_args == ["-u", "10", "-r", "10", "-t", "10m"]
    assert any("100 iterations shared by 10 VUs: k6 ends the run when they are done" in w for w in shared.warnings)
    assert not any("one iteration per VU" in w for w in shared.warnings)
    mixed = _import("stages_and_duration.js")
    assert mixed.locust_args == ["--stages", "0s:1,30s:5,30s:0"]
    assert ("duration: k6 refuses duration together with stages (it does not run the script); the stages are "
            "imported, duration is not carried over") in mixed.warnings


def test_a_script_without_thresholds_passes_as_in_k6() -> None:
    """Defect 4: no threshold -> one row that always holds, named in the warning; never the guide's rows
    (whose ``GET /health`` row failed the user's own slow /health with exit 99)."""
    imported = _import("no_thresholds.js")
    table = parse_table(imported.toml)
    assert [(r.name, [s.threshold.source for s in r.thresholds]) for r in table.rows] == [("http_reqs", ["count>=0"])]
    assert "GET /health" not in imported.toml and "/generate" not in imported.toml
    assert imported.warnings[0].startswith("no threshold carried over (the options have no thresholds): the SLO "
                                           "file has one row, http_reqs count>=0, which always holds")
    recorder = RequestRecorder(plan_for(table))
    for i in range(200):
        recorder.record("GET", "/health", 5000.0, i % 2 == 0)  # slow and half failed: k6 passes it all the same
    assert evaluate(table, recorder).passed
    dropped = _import("typo_thresholds.js")
    assert "none" not in dropped.warnings[0] and parse_table(dropped.toml).rows[0].name == "http_reqs"
    suspicious = convert({"thresholds": {"checks": ["rate<0.01"]}})  # what the SLO file will warn at every run
    assert any(w.startswith("row 'checks': 'rate<0.01' asks for a success rate below 1%") for w in suspicious.warnings)
    custom = convert({"thresholds": {"errors": ["rate<0.1"]}})
    assert any("(none of the 1 threshold keys carried over (listed above))" in w for w in custom.warnings)


def test_arrival_rate_executors_keep_k6_arrivals() -> None:
    """Defect 5: ramping-arrival-rate -> ``--rate-stages`` from ``startRate`` (was "no equivalent");
    constant-arrival-rate gets ``--arrivals constant`` (k6 spaces iterations evenly; was Poisson)."""
    ramp = _import("ramping_arrival_rate.js")  # 60/min start, then 300/min: 1/s -> 5/s
    assert ramp.locust_args == ["--rate-stages", "0s:1,2m:5,5m:5,30s:0", "--arrivals", "constant", "--max-vus", "50"]
    assert ramp.run_args is None
    plan = RatePlan.from_stages(parse_rate_stages(ramp.locust_args[1]))  # what the open model schedules
    assert [plan.rate_at(t) for t in (0.0, 60.0, 120.0, 300.0)] == pytest.approx([1.0, 3.0, 5.0, 5.0])
    assert plan.duration_s == 450.0
    steady = _import("constant_arrival_rate.js")
    assert steady.locust_args == ["--arrival-rate", "30", "--arrivals", "constant", "--max-vus", "60", "-t", "2m"]
    assert not any("no equivalent" in w for w in ramp.warnings + steady.warnings)


# -- the three smaller ones ------------------------------------------------------------------------

def test_a_key_given_twice_keeps_the_last_value_as_k6(tmp_path: Path) -> None:
    imported = _import("duplicate_keys.js")
    assert imported.locust_args == ["-u", "20", "-r", "20", "-t", "1m"]
    assert [r.name for r in parse_table(imported.toml).rows] == ["http_req_failed", "http_req_duration"]
    assert '"rate<0.01"' in imported.toml and "rate<0.5" not in imported.toml
    assert imported.warnings[:2] == ["line 8: key 'vus' given twice: the last value is kept, as in k6",
                                     "line 9: key 'thresholds' given twice: the last value is kept, as in k6"]
    as_json = tmp_path / "o.json"
    as_json.write_text('{"vus": 1, "duration": "5s", "vus": 3}')
    options, notes = read_k6_options(as_json)
    assert options["vus"] == 3 and notes == ["key 'vus' given twice: the last value is kept, as in k6"]


def test_misspelt_keys_get_did_you_mean() -> None:
    assert ("threholds: not a k6 option (did you mean 'thresholds'?): not carried over"
            in _import("typo_thresholds.js").warnings)
    text = "\n".join(_import("scenario_typos.ts").warnings)
    assert "scenarios.main: vu (did you mean 'vus'?) is not an option of constant-vus: not carried over" in text
    assert "abortOnfail (did you mean 'abortOnFail'?) not carried over" in text
    assert "executor 'ramping-vu' (did you mean 'ramping-vus'?)" in "\n".join(_import("unknown_executor.js").warnings)


def test_every_scenario_can_be_imported_and_the_warning_says_how(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    first = _import("multi_scenario.ts")
    assert first.scenario == "readers" and first.locust_args == ["-u", "20", "-r", "20", "-t", "5m"]
    assert any("'readers' is imported; import each other one with --scenario NAME (and its own --out), e.g. "
               "--scenario writers" in w for w in first.warnings)
    writers = _import("multi_scenario.ts", scenario="writers")
    assert writers.locust_args == ["--rate-stages", "0s:1,2m:10,3m:10", "--arrivals", "constant", "--max-vus", "25"]
    code = front_door(["import-k6", str(CORPUS / "multi_scenario.ts"), "--scenario", "writer", "--out",
                       str(tmp_path / "w.toml")])
    assert code == 2 and not (tmp_path / "w.toml").exists()
    assert capsys.readouterr().err == ("osiris-load import-k6: --scenario 'writer' (did you mean 'writers'?): the "
                                       "options' scenarios are readers, writers\n")


# -- the corpus ------------------------------------------------------------------------------------

def _keys_accounted_for(options: dict, toml: str, stderr: str) -> list[str]:
    """Top-level options and threshold keys that are neither carried over nor named on stderr."""
    carried = {"vus", "duration", "iterations", "stages", "scenarios", "thresholds"}
    missing = [k for k, v in options.items() if v is not None and k not in carried and f"{k}:" not in stderr]
    for key in options.get("thresholds") or {}:
        if json.dumps(key, ensure_ascii=False) not in toml and key not in stderr:
            missing.append(f"thresholds.{key}")
    return missing


def test_the_corpus_imports_through_the_front_door(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    languages = {p.suffix for p in SCRIPTS}
    assert {".js", ".ts", ".json"} <= languages and len(SCRIPTS) >= 25
    seen_executors = set()
    commands: list[tuple[str, str]] = []
    for script in SCRIPTS:
        runs = [None]
        text = script.read_text(encoding="utf-8")
        if script.name not in REFUSED:
            options = read_k6_options(script)[0]
            scenarios = options.get("scenarios") or {}
            seen_executors |= {sc.get("executor") for sc in scenarios.values()}
            runs += list(scenarios)[1:]  # every other scenario, with --scenario
        for scenario in runs:
            out = tmp_path / f"{script.stem}-{scenario}.toml"
            argv = ["import-k6", str(script), "--out", str(out)] + (["--scenario", scenario] if scenario else [])
            code = front_door(argv)
            printed = capsys.readouterr()
            assert "Traceback" not in printed.err + printed.out, script.name
            if script.name in REFUSED:
                assert code == 2 and not out.exists(), script.name
                assert printed.err == f"osiris-load import-k6: {script}: {REFUSED[script.name]}\n"
                continue
            assert code == 0, (script.name, printed.err)
            assert all(line.startswith("osiris-load import-k6: warning: ") for line in printed.err.splitlines())
            load_table(out)  # what was written loads
            missing = _keys_accounted_for(read_k6_options(script)[0], out.read_text(), printed.err)
            assert not missing, (script.name, missing)
            lines = printed.out.splitlines()
            assert re.fullmatch(r"wrote .* \(\d+ threshold keys\)", lines[0])
            commands += [(f"{script.name} {scenario or ''}", line) for line in lines[1:]]
        assert "export" in text or script.suffix == ".json"
    assert seen_executors >= set(EXECUTORS), set(EXECUTORS) - seen_executors
    checked = subprocess.run([sys.executable, "-m", "tests.k6_commands"], input=json.dumps([c for _, c in commands]),
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr[-3000:]
    results = json.loads(checked.stdout)
    errors = [(where, command, error) for (where, command), error in zip(commands, results, strict=True)
              if error is not None]
    assert not errors, errors
    assert {shlex.split(c)[0] for _, c in commands} == {"locust", "osiris-load"}


ODD = [None, True, 0, -1, 1.5, "x", "", "10", "1m", [], {}, [1], {"a": 1}, float("inf"), float("nan"), 10**30,
       [{"duration": "1s", "target": 0}], [{"duration": 5, "target": "x"}], [{"target": 1}]]


def test_no_value_in_any_slot_ends_in_a_traceback() -> None:
    """Every option, scenario key and threshold slot given every odd value (JSON's Infinity and NaN too):
    converted with warnings, never an exception."""
    for key in ("vus", "duration", "iterations", "stages", "thresholds", "scenarios"):
        for value in ODD:
            for beside in ({}, {"vus": 2}, {"stages": [{"duration": "1s", "target": 1}]}):
                convert({**beside, key: value})
    for executor in (*EXECUTORS, 5, None):
        for key in ("vus", "duration", "iterations", "stages", "rate", "timeUnit", "startRate", "startVUs", "maxVUs",
                    "preAllocatedVUs", "maxDuration"):
            for value in ODD:
                convert({"scenarios": {"a": {"executor": executor, "duration": "1m", "rate": 1,
                                             "stages": [{"duration": "1s", "target": 1}], key: value}}})
    for value in ODD:
        imported = convert({"thresholds": {"http_req_duration": [value, {"threshold": "p(95)<1", "abortOnFail": value,
                                                                          "delayAbortEval": value}]}})
        parse_table(imported.toml)


def test_a_cut_or_damaged_script_is_refused_with_its_position_never_a_traceback() -> None:
    """Every prefix of every corpus script, and each with one character dropped (a half-pasted file, an
    unclosed brace or quote): read, or refused with :class:`JsLiteralError`; before, a file ending
    inside the options object (``{ a: 1, '``) raised IndexError."""
    with pytest.raises(JsLiteralError, match="unexpected end of the file"):
        read_options("export const options = { vus: 1, ")
    with pytest.raises(JsLiteralError, match="line 1, column 34: unterminated string"):
        read_options("export const options = { vus: 1, '")
    for script in SCRIPTS:
        if script.suffix == ".json":
            continue
        text = script.read_text(encoding="utf-8")
        for cut in range(0, len(text), 7):
            for damaged in (text[:cut], text[:cut] + text[cut + 1:]):
                try:
                    read_options(damaged)
                except JsLiteralError:
                    pass


# -- review: scripts of shapes the corpus above did not have ----------------------------------------

def test_an_options_object_in_a_comment_or_a_string_is_not_the_scripts() -> None:
    """Before: the first ``export const options`` anywhere in the text was read, so an old options object
    commented out above the real one was imported instead (``-u 1 -t 10s`` and no thresholds, for a script
    that runs 50 VUs for 5 minutes with a p(95) threshold), with no word said."""
    imported = _import("commented_out_options.js")
    assert imported.locust_args == ["-u", "50", "-r", "50", "-t", "5m"] and imported.threshold_keys == 1
    assert read_options("const s = 'export const options = { vus: 9 }';\nexport const options = { vus: 2 };")[0] == {
        "vus": 2}
    with pytest.raises(JsLiteralError, match="no 'export const options"):
        read_options("// export const options = { vus: 1, duration: '1s' };\n")


def test_typescript_assertions_unicode_names_and_js_numbers_are_read() -> None:
    """Before: ``'ramping-vus' as const`` (TypeScript without the Options type), a scenario called
    ``lecture_élevée`` (JavaScript names are Unicode) and ``1_000`` were refused (exit 2)."""
    imported = _import("as_const_unicode.ts")
    assert imported.scenario == "lecture_élevée" and imported.locust_args == ["--stages", "30s:10,1m:10"]
    assert '"http_req_duration{name:/santé}" = ["p(95)<400"]' in imported.toml and imported.threshold_keys == 2
    assert read_options("export const options = { a: 1_000, b: 5., c: 0x10, d: +.5, e: undefined, f: 2 as number }"
                        " satisfies Options;")[0] == {"a": 1000, "b": 5.0, "c": 16, "d": 0.5, "e": None, "f": 2}


def test_commonjs_bom_and_crlf_are_read(tmp_path: Path) -> None:
    """Before: ``module.exports.options = {...}`` (k6 runs CommonJS too) was "no 'export const options'"
    (exit 2), and a JSON options file saved with a BOM was "not valid JSON: Unexpected UTF-8 BOM"."""
    assert _import("commonjs.js").locust_args == ["-u", "5", "-r", "5", "-t", "30s"]
    assert read_options("exports.options = { vus: 2 };")[0] == {"vus": 2}
    script = tmp_path / "win.js"
    script.write_bytes(b"\xef\xbb\xbfexport const options = {\r\n  vus: 3, // three\r\n  duration: '15s',\r\n};\r\n")
    as_json = tmp_path / "win.json"
    as_json.write_bytes(b'\xef\xbb\xbf{"vus": 3, "duration": "15s"}\r\n')
    for path in (script, as_json):
        assert convert(read_k6_options(path)[0]).locust_args == ["-u", "3", "-r", "3", "-t", "15s"]


def test_options_nested_too_deeply_are_refused_not_a_traceback(tmp_path: Path) -> None:
    """Before: a RecursionError traceback (exit 1) from the reader, or from json for a JSON file."""
    with pytest.raises(JsLiteralError, match="nested too deeply"):
        read_options("export const options = { x: " + "[" * 5000 + "]" * 5000 + " };")
    deep = tmp_path / "deep.json"
    deep.write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(K6ImportError, match="nested too deeply"):
        read_k6_options(deep)


def test_a_threshold_on_one_of_the_scripts_own_scenarios_follows_that_scenario() -> None:
    """Before: ``iteration_duration{scenario:si}`` was kept whichever scenario was imported ("check that the
    name is a user class"): no user class is called ``si``, so every run of the import ended NO DATA, FAIL,
    exit 99 (seen running the printed command of ``--scenario rar``); ``http_req_duration{scenario:x}`` was
    refused whichever scenario was imported. Now: the imported scenario's threshold
    is the whole run's (tag dropped, merged with an untagged key), another scenario's comes with its own
    import; k6 calls the shortcuts' scenario ``default``; a user class name is kept."""
    thresholds = {"iteration_duration": ["p(95)<900"], "iteration_duration{scenario:si}": ["avg<500"],
                  "iteration_duration{scenario:ReadHeavyUser}": ["p(99)<2000"]}
    scenarios = {"rar": {"executor": "constant-vus", "vus": 1, "duration": "5s"},
                 "si": {"executor": "shared-iterations", "vus": 2, "iterations": 10}}
    other = convert({"scenarios": scenarios, "thresholds": thresholds})
    assert [r.name for r in parse_table(other.toml).rows] == ["iteration_duration",
                                                              "iteration_duration{scenario:ReadHeavyUser}"]
    assert ("thresholds: iteration_duration{scenario:si}: judges k6 scenario 'si', not the one imported ('rar'): "
            "not carried over (it comes with --scenario si)") in other.warnings
    own = convert({"scenarios": scenarios, "thresholds": thresholds}, scenario="si")
    assert '"iteration_duration" = ["p(95)<900", "avg<500"]' in own.toml and own.threshold_keys == 2
    default = convert({"vus": 1, "duration": "5s", "thresholds": {"iteration_duration{scenario:default}": ["avg<5"]}})
    assert '"iteration_duration" = ["avg<5"]' in default.toml
    # per-scenario thresholds on requests, as multi-scenario scripts write them (were refused: "tag 'scenario'
    # is not recorded here", so the imported scenario kept none of its own)
    tagged = {"http_req_duration{scenario:rar,name:/generate}": ["p(95)<300"], "http_reqs{scenario:si}": ["count>1"]}
    imported = convert({"scenarios": scenarios, "thresholds": tagged})
    assert [r.name for r in parse_table(imported.toml).rows] == ["http_req_duration{name:/generate}"]
    assert any(w.startswith("thresholds: http_reqs{scenario:si}: judges k6 scenario 'si'") for w in imported.warnings)


def test_an_unknown_key_in_a_stage_is_named() -> None:
    """Before: ``{duration: '10s', target: 5, tagret: 8}`` imported ``10s:5`` and said nothing of ``tagret``."""
    imported = convert({"stages": [{"duration": "10s", "target": 5, "tagret": 8}]})
    assert imported.locust_args == ["--stages", "0s:1,10s:5"]
    assert ("stages: stage 1: tagret (did you mean 'target'?) is not a stage key (k6 reads duration and target): "
            "not carried over") in imported.warnings


def test_every_executor_of_one_script_imports_as_k6_runs_it() -> None:
    """``every_executor.js``, one scenario per executor, each imported with ``--scenario``: k6's meaning of
    each one's options (rate per timeUnit, maxVUs else preAllocatedVUs, maxDuration's 10m default, startVUs 0:
    no jump stage), and each scenario key that does not carry over named with what to do instead."""
    pre = "users are started as needed up to --max-vus (k6's maxVUs, else preAllocatedVUs)"
    ends = ("k6 ends the run when they are done; Locust has no iteration count, so the run lasts -t {} (k6's "
            "maxDuration{}, its upper bound): shorten -t to the time the iterations take")
    expected = {
        "browse": (["-u", "5", "-r", "5", "-t", "1m"], [
            "exec 'browse': choose the matching locustfile with -f (or its user class)",
            "tags not carried over (no run-wide tags here: rows select requests by name and method)",
            "env not carried over (set the variables in the environment of the command)"]),
        "ramp": (["--stages", "30s:10,30s:0"], [
            "gracefulRampDown not carried over (k6 lets a ramped-down VU finish its iteration; Locust's "
            "--stop-timeout does)",
            "startTime not carried over (the run starts at once here)"]),
        "rate": (["--arrival-rate", "2", "--arrivals", "constant", "--max-vus", "4", "-t", "1m"], [
            f"preAllocatedVUs 4: {pre}", "startTime not carried over (the run starts at once here)"]),
        "ramp_rate": (["--rate-stages", "20s:5", "--arrivals", "constant", "--max-vus", "2"],
                      [f"preAllocatedVUs 2: {pre}"]),
        "shared": (["-u", "2", "-r", "2", "-t", "30s"], ["20 iterations shared by 2 VUs: " + ends.format("30s", "")]),
        "per_vu": (["-u", "2", "-r", "2", "-t", "10m"],
                   ["3 iterations for each of 2 VUs: " + ends.format("10m", ", 10m by default")]),
        "manual": (["-u", "1", "-r", "1", "-t", "1m"], [
            "externally-controlled: k6 changes its VUs while it runs (k6 scale) (up to maxVUs 5); here, run without "
            "--headless and change the users in Locust's web UI"]),
    }
    for name, (locust_args, warnings) in expected.items():
        imported = _import("every_executor.js", scenario=name)
        assert imported.scenario == name
        assert imported.locust_args == locust_args, name
        assert [w.removeprefix(f"scenarios.{name}: ") for w in imported.warnings
                if w.startswith("scenarios.")] == warnings, name
        others = ", ".join(n for n in expected if n != name)
        assert (f"scenarios: 7 scenarios ({', '.join(expected)}); one run carries one load shape: {name!r} is "
                f"imported; import each other one with --scenario NAME (and its own --out), e.g. --scenario "
                f"{others.split(', ')[0]}, or run them together as user classes with weights in one "
                "locustfile") in imported.warnings
        # the browse scenario's own thresholds judge the whole run when it is imported, and only then
        rows = [r.name for r in parse_table(imported.toml).rows]
        assert rows == (["http_req_duration", "iteration_duration", "http_req_failed"] if name == "browse"
                        else ["http_req_failed"]), name
    assert [w.split(": ", 1)[0] for w in _import("every_executor.js").warnings if w.startswith("scenarios.")] == [
        "scenarios.browse"] * 3  # the first scenario by default, and only its keys are judged
