"""Shared helpers for the benchmarks: data and model locations, mosaics, runs, tables.

Benchmarks print figures; they never assert timings. Run them with `make bench` or one by one:
``.venv/bin/python bench/seams.py``.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The plugin measured: this checkout, or another one named by BENCH_PLUGIN_CHECKOUT (a baseline, e.g. the main
# branch, run by these same scripts so that before and after are measured alike).
PLUGIN_CHECKOUT = Path(os.environ.get("BENCH_PLUGIN_CHECKOUT") or REPO).resolve()
sys.path.insert(0, str(PLUGIN_CHECKOUT))

from osgeo import gdal  # noqa: E402

gdal.UseExceptions()

SHARED = REPO.parent / "shared" / "data"
S2_IMAGE = REPO / "tests" / "data" / "s2" / "s2_l1c_10m_B02_B03_B04_B08.tif"
DEFAULT_MODEL = REPO / "models" / "s2_landuse_unet.onnx"
OUTPUT = REPO / "bench-output"


def output_folder(name: str) -> Path:
    folder = OUTPUT / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def require_model(path: Path = DEFAULT_MODEL) -> Path:
    if not path.exists():
        sys.exit(f"The model {path} is missing; pass --model PATH (an ONNX segmentation model).")
    return path


def mosaic(source: Path, width: int, height: int, folder: Path) -> Path:
    """A VRT of ``width`` x ``height`` pixels repeating ``source`` (pixels are repeated, not new data)."""
    dataset = gdal.Open(str(source))
    tile_w, tile_h = dataset.RasterXSize, dataset.RasterYSize
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    copies = []
    for row in range(-(-height // tile_h)):
        for col in range(-(-width // tile_w)):
            path = folder / f"copy_{row}_{col}.vrt"
            if not path.exists():
                translated = gdal.Translate(str(path), dataset, format="VRT",
                                            outputBounds=None)
                translated.SetGeoTransform((x0 + col * tile_w * dx, dx, 0, y0 + row * tile_h * dy, 0, dy))
                translated = None
            copies.append(str(path))
    target = folder / f"mosaic_{width}x{height}.vrt"
    gdal.BuildVRT(str(target), copies)
    clipped = folder / f"mosaic_{width}x{height}_exact.vrt"
    gdal.Translate(str(clipped), str(target), format="VRT", srcWin=[0, 0, width, height])
    return clipped


def mosaic_geotiff(source: Path, width: int, height: int, folder: Path) -> Path:
    """The same mosaic written as one tiled, DEFLATE-compressed GeoTIFF, as a user's raster would be."""
    target = folder / f"mosaic_{width}x{height}.tif"
    if not target.exists():
        gdal.Translate(str(target), str(mosaic(source, width, height, folder)),
                       creationOptions=["TILED=YES", "COMPRESS=DEFLATE", "PREDICTOR=2", "BIGTIFF=IF_SAFER"])
    return target


def checkout_description() -> str:
    """Which plugin checkout runs, and its commit."""
    completed = subprocess.run(["git", "-C", str(PLUGIN_CHECKOUT), "log", "-1", "--format=%h %s"], capture_output=True,
                               text=True)
    commit = completed.stdout.strip()[:72] if completed.returncode == 0 else "not a git checkout"
    return f"plugin from {PLUGIN_CHECKOUT} ({commit})"


def plan_figures(plan: str) -> tuple[str, str]:
    """(windows, predictions per pixel) from a logged plan line: predictions on the area + on padding beyond it
    (this version's line), or all of them together (the former line, 'each pixel predicted N times')."""
    windows = re.search(r"(\d+) windows \((\d+) x (\d+)\)", plan)
    grid = windows or re.search(r"(\d+) x (\d+) windows", plan)
    area = re.search(r"([0-9.]+) predictions per pixel of the area, ([0-9.]+) on padding", plan)
    former = re.search(r"each pixel predicted ([0-9.]+) times", plan)
    columns, rows = (int(grid.group(grid.lastindex - 1)), int(grid.group(grid.lastindex))) if grid else (0, 0)
    count = f"{windows.group(1) if windows else columns * rows} ({columns} x {rows})" if grid else "?"
    per_pixel = (f"{area.group(1)} + {area.group(2)}" if area else f"{former.group(1)} (all)" if former else "?")
    return count, per_pixel


def print_table(header: list[str], rows: list[list[object]]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    line = "  ".join(f"{h:>{w}}" for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(f"{str(x):>{w}}" for x, w in zip(row, widths)))


def cpu_description() -> str:
    return f"{os.cpu_count()} CPU core(s)"
