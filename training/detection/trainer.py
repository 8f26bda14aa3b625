"""The detector's training loop: AdamW, one-cycle or cosine schedule, validation every epoch (mAP@0.5 on the
validation area), the best epoch kept, early stopping, cancellation; one process (CPU or one GPU).

Reproducible on CPU as segmentation is: weights from the seed, chips shuffled by (seed, epoch), augmentations
drawn from (seed, epoch, chip), deterministic algorithms asked for.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader

from .._plugin import contract
from .._plugin import progress as progress_module
from ..config import TrainConfig
from ..nets.retinanet import RetinaNet
from ..timing import EpochClock
from ..trainer import MIN_ONECYCLE_STEPS, deterministic
from .chips import DetectionChips, collate
from .data import DetectionData
from .evaluate import EVAL_MIN_SCORE, DetectionEvaluation, evaluate_detector
from .loss import RetinaLoss
from .model_contract import detector_contract

Progress = progress_module.Progress
State = dict[str, torch.Tensor]
EpochCallback = Callable[[int, dict[str, Any]], None]


@dataclass
class DetectionFit:
    """What a finished (or cancelled) run produced."""

    best_state: State
    best_epoch: int
    best_evaluation: DetectionEvaluation
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
        """The selection's figure: validation mAP@0.5 of the best epoch."""
        return self.best_evaluation.map50


def _cpu_state(model: torch.nn.Module) -> State:
    return {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}


class DetectionTrainer:
    """Model, optimiser, schedule and loader of one detection run."""

    def __init__(self, model: RetinaNet, data: DetectionData, config: TrainConfig, progress: Progress,
                 device: torch.device, on_epoch: EpochCallback | None = None) -> None:
        self.model, self.data, self.config, self.progress, self.device = model, data, config, progress, device
        self.options, self.on_epoch = config.training, on_epoch
        self.epochs, self.batch_size = int(self.options.epochs or 1), int(self.options.batch_size or 1)
        model.to(device)
        self.dataset = DetectionChips(data, self.options)
        generator = torch.Generator().manual_seed(self.options.seed)
        self.loader = DataLoader(self.dataset, batch_size=self.batch_size, shuffle=True, generator=generator,
                                 num_workers=self.options.workers, collate_fn=collate,
                                 drop_last=len(self.dataset) >= 2 * self.batch_size)
        self.steps = max(1, min(len(self.loader), self.options.steps_per_epoch or len(self.loader)))
        self.criterion = RetinaLoss()
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=self.options.learning_rate,
                                           weight_decay=self.options.weight_decay)
        total = self.epochs * self.steps
        if self.options.schedule == "onecycle" and total >= MIN_ONECYCLE_STEPS:
            self.scheduler: Any = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, self.options.learning_rate,
                                                                      total_steps=total, pct_start=0.2)
        else:
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, total,
                                                                        eta_min=self.options.learning_rate * 0.01)
        self.evaluation_contract: contract.ModelContract = detector_contract(config, data, EVAL_MIN_SCORE)
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
            logits, deltas, anchors = self.model.raw(images.to(self.device))
            loss, _ = self.criterion(logits, deltas, anchors, targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)  # early focal-loss steps can spike
            self.optimizer.step()
            self.scheduler.step()
            total += float(loss.detach())
            chips += images.shape[0]
            self.progress.set_fraction((epoch * self.steps + step + 1) / (self.epochs * self.steps))
        return total / self.steps, chips, time.perf_counter() - started, False

    def validate(self) -> DetectionEvaluation:
        """Validation figures of the current weights (score threshold: the contract's, else the best F1's)."""
        return evaluate_detector(self.model, self.data, self.data.validation, self.evaluation_contract,
                                 self.data.objects, self.device, self.config.detection.score_threshold)

    def fit(self) -> DetectionFit:
        """Train until the last epoch, early stopping or cancellation; keep the best validated weights."""
        best: tuple[float, int, State, DetectionEvaluation | None] = (-1.0, 0, _cpu_state(self.model), None)
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
                improved = evaluation.map50 > best[0]
                if improved:
                    best = (evaluation.map50, epoch + 1, _cpu_state(self.model), evaluation)
                stale = 0 if improved else stale + 1
                self._record(epoch, loss, evaluation, seen / max(took, 1e-9), clock, improved)
                if self.on_epoch is not None:
                    self.on_epoch(epoch + 1, self.history[-1])
                if cancelled:
                    break
                if self.options.patience and stale >= self.options.patience:
                    stopped = True
                    self.progress.info(f"Early stopping: no better validation mAP@0.5 for {stale} epochs.")
                    break
        if best[3] is None:
            raise RuntimeError("no epoch of the detector was validated")
        return DetectionFit(best[2], best[1], best[3], self.history, cancelled, stopped, seconds, chips,
                            clock.per_epoch, time.perf_counter() - started)

    def _record(self, epoch: int, loss: float, evaluation: DetectionEvaluation, speed: float, clock: EpochClock,
                improved: bool) -> None:
        scores = evaluation.scores
        entry = {"epoch": epoch + 1, "train_loss": loss, "map50": evaluation.map50,
                 "map50_95": _finite(scores.map50_95), "precision": _finite(scores.precision),
                 "recall": _finite(scores.recall), "f1": _finite(scores.f1), "score_threshold": evaluation.threshold,
                 "learning_rate": self.optimizer.param_groups[0]["lr"], "chips_per_second": speed,
                 "seconds": clock.durations[-1]}
        self.history.append(entry)
        self.progress.info(f"Epoch {epoch + 1}/{self.epochs}: loss {loss:.4f} | validation mAP@0.5 "
                           f"{entry['map50']:.1%}{' (best)' if improved else ''}, mAP@0.5:0.95 "
                           f"{entry['map50_95']:.1%}, F1 {entry['f1']:.1%} at score {evaluation.threshold:.2f} "
                           f"| {speed:.1f} chips/s | {clock.text()}")


def _finite(value: float | None) -> float:
    return 0.0 if value is None or not math.isfinite(value) else float(value)


def best_copy(model: torch.nn.Module, state: State) -> torch.nn.Module:
    """A CPU copy of ``model`` holding ``state``."""
    copied = copy.deepcopy(model).cpu()
    copied.load_state_dict(state)
    return copied.eval()
