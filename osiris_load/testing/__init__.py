"""Known-answer fixtures the test suite and the benchmarks (``osiris-load bench``) share: fixture servers
(:mod:`.open_model_target`, :mod:`.queueing_target`, :mod:`.llm_stream_target`), their scenarios and
launchers, Locust child processes (:mod:`.support`) and the reliability helpers (:mod:`.reliability`).

A floor of its own above the jobs and below the benchmarks: no run of the load tester imports it. One
copy of each: ``tests/`` imports them from here, and nothing here imports ``tests/``. Locust puts a
locustfile's folder (this one, for ``queue_work.py`` and ``locustfile_reliability.py``) first on
``sys.path``: no module here may be named as a package a locustfile imports.
"""
