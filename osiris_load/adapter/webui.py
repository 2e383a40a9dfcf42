"""The SLO gate in Locust's web UI: a live "SLO" tab, CSV downloads, an HTML report, and SLO file
reloading from the start form.

``attach(environment, web_ui)`` is called by ``osiris_load.adapter.gate.on_init`` where a web UI runs (a
local runner or a master), after it has put the gate in the run's context (``osiris_load.adapter.context``)
and before it adds the gate's own listeners, and wires in, through Locust's own extension points:

* an **SLO tab** (``extended_tabs`` / ``extended_tables`` in ``web_ui.template_args``) whose rows
  ride along on Locust's ``/stats/requests`` poll as ``extended_stats``, so the tab refreshes with
  the statistics (every ~2 s). Rows come from the gate's latest live verdict (``gate.verdict``,
  refreshed every ``--slo-eval-interval`` seconds), or from an evaluation on demand before the first
  one (it does not touch the gate's state);
* ``GET /slo/csv`` and ``GET /slo/endpoints.csv``: what ``--csv PREFIX`` would write to
  ``PREFIX_slo.csv`` and ``PREFIX_slo_endpoints.csv`` now, listed under "Download Data"
  (``extended_csv_files``);
* ``GET /slo/report.html``: the current statistics written as a run folder of CSVs (Locust's
  ``NAME_stats.csv``, ``NAME_stats_history.csv``, ``NAME_failures.csv``, ``NAME_exceptions.csv`` and
  the gate's two) and rendered by ``reports.html.render_report``; 503 when that module is missing;
* **SLO file reloading**: ``--slo-file`` is in the start form; when a test starts with another path
  there (or the file changed on disk), the table is loaded again before the gate starts judging.
  A file that does not load leaves the previous table in force and shows the error in the tab.

Everything here runs in the Locust process's gevent loop, like the gate itself: no locks needed.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris_load.adapter.context import context_of
from osiris_load.adapter.selection import check_gate_options, load_gate_table
from osiris_load.core.slo.formatting import (
    format_health,
    format_interval,
    format_limit,
    format_observed,
    format_open_model,
    format_settle,
    format_uncorrected,
    format_value,
    state_word,
)
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, SloFileError
from osiris_load.core.slo.verdict import ThresholdResult, Verdict, to_csv, to_json

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from flask import Response
    from locust.env import Environment
    from locust.web import WebUI

__all__ = ["SLO_TAB_KEY", "SLO_TABLE_STRUCTURE", "SloWebUi", "attach"]

log = logging.getLogger("osiris.slo.webui")

SLO_TAB_KEY = "slo"
"""The tab's key: ``/?tab=slo`` opens it."""

SLO_TABLE_STRUCTURE: list[dict[str, str]] = [
    {"key": "verdict", "title": "Verdict"},
    {"key": "row", "title": "Row"},
    {"key": "requests", "title": "Requests"},
    {"key": "expression", "title": "Threshold"},
    {"key": "observed", "title": "Observed"},
    {"key": "interval", "title": "Interval"},
    {"key": "limit", "title": "Limit"},
    {"key": "settle", "title": "To settle"},
    {"key": "samples", "title": "Samples"},
]
"""Columns of the SLO tab. No column is called ``name``: Locust's table sorts rows by ``name`` by
default, and the rows must keep the SLO file's order."""

CSV_FILES: list[dict[str, str]] = [
    {"href": "./slo/csv", "title": "Download SLO verdict CSV (_slo.csv)"},
    {"href": "./slo/endpoints.csv", "title": "Download SLO per-endpoint percentiles CSV (_slo_endpoints.csv)"},
    {"href": "./slo/verdict.json", "title": "Download SLO verdict JSON (_slo.json)"},
    {"href": "./slo/report.html", "title": "SLO HTML report"},
]

_WAITING_STATES = ("ready", "spawning", "running")  # nothing recorded yet in these: no verdict to show
_STATS_ENDPOINT = "locust.request_stats"
_SWARM_ENDPOINT = "locust.swarm"  # Locust's /stats/requests view, under any --web-base-path


def _expression_text(result: ThresholdResult) -> str:
    if not result.abort_on_fail:
        return result.expression
    delay = f" after {result.delay_abort_eval_s:g}s" if result.delay_abort_eval_s else ""
    return f"{result.expression} (abort on fail{delay})"


def _file_stamp(path: str) -> tuple[int, int] | None:
    """What tells a changed file: modification time and size (``None`` when it cannot be read)."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "locust"


class SloWebUi:
    """The gate's face in one web UI: the rows of the SLO tab, the CSV and report routes, and the
    SLO file reloading on ``test_start``. ``error`` holds the last SLO file error (or ``None``)."""

    def __init__(self, environment: Environment, web_ui: WebUI) -> None:
        gate = context_of(environment).gate
        if gate is None:
            raise ValueError("the SLO gate is not attached to this environment (osiris_load.adapter.gate.on_init)")
        self.environment = environment
        self.web_ui = web_ui
        self.gate = gate
        self.error: str | None = None
        self.loaded_path = self.requested_path()
        self.loaded_stamp = _file_stamp(self.loaded_path)

    # -- the SLO file --
    def requested_path(self) -> str:
        """The SLO file the options (command line, or the start form) ask for now."""
        options = self.environment.parsed_options
        value = getattr(options, "slo_file", None) if options is not None else None
        return str(value).strip() if value and str(value).strip() else str(DEFAULT_TABLE_PATH)

    def reload_table(self, **_: Any) -> None:
        """``test_start`` listener, run before the gate's: load the table again (the start form may
        name another file or other rows, or the file changed on disk). The start form already
        refused a file that does not load (:meth:`start_refusal`); if it broke since, the error
        shows in the tab and the log and the previous table stays in force."""
        try:
            table, left_out = self.load(self.requested_path())
        except SloFileError as exc:
            current = self.gate.table.source if self.gate.table is not None else "no table"
            self.error = f"{exc} (still judging against {current})"
            log.error("SLO gate: %s", self.error)
            return
        self.gate.set_table(table, left_out)
        self.loaded_path, self.loaded_stamp, self.error = self.requested_path(), _file_stamp(table.source), None

    def load(self, path: str) -> tuple[Any, tuple[str, ...]]:
        """The table and the rows left out, as the plugin selects them; :class:`SloFileError` on
        any problem (a message for a person, whatever went wrong)."""
        try:
            return load_gate_table(self.environment, path)
        except SloFileError:
            raise
        except Exception as exc:  # whatever it is, the UI must keep running
            raise SloFileError(f"{path}: cannot load the SLO file: {type(exc).__name__}: {exc}") from None

    def start_refusal(self, form: Any) -> str | None:
        """Why a start from the form must be refused (the SLO file or rows named there do not
        load), as the CLI refuses with exit 2; ``None`` to let it start."""
        path = str(form.get("slo_file", "") or "").strip() or str(DEFAULT_TABLE_PATH)
        options = self.environment.parsed_options
        saved = getattr(options, "slo_rows", None) if options is not None else None
        try:
            if options is not None and "slo_rows" in form:
                options.slo_rows = form.get("slo_rows", "")
            self.load(path)
            check_gate_options(lambda name: form.get(name) if name in form else None)
        except SloFileError as exc:
            return f"SLO gate: {exc}"
        finally:
            if options is not None:
                options.slo_rows = saved
        return None

    # -- the verdict --
    def current_verdict(self) -> Verdict | None:
        """The gate's latest live verdict, or a fresh one before the first (not stored)."""
        if self.gate.table is None:
            return None
        if self.gate.verdict is not None:
            return self.gate.verdict
        return self.gate.evaluate(store=False)

    def tab_rows(self) -> list[dict[str, Any]]:
        """The SLO tab: an error row if the SLO file did not load, one row per threshold, and an
        overall row (state, the table in force, the reasons and notes): a rendering of the verdict."""
        rows: list[dict[str, Any]] = []
        blank = {"observed": "", "interval": "", "limit": "", "settle": "", "samples": ""}
        if self.error:
            rows.append({"verdict": "⚠ ERROR", "row": "SLO file", "requests": self.requested_path(),
                         "expression": self.error, **blank})
        verdict = self.current_verdict()
        if verdict is None:
            rows.append({"verdict": "", "row": "OVERALL", "requests": "", "expression": "no SLO table loaded", **blank})
            return rows
        for result in verdict.thresholds:
            rows.append({"verdict": state_word(result.state), "row": result.row,
                         "requests": ", ".join(result.patterns), "expression": _expression_text(result),
                         "observed": format_observed(result) + (
                             f" (uncorrected {format_uncorrected(result)})"
                             if result.uncorrected_observed is not None else "") + (
                             f" (chargeable {format_value(result.unit, result.chargeable_observed, result.limit)})"
                             if result.generator_bound and result.chargeable_observed is not None else ""),
                         "interval": format_interval(result),
                         "limit": format_limit(result), "settle": format_settle(result),
                         "samples": result.requests})
        runner = self.environment.runner
        source = verdict.table
        if not self.gate.recorder.keys() and runner is not None and runner.state in _WAITING_STATES:
            rows.append({"verdict": "… WAITING", "row": "OVERALL", "requests": f"table: {source}",
                         "expression": "no request recorded yet", **blank})
            return rows
        why = list(verdict.reasons) + list(verdict.notes)
        if verdict.open_model is not None:
            why.append(format_open_model(verdict.open_model))
        why += [f"generator {format_health(h)}" for h in verdict.generator]
        if verdict.rows_left_out:
            why.append(f"not judged (rows this run does not exercise): {', '.join(verdict.rows_left_out)}")
        why += [f"unjudged: {m} {n} ({c} requests): no SLO row names it" for m, n, c in verdict.tally.unjudged]
        rows.append({"verdict": state_word(verdict.state), "row": "OVERALL", "requests": f"table: {source}",
                     "expression": "\n".join(why) or "every threshold holds", **blank,
                     "samples": verdict.tally.judged})
        return rows

    def extended_stats(self) -> list[dict[str, Any]]:
        return [{"key": SLO_TAB_KEY, "data": self.tab_rows()}]

    # -- files --
    def run_name(self) -> str:
        """``NAME`` of the files: the locustfile's name without ``.py``."""
        locustfile = self.environment.locustfile or "locust"
        return _safe_name(Path(str(locustfile).split(",")[0]).stem)

    def slo_csv_texts(self) -> tuple[str, str, str] | None:
        """``_slo.csv``, ``_slo_endpoints.csv`` and ``_slo.json`` as the gate would write them now."""
        verdict = self.current_verdict()
        if verdict is None:
            return None
        return to_csv(verdict), self.gate.endpoint_csv(), to_json(verdict)

    def write_run_dir(self, folder: Path) -> str:
        """Write the current statistics as a run folder of CSVs (the names ``--csv NAME`` gives) and
        return ``NAME``. The history is Locust's own file when it writes one (``--csv``), else the
        web UI's in-memory history (aggregated row, charted percentiles)."""
        name = self.run_name()
        base = folder / name
        writer = self.web_ui.stats_csv_writer
        for suffix, write in (("stats", writer.requests_csv), ("failures", writer.failures_csv),
                              ("exceptions", writer.exceptions_csv)):
            with open(f"{base}_{suffix}.csv", "w", newline="", encoding="utf-8") as handle:
                write(csv.writer(handle))
        self._write_history(Path(f"{base}_stats_history.csv"))
        verdict = self.current_verdict()
        if verdict is not None:
            self.gate.write_files(str(base), verdict)
        return name

    def _write_history(self, path: Path) -> None:
        from locust import stats as locust_stats

        writer = self.web_ui.stats_csv_writer
        if isinstance(writer, locust_stats.StatsCSVFileWriter):
            writer.stats_history_flush()
            source = Path(writer.stats_history_file_name())
            if source.is_file():
                path.write_bytes(source.read_bytes())
                return
        percentiles = list(locust_stats.PERCENTILES_TO_REPORT)
        columns = ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s",
                   *locust_stats.get_readable_percentiles(percentiles), "Total Request Count",
                   "Total Failure Count", "Total Median Response Time", "Total Average Response Time",
                   "Total Min Response Time", "Total Max Response Time", "Total Average Content Size"]
        with path.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(columns)
            for point in self.environment.stats.history:
                try:
                    stamp = int(datetime.fromisoformat(str(point["time"]).replace("Z", "+00:00")).timestamp())
                except (KeyError, ValueError):
                    continue
                values = [point.get(f"response_time_percentile_{p}", [None, "N/A"])[1] for p in percentiles]
                out.writerow([stamp, point.get("user_count", [None, 0])[1], "", "Aggregated",
                              point.get("current_rps", [None, 0])[1], point.get("current_fail_per_sec", [None, 0])[1],
                              *values, "N/A", "N/A", "N/A", point.get("total_avg_response_time", [None, "N/A"])[1],
                              "N/A", "N/A", "N/A"])

    def report_html(self) -> tuple[str, int]:
        """The HTML report of the current statistics and verdict, and the HTTP status."""
        try:
            from osiris_load.reports import ReportError
            from osiris_load.reports.html import render_report
        except ImportError as exc:
            return ("The HTML report is not available: osiris_load.reports.html.render_report cannot be imported "
                    f"({exc}). The CSVs are under Download Data.", 503)
        with tempfile.TemporaryDirectory(prefix="osiris-slo-report-") as folder:
            # the report names the run after its folder: say what it is, like reports/runs/<timestamp>
            run_dir = Path(folder) / f"web-ui-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
            run_dir.mkdir()
            self.write_run_dir(run_dir)
            try:
                return render_report(run_dir), 200
            except ReportError as exc:  # e.g. nothing has run yet: say so, not a 500
                return f"No report yet: {exc}", 409


def _text(body: str, status: int = 200, mimetype: str = "text/plain") -> Response:
    from flask import make_response

    response = make_response(body, status)
    response.mimetype = mimetype
    if mimetype.startswith("text/"):
        response.charset = "utf-8"
    return response


def attach(environment: Environment, web_ui: WebUI) -> SloWebUi:
    """Add the SLO tab, its routes and SLO file reloading to ``web_ui`` for the gate in the run's
    context; returns the adapter, also kept as the context's ``web_ui``. Call it from an ``init``
    listener, before the UI starts and before the gate adds its ``test_start`` listener: the table
    must be reloaded before the gate resets and starts its live evaluation."""
    from flask import Blueprint, request

    ui = SloWebUi(environment, web_ui)
    context_of(environment).web_ui = ui
    environment.events.test_start.add_listener(ui.reload_table)

    web_ui.template_args["extended_tabs"] = [{"title": "SLO", "key": SLO_TAB_KEY}]
    web_ui.template_args["extended_tables"] = [{"key": SLO_TAB_KEY, "structure": SLO_TABLE_STRUCTURE}]
    web_ui.template_args["extended_csv_files"] = list(CSV_FILES)

    @web_ui.app.before_request
    def refuse_a_broken_slo_file() -> Response | None:
        """A start from the form with an SLO file (or rows) that does not load is refused, with the
        reason in the form, as the CLI refuses with exit 2."""
        if request.endpoint != _SWARM_ENDPOINT or request.method != "POST":
            return None
        why = ui.start_refusal(request.form)
        if why is None:
            return None
        from flask import jsonify

        return jsonify({"success": False, "message": why, "host": environment.host})

    @web_ui.app.after_request
    def add_slo_rows(response: Response) -> Response:
        """Ride on Locust's /stats/requests poll, so the SLO tab refreshes with the statistics."""
        if request.endpoint != _STATS_ENDPOINT or response.status_code != 200 or not response.is_json:
            return response
        try:
            payload = json.loads(response.get_data())
            payload["extended_stats"] = ui.extended_stats()
            response.set_data(json.dumps(payload))
        except Exception:  # the statistics must keep flowing
            log.exception("SLO gate: could not add the SLO rows to /stats/requests")
        return response

    options = environment.parsed_options
    base_path = getattr(options, "web_base_path", None) or None
    blueprint = Blueprint("osiris_slo", __name__, url_prefix=base_path)
    name = ui.run_name

    @blueprint.route("/slo/rows")
    @web_ui.auth_required_if_enabled
    def slo_rows() -> Response:
        return _text(json.dumps(ui.tab_rows()), mimetype="application/json")

    def csv_download(index: int, suffix: str) -> Response:
        texts = ui.slo_csv_texts()
        if texts is None:
            return _text("No SLO table is loaded.", 503)
        response = _text(texts[index], mimetype="application/json" if suffix.endswith(".json") else "text/csv")
        response.headers["Content-Disposition"] = f"attachment;filename={name()}{suffix}"
        return response

    @blueprint.route("/slo/csv")
    @web_ui.auth_required_if_enabled
    def slo_csv() -> Response:
        return csv_download(0, "_slo.csv")

    @blueprint.route("/slo/endpoints.csv")
    @web_ui.auth_required_if_enabled
    def slo_endpoints_csv() -> Response:
        return csv_download(1, "_slo_endpoints.csv")

    @blueprint.route("/slo/verdict.json")
    @web_ui.auth_required_if_enabled
    def slo_json() -> Response:
        return csv_download(2, "_slo.json")

    @blueprint.route("/slo/report.html")
    @web_ui.auth_required_if_enabled
    def slo_report() -> Response:
        try:
            body, status = ui.report_html()
        except Exception as exc:  # a broken report must not take the UI down
            log.exception("SLO gate: the HTML report failed")
            return _text(f"The HTML report failed: {type(exc).__name__}: {exc}", 500)
        return _text(body, status, mimetype="text/html" if status == 200 else "text/plain")

    web_ui.app.register_blueprint(blueprint)
    return ui
