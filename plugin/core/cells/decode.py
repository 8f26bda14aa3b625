"""A cell model's raw outputs -> one result per window: class probabilities, values or a vector.

Outputs are ``(batch, channels)``, ``(batch, channels, 1, 1)`` or ``(batch,)``. With test-time augmentation the
engine runs every window's variants (transform-major); a window's result is the mean over its variants, in
probability space for classifiers (as segmentation averages), of the values for regression outputs and of the
vectors for embeddings (a result per window needs no turning back).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..model.contract import ModelContract
from ..model.contract_cells import CLASS_KINDS, EMBEDDING_KIND, REGRESSION_KIND
from ..model.postprocess import class_indices, decide_kind, to_probabilities
from ..progress import Progress


@dataclass
class CellValues:
    """The results of ``n`` windows: class channel, its probability and every class's (classifiers), values
    (regression outputs, one column per value) or vectors (embeddings)."""

    classes: np.ndarray | None = None  # (n,) channel index into the class output's classes
    scores: np.ndarray | None = None  # (n,) the chosen class's probability
    probabilities: np.ndarray | None = None  # (n, K)
    values: np.ndarray | None = None  # (n, V)
    embeddings: np.ndarray | None = None  # (n, D)


def as_rows(raw: np.ndarray, name: str | None) -> np.ndarray:
    """A cell output as (batch, channels) float32."""
    if raw.ndim == 1:
        return raw.astype(np.float32).reshape(-1, 1)
    if raw.ndim == 2 or (raw.ndim == 4 and raw.shape[2] == 1 and raw.shape[3] == 1):
        return raw.astype(np.float32).reshape(raw.shape[0], raw.shape[1])
    raise ModelError(f"Output '{name}' has shape {list(raw.shape)} for a batch of windows; a model that gives one "
                     "result per window outputs (batch, values) or (batch, values, 1, 1). A map with height and "
                     "width is a segmentation model's: run it with Classify raster (seamless:classify).")


def variant_mean(rows: np.ndarray, variants: int) -> np.ndarray:
    """(variants x n, C) transform-major -> (n, C), the mean over each window's variants."""
    if variants == 1:
        return rows
    return rows.reshape(variants, -1, rows.shape[1]).mean(axis=0)


class CellDecoder:
    """Decodes batches of one model's outputs (its ``auto`` kinds decided on the first batch, and logged)."""

    def __init__(self, contract: ModelContract, variants: int, progress: Progress | None = None) -> None:
        self.contract, self.variants, self.progress = contract, variants, progress
        self.kinds: list[str] | None = None
        self.clipped = 0  # regression values outside their valid range, clipped
        ranges = [v.valid_range if v is not None else None for v in (contract.cells.values if contract.cells else ())]
        self._ranges = ranges + [None] * (len(contract.outputs) - len(ranges))

    def _resolve(self, rows: list[np.ndarray]) -> list[str]:
        if self.kinds is None:
            self.kinds = []
            for row, spec in zip(rows, self.contract.outputs):
                kind = decide_kind(row[:, :, None, None], spec) if spec.kind == "auto" else spec.kind
                if spec.kind == "auto" and self.progress is not None:
                    self.progress.info(f"Output '{spec.name}' has no kind in its contract: its values look like "
                                       f"{kind}. Set outputs[].kind in a CONTRACT sidecar to be explicit.")
                self.kinds.append(kind)
        return self.kinds

    def decode(self, outputs: list[np.ndarray], count: int) -> CellValues:
        """The results of ``count`` windows from the model's outputs for them (with their variants)."""
        rows = [as_rows(raw, spec.name) for raw, spec in zip(outputs, self.contract.outputs)]
        for row, spec in zip(rows, self.contract.outputs):
            if row.shape[0] != count * self.variants:
                raise ModelError(f"Output '{spec.name}' gave {row.shape[0]} results for {count * self.variants} "
                                 "windows; the model must give one result per window of the batch.")
            if not np.isfinite(row).all():
                raise ModelError(f"Output '{spec.name}' holds NaN or infinite values: the model failed on these "
                                 "windows (check the input's scale against the contract's normalisation).")
        result, values = CellValues(), []
        for row, spec, kind, span in zip(rows, self.contract.outputs, self._resolve(rows), self._ranges):
            if kind in CLASS_KINDS:
                probabilities = variant_mean(to_probabilities(row[:, :, None, None], spec, kind)[:, :, 0, 0],
                                             self.variants)
                indices = class_indices(probabilities.T[:, :, None], spec.threshold)[:, 0]
                result.classes, result.probabilities = indices, probabilities
                result.scores = probabilities[np.arange(count), indices]
            elif kind == REGRESSION_KIND:
                mean = variant_mean(row, self.variants)
                if span is not None:
                    outside = (mean < span[0]) | (mean > span[1])
                    self.clipped += int(outside.sum())
                    mean = np.clip(mean, span[0], span[1])
                values.append(mean)
            elif kind == EMBEDDING_KIND:
                result.embeddings = variant_mean(row, self.variants)
        if values:
            result.values = np.concatenate(values, axis=1)
        return result
