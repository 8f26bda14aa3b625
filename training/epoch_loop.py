"""The epoch loop the single-process trainers share (the detector's, the regression model's): AdamW, a one-cycle
or cosine schedule, validation every epoch, the best epoch kept, early stopping, cancellation.

Reproducible on CPU as segmentation is: weights from the seed, chips shuffled by (seed, epoch), augmentations
drawn from (seed, epoch, chip), deterministic algorithms asked for. A model kind gives its batches' loss, its
validation, the figure that picks the best epoch and its line in the log (:class:`EpochLoop`'s hooks).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

import torch
from torch.utils.data import DataLoader

from ._plugin import progress as progress_module
from .config import TrainConfig
from .timing import EpochClock
from .trainer import MIN_ONECYCLE_STEPS, deterministic

Progress = progress_module.Progress
State = dict[str, torch.Tensor]
EpochCallback = Callable[[int, dict[str, Any]], None]
Evaluation = TypeVar("Evaluation")


@dataclass
class LoopFit(Generic[Evaluation]):
    """What a finished (or cancelled) run produced."""

    best_state: State
    best_epoch: int
    best_evaluation: Evaluation
    best_score: float  # the selection's figure of the best epoch
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


def cpu_state(model: torch.nn.Module) -> State:
    """A detached CPU copy of the model's weights."""
    return {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}


class EpochLoop(Generic[Evaluation]):
    """Model, optimiser, schedule and loader of one run, and its epochs; the hooks below are the kind's."""

    kind = "model"  # named in the error when no epoch was validated
    clip_norm: float | None = None  # gradient clipping, for losses whose first steps can spike

    def __init__(self, model: torch.nn.Module, dataset: Any, config: TrainConfig, progress: Progress,
                 device: torch.device, on_epoch: EpochCallback | None = None, collate: Callable | None = None):
        self.model, self.config, self.progress, self.device = model, config, progress, device
        self.options, self.on_epoch = config.training, on_epoch
        self.epochs, self.batch_size = int(self.options.epochs or 1), int(self.options.batch_size or 1)
        model.to(device)
        self.dataset: Any = dataset
        generator = torch.Generator().manual_seed(self.options.seed)
        self.loader = DataLoader(dataset, batch_size=self.batch_size, shuffle=True, generator=generator,
                                 num_workers=self.options.workers, collate_fn=collate,
                                 drop_last=len(self.dataset) >= 2 * self.batch_size)
        self.steps = max(1, min(len(self.loader), self.options.steps_per_epoch or len(self.loader)))
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

    # The kind's hooks.
    def batch_loss(self, images: torch.Tensor, targets: Any) -> torch.Tensor:
        """The loss of one batch (the model in training mode)."""
        raise NotImplementedError

    def validate(self) -> Evaluation:
        """Validation figures of the current weights."""
        raise NotImplementedError

    def score(self, evaluation: Evaluation) -> float:
        """The figure that picks the best epoch (higher is better)."""
        raise NotImplementedError

    def selection(self) -> str:
        """What that figure is, for the early-stopping line."""
        raise NotImplementedError

    def record(self, evaluation: Evaluation) -> dict[str, Any]:
        """The kind's figures of an epoch, for the history."""
        raise NotImplementedError

    def describe(self, entry: dict[str, Any], evaluation: Evaluation, best: str) -> str:
        """The validation part of an epoch's log line (``best``: the marker of a new best epoch, or empty)."""
        raise NotImplementedError

    # The loop.
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
            loss = self.batch_loss(images, targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
            self.optimizer.step()
            self.scheduler.step()
            total += float(loss.detach())
            chips += images.shape[0]
            self.progress.set_fraction((epoch * self.steps + step + 1) / (self.epochs * self.steps))
        return total / self.steps, chips, time.perf_counter() - started, False

    def fit(self) -> LoopFit[Evaluation]:
        """Train until the last epoch, early stopping or cancellation; keep the best validated weights."""
        best: tuple[float, int, State, Evaluation | None] = (-math.inf, 0, cpu_state(self.model), None)
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
                improved = best[3] is None or self.score(evaluation) > best[0]
                if improved:
                    best = (self.score(evaluation), epoch + 1, cpu_state(self.model), evaluation)
                stale = 0 if improved else stale + 1
                self._record(epoch, loss, evaluation, seen / max(took, 1e-9), clock, improved)
                if self.on_epoch is not None:
                    self.on_epoch(epoch + 1, self.history[-1])
                if cancelled:
                    break
                if self.options.patience and stale >= self.options.patience:
                    stopped = True
                    self.progress.info(f"Early stopping: no better validation {self.selection()} for {stale} epochs.")
                    break
        if best[3] is None:
            raise RuntimeError(f"no epoch of the {self.kind} was validated")
        return LoopFit(best[2], best[1], best[3], best[0], self.history, cancelled, stopped, seconds, chips,
                       clock.per_epoch, time.perf_counter() - started)

    def _record(self, epoch: int, loss: float, evaluation: Evaluation, speed: float, clock: EpochClock,
                improved: bool) -> None:
        entry = {"epoch": epoch + 1, "train_loss": loss, **self.record(evaluation),
                 "learning_rate": self.optimizer.param_groups[0]["lr"], "chips_per_second": speed,
                 "seconds": clock.durations[-1]}
        self.history.append(entry)
        self.progress.info(f"Epoch {epoch + 1}/{self.epochs}: loss {loss:.4f} | "
                           f"{self.describe(entry, evaluation, ' (best)' if improved else '')} "
                           f"| {speed:.1f} chips/s | {clock.text()}")
