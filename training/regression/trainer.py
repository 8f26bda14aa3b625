"""The regression training loop (:mod:`..epoch_loop`): the L1, L2 or Huber loss on standardised targets, the
validation figures in the target's units every epoch, the best epoch picked by ``regression.objective``; one
process (CPU or one GPU)."""
from __future__ import annotations

import math
from typing import Any

import torch

from ..config import TrainConfig
from ..epoch_loop import EpochCallback, EpochLoop, LoopFit, Progress
from .data import RegressionData
from .dataset import RegressionChips
from .evaluate import RegressionEvaluation, evaluate_regression
from .loss import RegressionLoss

RegressionFit = LoopFit[RegressionEvaluation]

__all__ = ["EpochCallback", "RegressionFit", "RegressionTrainer"]


class RegressionTrainer(EpochLoop[RegressionEvaluation]):
    """Model, optimiser, schedule and loader of one regression run."""

    kind = "regression model"

    def __init__(self, model: torch.nn.Module, data: RegressionData, config: TrainConfig, progress: Progress,
                 device: torch.device, on_epoch: EpochCallback | None = None) -> None:
        if config.training.epochs is None or config.training.batch_size is None:
            raise ValueError("RegressionTrainer needs the epochs and batch size chosen: resolve the configuration")
        super().__init__(model, RegressionChips(data, config.training), config, progress, device, on_epoch)
        self.data = data
        self.criterion = RegressionLoss(config.regression.loss, config.regression.huber_delta)

    def batch_loss(self, images: torch.Tensor, targets: Any) -> torch.Tensor:
        return self.criterion(self.model(images.to(self.device)), targets.to(self.device))

    def validate(self) -> RegressionEvaluation:
        """Validation figures of the current weights, in the target's units."""
        return evaluate_regression(self.model, self.data, self.data.validation, self.criterion, self.device,
                                   max(self.batch_size // 2, 1), self.config.regression.objective)

    def score(self, evaluation: RegressionEvaluation) -> float:
        """Validation R², or the RMSE's or MAE's skill."""
        return evaluation.score

    def selection(self) -> str:
        return self.config.regression.objective

    def record(self, evaluation: RegressionEvaluation) -> dict[str, Any]:
        first = evaluation.scores[0]
        return {"val_loss": evaluation.loss, "score": evaluation.score, "r2": _finite(first.r2),
                "rmse": _finite(first.rmse), "mae": _finite(first.mae), "bias": _finite(first.bias)}

    def describe(self, entry: dict[str, Any], evaluation: RegressionEvaluation, best: str) -> str:
        units = f" {self.data.targets.units}" if self.data.targets.units else ""
        return (f"validation loss {evaluation.loss:.4f}, R² {entry['r2']:.3f}, RMSE {entry['rmse']:.4g}{units}, "
                f"MAE {entry['mae']:.4g}{units}, bias {entry['bias']:+.4g}{units}{best}")


def _finite(value: float | None) -> float:
    return float("nan") if value is None or not math.isfinite(value) else float(value)
