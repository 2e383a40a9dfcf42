"""``junit.xml``: the SLO verdict in the format every CI server already shows.

One ``<testsuite>`` per scenario, one ``<testcase>`` per threshold (``classname`` is
``scenario.row`` so CI groups thresholds by SLO row, ``name`` is the expression). A failed
threshold carries ``<failure message="observed X, limit Y">``; a threshold whose requests never ran
is ``<skipped>``, which is what "no data" means to the gate unless the row is required. An
INCONCLUSIVE threshold (its interval straddles the limit) is ``<skipped>`` with the reason and what
would settle it, or a ``<failure>`` when the exit policy counts it (``--slo-inconclusive fail``, or
``estimate`` with a failing point estimate).

Two cases have no threshold to hang on, and CI must still see them: a gate that failed for a
reason of its own (no request matched any row, a required row without data, an abort) gets one
extra failed testcase named "SLO verdict"; a scenario without ``_slo.json`` gets an ``<error>``
testcase, because nothing judged it. The counts in the attributes are computed from the testcases
written, so they cannot disagree with them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from osiris_load.core.report.model import Run, Scenario
from osiris_load.core.slo import verdict as slo_verdict
from osiris_load.core.slo.formatting import (
    format_health,
    format_interval,
    format_limit,
    format_observed,
    format_settle,
    run_headline,
)
from osiris_load.reports.load import load_run

__all__ = ["render_junit", "render_junit_file"]


def render_junit_file(run_dir: Path) -> str:
    """The JUnit XML of a run folder (raises ``ReportError`` for bad input)."""
    return render_junit(load_run(run_dir))


def render_junit(run: Run) -> str:
    """JUnit XML (the common Jenkins/GitLab/GitHub dialect) for a loaded run."""
    root = ET.Element("testsuites", name=f"osiris-load SLO gate: {run.name}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    time_total = 0.0
    headline = run_headline(run.verdicts)
    for scenario in run.scenarios:
        suite = _suite(scenario, headline)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        time_total += float(suite.get("time", "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{time_total:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(s: Scenario, headline: str) -> ET.Element:
    """One scenario's testsuite; ``headline`` is the run's (a property of each suite, the same words
    as the console's last line)."""
    suite = ET.Element("testsuite", name=s.name)
    if s.started_at is not None:
        suite.set("timestamp", s.started_at.replace(tzinfo=None).isoformat(timespec="seconds"))
    suite.set("time", f"{s.duration_s or 0.0:.3f}")
    properties = ET.SubElement(suite, "properties")
    for name, value in (("headline", headline), ("verdict", s.verdict), ("requests", str(s.request_count)),
                        ("failed_requests", str(s.total.failures if s.total else 0))):
        ET.SubElement(properties, "property", name=name, value=value)
    cases: list[ET.Element] = []
    if s.gate is None:
        case = ET.Element("testcase", classname=s.name, name="SLO verdict", time="0")
        error = ET.SubElement(case, "error", message=f"no SLO verdict: {s.name}_slo.json is missing",
                              type="NotJudged")
        error.text = "The SLO gate wrote no verdict for this scenario (Locust stopped early, or the run " \
                     "was made without the gate)."
        cases.append(case)
    else:
        for t in s.gate.thresholds:
            case = ET.Element("testcase", classname=f"{s.name}.{t.row}", name=t.expression, time="0")
            if t.state == slo_verdict.FAIL:
                interval = f", interval {format_interval(t)}" if t.interval is not None else ""
                failure = ET.SubElement(case, "failure",
                                        message=f"observed {format_observed(t)}{interval}, limit {format_limit(t)}",
                                        type="SloThresholdFailed")
                failure.text = f"{t.reason} ({', '.join(t.patterns)})"
            elif t.state == slo_verdict.INCONCLUSIVE:
                message = (f"inconclusive: observed {format_observed(t)}, interval {format_interval(t)}, limit "
                           f"{format_limit(t)}; needs {format_settle(t)}")
                if t.generator_bound:  # the load generator's own delays could decide it
                    message = f"inconclusive: {t.reason}"
                policy = s.gate.verdict.policy
                if policy == "fail" or (policy == "estimate" and t.estimate == slo_verdict.FAIL):
                    why = "the point estimate fails" if policy == "estimate" else "--slo-inconclusive fail"
                    failure = ET.SubElement(case, "failure", message=f"{message} ({why})",
                                            type="SloThresholdInconclusive")
                    failure.text = t.reason or message
                else:
                    ET.SubElement(case, "skipped", message=message)
            elif t.state == slo_verdict.NO_DATA:
                ET.SubElement(case, "skipped", message=f"no data: none of {', '.join(t.patterns)} ran")
            cases.append(case)
        judged_failed = any(c.find("failure") is not None for c in cases)
        if (not s.gate.passed and not judged_failed) or (s.gate.verdict.inconclusive_exit and not judged_failed):
            case = ET.Element("testcase", classname=s.name, name="SLO verdict", time="0")
            reasons = "\n".join(s.gate.reasons) or (
                "INCONCLUSIVE under --slo-inconclusive fail" if s.gate.verdict.inconclusive_exit
                else "the SLO gate failed the run")
            failure = ET.SubElement(case, "failure", message=reasons, type="SloVerdictFailed")
            failure.text = reasons
            cases.append(case)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.extend(cases)
    out = [*(s.gate.reasons if s.gate else ()),
           *(f"generator {format_health(h)}" for h in (s.gate.verdict.generator if s.gate else ()))]
    if out:
        ET.SubElement(suite, "system-out").text = "\n".join(out)
    return suite
