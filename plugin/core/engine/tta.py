"""Dihedral (D4) test-time augmentation as batch operations on (batch, channels, height, width).

Transform ``t`` in 0..7 rotates by ``t % 4`` quarter turns, then mirrors left-right when ``t >= 4``.
The inverse undoes the mirror, then the rotation, so ``inverse(forward(x, t), t) == x``.
"""
from __future__ import annotations

import numpy as np

TTA_MODES = ("none", "flips", "d4")
# "flips": identity, left-right, up-down (rot180 then left-right) and both (rot180).
_TRANSFORMS = {"none": (0,), "flips": (0, 4, 6, 2), "d4": tuple(range(8))}


def transforms_for(mode: str) -> tuple[int, ...]:
    """The transform indices a TTA mode runs."""
    try:
        return _TRANSFORMS[mode]
    except KeyError:
        raise ValueError(f"unknown TTA mode {mode!r}; expected one of {TTA_MODES}") from None


def forward(batch: np.ndarray, transform: int) -> np.ndarray:
    """Apply D4 transform ``transform`` to the last two axes."""
    result = np.rot90(batch, transform % 4, axes=(-2, -1))
    if transform >= 4:
        result = result[..., ::-1]
    return result


def inverse(batch: np.ndarray, transform: int) -> np.ndarray:
    """Undo :func:`forward` for the same ``transform``."""
    result = batch[..., ::-1] if transform >= 4 else batch
    return np.rot90(result, -(transform % 4), axes=(-2, -1))


def expand(batch: np.ndarray, transforms: tuple[int, ...]) -> np.ndarray:
    """Stack every transform of every window: (len(transforms) * B, C, H, W), transform-major."""
    if transforms == (0,):
        return batch
    return np.ascontiguousarray(np.concatenate([forward(batch, t) for t in transforms], axis=0))


def merge(outputs: np.ndarray, transforms: tuple[int, ...]) -> np.ndarray:
    """Invert each transform and average: (len(transforms) * B, K, H, W) -> (B, K, H, W)."""
    if transforms == (0,):
        return outputs
    groups = np.split(outputs, len(transforms), axis=0)
    total = np.zeros_like(groups[0])
    for transform, group in zip(transforms, groups):
        total += inverse(group, transform)
    total /= len(transforms)
    return total
