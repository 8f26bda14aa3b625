"""The run's defaults: overlap from the context margin, the window a dynamic model gets, batch by device."""
from __future__ import annotations

import numpy as np
import pytest

from plugin.core.engine.grid import AreaEdges, aligned_up
from plugin.core.engine.plan import (
    MAX_DYNAMIC_WINDOW,
    MIN_RAMP,
    ModelShape,
    RunOptions,
    auto_overlap,
    dynamic_window_range,
    plan_run,
)
from plugin.core.errors import InputError
from plugin.core.progress import LoggingProgress
from tests.support.engine import BoxPredictor, identity_contract, run_array, whole_pass

DYNAMIC = ModelShape(None, None, (3,))


def contract_with_margin(margin: int | None, multiple: int = 16, tile: int = 128):
    return identity_contract(3, multiple=multiple, tile=tile).with_overrides(context_margin=margin)


def plan_for(contract, options: RunOptions | None = None, shape: ModelShape = DYNAMIC, size: int = 4096,
             provider: str | None = None):
    return plan_run(contract, shape, size, size, options or RunOptions(), LoggingProgress(), provider)


@pytest.mark.parametrize("margin, blending, expected", [
    (20, "smooth", aligned_up(2 * 20 + MIN_RAMP, 16)), (64, "smooth", 144), (20, "crop", 48), (64, "crop", 128),
    (0, "smooth", 0), (0, "crop", 0)])
def test_auto_overlap_is_twice_the_margin_plus_a_ramp(margin, blending, expected):
    plan = plan_for(contract_with_margin(margin), RunOptions(blending=blending))
    assert plan.overlap == expected
    assert plan.margin == (margin if blending == "smooth" else plan.margin)
    if blending == "smooth" and margin:
        assert "from the model's contract" in plan.describe()


def test_a_measured_margin_counts_when_the_contract_has_none():
    shape = ModelShape(None, None, (3,), measured_margin=24)
    plan = plan_for(contract_with_margin(None), shape=shape)
    assert plan.overlap == auto_overlap(24, "smooth", 16) == 64 and plan.margin == 24
    assert "measured" in plan.describe()
    # The contract's own margin wins over a measurement.
    assert plan_for(contract_with_margin(8), shape=shape).margin == 8


def test_without_any_margin_auto_is_a_quarter_of_the_window():
    plan = plan_for(contract_with_margin(None), RunOptions(window_size=512))
    assert plan.overlap == 128 and plan.margin == 32 and "a quarter of the overlap" in plan.describe()


def test_a_given_overlap_is_a_percentage_as_before():
    plan = plan_for(contract_with_margin(64), RunOptions(window_size=512, overlap=12.5))
    assert plan.overlap == 64 and plan.margin == 24 and "limited by the overlap" in plan.describe()


def test_a_margin_too_wide_for_the_window_is_refused_clearly():
    with pytest.raises(InputError, match="context margin .* needs windows overlapping by 528 px"):
        plan_for(contract_with_margin(256), RunOptions(window_size=512))


@pytest.mark.parametrize("provider, expected", [(None, 1), ("CPUExecutionProvider", 1),
                                                ("CUDAExecutionProvider", 4), ("DmlExecutionProvider", 4)])
def test_batch_size_by_device(provider, expected):
    assert plan_for(contract_with_margin(16), provider=provider).batch_size == expected
    assert plan_for(contract_with_margin(16), RunOptions(batch_size=3), provider=provider).batch_size == 3


@pytest.mark.parametrize("size", [700, 1536, 4096, 5000, 16384])
@pytest.mark.parametrize("margin", [0, 16, 64])
def test_a_dynamic_model_gets_the_window_predicting_fewest_pixels(size, margin):
    contract = contract_with_margin(margin)
    chosen = plan_for(contract, size=size)
    costs = {w: plan_for(contract, RunOptions(window_size=w), size=size) for w in dynamic_window_range(contract)}
    cheapest = min(p.grid.window_count * p.window ** 2 for p in costs.values())
    if chosen.grid.window_count > 1:  # (one window over a small area is shrunk to just fit it)
        assert chosen.window in costs and chosen.window <= MAX_DYNAMIC_WINDOW
        assert chosen.grid.window_count * chosen.window ** 2 == cheapest
    total = (chosen.predictions_per_pixel + chosen.padding_per_pixel) * size * size
    assert total == pytest.approx(chosen.grid.window_count * chosen.window ** 2)


def test_without_overlap_each_pixel_is_predicted_once():
    plan = plan_for(contract_with_margin(0), RunOptions(window_size=512), size=4096)
    assert plan.overlap == 0 and plan.reach == 0 and plan.predictions_per_pixel == 1.0 and plan.single_prediction
    assert "64 windows (8 x 8)" in plan.describe()
    assert "1.00 predictions per pixel of the area, 0.00 on padding beyond it" in plan.describe()


def test_a_fixed_model_with_a_trained_networks_margin_needs_no_window_past_the_rasters_edge():
    """The case that was measured against Deepness: 2048 px, a fixed 512 px input, a 55 px margin. The former
    grid (128 px overlap, windows from 64 px before the raster to 64 px past it) ran 6 x 6 = 36 windows, 2.25
    predictions per pixel; flush with the raster's edges 5 x 5 do."""
    shape = ModelShape(512, None, (3,), measured_margin=55)
    plan = plan_for(contract_with_margin(None), shape=shape, size=2048)
    assert plan.overlap == 128 and plan.grid.window_count == 25
    assert plan.grid.columns.starts() == [0, 384, 768, 1152, 1536]
    assert plan.predictions_per_pixel == pytest.approx(25 * 512 ** 2 / 2048 ** 2) and plan.padding_per_pixel == 0


def test_the_plan_counts_padding_apart_from_the_area():
    """A fixed 512 px model over a 300 px raster: every area pixel is predicted once; the rest of the window,
    mirrored past the raster's edge, is padding."""
    plan = plan_for(contract_with_margin(None), shape=ModelShape(512, None, (3,)), size=300)
    assert plan.grid.window_count == 1 and plan.single_prediction and plan.grid.columns.starts() == [0]
    assert plan.predictions_per_pixel == 1.0
    assert plan.padding_per_pixel == pytest.approx((512 ** 2 - 300 ** 2) / 300 ** 2)
    assert "1 windows (1 x 1)" in plan.describe() and "1.00 predictions per pixel of the area, 1.91 on padding" in \
        plan.describe()


def test_an_area_inside_the_raster_reads_real_context_beyond_its_edges():
    contract = contract_with_margin(40)
    plan = plan_run(contract, DYNAMIC, 1000, 800, RunOptions(window_size=512), LoggingProgress(),
                    edges=AreaEdges(300, 0, 500, 20))
    columns, rows = plan.grid.columns, plan.grid.rows
    assert plan.reach == 48 and columns.start(0) == 240 - 300, "48 px of context or more, on the raster's 16 px grid"
    assert columns.start(columns.count - 1) + 512 >= 1048
    assert rows.start(0) == 0, "the top of the area is the raster's edge: flush"
    assert 820 <= rows.start(rows.count - 1) + 512 < 820 + 16, "20 px of real context below, then the raster's end"
    assert plan.padding_per_pixel > 0


def test_a_fixed_model_keeps_its_size():
    plan = plan_for(contract_with_margin(0), shape=ModelShape(512, None, (3,)), size=4096)
    assert plan.window == 512 and plan.grid.window_count == 64


def test_auto_overlap_is_seamless_for_a_model_of_known_reach():
    """A 9 x 9 mean filter needs 4 px of context: with that margin in its contract, the default run equals one
    pass over the whole image (the windows are flush with its edges, as the single pass is)."""
    rng = np.random.default_rng(5)
    data = rng.random((3, 150, 170)).astype(np.float32)
    contract = contract_with_margin(4, multiple=8, tile=32)
    sink, _, plan, _ = run_array(data, BoxPredictor(9), contract, RunOptions(window_size=48, probabilities=True))
    assert plan.overlap == aligned_up(8 + MIN_RAMP, 8)
    np.testing.assert_allclose(sink.probabilities, whole_pass(BoxPredictor(9), data, 8), atol=1e-5)
