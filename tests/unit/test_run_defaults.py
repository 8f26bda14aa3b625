"""The run's defaults: overlap from the context margin, the window a dynamic model gets, batch by device."""
from __future__ import annotations

import numpy as np
import pytest

from plugin.core.engine.grid import aligned_up
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
from tests.support.engine import BoxPredictor, identity_contract, run_array

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
    assert chosen.predictions_per_pixel * size * size == pytest.approx(chosen.grid.window_count * chosen.window ** 2)


def test_without_overlap_each_pixel_is_predicted_once():
    plan = plan_for(contract_with_margin(0), RunOptions(window_size=512), size=4096)
    assert plan.overlap == 0 and plan.pad == 0 and plan.predictions_per_pixel == 1.0
    assert "each pixel predicted 1.00 times" in plan.describe()


def test_a_fixed_model_keeps_its_size():
    plan = plan_for(contract_with_margin(0), shape=ModelShape(512, None, (3,)), size=4096)
    assert plan.window == 512 and plan.grid.window_count == 64


def test_auto_overlap_is_seamless_for_a_model_of_known_reach():
    """A 9 x 9 mean filter needs 4 px of context: with that margin in its contract, the default run equals one
    pass over the whole image (mirrored at the border, as the engine pads)."""
    rng = np.random.default_rng(5)
    data = rng.random((3, 150, 170)).astype(np.float32)
    contract = contract_with_margin(4, multiple=8, tile=32)
    sink, _, plan, _ = run_array(data, BoxPredictor(9), contract, RunOptions(window_size=48, probabilities=True))
    assert plan.overlap == aligned_up(8 + MIN_RAMP, 8)
    reference = BoxPredictor(9).predict(np.pad(data, ((0, 0), (8, 8), (8, 8)), mode="reflect")[None])[0][0]
    np.testing.assert_allclose(sink.probabilities, reference[:, 8:-8, 8:-8], atol=1e-5)
