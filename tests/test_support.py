"""The helpers the tests and benches share (``osiris_load/testing/support.py``) where a wrong helper would make
tests pass wrongly."""

from __future__ import annotations

from osiris_load.testing.support import nearest_rank


def test_nearest_rank_reads_p_as_the_decimal_it_is_written_as() -> None:
    """p99.9 of 1..1000 is the 999th value: ceil(0.999 * 1000) = 999 (in floats, 99.9 / 100 * 1000 is
    999.0000000000001 and its ceiling 1000, the old helper's off-by-one)."""
    values = [float(v) for v in range(1000, 0, -1)]  # unsorted on purpose
    assert nearest_rank(values, 99.9) == 999.0
    assert nearest_rank(values, 50) == 500.0
    assert nearest_rank(values, 100) == 1000.0
    assert nearest_rank([7.0], 0.001) == 7.0
    assert nearest_rank([float(v) for v in range(1, 21)], 95) == 19.0  # ceil(19.0) = 19
    assert nearest_rank([float(v) for v in range(1, 22)], 95) == 20.0  # ceil(19.95) = 20
