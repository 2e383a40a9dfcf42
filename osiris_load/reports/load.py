"""Read a run folder (Locust's CSVs and the SLO gate's) into ``osiris_load.core.report.model`` data.

This is the only module that touches the files, and pandas is used only here. Every problem with
the input becomes a :class:`~osiris_load.core.report.model.ReportError` whose message names the file and says
what is wrong, because the CLI prints it as one line and the web UI shows it to a person: a
pandas traceback about a missing column helps nobody.

Which scenarios a folder holds is read from the files themselves: every ``PREFIX_stats.csv``
(Locust's ``--csv PREFIX``) is one scenario, so runs made by ``make run``, by hand with
``locust --csv DIR/NAME`` or by the web UI all load the same way.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from osiris_load.core.report.model import (
    PERCENTILES,
    Endpoint,
    ExceptionRow,
    Failure,
    Gate,
    ReportError,
    Run,
    Scenario,
    Series,
)
from osiris_load.core.scenarios import ALL_SCENARIOS
from osiris_load.core.slo.k6_metrics import is_request
from osiris_load.core.slo.verdict import VerdictFormatError, from_json

__all__ = ["SUITE_ORDER", "find_scenarios", "load_run", "load_scenario"]

# The catalogue's order (``osiris_load.core.scenarios``) reads best; other prefixes follow alphabetically.
SUITE_ORDER: tuple[str, ...] = ALL_SCENARIOS

STATS_COLUMNS = ("Type", "Name", "Request Count", "Failure Count", "Average Response Time", "Min Response Time",
                 "Max Response Time", "Requests/s", "Failures/s", "50%", "90%", "95%", "99%", "99.9%")
HISTORY_COLUMNS = ("Timestamp", "User Count", "Type", "Name", "50%", "95%", "99%", "Total Request Count",
                   "Total Failure Count")
FAILURE_COLUMNS = ("Method", "Name", "Error", "Occurrences")
EXCEPTION_COLUMNS = ("Count", "Message", "Traceback", "Nodes")
ENDPOINT_COLUMNS = ("method", "name", "count", "failures", "avg_ms", "min_ms", "max_ms",
                    *(f"{p}_ms" for p in PERCENTILES))
AGGREGATED = "Aggregated"
_LOCUST_PERCENTILE_COLUMNS = {"p50": "50%", "p90": "90%", "p95": "95%", "p99": "99%", "p99.9": "99.9%"}


# -- CSV reading --------------------------------------------------------------------------------

def _read_csv(path: Path, columns: Sequence[str], what: str) -> pd.DataFrame:
    """All cells as strings (request names such as ``N/A`` must stay names); numbers are
    converted per column by :func:`_numbers`. Raises ReportError for anything unreadable."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise ReportError(f"{path}: empty file, expected {what} with columns {', '.join(columns)}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportError(f"{path}: not a readable CSV ({first})") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns[:8])) + (" ..." if len(frame.columns) > 8 else "")
        listed = ", ".join(repr(m) for m in missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise ReportError(f"{path}: not {what}: missing column{'s' if len(missing) > 1 else ''} {listed} "
                          f"(found: {found})")
    return frame


def _numbers(frame: pd.DataFrame, column: str, path: Path, *, required: bool = False) -> pd.Series:
    """A column as floats; empty and ``N/A`` cells are NaN. With ``required``, a cell that is not
    a number at all is an error (a count of ``abc`` means the file is not what it claims)."""
    raw = frame[column].astype(str).str.strip()
    values = pd.to_numeric(raw.where(~raw.isin(["", "N/A", "nan", "NaN"])), errors="coerce")
    if required:
        bad = values.isna()
        if bad.any():
            index = int(bad.to_numpy().nonzero()[0][0])
            raise ReportError(f"{path}: column {column!r} line {index + 2}: expected a number, "
                              f"got {frame[column].iloc[index]!r}")
    return values.astype(float)


def _opt(value: float) -> float | None:
    """NaN (an empty or N/A cell) becomes None, the model's "no value"."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


# -- scenario discovery -------------------------------------------------------------------------

def find_scenarios(run_dir: Path) -> list[str]:
    """Scenario names (CSV prefixes) in ``run_dir``: one per ``NAME_stats.csv``."""
    names = [p.name[: -len("_stats.csv")] for p in run_dir.glob("*_stats.csv") if p.is_file()]
    rank = {name: i for i, name in enumerate(SUITE_ORDER)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def load_run(run_dir: Path | str) -> Run:
    """Load every scenario of a run folder. Raises ReportError for a missing folder, a folder
    without Locust CSVs, malformed files, or a run that made no request at all (nothing to
    report, and a report of nothing would look like a pass)."""
    path = Path(run_dir)
    if not path.exists():
        raise ReportError(f"{path}: no such run folder")
    if not path.is_dir():
        raise ReportError(f"{path}: not a folder (expected a run folder with Locust's *_stats.csv files)")
    names = find_scenarios(path)
    if not names:
        raise ReportError(f"{path}: no Locust CSVs here (expected NAME_stats.csv from locust --csv DIR/NAME)")
    scenarios = tuple(load_scenario(path, name) for name in names)
    if not any(s.request_count for s in scenarios):
        raise ReportError(f"{path}: empty run: no request was made in {', '.join(names)} (0 requests)")
    return Run(path=path, scenarios=scenarios)


def load_scenario(run_dir: Path, name: str) -> Scenario:
    """One scenario from its files; optional files that are absent become notes, not errors."""
    prefix = run_dir / name
    notes: list[str] = []
    stats_path = Path(f"{prefix}_stats.csv")
    stats = _read_csv(stats_path, STATS_COLUMNS, "a Locust stats CSV (locust --csv)")
    exact_path = Path(f"{prefix}_slo_endpoints.csv")
    exact = None
    if exact_path.is_file():
        exact = _read_csv(exact_path, ENDPOINT_COLUMNS, "the SLO gate's endpoint CSV")
    else:
        notes.append(f"no {exact_path.name}: percentiles are Locust's rounded ones, not the gate's exact ones")
    endpoints, total = _endpoints(stats, stats_path, exact, exact_path)

    slo_path = Path(f"{prefix}_slo.json")
    gate = None
    if slo_path.is_file():
        gate = _gate(slo_path)
    else:
        notes.append(f"no {slo_path.name}: the SLO gate did not judge this scenario")

    history, endpoint_history, started_at, duration = None, {}, None, None
    history_path = Path(f"{prefix}_stats_history.csv")
    if history_path.is_file():
        frame = _read_optional(history_path, HISTORY_COLUMNS, "a Locust stats history CSV")
        if frame is not None and len(frame):
            history, endpoint_history, started_at, duration = _history(frame, history_path)
            if not endpoint_history and endpoints:
                notes.append("no per-endpoint history: run Locust with --csv-full-history for per-endpoint charts")
    llm_path = Path(f"{prefix}_llm_history.csv")
    llm_frame = _read_optional(llm_path, HISTORY_COLUMNS, "the SLO gate's LLM history CSV")
    if llm_frame is not None and len(llm_frame):  # the gate's: LLM measurements since the start
        t0 = started_at.timestamp() if started_at is not None else None
        endpoint_history = {**endpoint_history, **_history(llm_frame, llm_path, t0=t0, window="cumulative")[1]}
    if history is None:
        notes.append("no history rows: charts over time are not available")

    failures: tuple[Failure, ...] = ()
    failures_path = Path(f"{prefix}_failures.csv")
    frame = _read_optional(failures_path, FAILURE_COLUMNS, "a Locust failures CSV")
    if frame is not None:
        counts = _numbers(frame, "Occurrences", failures_path, required=True)
        failures = tuple(Failure(method=str(m), name=str(n), error=str(e), occurrences=int(c))
                         for m, n, e, c in zip(frame["Method"], frame["Name"], frame["Error"], counts, strict=True))
    exceptions: tuple[ExceptionRow, ...] = ()
    exceptions_path = Path(f"{prefix}_exceptions.csv")
    frame = _read_optional(exceptions_path, EXCEPTION_COLUMNS, "a Locust exceptions CSV")
    if frame is not None:
        counts = _numbers(frame, "Count", exceptions_path, required=True)
        exceptions = tuple(ExceptionRow(count=int(c), message=str(m), traceback=str(t), nodes=str(n))
                           for c, m, t, n in zip(counts, frame["Message"], frame["Traceback"], frame["Nodes"],
                                                 strict=True))
    if total is not None and total.count == 0:
        notes.append("0 requests: nothing ran in this scenario")
    locust_html = f"{name}_locust.html" if Path(f"{prefix}_locust.html").is_file() else None
    return Scenario(name=name, endpoints=endpoints, total=total, gate=gate, history=history,
                    endpoint_history=endpoint_history, failures=failures, exceptions=exceptions,
                    started_at=started_at, duration_s=duration, locust_html=locust_html, notes=tuple(notes))


def _read_optional(path: Path, columns: Sequence[str], what: str) -> pd.DataFrame | None:
    """An optional file: absent or zero bytes (Locust killed before it wrote a header) is None;
    present with the wrong columns is still an error."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    return _read_csv(path, columns, what)


# -- statistics ---------------------------------------------------------------------------------

def _endpoints(stats: pd.DataFrame, stats_path: Path, exact: pd.DataFrame | None,
               exact_path: Path) -> tuple[tuple[Endpoint, ...], Endpoint | None]:
    """Merge Locust's per-endpoint rows with the gate's exact ones (exact wins for counts and
    latencies; the rates per second exist only in Locust's)."""
    num = {c: _numbers(stats, c, stats_path, required=c in ("Request Count", "Failure Count"))
           for c in STATS_COLUMNS[2:]}
    locust: dict[tuple[str, str], dict[str, float | None]] = {}
    total_row: dict[str, float | None] | None = None
    for i, (method, name) in enumerate(zip(stats["Type"], stats["Name"], strict=True)):
        row = {c: _opt(num[c].iloc[i]) for c in num}
        if name == AGGREGATED and not method:
            total_row = row
        else:
            locust[(str(method), str(name))] = row
    gate: dict[tuple[str, str], dict[str, float | None]] = {}
    if exact is not None:
        enum = {c: _numbers(exact, c, exact_path, required=c in ("count", "failures")) for c in ENDPOINT_COLUMNS[2:]}
        for i, (method, name) in enumerate(zip(exact["method"], exact["name"], strict=True)):
            gate[(str(method), str(name))] = {c: _opt(enum[c].iloc[i]) for c in enum}

    endpoints = []
    for key in sorted(set(locust) | set(gate), key=lambda k: (k[1], k[0])):
        loc = locust.get(key, {})
        ex = gate.get(key)
        rps = loc.get("Requests/s") or 0.0
        fps = loc.get("Failures/s") or 0.0
        if ex is not None:
            count, failures = int(ex["count"] or 0), int(ex["failures"] or 0)
            endpoint = Endpoint(method=key[0], name=key[1], count=count, failures=failures, rps=rps,
                                failures_per_s=fps, avg_ms=ex["avg_ms"], min_ms=ex["min_ms"], max_ms=ex["max_ms"],
                                percentiles={p: ex[f"{p}_ms"] for p in PERCENTILES}, exact=True)
        else:
            count, failures = int(loc.get("Request Count") or 0), int(loc.get("Failure Count") or 0)
            has = count > 0
            endpoint = Endpoint(method=key[0], name=key[1], count=count, failures=failures, rps=rps,
                                failures_per_s=fps, avg_ms=loc.get("Average Response Time") if has else None,
                                min_ms=loc.get("Min Response Time") if has else None,
                                max_ms=loc.get("Max Response Time") if has else None,
                                percentiles={p: (loc.get(c) if has else None)
                                             for p, c in _LOCUST_PERCENTILE_COLUMNS.items()}, exact=False)
        endpoints.append(endpoint)
    return tuple(endpoints), _total(endpoints, total_row)


def _total(endpoints: list[Endpoint], row: dict[str, float | None] | None) -> Endpoint:
    """The whole scenario: counts, mean, min and max from the endpoints (exact where they are),
    percentiles and rates per second from Locust's Aggregated row (percentiles of a union cannot
    be computed from per-endpoint percentiles)."""
    endpoints = [e for e in endpoints if is_request(e.method)]  # an LLM measurement is no request
    count = sum(e.count for e in endpoints)
    failures = sum(e.failures for e in endpoints)
    weighted = [(e.avg_ms, e.count) for e in endpoints if e.avg_ms is not None and e.count]
    avg = sum(a * c for a, c in weighted) / sum(c for _, c in weighted) if weighted else None
    mins = [e.min_ms for e in endpoints if e.min_ms is not None and e.count]
    maxs = [e.max_ms for e in endpoints if e.max_ms is not None and e.count]
    row = row or {}
    rps = row.get("Requests/s")
    fps = row.get("Failures/s")
    return Endpoint(method="", name=AGGREGATED, count=count, failures=failures,
                    rps=rps if rps is not None else sum(e.rps for e in endpoints),
                    failures_per_s=fps if fps is not None else sum(e.failures_per_s for e in endpoints),
                    avg_ms=avg, min_ms=min(mins, default=None), max_ms=max(maxs, default=None),
                    percentiles={p: (row.get(c) if count else None) for p, c in _LOCUST_PERCENTILE_COLUMNS.items()},
                    exact=False)


# -- the gate's verdict -------------------------------------------------------------------------

def _gate(path: Path) -> Gate:
    """``_slo.json``: the gate's verdict object, read back exactly as written."""
    try:
        return Gate(from_json(path.read_text(encoding="utf-8"), str(path)))
    except VerdictFormatError as exc:
        raise ReportError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read the SLO verdict: {exc}") from None


# -- history ------------------------------------------------------------------------------------

def _history(frame: pd.DataFrame, path: Path, *, t0: float | None = None, window: str | None = None
             ) -> tuple[Series | None, dict[str, Series], dt.datetime | None, float | None]:
    """Split ``_stats_history.csv`` into the Aggregated series and one series per endpoint, all
    on the same time grid (every tick of the file) so that charts of one scenario line up. The
    gate's ``_llm_history.csv`` (same columns) reads the same way, its times from Locust's ``t0``
    and its percentiles since the start (``window="cumulative"``)."""
    ts = _numbers(frame, "Timestamp", path, required=True)
    users = _numbers(frame, "User Count", path).fillna(0)
    counts = _numbers(frame, "Total Request Count", path)
    fails = _numbers(frame, "Total Failure Count", path)
    nan = pd.Series(float("nan"), index=frame.index)
    # Locust's smoothed rates: only used where the cumulative counters are missing (the web UI's
    # in-memory history has no counters, it writes N/A for them)
    locust_rps = _numbers(frame, "Requests/s", path) if "Requests/s" in frame.columns else nan
    locust_fps = _numbers(frame, "Failures/s", path) if "Failures/s" in frame.columns else nan
    pcts = {p: _numbers(frame, c, path) for p, c in (("p50", "50%"), ("p95", "95%"), ("p99", "99%"))}
    top = _numbers(frame, "100%", path) if "100%" in frame.columns else None
    names = list(zip(frame["Type"], frame["Name"], strict=True))
    data = pd.DataFrame({"ts": ts, "users": users, "count": counts, "fails": fails, "lrps": locust_rps,
                         "lfps": locust_fps, **pcts,
                         "top": top if top is not None else float("nan"),
                         "key": [f"{m} {n}".strip() for m, n in names],
                         "agg": [(n == AGGREGATED and not m) for m, n in names]})
    # Locust stamps rows with int(time): two writes in one second share a stamp; keep the last.
    data = data.drop_duplicates(subset=["ts", "key", "agg"], keep="last")
    grid = sorted(set(data["ts"]))
    first = grid[0]
    t0 = first if t0 is None else t0
    steps = [b - a for a, b in zip(grid, grid[1:], strict=False)]
    first_step = float(pd.Series(steps).median()) if steps else 1.0
    if window is None:
        window = "current" if bool((~data["agg"]).any()) else "cumulative"
    user_by_ts = data[data["agg"]].set_index("ts")["users"] if data["agg"].any() else data.groupby("ts")["users"].max()
    user_by_ts = user_by_ts.reindex(grid).ffill().fillna(0)

    def series(part: pd.DataFrame) -> Series:
        part = part.set_index("ts").reindex(grid)
        rps: list[float | None] = []
        eps: list[float | None] = []
        if part["count"].notna().any():
            count = part["count"].ffill().fillna(0)
            fail = part["fails"].ffill().fillna(0)
            prev_t, prev_c, prev_f = first - first_step, 0.0, 0.0
            for t, c, f in zip(grid, count, fail, strict=True):
                span = t - prev_t
                dc = c - prev_c if c >= prev_c else c  # counters went back: stats were reset
                df = f - prev_f if f >= prev_f else f
                rps.append(dc / span if span > 0 else None)
                eps.append(df / span if span > 0 else None)
                prev_t, prev_c, prev_f = t, c, f
        else:
            rps = [_opt(v) for v in part["lrps"]]
            eps = [_opt(v) for v in part["lfps"]]
        # With --csv-full-history Locust reports "current" percentiles over ~10 s and writes 0 for
        # all of them while it has no window yet; the 100% column tells that apart from real 0 ms.
        no_window = (part["top"] == 0) if window == "current" else pd.Series(False, index=part.index)

        def column(name: str) -> tuple[float | None, ...]:
            return tuple(None if blank else _opt(v) for v, blank in zip(part[name], no_window, strict=True))

        return Series(t=tuple(float(t - t0) for t in grid), users=tuple(int(u) for u in user_by_ts),
                      rps=tuple(rps), errors_per_s=tuple(eps), p50=column("p50"), p95=column("p95"),
                      p99=column("p99"), window=window)

    aggregated = series(data[data["agg"]]) if data["agg"].any() else None
    per_endpoint = {str(key): series(part) for key, part in data[~data["agg"]].groupby("key", sort=True)}
    started = dt.datetime.fromtimestamp(t0, dt.UTC) if t0 > 0 else None
    return aggregated, per_endpoint, started, float(grid[-1] - t0)
