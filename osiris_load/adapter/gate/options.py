"""The gate's command-line options (Locust's parser, so they are in ``--help``, the environment
variables, the config file and the web UI's start form) and the names the gate sends to workers."""

from __future__ import annotations

from typing import Any

from osiris_load.core.slo.confidence import DEFAULT_CONFIDENCE
from osiris_load.core.slo.evaluate import POLICIES
from osiris_load.core.slo.gate_options import ENV_VAR, GENERATOR_MONITOR_CHOICES
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH
from osiris_load.core.slo.windows import DEFAULT_WINDOW_S

REPORT_KEY = "osiris_slo"
"""The key of the gate's payload in a worker's stats report (``report_to_master``)."""
PLAN_OPTION = "osiris_slo_plan"
"""On ``parsed_options``: Locust sends custom options to workers with each spawn; the recorder's plan rides there."""
GOODPUT_OPTION = "osiris_goodput_plan"
"""The same way: each request key's latency bounds for goodput."""


def add_arguments(parser: Any) -> None:
    """``init_command_line_parser`` listener: the gate's options."""
    group = parser  # Locust's own parser: argument groups drop include_in_web_ui
    group.add_argument("--slo-file", default=str(DEFAULT_TABLE_PATH), env_var=ENV_VAR["slo_file"],
                       include_in_web_ui=True, help="TOML SLO table to judge the run against (default: the guide's)")
    group.add_argument("--slo-rows", default="", env_var=ENV_VAR["slo_rows"], include_in_web_ui=True,
                       help="comma-separated rows of the SLO table to judge (default: the rows the locustfile's "
                            "users declare in slo_rows, else all)")
    group.add_argument("--slo-strict", action="store_true", default=False, env_var=ENV_VAR["slo_strict"],
                       include_in_web_ui=True, help="a row whose requests never ran fails the run")
    group.add_argument("--slo-allow-lost-workers", action="store_true", default=False,
                       env_var=ENV_VAR["slo_allow_lost_workers"], include_in_web_ui=True,
                       help="judge on the data received even if a worker was lost (default: a lost worker fails)")
    group.add_argument("--slo-confidence", default=str(DEFAULT_CONFIDENCE), env_var=ENV_VAR["slo_confidence"],
                       include_in_web_ui=True,
                       help="confidence of each end of a threshold's interval (0.5 < C < 1; 0 turns intervals "
                            "off: point estimates only, as k6). Default 0.95")
    group.add_argument("--slo-inconclusive", default="estimate", choices=POLICIES, env_var=ENV_VAR["slo_inconclusive"],
                       include_in_web_ui=True,
                       help="exit code of an INCONCLUSIVE run: estimate (the point estimate decides, as k6; "
                            "default), fail (exit 98), pass (exit 0)")
    group.add_argument("--slo-until-settled", default="", env_var=ENV_VAR["slo_until_settled"], include_in_web_ui=True,
                       help="keep the last non-zero stage going until every threshold is settled or this much "
                            "longer has passed (e.g. 5m); needs a stages shape")
    group.add_argument("--slo-window", type=float, default=DEFAULT_WINDOW_S, env_var=ENV_VAR["slo_window"],
                       include_in_web_ui=False,
                       help="seconds per time window whose counts widen intervals for dependence (0: off)")
    group.add_argument("--slo-eval-interval", type=float, default=2.0, env_var=ENV_VAR["slo_eval_interval"],
                       include_in_web_ui=False, help="seconds between live evaluations (abort-on-fail)")
    group.add_argument("--slo-generator-monitor", default="on", choices=GENERATOR_MONITOR_CHOICES,
                       env_var=ENV_VAR["slo_generator_monitor"], include_in_web_ui=False,
                       help="measure the load generator's own delays (event-loop lag, CPU) in each process that runs "
                            "users and charge the server only with the rest (default on; off: measured times are "
                            "judged as they are)")
    group.add_argument("--slo-final-wait", type=float, default=10.0, env_var=ENV_VAR["slo_final_wait"],
                       include_in_web_ui=False,
                       help="master: seconds beyond --stop-timeout to wait for each worker's final results")
