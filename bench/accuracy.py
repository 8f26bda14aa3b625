"""Benchmark: accuracy assessment and chip export throughput, and memory as the raster grows.

Run: ``.venv/bin/python bench/accuracy.py [--factors 1 4 12]``. Prints figures; asserts nothing.

The inputs are the bundled Sentinel-2 subset (tests/data/s2), a class raster made from it by a fixed
NDVI/NDWI rule, and its OpenStreetMap label raster, enlarged by an integer factor with nearest
neighbour (``gdal.Translate`` with ``-outsize``): the pixels are repeated, so the figures measure
reading and counting, not the data's variety. Each assessment runs in a fresh process whose peak
resident memory is reported: it stays flat while the raster grows (block-by-block reading), apart
from GDAL's block cache, which is capped with GDAL_CACHEMAX (64 MB here) to show that.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from osgeo import gdal  # noqa: E402

from plugin.adapters.outputs.raster_classes import write_classes  # noqa: E402
from plugin.core.model.contract import ClassInfo  # noqa: E402

gdal.UseExceptions()

S2 = REPO / "tests" / "data" / "s2"
CREATION = ["COMPRESS=DEFLATE", "TILED=YES", "BIGTIFF=IF_SAFER"]
CHILD = """
import json, sys, time
sys.path.insert(0, {repo!r})
def peak_mb():  # VmHWM: this process's own high-water mark (ru_maxrss may carry the parent's over fork)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
from plugin.adapters.accuracy.assess import assess
from plugin.adapters.accuracy.reference import ReferenceSpec
start = time.perf_counter()
summary = assess({classes!r}, ReferenceSpec(raster={labels!r}, nodata=0))
print(json.dumps({{"seconds": time.perf_counter() - start, "samples": summary.matrix.total,
                  "oa": summary.scores.overall_accuracy,
                  "peak_mb": peak_mb()}}))
"""


def class_raster(folder: Path) -> Path:
    """The S2 subset classified by NDVI/NDWI thresholds (1 farm, 2 meadow, 3 forest, 8 water)."""
    source = gdal.Open(str(S2 / "s2_l1c_10m_B02_B03_B04_B08.tif"))
    green, red, nir = (source.GetRasterBand(i).ReadAsArray().astype(np.float64) for i in (2, 3, 4))
    ndvi, ndwi = (nir - red) / np.maximum(nir + red, 1), (green - nir) / np.maximum(green + nir, 1)
    classes = np.select([ndwi > 0.1, ndvi > 0.25, ndvi > 0.17], [8, 3, 2], 1).astype(np.uint8)
    path = folder / "classes_x1.tif"
    target = gdal.GetDriverByName("GTiff").Create(str(path), source.RasterXSize, source.RasterYSize, 1,
                                                  gdal.GDT_Byte, options=CREATION)
    target.SetGeoTransform(source.GetGeoTransform())
    target.SetProjection(source.GetProjection())
    # The classes before the pixels: GDAL 3.10 refuses a colour table once a GeoTIFF has data.
    write_classes(target, 1, [ClassInfo(1, "farm", "#ffcc00"), ClassInfo(2, "meadow", "#99dd55"),
                              ClassInfo(3, "forest", "#116611"), ClassInfo(8, "water", "#2255ff")])
    target.GetRasterBand(1).WriteArray(classes)
    target.GetRasterBand(1).SetNoDataValue(255)
    target = None
    return path


def enlarged(path: Path, factor: int, folder: Path) -> Path:
    """``path`` with every pixel repeated ``factor`` x ``factor`` times (nearest neighbour)."""
    if factor == 1:
        return path
    source = gdal.Open(str(path))
    target = folder / f"{path.stem.rsplit('_x', 1)[0]}_x{factor}.tif"
    gdal.Translate(str(target), source, width=source.RasterXSize * factor, height=source.RasterYSize * factor,
                   resampleAlg="near", creationOptions=CREATION)
    return target


def assess_in_child(classes: Path, labels: Path, cache_mb: int) -> dict:
    code = CHILD.format(repo=str(REPO), classes=str(classes), labels=str(labels))
    environment = {**os.environ, "GDAL_CACHEMAX": str(cache_mb)}
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               env=environment)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def chips_figures(folder: Path, factor: int) -> str:
    from plugin.adapters.chips.export import ChipOptions, export_chips
    from plugin.adapters.chips.labels import LabelSpec

    image = enlarged_image(folder, factor)
    labels = enlarged(S2 / "osm_landuse_labels_10m.tif", factor, folder) if factor > 1 else \
        S2 / "osm_landuse_labels_10m.tif"
    start = time.perf_counter()
    result = export_chips(str(image), LabelSpec(raster=str(labels), nodata=0), str(folder / f"chips_x{factor}"),
                          ChipOptions(256, 256, 0.05))
    seconds = time.perf_counter() - start
    return (f"chips x{factor}: {result.chip_count} chips of 256 x 256 x 4 UInt16 written, {result.skipped} skipped, "
            f"{seconds:.1f} s, {result.chip_count / seconds:.0f} chips/s")


def enlarged_image(folder: Path, factor: int) -> Path:
    source = S2 / "s2_l1c_10m_B02_B03_B04_B08.tif"
    if factor == 1:
        return source
    copy = folder / "s2_x1.tif"
    if not copy.exists():
        shutil.copy(source, copy)
    return enlarged(copy, factor, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 12])
    parser.add_argument("--chips-factor", type=int, default=4)
    parser.add_argument("--gdal-cache-mb", type=int, default=64,
                        help="GDAL block cache of the assessment process (GDAL's default is 5%% of RAM)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="seamless-bench-accuracy-"))
    try:
        classes = class_raster(folder)
        labels_x1 = S2 / "osm_landuse_labels_10m.tif"
        print(f"accuracy assessment against the label raster, GDAL_CACHEMAX={args.gdal_cache_mb} MB, "
              "1024 x 1024 blocks")
        print("factor  size            pixels (M)  assessed (M)  seconds  Mpx/s  peak RSS (MB)  OA")
        for factor in args.factors:
            labels = enlarged(labels_x1, factor, folder) if factor > 1 else labels_x1
            figures = assess_in_child(enlarged(classes, factor, folder), labels, args.gdal_cache_mb)
            width, height = 1536 * factor, 768 * factor
            pixels = width * height / 1e6
            print(f"x{factor:<5} {width:>6} x {height:<6} {pixels:>10.1f}  {figures['samples'] / 1e6:>12.2f}  "
                  f"{figures['seconds']:>7.2f}  {pixels / figures['seconds']:>5.0f}  {figures['peak_mb']:>13.0f}  "
                  f"{figures['oa']:.4f}")
        print(chips_figures(folder, args.chips_factor))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
