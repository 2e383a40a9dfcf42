"""How long a probe must run before the SLO table *could* PASS with confidence.

A probe that is too short is INCONCLUSIVE whatever the target does: ``rate>=0.999`` cannot be
shown at 95 % before about 3000 requests without a failure, ``p(99)<1200`` not before 299. So each
probe's duration is planned from the table: for every threshold of the rows the scenario exercises,
the fewest requests that could PASS (the best case: no failure, no sample beyond the limit), found
with the gate's own interval (``osiris_load.core.slo.confidence.requests_to_settle`` on a one-request best-case
judgement: no statistics of its own), turned into seconds at the probe's rate by the row's requests
per iteration. ``avg``, ``min``, ``max``, ``count`` and thresholds whose best case cannot PASS
(``==``, ``!=``) need nothing extra.

Which rows a scenario exercises and how many requests of each one iteration makes comes from the
locustfile's ``slo_rows`` (read with :mod:`ast`, without importing Locust, which would gevent-patch
this process): each User class is taken to make one request of each of its rows per iteration (true
of every bundled scenario), and a locustfile with several classes (``mixed.py``) splits iterations
by their ``weight``. A locustfile that declares no rows: every row of the table, one request each.
"""

from __future__ import annotations

import ast
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

from osiris_load.core.slo.confidence import State, judge_percentile, judge_rate, projected_state, requests_to_settle
from osiris_load.core.slo.formatting import format_duration
from osiris_load.core.slo.table import SloTable

__all__ = ["SampleNeed", "deferral_notes", "plan_needs", "planned_duration", "samples_to_pass", "scenario_rows"]


@dataclass(frozen=True)
class SampleNeed:
    """``samples`` requests of ``row`` let ``expression`` PASS; one iteration makes ``per_iteration``."""

    row: str
    expression: str
    samples: int
    per_iteration: float

    def seconds(self, rate: float) -> float:
        """The probe duration that gives ``samples`` requests at ``rate`` iterations/s."""
        return self.samples / (rate * self.per_iteration)


def samples_to_pass(kind: str, op: str, limit: float, arg: float | None, confidence: float) -> int | None:
    """The fewest requests at which the threshold can PASS with ``confidence`` (its best case:
    every request a success or a failure, every sample below or above the limit, whichever passes);
    ``None`` when no count of requests needs planning (no interval, or no best case passes)."""
    if not confidence or kind not in ("p", "med", "rate", "fail_rate"):
        return None
    for extreme in (0, 1):  # the best case is one of the two ends
        if kind in ("rate", "fail_rate"):
            judgement = judge_rate(kind, op, limit, 1, extreme, confidence=confidence)
        else:
            judgement = judge_percentile(50.0 if kind == "med" else float(arg or 0), op, limit, 1,
                                         at_or_above=extreme, above=extreme, confidence=confidence)
        needed = requests_to_settle(judgement)
        if needed is not None and projected_state(judgement, needed) == State.PASS:
            return needed
    return None


def scenario_rows(locustfile: Path) -> dict[str, float] | None:
    """``{row: requests per iteration}`` from the locustfile's User classes' ``slo_rows`` (and those
    of the classes it imports from sibling modules, as ``mixed.py`` does), split by ``weight``;
    ``None`` when none declares rows or the file cannot be read."""
    classes = _declared(locustfile)
    if not classes:
        return None
    total = sum(weight for _, weight in classes)
    shares: dict[str, float] = {}
    for rows, weight in classes:
        for row in rows:
            shares[row] = shares.get(row, 0.0) + weight / total
    return shares


def _declared(path: Path, names: set[str] | None = None) -> list[tuple[tuple[str, ...], float]]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    found: list[tuple[tuple[str, ...], float]] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and (names is None or node.name in names):
            values = {t.id: s.value for s in node.body if isinstance(s, ast.Assign)
                      for t in s.targets if isinstance(t, ast.Name)}
            try:
                rows = ast.literal_eval(values["slo_rows"]) if "slo_rows" in values else None
                weight = float(ast.literal_eval(values["weight"])) if "weight" in values else 1.0
            except ValueError:
                continue
            if rows:
                found.append((tuple(str(r) for r in rows), weight))
        elif isinstance(node, ast.ImportFrom) and node.module and names is None:
            spec = importlib.util.find_spec(node.module) if node.level == 0 else None
            if spec is not None and spec.origin and Path(spec.origin).resolve().parent == path.resolve().parent:
                found += _declared(Path(spec.origin), {a.name for a in node.names})  # as declared there
    return found


def plan_needs(table: SloTable, rows: dict[str, float] | None, confidence: float) -> tuple[SampleNeed, ...]:
    """Every threshold of the exercised rows (all rows when ``rows`` is ``None``) that needs a
    number of requests to PASS, in table order."""
    needs = []
    for row in table.rows:
        if rows is not None and row.name not in rows:
            continue
        per_iteration = rows[row.name] if rows is not None else 1.0
        for spec in row.thresholds:
            t = spec.threshold
            samples = samples_to_pass(t.aggregation.kind, t.op, t.value, t.aggregation.arg, confidence)
            if samples is not None and per_iteration > 0:
                needs.append(SampleNeed(row.name, t.source, samples, per_iteration))
    return tuple(needs)


def planned_duration(needs: tuple[SampleNeed, ...], rate: float) -> float:
    """The shortest probe at ``rate`` in which every threshold could PASS (0 without needs)."""
    return max((need.seconds(rate) for need in needs), default=0.0)


def deferral_notes(needs: tuple[SampleNeed, ...], rate: float, cap_s: float, budget_s: float,
                   margin: float) -> list[str]:
    """One line per threshold that a probe of at most ``cap_s`` cannot settle at ``rate`` (the
    search's lowest): the requests it needs, the rate from which a bracketing probe settles it,
    and the budget its confirmation probe (``margin`` x the need) takes at the answer, so that the
    user knows before the first probe what the budget can settle."""
    notes = []
    for need in needs:
        seconds = need.seconds(rate)
        if seconds > cap_s + 1e-9:
            from_rate = need.samples / (need.per_iteration * cap_s)
            budget_rate = margin * need.samples / (need.per_iteration * budget_s)
            notes.append(f"{need.row} {need.expression} needs {need.samples} requests to PASS with confidence: "
                         f"{format_duration(math.ceil(seconds))} at {rate:g}/s ({need.per_iteration:g} per "
                         f"iteration), longer than a {format_duration(cap_s)} probe below {from_rate:.3g}/s. Below "
                         f"that the search only checks that it does not FAIL, and settles it with one confirmation "
                         f"probe at the answer ({margin:g} x {need.samples} requests): the whole budget "
                         f"({format_duration(budget_s)}) holds that probe only for an answer from {budget_rate:.3g}/s "
                         f"up; at {rate:g}/s it lasts {format_duration(math.ceil(margin * seconds))}")
    return notes
