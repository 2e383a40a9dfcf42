"""The open model started from Locust's web UI: the start form's ``arrival_rate``, ``arrivals``,
``max_vus`` and ``rate_stages`` fields (``osiris_load.adapter.open_model.attach_start_form`` and
``OpenModelRun.refresh``), in a real Locust web UI process driven over real HTTP as the page does,
against the tiny fast target of the open-model runs (``osiris_load/testing/open_model_target.py``).

One short session: a form with a bad rate is refused with the reason; a start with a rate of 20/s
is an open-model run (iterations at about that rate, the ``open_model`` block in the verdict and
the SLO tab); the next start with the rate emptied is the closed model again (the stages' users).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from osiris_load.testing.open_model_runs import Target
from tests.conftest import wait_until
from tests.test_webui import LocustUi, serving

RATE = 20.0
MAX_VUS = 10
OPEN_ITERATIONS = 80  # ~4 s at 20/s: enough to see the rate, short enough for the suite


class Ui(LocustUi):
    """The scenario with its own stages and gate options, as a user starts it, and the start form."""

    def __init__(self, target: str, log_path: Path) -> None:
        super().__init__(target, log_path, plan=())

    def form(self, **fields: str) -> dict[str, str]:
        """The start form as the page fills it: host and every custom text field with its shown
        value (what ``extra_options`` in the page's template arguments holds), then ``fields``."""
        page = httpx.get(self.url + "/", timeout=10).text
        match = re.search(r"window\.templateArgs = (\{.*\})\s*$", page, re.MULTILINE)
        assert match, "no template arguments in the web UI page"
        extra = json.loads(match.group(1))["extra_options"]
        shown = {name: "" if o["default_value"] is None else str(o["default_value"])
                 for name, o in extra.items() if not isinstance(o["default_value"], bool)}
        return {"host": self.target, **shown, **fields}

    def swarm(self, **fields: str) -> dict[str, Any]:
        return httpx.post(self.url + "/swarm", data=self.form(**fields), timeout=10).json()

    def verdict(self) -> dict[str, Any]:
        return httpx.get(self.url + "/slo/verdict.json", timeout=10).json()

    def stop_test(self) -> None:
        assert httpx.post(self.url + "/stop", timeout=10).json()["success"]
        self.wait_stopped()


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[Ui]:
    target = Target()
    try:
        with serving(Ui(target.url, tmp_path / "locust.log")) as web:
            yield web
    finally:
        target.stop()


def requests_of(stats: dict[str, Any], name: str) -> int:
    return next((s["num_requests"] for s in stats["stats"] if s["name"] == name), 0)


def test_the_start_form_runs_the_open_model_and_an_empty_rate_the_closed_one(ui: Ui) -> None:
    form = ui.form()
    assert {"arrival_rate", "arrivals", "max_vus", "rate_stages"} <= form.keys()  # the fields are in the form
    assert form["arrivals"] == "poisson" and form["stages"] == "5s:5,20s:5,5s:0"

    # fields that make no plan: refused with the reason, as the command line exits 2; nothing runs
    answer = ui.swarm(arrival_rate="fast")
    assert not answer["success"] and answer["message"].startswith("Open model: bad --arrival-rate value 'fast'")
    answer = ui.swarm(arrival_rate="5", stages="1s:3")
    assert not answer["success"] and "ramps users (the closed model)" in answer["message"]
    assert ui.stats()["state"] == "ready"

    # a rate in the form: an open-model run at that rate (the scenario's default stages left in their field)
    answer = ui.swarm(arrival_rate=f"{RATE:g}", arrivals="constant", max_vus=str(MAX_VUS))
    assert answer["success"], answer
    wait_until(lambda: (ui.verdict().get("open_model") or {}).get("started", 0) >= OPEN_ITERATIONS, 60,
               f"{OPEN_ITERATIONS} open-model iterations", interval_s=0.25)
    (extended,) = ui.stats()["extended_stats"]
    overall = extended["data"][-1]
    assert overall["row"] == "OVERALL" and "open model (constant arrivals" in overall["expression"]
    ui.stop_test()
    stats, doc = ui.stats(), ui.verdict()
    model = doc["open_model"]
    assert model["arrivals"] == "constant" and model["max_vus"] == MAX_VUS and model["corrected"] is True
    assert model["target_rate"] == pytest.approx(RATE)
    assert model["achieved_rate"] == pytest.approx(RATE, rel=0.10), model
    assert model["started"] + model["dropped"] <= model["due"] and model["dropped"] == 0, model
    assert model["started"] >= OPEN_ITERATIONS
    # the iterations were real HTTP: one GET /health each (those cut off by the stop excepted)
    assert model["started"] - MAX_VUS <= requests_of(stats, "/health") <= model["started"], (stats, model)
    assert stats["user_count"] <= MAX_VUS
    assert "open model: arrival rate 20/s, constant arrivals, up to 10 users (--max-vus), until stopped" in ui.output()

    # the rate emptied: the closed model again, with the stages' users
    answer = ui.swarm(arrival_rate="", stages="0s:2,30s:2")
    assert answer["success"], answer
    wait_until(lambda: requests_of(ui.stats(), "/health") >= 2 and ui.stats()["user_count"] == 2, 30,
               "the closed model's 2 users to run", interval_s=0.2)
    wait_until(lambda: ui.verdict()["tally"]["judged"] > 0, 30, "a live verdict", interval_s=0.25)
    assert ui.verdict().get("open_model") is None
    ui.stop_test()
    assert ui.stop() == 0, ui.output()
    assert "closed model: no arrival rate" in ui.output()
