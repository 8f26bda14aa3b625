"""Benchmark: default settings vs a tuned search vs a pixel random forest, scored on ground none of them saw.

Sentinel-2 10 m + OpenStreetMap land use (training/configs/s2_osm_tune.yaml). The east half of the
scene is the test area: no training chip, no validation window and no selection (of an epoch or of
a setting) ever reads it; each model is scored there once, at the end. The west half trains, with
validation blocks inside it choosing the epoch and, for the tuned run, the settings.

1. default settings: ``python -m training train --config training/configs/s2_osm_tune.yaml``;
2. tuned: ``python -m training tune`` on the same configuration with a fixed time budget for the
   search (``--budget`` seconds, default 1500), then the best settings retrained and exported;
3. a pixel-wise random forest (scikit-learn, 200 trees) with the same inputs per pixel (the four
   bands and the same spectral indices), trained on the same labelled training pixels (those of the
   default run's training chips) and scored on the same test pixels with the same metrics code.

Prints overall accuracy, kappa and mean IoU on the east half, the time each run took, and the
training speed in chips per second on the CPU (and on CUDA when torch sees a GPU).

    python bench/train_vs_random_forest.py [--budget S] [--epochs N] [--trial-epochs N] [--trees N]

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
CONFIG = REPO / "training" / "configs" / "s2_osm_tune.yaml"
sys.path.insert(0, str(REPO))

from plugin.core.accuracy import metrics  # noqa: E402
from training import api  # noqa: E402
from training import config as config_module  # noqa: E402
from training.data.labels import IGNORE_INDEX  # noqa: E402
from training.data.prepare import PreparedData, prepare_data, prepare_test  # noqa: E402
from training.nets.indices import band_positions  # noqa: E402
from training.progress import ConsoleProgress  # noqa: E402
from training.tune import tune  # noqa: E402


def pixel_features(image: np.ndarray, data: PreparedData, indices: list[str], roles: dict[str, int]) -> np.ndarray:
    """(bands + indices, h, w): raw bands and the same normalised differences the network computes."""
    features = [image.astype(np.float64)]
    for (a, b) in band_positions(indices, roles, data.input.band_names):
        first, second = image[a].astype(np.float64), image[b].astype(np.float64)
        total = first + second
        features.append(np.where(np.abs(total) < 1e-6, 0.0, (first - second) / np.where(total == 0, 1, total))[None])
    return np.concatenate(features)


def label_grids(data: PreparedData, test: PreparedData, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Class indices on the image grid: training pixels of the U-Net's chips, scored test pixels."""
    train = np.full((height, width), IGNORE_INDEX, np.int16)
    for ref, labels in zip(data.train.refs, data.train.labels):
        w = ref.window
        view = train[w.row:w.row + w.height, w.col:w.col + w.width]
        view[labels >= 0] = labels[labels >= 0]
    scored = np.full((height, width), IGNORE_INDEX, np.int16)
    for item, labels in zip(test.validation.windows, test.validation.labels):
        w = item.read.window
        view = scored[w.row:w.row + w.height, w.col:w.col + w.width]
        view[labels >= 0] = labels[labels >= 0]
    return train, scored


def random_forest(data: PreparedData, test: PreparedData, config: config_module.TrainConfig, trees: int,
                  class_weight: str | None, seed: int) -> tuple[metrics.Scores, float, int]:
    """Train on the training pixels, score on the test pixels; (scores, seconds, training pixels)."""
    from osgeo import gdal
    from sklearn.ensemble import RandomForestClassifier

    dataset = gdal.Open(config.data.image)
    image = dataset.ReadAsArray().astype(np.float64)
    features = pixel_features(image, data, config.data.indices, config.data.band_roles)
    train, validation = label_grids(data, test, dataset.RasterYSize, dataset.RasterXSize)
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


def row(name: str, scores: metrics.Scores, extra: str = "") -> str:
    return f"{name:<40} {scores.overall_accuracy:>8.4f} {scores.kappa:>8.4f} {scores.mean_iou:>8.4f}   {extra}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=1500, help="seconds of search for the tuned run")
    parser.add_argument("--epochs", type=int, help="override training.epochs (default run and final retraining)")
    parser.add_argument("--trial-epochs", type=int, help="override tune.epochs (epochs per trial)")
    parser.add_argument("--trees", type=int, default=200, help="random forest size")
    parser.add_argument("--skip-tune", action="store_true", help="default settings and random forest only")
    parser.add_argument("--output", default=str(REPO / "bench-output" / "s2_osm_tune"))
    arguments = parser.parse_args()
    if not DATA.is_dir():
        print(f"Benchmark data not found at {DATA} (../shared/data/s2-osm-landuse beside the repository); "
              "nothing to measure.")
        return 0
    base = config_module.load(CONFIG)
    runs = {"default settings": run_defaults(base, arguments)}
    if not arguments.skip_tune:
        runs["tuned"] = run_tuned(base, arguments)
    config = runs["default settings"][2]
    progress = ConsoleProgress(quiet=True)
    data = prepare_data(config, progress)
    test = prepare_test(config, progress, data.classes, data.input)
    forests = {weight: random_forest(data, test, config, arguments.trees, weight, config.training.seed)
               for weight in (None, "balanced_subsample")}
    report(runs, forests, data, config)
    return 0


def run_defaults(base: config_module.TrainConfig, arguments: argparse.Namespace):
    training = replace(base.training, epochs=arguments.epochs or base.training.epochs)
    config = replace(base, training=training, output=replace(base.output, folder=f"{arguments.output}/defaults"))
    progress = ConsoleProgress()
    started = time.perf_counter()
    outcome = api.train(config, progress)
    progress.close()
    return outcome, time.perf_counter() - started, config


def run_tuned(base: config_module.TrainConfig, arguments: argparse.Namespace):
    folder = Path(arguments.output) / "tuned"
    if (folder / "tune.db").exists():
        (folder / "tune.db").unlink()  # a fresh study: the budget is the whole search
    settings = replace(base.tune, timeout=arguments.budget, epochs=arguments.trial_epochs or base.tune.epochs,
                       final_epochs=arguments.epochs or base.tune.final_epochs)
    config = replace(base, tune=settings, output=replace(base.output, folder=str(folder)))
    progress = ConsoleProgress()
    started = time.perf_counter()
    outcome = tune(config, progress)
    progress.close()
    return outcome, time.perf_counter() - started, config


def report(runs: dict, forests: dict, data: PreparedData, config: config_module.TrainConfig) -> None:
    import torch

    names = [c.name for c in data.classes.classes]
    first = runs["default settings"][0]
    pixels = first.test_evaluation.scores.total
    print(f"\nTest area (east half, never used for training or selection): {pixels} labelled pixels; training "
          f"pixels (west half, outside the validation blocks): {next(iter(forests.values()))[2]}")
    print(f"{'':<40} {'OA':>8} {'kappa':>8} {'mIoU':>8}")
    scores = {}
    for name, (outcome, seconds, _) in runs.items():
        training = outcome if name == "default settings" else outcome.training
        scores[name] = training.test_evaluation.scores
        validation = training.fit.best_evaluation.scores.mean_iou
        detail = (f"{seconds:.0f} s; validation mIoU {validation:.4f}; best epoch {training.fit.best_epoch} of "
                  f"{len(training.fit.history)}")
        if name == "tuned":
            record = outcome.record
            detail += (f"; {record['trials']} trials ({record['complete']} complete, {record['pruned']} pruned), "
                       f"best {record['best_settings']}")
        print(row(name, scores[name], detail))
    for weight, (forest, seconds, _) in forests.items():
        scores[f"random forest ({weight or 'no class weights'})"] = forest
        print(row(f"random forest ({weight or 'no class weights'})", forest, f"{seconds:.0f} s to fit and predict"))
    best_forest = max((s for s, _, _ in forests.values()), key=lambda s: s.overall_accuracy)
    print(f"\n{'IoU per class':<18}" + "  ".join(f"{n:>11}" for n in names))
    for name in runs:
        print(f"{name:<18}" + "  ".join(f"{v:>11.3f}" for v in scores[name].iou))
    print(f"{'random forest':<18}" + "  ".join(f"{v:>11.3f}" for v in best_forest.iou))
    if "tuned" in scores:
        tuned, default = scores["tuned"], scores["default settings"]
        margin = 100 * (tuned.overall_accuracy - best_forest.overall_accuracy)
        print(f"\ntuned - better random forest: {margin:+.1f} OA points (aim: +10 or more): "
              f"{'met' if margin >= 10 else 'NOT met'}")
        print(f"tuned - default settings: {100 * (tuned.overall_accuracy - default.overall_accuracy):+.1f} OA points, "
              f"{100 * (tuned.mean_iou - default.mean_iou):+.1f} mIoU points")
    print(f"default settings: {first.fit.chips_per_second:.1f} chips/s ({config.data.chip_size} px, batch "
          f"{config.training.batch_size}, whole run on the CPU), {first.fit.seconds_per_epoch:.1f} s per epoch")
    print(f"training steps alone: {training_speed(config, data, 'cpu'):.1f} chips/s on the CPU")
    if torch.cuda.is_available():
        print(f"training steps alone: {training_speed(config, data, 'cuda', 50):.1f} chips/s on "
              f"{torch.cuda.get_device_name(0)}")
    else:
        print("CUDA: no GPU visible to torch; no GPU figure.")


if __name__ == "__main__":
    sys.exit(main())
