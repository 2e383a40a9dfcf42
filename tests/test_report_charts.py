"""The report's SVG charts (osiris_load/core/report/charts.py), pure: numbers in, SVG text out.

The expected SVG lines are worked out by hand from the layout rules (margins 58/16/34, legend rows
of 16 px, y axis to the last "nice" tick, x axis on time steps), not produced by the code: e.g. for
the first chart the plot is 686 x 176 px at (58, 40), y runs to 4 (ticks 0..4 of step 1 cover
3 * 1.08), x to 10 s (ticks every 2 s), so y = 1 sits at 216 - 176/4 = 172.
"""

from __future__ import annotations

import math

import pytest

from osiris_load.core.report.charts import (
    Band,
    Line,
    Rule,
    _time_ticks,
    format_seconds,
    format_tick,
    line_chart,
    nice_ticks,
)


def test_a_small_chart_is_exactly_the_hand_computed_svg() -> None:
    svg = line_chart([Line("p95", [(0, 1.0), (10, 2.0)], "#111")], title="T", unit="ms",
                     rules=[Rule("limit", 3.0, "#f00")], bands=[Band("b", 1.0, 2.0, 1.5, "#0f0")],
                     attrs={"k": "v"})
    expected = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="760" height="250" viewBox="0 0 760 250" '
        'role="img" aria-label="T" data-k="v">',
        "<title>T</title>",
        '<text x="58" y="16" class="chart-title">T</text>',
    ]
    for tick, y in ((0, "216.0"), (1, "172.0"), (2, "128.0"), (3, "84.0"), (4, "40.0")):
        expected += [f'<line x1="58" y1="{y}" x2="744" y2="{y}" class="grid"/>',
                     f'<text x="52" y="{float(y) + 4}" class="tick" text-anchor="end">{tick}</text>']
    for label, x in (("0s", "58.0"), ("2s", "195.2"), ("4s", "332.4"), ("6s", "469.6"), ("8s", "606.8"),
                     ("10s", "744.0")):
        expected += [f'<line x1="{x}" y1="216" x2="{x}" y2="220" class="axis"/>',
                     f'<text x="{x}" y="232" class="tick" text-anchor="middle">{label}</text>']
    expected += [
        '<line x1="58" y1="216" x2="744" y2="216" class="axis"/>',
        '<line x1="58" y1="40" x2="58" y2="216" class="axis"/>',
        '<text x="14" y="128.0" class="tick" text-anchor="middle" transform="rotate(-90 14 128.0)">ms</text>',
        '<text x="744" y="246" class="tick" text-anchor="end">time since start</text>',
        '<rect x="58" y="128.0" width="686" height="44.0" fill="#0f0" fill-opacity="0.14" class="band" '
        'data-low="1" data-high="2"><title>b: 1 .. 2 ms</title></rect>',
        '<line x1="58" y1="150.0" x2="744" y2="150.0" stroke="#0f0" stroke-opacity="0.5" stroke-width="1" '
        'class="band-estimate"/>',
        '<line x1="58" y1="84.0" x2="744" y2="84.0" stroke="#f00" stroke-width="1.5" stroke-dasharray="6 4" '
        'class="limit" data-limit="3"><title>limit</title></line>',
        '<text x="740" y="80.0" class="limit-label" text-anchor="end" fill="#f00">limit</text>',
        '<polyline points="58.0,172.0 744.0,128.0" fill="none" stroke="#111" stroke-width="1.8" '
        'stroke-linejoin="round"><title>p95</title></polyline>',
        '<circle cx="58.0" cy="172.0" r="2" fill="#111"><title>p95 at 0s: 1 ms</title></circle>',
        '<circle cx="744.0" cy="128.0" r="2" fill="#111"><title>p95 at 10s: 2 ms</title></circle>',
        '<line x1="58.0" y1="28.0" x2="76.0" y2="28.0" stroke="#111" stroke-width="2.5"/>',
        '<text x="80.0" y="32.0" class="legend">p95</text>',
        "</svg>",
    ]
    assert svg.split("\n") == expected


def test_steps_gaps_dashes_and_a_limit_above_the_chart() -> None:
    svg = line_chart([Line("users", [(0, 1.0), (1, None), (2, 2.0), (4, 3.0)], "#00f", dash="4 2", step=True)],
                     title="U", unit="users", rules=[Rule("far", 100, "#f00")]).split("\n")
    # x runs to 4 s (ticks every second): px(2) = 58 + 686/2 = 401; y as in the first chart (max 3)
    assert '<circle cx="58.0" cy="172.0" r="3" fill="#00f"/>' in svg  # the lone point before the gap
    assert ('<polyline points="401.0,128.0 744.0,128.0 744.0,84.0" fill="none" stroke="#00f" stroke-width="1.8" '
            'stroke-linejoin="round" stroke-dasharray="4 2"><title>users</title></polyline>') in svg
    assert not any('class="limit"' in line for line in svg)  # 100 > 3 * 3: not drawn, named in the legend
    assert svg[-6:] == [
        '<circle cx="744.0" cy="84.0" r="2" fill="#00f"><title>users at 4s: 3 users</title></circle>',
        '<line x1="58.0" y1="28.0" x2="76.0" y2="28.0" stroke="#00f" stroke-width="2.5" stroke-dasharray="4 2"/>',
        '<text x="80.0" y="32.0" class="legend">users</text>',
        # 30 + 6.2 * 5 = 61 px further right
        '<line x1="119.0" y1="28.0" x2="137.0" y2="28.0" stroke="#f00" stroke-width="2.5" stroke-dasharray="6 4"/>',
        '<text x="141.0" y="32.0" class="legend">far (above the chart)</text>',
        "</svg>",
    ]


def test_a_limit_at_the_headroom_is_drawn_and_one_just_above_is_not() -> None:
    at = line_chart([Line("a", [(0, 1.0), (1, 2.0)], "#000")], title="t", unit="ms", rules=[Rule("r", 6.0, "#f00")])
    above = line_chart([Line("a", [(0, 1.0), (1, 2.0)], "#000")], title="t", unit="ms",
                       rules=[Rule("r", 6.5, "#f00")])
    assert 'data-limit="6"' in at and "(above the chart)" not in at
    assert 'data-limit="6.5"' not in above and "r (above the chart)" in above
    wider = line_chart([Line("a", [(0, 1.0), (1, 2.0)], "#000")], title="t", unit="ms",
                       rules=[Rule("r", 6.5, "#f00")], rule_headroom=4.0)
    assert 'data-limit="6.5"' in wider


def test_no_data_draws_the_limit_and_says_so() -> None:
    svg = line_chart([], title="E", unit="ms", rules=[Rule("p95", 800, "#f00")]).split("\n")
    # y runs to 1000 (800 * 1.08 = 864, ticks of 200): 800 sits at 216 - 0.8 * 176 = 75.2
    assert ('<line x1="58" y1="75.2" x2="744" y2="75.2" stroke="#f00" stroke-width="1.5" stroke-dasharray="6 4" '
            'class="limit" data-limit="800"><title>p95</title></line>') in svg
    assert svg[-2:] == ['<text x="401.0" y="128.0" class="tick" text-anchor="middle">no data</text>', "</svg>"]
    empty = line_chart([], title="E", unit="ms").split("\n")
    assert '<text x="52" y="44.0" class="tick" text-anchor="end">1</text>' in empty  # y axis 0..1 without data
    assert '<text x="744.0" y="232" class="tick" text-anchor="middle">1s</text>' in empty  # x axis 0..1 s


def test_unbounded_and_off_chart_bands() -> None:
    svg = line_chart([Line("a", [(0, 1.0), (4, 3.0)], "#000")], title="t", unit="ms",
                     bands=[Band("u", None, None, None, "#0f0"), Band("h", 1.0, 50.0, 60.0, "#f0f")])
    assert ('<rect x="58" y="40" width="686" height="176.0" fill="#0f0" fill-opacity="0.14" class="band" '
            'data-low="-" data-high="-"><title>u: - .. - ms</title></rect>') in svg
    assert ('<rect x="58" y="40.0" width="686" height="132.0" fill="#f0f" fill-opacity="0.14" class="band" '
            'data-low="1" data-high="50"><title>h: 1 .. 50 ms</title></rect>') in svg
    assert "band-estimate" not in svg  # no estimate, and one beyond the axis


def test_a_thin_band_keeps_one_pixel_and_rounds_its_labels() -> None:
    svg = line_chart([Line("a", [(0, 1.0), (4, 3.0)], "#000")], title="t", unit="ms",
                     bands=[Band("n", 2.0, 2.0, 2.0, "#0f0"), Band("r", 1.234, 2.345, None, "#0f0")])
    assert 'y="128.0" width="686" height="1.0"' in svg
    assert 'data-low="1.23" data-high="2.35"' in svg


def test_legend_wraps_to_a_new_row_and_the_chart_grows() -> None:
    svg = line_chart([Line("a" * 10, [(0, 1.0)], "#000"), Line("b" * 10, [(0, 2.0)], "#111")], title="t",
                     unit="ms", width=200).split("\n")
    # each item is 30 + 62 = 92 px; the second does not fit in 200 - 16 and goes to the next row (y 44)
    assert svg[0].startswith('<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="200" height="266" '
                             'viewBox="0 0 200 266"')
    assert '<text x="80.0" y="48.0" class="legend">bbbbbbbbbb</text>' in svg
    assert '<text x="80.0" y="32.0" class="legend">aaaaaaaaaa</text>' in svg


def test_many_points_get_no_markers() -> None:
    many = line_chart([Line("a", [(float(i), 1.0) for i in range(241)], "#000")], title="t", unit="ms")
    few = line_chart([Line("a", [(float(i), 1.0) for i in range(240)], "#000")], title="t", unit="ms")
    assert 'r="2"' not in many and few.count('r="2"') == 240


def test_non_finite_values_are_gaps() -> None:
    svg = line_chart([Line("a", [(0, 1.0), (1, math.nan), (2, math.inf), (3, 2.0), (4, 2.0)], "#000")],
                     title="t", unit="ms")
    assert svg.count("<polyline") == 1 and svg.count('r="3"') == 1


@pytest.mark.parametrize(("lo", "hi", "count", "ticks"), [
    (0, 962, 5, [0, 200, 400, 600, 800, 1000]),
    (0, 12, 5, [0, 2.5, 5, 7.5, 10, 12.5]),
    (0, 22, 5, [0, 5, 10, 15, 20, 25]),
    (0, 4.5, 5, [0, 1, 2, 3, 4, 5]),
    (0, 9, 5, [0, 2, 4, 6, 8, 10]),
    (0, 40, 5, [0, 10, 20, 30, 40]),
    (3, 9, 5, [2, 4, 6, 8, 10]),
    (5, 5, 5, [5, 6, 7, 8, 9, 10]),
    (-3, -3, 5, [-3, -2, -1, 0]),
    (0, 0, 5, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (0, 10, 0, [0, 100]),
    (0, 10, 2, [0, 5, 10]),
    (0, 0.03, 5, [0, 0.01, 0.02, 0.03]),
    (123456.7, 123457.3, 5, [123456.6, 123456.8, 123457.0, 123457.2, 123457.4]),  # no float noise left
    (0, 4 + 1e-9, 5, [0, 1, 2, 3, 4]),  # a billionth of a step past a tick is float noise: no tick more
    (0, 4 + 3e-9, 5, [0, 1, 2, 3, 4, 5]),  # three billionths is not
    (0, math.inf, 5, [0.0, 1.0]),
    (math.nan, 1, 5, [0.0, 1.0]),
])
def test_nice_ticks(lo: float, hi: float, count: int, ticks: list[float]) -> None:
    assert nice_ticks(lo, hi, count) == ticks


def test_nice_ticks_default_to_about_five() -> None:
    assert nice_ticks(0, 5.5) == [0, 2, 4, 6]  # 6 ticks of 1 would be more than 5 steps


@pytest.mark.parametrize(("hi", "count", "ticks"), [
    (0, 8, [0, 1]),
    (8, 8, [0, 1, 2, 3, 4, 5, 6, 7, 8]),
    (10, 8, [0, 2, 4, 6, 8, 10]),
    (10, 5, [0, 2, 4, 6, 8, 10]),
    (11, 5, [0, 5, 10, 15]),
    (100, 8, [0, 15, 30, 45, 60, 75, 90, 105]),
    (60000, 8, [0, 14400, 28800, 43200, 57600, 72000]),
])
def test_time_ticks_use_clock_steps(hi: float, count: int, ticks: list[float]) -> None:
    assert _time_ticks(hi, count) == ticks


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59.4, "59s"), (59.6, "1m"), (90, "1m30s"), (600, "10m"),
                                               (3599, "59m59s"), (3600, "1h"), (3900, "1h5m"), (3659, "1h"),
                                               (7260, "2h1m")])
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(("value", "text"), [(3.0, "3"), (0.25, "0.25"), (0.125, "0.125"), (1200.0, "1200"),
                                             (2.5, "2.5"), (1.0004, "1"), (0.1, "0.1"), (-2.0, "-2")])
def test_format_tick(value: float, text: str) -> None:
    assert format_tick(value) == text


def test_time_ticks_default_count_and_float_noise_at_the_end() -> None:
    assert _time_ticks(9) == [0, 2, 4, 6, 8, 10]  # 9 one-second ticks are more than the default 8
    assert _time_ticks(10.000000001) == [0, 2, 4, 6, 8, 10]  # not one more tick for a nanosecond


def _top_tick(svg: str) -> str:
    """The label of the highest y tick: the first grid label, ticks are drawn from 0 up."""
    labels = [line for line in svg.split("\n") if line.startswith('<text x="52" ')]
    return labels[-1].rsplit(">", 2)[-2].split("<")[0]


def test_bands_within_the_headroom_raise_the_axis_and_others_do_not() -> None:
    data = [Line("a", [(0, 1.0), (4, 2.0)], "#000")]
    # a band up to 5 (<= 2 * 3): axis to 5.4 -> ticks of 2 up to 6
    assert _top_tick(line_chart(data, title="t", unit="ms", bands=[Band("b", 1.0, 5.0, None, "#0f0")])) == "6"
    # exactly at the headroom (6 = 2 * 3) still counts: 6.48 -> 8
    assert _top_tick(line_chart(data, title="t", unit="ms", bands=[Band("b", 1.0, 6.0, None, "#0f0")])) == "8"
    # above it: the axis fits the data only (2.16 -> ticks of 0.5 up to 2.5)
    assert _top_tick(line_chart(data, title="t", unit="ms", bands=[Band("b", 1.0, 6.5, None, "#0f0")])) == "2.5"
    zeros = [Line("a", [(0, 0.0), (4, 0.0)], "#000")]
    # data all zero: every band counts (5 -> 5.4 -> 6)
    assert _top_tick(line_chart(zeros, title="t", unit="ms", bands=[Band("b", 0.0, 5.0, None, "#0f0")])) == "6"


def test_small_values_keep_their_own_scale() -> None:
    small = [Line("a", [(0, 0.25), (4, 0.5)], "#000")]
    # 0.5 * 1.08 = 0.54 -> ticks of 0.1 up to 0.6; a limit or band above 1.5 stays off the axis
    assert _top_tick(line_chart(small, title="t", unit="ms")) == "0.6"
    far = line_chart(small, title="t", unit="ms", rules=[Rule("r", 10, "#f00")], bands=[Band("b", 0, 5, None, "#0")])
    assert _top_tick(far) == "0.6" and "r (above the chart)" in far


def test_legend_wraps_only_past_the_right_margin() -> None:
    def rows(width: int, first: str = "aaaaa") -> set[str]:
        svg = line_chart([Line(first, [(0, 1.0)], "#000"), Line("bbbbb", [(0, 1.0)], "#000")], title="t",
                         unit="ms", width=width)
        return {line.split('y="')[1].split('"')[0] for line in svg.split("\n") if 'class="legend"' in line}

    # each item is 30 + 6.2 * 5 = 61 px: both end at 58 + 122 = 180 = 196 - 16, still on the first row
    assert rows(196) == {"32.0"}
    assert rows(195) == {"32.0", "48.0"}
    assert rows(180) == {"32.0", "48.0"}
    # a first item wider than the chart stays on the first row
    assert rows(400, first="x" * 100) == {"32.0", "48.0"}
    svg = line_chart([Line("x" * 100, [(0, 1.0)], "#000")], title="t", unit="ms", width=100)
    assert 'height="250"' in svg.split("\n")[0]


def test_coordinates_are_rounded_to_two_decimals_and_attrs_joined() -> None:
    svg = line_chart([Line("a", [(1, 1.001), (100, 3.0)], "#000")], title="t", unit="ms",
                     attrs={"a": "1", "b": "2"})
    # x axis to 105 s (ticks of 15 s): 58 + 686 / 105 = 64.5333; y: 216 - 1.001 * 44 = 171.956
    assert '<circle cx="64.53" cy="171.96" r="2" fill="#000">' in svg
    assert ' aria-label="t" data-a="1" data-b="2">' in svg


def test_marker_titles_round_to_two_decimals() -> None:
    svg = line_chart([Line("a", [(0, 1.234), (4, 2.0)], "#000")], title="t", unit="ms")
    assert "<title>a at 0s: 1.23 ms</title>" in svg


def test_a_band_estimate_on_the_top_tick_is_drawn() -> None:
    # headroom 1: neither the estimate (2.5) nor the band counts for the axis, 2 * 1.08 -> ticks to 2.5
    svg = line_chart([Line("a", [(0, 1.0), (4, 2.0)], "#000")], title="t", unit="ms", rule_headroom=1.0,
                     bands=[Band("b", 1.0, None, 2.5, "#0f0")])
    assert ('<line x1="58" y1="40.0" x2="744" y2="40.0" stroke="#0f0" stroke-opacity="0.5" stroke-width="1" '
            'class="band-estimate"/>') in svg
