"""Cross-entropy with class weights, plus an optional soft Dice or Jaccard term; unlabelled pixels ignored.

Rare classes (cars, water in a farmland scene) are the hard ones: "auto" class weights are the
inverse square root of each class's share of training pixels, scaled so that the average weight
over the training pixels is one (the loss keeps its usual size), and capped at 10.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._plugin import errors
from .data.labels import IGNORE_INDEX

MAX_AUTO_WEIGHT = 10.0


def class_weights(setting: str | Sequence[float] | Mapping[str, float], counts: np.ndarray,
                  names: Sequence[str], values: Sequence[int]) -> torch.Tensor | None:
    """Weights per class channel from the configuration ("auto", "none", a list, or a name/value mapping)."""
    if isinstance(setting, str):
        if setting == "none":
            return None
        if setting != "auto":
            raise errors.InputError(f"training.class_weights is {setting!r}; use auto, none, a list of "
                                    "numbers or a mapping of class name (or value) to weight.")
        share = counts / max(counts.sum(), 1)
        weights = np.where(share > 0, 1.0 / np.sqrt(np.maximum(share, 1e-12)), 0.0)
        weights = weights / max(float((weights * share).sum()), 1e-12)
        return torch.tensor(np.minimum(weights, MAX_AUTO_WEIGHT), dtype=torch.float32)
    if isinstance(setting, Mapping):
        keys = {str(n): i for i, n in enumerate(names)} | {str(v): i for i, v in enumerate(values)}
        unknown = sorted(set(setting) - set(keys))
        if unknown:
            raise errors.InputError(f"training.class_weights names unknown classes {unknown}; the classes are "
                                    f"{', '.join(names)}.")
        weights = np.ones(len(names))
        for key, weight in setting.items():
            weights[keys[str(key)]] = float(weight)
        return torch.tensor(weights, dtype=torch.float32)
    if len(setting) != len(names):
        raise errors.InputError(f"training.class_weights has {len(setting)} values for {len(names)} classes "
                                f"({', '.join(names)}).")
    return torch.tensor([float(w) for w in setting], dtype=torch.float32)


def soft_overlap(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """1 - soft Dice (or Jaccard) over the labelled pixels, averaged over the classes present in them."""
    classes = logits.shape[1]
    labelled = target != IGNORE_INDEX
    probabilities = logits.float().softmax(dim=1).permute(0, 2, 3, 1)[labelled]  # (pixels, classes)
    one_hot = F.one_hot(target[labelled], classes).to(probabilities.dtype)
    intersection = (probabilities * one_hot).sum(dim=0)
    total = probabilities.sum(dim=0) + one_hot.sum(dim=0)
    smooth = 1.0
    if kind == "dice":
        score = (2 * intersection + smooth) / (total + smooth)
    else:
        score = (intersection + smooth) / (total - intersection + smooth)
    present = one_hot.sum(dim=0) > 0
    return 1 - score[present].mean() if bool(present.any()) else logits.sum() * 0


class SegmentationLoss(nn.Module):
    """CE (class-weighted, ignoring unlabelled pixels) + ``region_weight`` x soft Dice/Jaccard."""

    weights: torch.Tensor  # a buffer (registered in __init__), typed for checkers

    def __init__(self, weights: torch.Tensor | None = None, region: str = "none", region_weight: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("weights", weights if weights is not None else torch.empty(0))
        self.region, self.region_weight = region, region_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        weights = self.weights if self.weights.numel() else None
        if not bool((target != IGNORE_INDEX).any()):
            return logits.sum() * 0  # keeps the graph (and DDP's gradient sync) intact
        loss = F.cross_entropy(logits.float(), target, weight=weights, ignore_index=IGNORE_INDEX)
        if self.region != "none" and self.region_weight > 0:
            loss = loss + self.region_weight * soft_overlap(logits, target, self.region)
        return loss
