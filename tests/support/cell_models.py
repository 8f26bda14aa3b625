"""Tiny ONNX cell models built with onnx.helper (one result per window), whose results are a known function of
the window's pixels, so a test can compute every cell's result with numpy and compare:

- ``mean_classifier``: the mean of each band over the window (global average pooling), times ``gain``, as the
  class scores (logits by default): a window's class is its brightest band;
- ``mean_regressor``: the mean of band ``band`` over the window, times ``gain``, as one regression value;
- ``mean_embedder``: the window's band means times a fixed (bands x dimensions) matrix: a vector per window;
- ``conv_encoder``: a small convolutional encoder (3 x 3 convolution, ReLU, global average pooling, a dense
  layer) with no metadata and a dynamic vector length, as an encoder made elsewhere comes; its vectors are
  checked against onnxruntime run directly on the same windows.

``contract_for`` writes the cell contract each needs (identity normalisation unless ``scale`` is given).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from .onnx_factory import _dims, _save


def contract_for(task: str, bands: int, outputs: list[dict], size: int | None = 16, border: int = 0,
                 scale: float = 1.0) -> dict:
    """A complete cell contract (``task`` classification or embedding)."""
    return {"schema_version": 1, "task": task, "name": f"test {task} model",
            "input": {"name": "image", "bands": bands, "scale": scale, "offset": 0, "mean": 0, "std": 1},
            "outputs": outputs, "tile_size": size, "size_multiple": 1, "cells": {"border_px": border}}


def class_output(classes: int, kind: str = "logits", values: list[int] | None = None) -> dict:
    values = values or list(range(1, classes + 1))
    return {"name": "scores", "kind": kind, "classes": [{"value": v, "name": f"class {v}"} for v in values]}


def _pooled(bands: int, size: int | None, extra: list, initializers: list, output: str, shape: list,
            path: Path, contract: dict | None) -> Path:
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, _dims(bands, size))
    y = helper.make_tensor_value_info(output, TensorProto.FLOAT, shape)
    nodes = [helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["means"], axis=1), *extra]
    graph = helper.make_graph(nodes, "cells", [x], [y], initializer=initializers)
    return _save(graph, path, contract)


def mean_classifier(path: Path, bands: int, size: int | None = 16, contract: dict | None = None,
                    gain: float = 1.0) -> Path:
    """(batch, bands, S, S) -> (batch, bands): each band's mean times ``gain``."""
    nodes = [helper.make_node("Mul", ["means", "gain"], ["scores"])]
    inits = [numpy_helper.from_array(np.array(gain, np.float32), "gain")]
    return _pooled(bands, size, nodes, inits, "scores", ["batch", bands], path, contract)


def mean_regressor(path: Path, bands: int, band: int = 0, size: int | None = 16, contract: dict | None = None,
                   gain: float = 1.0) -> Path:
    """(batch, bands, S, S) -> (batch, 1): band ``band``'s mean times ``gain``."""
    pick = np.zeros((bands, 1), np.float32)
    pick[band, 0] = gain
    nodes = [helper.make_node("MatMul", ["means", "pick"], ["value"])]
    return _pooled(bands, size, nodes, [numpy_helper.from_array(pick, "pick")], "value", ["batch", 1], path,
                   contract)


def embedding_matrix(bands: int, dimensions: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((bands, dimensions)).astype(np.float32)


def mean_embedder(path: Path, bands: int, dimensions: int = 8, size: int | None = 16, contract: dict | None = None,
                  seed: int = 0) -> Path:
    """(batch, bands, S, S) -> (batch, dimensions): the band means times :func:`embedding_matrix`."""
    nodes = [helper.make_node("MatMul", ["means", "weights"], ["embedding"])]
    inits = [numpy_helper.from_array(embedding_matrix(bands, dimensions, seed), "weights")]
    return _pooled(bands, size, nodes, inits, "embedding", ["batch", dimensions], path, contract)


def conv_encoder(path: Path, bands: int, dimensions: int = 6, size: int = 16, filters: int = 5,
                 seed: int = 1) -> Path:
    """(batch, bands, S, S) -> (batch, dimensions), the vector axis dynamic in the model's declared shape; no
    contract in its metadata."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.standard_normal((filters, bands, 3, 3)).astype(np.float32), "kernel"),
             numpy_helper.from_array(rng.standard_normal(filters).astype(np.float32) * 0.1, "bias"),
             numpy_helper.from_array(rng.standard_normal((filters, dimensions)).astype(np.float32), "dense")]
    nodes = [helper.make_node("Conv", ["image", "kernel", "bias"], ["features"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["features"], ["active"]),
             helper.make_node("GlobalAveragePool", ["active"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
             helper.make_node("MatMul", ["flat", "dense"], ["vector"])]
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, _dims(bands, size))
    y = helper.make_tensor_value_info("vector", TensorProto.FLOAT, ["batch", "dimensions"])
    return _save(helper.make_graph(nodes, "encoder", [x], [y], initializer=inits), path, None)


def window_means(raw: np.ndarray, window: int, cell: int, border: int) -> np.ndarray:
    """(rows, cols, bands) band means of every cell's window over ``raw`` (bands, H, W), mirrored past the
    edges as the engine reads: what the test models compute, by numpy."""
    bands, height, width = raw.shape
    rows, cols = -(-height // cell), -(-width // cell)
    pad_after = (rows * cell + border - height, cols * cell + border - width)
    padded = np.stack([np.pad(b, ((border, pad_after[0]), (border, pad_after[1])), mode="reflect") for b in raw])
    out = np.zeros((rows, cols, bands), np.float64)
    for r in range(rows):
        for c in range(cols):
            out[r, c] = padded[:, r * cell:r * cell + window, c * cell:c * cell + window].mean(axis=(1, 2))
    return out
