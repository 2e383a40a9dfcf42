"""What the benchmarks share and are not benchmarks themselves: the sidecar to measure (:mod:`.sidecar`),
side-by-side CPU runs (:mod:`.side_by_side`), the locustfiles and the raw loop the generator benchmarks
run by path, and their SLO tables."""
