"""INT8 copies of models: written only when their classes agree with the float model's, marked in the contract,
run by the plugin; refused with a clear message and nothing left behind otherwise."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest

from plugin.core.errors import ModelError
from plugin.core.model.loading import load_model
from tests.support.data import FOTOMAP
from tests.support.onnx_factory import contract_dict, two_layer_model
from training.quantize import quantize_with_raster


def contract_of(path) -> dict:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return json.loads(session.get_modelmeta().custom_metadata_map["seamless_segmentation"])


@pytest.fixture
def rgb_contract() -> dict:
    contract = contract_dict(3, 4, kind="logits", tile=64, multiple=1, scale=1 / 255)
    contract["name"] = "two layers"
    return contract


def test_an_int8_copy_that_agrees_is_written_marked_and_runs(tmp_path, rgb_contract):
    model = two_layer_model(tmp_path / "float.onnx", 3, 4, contract=rgb_contract)
    before = model.read_bytes()
    check = quantize_with_raster(model, FOTOMAP, tmp_path / "int8.onnx", windows=12)
    assert check.agreement >= 0.99 and check.pixels == 12 * 64 * 64 and check.calibration_windows == 12
    graph = onnx.load(str(tmp_path / "int8.onnx")).graph
    assert {"QuantizeLinear", "DequantizeLinear"} <= {node.op_type for node in graph.node}
    written = contract_of(tmp_path / "int8.onnx")
    assert written["name"] == "two layers (INT8)"
    quantization = written["provenance"]["quantization"]
    assert quantization["agreement_with_float"] == round(check.agreement, 5) and quantization["format"] == "QDQ"
    assert [(c["value"], c["name"]) for c in written["outputs"][0]["classes"]] == [(v, f"class {v}") for v in range(4)]
    assert written["input"]["scale"] == [pytest.approx(1 / 255)] * 3
    loaded = load_model(tmp_path / "int8.onnx", "cpu")  # the plugin runs it as any other model
    scores = loaded.runtime.predict(np.random.default_rng(0).random((1, 3, 64, 64), np.float32))[0]
    assert scores.shape == (1, 4, 64, 64)
    assert model.read_bytes() == before


def test_an_int8_copy_that_disagrees_is_refused_and_not_written(tmp_path, rgb_contract):
    model = two_layer_model(tmp_path / "float.onnx", 3, 4, crowding=1000.0, contract=rgb_contract)
    with pytest.raises(ModelError, match=r"agree with the float model's on \d+\.\d+% .* below the 99% required"):
        quantize_with_raster(model, FOTOMAP, tmp_path / "int8.onnx", windows=12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["float.onnx"]


def test_a_calibration_raster_with_other_bands_is_refused_with_the_fix(tmp_path, rgb_contract):
    model = two_layer_model(tmp_path / "float.onnx", 3, 4, contract=rgb_contract)
    with pytest.raises(Exception, match="choose the bands with --bands"):
        quantize_with_raster(model, FOTOMAP, tmp_path / "int8.onnx", bands=[1, 2], windows=4)
