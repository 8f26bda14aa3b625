"""The training loop: AdamW, cosine or one-cycle schedule, validation every epoch, best checkpoint on
validation mIoU, early stopping, resume, cancellation, DistributedDataParallel under torchrun.

Reproducible on CPU: weights start from the seed, chips are shuffled by (seed, epoch) and augmented
by (seed, epoch, chip), deterministic algorithms are asked for, and the torch random state travels
in the checkpoint, so a resumed run ends with the same weights as an unbroken one.
"""
from __future__ import annotations

import copy
import math
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from . import checkpoint
from ._plugin import errors
from ._plugin import progress as progress_module
from .checkpoint_export import last_epoch_fields, margin_sample
from .config import TrainConfig
from .data.dataset import ChipDataset
from .data.prepare import PreparedData
from .distributed import DistState, all_sum, any_rank
from .losses import SegmentationLoss, class_weights
from .nets import SegmentationModel
from .timing import EpochClock, first_epoch_estimate
from .validation import Evaluation, evaluate

Progress = progress_module.Progress
State = dict[str, torch.Tensor]
EpochCallback = Callable[[int, dict[str, Any]], None]  # (epoch, its history entry); may raise to stop the run
MIN_ONECYCLE_STEPS = 10  # shorter runs leave one-cycle's warm-up phase empty
ESTIMATE_AFTER_SECONDS = 10.0  # the first epoch's early time estimate, once this much has passed


@dataclass
class FitResult:
    """What a finished (or cancelled) run produced."""

    best_state: State
    best_epoch: int
    best_evaluation: Evaluation
    history: list[dict[str, Any]] = field(default_factory=list)
    cancelled: bool = False
    stopped_early: bool = False
    train_seconds: float = 0.0
    chips_seen: int = 0
    seconds_per_epoch: float = float("nan")  # training and validation, mean over this run's epochs
    wall_seconds: float = 0.0

    @property
    def chips_per_second(self) -> float:
        return self.chips_seen / self.train_seconds if self.train_seconds > 0 else float("nan")


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) before the model is built."""
    torch.manual_seed(seed)


@contextmanager
def deterministic(enabled: bool) -> Iterator[None]:
    """Ask torch for deterministic algorithms for the duration of a run, then restore the setting."""
    before = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=warn_only)


def _cpu_state(model: torch.nn.Module) -> State:
    return {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}


class Trainer:
    """Holds the model, optimiser, schedule and loaders of one run."""

    def __init__(self, model: SegmentationModel, data: PreparedData, config: TrainConfig, progress: Progress,
                 state: DistState, on_epoch: EpochCallback | None = None) -> None:
        self.model, self.data, self.config, self.progress, self.state = model, data, config, progress, state
        self.on_epoch = on_epoch
        self.options = config.training
        if self.options.epochs is None or self.options.batch_size is None:
            raise ValueError("training.epochs and training.batch_size must be chosen (plan.resolve) before training")
        self.epochs, self.batch_size = int(self.options.epochs), int(self.options.batch_size)
        model.to(state.device)
        self.network: torch.nn.Module = model
        if state.distributed:
            self.network = DistributedDataParallel(model, device_ids=[state.device.index] if state.device.type
                                                   == "cuda" else None)
        self.dataset = ChipDataset(data, self.options)
        self.sampler: DistributedSampler = DistributedSampler(
            self.dataset, num_replicas=state.world, rank=state.rank, shuffle=True, seed=self.options.seed)
        per_rank = math.ceil(len(self.dataset) / state.world)
        self.loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=self.sampler,
                                 num_workers=self.options.workers, drop_last=per_rank >= 2 * self.batch_size,
                                 pin_memory=state.device.type == "cuda")
        self.steps_per_epoch = max(1, min(len(self.loader), self.options.steps_per_epoch or len(self.loader)))
        weights = class_weights(self.options.class_weights, data.train_counts,
                                [c.name for c in data.classes.classes], [int(v) for v in data.classes.values])
        self.criterion = SegmentationLoss(weights, self.options.region_loss, self.options.region_loss_weight)
        self.criterion.to(state.device)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=self.options.learning_rate,
                                           weight_decay=self.options.weight_decay)
        self.scheduler = self._schedule()
        self.amp = self.options.amp and state.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.history: list[dict[str, Any]] = []
        self.start_epoch = 0
        self.best: tuple[float, int, State, Evaluation | None] = (-1.0, 0, _cpu_state(model), None)
        self._estimated = False
        self._margin_sample: torch.Tensor | None = None
        self.holdout = bool(data.validation.windows)  # without a validation area every epoch is "the best": the last

    def _schedule(self) -> torch.optim.lr_scheduler.LRScheduler:
        total = self.epochs * self.steps_per_epoch
        if self.options.schedule == "onecycle" and total < MIN_ONECYCLE_STEPS:
            self.progress.info(f"Only {total} training steps: a cosine schedule replaces one-cycle, which needs "
                               f"at least {MIN_ONECYCLE_STEPS}.")
        elif self.options.schedule == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(self.optimizer, self.options.learning_rate, total_steps=total,
                                                       pct_start=0.2)
        return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, total, eta_min=self.options.learning_rate
                                                          * 0.01)

    # ---- one epoch ------------------------------------------------------------------------------
    def _train_epoch(self, epoch: int) -> tuple[float, int, float, bool]:
        """(mean loss, chips, seconds, cancelled) of one pass over this rank's chips."""
        self.network.train()
        self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch)
        total, chips, started = 0.0, 0, time.perf_counter()
        autocast = torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()
        for step, (images, labels) in enumerate(self.loader):
            if step >= self.steps_per_epoch:
                break
            if any_rank(self.state, self.progress.is_cancelled()):
                return total / max(step, 1), chips, time.perf_counter() - started, True
            images = images.to(self.state.device, non_blocking=True)
            labels = labels.to(self.state.device, non_blocking=True)
            with autocast:
                loss = self.criterion(self.network(images), labels)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            total += float(loss.detach())
            chips += images.shape[0]
            done = (epoch - self.start_epoch) * self.steps_per_epoch + step + 1
            self.progress.set_fraction(done / ((self.epochs - self.start_epoch) * self.steps_per_epoch))
            self._early_estimate(step + 1, time.perf_counter() - started)
        return total / self.steps_per_epoch, chips, time.perf_counter() - started, False

    def _early_estimate(self, steps: int, seconds: float) -> None:
        """Once, during the first epoch: what the run will take, before an epoch has finished."""
        if self._estimated or steps >= self.steps_per_epoch or (seconds < ESTIMATE_AFTER_SECONDS and steps < 5):
            return
        self._estimated = True
        epochs = self.epochs - self.start_epoch
        self.progress.info(first_epoch_estimate(seconds / steps, self.steps_per_epoch, epochs))

    def validate(self) -> Evaluation:
        """Scores of the current weights on the validation area (all ranks together)."""
        self.model.eval()
        return evaluate(self.model, self.data, self.criterion, self.model.size_multiple,
                        max(self.batch_size // 2, 1), self.state)

    # ---- the run --------------------------------------------------------------------------------
    def fit(self) -> FitResult:
        """Train until the last epoch, early stopping or cancellation; return the best weights."""
        seconds_total, chips_total, cancelled, stopped, stale = 0.0, 0, False, False, 0
        clock, run_started = EpochClock(self.epochs - self.start_epoch), time.perf_counter()
        with deterministic(self.state.device.type == "cpu"):
            for epoch in range(self.start_epoch, self.epochs):
                epoch_started = time.perf_counter()
                loss, chips, seconds, cancelled = self._train_epoch(epoch)
                seconds_total, chips_total = seconds_total + seconds, chips_total + chips
                if cancelled and self.best[3] is not None:
                    break  # keep the best validated weights; the partial epoch is not scored
                evaluation = self.validate()
                clock.add(time.perf_counter() - epoch_started)
                improved = self._record(epoch, loss, evaluation, chips / max(seconds, 1e-9), clock)
                stale = 0 if improved else stale + 1
                self._save_last(epoch, evaluation)
                if self.on_epoch is not None:
                    self.on_epoch(epoch + 1, self.history[-1])
                if cancelled:
                    break
                if self.options.patience and stale >= self.options.patience:
                    stopped = True
                    self.progress.info(f"Early stopping: no better validation mIoU for {stale} epochs.")
                    break
            best_evaluation = self.best_evaluation()
        chips_all = int(all_sum(self.state, torch.tensor([float(chips_total)])).item())
        return FitResult(self.best[2], self.best[1], best_evaluation, self.history, cancelled, stopped,
                         seconds_total, chips_all, clock.per_epoch, time.perf_counter() - run_started)

    def _record(self, epoch: int, loss: float, evaluation: Evaluation, speed: float, clock: EpochClock) -> bool:
        scores = evaluation.scores
        miou = scores.mean_iou if not math.isnan(scores.mean_iou) else 0.0
        improved = miou > self.best[0] or not self.holdout
        if improved:
            self.best = (miou, epoch + 1, _cpu_state(self.model), evaluation)
        names = self.data.classes.names
        self.history.append({"epoch": epoch + 1, "train_loss": loss, "val_loss": evaluation.loss,
                             "overall_accuracy": scores.overall_accuracy, "kappa": scores.kappa, "mean_iou": miou,
                             "iou": {names[v]: _finite(i) for v, i in zip(scores.values, scores.iou)},
                             "learning_rate": self.optimizer.param_groups[0]["lr"], "chips_per_second": speed,
                             "seconds": clock.durations[-1]})
        per_class = ", ".join(f"{names[v]} {_finite(i):.2f}" for v, i in zip(scores.values, scores.iou))
        validated = (f"validation loss {evaluation.loss:.4f}, OA {scores.overall_accuracy:.1%}, mIoU {miou:.1%}"
                     f"{' (best)' if improved else ''} | IoU {per_class}" if self.holdout else
                     "no validation area (the last epoch's weights are kept)")
        self.progress.info(f"Epoch {epoch + 1}/{self.epochs}: loss {loss:.4f} | {validated} | {speed:.1f} "
                           f"chips/s | {clock.text()}")
        return improved

    # ---- checkpoints ----------------------------------------------------------------------------
    def _save_last(self, epoch: int, evaluation: Evaluation) -> None:
        """``last.pt``: everything to resume the run, and to export this epoch's weights on their own."""
        if not (self.state.is_main and self.config.output.checkpoints):
            return
        best_miou, best_epoch, best_state, _ = self.best
        if self._margin_sample is None:
            self._margin_sample = margin_sample(self.data)
        epochs = {"planned": self.epochs, "run": epoch + 1, "best": best_epoch, "exported": "last",
                  "cancelled": False, "stopped_early": False}
        exported = last_epoch_fields(self.model, self.data, self.config, evaluation, epochs, self._margin_sample)
        checkpoint.save(Path(self.config.output.folder) / "last.pt", {
            **exported, "epoch": epoch + 1, "model": _cpu_state(self.model), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
            "torch_rng": torch.get_rng_state(), "history": checkpoint.to_json(self.history),
            "best_model": best_state, "best_epoch": best_epoch, "best_miou": best_miou,
            "config": checkpoint.to_json(self.config.to_dict()), "classes": self._class_signature()})

    def _class_signature(self) -> str:
        return checkpoint.to_json({"values": self.data.classes.values.tolist(),
                                   "bands": list(self.data.input.band_names)})

    def resume(self, path: str | Path) -> None:
        """Continue from a ``last.pt``: weights, optimiser, schedule, random state and history."""
        content = checkpoint.load(path)
        if content.get("classes") != self._class_signature():
            raise errors.InputError(f"The checkpoint '{path}' was trained on other classes or bands "
                                    f"({content.get('classes')}); resume with the same data.")
        planned = checkpoint.from_json(content["config"])["training"]["epochs"]
        if planned != self.epochs:
            raise errors.InputError(f"The checkpoint '{path}' belongs to a run of {planned} epochs; resume it with "
                                    f"training.epochs {planned} (the schedule depends on it).")
        self.model.load_state_dict(content["model"])
        self.optimizer.load_state_dict(content["optimizer"])
        self.scheduler.load_state_dict(content["scheduler"])
        self.scaler.load_state_dict(content["scaler"])
        torch.set_rng_state(content["torch_rng"])
        self.history = checkpoint.from_json(content["history"])
        self.start_epoch = int(content["epoch"])
        self.best = (float(content["best_miou"]), int(content["best_epoch"]), content["best_model"], None)
        if self.start_epoch >= self.epochs:
            raise errors.InputError(f"The checkpoint '{path}' has already run all its {self.start_epoch} epochs; "
                                    "there is nothing to resume (its best model is in best.pt).")
        self.progress.info(f"Resumed from '{path}' after epoch {self.start_epoch}.")

    def best_evaluation(self) -> Evaluation:
        """The best weights' evaluation, recomputed when a resumed run has not improved on them."""
        if self.best[3] is not None:
            return self.best[3]
        current = copy.deepcopy(_cpu_state(self.model))
        self.model.load_state_dict(self.best[2])
        evaluation = self.validate()
        self.model.load_state_dict(current)
        self.best = (self.best[0], self.best[1], self.best[2], evaluation)
        return evaluation


def _finite(value: float) -> float:
    return 0.0 if math.isnan(value) else float(value)
