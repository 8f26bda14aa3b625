"""What ``python -m training tune`` needs to search a detector's settings: its search space, its objective
(validation mAP@0.5), its data and its training run. The search itself (Optuna study, pruning, report,
retraining) is the one in :mod:`..tune`, which calls these for ``architecture: retinanet``."""
from __future__ import annotations

from typing import Any

from .._plugin import progress as progress_module
from ..config import TrainConfig
from ..data.raster import RasterSource
from ..distributed import choose_device
from ..trainer import seed_everything
from .data import DetectionData, default_block_size
from .prepare import prepare_detection
from .trainer import DetectionFit, DetectionTrainer

Progress = progress_module.Progress
OBJECTIVE_KEY = "map50"  # the history entry each epoch reports to the pruner
OBJECTIVE = {"blocks": "validation mAP@0.5 on spatial blocks inside the training ground",
             "folds": "mean validation mAP@0.5 over {k} spatial folds of the training ground"}
# name -> (kind, values): "choice" lists values, "range" gives (low, high, log)
SPACE: dict[str, tuple[str, Any]] = {
    "backbone": ("choice", ("resnet18", "mobilenetv2")),
    "learning_rate": ("range", (1e-4, 3e-3, True)),
    "weight_decay": ("range", (1e-6, 1e-2, True)),
    "fpn_channels": ("choice", (64, 128)),
    "augmentation": ("range", (0.0, 0.3, False)),
}
TARGETS = {"backbone": ("detection", "backbone"), "fpn_channels": ("detection", "fpn_channels"),
           "head_convs": ("detection", "head_convs")}


def current_settings(config: TrainConfig) -> dict[str, Any]:
    """The configuration's own values of the detection parameters (the first trial runs them)."""
    return {"backbone": config.detection.backbone, "fpn_channels": config.detection.fpn_channels,
            "head_convs": config.detection.head_convs}


def block_size(config: TrainConfig) -> int:
    """The validation block size every trial shares (from the image size and the configured chip size)."""
    grid = RasterSource(config.data.image or "", config.data.bands).grid
    return default_block_size(grid.width, grid.height, int(config.data.chip_size or 0))


def prepare(config: TrainConfig, progress: Progress) -> DetectionData:
    return prepare_detection(config, progress)


def fit(config: TrainConfig, data: DetectionData, progress: Progress, on_epoch: Any) -> DetectionFit:
    """One trial's training run (nothing exported)."""
    from .api import make_detector

    seed_everything(config.training.seed)
    model = make_detector(config, data)
    return DetectionTrainer(model, data, config, progress, choose_device(config.training.device), on_epoch).fit()
