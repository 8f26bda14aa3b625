"""The regression section of the training configuration: what is refused, with a message saying what to give, and
the losses on standardised targets with the pixels without a target left out. Quick: nothing is trained."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from plugin.core.errors import InputError
from training import api
from training.config import from_mapping
from training.regression.data import TargetSpec
from training.regression.loss import RegressionLoss

BASE = {"data": {"image": "image.tif"}, "regression": {"target": "values.tif"}}


def _settings(**sections: dict) -> dict:
    settings = {name: dict(values) for name, values in BASE.items()}
    for name, values in sections.items():
        settings.setdefault(name, {}).update(values)
    return settings


def test_a_regression_section_makes_a_regression_configuration():
    config = from_mapping(_settings())
    assert config.is_regression and not config.is_detection
    assert config.regression.loss == "huber" and config.regression.objective == "r2"


@pytest.mark.parametrize("sections, message", [
    ({"data": {"label_raster": "labels.tif"}}, "not both"),
    ({"data": {"image": None}}, "data.image is missing"),
    ({"model": {"architecture": "retinanet"}}, "not a per-pixel network"),
    ({"regression": {"loss": "l3"}}, "regression.loss is 'l3'; use one of l1, l2, huber"),
    ({"regression": {"objective": "accuracy"}}, "use one of r2, rmse, mae"),
    ({"regression": {"bands": [2, 2]}}, "distinct band numbers"),
    ({"regression": {"bands": [1, 2], "names": ["nir"]}}, "one name per band"),
    ({"regression": {"valid_range": [5, 1]}}, "low < high"),
    ({"regression": {"huber_delta": 0}}, "regression.huber_delta must be from 1e-06"),
    ({"validation": {"holdout": False}}, "validation.holdout false is not available"),
])
def test_what_regression_training_cannot_use_is_refused_with_what_to_do(sections, message):
    with pytest.raises(InputError) as caught:
        from_mapping(_settings(**sections))
    assert message in str(caught.value)


def test_a_target_raster_that_does_not_exist_is_named(tmp_path, s2_crop):
    config = from_mapping(_settings(data={"image": str(s2_crop["image"])},
                                    regression={"target": str(tmp_path / "missing.tif")},
                                    output={"folder": str(tmp_path / "out")}))
    with pytest.raises(InputError) as caught:
        api.train(config)
    assert "missing.tif" in str(caught.value)


def test_a_target_without_any_value_over_the_image_is_refused(tmp_path, s2_crop):
    from osgeo import gdal

    empty = tmp_path / "empty.tif"
    gdal.Translate(str(empty), str(s2_crop["image"]), bandList=[4], noData=0, scaleParams=[[0, 65535, 0, 0]])
    config = from_mapping(_settings(data={"image": str(s2_crop["image"])}, regression={"target": str(empty)},
                                    output={"folder": str(tmp_path / "out")}))
    with pytest.raises(InputError) as caught:
        api.train(config)
    assert "no value where the image is" in str(caught.value)


@pytest.mark.parametrize("kind, expected", [("l1", (0.5 + 2.0) / 2), ("l2", (0.25 + 4.0) / 2),
                                            ("huber", (0.5 * 0.25 + (2.0 - 0.5)) / 2)])
def test_losses_leave_out_pixels_without_a_target(kind, expected):
    predicted = torch.tensor([[[[0.5, 2.0, 9.0]]]])
    target = torch.tensor([[[[0.0, 0.0, math.nan]]]])
    assert float(RegressionLoss(kind, 1.0)(predicted, target)) == pytest.approx(expected)


def test_a_batch_without_any_target_gives_a_zero_loss_that_still_backpropagates():
    predicted = torch.ones(1, 1, 2, 2, requires_grad=True)
    loss = RegressionLoss("l2")(predicted, torch.full((1, 1, 2, 2), math.nan))
    loss.backward()
    assert float(loss.detach()) == 0.0 and predicted.grad is not None


def test_targets_are_standardised_per_band_and_nan_stays_nan():
    spec = TargetSpec(("a", "b"), "m", None, (10.0, 0.0), (2.0, 4.0))
    values = np.array([[[12.0, math.nan]], [[8.0, -4.0]]], np.float32)
    standardised = spec.standardise(values)
    assert standardised[0, 0, 0] == 1.0 and math.isnan(standardised[0, 0, 1])
    assert list(standardised[1, 0]) == [2.0, -1.0]


@pytest.mark.parametrize("command, message", [
    (["evaluate", "--model", "model.onnx"], "seamless:evaluate (KIND=values)"),
    (["tune", "--trials", "2"], "tune does not search regression models"),
])
def test_commands_that_do_not_take_a_regression_model_say_what_to_use(command, message, capsys):
    from training.__main__ import main

    arguments = [*command, "--image", "image.tif", "--set", "regression.target=values.tif", "--quiet"]
    assert main(arguments) == 2
    assert message in capsys.readouterr().err
