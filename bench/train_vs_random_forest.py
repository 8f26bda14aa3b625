"""Benchmark: default settings vs a tuned search vs a pixel random forest, on real labelled scenes of different
size and kind, each scored on ground that no training and no selection ever saw.

Every scene is given as a user would give it: the image, the labels and the band names, nothing else.
The east half (for the tree tiles: the right column of tiles) is the test area: no training chip, no
validation window and no selection (of an epoch, a setting or a model) reads it; each model is scored
there once, at the end. On the training half:

1. default settings: what ``python -m training train`` chooses from the data (chip size, stride,
   validation blocks, network size, batch, epochs, spectral indices), trained once;
2. tuned: ``python -m training tune`` with a fixed time budget for the search (``--budget`` seconds):
   the defaults are its first trial; at the end it trains the defaults and the winner in full, keeps the
   winner only if it beats the defaults on the validation area, and exports the kept settings retrained
   on all the training ground. (The defaults of row 1 are that search's own defaults run, which is
   exactly what ``train`` does with the same data: the same settings and seed; it is not trained twice.)
3. a pixel random forest (scikit-learn, ``--trees`` trees) with each pixel's bands and the same spectral
   indices, trained on the same training pixels.

Scenes (``../shared/data``, relative to the repository root; the script says so and exits 0 when absent):

- ``s2-20m``: Sentinel-2 L1C, 20 m, 6 bands, 768 x 384 px, OpenStreetMap land use (8 classes, polygons
  burnt onto the 20 m grid): a small multispectral scene;
- ``detectree``: Swiss 0.5 m aerial RGB, the four tiles with tree masks (175 x 120 px each) placed side by
  side in a 2 x 2 mosaic (the pixels are real; their placement is not), trees vs the rest: a tiny scene;
- ``spacenet``: SpaceNet Atlanta WorldView-2 panchromatic, 0.5 m, 900 x 900 px, building footprints
  (4 % of the pixels): very high resolution, one band, a rare class;
- ``s2-10m`` (``--scenes all``): the 1536 x 768 px Sentinel-2 10 m scene (4 bands) with the same labels.

Prints, per scene, OA, kappa and mIoU of the three on the test area side by side, what the defaults
chose, what the search kept and why, the times, and whether the targets (tuned >= defaults; both beat the
forest by 10 OA points, or by 0.10 mIoU where the forest's OA is above 0.85) are reached.

    OMP_NUM_THREADS=1 nice -n 10 python bench/train_vs_random_forest.py [--budget S] [--trees N] [--scenes ...]
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

from osgeo import gdal  # noqa: E402

from plugin.core.progress import LoggingProgress  # noqa: E402
from training import api, forest  # noqa: E402
from training.config import from_mapping  # noqa: E402
from training.data.prepare import prepare_test  # noqa: E402
from training.distributed import DistState, choose_device  # noqa: E402
from training.tune import tune  # noqa: E402
from training.tune.final import refit_run  # noqa: E402

gdal.UseExceptions()
OSM = "s2-osm-landuse/original/gis_osm_landuse-water_a_free_1_area-10000-to-500000.gpkg"
FOREST_PIXELS = 300_000  # the baseline forest's training pixels at most (a seeded sample beyond)
TREE_TILES = ("1091-322_00", "1091-322_05", "1091-322_11", "1091-322_19")  # the four tiles with tree masks


@dataclass
class SceneFiles:
    """What a user gives: image, labels (a data section) and band names; plus the test area."""

    image: Path
    labels: dict[str, Any]
    band_names: list[str]
    test_extent: list[float]
    kind: str


def east_half(path: Path, start: float = 0.5) -> list[float]:
    dataset = gdal.Open(str(path))
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    width, height = dataset.RasterXSize, dataset.RasterYSize
    return [x0 + int(width * start) * dx, y0 + height * dy, x0 + width * dx, y0]


def s2_20m(folder: Path) -> SceneFiles:
    image = SHARED / "s2-osm-landuse" / "s2_l1c_20m_6band.tif"
    return SceneFiles(image, {"labels": str(SHARED / OSM), "label_field": "fclass"},
                      ["blue", "green", "red", "nir", "swir16", "swir22"], east_half(image),
                      "Sentinel-2 20 m, 6 bands, 768 x 384 px, 8 land-use classes (OSM polygons)")


def s2_10m(folder: Path) -> SceneFiles:
    image = SHARED / "s2-osm-landuse" / "s2_l1c_10m_B02_B03_B04_B08.tif"
    return SceneFiles(image, {"labels": str(SHARED / OSM), "label_field": "fclass"}, ["B02", "B03", "B04", "B08"],
                      east_half(image), "Sentinel-2 10 m, 4 bands, 1536 x 768 px, 8 land-use classes (OSM polygons)")


def spacenet(folder: Path) -> SceneFiles:
    image = SHARED / "spacenet-atlanta" / "sample_geotiff.tif"
    labels = SHARED / "spacenet-atlanta" / "sample_geotiff_buildings_mask.tif"
    return SceneFiles(image, {"label_raster": str(labels)}, ["pan"], east_half(image),
                      "WorldView-2 panchromatic 0.5 m, 900 x 900 px, buildings (4 % of the pixels) vs background")


def detectree(folder: Path) -> SceneFiles:
    """The four masked tiles in a 2 x 2 mosaic (real pixels, placed side by side): test = the right column."""
    image, labels = folder / "detectree_mosaic.tif", folder / "detectree_mosaic_trees.tif"
    if not image.exists():
        tiles = [gdal.Open(str(SHARED / "detectree" / "img" / f"{t}.tif")) for t in TREE_TILES]
        masks = [gdal.Open(str(SHARED / "detectree" / "response_img" / f"{t}.tif")) for t in TREE_TILES]
        width, height = tiles[0].RasterXSize, tiles[0].RasterYSize
        for path, sources, bands in ((image, tiles, 3), (labels, masks, 1)):
            target = gdal.GetDriverByName("GTiff").Create(str(path), 2 * width, 2 * height, bands, gdal.GDT_Byte)
            x0, dx, _, y0, _, dy = tiles[0].GetGeoTransform()
            target.SetGeoTransform((x0, dx, 0, y0, 0, dy))
            target.SetProjection(tiles[0].GetProjection())
            for index, source in enumerate(sources):  # 00 and 05 left, 11 and 19 right
                column, row = divmod(index, 2)
                for band in range(1, bands + 1):
                    target.GetRasterBand(band).WriteArray(source.GetRasterBand(band).ReadAsArray(),
                                                          column * width, row * height)
            target = None
    return SceneFiles(image, {"label_raster": str(labels)}, ["red", "green", "blue"], east_half(image),
                      "Swiss aerial RGB 0.5 m, four 175 x 120 px tiles (2 x 2 mosaic), trees vs the rest")


SCENES: dict[str, Callable[[Path], SceneFiles]] = {"s2-20m": s2_20m, "detectree": detectree, "spacenet": spacenet,
                                                   "s2-10m": s2_10m}
DEFAULT_SCENES = ("s2-20m", "detectree", "spacenet")


class Progress(LoggingProgress):
    """Prints the lines a person would follow (choices, trials, the comparison, the kept model)."""

    KEYS = ("Chosen from the data", "Trial ", "Validation noise", "On the validation area", "Kept:", "Retraining",
            "Study ", "Test area (never", "Pixel random forest")

    def info(self, message: str) -> None:
        super().info(message)
        if message.startswith(self.KEYS) and "Epoch " not in message and "Estimated from" not in message:
            print(f"    {message[:220]}", flush=True)

    def warning(self, message: str) -> None:
        super().warning(message)
        print(f"    warning: {message[:220]}", flush=True)


def run_scene(name: str, files: SceneFiles, budget: float, trees: int, output: Path) -> dict[str, Any]:
    """Tune (its defaults run is row 1), then score the defaults, the exported model and the forest on the test area."""
    folder = output / name
    if (folder / "tune.db").exists():
        (folder / "tune.db").unlink()  # a fresh study: the budget is the whole search
    config = from_mapping({"data": {"image": str(files.image), "band_names": files.band_names, **files.labels},
                           "test": {"extent": files.test_extent}, "tune": {"timeout": budget},
                           "output": {"folder": str(folder)}}, name)
    progress = Progress()
    started = time.perf_counter()
    outcome = tune(config, progress)
    seconds = time.perf_counter() - started
    training = outcome.training
    defaults = training.compared["defaults"]
    defaults.model.load_state_dict(defaults.fit.best_state)
    defaults_test = api.score_test_area(defaults.config, defaults.data, defaults.model, LoggingProgress())
    test_data = prepare_test(defaults.config, LoggingProgress(), defaults.data.classes, defaults.data.input)
    result = forest.fit_and_score(defaults.data, defaults.config.data.indices, defaults.config.data.band_roles, trees,
                                  defaults.config.training.seed, scored=test_data, max_training_pixels=FOREST_PIXELS)
    comparison = training.contract.provenance["comparison"]
    kept = training.compared["winner" if comparison["kept"] == "search's winner" else "defaults"]
    state = DistState(0, 1, 0, choose_device("auto"))
    refit = refit_run(kept, LoggingProgress(), state)
    refit.model.load_state_dict(refit.fit.best_state)
    refit_test = api.score_test_area(refit.config, refit.data, refit.model, LoggingProgress())
    record = outcome.record
    return {"scene": name, "kind": files.kind, "defaults": defaults_test[0].scores,
            "tuned": training.test_evaluation.scores, "forest": result.evaluation.scores,
            "refit": refit_test[0].scores, "refit_epochs": refit.config.training.epochs,
            "test_pixels": training.test_evaluation.scores.total, "forest_pixels": result.training_pixels,
            "chosen": {c.key.split(".")[1]: c.value for c in defaults.choices},
            "defaults_seconds": defaults.fit.wall_seconds, "per_epoch": defaults.fit.seconds_per_epoch,
            "tune_seconds": seconds, "kept": comparison["kept"],
            "trials": f"{record['trials']} ({record['complete']} complete, {record['pruned']} pruned, "
                      f"{record['failed']} failed)", "best": record["best_settings"], "forest_seconds": result.seconds}


def _scores(scores: Any) -> str:
    return f"{scores.overall_accuracy:>6.3f} {scores.kappa:>6.3f} {scores.mean_iou:>6.3f}"


def report(rows: list[dict[str, Any]], trees: int) -> None:
    print("\nTest area (never used for training or selection): OA, kappa, mIoU")
    print(f"{'scene':<10} {'test px':>8} | {'defaults':^20} | {'tuned':^20} | {'random forest':^20} | "
          f"{'tuned + refit':^20} | targets (defaults, tuned)")
    for row in rows:
        defaults, tuned, baseline = row["defaults"], row["tuned"], row["forest"]
        high = baseline.overall_accuracy > 0.85
        margins = [(s.mean_iou - baseline.mean_iou) if high else 100 * (s.overall_accuracy -
                                                                        baseline.overall_accuracy)
                   for s in (defaults, tuned)]
        need = 0.10 if high else 10
        unit = "mIoU" if high else "OA pts"
        verdict = (f"tuned>=defaults {'yes' if tuned.overall_accuracy >= defaults.overall_accuracy else 'NO'}; "
                   f"over forest ({unit}, need {need:g}): defaults {margins[0]:+.2f}, tuned {margins[1]:+.2f} "
                   f"{'met' if min(margins) >= need else 'NOT met'}")
        print(f"{row['scene']:<10} {row['test_pixels']:>8} | {_scores(defaults)} | {_scores(tuned)} | "
              f"{_scores(baseline)} | {_scores(row['refit'])} | {verdict}")
    print()
    for row in rows:
        print(f"{row['scene']}: {row['kind']}")
        print(f"  defaults chosen: {row['chosen']}")
        print(f"  defaults: {row['defaults_seconds']:.0f} s ({row['per_epoch']:.1f} s per epoch); tune in all (search, "
              f"defaults and winner in full): {row['tune_seconds']:.0f} s; trials {row['trials']}")
        print(f"  kept: {row['kept']}; refit on all the training ground: {row['refit_epochs']} epochs; search's best "
              f"settings {row['best']}")
        print(f"  random forest: {trees} trees, {row['forest_pixels']} training pixels, {row['forest_seconds']:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=240, help="seconds of search per scene (tune.timeout)")
    parser.add_argument("--trees", type=int, default=200, help="random forest size")
    parser.add_argument("--scenes", nargs="+", default=list(DEFAULT_SCENES), help="scene names, or 'all'")
    parser.add_argument("--output", default=str(REPO / "bench-output" / "train_vs_random_forest"))
    arguments = parser.parse_args()
    if not SHARED.is_dir():
        print(f"Benchmark data not found at {SHARED} (../shared/data beside the repository); nothing to measure.")
        return 0
    names = list(SCENES) if arguments.scenes == ["all"] else arguments.scenes
    output = Path(arguments.output)
    output.mkdir(parents=True, exist_ok=True)
    rows, started = [], time.perf_counter()
    for name in names:
        files = SCENES[name](output)
        print(f"\n== {name}: {files.kind}", flush=True)
        rows.append(run_scene(name, files, arguments.budget, arguments.trees, output))
        report(rows[-1:], arguments.trees)
    print(f"\n== All scenes ({time.perf_counter() - started:.0f} s in all; search budget {arguments.budget:.0f} s per "
          "scene; the machine's other load slows every figure of time)")
    report(rows, arguments.trees)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
