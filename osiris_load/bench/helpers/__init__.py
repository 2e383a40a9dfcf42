"""What the benchmarks share and are not benchmarks themselves: the sidecar to measure
(:mod:`.bench_sidecar`), side-by-side CPU runs (:mod:`.side_by_side`), the locustfiles and the raw loop
the generator benchmarks run by path, and their SLO tables. Locust puts a locustfile's folder first on
``sys.path``: no module here may be named as a package the locustfiles import (``sidecar``, ``locust``,
``osiris_load``...)."""
