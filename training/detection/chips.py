"""Training chips for the detector: normalised image, boxes and classes, boxes to ignore, and the pixels that
are training ground; augmented with the eight D4 transforms (boxes turned with the image) and jitter.

Per chip and epoch one of its placements is used (in turn) and one transform drawn from (seed, epoch, chip), so
runs are reproducible whatever the number of DataLoader workers. Objects cut by the chip keep their visible
part when at least half of them is inside (``MIN_VISIBLE``); the others, and objects that are not training
objects (validation ground), become boxes to ignore: anchors over them are neither positive nor negative.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .._plugin import preprocess
from ..config import OptimConfig
from ..data import split as split_module
from ..data.augment import D4_COUNT, dihedral, jitter
from .data import DetectionData, PixelWindow

MIN_VISIBLE = 0.5


def turn_boxes(boxes: np.ndarray, transform: int, size: int) -> np.ndarray:
    """Boxes of a ``size`` px chip where D4 ``transform`` shows them (quarter turns: (x, y) -> (y, size - x),
    then the left-right mirror for transforms 4 to 7), as the image is turned by ``augment.dihedral``."""
    x1, y1, x2, y2 = boxes.T
    for _ in range(transform % 4):
        x1, y1, x2, y2 = y1, size - x2, y2, size - x1
    if transform >= 4:
        x1, x2 = size - x2, size - x1
    return np.stack([x1, y1, x2, y2], axis=1).reshape(-1, 4)


class DetectionChips(Dataset):
    """Item: (image (bands, S, S) float32, target dict: boxes, labels, ignore boxes, trainable (S, S) bool)."""

    def __init__(self, data: DetectionData, options: OptimConfig, augment: bool = True) -> None:
        self.data, self.options, self.augment = data, options, augment
        self.epoch = 0
        self.training = data.roles == split_module.TRAIN

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.data.chips)

    def window(self, index: int) -> PixelWindow:
        placements = self.data.chips[index]
        return placements[self.epoch % len(placements)]

    def targets(self, window: PixelWindow) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(boxes, labels, ignore boxes) in chip pixels."""
        objects = self.data.objects
        origin = np.array([window.col, window.row] * 2, np.float64)
        boxes = objects.boxes - origin
        clipped = boxes.clip(0, window.width)
        area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
        visible = np.prod((clipped[:, 2:] - clipped[:, :2]).clip(0), axis=1) / np.maximum(area, 1e-9)
        inside = visible > 0
        taken = inside & self.training & (visible >= MIN_VISIBLE)
        ignored = inside & ~taken
        return clipped[taken], objects.classes[taken], clipped[ignored]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        window = self.window(index)
        raw, valid = self.data.read(window)
        image = preprocess.normalise(raw, self.data.input, valid)
        roles = self.data.split.roles(window, self.data.ref(window).geotransform)
        trainable = (roles == split_module.TRAIN) & valid
        boxes, labels, ignore = self.targets(window)
        if self.augment:
            rng = np.random.default_rng((self.options.seed, self.epoch, index))
            if self.options.d4:
                transform = int(rng.integers(D4_COUNT))
                image, trainable = dihedral(image, trainable, transform)
                boxes, ignore = (turn_boxes(b, transform, window.width) for b in (boxes, ignore))
            image = jitter(image, rng, self.options.brightness, self.options.contrast)
        return torch.from_numpy(np.ascontiguousarray(image, np.float32)), {
            "boxes": torch.from_numpy(boxes.astype(np.float32)), "labels": torch.from_numpy(labels.astype(np.int64)),
            "ignore": torch.from_numpy(ignore.astype(np.float32)), "trainable": torch.from_numpy(trainable.copy())}


def collate(items: list[tuple[torch.Tensor, dict[str, Any]]]) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    return torch.stack([image for image, _ in items]), [target for _, target in items]
