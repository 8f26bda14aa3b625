"""The detector's training loop (:mod:`..epoch_loop`): RetinaNet's loss on each batch, validation mAP@0.5 on the
validation area every epoch picking the best epoch; one process (CPU or one GPU)."""
from __future__ import annotations

import copy
import math
from typing import Any

import torch

from .._plugin import contract
from ..config import TrainConfig
from ..epoch_loop import EpochCallback, EpochLoop, LoopFit, Progress, State
from ..nets.retinanet import RetinaNet
from .chips import DetectionChips, collate
from .data import DetectionData
from .evaluate import EVAL_MIN_SCORE, DetectionEvaluation, evaluate_detector
from .loss import RetinaLoss
from .model_contract import detector_contract

DetectionFit = LoopFit[DetectionEvaluation]

__all__ = ["DetectionFit", "DetectionTrainer", "EpochCallback", "best_copy"]


class DetectionTrainer(EpochLoop[DetectionEvaluation]):
    """Model, optimiser, schedule and loader of one detection run."""

    kind = "detector"
    clip_norm = 10.0  # early focal-loss steps can spike

    def __init__(self, model: RetinaNet, data: DetectionData, config: TrainConfig, progress: Progress,
                 device: torch.device, on_epoch: EpochCallback | None = None) -> None:
        super().__init__(model, DetectionChips(data, config.training), config, progress, device, on_epoch, collate)
        self.data, self.detector = data, model
        self.criterion = RetinaLoss()
        self.evaluation_contract: contract.ModelContract = detector_contract(config, data, EVAL_MIN_SCORE)

    def batch_loss(self, images: torch.Tensor, targets: Any) -> torch.Tensor:
        logits, deltas, anchors = self.detector.raw(images.to(self.device))
        loss, _ = self.criterion(logits, deltas, anchors, targets)
        return loss

    def validate(self) -> DetectionEvaluation:
        """Validation figures of the current weights (score threshold: the contract's, else the best F1's)."""
        return evaluate_detector(self.detector, self.data, self.data.validation, self.evaluation_contract,
                                 self.data.objects, self.device, self.config.detection.score_threshold)

    def score(self, evaluation: DetectionEvaluation) -> float:
        return evaluation.map50

    def selection(self) -> str:
        return "mAP@0.5"

    def record(self, evaluation: DetectionEvaluation) -> dict[str, Any]:
        scores = evaluation.scores
        return {"map50": evaluation.map50, "map50_95": _finite(scores.map50_95),
                "precision": _finite(scores.precision), "recall": _finite(scores.recall), "f1": _finite(scores.f1),
                "score_threshold": evaluation.threshold}

    def describe(self, entry: dict[str, Any], evaluation: DetectionEvaluation, best: str) -> str:
        return (f"validation mAP@0.5 {entry['map50']:.1%}{best}, mAP@0.5:0.95 {entry['map50_95']:.1%}, "
                f"F1 {entry['f1']:.1%} at score {evaluation.threshold:.2f}")


def _finite(value: float | None) -> float:
    return 0.0 if value is None or not math.isfinite(value) else float(value)


def best_copy(model: torch.nn.Module, state: State) -> torch.nn.Module:
    """A CPU copy of ``model`` holding ``state``."""
    copied = copy.deepcopy(model).cpu()
    copied.load_state_dict(state)
    return copied.eval()
