"""Per-pixel regression in the pure engine: values are blended (weighted means), not decided as classes.

An identity "regression model" must give back its input exactly wherever windows overlap, for odd raster
sizes, every blending, test-time augmentation and nodata; a context-dependent model blended smoothly must
equal one pass over the whole raster."""
from __future__ import annotations

import numpy as np
import pytest

from plugin.core.areas.window import PixelWindow
from plugin.core.engine.plan import RunOptions
from plugin.core.errors import ModelError
from plugin.core.model.contract import ModelContract
from plugin.core.model.contract_regression import FALLBACK_NODATA, VALUE_NODATA, value_nodata
from plugin.core.segmentation.blended_values import ClippedValueSink, FinishedValues, outside_range
from tests.support.engine import BoxPredictor, IdentityPredictor, regression_contract, run_values, whole_pass


def _values(seed: int, bands: int, height: int, width: int) -> np.ndarray:
    """Continuous values on a wide range (negative, large), as a regression target may hold."""
    return (np.random.default_rng(seed).standard_normal((bands, height, width)) * 1500 + 200).astype(np.float32)


@pytest.mark.parametrize("height, width, window, overlap, blending, tta", [
    (101, 77, 32, 50.0, "smooth", "none"),
    (37, 203, 48, 25.0, "average", "none"),
    (129, 65, 32, 37.5, "crop", "none"),
    (53, 61, 16, 0.0, "smooth", "none"),
    (70, 45, 32, 50.0, "smooth", "d4"),
    (5, 3, 32, None, "smooth", "flips"),
])
def test_an_identity_regression_model_gives_back_its_input_where_windows_overlap(height, width, window, overlap,
                                                                                 blending, tta):
    data = _values(height * width, 2, height, width)
    options = RunOptions(window_size=window, overlap=overlap, blending=blending, tta=tta)
    sink, summary, plan = run_values(data, IdentityPredictor(), regression_contract(2), options)
    assert (sink.writes == 1).all()
    np.testing.assert_allclose(sink.values, data, rtol=2e-6, atol=1e-3)
    assert data.std() > 100  # the values vary: a constant would hide blending errors
    if overlap:
        assert plan.predictions_per_pixel > 1.0  # pixels really were blended from several windows


def test_smooth_blending_of_a_context_model_equals_one_pass_over_the_whole_raster():
    data = _values(3, 1, 120, 90)
    model = BoxPredictor(9)
    reference = whole_pass(model, data, 4)  # windows flush with the raster's edges see its own edges, as one pass
    contract = regression_contract(1, multiple=4).with_overrides(context_margin=8)
    errors = {}
    for blending in ("smooth", "average"):
        sink, *_ = run_values(data, model, contract, RunOptions(window_size=48, overlap=50, blending=blending))
        errors[blending] = float(np.abs(sink.values - reference).max())
    assert errors["smooth"] < 1e-2  # float32 values of about 1500: a few ulps
    assert errors["average"] > 10  # flat weights mix context-starved window edges into the values


def test_nodata_pixels_are_written_as_the_nodata_value_and_the_rest_is_untouched():
    data = _values(5, 1, 90, 80)
    valid = np.ones((90, 80), bool)
    valid[:, :50] = False
    valid[70, 70] = False
    sink, summary, plan = run_values(data, IdentityPredictor(), regression_contract(1),
                                     RunOptions(window_size=32, overlap=25), valid=valid)
    assert (sink.values[0][~valid] == VALUE_NODATA).all()
    np.testing.assert_allclose(sink.values[0][valid], data[0][valid], rtol=2e-6, atol=1e-3)
    assert summary.windows_skipped > 0


def test_a_model_whose_channels_differ_from_its_band_names_is_refused():
    data = _values(1, 2, 40, 40)
    contract = regression_contract(2).to_dict()
    contract["outputs"][0]["band_names"] = ["a", "b", "c"]
    with pytest.raises(ModelError, match="2 channel\\(s\\) but the contract names 3 band"):
        run_values(data, IdentityPredictor(), ModelContract.from_dict(contract), RunOptions(window_size=32, overlap=0))


def test_the_nodata_value_moves_out_of_the_way_of_a_valid_range_holding_it():
    assert value_nodata(regression_contract(1, valid_range=[0, 100])) == VALUE_NODATA
    assert value_nodata(regression_contract(1, valid_range=[-20000, 100])) == FALLBACK_NODATA
    assert value_nodata(regression_contract(1)) == VALUE_NODATA


def test_values_outside_the_valid_range_are_found_and_nodata_is_not_counted():
    values = np.array([[-1.0, 0.0, 5.0], [10.0, 10.5, VALUE_NODATA]], np.float32)
    assert outside_range(values, VALUE_NODATA, (0.0, 10.0)).tolist() == [[True, False, False], [False, True, False]]
    assert not outside_range(values, VALUE_NODATA, None).any()


def test_a_block_run_passes_on_only_the_values_of_its_block():
    written = []

    class Recorder:
        def write(self, part):
            written.append(part)

    sink = ClippedValueSink(Recorder(), PixelWindow(10, 5, 20, 10))
    part = FinishedValues(0, 0, np.arange(2 * 30 * 40, dtype=np.float32).reshape(2, 30, 40), VALUE_NODATA)
    sink.write(part)
    sink.write(FinishedValues(40, 0, np.zeros((2, 5, 5), np.float32), VALUE_NODATA))  # below the block
    assert len(written) == 1 and (written[0].row, written[0].col) == (0, 0)
    assert np.array_equal(written[0].values, part.values[:, 5:15, 10:30])
