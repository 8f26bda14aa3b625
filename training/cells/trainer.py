"""The tile classifier's training loop: cross-entropy (class weights as segmentation's), AdamW, a one-cycle or
cosine schedule, the eight flips and quarter turns, validation every epoch scored with the plugin's metrics, the
best epoch by validation mean F1 kept, early stopping and a polite cancel.

Reproducible on CPU: weights start from the seed, cells are shuffled and augmented by (seed, epoch).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from .._plugin import metrics
from .._plugin import progress as progress_module
from ..config import TrainConfig
from ..losses import class_weights
from ..trainer import MIN_ONECYCLE_STEPS
from .data import TRAIN, VALIDATION, CellData

Progress = progress_module.Progress
State = dict[str, torch.Tensor]
EpochCallback = Callable[[int, dict[str, Any]], None]


@dataclass
class CellEvaluation:
    """A classifier scored on cells: the confusion matrix of class values (the plugin's) and the mean loss."""

    confusion: metrics.ConfusionMatrix
    loss: float
    predicted: np.ndarray  # class index per scored cell, in the order given

    @property
    def scores(self) -> metrics.Scores:
        return self.confusion.scores()

    @property
    def mean_f1(self) -> float:
        """Mean F1 over the classes in the reference or the predictions (the selection criterion)."""
        scores = self.scores
        present = (scores.reference_count + scores.predicted_count) > 0
        return float(np.nanmean(np.nan_to_num(scores.f1[present]))) if present.any() else float("nan")

    def summary(self, names: dict[int, str]) -> dict[str, Any]:
        """OA, kappa, mean F1, per-class precision, recall and F1, and the confusion matrix (JSON-ready)."""
        scores = self.scores
        document = scores.to_dict(names)
        document.pop("mean_iou", None)
        for row in document["classes"]:
            row.pop("iou", None)
        return {**document, "mean_f1": _finite(self.mean_f1), "loss": _finite(self.loss),
                "confusion_matrix": {"values": list(self.confusion.values),
                                     "names": [names.get(v, str(v)) for v in self.confusion.values],
                                     "matrix": self.confusion.matrix.tolist(), "rows": "reference",
                                     "columns": "prediction"}}


@dataclass
class CellFit:
    """What a finished (or cancelled) run produced."""

    best_state: State
    best_epoch: int
    best_evaluation: CellEvaluation | None
    history: list[dict[str, Any]] = field(default_factory=list)
    cancelled: bool = False
    stopped_early: bool = False
    train_seconds: float = 0.0
    cells_seen: int = 0

    @property
    def cells_per_second(self) -> float:
        return self.cells_seen / self.train_seconds if self.train_seconds > 0 else float("nan")


def batches(data: CellData, cells: np.ndarray, size: int) -> Any:
    """(inputs, class indices) tensors of ``cells`` in batches of ``size``, in order."""
    for start in range(0, len(cells), size):
        chosen = cells[start:start + size]
        inputs = np.stack([data.normalised(int(r), int(c)) for r, c in chosen])
        yield torch.from_numpy(inputs), torch.from_numpy(data.targets(chosen))


def evaluate_cells(model: torch.nn.Module, data: CellData, cells: np.ndarray, device: torch.device,
                   batch_size: int = 64, weights: torch.Tensor | None = None) -> CellEvaluation:
    """The model's class for each of ``cells`` against its label: the plugin's confusion matrix of class values."""
    model.eval()
    values = np.array([c.value for c in data.classes], np.int64)
    predicted, losses = [], []
    criterion = torch.nn.CrossEntropyLoss(weight=None if weights is None else weights.to(device), reduction="sum")
    with torch.no_grad():
        for inputs, targets in batches(data, cells, batch_size):
            logits = model(inputs.to(device))
            losses.append(float(criterion(logits, targets.to(device))))
            predicted.append(logits.argmax(1).cpu().numpy())
    chosen = np.concatenate(predicted) if predicted else np.zeros(0, np.int64)
    confusion = metrics.ConfusionMatrix.from_arrays(values[data.targets(cells)], values[chosen], values.tolist())
    return CellEvaluation(confusion, sum(losses) / max(len(cells), 1), chosen)


def augment(inputs: torch.Tensor, generator: torch.Generator, config: TrainConfig) -> torch.Tensor:
    """The eight flips and quarter turns (``training.d4``) and brightness/contrast jitter, per window."""
    options = config.training
    out = inputs.clone()
    for i in range(len(out)):
        if options.d4:
            turns, flip = (int(v) for v in torch.randint(0, 4, (2,), generator=generator))
            out[i] = torch.rot90(out[i], turns, dims=(1, 2))
            if flip % 2:
                out[i] = torch.flip(out[i], dims=(2,))
        if options.contrast:
            out[i] *= 1 + (torch.rand(1, generator=generator) * 2 - 1) * options.contrast
        if options.brightness:
            out[i] += (torch.rand(1, generator=generator) * 2 - 1) * options.brightness
    return out


class CellTrainer:
    """The model, optimiser, schedule and cells of one run."""

    def __init__(self, model: torch.nn.Module, data: CellData, config: TrainConfig, progress: Progress,
                 device: torch.device, on_epoch: EpochCallback | None = None) -> None:
        self.model, self.data, self.config = model.to(device), data, config
        self.progress, self.device = progress, device
        self.options, self.on_epoch = config.training, on_epoch
        if self.options.epochs is None or self.options.batch_size is None:
            raise ValueError("training.epochs and training.batch_size are set by the configuration's check")
        self.epochs, self.batch_size = int(self.options.epochs), int(self.options.batch_size)
        self.train_cells, self.validation_cells = data.cells_of(TRAIN), data.cells_of(VALIDATION)
        per_epoch = math.ceil(len(self.train_cells) / self.batch_size)
        self.steps = max(1, min(per_epoch, self.options.steps_per_epoch or per_epoch))
        counts = np.array(data.counts(TRAIN), np.float64)
        names = [c.name for c in data.classes]
        self.weights = class_weights(self.options.class_weights, counts, names, [c.value for c in data.classes])
        self.criterion = torch.nn.CrossEntropyLoss(weight=None if self.weights is None else self.weights.to(device))
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=self.options.learning_rate,
                                           weight_decay=self.options.weight_decay)
        total = self.epochs * self.steps
        self.scheduler: torch.optim.lr_scheduler.LRScheduler
        if self.options.schedule == "onecycle" and total >= MIN_ONECYCLE_STEPS:
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, self.options.learning_rate,
                                                                 total_steps=total, pct_start=0.2)
        else:
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, total,
                                                                        eta_min=self.options.learning_rate * 0.01)

    def _epoch(self, epoch: int) -> tuple[float, int, bool]:
        """(mean loss, cells, cancelled) of one pass over the training cells (or ``steps_per_epoch`` batches)."""
        self.model.train()
        order = np.random.default_rng([self.options.seed, epoch]).permutation(len(self.train_cells))
        generator = torch.Generator().manual_seed(self.options.seed * 100003 + epoch)
        chosen = self.train_cells[order][:self.steps * self.batch_size]
        total, seen = 0.0, 0
        for inputs, targets in batches(self.data, chosen, self.batch_size):
            if len(targets) < 2 and seen:  # a lone last window would upset batch normalisation
                break
            inputs = augment(inputs, generator, self.config).to(self.device)
            loss = self.criterion(self.model(inputs), targets.to(self.device))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            total, seen = total + float(loss.detach()) * len(targets), seen + len(targets)
            if self.progress.is_cancelled():
                return total / max(seen, 1), seen, True
        return total / max(seen, 1), seen, False

    def fit(self) -> CellFit:
        """Train for the configured epochs; keep the weights of the best validation mean F1 (or the last epoch
        without a validation area)."""
        fit = CellFit(_copy_state(self.model), 0, None)
        best, waited = -math.inf, 0
        for epoch in range(1, self.epochs + 1):
            started = time.perf_counter()
            loss, seen, cancelled = self._epoch(epoch)
            fit.train_seconds += time.perf_counter() - started
            fit.cells_seen += seen
            entry: dict[str, Any] = {"epoch": epoch, "train_loss": loss, "seconds": time.perf_counter() - started}
            evaluation = None
            if len(self.validation_cells):
                evaluation = evaluate_cells(self.model, self.data, self.validation_cells, self.device,
                                            self.batch_size * 2, self.weights)
                scores = evaluation.scores
                entry.update({"val_loss": evaluation.loss, "overall_accuracy": scores.overall_accuracy,
                              "kappa": scores.kappa, "mean_f1": evaluation.mean_f1})
            fit.history.append(entry)
            score = evaluation.mean_f1 if evaluation is not None else float(epoch)
            if score > best:
                best, waited = score, 0
                fit.best_state, fit.best_epoch, fit.best_evaluation = _copy_state(self.model), epoch, evaluation
            else:
                waited += 1
            self.progress.info(_epoch_line(entry, self.epochs))
            self.progress.set_fraction(epoch / self.epochs)
            if self.on_epoch is not None:
                self.on_epoch(epoch, entry)
            if cancelled:
                fit.cancelled = True
                break
            if self.options.patience and waited >= self.options.patience:
                fit.stopped_early = True
                self.progress.info(f"No better validation mean F1 for {waited} epochs: stopping early.")
                break
        return fit


def _copy_state(model: torch.nn.Module) -> State:
    return {key: value.detach().cpu().clone() for key, value in copy.deepcopy(model.state_dict()).items()}


def _epoch_line(entry: dict[str, Any], epochs: int) -> str:
    line = f"Epoch {entry['epoch']}/{epochs}: training loss {entry['train_loss']:.4f}"
    if "val_loss" in entry:
        line += (f", validation loss {entry['val_loss']:.4f}, OA {entry['overall_accuracy']:.1%}, kappa "
                 f"{entry['kappa']:.3f}, mean F1 {entry['mean_f1']:.1%}")
    return line + f" ({entry['seconds']:.1f} s)."


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
