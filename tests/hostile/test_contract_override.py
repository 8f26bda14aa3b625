"""A CONTRACT sidecar that sets the normalisation is what the model is fed with, whatever metadata the model file
carries, and the log says what was applied.

The network is the bundled trained 4-band U-Net, saved three ways: with its embedded contract (its own per-band
mean and std), with Deepness keys (``standardization_mean`` and ``_std``, pixel / 255 implied) and with no
metadata at all (pixel / 255 implied). Each is given the sidecar ``{"input": {"scale": 1, "mean": 0, "std": 1}}``
(raw values) and must give what onnxruntime gives for the network on the raw pixels."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from osgeo import gdal

from tests.cli.helpers import cli
from tests.hostile.helpers import BUNDLED_MODEL

RAW_SIDECAR = {"input": {"scale": 1, "mean": 0, "std": 1}}
DEEPNESS = {"model_type": '"Segmentor"', "standardization_mean": "[0.485, 0.456, 0.406, 0.5]",
            "standardization_std": "[0.229, 0.224, 0.225, 0.25]",
            "class_names": json.dumps({str(i): f"class {i}" for i in range(8)})}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("layouts")
    network = onnx.load(str(BUNDLED_MODEL))
    paths = {"embedded contract": folder / "embedded.onnx"}
    onnx.save(network, str(paths["embedded contract"]))
    del network.metadata_props[:]
    paths["no metadata"] = folder / "bare.onnx"
    onnx.save(network, str(paths["no metadata"]))
    for key, value in DEEPNESS.items():
        entry = network.metadata_props.add()
        entry.key, entry.value = key, value
    paths["Deepness keys"] = folder / "deepness.onnx"
    onnx.save(network, str(paths["Deepness keys"]))
    paths["sidecar"] = folder / "raw.json"
    paths["sidecar"].write_text(json.dumps(RAW_SIDECAR))
    paths["partial"] = folder / "mean_std.json"
    paths["partial"].write_text(json.dumps({"input": {"mean": 0, "std": 1}}))
    return paths


def _raw_classes(raster: Path) -> np.ndarray:
    """The network run by onnxruntime on the raw pixels of the whole raster (one window, no tiling)."""
    pixels = gdal.Open(str(raster)).ReadAsArray().astype(np.float32)[None]
    session = onnxruntime.InferenceSession(str(BUNDLED_MODEL), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": pixels})[0][0].argmax(axis=0)


def _classified(capsys, raster: Path, model: Path, sidecar: Path, folder: Path) -> tuple[np.ndarray, str]:
    result = cli(capsys, "classify", raster, model, folder / "classes.tif", "--contract", sidecar, "--probabilities",
                 folder / "p.tif", "--window-size", "256", "--overlap", "0")
    assert result.returncode == 0, result.log
    return gdal.Open(str(folder / "p.tif")).ReadAsArray().argmax(axis=0), result.stderr


@pytest.mark.parametrize("layout", ["embedded contract", "Deepness keys", "no metadata"])
def test_a_sidecar_normalisation_overrides_every_metadata_layout(capsys, hostile, models, tmp_path, layout):
    classes, log = _classified(capsys, hostile["s2"], models[layout], models["sidecar"], tmp_path)
    agreement = float((classes == _raw_classes(hostile["s2"])).mean())
    print(f"\n{layout} + sidecar against the network on raw values: {100 * agreement:.3f} % of pixels")
    assert agreement > 0.999
    assert ("Input normalisation (from the sidecar JSON): x' = (x * scale + offset - mean) / std with bands 1 (B02), "
            "2 (B03), 3 (B04), 4 (B08): scale 1, offset 0, mean 0, std 1." in log
            if layout == "embedded contract" else
            "Input normalisation (from the sidecar JSON): x' = (x * scale + offset - mean) / std with bands 1, 2, 3, "
            "4: scale 1, offset 0, mean 0, std 1." in log), log


@pytest.mark.parametrize("layout", ["Deepness keys", "no metadata"])
def test_a_sidecar_with_mean_and_std_only_does_not_keep_dividing_by_255(capsys, hostile, models, tmp_path, layout):
    """The sidecar's mean 0 and std 1 say raw values: Deepness's pixel / 255 is not kept under them."""
    classes, log = _classified(capsys, hostile["s2"], models[layout], models["partial"], tmp_path)
    assert "from the sidecar JSON" in log and "scale 1, offset 0, mean 0, std 1." in log
    assert float((classes == _raw_classes(hostile["s2"])).mean()) > 0.999


def test_the_log_names_the_normalisation_of_each_layout_without_a_sidecar(capsys, hostile, models, tmp_path):
    said = {}
    for layout in ("embedded contract", "Deepness keys", "no metadata"):
        folder = tmp_path / layout.replace(" ", "_")
        result = cli(capsys, "classify", hostile["s2"], models[layout], folder / "classes.tif", "--window-size",
                     "256", "--overlap", "0")
        assert result.returncode == 0, result.log
        said[layout] = next(line for line in result.stderr.splitlines() if "Input normalisation" in line)
    embedded, deepness = said["embedded contract"], said["Deepness keys"]
    assert "(from the embedded contract)" in embedded and "mean 1408.81, std 135.847" in embedded
    assert "(from the Deepness metadata: pixel / 255, then its standardization_mean and _std)" in deepness
    assert "band 1: scale 0.00392157, offset 0, mean 0.485, std 0.229" in deepness
    assert "(from the model shapes only: Deepness's pixel / 255)" in said["no metadata"]
