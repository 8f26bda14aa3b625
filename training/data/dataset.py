"""Torch datasets over prepared chips: normalisation through the plugin's own ``normalise``.

Training and inference share one normalisation: :func:`plugin.core.preprocess.normalise` with the
contract's InputSpec (nodata pixels get the contract's fill value), so what the model sees here is
exactly what the classify algorithm will feed it.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from .._plugin import preprocess
from ..config import OptimConfig
from .augment import D4_COUNT, dihedral, jitter
from .labels import IGNORE_INDEX
from .prepare import PreparedData


class ChipDataset(Dataset):
    """Training chips as (normalised image float32 (C, H, W), class indices int64 (H, W))."""

    def __init__(self, data: PreparedData, options: OptimConfig, augment: bool = True) -> None:
        self.data = data
        self.options = options
        self.augment = augment
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Augmentations depend on (seed, epoch, chip), never on the worker that draws them."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.data.train.refs)

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw values and validity of chip ``index`` (cached or read now)."""
        if self.data.train.images is not None:
            return self.data.train.images[index]
        return self.data.scene.read_image(self.data.train.refs[index])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        raw, valid = self.raw(index)
        image = preprocess.normalise(raw, self.data.input, valid)
        labels = self.data.train.labels[index]
        if self.augment:
            rng = np.random.default_rng((self.options.seed, self.epoch, index))
            if self.options.d4:
                image, labels = dihedral(image, labels, int(rng.integers(D4_COUNT)))
            image = jitter(image, rng, self.options.brightness, self.options.contrast)
        return torch.from_numpy(np.ascontiguousarray(image)), torch.from_numpy(labels.astype(np.int64))


def pad_to_multiple(image: np.ndarray, labels: np.ndarray, multiple: int) -> tuple[np.ndarray, np.ndarray]:
    """Mirror-pad (bands, h, w) at the bottom and right to multiples of ``multiple``; labels get IGNORE_INDEX."""
    height, width = labels.shape
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h or pad_w:
        image = np.pad(image, ((0, 0), (0, pad_h), (0, pad_w)), mode="reflect" if min(height, width) > 1 else "edge")
        labels = np.pad(labels, ((0, pad_h), (0, pad_w)), constant_values=IGNORE_INDEX)
    return image, labels


def validation_batches(data: PreparedData, multiple: int, batch_size: int, rank: int = 0,
                       world: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Validation windows (this rank's share), padded to the network's multiple, batched by shape."""
    for images, labels, _ in indexed_validation_batches(data, multiple, batch_size, rank, world):
        yield images, labels


def indexed_validation_batches(data: PreparedData, multiple: int, batch_size: int, rank: int = 0,
                               world: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor, list[int]]]:
    """As :func:`validation_batches`, with the index of each window in the batch."""
    groups: dict[tuple[int, ...], list[tuple[np.ndarray, np.ndarray, int]]] = {}
    for index in range(rank, len(data.validation.windows), world):
        if data.validation.images is not None:
            raw, valid = data.validation.images[index]
        else:
            raw, valid = data.scene.read_image(data.validation.windows[index].read)
        image = preprocess.normalise(raw, data.input, valid)
        image, labels = pad_to_multiple(image, data.validation.labels[index], multiple)
        group = groups.setdefault(image.shape, [])
        group.append((image, labels, index))
        if len(group) == batch_size:
            yield _stack(groups.pop(image.shape))
    for group in groups.values():
        yield _stack(group)


def _stack(items: list[tuple[np.ndarray, np.ndarray, int]]) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    images = torch.from_numpy(np.stack([i for i, _, _ in items]))
    labels = torch.from_numpy(np.stack([label for _, label, _ in items]).astype(np.int64))
    return images, labels, [index for _, _, index in items]
