"""Benchmark: a regression network (``python -m training train`` with a ``regression`` section, settings chosen
from the data) against a pixel random forest, on real scenes, both scored on ground that no training and no
selection ever saw.

Each scene predicts one real band from the others of the same image (near-infrared from the visible bands, or
short-wave infrared from the rest): a continuous quantity with a real relation to its inputs, so both methods
have something to learn and the network can use the neighbourhood where the forest sees one pixel. The east half
of each scene is the test area: the network trains and chooses its epoch on the west half only; the forest
(scikit-learn, ``--trees`` trees, each pixel's input bands) trains on a seeded sample of the west half's pixels.
The network is scored the way a user would run it: its exported ONNX model through the plugin's classify job over
the whole scene; both are scored on exactly the same east-half pixels with the plugin's regression metrics.

Scenes (``../shared/data``, relative to the repository root; the script says so and exits 0 when absent):

- ``naip``: NAIP aerial image, 5 m as stored, 934 x 723 px, near-infrared from red, green, blue;
- ``s2-20m``: Sentinel-2 L1C 20 m, 768 x 384 px, swir16 from blue, green, red, nir, swir22;
- ``s2-10m``: Sentinel-2 L1C 10 m, 1536 x 768 px, B08 (near-infrared) from B02, B03, B04.

Prints, per scene, MAE, RMSE, R² and bias of both on the test area side by side, and which one wins.
``--epochs`` and ``--steps`` shorten the network's training (default: what the data chooses).

    OMP_NUM_THREADS=2 nice -n 10 python bench/regression_vs_random_forest.py [--scenes naip s2-20m] [--epochs 8]
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

from osgeo import gdal  # noqa: E402

from plugin.adapters.classify.job import ClassifyRequest, classify  # noqa: E402
from plugin.core.accuracy.regression_metrics import RegressionAccumulator, RegressionScores  # noqa: E402
from plugin.core.progress import LoggingProgress  # noqa: E402
from training import api  # noqa: E402
from training.config import from_mapping  # noqa: E402

gdal.UseExceptions()
FOREST_PIXELS = 200_000


@dataclass(frozen=True)
class Scene:
    """An image, the bands learnt from (1-based), the band learnt, their names and units."""

    path: str
    inputs: list[int]
    target: int
    names: list[str]
    units: str
    kind: str


SCENES = {
    "naip": Scene("naip/m_4709963_se_14_1_20200831.tif", [1, 2, 3], 4, ["red", "green", "blue", "nir"], "DN",
                  "NAIP aerial RGB+NIR, 934 x 723 px: near-infrared from red, green, blue"),
    "s2-20m": Scene("s2-osm-landuse/s2_l1c_20m_6band.tif", [1, 2, 3, 4, 6], 5,
                    ["blue", "green", "red", "nir", "swir16", "swir22"], "reflectance x 10000",
                    "Sentinel-2 20 m, 768 x 384 px: swir16 from blue, green, red, nir, swir22"),
    "s2-10m": Scene("s2-osm-landuse/s2_l1c_10m_B02_B03_B04_B08.tif", [1, 2, 3], 4, ["B02", "B03", "B04", "B08"],
                    "reflectance x 10000", "Sentinel-2 10 m, 1536 x 768 px: B08 from B02, B03, B04"),
}


def east_half(path: Path) -> tuple[list[float], int]:
    """The test extent (the east half, on whole pixels) and its first column."""
    dataset = gdal.Open(str(path))
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    width, height = dataset.RasterXSize, dataset.RasterYSize
    start = width // 2
    return [x0 + start * dx, y0 + height * dy, x0 + width * dx, y0], start


def read_scene(scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs (C, H, W), target (H, W), valid (H, W)): valid where no band is nodata."""
    dataset = gdal.Open(str(SHARED / scene.path))
    bands = [dataset.GetRasterBand(b) for b in [*scene.inputs, scene.target]]
    planes = [band.ReadAsArray().astype(np.float64) for band in bands]
    valid = np.ones(planes[0].shape, bool)
    for band, plane in zip(bands, planes):
        nodata = band.GetNoDataValue()
        valid &= np.isfinite(plane) & (plane != nodata if nodata is not None else True)
    return np.stack(planes[:-1]), planes[-1], valid


def scores(predicted: np.ndarray, reference: np.ndarray) -> RegressionScores:
    accumulator = RegressionAccumulator()
    accumulator.update(predicted, reference)
    return accumulator.result()


def forest_scores(inputs: np.ndarray, target: np.ndarray, west: np.ndarray, east: np.ndarray, trees: int,
                  seed: int) -> tuple[RegressionScores, float]:
    """The forest trained on a seeded sample of the ``west`` pixels, scored on the ``east`` ones."""
    from sklearn.ensemble import RandomForestRegressor

    started = time.perf_counter()
    rows, cols = np.nonzero(west)
    chosen = np.random.default_rng(seed).choice(len(rows), min(FOREST_PIXELS, len(rows)), replace=False)
    model = RandomForestRegressor(n_estimators=trees, min_samples_leaf=2, n_jobs=-1, random_state=seed)
    model.fit(inputs[:, rows[chosen], cols[chosen]].T, target[rows[chosen], cols[chosen]])
    return scores(model.predict(inputs[:, east].T), target[east]), time.perf_counter() - started


def network_values(scene: Scene, folder: Path, test_extent: list[float],
                   options: argparse.Namespace) -> tuple[np.ndarray, float, dict[str, Any]]:
    """The trained network's values over the whole scene (its ONNX model through the classify job), the seconds
    taken and the settings chosen from the data."""
    started = time.perf_counter()
    image = str(SHARED / scene.path)
    settings: dict[str, Any] = {
        "data": {"image": image, "bands": scene.inputs, "band_names": [scene.names[b - 1] for b in scene.inputs]},
        "regression": {"target": image, "bands": [scene.target], "names": [scene.names[scene.target - 1]],
                       "units": scene.units},
        "validation": {"forest_trees": 0}, "test": {"extent": test_extent},
        "training": {"seed": options.seed, **({"epochs": options.epochs} if options.epochs else {}),
                     **({"steps_per_epoch": options.steps} if options.steps else {})},
        "output": {"folder": str(folder / "run")}}
    outcome = api.train(from_mapping(settings), LoggingProgress())
    values = folder / "values.tif"
    classify(ClassifyRequest(input_path=image, bands=scene.inputs, model_path=str(outcome.model_path),
                             output_path=str(values), device="cpu"), LoggingProgress())
    written = gdal.Open(str(values))  # kept while its band is read (a band outliving its dataset crashes GDAL)
    predicted = written.GetRasterBand(1).ReadAsArray().astype(np.float64)
    return predicted, time.perf_counter() - started, dict(outcome.contract.provenance.get("defaults_chosen", {}))


def row(name: str, result: RegressionScores, seconds: float) -> str:
    def text(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4g}"
    return (f"  {name:<22} MAE {text(result.mae):>9}  RMSE {text(result.rmse):>9}  R² {text(result.r2):>7}  "
            f"bias {text(result.bias):>9}  ({result.count} px, {seconds:.0f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", nargs="+", choices=list(SCENES), default=["naip", "s2-20m"])
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--epochs", type=int, help="the network's epochs (default: chosen from the data)")
    parser.add_argument("--steps", type=int, help="steps per epoch at most (default: all the chips)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(REPO / "bench-output" / "regression_vs_random_forest"))
    options = parser.parse_args()
    if not SHARED.exists():
        print(f"The real data folder {SHARED} is absent (it sits beside the repository); nothing to measure.")
        return 0
    for name in options.scenes:
        scene = SCENES[name]
        folder = Path(options.output) / name
        folder.mkdir(parents=True, exist_ok=True)
        test_extent, start = east_half(SHARED / scene.path)
        inputs, target, valid = read_scene(scene)
        print(f"{name}: {scene.kind} ({scene.units}); test area: the east half, never trained or selected on",
              flush=True)
        predicted, network_seconds, chosen = network_values(scene, folder, test_extent, options)
        west, east = valid.copy(), valid & (predicted != -9999.0)  # the same east-half pixels for both
        west[:, start:] = False
        east[:, :start] = False
        network = scores(predicted[east], target[east])
        forest, forest_seconds = forest_scores(inputs, target, west, east, options.trees, options.seed)
        print(f"  chosen from the data: {chosen}")
        print(row("network (classify)", network, network_seconds))
        print(row(f"pixel forest ({options.trees} trees)", forest, forest_seconds))
        better = "network" if (network.r2 or -np.inf) >= (forest.r2 or -np.inf) else "random forest"
        print(f"  higher test R²: {better}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
