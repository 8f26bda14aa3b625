"""The regression training loop: AdamW, one-cycle or cosine schedule, validation every epoch (in the target's
units, on the spatial validation area), the best epoch kept by ``regression.objective``, early stopping,
cancellation; one process (CPU or one GPU).

Reproducible on CPU as segmentation is: weights from the seed, chips shuffled by (seed, epoch), augmentations
drawn from (seed, epoch, chip), deterministic algorithms asked for.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader

from .._plugin import progress as progress_module
from ..config import TrainConfig
from ..timing import EpochClock
from ..trainer import MIN_ONECYCLE_STEPS, deterministic
from .data import RegressionData
from .dataset import RegressionChips
from .evaluate import RegressionEvaluation, evaluate_regression
from .loss import RegressionLoss

Progress = progress_module.Progress
State = dict[str, torch.Tensor]
EpochCallback = Callable[[int, dict[str, Any]], None]


@dataclass
class RegressionFit:
    """What a finished (or cancelled) run produced."""

    best_state: State
    best_epoch: int
    best_evaluation: RegressionEvaluation
    history: list[dict[str, Any]] = field(default_factory=list)
    cancelled: bool = False
    stopped_early: bool = False
    train_seconds: float = 0.0
    chips_seen: int = 0
    seconds_per_epoch: float = float("nan")
    wall_seconds: float = 0.0

    @property
    def chips_per_second(self) -> float:
        return self.chips_seen / self.train_seconds if self.train_seconds > 0 else float("nan")

    @property
    def best_score(self) -> float:
        """The selection's figure of the best epoch (validation R², or the RMSE's or MAE's skill)."""
        return self.best_evaluation.score


def _cpu_state(model: torch.nn.Module) -> State:
    return {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}


class RegressionTrainer:
    """Model, optimiser, schedule and loader of one regression run."""

    def __init__(self, model: torch.nn.Module, data: RegressionData, config: TrainConfig, progress: Progress,
                 device: torch.device, on_epoch: EpochCallback | None = None) -> None:
        self.model, self.data, self.config, self.progress, self.device = model, data, config, progress, device
        self.options, self.on_epoch = config.training, on_epoch
        if self.options.epochs is None or self.options.batch_size is None:
            raise ValueError("RegressionTrainer needs the epochs and batch size chosen: resolve the configuration")
        self.epochs, self.batch_size = int(self.options.epochs), int(self.options.batch_size)
        model.to(device)
        self.dataset = RegressionChips(data, self.options)
        generator = torch.Generator().manual_seed(self.options.seed)
        self.loader = DataLoader(self.dataset, batch_size=self.batch_size, shuffle=True, generator=generator,
                                 num_workers=self.options.workers,
                                 drop_last=len(self.dataset) >= 2 * self.batch_size)
        self.steps = max(1, min(len(self.loader), self.options.steps_per_epoch or len(self.loader)))
        self.criterion = RegressionLoss(config.regression.loss, config.regression.huber_delta)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=self.options.learning_rate,
                                           weight_decay=self.options.weight_decay)
        total = self.epochs * self.steps
        if self.options.schedule == "onecycle" and total >= MIN_ONECYCLE_STEPS:
            self.scheduler: Any = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, self.options.learning_rate,
                                                                      total_steps=total, pct_start=0.2)
        else:
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, total,
                                                                        eta_min=self.options.learning_rate * 0.01)
        self.history: list[dict[str, Any]] = []

    def _train_epoch(self, epoch: int) -> tuple[float, int, float, bool]:
        """(mean loss, chips, seconds, cancelled) of one pass."""
        self.model.train()
        self.dataset.set_epoch(epoch)
        total, chips, started = 0.0, 0, time.perf_counter()
        for step, (images, targets) in enumerate(self.loader):
            if step >= self.steps:
                break
            if self.progress.is_cancelled():
                return total / max(step, 1), chips, time.perf_counter() - started, True
            loss = self.criterion(self.model(images.to(self.device)), targets.to(self.device))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            total += float(loss.detach())
            chips += images.shape[0]
            self.progress.set_fraction((epoch * self.steps + step + 1) / (self.epochs * self.steps))
        return total / self.steps, chips, time.perf_counter() - started, False

    def validate(self) -> RegressionEvaluation:
        """Validation figures of the current weights, in the target's units."""
        return evaluate_regression(self.model, self.data, self.data.validation, self.criterion, self.device,
                                   max(self.batch_size // 2, 1), self.config.regression.objective)

    def fit(self) -> RegressionFit:
        """Train until the last epoch, early stopping or cancellation; keep the best validated weights."""
        best: tuple[float, int, State, RegressionEvaluation | None] = (-math.inf, 0, _cpu_state(self.model), None)
        seconds, chips, cancelled, stopped, stale = 0.0, 0, False, False, 0
        clock, started = EpochClock(self.epochs), time.perf_counter()
        with deterministic(self.device.type == "cpu"):
            for epoch in range(self.epochs):
                epoch_started = time.perf_counter()
                loss, seen, took, cancelled = self._train_epoch(epoch)
                seconds, chips = seconds + took, chips + seen
                if cancelled and best[3] is not None:
                    break
                evaluation = self.validate()
                clock.add(time.perf_counter() - epoch_started)
                improved = best[3] is None or evaluation.score > best[0]
                if improved:
                    best = (evaluation.score, epoch + 1, _cpu_state(self.model), evaluation)
                stale = 0 if improved else stale + 1
                self._record(epoch, loss, evaluation, seen / max(took, 1e-9), clock, improved)
                if self.on_epoch is not None:
                    self.on_epoch(epoch + 1, self.history[-1])
                if cancelled:
                    break
                if self.options.patience and stale >= self.options.patience:
                    stopped = True
                    self.progress.info(f"Early stopping: no better validation {self.config.regression.objective} "
                                       f"for {stale} epochs.")
                    break
        if best[3] is None:
            raise RuntimeError("no epoch of the regression model was validated")
        return RegressionFit(best[2], best[1], best[3], self.history, cancelled, stopped, seconds, chips,
                             clock.per_epoch, time.perf_counter() - started)

    def _record(self, epoch: int, loss: float, evaluation: RegressionEvaluation, speed: float, clock: EpochClock,
                improved: bool) -> None:
        first = evaluation.scores[0]
        entry = {"epoch": epoch + 1, "train_loss": loss, "val_loss": evaluation.loss, "score": evaluation.score,
                 "r2": _finite(first.r2), "rmse": _finite(first.rmse), "mae": _finite(first.mae),
                 "bias": _finite(first.bias), "learning_rate": self.optimizer.param_groups[0]["lr"],
                 "chips_per_second": speed, "seconds": clock.durations[-1]}
        self.history.append(entry)
        units = f" {self.data.targets.units}" if self.data.targets.units else ""
        self.progress.info(f"Epoch {epoch + 1}/{self.epochs}: loss {loss:.4f} | validation loss "
                           f"{evaluation.loss:.4f}, R² {entry['r2']:.3f}, RMSE {entry['rmse']:.4g}{units}, MAE "
                           f"{entry['mae']:.4g}{units}, bias {entry['bias']:+.4g}{units}{' (best)' if improved else ''}"
                           f" | {speed:.1f} chips/s | {clock.text()}")


def _finite(value: float | None) -> float:
    return float("nan") if value is None or not math.isfinite(value) else float(value)
