"""``report.html``: one self-contained page for people, verdict first.

The page must open from a CI artifact or an e-mail attachment with no network, so it holds its
CSS inline and its charts as inline SVG (``osiris_load.core.report.charts``), with no script at all. Order of the
page follows what a reader asks: did it pass (overall verdict, then every threshold against its
limit), then why (per scenario: users, throughput, and per endpoint the latency over time with
its SLO limits drawn, the exact percentiles and the failures).

``render_html`` is pure (a ``Run`` in, a string out); ``render_report`` is the adapter that loads
a run folder first and is the entry point the web UI calls.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from osiris_load.core.report.charts import Band, Line, Rule, format_seconds, line_chart
from osiris_load.core.report.model import (
    FAIL,
    INCONCLUSIVE,
    NO_DATA,
    NOT_JUDGED,
    PASS,
    PERCENTILES,
    Endpoint,
    Run,
    Scenario,
    Series,
    format_ms,
    verdict_word,
)
from osiris_load.core.slo.formatting import (
    format_chargeable,
    format_health,
    format_interval,
    format_limit,
    format_observed,
    format_settle,
    format_uncorrected,
    run_headline,
)
from osiris_load.core.slo.generator import CPU_SATURATED
from osiris_load.core.slo.k6_metrics import LLM_METHOD, LLM_TRENDS
from osiris_load.core.slo.verdict import ProcessHealth
from osiris_load.reports.load import load_run

__all__ = ["render_html", "render_report"]

COLORS = {"p50": "#1f77b4", "p95": "#ff7f0e", "p99": "#9467bd", "rps": "#1f77b4", "errors": "#d62728",
          "users": "#2ca02c", "cpu": "#8c564b", "lag": "#e377c2"}
CHART_WIDTH = 520  # two charts side by side in the 1100 px page
RULE_COLORS = {PASS: "#2ca02c", FAIL: "#d62728", INCONCLUSIVE: "#e0a800", NO_DATA: "#7f7f7f"}
WORDS = {PASS: "PASS", FAIL: "FAIL", INCONCLUSIVE: "INCONCLUSIVE", NO_DATA: "NO DATA", NOT_JUDGED: "NOT JUDGED"}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:22px;margin:8px 0 12px}h2{font-size:19px;margin:36px 0 8px;border-bottom:2px solid #ddd;padding-bottom:4px}
h3{font-size:16px;margin:24px 0 6px}h4{font-size:14px;margin:14px 0 4px}
.verdict{display:flex;align-items:center;gap:18px;padding:16px 20px;border-radius:8px;color:#fff;margin:8px 0 16px}
.verdict strong{font-size:34px;letter-spacing:1px}.verdict span{font-size:15px}
.verdict p.headline{margin:0}.verdict p.headline b{font-size:18px}
.v-pass{background:#2e7d32}.v-fail{background:#c62828}.v-inconclusive{background:#b8860b}.v-not-judged,.v-no-data{background:#6d6d6d}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;
vertical-align:middle}
table{border-collapse:collapse;margin:6px 0 12px;background:#fff;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f3}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.r-fail td{background:#fdecea}tr.r-inconclusive td{background:#fff8e1}tr.r-no-data td{color:#777}
.notes{color:#555;margin:4px 0 10px;padding-left:18px}.muted{color:#666}
.facts{display:flex;flex-wrap:wrap;gap:6px 22px;margin:6px 0 10px}.facts b{font-variant-numeric:tabular-nums}
svg.chart{background:#fff;border:1px solid #ddd;border-radius:4px;margin:4px 0;max-width:100%;height:auto}
svg .grid{stroke:#eee}svg .axis{stroke:#888}svg .tick{font-size:11px;fill:#555}
svg .legend{font-size:12px;fill:#333}svg .chart-title{font-size:13px;font-weight:600;fill:#222}
svg .limit-label{font-size:11px;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:8px}
nav a{margin-right:14px}pre{white-space:pre-wrap;font-size:12px;background:#fff;border:1px solid #ddd;padding:6px}
"""


def render_report(run_dir: Path) -> str:
    """The HTML report of a run folder (raises ``ReportError`` for bad input)."""
    return render_html(load_run(run_dir))


def _badge(verdict: str) -> str:
    css = verdict.replace(" ", "-")
    return f'<span class="badge v-{css}" data-verdict="{escape(verdict)}">{WORDS.get(verdict, verdict.upper())}</span>'


def _num(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "-" if value is None else f"{value:,.{digits}f}{suffix}"


def render_html(run: Run) -> str:
    """The whole page for a loaded run."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Load test report {escape(run.name)}: {WORDS[run.verdict]}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<h1>Load test report <span class=\"muted\">{escape(run.name)}</span></h1>",
        _overall(run),
        _nav(run),
        _thresholds(run),
    ]
    parts.extend(_scenario(s) for s in run.scenarios)
    parts.append('<p class="muted">Generated by osiris-load (<code>python -m reports build</code>) from the CSV '
                 "files of this folder. Latency over time is Locust's (rounded, over a sliding window); the "
                 "percentile tables and the verdict use the SLO gate's exact values.</p>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _overall(run: Run) -> str:
    words = [verdict_word(t.state) for s in run.scenarios if s.gate for t in s.gate.thresholds]
    tally = {v: words.count(v) for v in (PASS, FAIL, INCONCLUSIVE, NO_DATA)}
    scenarios = {v: sum(1 for s in run.scenarios if s.verdict == v) for v in (PASS, FAIL, NOT_JUDGED)}
    text = (f"{len(run.scenarios)} scenario{'s' if len(run.scenarios) != 1 else ''}: {scenarios[PASS]} passed, "
            f"{scenarios[FAIL]} failed" + (f", {scenarios[NOT_JUDGED]} not judged" if scenarios[NOT_JUDGED] else "")
            + f" &middot; thresholds: {tally[PASS]} passed, {tally[FAIL]} failed, "
            + (f"{tally[INCONCLUSIVE]} inconclusive, " if tally[INCONCLUSIVE] else "")
            + f"{tally[NO_DATA]} no data")
    starts = [s.started_at for s in run.scenarios if s.started_at]
    when = f" &middot; started {min(starts):%Y-%m-%d %H:%M:%S} UTC" if starts else ""
    css = run.verdict.replace(" ", "-")
    headline = run_headline(run.verdicts)  # the run's one headline (the console's last line): word big, detail beside
    return (f'<div class="verdict v-{css}" id="verdict" data-verdict="{escape(run.verdict)}" '
            f'data-headline="{escape(headline)}"><p class="headline"><strong>{escape(headline.word)}</strong>'
            + (f" <b>({escape(headline.detail)})</b>" if headline.detail else "")
            + f"</p><span>{text}{when}</span></div>")


def _nav(run: Run) -> str:
    links = " ".join(f'<a href="#scenario-{escape(s.name)}">{escape(s.name)}</a> {_badge(s.verdict)}'
                     for s in run.scenarios)
    return f"<nav>{links}</nav>"


def _thresholds(run: Run) -> str:
    """Every threshold of every scenario against its limit: the gate's verdict, in full."""
    rows = []
    reasons = []
    notes = []
    for s in run.scenarios:
        if s.gate is None:
            rows.append(f'<tr class="r-no-data"><td>{escape(s.name)}</td><td colspan="6">no SLO verdict '
                        f"({escape(s.name)}_slo.json is missing)</td><td>{_badge(NOT_JUDGED)}</td></tr>")
            continue
        for t in s.gate.thresholds:
            word = verdict_word(t.state)
            settle = format_settle(t)
            rows.append(f'<tr class="r-{word.replace(" ", "-")}" data-scenario="{escape(s.name)}" '
                        f'data-row="{escape(t.row)}">'
                        f"<td>{escape(s.name)}</td><td>{escape(t.row)}</td><td><code>{escape(t.expression)}</code></td>"
                        f'<td class="num">{escape(format_observed(t))}'
                        + (f'<br><span class="muted">uncorrected {escape(format_uncorrected(t))}</span>'
                           if t.uncorrected_observed is not None else "")
                        + (f'<br><span class="muted">chargeable {escape(format_chargeable(t))}</span>'
                           if t.generator_bound and t.chargeable_observed is not None else "")
                        + f'</td><td class="num">{escape(format_interval(t))}</td>'
                        f'<td class="num">{escape(format_limit(t))}</td>'
                        f'<td class="num">{t.requests}</td><td>{_badge(word)}'
                        + (f'<br><span class="muted">{escape(settle)}</span>' if settle else "")
                        + "</td></tr>")
        reasons.extend(f"{s.name}: {r}" for r in s.gate.reasons)
        verdict = s.gate.verdict
        if s.gate.open_model_text:
            notes.append(f"{s.name}: {s.gate.open_model_text}")
        notes.extend(f"{s.name}: {n}" for n in verdict.notes)
        notes.extend(f"{s.name}: generator {format_health(h)}" for h in verdict.generator)
        if verdict.rows_left_out:
            notes.append(f"{s.name}: not judged (rows this run does not exercise): {', '.join(verdict.rows_left_out)}")
        notes.extend(f"{s.name}: unjudged: {m} {n} ({c} requests): no SLO row names it"
                     for m, n, c in verdict.tally.unjudged)
    why = "".join(f"<li>{escape(r)}</li>" for r in reasons)
    noted = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return ('<h2 id="thresholds">SLO thresholds</h2>'
            '<table class="thresholds"><thead><tr><th>scenario</th><th>row</th><th>threshold</th><th>observed</th>'
            "<th>interval</th><th>limit</th><th>samples</th><th>verdict</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>"
            + (f'<p><b>Why it failed:</b></p><ul class="notes">{why}</ul>' if why else "")
            + (f'<p><b>Notes:</b></p><ul class="notes">{noted}</ul>' if noted else ""))


def _scenario(s: Scenario) -> str:
    total = s.total
    facts = [("requests", f"{s.request_count:,}"),
             ("failures", f"{total.failures:,} ({total.fail_rate:.2%})" if total else "-"),
             ("throughput", f"{total.rps:.2f} req/s" if total else "-"),
             ("peak users", str(s.max_users)),
             ("duration", format_seconds(s.duration_s) if s.duration_s is not None else "-"),
             ("started", f"{s.started_at:%Y-%m-%d %H:%M:%S} UTC" if s.started_at else "-")]
    facts += [("output tokens/s", format_observed(t))
              for t in (s.gate.thresholds if s.gate else ()) if t.unit == "tokens/s" and t.kind == "throughput"
              and t.row.startswith("llm_output_tokens")][:1]
    out = [f'<section class="scenario" id="scenario-{escape(s.name)}" data-scenario="{escape(s.name)}">',
           f"<h2>{escape(s.name)} {_badge(s.verdict)}</h2>",
           '<div class="facts">' + "".join(f"<span>{k}: <b>{escape(v)}</b></span>" for k, v in facts) + "</div>"]
    if s.locust_html:
        out.append(f'<p><a href="{escape(s.locust_html)}">Locust\'s own report</a></p>')
    if s.notes:
        out.append('<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in s.notes) + "</ul>")
    if s.history is not None and len(s.history):
        out.append('<div class="charts">')
        out.append(_users_chart(s.name, s.history))
        out.append(_throughput_chart(s.name, "all requests", s.history))
        out.extend(_generator_chart(s.name, h) for h in (s.gate.verdict.generator if s.gate else ()))
        out.extend(_llm_chunks_chart(s, path) for path in _llm_paths(s))
        out.append("</div>")
    out.append("<h3>Per endpoint (exact percentiles)</h3>" + _endpoint_table(s))
    for endpoint in s.endpoints:
        out.append(_endpoint(s, endpoint))
    out.append("<h3>Failures</h3>" + _failures(s))
    if s.exceptions:
        out.append("<h3>Exceptions in user code</h3>")
        for e in s.exceptions:
            out.append(f"<details><summary>{e.count} &times; {escape(e.message)}</summary>"
                       f"<pre>{escape(e.traceback)}</pre></details>")
    out.append("</section>")
    return "\n".join(out)


def _endpoint_table(s: Scenario) -> str:
    head = ("<tr><th>endpoint</th><th>requests</th><th>failures</th><th>req/s</th><th>avg</th><th>min</th>"
            "<th>max</th>" + "".join(f"<th>{p}</th>" for p in PERCENTILES) + "</tr>")
    rows = []
    for e in [*s.endpoints, *([s.total] if s.total is not None and len(s.endpoints) > 1 else [])]:
        label = "all requests" if e is s.total else e.key
        mark = "" if e.exact else ' <span class="muted" title="Locust\'s rounded values">(Locust)</span>'
        cells = [e.avg_ms, e.min_ms, e.max_ms, *(e.percentiles.get(p) for p in PERCENTILES)]
        rows.append(f'<tr data-endpoint="{escape(e.key)}"><td>{escape(label)}{mark}</td>'
                    f'<td class="num">{e.count:,}</td>'
                    f'<td class="num">{e.failures:,} ({e.fail_rate:.2%})</td><td class="num">{e.rps:.2f}</td>'
                    + "".join(f'<td class="num">{escape(format_ms(v))}</td>' for v in cells) + "</tr>")
    if not rows:
        return '<p class="muted">No request was made.</p>'
    return f'<table class="endpoints"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _endpoint(s: Scenario, e: Endpoint) -> str:
    thresholds = s.thresholds_for(e)
    out = [f'<div class="endpoint" data-endpoint="{escape(e.key)}"><h3>{escape(e.key)}</h3>']
    if thresholds:
        items = ", ".join(f"<code>{escape(t.row)}: {escape(t.expression)}</code> {_badge(verdict_word(t.state))}"
                          for t in thresholds)
        out.append(f"<p>SLO: {items}</p>")
    series = s.endpoint_history.get(e.key)
    if series is None or not len(series):
        out.append('<p class="muted">No history for this endpoint (charts need Locust\'s '
                   "--csv-full-history).</p></div>")
        return "\n".join(out)
    rules = [Rule(label=f"{t.row}: {t.expression}", y=t.limit, color=RULE_COLORS.get(verdict_word(t.state), "#7f7f7f"))
             for t in thresholds if t.is_latency and t.limit is not None]
    bands = [Band(label=f"{t.row}: {t.expression} interval", low=t.interval[0], high=t.interval[1],
                  estimate=t.observed, color=RULE_COLORS.get(verdict_word(t.state), "#7f7f7f"))
             for t in thresholds if t.is_latency and t.interval is not None]
    window = "last ~10 s" if series.window == "current" else "since start"
    latency = line_chart(
        # p99 first and widest, p50 last and thinnest: equal percentiles (few samples) stay visible
        [Line(p, list(zip(series.t, getattr(series, p), strict=True)), COLORS[p], width=w)
         for p, w in (("p99", 4.0), ("p95", 2.6), ("p50", 1.6))],
        title=f"{e.key}: response time (p50/p95/p99, {window})", unit="ms", rules=rules, bands=bands,
        attrs={"chart": "latency", "scenario": s.name, "endpoint": e.key}, width=CHART_WIDTH)
    out.append('<div class="charts">')
    out.append(latency)
    out.append(_throughput_chart(s.name, e.key, series))
    out.append("</div></div>")
    return "\n".join(out)


def _users_chart(scenario: str, series: Series) -> str:
    return line_chart([Line("users", list(zip(series.t, map(float, series.users), strict=True)), COLORS["users"],
                            step=True)],
                      title=f"{scenario}: users", unit="users", attrs={"chart": "users", "scenario": scenario},
                      width=CHART_WIDTH)


def _generator_chart(scenario: str, health: ProcessHealth) -> str:
    """The load generator's own health over the run (issue 17): one process's CPU (% of one core) and
    its event loop's longest stretch per second (ms); both high: latencies include the client's delay."""
    cpu = [(t, c) for t, c, _ in health.timeline]
    lag = [(t, g) for t, _, g in health.timeline]
    return line_chart([Line("CPU %", cpu, COLORS["cpu"]), Line("loop lag ms (longest stretch)", lag, COLORS["lag"])],
                      title=f"generator {health.process}: CPU and loop lag", unit="% / ms",
                      rules=[Rule(f"{CPU_SATURATED:g} % CPU: saturated", CPU_SATURATED, COLORS["errors"])],
                      attrs={"chart": "generator", "scenario": scenario, "process": health.process},
                      width=CHART_WIDTH)


def _throughput_chart(scenario: str, label: str, series: Series) -> str:
    return line_chart([Line("requests/s", list(zip(series.t, series.rps, strict=True)), COLORS["rps"]),
                       Line("errors/s", list(zip(series.t, series.errors_per_s, strict=True)), COLORS["errors"])],
                      title=f"{label}: requests and errors per second", unit="per second",
                      attrs={"chart": "throughput", "scenario": scenario, "endpoint": label}, width=CHART_WIDTH)


def _llm_paths(s: Scenario) -> list[str]:
    """The paths (and user classes) the LLM scenario streamed from: its ``LLM ITL <path> @<user class>``
    entries with a history (the gate's ``_llm_history.csv``)."""
    prefix = f"{LLM_METHOD} {LLM_TRENDS['llm_itl']} "
    return [key[len(prefix):] for key in s.endpoint_history if key.startswith(prefix)]


def _llm_chunks_chart(s: Scenario, path: str) -> str:
    """Streamed chunks per second over the run: first chunks (TTFT entries) plus gaps (ITL entries),
    one token each where the server sends one token per chunk (the sidecar, vLLM); the exact token
    rate over the whole run is ``llm_output_tokens``' ``rate``. TTFT and ITL over time are their
    entries' own latency charts below."""
    ttft, itl = (s.endpoint_history.get(f"{LLM_METHOD} {LLM_TRENDS[k]} {path}") for k in ("llm_ttft", "llm_itl"))
    assert itl is not None
    first = dict(zip(ttft.t, ttft.rps, strict=True)) if ttft is not None else {}
    points = [(t, None if r is None else r + (first.get(t) or 0.0)) for t, r in zip(itl.t, itl.rps, strict=True)]
    return line_chart([Line("chunks/s (~ tokens/s)", points, COLORS["rps"])],
                      title=f"{path}: streamed chunks per second", unit="per second",
                      attrs={"chart": "llm-chunks", "scenario": s.name, "endpoint": path}, width=CHART_WIDTH)


def _failures(s: Scenario) -> str:
    if not s.failures:
        return '<p class="muted">No failures.</p>'
    rows = "".join(f'<tr><td>{escape(f.method)} {escape(f.name)}</td><td class="num">{f.occurrences:,}</td>'
                   f'<td title="{escape(f.error)}">{escape(f.message)}</td></tr>' for f in s.failures)
    return ('<table class="failures"><thead><tr><th>endpoint</th><th>occurrences</th><th>error</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")
