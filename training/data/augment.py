"""Augmentation of normalised chips: the eight dihedral transforms (D4) and brightness/contrast jitter.

Numpy only, with an explicit random generator per chip and epoch, so a run is reproducible whatever
the number of DataLoader workers and a resumed run draws the same augmentations as an unbroken one.
"""
from __future__ import annotations

import numpy as np

D4_COUNT = 8


def dihedral(image: np.ndarray, labels: np.ndarray, transform: int) -> tuple[np.ndarray, np.ndarray]:
    """Apply D4 element ``transform`` (0-7: quarter turns, then a left-right flip for 4-7).

    ``image`` is (bands, h, w), ``labels`` (h, w). Non-square chips only take the flips.
    """
    turns = transform % 4 if image.shape[-1] == image.shape[-2] else 2 * (transform % 2)
    if turns:
        image, labels = np.rot90(image, turns, axes=(-2, -1)), np.rot90(labels, turns, axes=(-2, -1))
    if transform >= 4:
        image, labels = image[..., ::-1], labels[..., ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(labels)


def jitter(image: np.ndarray, rng: np.random.Generator, brightness: float, contrast: float) -> np.ndarray:
    """x * c + b with c ~ U(1 - contrast, 1 + contrast) and b ~ U(-brightness, brightness), in normalised units."""
    if brightness <= 0 and contrast <= 0:
        return image
    factor = rng.uniform(1 - contrast, 1 + contrast) if contrast > 0 else 1.0
    shift = rng.uniform(-brightness, brightness) if brightness > 0 else 0.0
    return (image * np.float32(factor) + np.float32(shift)).astype(np.float32)
