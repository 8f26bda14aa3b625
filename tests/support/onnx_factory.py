"""Tiny ONNX models built with onnx.helper for tests (listed in tests/README.md).

- ``identity_model``: output = input. With a contract of scale 1 and kind "probabilities" the class
  raster is the argmax of the input bands and the probabilities are the input itself: any blending
  or padding error shows.
- ``box_filter_model``: a fixed k x k mean filter per band, then a per-band scale: a fully
  convolutional model whose prediction depends on context within k // 2 pixels (the seam tests).
- ``cropping_model``: identity, then the output cropped by ``margin`` pixels on each side (like
  networks with valid convolutions, whose output is smaller than their input).
- ``two_layer_model``: two random convolutions that survive 8-bit arithmetic, or not (INT8 tests).
- ``linear_model``: a regression model (kind "regression"): per output a weighted sum of the bands, averaged
  over a k x k neighbourhood, plus a bias; exactly computable, context-dependent for k > 1.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _dims(bands: int, size: int | None) -> list:
    spatial = ["height", "width"] if size is None else [size, size]
    return ["batch", bands, *spatial]


def _save(graph: onnx.GraphProto, path: Path, contract: dict | None) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tests")
    model.ir_version = 8
    if contract is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = "seamless_segmentation", json.dumps(contract)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def contract_dict(bands: int, classes: int, kind: str = "probabilities", tile: int = 64, multiple: int = 1,
                  scale: float = 1.0, values: list[int] | None = None) -> dict:
    """A complete contract for the test models (identity normalisation by default)."""
    values = values or list(range(classes))
    return {
        "schema_version": 1, "name": "test model",
        "input": {"name": "image", "bands": bands, "scale": scale, "offset": 0, "mean": 0, "std": 1},
        "outputs": [{"name": "scores", "kind": kind,
                     "classes": [{"value": v, "name": f"class {v}"} for v in values]}],
        "tile_size": tile, "size_multiple": multiple,
    }


def identity_model(path: Path, bands: int, size: int | None = None, contract: dict | None = None) -> Path:
    """Output = input, (batch, bands, H, W); ``size`` None makes the spatial axes dynamic."""
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, _dims(bands, size))
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, _dims(bands, size))
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["scores"])], "identity", [x], [y])
    return _save(graph, path, contract)


def box_filter_model(path: Path, bands: int, kernel: int, contract: dict | None = None) -> Path:
    """Per-band k x k mean filter with zero padding 'same' (dynamic spatial axes)."""
    weights = np.zeros((bands, 1, kernel, kernel), np.float32) + 1.0 / kernel ** 2
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, _dims(bands, None))
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, _dims(bands, None))
    conv = helper.make_node("Conv", ["image", "w"], ["scores"], group=bands, pads=[kernel // 2] * 4,
                            kernel_shape=[kernel, kernel])
    graph = helper.make_graph([conv], "box", [x], [y], initializer=[numpy_helper.from_array(weights, "w")])
    return _save(graph, path, contract)


def cropping_model(path: Path, bands: int, size: int, margin: int, contract: dict | None = None) -> Path:
    """Fixed ``size`` input; output = input cropped by ``margin`` on every side."""
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, _dims(bands, size))
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, _dims(bands, size - 2 * margin))
    inits = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
             (("starts", [margin, margin]), ("ends", [size - margin, size - margin]), ("axes", [2, 3]))]
    node = helper.make_node("Slice", ["image", "starts", "ends", "axes"], ["scores"])
    graph = helper.make_graph([node], "crop", [x], [y], initializer=inits)
    return _save(graph, path, contract)


def two_layer_model(path: Path, bands: int, classes: int, crowding: float = 1.0, contract: dict | None = None,
                    seed: int = 0) -> Path:
    """A 3 x 3 convolution (16 channels, ReLU) then a 1 x 1 convolution to class scores, random weights.

    ``crowding`` scales one hidden channel that the class scores ignore: at 1 every channel counts in 8-bit
    arithmetic and the classes survive quantization; at 1000 that channel sets the 8-bit range alone, the
    others round to a few steps, and an INT8 copy's classes are mostly wrong (it must be refused).
    """
    rng = np.random.default_rng(seed)
    first = rng.standard_normal((16, bands, 3, 3)).astype(np.float32)
    first[0] *= crowding
    second = rng.standard_normal((classes, 16, 1, 1)).astype(np.float32)
    second[:, 0] = 0.0
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, _dims(bands, None))
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, _dims(classes, None))
    nodes = [helper.make_node("Conv", ["image", "w1"], ["hidden"], pads=[1] * 4, kernel_shape=[3, 3], name="conv1"),
             helper.make_node("Relu", ["hidden"], ["active"], name="relu"),
             helper.make_node("Conv", ["active", "w2"], ["scores"], kernel_shape=[1, 1], name="head")]
    graph = helper.make_graph(nodes, "two_layers", [x], [y], initializer=[numpy_helper.from_array(first, "w1"),
                                                                           numpy_helper.from_array(second, "w2")])
    return _save(graph, path, contract)


def regression_contract_dict(bands: int, outputs: int = 1, tile: int = 64, multiple: int = 1,
                             valid_range: list[float] | None = None, units: str = "reflectance x 10000") -> dict:
    """A complete contract for a regression test model: raw values in, ``outputs`` value bands out."""
    return {
        "schema_version": 1, "name": "test regression",
        "input": {"name": "image", "bands": bands, "scale": 1, "offset": 0, "mean": 0, "std": 1},
        "outputs": [{"name": "values", "kind": "regression", "units": units, "valid_range": valid_range,
                     "band_names": ["estimate"] if outputs == 1 else [f"estimate {i + 1}" for i in range(outputs)]}],
        "tile_size": tile, "size_multiple": multiple,
    }


def linear_model(path: Path, weights: np.ndarray, bias: np.ndarray, kernel: int = 1,
                 contract: dict | None = None) -> Path:
    """A regression model: per output, a weighted sum of the input bands averaged over ``kernel`` x ``kernel``
    pixels (zero padding 'same'), plus a bias. ``weights`` is (outputs, bands); dynamic spatial axes."""
    outputs, bands = weights.shape
    taps = np.repeat(np.repeat(weights[:, :, None, None] / kernel ** 2, kernel, 2), kernel, 3).astype(np.float32)
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, _dims(bands, None))
    y = helper.make_tensor_value_info("values", TensorProto.FLOAT, _dims(outputs, None))
    conv = helper.make_node("Conv", ["image", "w", "b"], ["values"], pads=[kernel // 2] * 4,
                            kernel_shape=[kernel, kernel])
    graph = helper.make_graph([conv], "linear", [x], [y], initializer=[
        numpy_helper.from_array(taps, "w"), numpy_helper.from_array(np.asarray(bias, np.float32), "b")])
    return _save(graph, path, contract)
