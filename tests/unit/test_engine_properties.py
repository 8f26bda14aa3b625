"""Properties of the pure engine: coverage, weights, exact reconstruction, D4, nodata, streaming."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.core.engine import tta
from plugin.core.engine.blending import axis_weights
from plugin.core.engine.grid import AxisGrid, plan_panels
from plugin.core.engine.plan import RunOptions
from plugin.core.engine.reading import read_padded
from plugin.core.errors import CancelledError, InputError, ModelError
from plugin.core.model.loading import ModelShape
from tests.support.engine import BoxPredictor, IdentityPredictor, identity_contract, run_array

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def axes(draw):
    window = draw(st.sampled_from([16, 32, 48, 64, 96]))
    overlap = draw(st.integers(0, window // 2)) // 4 * 4
    pad = draw(st.integers(0, max(overlap // 2, 0)))
    return AxisGrid(draw(st.integers(1, 700)), window, window - overlap, pad)


@SETTINGS
@given(axes())
def test_windows_cover_the_axis_with_the_padding_on_both_sides(axis):
    starts = axis.starts()
    assert starts[0] == -axis.pad
    assert starts[-1] + axis.window >= axis.length + axis.pad
    assert all(b - a == axis.stride for a, b in zip(starts, starts[1:]))


@SETTINGS
@given(axes(), st.sampled_from(["smooth", "crop", "average"]))
def test_summed_weights_are_positive_everywhere_and_exactly_one_for_smooth_and_crop(axis, mode):
    margin = min(axis.pad, max(0, (axis.overlap - 2) // 2))
    total = np.zeros(axis.length + 2 * axis.window)
    for index, start in enumerate(axis.starts()):
        weights = axis_weights(mode, axis.window, axis.overlap, margin, index == 0, index == axis.count - 1)
        total[start + axis.window: start + 2 * axis.window] += weights  # shifted by one window
    inside = total[axis.window: axis.window + axis.length]
    assert (inside > 0).all()
    if mode != "average":
        np.testing.assert_allclose(inside, 1.0, atol=1e-6)


@SETTINGS
@given(axes(), st.integers(40, 400))
def test_panels_partition_the_columns_and_share_at_most_one_window(axis, panel_width):
    panels = plan_panels(axis, panel_width)
    assert panels[0].out_start == 0 and panels[-1].out_end == axis.length
    assert all(a.out_end == b.out_start for a, b in zip(panels, panels[1:]))
    for left, right in zip(panels, panels[1:]):
        shared = left.last_window - right.first_window + 1
        assert shared <= (1 if axis.overlap else 0)
    for panel in panels:  # the panel's windows reach every column it writes
        assert axis.start(panel.first_window) <= panel.out_start
        assert axis.start(panel.last_window) + axis.window >= panel.out_end


@SETTINGS
@given(axes(), st.integers(40, 400))
def test_no_panel_holds_more_columns_than_one_panel_of_the_maximum_width(axis, panel_width):
    """Memory follows the widest panel's span: several panels must not need more than one would."""
    single = AxisGrid(min(panel_width, axis.length), axis.window, axis.stride, axis.pad)
    limit = single.start(single.count - 1) + axis.window - single.start(0)
    panels = plan_panels(axis, panel_width)
    spans = [axis.start(p.last_window) + axis.window - axis.start(p.first_window) for p in panels]
    assert max(spans) <= limit or len(panels) == max(1, axis.count - 1)


@pytest.mark.parametrize("transform", range(8))
def test_d4_transforms_round_trip_and_are_distinct(transform):
    batch = np.random.default_rng(transform).random((2, 3, 7, 7)).astype(np.float32)
    assert np.array_equal(tta.inverse(tta.forward(batch, transform), transform), batch)
    images = {tta.forward(batch, t).tobytes() for t in range(8)}
    assert len(images) == 8


@pytest.mark.parametrize("mode", ["flips", "d4"])
def test_tta_merge_of_an_equivariant_model_is_the_plain_prediction(mode):
    batch = np.random.default_rng(1).random((3, 2, 8, 8)).astype(np.float32)
    transforms = tta.transforms_for(mode)
    expanded = tta.expand(batch, transforms)
    assert len(expanded) == len(transforms) * 3
    np.testing.assert_allclose(tta.merge(expanded.copy(), transforms), batch, atol=1e-7)


@SETTINGS
@given(st.integers(0, 2), st.integers(0, 2))
def test_mirror_padding_reflects_about_the_raster_edge_even_beyond_its_size(top_extra, left_extra):
    from tests.support.engine import ArraySource

    data = np.arange(3 * 5, dtype=np.float32).reshape(1, 3, 5)
    raw, valid = read_padded(ArraySource(data), -4 - top_extra, -6 - left_extra, 12, 15)
    assert raw.shape == (1, 12, 15) and valid.all()
    rows = np.array([np.pad(np.arange(3), 20, mode="reflect")[20 - 4 - top_extra + i] for i in range(12)])
    cols = np.array([np.pad(np.arange(5), 30, mode="reflect")[30 - 6 - left_extra + j] for j in range(15)])
    np.testing.assert_array_equal(raw[0], data[0][rows][:, cols])


@st.composite
def runs(draw):
    return dict(
        height=draw(st.integers(1, 150)) | 1, width=draw(st.integers(1, 190)) | 1,
        window=draw(st.sampled_from([16, 32, 64])), overlap=draw(st.sampled_from([0, 12.5, 25, 50])),
        blending=draw(st.sampled_from(["smooth", "average", "crop"])),
        tta=draw(st.sampled_from(["none", "flips", "d4"])), batch=draw(st.integers(1, 5)),
        panel=draw(st.sampled_from([48, 100, 4096])), multiple=draw(st.sampled_from([1, 8, 16])),
        seed=draw(st.integers(0, 10_000)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_identity_model_reproduces_its_input_exactly_for_odd_sizes(params):
    rng = np.random.default_rng(params["seed"])
    data = rng.random((3, params["height"], params["width"])).astype(np.float32)
    options = RunOptions(window_size=params["window"], overlap=params["overlap"], blending=params["blending"],
                         tta=params["tta"], batch_size=params["batch"], probabilities=True, confidence=True,
                         max_panel_width=params["panel"])
    sink, summary, plan, _ = run_array(data, IdentityPredictor(), identity_contract(3, params["multiple"]), options)
    assert (sink.writes == 1).all(), "every pixel written exactly once"
    assert np.array_equal(sink.classes[0], data.argmax(0))
    np.testing.assert_allclose(sink.probabilities, data, atol=2e-6)
    np.testing.assert_allclose(sink.confidence[0], data.max(0), atol=2e-6)
    assert summary.windows_run == plan.grid.window_count and summary.windows_skipped == 0
    classes_only = RunOptions(window_size=params["window"], overlap=params["overlap"], blending=params["blending"],
                              tta=params["tta"], batch_size=params["batch"], max_panel_width=params["panel"])
    sink_classes, *_ = run_array(data, IdentityPredictor(), identity_contract(3, params["multiple"]), classes_only)
    assert np.array_equal(sink_classes.classes, sink.classes)  # classes decided per window when nothing blends


def test_raster_smaller_than_one_window_uses_one_small_window():
    data = np.random.default_rng(3).random((2, 5, 7)).astype(np.float32)
    sink, summary, plan, _ = run_array(data, IdentityPredictor(), identity_contract(2, 16, tile=256),
                                       RunOptions(probabilities=True))
    assert plan.grid.window_count == 1 and plan.window < 256 and plan.window % 16 == 0
    np.testing.assert_allclose(sink.probabilities, data, atol=1e-6)


def test_smooth_blending_matches_a_single_full_pass_of_a_context_model_where_crop_and_average_do_not():
    rng = np.random.default_rng(5)
    data = rng.random((2, 120, 150)).astype(np.float32)
    model = BoxPredictor(9)
    reference = model.predict(np.pad(data, ((0, 0), (40, 40), (40, 40)), mode="reflect")[None])[0][0, :, 40:-40, 40:-40]
    errors = {}
    for blending in ("smooth", "crop", "average"):
        options = RunOptions(window_size=48, overlap=50, blending=blending, probabilities=True)
        contract = identity_contract(2, multiple=4).with_overrides(context_margin=8)
        sink, *_ = run_array(data, model, contract, options)
        errors[blending] = float(np.abs(sink.probabilities - reference).max())
    assert errors["smooth"] < 1e-5 and errors["crop"] < 1e-5  # margins beyond the 4 px context
    assert errors["average"] > 1e-3  # flat weights mix in context-starved edges


def test_nodata_pixels_are_written_as_nodata_and_all_nodata_windows_are_not_run():
    data = np.random.default_rng(7).random((2, 100, 100)).astype(np.float32)
    valid = np.ones((100, 100), bool)
    valid[:, :60] = False  # the left 60 columns: nodata
    valid[80, 80] = False
    predictor = IdentityPredictor()
    options = RunOptions(window_size=32, overlap=0, probabilities=True)
    sink, summary, plan, _ = run_array(data, predictor, identity_contract(2), options, valid=valid)
    assert (sink.classes[0][~valid] == 255).all() and (sink.probabilities[:, ~valid] == -1).all()
    assert np.array_equal(sink.classes[0][valid], data.argmax(0)[valid])
    assert summary.windows_skipped == 4 * 1 and summary.windows_run == plan.grid.window_count - 4
    assert sum(predictor.batches) == summary.windows_run


def test_threshold_on_a_single_sigmoid_channel():
    data = np.linspace(0, 1, 40 * 50, dtype=np.float32).reshape(1, 40, 50)
    contract = identity_contract(1, threshold=0.7)
    sink, *_ = run_array(data, IdentityPredictor(), contract, RunOptions(window_size=16, overlap=25))
    assert np.array_equal(sink.classes[0], (data[0] >= 0.7).astype(int))


def test_memory_depends_on_width_and_window_not_height():
    data_short = np.zeros((2, 200, 300), np.float32)
    data_tall = np.zeros((2, 900, 300), np.float32)
    shapes = []
    for data in (data_short, data_tall):
        _, _, _, source = run_array(data, IdentityPredictor(), identity_contract(2),
                                    RunOptions(window_size=32, overlap=25, max_panel_width=128))
        shapes.append(max(h * w for _, _, w, h in source.reads))
    assert shapes[0] == shapes[1]  # the largest read is one strip of one panel, whatever the height


def test_cancelling_stops_the_run():
    from plugin.core.areas.window import PixelWindow
    from plugin.core.engine.plan import plan_run
    from plugin.core.progress import LoggingProgress
    from plugin.core.segmentation.run import segment
    from tests.support.engine import ArraySink, ArraySource

    data = np.zeros((2, 200, 200), np.float32)
    progress = LoggingProgress()
    progress.cancel()
    contract = identity_contract(2)
    plan = plan_run(contract, ModelShape(None, None, (2,)), 200, 200, RunOptions(window_size=32), progress)
    with pytest.raises(CancelledError):
        segment(ArraySource(data), IdentityPredictor(), ArraySink(200, 200, 1, 2), contract,
                PixelWindow(0, 0, 200, 200), plan, progress)


@pytest.mark.parametrize("options, error, message", [
    (RunOptions(window_size=48), ModelError, "needs multiples of 32"),
    (RunOptions(blending="feather"), InputError, "BLENDING 'feather' is not known"),
    (RunOptions(overlap=95), InputError, "OVERLAP must be from 0 to 90"),
])
def test_bad_options_fail_before_any_work(options, error, message):
    contract = identity_contract(2, multiple=32)
    with pytest.raises(error, match=message):
        run_array(np.zeros((2, 10, 10), np.float32), IdentityPredictor(), contract, options)


def test_fixed_size_model_refuses_another_window():
    contract = identity_contract(2)
    with pytest.raises(ModelError, match="fixed at 64 x 64"):
        run_array(np.zeros((2, 10, 10), np.float32), IdentityPredictor(), contract, RunOptions(window_size=32),
                  shape=ModelShape(64, None, (2,)))


@pytest.mark.parametrize("values", [[5, 6, 7], [3, 7, 200], [0, 1, 2]])
def test_classes_decided_per_window_take_the_contract_values(values):
    """With nothing to blend, each pixel's class value is the contract's value of its best channel, whether the
    values are consecutive (computed by an offset) or not (looked up)."""
    data = np.random.default_rng(3).random((3, 40, 56)).astype(np.float32)
    contract = identity_contract(3).with_overrides(outputs=[{
        "kind": "probabilities", "classes": [{"value": v, "name": f"c{v}"} for v in values]}])
    sink, *_ = run_array(data, IdentityPredictor(), contract, RunOptions(window_size=16, overlap=0))
    assert np.array_equal(sink.classes[0], np.array(values)[data.argmax(0)])
