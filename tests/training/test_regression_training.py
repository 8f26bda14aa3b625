"""A regression model trained on real Sentinel-2 pixels (near-infrared, B08, predicted from B02, B03 and B04 of the
same crop), exported with its regression contract and run by the plugin's classify job: values in the target's
units, MAE, RMSE, R² and bias in the report and the contract, and the value raster written with units and nodata.
The network is tiny and trains for a few steps, so the figures are poor; what is checked is that each part works."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from osgeo import gdal

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.core.accuracy.regression_metrics import RegressionAccumulator
from plugin.core.model.contract_regression import REGRESSION_KIND
from plugin.core.model.loading import load_model
from plugin.core.progress import LoggingProgress
from training import api
from training.__main__ import main
from training.config import from_mapping
from training.regression.api import RegressionOutcome

pytestmark = pytest.mark.slow
UNITS = "reflectance x 10000"


def regression_settings(image: Path, output: Path, **sections: dict) -> dict:
    """A seconds-long run: B08 learnt from B02, B03, B04 by a U-Net of depth 2 and width 8 (without batch
    normalisation, whose running statistics would not settle in nine steps)."""
    settings = {
        "data": {"image": str(image), "bands": [1, 2, 3], "band_names": ["B02", "B03", "B04"], "chip_size": 64,
                 "stride": 64},
        "regression": {"target": str(image), "bands": [4], "names": ["B08"], "units": UNITS,
                       "valid_range": [0, 10000], "loss": "huber"},
        "validation": {"fraction": 0.25, "block_size": 128, "forest_trees": 10},
        "model": {"architecture": "unet", "depth": 2, "width": 8, "batch_norm": False},
        "training": {"epochs": 3, "batch_size": 8, "steps_per_epoch": 3, "learning_rate": 0.01, "seed": 3},
        "output": {"folder": str(output)},
    }
    for name, values in sections.items():
        settings.setdefault(name, {}).update(values)
    return settings


@pytest.fixture(scope="module")
def trained(s2_crop, tmp_path_factory) -> RegressionOutcome:
    folder = tmp_path_factory.mktemp("regression")
    outcome = api.train(from_mapping(regression_settings(s2_crop["image"], folder / "run")), LoggingProgress())
    assert isinstance(outcome, RegressionOutcome)
    return outcome


def _band(path: Path, band: int) -> np.ndarray:
    dataset = gdal.Open(str(path))
    return dataset.GetRasterBand(band).ReadAsArray().astype(np.float64)


def test_the_contract_declares_a_regression_output_with_units_range_and_figures(trained):
    contract = load_model(str(trained.model_path), "cpu").contract
    output = contract.outputs[0]
    assert output.kind == REGRESSION_KIND and output.regression is not None
    assert list(output.regression.band_names) == ["B08"] and output.regression.units == UNITS
    assert output.regression.valid_range == (0.0, 10000.0)
    assert contract.input.bands == 3 and list(contract.input.band_names) == ["B02", "B03", "B04"]
    figures = contract.provenance["validation"]["bands"]["B08"]
    assert set(figures) >= {"mae", "rmse", "r2", "bias"}
    assert figures["rmse"] >= figures["mae"] > 0
    assert figures == pytest.approx({k: v for k, v in trained.metrics.items()} | {"count": figures["count"]})


def test_training_lowers_the_loss_and_keeps_the_best_validated_epoch(trained):
    history = trained.fit.history
    assert len(history) == 3
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    best = max(history, key=lambda h: h["r2"])
    assert trained.fit.best_epoch == best["epoch"] and trained.metrics["r2"] == pytest.approx(best["r2"])


def test_the_report_gives_mae_rmse_r2_bias_a_scatter_plot_and_the_forest_beside_the_network(trained):
    document = json.loads(trained.report_path.with_suffix(".json").read_text())
    scores = document["validation"]["bands"]["B08"]
    assert scores["mae"] == pytest.approx(trained.metrics["mae"]) and scores["bias"] == pytest.approx(
        trained.metrics["bias"])
    page = trained.report_path.read_text()
    assert "R²" in page and "RMSE" in page and "data:image/png;base64" in page and UNITS in page
    assert (trained.report_path.parent / "scatter_1.png").exists()
    forest = document["baselines"]["random_forest"]
    assert forest["trees"] == 10 and forest["bands"]["B08"]["count"] == scores["count"]  # the same pixels
    assert forest["bands"]["B08"]["r2"] > 0  # B08 from B02-B04 per pixel: real skill, measured the same way
    assert "Pixel random forest" in page and document["baselines"]["verdict"]


def test_the_exported_model_outputs_values_in_the_targets_units(trained, s2_crop):
    """Not standardised values: the network's outputs are scaled back inside the graph."""
    contract = load_model(str(trained.model_path), "cpu").contract
    image = np.stack([_band(s2_crop["image"], b) for b in (1, 2, 3)])[:, :128, :128]
    mean = np.array(contract.input.mean)[:, None, None]
    std = np.array(contract.input.std)[:, None, None]
    session = onnxruntime.InferenceSession(str(trained.model_path), providers=["CPUExecutionProvider"])
    values = session.run(None, {"image": ((image - mean) / std).astype(np.float32)[None]})[0][0, 0]
    target = _band(s2_crop["image"], 4)[:128, :128]
    assert abs(values.mean() - target.mean()) < target.std()  # standardised values would lie near 0


def test_classify_runs_the_trained_model_into_a_value_raster(trained, s2_crop, tmp_path):
    output = tmp_path / "b08.tif"
    result = classify(ClassifyRequest(input_path=str(s2_crop["image"]), bands=[1, 2, 3],
                                      model_path=str(trained.model_path), output_path=str(output), device="cpu"),
                      LoggingProgress())
    assert result.values is not None and result.values.bands[0].units == UNITS
    dataset = gdal.Open(str(output))
    band = dataset.GetRasterBand(1)
    assert gdal.GetDataTypeName(band.DataType) == "Float32" and band.GetNoDataValue() == -9999
    assert band.GetUnitType() == UNITS
    predicted, target = band.ReadAsArray().astype(np.float64), _band(s2_crop["image"], 4)
    assert predicted.shape == target.shape and np.isfinite(predicted).all() and (predicted != -9999).all()
    assert abs(predicted.mean() - target.mean()) < target.std()
    # The figures of the plugin's one implementation of the metrics, on the whole crop.
    accumulator = RegressionAccumulator()
    accumulator.update(predicted, target, np.ones(target.shape, bool))
    scores = accumulator.result()
    assert scores.count == target.size
    assert scores.bias == pytest.approx(predicted.mean() - target.mean(), rel=1e-6)


def test_the_command_line_trains_a_resnet_fcn_and_prints_the_figures(s2_crop, tmp_path, capsys):
    settings = regression_settings(s2_crop["image"], tmp_path / "cli", training={"epochs": 1, "steps_per_epoch": 2},
                                   regression={"loss": "l1"}, validation={"forest_trees": 0})
    config = tmp_path / "regression.json"
    config.write_text(json.dumps(settings))
    assert main(["train", "--config", str(config), "--architecture", "resnet18_fcn", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "validation B08: MAE" in printed and "R²" in printed and f"({UNITS})" in printed
    contract = load_model(str(tmp_path / "cli" / "model.onnx"), "cpu").contract
    assert contract.provenance["architecture"]["architecture"] == "resnet18_fcn"
    assert contract.outputs[0].kind == REGRESSION_KIND and contract.provenance["regression"]["loss"] == "l1"
