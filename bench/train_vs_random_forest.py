"""Benchmark: a U-Net against a pixel-wise random forest on Sentinel-2 10 m + OpenStreetMap land use.

The scene is split west/east: the west half trains, the east half validates (validation.extent in
training/configs/s2_osm_unet.yaml). The U-Net is trained exactly as
``python -m training train --config training/configs/s2_osm_unet.yaml`` trains it. The random forest
(scikit-learn) gets the same inputs per pixel (the four bands and the same spectral indices), is
trained on the same labelled training pixels (those of the U-Net's training chips) and is scored on
the same validation pixels with the same metrics code (plugin.core.metrics).

Also prints the training speed in chips per second on the CPU, and on CUDA when torch sees a GPU.

    python bench/train_vs_random_forest.py [--epochs N] [--trees N]

Reads ../shared/data/s2-osm-landuse relative to the repository root; prints a message and exits 0
when that folder is absent (a fresh clone has no benchmark data).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "s2-osm-landuse"
CONFIG = REPO / "training" / "configs" / "s2_osm_unet.yaml"
sys.path.insert(0, str(REPO))

from plugin.core import metrics  # noqa: E402
from training import api  # noqa: E402
from training import config as config_module  # noqa: E402
from training.data.labels import IGNORE_INDEX  # noqa: E402
from training.data.prepare import PreparedData, prepare_data  # noqa: E402
from training.nets.indices import band_positions  # noqa: E402
from training.progress import ConsoleProgress  # noqa: E402


def pixel_features(image: np.ndarray, data: PreparedData, indices: list[str], roles: dict[str, int]) -> np.ndarray:
    """(bands + indices, h, w): raw bands and the same normalised differences the network computes."""
    features = [image.astype(np.float64)]
    for (a, b) in band_positions(indices, roles, data.input.band_names):
        first, second = image[a].astype(np.float64), image[b].astype(np.float64)
        total = first + second
        features.append(np.where(np.abs(total) < 1e-6, 0.0, (first - second) / np.where(total == 0, 1, total))[None])
    return np.concatenate(features)


def label_grids(data: PreparedData, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Class indices on the image grid: training pixels of the U-Net's chips, scored validation pixels."""
    train = np.full((height, width), IGNORE_INDEX, np.int16)
    for ref, labels in zip(data.train.refs, data.train.labels):
        w = ref.window
        view = train[w.row:w.row + w.height, w.col:w.col + w.width]
        view[labels >= 0] = labels[labels >= 0]
    validation = np.full((height, width), IGNORE_INDEX, np.int16)
    for item, labels in zip(data.validation.windows, data.validation.labels):
        w = item.read.window
        view = validation[w.row:w.row + w.height, w.col:w.col + w.width]
        view[labels >= 0] = labels[labels >= 0]
    return train, validation


def random_forest(data: PreparedData, config: config_module.TrainConfig, trees: int, class_weight: str | None,
                  seed: int) -> tuple[metrics.Scores, float, int]:
    """Train on the training pixels, score on the validation pixels; (scores, seconds, training pixels)."""
    from osgeo import gdal
    from sklearn.ensemble import RandomForestClassifier

    dataset = gdal.Open(config.data.image)
    image = dataset.ReadAsArray().astype(np.float64)
    features = pixel_features(image, data, config.data.indices, config.data.band_roles)
    train, validation = label_grids(data, dataset.RasterYSize, dataset.RasterXSize)
    x_train, y_train = features[:, train >= 0].T, train[train >= 0]
    started = time.perf_counter()
    forest = RandomForestClassifier(n_estimators=trees, n_jobs=-1, random_state=seed, class_weight=class_weight)
    forest.fit(x_train, y_train)
    predicted = forest.predict(features[:, validation >= 0].T)
    values = data.classes.values
    matrix = metrics.ConfusionMatrix.from_arrays(values[validation[validation >= 0]], values[predicted],
                                                 values.tolist())
    return matrix.scores(), time.perf_counter() - started, int(y_train.size)


def training_speed(config: config_module.TrainConfig, data: PreparedData, device: str, steps: int = 20) -> float:
    """Chips per second of plain training steps (after warm-up) on ``device``."""
    import torch

    from training.data.dataset import ChipDataset
    from training.losses import SegmentationLoss

    model = api.make_model(config.model, data, config.data.indices, config.data.band_roles).to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    dataset = ChipDataset(data, config.training)
    batch = [dataset[i % len(dataset)] for i in range(config.training.batch_size)]
    images = torch.stack([b[0] for b in batch]).to(device)
    labels = torch.stack([b[1] for b in batch]).to(device)
    criterion = SegmentationLoss().to(device)
    for step in range(steps + 5):
        if step == 5:
            if device == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        loss = criterion(model(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    if device == "cuda":
        torch.cuda.synchronize()
    return steps * images.shape[0] / (time.perf_counter() - started)


def row(name: str, scores: metrics.Scores) -> str:
    return f"{name:<34} {scores.overall_accuracy:>8.4f} {scores.mean_iou:>8.4f} {scores.kappa:>8.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, help="override training.epochs of the configuration")
    parser.add_argument("--trees", type=int, default=200, help="random forest size")
    parser.add_argument("--output", default=str(REPO / "bench-output" / "s2_osm_unet"))
    arguments = parser.parse_args()
    if not DATA.is_dir():
        print(f"Benchmark data not found at {DATA} (../shared/data/s2-osm-landuse beside the repository); "
              "nothing to measure.")
        return 0
    config = config_module.load(CONFIG)
    config = replace(config, output=replace(config.output, folder=arguments.output))
    if arguments.epochs:
        config = replace(config, training=replace(config.training, epochs=arguments.epochs))
    progress = ConsoleProgress()
    started = time.perf_counter()
    outcome = api.train(config, progress)
    unet_seconds = time.perf_counter() - started
    progress.close()
    data = prepare_data(config, progress)
    forests = {weight: random_forest(data, config, arguments.trees, weight, config.training.seed)
               for weight in (None, "balanced_subsample")}
    report(outcome, forests, data, config, unet_seconds)
    return 0


def report(outcome: api.TrainingOutcome, forests: dict, data: PreparedData, config: config_module.TrainConfig,
           unet_seconds: float) -> None:
    import torch

    unet = outcome.fit.best_evaluation.scores
    last = outcome.fit.history[-1]
    names = [c.name for c in data.classes.classes]
    print(f"\nValidation on the east half: {unet.total} labelled pixels; training pixels (west half): "
          f"{next(iter(forests.values()))[2]}")
    print(f"{'':<34} {'OA':>8} {'mIoU':>8} {'kappa':>8}")
    print(row(f"U-Net (best epoch {outcome.fit.best_epoch})", unet))
    label = f"U-Net (last epoch {last['epoch']})"
    print(f"{label:<34} {last['overall_accuracy']:>8.4f} {last['mean_iou']:>8.4f} {last['kappa']:>8.4f}")
    for weight, (scores, seconds, _) in forests.items():
        print(row(f"random forest ({weight or 'no class weights'})", scores) + f"   ({seconds:.0f} s to fit and "
              "predict)")
    best_forest = max((s for s, _, _ in forests.values()), key=lambda s: s.mean_iou)
    print("\nIoU per class:  " + "  ".join(f"{n}" for n in names))
    print("U-Net           " + "  ".join(f"{v:.3f}" for v in unet.iou))
    print("random forest   " + "  ".join(f"{v:.3f}" for v in best_forest.iou))
    wins = unet.overall_accuracy > best_forest.overall_accuracy and unet.mean_iou > best_forest.mean_iou
    print(f"\nU-Net beats the better random forest on OA and mIoU: {'yes' if wins else 'NO'}")
    print(f"U-Net: {len(outcome.fit.history)} epochs in {unet_seconds:.0f} s; training "
          f"{outcome.fit.chips_per_second:.1f} chips/s ({config.data.chip_size} px, batch "
          f"{config.training.batch_size}, whole run on the CPU); "
          f"model {outcome.export_check.bytes / 1e6:.1f} MB")
    print(f"training steps alone: {training_speed(config, data, 'cpu'):.1f} chips/s on the CPU")
    if torch.cuda.is_available():
        print(f"training steps alone: {training_speed(config, data, 'cuda', 50):.1f} chips/s on "
              f"{torch.cuda.get_device_name(0)}")
    else:
        print("CUDA: no GPU visible to torch; no GPU figure.")


if __name__ == "__main__":
    sys.exit(main())
