"""Properties of the pure engine: exact reconstruction, D4, nodata, streaming (the window grid and its weights:
test_window_grid.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.core.areas.window import PixelWindow
from plugin.core.engine import tta
from plugin.core.engine.plan import RunOptions
from plugin.core.engine.reading import read_padded
from plugin.core.errors import CancelledError, InputError, ModelError
from plugin.core.model.loading import ModelShape
from tests.support.engine import BoxPredictor, IdentityPredictor, identity_contract, run_array, whole_pass

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
    reference = whole_pass(model, data, 4)  # 150 px: the last window ends 2 px past the raster, as the pass pads
    errors = {}
    for blending in ("smooth", "crop", "average"):
        options = RunOptions(window_size=48, overlap=50, blending=blending, probabilities=True)
        contract = identity_contract(2, multiple=4).with_overrides(context_margin=8)
        sink, *_ = run_array(data, model, contract, options)
        errors[blending] = float(np.abs(sink.probabilities - reference).max())
    assert errors["smooth"] < 1e-5 and errors["crop"] < 1e-5  # margins beyond the 4 px context
    assert errors["average"] > 1e-3  # flat weights mix in context-starved edges


@st.composite
def context_runs(draw):
    """A model that looks 4 px around each pixel, with that margin in its contract, over any area of a raster at
    least a window wide and high (a square window over a narrower raster must mirror it)."""
    multiple, window = draw(st.sampled_from([1, 4, 8])), draw(st.sampled_from([32, 40, 48, 64]))
    window = window // multiple * multiple
    width, height = draw(st.integers(1, 170)), draw(st.integers(1, 130))
    col, row = draw(st.integers(0, 40)), draw(st.integers(0, 40))
    raster = (max(window, height + row + draw(st.integers(0, 40))), max(window, width + col + draw(st.integers(0, 40))))
    return dict(raster=raster, area=PixelWindow(col, row, width, height), window=window, multiple=multiple,
                blending=draw(st.sampled_from(["smooth", "crop"])), seed=draw(st.integers(0, 10_000)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(context_runs())
def test_a_run_equals_one_pass_of_a_context_model_over_the_whole_raster(params):
    """Windows flush with the raster's edges give its edge pixels what one pass over the whole raster gives them
    (the network's own edge, not a mirrored one); inside, blending beyond the margin leaves no seam; an EXTENT
    inside the raster reads real context, so its edge pixels too are the whole pass's."""
    data = np.random.default_rng(params["seed"]).random((2, *params["raster"])).astype(np.float32)
    multiple = params["multiple"]
    contract = identity_contract(2, multiple=multiple, tile=16).with_overrides(context_margin=4)
    options = RunOptions(window_size=params["window"], blending=params["blending"], probabilities=True)
    area = params["area"]
    sink, _, plan, _ = run_array(data, BoxPredictor(9), contract, options, area=area)
    assert (sink.writes == 1).all()
    reference = whole_pass(BoxPredictor(9), data, multiple)[:, area.row:area.row_end, area.col:area.col_end]
    np.testing.assert_allclose(sink.probabilities, reference, atol=2e-6)


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
    nodata_columns = sum(1 for start in plan.grid.columns.starts() if start + 32 <= 60)  # windows inside the nodata
    assert nodata_columns == 2 and summary.windows_skipped == nodata_columns * plan.grid.rows.count
    assert summary.windows_run == plan.grid.window_count - summary.windows_skipped
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
