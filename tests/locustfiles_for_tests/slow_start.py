"""Test-only scenario that starts slowly: read_heavy's user, after a 2 s blocking pause at import
(a real sleep, not gevent's: the loop does not run), as a busy machine's imports can take. A headless
``-t`` run must still last its ``-t`` (the SLO plugin reads gevent's loop clock at ``init``:
``osiris_load.adapter.gate.on_init``)."""

from __future__ import annotations

from gevent import monkey

from locustfiles.read_heavy import ReadHeavyUser  # noqa: F401  (the user this file runs)

monkey.get_original("time", "sleep")(2.0)
