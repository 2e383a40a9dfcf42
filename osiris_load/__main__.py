"""``python -m osiris_load [run options]``: the main job, as ``osiris-load run`` (kept for older scripts).

``python -m osiris_load COMMAND ...`` with a front-door command (run, capacity, sidecar, report, compare,
import-k6, bench, completion)
or ``--version``/``--help`` is the ``osiris-load`` front door itself.
"""

import sys

from osiris_load.cli import SUBCOMMANDS, main

argv = sys.argv[1:]
if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("--version", "-h", "--help")):
    argv = ["run", *argv]
sys.exit(main(argv))
