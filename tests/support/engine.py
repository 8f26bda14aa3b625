"""In-memory sources, sinks and predictors for engine tests (pure numpy: no GDAL, no onnxruntime)."""
from __future__ import annotations

import numpy as np

from plugin.core.areas.window import PixelWindow
from plugin.core.engine.plan import RunOptions, plan_run
from plugin.core.engine.reading import area_edges
from plugin.core.model.contract import ModelContract
from plugin.core.model.loading import ModelShape
from plugin.core.progress import LoggingProgress
from plugin.core.segmentation.run import segment


class ArraySource:
    """A RasterSource over an in-memory (bands, height, width) array and an optional valid mask."""

    def __init__(self, data: np.ndarray, valid: np.ndarray | None = None) -> None:
        self.data = data
        self.bands, self.height, self.width = data.shape
        self.valid = np.ones(data.shape[1:], bool) if valid is None else valid
        self.reads: list[tuple[int, int, int, int]] = []

    def read(self, col: int, row: int, width: int, height: int):
        assert 0 <= col and 0 <= row and col + width <= self.width and row + height <= self.height
        self.reads.append((col, row, width, height))
        return self.data[:, row:row + height, col:col + width], self.valid[row:row + height, col:col + width]


class ArraySink:
    """A ResultSink that records every write and counts how often each pixel was written."""

    def __init__(self, height: int, width: int, heads: int, classes: int) -> None:
        self.classes = np.full((heads, height, width), -1, np.int64)
        self.probabilities = np.full((classes, height, width), np.nan, np.float32)
        self.confidence = np.full((heads, height, width), np.nan, np.float32)
        self.writes = np.zeros((height, width), np.int64)

    def write(self, rows) -> None:
        row, col, classes, probabilities, confidence = (rows.row, rows.col, rows.classes, rows.probabilities,
                                                         rows.confidence)
        h, w = classes.shape[1:]
        self.classes[:, row:row + h, col:col + w] = classes
        if probabilities is not None:
            self.probabilities[:, row:row + h, col:col + w] = probabilities
        if confidence is not None:
            self.confidence[:, row:row + h, col:col + w] = confidence
        self.writes[row:row + h, col:col + w] += 1


class IdentityPredictor:
    """Returns its input: with identity normalisation the probabilities must equal the raster."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict(self, batch: np.ndarray) -> list[np.ndarray]:
        self.batches.append(len(batch))
        return [batch.copy()]


class BoxPredictor:
    """A k x k mean filter per band (zero padding): context-dependent like a real CNN, exactly computable."""

    def __init__(self, kernel: int) -> None:
        self.kernel = kernel

    def predict(self, batch: np.ndarray) -> list[np.ndarray]:
        k, half = self.kernel, self.kernel // 2
        padded = np.pad(batch.astype(np.float64), ((0, 0), (0, 0), (half, half), (half, half)))
        cumulative = padded.cumsum(2).cumsum(3)
        cumulative = np.pad(cumulative, ((0, 0), (0, 0), (1, 0), (1, 0)))
        h, w = batch.shape[2:]
        total = (cumulative[:, :, k:k + h, k:k + w] - cumulative[:, :, :h, k:k + w]
                 - cumulative[:, :, k:k + h, :w] + cumulative[:, :, :h, :w])
        return [(total / k ** 2).astype(np.float32)]


def whole_pass(predictor, data: np.ndarray, multiple: int = 1) -> np.ndarray:
    """One pass of ``predictor`` over the whole (bands, height, width) raster, as a network takes it: mirrored at
    the bottom and right up to a multiple of its size multiple, the result cut back to the raster."""
    height, width = data.shape[1:]
    padded = np.pad(data, ((0, 0), (0, -height % multiple), (0, -width % multiple)), mode="reflect")
    return predictor.predict(padded[None])[0][0, :, :height, :width]


def identity_contract(bands: int, multiple: int = 1, tile: int = 64, kind: str = "probabilities",
                      threshold: float | None = None) -> ModelContract:
    return ModelContract.from_dict({
        "input": {"bands": bands, "scale": 1, "offset": 0, "mean": 0, "std": 1},
        "outputs": [{"kind": kind, "threshold": threshold,
                     "classes": [{"value": v, "name": f"c{v}"} for v in range(bands if bands > 1 else 2)]}],
        "tile_size": tile, "dynamic_size": True, "size_multiple": multiple,
    })


def run_array(data: np.ndarray, predictor, contract: ModelContract, options: RunOptions,
              valid: np.ndarray | None = None, shape: ModelShape | None = None, area: PixelWindow | None = None):
    """Run the engine over an array; returns (sink, summary, plan, source)."""
    bands, height, width = data.shape
    area = area or PixelWindow(0, 0, width, height)
    shape = shape or ModelShape(None, None, (contract.outputs[0].class_count if bands > 1 else 1,))
    progress = LoggingProgress()
    source = ArraySource(data, valid)
    plan = plan_run(contract, shape, area.width, area.height, options, progress, edges=area_edges(source, area))
    sink = ArraySink(area.height, area.width, len(contract.outputs), contract.class_count)
    summary = segment(source, predictor, sink, contract, area, plan, progress)
    return sink, summary, plan, source


class ValueArraySink:
    """A regression run's sink over an in-memory array: records the values and how often each pixel was written."""

    def __init__(self, height: int, width: int, bands: int) -> None:
        self.values = np.full((bands, height, width), np.nan, np.float32)
        self.writes = np.zeros((height, width), np.int64)

    def write(self, part) -> None:
        h, w = part.values.shape[1:]
        self.values[:, part.row:part.row + h, part.col:part.col + w] = part.values
        self.writes[part.row:part.row + h, part.col:part.col + w] += 1


def regression_contract(bands: int, multiple: int = 1, tile: int = 64, valid_range: list[float] | None = None,
                        units: str = "m") -> ModelContract:
    """An identity-normalised regression model of ``bands`` output channels (one per input band)."""
    return ModelContract.from_dict({
        "input": {"bands": bands, "scale": 1, "offset": 0, "mean": 0, "std": 1},
        "outputs": [{"kind": "regression", "band_names": [f"v{i}" for i in range(bands)], "units": units,
                     "valid_range": valid_range}],
        "tile_size": tile, "dynamic_size": True, "size_multiple": multiple,
    })


def run_values(data: np.ndarray, predictor, contract: ModelContract, options: RunOptions,
               valid: np.ndarray | None = None, shape: ModelShape | None = None):
    """Run the engine over an array with a regression model; returns (sink, summary, plan)."""
    bands, height, width = data.shape
    shape = shape or ModelShape(None, None, (bands,))
    progress = LoggingProgress()
    plan = plan_run(contract, shape, width, height, options, progress)
    sink = ValueArraySink(height, width, bands)
    summary = segment(ArraySource(data, valid), predictor, sink, contract, PixelWindow(0, 0, width, height), plan,
                      progress)
    return sink, summary, plan
