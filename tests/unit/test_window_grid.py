"""Properties of the window grid (plugin.core.engine.grid): windows flush with the raster's edges, real context
beyond an edge inside the raster, the fewest windows for the required overlap, the network's pooling grid kept,
weights that normalise to one, and column panels that share at most one window."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.core.engine.blending import axis_weights, smooth_margin
from plugin.core.engine.grid import (
    AxisGrid,
    AxisLayout,
    panel_span,
    plan_axis,
    plan_panels,
    single_panel_span,
    wanted_span,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def layouts(draw) -> AxisLayout:
    alignment = draw(st.sampled_from([1, 4, 8, 16, 32]))
    odd = draw(st.sampled_from([0, 0, 0, 3]))  # a fixed window that is no multiple of the network's stride
    window = alignment * draw(st.integers(-(-16 // alignment), 96 // alignment + 4)) + odd
    offset = draw(st.sampled_from([0, 0, 0, 1, 4]))
    least = -(-2 * offset // alignment)  # the plan overlaps windows by twice the offset at least (footprints meet)
    if least * alignment >= window:
        offset, least = 0, 0
    overlap = draw(st.integers(least, (window - 1) // alignment)) * alignment
    reach = draw(st.integers(0, window // 2))
    return AxisLayout(window, overlap, alignment, reach, offset)


@st.composite
def axes(draw) -> tuple[AxisGrid, AxisLayout, int, int]:
    layout = draw(layouts())
    length, before, after = draw(st.integers(1, 900)), draw(st.integers(0, 100)), draw(st.integers(0, 100))
    return plan_axis(length, before, after, layout), layout, before, after


@SETTINGS
@given(axes())
def test_every_pixel_of_the_area_lies_in_a_footprint(case):
    axis, layout, _, _ = case
    covered = np.zeros(axis.length, int)
    for start in axis.starts():
        covered[max(start + layout.offset, 0):max(start + axis.window - layout.offset, 0)] += 1
    assert (covered > 0).all()
    assert sum(axis.covered(i, layout.offset) for i in range(axis.count)) == covered.sum()


@SETTINGS
@given(axes())
def test_the_fewest_windows_overlap_by_at_least_the_overlap_on_the_pooling_grid(case):
    axis, layout, before, after = case
    start, end = wanted_span(axis.length, before, after, layout)
    span, stride = end - start, layout.window - layout.overlap
    fewest = 1 if span <= layout.window else math.ceil((span - layout.window) / stride) + 1
    assert axis.count == fewest
    steps = [b - a for a, b in zip(axis.starts(), axis.starts()[1:])]
    assert all(0 < step <= stride for step in steps), "every overlap is at least the one asked for"
    assert not steps or max(steps) - min(steps) <= (layout.alignment if stride % layout.alignment == 0 else 1)
    if stride % layout.alignment == 0:
        assert all((p + before) % layout.alignment == 0 for p in axis.starts()), "starts on the raster's pooling grid"


@SETTINGS
@given(axes())
def test_windows_are_flush_with_the_raster_and_reach_real_context_inside_it(case):
    axis, layout, before, after = case
    first, last_end = axis.start(0), axis.start(axis.count - 1) + axis.window
    if layout.offset == 0:
        assert first + before >= 0, "nothing mirrored before the raster's start"
    if before >= layout.reach + layout.alignment:
        assert -first >= max(layout.reach, layout.offset), "real context before an edge inside the raster"
    if before == 0 and layout.offset == 0:
        assert first == 0, "flush with the raster's first pixel"
    if axis.count > 1:
        end = wanted_span(axis.length, before, after, layout)[1] - before  # area coordinates
        assert end <= last_end < end + layout.alignment, "flush with the span's end, up to the pooling grid"
    elif axis.window > before + axis.length + after and layout.offset == 0:
        assert first == -before, "a window larger than the raster starts at the raster's first pixel"


@SETTINGS
@given(axes(), st.sampled_from(["smooth", "crop", "average"]), st.sampled_from([None, 0, 3, 12]))
def test_summed_weights_are_positive_everywhere_and_one_where_two_windows_meet(case, mode, context):
    axis, layout, _, _ = case
    total = np.zeros(axis.length + 4 * axis.window)
    count = np.zeros_like(total)
    shift = 2 * axis.window
    for index, start in enumerate(axis.starts()):
        lead, trail = axis.sides(index)
        margins = (smooth_margin(lead, context), smooth_margin(trail, context))
        total[start + shift: start + shift + axis.window] += axis_weights(mode, axis.window, lead, trail, *margins)
        count[start + shift: start + shift + axis.window] += 1
    inside = slice(shift, shift + axis.length)
    assert (total[inside] > 0).all()
    if mode != "average" and count[inside].max() <= 2:
        np.testing.assert_allclose(total[inside], 1.0, atol=1e-6)


@SETTINGS
@given(axes(), st.integers(1, 60))
def test_a_sub_grid_keeps_every_windows_weights(case, cut):
    axis, _, _, _ = case
    first = min(cut % axis.count, axis.count - 1)
    last = min(first + cut % 3, axis.count - 1)
    sub = axis.sub_grid(first, last, 7, 5)
    assert sub.count == last - first + 1
    assert all(sub.sides(i) == axis.sides(first + i) for i in range(sub.count))
    assert all(sub.start(i) == axis.start(first + i) - 7 for i in range(sub.count))


@SETTINGS
@given(axes(), st.integers(40, 400))
def test_panels_partition_the_columns_and_share_at_most_one_window(case, panel_width):
    axis, _, _, _ = case
    panels = plan_panels(axis, panel_width)
    assert panels[0].out_start == 0 and panels[-1].out_end == axis.length
    assert all(a.out_end == b.out_start for a, b in zip(panels, panels[1:]))
    steps = [b - a for a, b in zip(axis.starts(), axis.starts()[1:])]
    abutting = all(step == axis.window for step in steps)
    more_than_half = bool(steps) and 2 * min(steps) < axis.window  # a column may lie in three windows
    for left, right in zip(panels, panels[1:]):
        shared = left.last_window - right.first_window + 1
        assert shared <= (0 if abutting else 1) or more_than_half
    for panel in panels:  # the panel's windows reach every column it writes
        assert axis.start(panel.first_window) <= panel.out_start
        assert axis.start(panel.last_window) + axis.window >= panel.out_end


@SETTINGS
@given(axes(), st.integers(2, 8), st.integers(0, 100))
def test_no_panel_holds_more_columns_than_one_panel_of_the_maximum_width(case, windows, extra):
    """Memory follows the widest panel's span: several panels must not need more than one would (panels are at
    least two windows wide: 4096 px against windows of at most 1024 px by default)."""
    axis, _, _, _ = case
    panel_width = windows * axis.window + extra
    panels = plan_panels(axis, panel_width)
    limit = single_panel_span(axis, panel_width)
    assert max(panel_span(axis, p) for p in panels) <= limit or len(panels) == max(1, axis.count - 1)


def test_a_raster_a_whole_number_of_strides_long_is_tiled_exactly():
    """2048 px, 512 px windows, 128 px overlap: 5 windows, flush at both ends, every stride 384 px."""
    axis = plan_axis(2048, 0, 0, AxisLayout(512, 128, 16))
    assert axis.starts() == [0, 384, 768, 1152, 1536]
    without = plan_axis(4096, 0, 0, AxisLayout(512, 0, 16))
    assert without.starts() == list(range(0, 4096, 512)) and all(without.sides(i) == (0, 0) for i in range(8))


def test_an_extent_inside_the_raster_reads_real_context_and_stays_on_the_rasters_grid():
    axis = plan_axis(1000, 300, 500, AxisLayout(512, 128, 16, reach=72))
    assert axis.start(0) == (300 - 72) // 16 * 16 - 300 == -76
    assert axis.start(axis.count - 1) + 512 >= 1000 + 72
    near_edge = plan_axis(1000, 20, 0, AxisLayout(512, 128, 16, reach=72))
    assert near_edge.start(0) == -20, "no further than the raster's first pixel"
