"""How far a trained network looks: the context margin written into the contract.

The gradient of one output pixel's logits with respect to the input shows which input pixels
influence it (its effective receptive field, Luo et al. 2016). Measured on the trained network in
evaluation mode over real data, from the centre of a large window: the margin is the smallest
square radius that holds ``coverage`` of the gradient's total magnitude. Windows lose that many
pixels of context at their edges, so blending gives them no weight there (see SEAMS in the docs).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

COVERAGE = 0.99


def gradient_map(model: nn.Module, window: torch.Tensor, seed: int = 0) -> np.ndarray:
    """|d (random projection of the centre pixel's logits) / d input|, summed over bands: (H, W)."""
    model.eval()
    image = window.detach().clone().requires_grad_(True)
    logits = model(image)
    generator = torch.Generator().manual_seed(seed)
    projection = torch.randn(logits.shape[1], generator=generator).to(logits.device)
    centre_row, centre_col = logits.shape[2] // 2, logits.shape[3] // 2
    (logits[0, :, centre_row, centre_col] * projection).sum().backward()
    gradient = image.grad
    if gradient is None:
        raise RuntimeError("no gradient reached the input image")
    return gradient[0].abs().sum(dim=0).cpu().numpy()


def radius_holding(magnitude: np.ndarray, coverage: float = COVERAGE) -> int:
    """Smallest Chebyshev radius around the centre holding ``coverage`` of the total magnitude."""
    height, width = magnitude.shape
    rows, cols = np.indices(magnitude.shape)
    distance = np.maximum(np.abs(rows - height // 2), np.abs(cols - width // 2))
    total = float(magnitude.sum())
    if total <= 0:
        return 0
    per_radius = np.bincount(distance.ravel(), weights=magnitude.ravel())
    return int(np.searchsorted(np.cumsum(per_radius), coverage * total))


def measure_context_margin(model: nn.Module, sample: torch.Tensor, size_multiple: int,
                           tile_size: int, coverage: float = COVERAGE) -> tuple[int, int]:
    """(margin for the contract, measured radius) from a normalised sample (1, C, h, w) of real data.

    The sample is mirrored out to a window of at least twice the tile (so the edges are far from the
    centre), the radius measured, rounded up to the network's size multiple and capped at half the
    tile. Inference windows are usually larger than training tiles, and the engine itself keeps the
    margin within what each run's overlap allows, so the contract carries the measurement.
    """
    size = int(math.ceil(max(2 * tile_size, 256) / size_multiple) * size_multiple)
    array = sample.detach().cpu().numpy()
    pad_h, pad_w = max(size - array.shape[-2], 0), max(size - array.shape[-1], 0)
    array = np.pad(array, ((0, 0), (0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)),
                   mode="reflect")
    window = torch.from_numpy(np.ascontiguousarray(array[..., :size, :size]))
    radius = radius_holding(gradient_map(model, window), coverage)
    rounded = int(math.ceil(radius / size_multiple) * size_multiple)
    return min(rounded, max(tile_size // 2 // size_multiple * size_multiple, size_multiple)), radius
