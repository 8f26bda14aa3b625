"""Processing mask: a MASK covering 10 % of an 8k x 8k raster against no mask. Windows entirely outside the
mask are neither read nor run, so the time should follow the masked area.

The raster is a tiled GeoTIFF mosaic of the real Sentinel-2 subset (pixels repeated, not new data); the
mask is one square polygon in the middle covering the given share of the raster. Each run is a whole
classify job in a fresh process (the bundled model, overlap 25 %, CPU).

    .venv/bin/python bench/mask.py [--model M] [--size 8192] [--share 0.1]
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

from common import DEFAULT_MODEL, S2_IMAGE, gdal, mosaic_geotiff, output_folder, print_table, require_model
from osgeo import ogr, osr


def child(model: str, source: str, output: str, mask: str) -> None:
    from plugin.adapters.classify.job import ClassifyRequest, classify
    from plugin.core.progress import LoggingProgress

    request = ClassifyRequest(input_path=source, model_path=model, output_path=output, device="cpu",
                              mask_path=mask or None)
    started = time.perf_counter()
    result = classify(request, LoggingProgress())
    print(json.dumps({"seconds": time.perf_counter() - started, "windows_run": result.summary.windows_run,
                      "windows": result.summary.windows_total, "engine_seconds": result.summary.seconds,
                      "classified": sum(result.class_pixel_counts.values())}))


def square_mask(source: Path, share: float, path: Path) -> Path:
    """One square polygon in the middle of the raster covering ``share`` of it."""
    dataset = gdal.Open(str(source))
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    side = math.sqrt(share * dataset.RasterXSize * dataset.RasterYSize)
    cx, cy = x0 + dataset.RasterXSize / 2 * dx, y0 + dataset.RasterYSize / 2 * dy
    half_x, half_y = side / 2 * dx, side / 2 * abs(dy)
    srs = osr.SpatialReference()
    srs.ImportFromWkt(dataset.GetProjection())
    vector = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = vector.CreateLayer("mask", srs, ogr.wkbPolygon)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt(
        f"POLYGON (({cx - half_x} {cy - half_y}, {cx + half_x} {cy - half_y}, {cx + half_x} {cy + half_y}, "
        f"{cx - half_x} {cy + half_y}, {cx - half_x} {cy - half_y}))"))
    layer.CreateFeature(feature)
    layer = vector = None
    return path


def run_child(model: str, source: Path, output: Path, mask: Path | None) -> dict:
    completed = subprocess.run([sys.executable, __file__, "--model", model, "--child", str(source), str(output),
                                str(mask or "")], capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(completed.stderr)
    output.unlink(missing_ok=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.model, *args.child)
        return
    model = str(require_model(Path(args.model)))
    folder = output_folder("mask")
    source = mosaic_geotiff(S2_IMAGE, args.size, args.size, folder)
    mask = square_mask(source, args.share, folder / f"mask_{args.share:g}.gpkg")
    print(f"Mask: {args.size} x {args.size} px GeoTIFF mosaic of {S2_IMAGE.name} (repeated real pixels), bundled "
          f"model, overlap 25 %, CPU; a square mask covering {100 * args.share:g} % of the raster.")
    rows, times = [], {}
    for name, polygon in (("no mask", None), (f"mask {100 * args.share:g} %", mask)):
        figures = run_child(model, source, folder / "classes.tif", polygon)
        times[name] = figures["seconds"]
        rows.append([name, f"{figures['windows_run']} / {figures['windows']}",
                     f"{figures['classified'] / 1e6:.1f}", f"{figures['engine_seconds']:.1f}",
                     f"{figures['seconds']:.1f}"])
    print_table(["run", "windows run", "Mpx classified", "engine s", "job s"], rows)
    ratio = times[f"mask {100 * args.share:g} %"] / times["no mask"]
    print(f"\nWith the mask the job takes {100 * ratio:.1f} % of the time without it "
          f"(the mask covers {100 * args.share:g} % of the raster; windows overlapping its edge are run whole).")


if __name__ == "__main__":
    main()
