"""Benchmark: tile classification (a trained MobileNetV2 or ResNet classifier) vs a random forest on per-cell band
statistics, both scored on test cells that no training and no selection ever saw.

Data (``../shared/data``, relative to the repository root; the script says so and exits 0 when absent): the
Sentinel-2 L1C 10 m scene (1536 x 768 px, 4 bands) with its OpenStreetMap land-use polygons (8 classes). A cell's
label is the class covering most of it (``cells.min_cover`` of it labelled). The east part of the scene
(``--test-share``, default the east 40 %) is the test area: no training or validation window reads it; each model
is scored there once, at the end. On the rest:

1. each network (``--architectures``) is trained with ``python -m training train``'s code: spatial validation
   blocks choose the epoch kept; its test cells are scored with the plugin's metrics;
2. a random forest (scikit-learn, ``--trees`` trees) on each cell's window statistics (per band: mean, standard
   deviation, minimum, 10th, 50th and 90th percentiles and maximum of the raw values over the same window the
   network reads), trained on the training and validation cells (it needs no selection), scored on the same test
   cells.

Prints OA, kappa and mean F1 of each side by side, the cell counts and the times, and says where the forest wins.

    OMP_NUM_THREADS=2 nice -n 10 python bench/tiles_vs_random_forest.py [--cell 16] [--border 8] [--epochs 15]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

from osgeo import gdal  # noqa: E402

from plugin.core.accuracy.metrics import ConfusionMatrix  # noqa: E402
from plugin.core.progress import LoggingProgress  # noqa: E402
from training.api import train  # noqa: E402
from training.cells.data import TEST, TRAIN, VALIDATION, CellData  # noqa: E402
from training.config import from_mapping  # noqa: E402

gdal.UseExceptions()
IMAGE = SHARED / "s2-osm-landuse" / "s2_l1c_10m_B02_B03_B04_B08.tif"
LABELS = SHARED / "s2-osm-landuse" / "original" / "gis_osm_landuse-water_a_free_1_area-10000-to-500000.gpkg"
PERCENTILES = (10, 50, 90)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell", type=int, default=16, help="cell size in pixels (default 16: 160 m)")
    parser.add_argument("--border", type=int, default=8, help="context border in pixels (default 8)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--width", type=int, default=16, help="the networks' width (MobileNetV2 stem, ResNet first "
                        "stage; default 16, small for two CPU cores)")
    parser.add_argument("--architectures", nargs="+", default=["mobilenetv2_classifier", "resnet18_classifier"])
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--test-share", type=float, default=0.4, help="the east share of the scene held out")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def test_extent(share: float) -> list[float]:
    dataset = gdal.Open(str(IMAGE))
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    width, height = dataset.RasterXSize, dataset.RasterYSize
    return [x0 + (1 - share) * width * dx, y0 + height * dy, x0 + width * dx, y0]


def settings(options: argparse.Namespace, architecture: str, folder: Path) -> dict:
    return {"data": {"image": str(IMAGE), "labels": str(LABELS), "label_field": "fclass"},
            "validation": {"fraction": 0.2}, "test": {"extent": test_extent(options.test_share)},
            "model": {"architecture": architecture, "width": options.width, "dropout": 0.2},
            "cells": {"cell_size": options.cell, "border": options.border},
            "training": {"epochs": options.epochs, "batch_size": 32, "learning_rate": 0.003, "seed": options.seed,
                         "patience": 6},
            "output": {"folder": str(folder / architecture), "checkpoints": False}}


def cell_statistics(data: CellData, cells: np.ndarray) -> np.ndarray:
    """Per cell, per band: mean, std, min, percentiles and max of the valid raw values of its window."""
    rows = []
    for row, col in cells:
        raw, valid = data.read(int(row), int(col))
        pixels = raw.reshape(raw.shape[0], -1)[:, valid.ravel()].astype(np.float64)
        if not pixels.size:
            pixels = np.zeros((raw.shape[0], 1))
        rows.append(np.concatenate([pixels.mean(1), pixels.std(1), pixels.min(1),
                                    *np.percentile(pixels, PERCENTILES, axis=1), pixels.max(1)]))
    return np.array(rows)


def forest_scores(data: CellData, trees: int, seed: int) -> tuple[ConfusionMatrix, float, int]:
    """The forest trained on the training and validation cells, scored on the test cells."""
    from sklearn.ensemble import RandomForestClassifier

    started = time.perf_counter()
    fitting = np.concatenate([data.cells_of(TRAIN), data.cells_of(VALIDATION)])
    test = data.cells_of(TEST)
    forest = RandomForestClassifier(trees, n_jobs=2, random_state=seed, class_weight="balanced")
    forest.fit(cell_statistics(data, fitting), data.targets(fitting))
    values = np.array([c.value for c in data.classes])
    predicted = forest.predict(cell_statistics(data, test))
    matrix = ConfusionMatrix.from_arrays(values[data.targets(test)], values[predicted], values.tolist())
    return matrix, time.perf_counter() - started, len(fitting)


def mean_f1(matrix: ConfusionMatrix) -> float:
    scores = matrix.scores()
    present = (scores.reference_count + scores.predicted_count) > 0
    return float(np.nan_to_num(scores.f1[present]).mean())


def main() -> int:
    options = arguments()
    if not IMAGE.exists() or not LABELS.exists():
        print(f"The benchmark data is absent ({IMAGE.relative_to(REPO.parent)} and its OpenStreetMap land use, "
              "read from ../shared/data beside the repository); nothing to measure.")
        return 0
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("scikit-learn is not installed, so there is no random forest to compare with "
              "(python3 -m pip install scikit-learn).")
        return 0
    rows, data = [], None
    with tempfile.TemporaryDirectory() as folder:
        for architecture in options.architectures:
            started = time.perf_counter()
            outcome = train(from_mapping(settings(options, architecture, Path(folder))), LoggingProgress())
            data = outcome.data
            test = outcome.test_evaluation
            assert test is not None  # a test extent was given
            rows.append((architecture, test.confusion, time.perf_counter() - started,
                         f"best epoch {outcome.fit.best_epoch} of {len(outcome.fit.history)}"))
    assert data is not None
    matrix, seconds, fitted = forest_scores(data, options.trees, options.seed)
    rows.append((f"random forest ({options.trees} trees)", matrix, seconds, f"{fitted} cells, {7 * data.input.bands} "
                 "statistics each"))
    counts = {name: len(data.cells_of(role)) for name, role in (("training", TRAIN), ("validation", VALIDATION),
                                                                ("test", TEST))}
    print(f"\nSentinel-2 10 m, OSM land use, {len(data.classes)} classes; cells of {options.cell} px "
          f"({options.cell * 10} m) with {options.border} px of border; labelled cells: {counts} (test: the east "
          f"{options.test_share:.0%}, never used for training or selection).\n")
    print(f"{'model':32} {'test OA':>8} {'kappa':>8} {'mean F1':>8} {'seconds':>8}  notes")
    for name, confusion, elapsed, notes in rows:
        scores = confusion.scores()
        print(f"{name:32} {scores.overall_accuracy:8.3f} {scores.kappa:8.3f} {mean_f1(confusion):8.3f} "
              f"{elapsed:8.1f}  {notes}")
    forest_oa = rows[-1][1].scores().overall_accuracy
    for name, confusion, _, _ in rows[:-1]:
        difference = confusion.scores().overall_accuracy - forest_oa
        verdict = "the forest wins" if difference < 0 else "the network wins"
        print(f"{name}: {verdict} on test OA by {abs(difference):.3f}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
