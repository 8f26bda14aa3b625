"""Regression losses on standardised targets, over the pixels that have one (NaN targets are left out)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RegressionLoss(nn.Module):
    """L1 (mean absolute error), L2 (mean squared error) or Huber (squared below ``delta``, absolute above: robust
    to a few wild targets such as clouds), in units of the targets' standard deviation."""

    def __init__(self, kind: str = "huber", delta: float = 1.0) -> None:
        super().__init__()
        self.kind, self.delta = kind, delta

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        has_value = torch.isfinite(target)
        if not bool(has_value.any()):
            return predicted.sum() * 0  # keeps the graph intact
        ours, theirs = predicted.float()[has_value], target[has_value]
        if self.kind == "l1":
            return F.l1_loss(ours, theirs)
        if self.kind == "l2":
            return F.mse_loss(ours, theirs)
        return F.huber_loss(ours, theirs, delta=self.delta)
