"""Block runs (plugin.core.engine.blocks) against one run over the whole area, on the pure engine: a context-dependent
predictor (a box filter, whose value at a pixel depends on its neighbours, as a CNN's does), every blending,
overlaps, test-time augmentation, nodata, areas inside a larger raster and blocks of many sizes. The
probabilities must be bitwise equal, so the classes are identical."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.core.areas.window import PixelWindow
from plugin.core.engine.blocks import (
    Span,
    block_edges,
    block_plan,
    default_block_size,
    halo_share,
    plan_blocks,
    touching_windows,
)
from plugin.core.engine.grid import AxisLayout, plan_axis
from plugin.core.engine.plan import RunOptions, plan_run
from plugin.core.engine.reading import area_edges
from plugin.core.model.loading import ModelShape
from plugin.core.progress import LoggingProgress
from plugin.core.segmentation.outputs import ClippedSink
from plugin.core.segmentation.run import segment
from tests.support.engine import ArraySink, ArraySource, BoxPredictor, identity_contract

SHAPE = ModelShape(None, None, (3,))


def _whole_and_blocks(data, valid, area, options, block_size):
    contract = identity_contract(3, multiple=8)
    progress = LoggingProgress()
    source = ArraySource(data, valid)
    plan = plan_run(contract, SHAPE, area.width, area.height, options, progress, edges=area_edges(source, area))
    whole = ArraySink(area.height, area.width, 1, 3)
    segment(source, BoxPredictor(5), whole, contract, area, plan, progress)
    layout = plan_blocks(plan, block_size)
    assembled = ArraySink(area.height, area.width, 1, 3)
    for block in layout.blocks:
        run_area, _ = block.in_raster(area)
        local = PixelWindow(block.window.col - block.run_area.col, block.window.row - block.run_area.row,
                            block.window.width, block.window.height)
        part = ArraySink(block.window.height, block.window.width, 1, 3)
        segment(source, BoxPredictor(5), ClippedSink(part, local), contract, run_area, block_plan(plan, block),
                progress)
        assert (part.writes == 1).all(), "every pixel of a block is written once"
        window = block.window
        rows, cols = slice(window.row, window.row_end), slice(window.col, window.col_end)
        assembled.classes[:, rows, cols] = part.classes
        assembled.probabilities[:, rows, cols] = part.probabilities
        assembled.writes[rows, cols] += 1
    assert (assembled.writes == 1).all(), "the blocks tile the area"
    return whole, assembled, layout


def _data(seed: int, height: int, width: int, nodata: bool):
    rng = np.random.default_rng(seed)
    data = rng.random((3, height, width)).astype(np.float32)
    valid = None
    if nodata:
        valid = np.ones((height, width), bool)
        valid[rng.integers(0, height, 40), rng.integers(0, width, 40)] = False
        valid[: height // 5, : width // 4] = False  # a nodata corner
    return data, valid


@pytest.mark.parametrize("blending", ["smooth", "average", "crop"])
@pytest.mark.parametrize("overlap, tta", [(25, "none"), (50, "flips"), (0, "none")])
def test_blocks_give_the_whole_run_bit_for_bit(blending, overlap, tta):
    data, valid = _data(1, 150, 230, nodata=True)
    options = RunOptions(window_size=48, overlap=overlap, blending=blending, tta=tta, batch_size=3,
                         probabilities=True, max_panel_width=96)
    whole, blocks, layout = _whole_and_blocks(data, valid, PixelWindow(0, 0, 230, 150), options, 64)
    assert len(layout.blocks) > 4
    assert np.array_equal(whole.classes, blocks.classes)
    assert np.array_equal(whole.probabilities, blocks.probabilities, equal_nan=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 1000), window=st.sampled_from([16, 32, 48, 64]), overlap=st.sampled_from([0, 25, 40, 60]),
       blending=st.sampled_from(["smooth", "average", "crop"]), block=st.integers(8, 200),
       area=st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(1, 170), st.integers(1, 140)),
       nodata=st.booleans())
def test_any_layout_gives_the_whole_run_bit_for_bit(seed, window, overlap, blending, block, area, nodata):
    """An area anywhere in the raster (an EXTENT: real pixels around it are context), any block size."""
    col, row, width, height = area
    data, valid = _data(seed, row + height + 17, col + width + 23, nodata)
    options = RunOptions(window_size=window, overlap=overlap, blending=blending, probabilities=True)
    whole, blocks, _ = _whole_and_blocks(data, valid, PixelWindow(col, row, width, height), options, block)
    assert np.array_equal(whole.classes, blocks.classes)
    assert np.array_equal(whole.probabilities, blocks.probabilities, equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 3000), before=st.integers(0, 300), after=st.integers(0, 300),
       window=st.sampled_from([64, 128, 256, 512]), overlap_quarters=st.integers(0, 3), offset=st.sampled_from([0, 4]),
       block=st.integers(1, 1500))
def test_block_runs_use_exactly_the_whole_runs_windows_that_touch_the_block(length, before, after, window,
                                                                           overlap_quarters, offset, block):
    overlap = max(window * overlap_quarters // 4, 16 if offset else 0)
    axis = plan_axis(length, before, after, AxisLayout(window, overlap, 16, overlap // 2, offset))
    edges = block_edges(axis, block, offset)
    assert edges[0] == 0 and edges[-1] == length and all(a < b for a, b in zip(edges, edges[1:]))
    for start, end in zip(edges, edges[1:]):
        first, last = touching_windows(axis, Span(start, end), offset)
        touching = [i for i in range(axis.count)
                    if axis.start(i) + offset < end and axis.start(i) + window - offset > start]
        assert touching == list(range(first, last + 1))
        sub = axis.sub_grid(first, last, start, end - start)
        assert [sub.sides(i) for i in range(sub.count)] == [axis.sides(i) for i in touching]


def test_block_edges_fall_where_windows_end_so_each_block_needs_the_fewest_windows():
    axis = plan_axis(512 + 384 * 50, 0, 0, AxisLayout(512, 128, 16))  # 512 px windows, 25 % overlap, 51 of them
    assert {b - a for a, b in zip(axis.starts(), axis.starts()[1:])} == {384}
    edges = block_edges(axis, 3456)
    ends = {axis.start(i) + axis.window for i in range(axis.count)}
    assert all(edge in ends for edge in edges[1:-1])
    first, last = touching_windows(axis, Span(edges[1], edges[2]))
    assert last - first + 1 == 3456 // 384 + 1  # q + ceil(512 / 384) - 1


def test_the_default_block_streams_as_one_panel_and_its_halo_share_is_as_computed():
    options = RunOptions(window_size=512)  # 25 % overlap (the model gives no margin)
    size = 512 + 384 * 50
    plan = plan_run(identity_contract(3, multiple=16, tile=512), SHAPE, size, size, options, LoggingProgress())
    block = default_block_size(plan)
    stride = plan.grid.columns.stride
    assert block % stride == 0 and block == 3840  # 10 strides of 384 px
    layout = plan_blocks(plan, block)
    inner = [b for b in layout.blocks if 0 < b.row < layout.rows - 1 and 0 < b.col < layout.cols - 1]
    for b in inner:
        run = block_plan(plan, b)
        assert len(run.grid.panels) == 1 and b.window.width <= 4096
        assert run.widest_panel() == (block // stride + 1) * stride + plan.window - stride  # the block and its halo
    assert inner[0].windows == pytest.approx((block // stride) ** 2 * (1 + halo_share(plan.window, stride, block)))
    assert 0 < layout.recompute_share < 0.5
