"""Parse the command lines ``osiris-load import-k6`` prints with the parsers that run them.

Run as a child (``python -m tests.k6_commands``, the lines as a JSON list on stdin; it prints a
JSON list: ``null`` for a line that parses, else the error): importing Locust gevent-patches the
process, which the test process must not suffer. A ``locust ...`` line goes through Locust's own
parser with this project's options registered (``osiris_load.adapter.users``, the SLO plugin), then
through the checks Locust's ``init`` applies before any load (the open model's ``configure`` and
``check_stages``, ``--stages``); an ``osiris-load run ...`` line through the front door's parser.
Nothing is run.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check(line: str) -> str | None:
    """``None`` when ``line`` parses and its load options hold, else what is wrong."""
    import locust.argument_parser as locust_args

    import osiris_load.adapter.users  # noqa: F401  (registers --stages, --arrival-rate ... and the SLO gate)
    from osiris_load.adapter.open_model import OpenModelError, check_stages, configure
    from osiris_load.cli import _parser
    from osiris_load.core.openmodel.stages import StagesError, parse_stages

    argv = shlex.split(line)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            if argv[:2] == ["osiris-load", "run"]:
                options = _parser().parse_args(argv[1:])
            elif argv[0] == "locust":
                options = locust_args.get_parser(default_config_files=[]).parse_args(argv[1:])
                for locustfile in options.locustfile.split(","):
                    if not (ROOT / locustfile).is_file():
                        return f"no locustfile {locustfile}"
                check_stages(configure(options), options.stages, None)
            else:
                return f"not a command this checks: {line}"
            if options.stages:
                parse_stages(options.stages)
    except SystemExit:
        return err.getvalue().strip() or "exit"
    except (OpenModelError, StagesError) as exc:
        return str(exc)
    return None


if __name__ == "__main__":
    print(json.dumps([check(line) for line in json.loads(sys.stdin.read())]))
