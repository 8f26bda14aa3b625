"""Torch datasets over regression chips: images normalised by the plugin's own ``normalise`` (as inference
normalises them), targets standardised by the training area's statistics, NaN where there is no target."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from .._plugin import preprocess
from ..config import OptimConfig
from ..data.augment import D4_COUNT, dihedral, jitter
from .data import RegressionData, Windows


class RegressionChips(Dataset):
    """Training chips as (normalised image float32 (C, H, W), standardised targets float32 (T, H, W))."""

    def __init__(self, data: RegressionData, options: OptimConfig, augment: bool = True) -> None:
        self.data, self.options, self.augment = data, options, augment
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Augmentations depend on (seed, epoch, chip), never on the worker that draws them."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.data.train_refs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.data.train_images is not None:
            raw, valid = self.data.train_images[index]
        else:
            raw, valid = self.data.scene.read_image(self.data.train_refs[index])
        image = preprocess.normalise(raw, self.data.input, valid)
        targets = self.data.targets.standardise(self.data.train_targets[index])
        if self.augment:
            rng = np.random.default_rng((self.options.seed, self.epoch, index))
            if self.options.d4:
                image, targets = dihedral(image, targets, int(rng.integers(D4_COUNT)))
            image = jitter(image, rng, self.options.brightness, self.options.contrast)
        return torch.from_numpy(np.ascontiguousarray(image)), torch.from_numpy(np.ascontiguousarray(targets))


def window_batches(data: RegressionData, windows: Windows, multiple: int,
                   batch_size: int) -> Iterator[tuple[torch.Tensor, list[tuple[int, np.ndarray]]]]:
    """Normalised windows padded (mirrored) to the network's multiple, batched by shape, with each window's index
    and targets in units (NaN where not scored)."""
    groups: dict[tuple[int, ...], list[tuple[np.ndarray, int]]] = {}
    for index in range(len(windows.windows)):
        if windows.images is not None:
            raw, valid = windows.images[index]
        else:
            raw, valid = data.scene.read_image(windows.windows[index].read)
        image = preprocess.normalise(raw, data.input, valid)
        height, width = image.shape[1:]
        pad_h, pad_w = -height % multiple, -width % multiple
        if pad_h or pad_w:
            image = np.pad(image, ((0, 0), (0, pad_h), (0, pad_w)), mode="reflect" if min(height, width) > 1
                           else "edge")
        group = groups.setdefault(image.shape, [])
        group.append((image, index))
        if len(group) == batch_size:
            yield _stack(groups.pop(image.shape), windows)
    for group in groups.values():
        yield _stack(group, windows)


def _stack(items: list[tuple[np.ndarray, int]], windows: Windows) -> tuple[torch.Tensor,
                                                                            list[tuple[int, np.ndarray]]]:
    return (torch.from_numpy(np.stack([image for image, _ in items])),
            [(index, windows.targets[index]) for _, index in items])
