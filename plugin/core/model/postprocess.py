"""Model outputs -> class probabilities -> class values, as each output's contract entry says."""
from __future__ import annotations

import numpy as np

from ..errors import ModelError
from .contract import OutputSpec


def decide_kind(raw: np.ndarray, spec: OutputSpec) -> str:
    """Resolve ``auto``: values already in [0, 1] are probabilities, anything else is raw scores."""
    if spec.kind != "auto":
        return spec.kind
    inside = bool(np.nanmin(raw) >= 0.0 and np.nanmax(raw) <= 1.0)
    if inside:
        return "probabilities"
    return "sigmoid" if _channels(raw) == 1 else "logits"


def _channels(raw: np.ndarray) -> int:
    return 1 if raw.ndim == 3 else raw.shape[1]


def to_probabilities(raw: np.ndarray, spec: OutputSpec, kind: str) -> np.ndarray:
    """(B, C, H, W) or (B, H, W) model output -> (B, K, H, W) float32 class probabilities.

    A single channel is a binary map: it becomes (1 - p, p) for the contract's two classes.
    """
    values = raw[:, None] if raw.ndim == 3 else raw
    values = values.astype(np.float32, copy=True)
    channels = values.shape[1]
    expected = 1 if spec.class_count == 2 and channels == 1 else spec.class_count
    if channels != expected:
        raise ModelError(f"Output '{spec.name}' has {channels} channel(s) but the contract lists "
                         f"{spec.class_count} classes; fix outputs[].classes in the CONTRACT sidecar.")
    if kind == "logits" and channels > 1:
        values -= values.max(axis=1, keepdims=True)
        np.exp(values, out=values)
        values /= values.sum(axis=1, keepdims=True)
    elif kind in ("sigmoid", "logits"):
        np.negative(values, out=values)
        np.exp(values, out=values)
        values += 1.0
        np.reciprocal(values, out=values)
    if channels == 1:
        values = np.concatenate([1.0 - values, values], axis=1)
    return values


def class_indices(probabilities: np.ndarray, threshold: float | None) -> np.ndarray:
    """(K, h, w) probabilities -> (h, w) channel index; below ``threshold`` -> channel 0 (background)."""
    best = channel_argmax(probabilities)
    if threshold is not None:
        if probabilities.shape[0] == 2:
            best = (probabilities[1] >= threshold).astype(best.dtype)
        else:
            best[probabilities.max(axis=0) < threshold] = 0
    return best


def channel_argmax(values: np.ndarray) -> np.ndarray:
    """argmax over the first axis of (C, h, w): one pass per channel over contiguous planes, faster than
    numpy's strided argmax(axis=0); uint8 when C <= 256. Ties go to the lower channel, as in numpy."""
    if values.shape[0] > 256:
        return values.argmax(axis=0)
    best = np.array(values[0], copy=True)
    index = np.zeros(best.shape, np.uint8)
    for channel in range(1, values.shape[0]):
        plane = values[channel]
        np.putmask(index, plane > best, channel)
        np.maximum(best, plane, out=best)
    return index
