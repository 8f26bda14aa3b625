"""Detection throughput: megapixels of raster per second for the whole detect job (open the detector and the
raster, read, normalise, infer, decode, merge across windows, write the GeoPackage) against the model-only
ceiling: the same detector's ``session.run`` on batches of the run's window size, in the same process, measured
just before and just after the job.

The raster is a mosaic of the real NEON crop committed for the tests (``tests/data/neon-trees/OSBS_029.tif``,
400 x 400 px at 0.1 m) repeated (pixels repeated, not new data), written as one tiled, DEFLATE-compressed
GeoTIFF. The detector is the RetinaNet of ``detector_model.py`` (trained by the training package on the NEON
YELL crop; built once), or any detector given with ``--model``.

    .venv/bin/python bench/detection_throughput.py [--model M] [--size 2048] [--repeats 3]
"""
from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
from common import REPO, checkout_description, cpu_description, gdal, mosaic_geotiff, output_folder, print_table
from detector_model import missing_data, trained_detector

from plugin.adapters.detect.job import DetectRequest, detect_objects
from plugin.core.detection.loading import load_detector
from plugin.core.model.preprocess import normalise
from plugin.core.progress import LoggingProgress

NEON_CROP = REPO / "tests" / "data" / "neon-trees" / "OSBS_029.tif"
CONFIGURATIONS = {"overlap 0": 0.0, "defaults (overlap from max_object_size_px)": None}


def ceiling(model_path: str, window: int, batch: int, seconds: float = 6.0) -> float:
    """Model-only megapixels per second: session.run on batches of real, normalised windows."""
    detector = load_detector(model_path, "cpu")
    dataset = gdal.Open(str(NEON_CROP))
    side = min(window, dataset.RasterXSize, dataset.RasterYSize)
    image = dataset.ReadAsArray(0, 0, side, side)[:detector.contract.input.bands]
    image = np.pad(image, ((0, 0), (0, window - side), (0, window - side)), mode="reflect")
    tensor = np.stack([normalise(image, detector.contract.input)] * batch)
    detector.runtime.predict(tensor)  # warm-up
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        detector.runtime.predict(tensor)
        runs += 1
    return runs * batch * window * window / 1e6 / (time.perf_counter() - started)


def job(model_path: str, source: Path, overlap: float | None, folder: Path) -> dict:
    """One whole detect job: its Mpx/s (job and engine), the plan and the detections."""
    request = DetectRequest(input_path=str(source), model_path=model_path, output_path=str(folder / "boxes.gpkg"),
                            device="cpu", overlap=overlap)
    result = detect_objects(request, LoggingProgress())
    pixels = result.summary.pixels / 1e6
    plan = result.plan
    return {"job": pixels / result.seconds, "engine": pixels / result.summary.seconds, "plan": plan,
            "window": int(re.search(r"window (\d+) px", plan).group(1)),
            "overlap": int(re.search(r"overlap (\d+) px", plan).group(1)),
            "batch": int(re.search(r"batch (\d+)", plan).group(1)),
            "windows": re.search(r"(\d+ x \d+) windows", plan).group(1), "detections": result.summary.detections,
            "pixels": result.summary.pixels}


def bracketed(model_path: str, source: Path, overlap: float | None, folder: Path) -> dict:
    """A job with the model-only rate for its window and batch measured just before and just after."""
    first = job(model_path, source, overlap, folder)  # the plan, and a warm file cache
    before = ceiling(model_path, first["window"], first["batch"])
    measured = job(model_path, source, overlap, folder)
    after = ceiling(model_path, first["window"], first["batch"])
    return {**measured, "ceiling": (before + after) / 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="an ONNX detector (default: the trained benchmark RetinaNet)")
    parser.add_argument("--size", type=int, default=2048, help="mosaic side in pixels")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (median shown)")
    args = parser.parse_args()
    folder = output_folder("detection")
    problem = None if args.model or (folder / "retinanet_neon" / "model.onnx").exists() else missing_data()
    if problem:
        print(f"{problem} Skipped; pass --model PATH to measure another detector.")
        return
    model_path = args.model or str(trained_detector(folder))
    described = Path(model_path).name if args.model else "the RetinaNet trained by detector_model.py"
    source = mosaic_geotiff(NEON_CROP, args.size, args.size, output_folder("detection_throughput"))
    print(f"Detection throughput: {args.size} x {args.size} px GeoTIFF mosaic of {NEON_CROP.name} (repeated real "
          f"pixels), detector {described}, CPU, {cpu_description()}; {checkout_description()}.", flush=True)
    rows = []
    for name, overlap in CONFIGURATIONS.items():
        runs = sorted((bracketed(model_path, source, overlap, folder) for _ in range(args.repeats)),
                      key=lambda r: r["job"] / r["ceiling"])
        middle = runs[len(runs) // 2]
        columns, rows_ = (int(v) for v in middle["windows"].split(" x "))
        per_pixel = columns * rows_ * middle["window"] ** 2 / middle["pixels"]  # model pixels per raster pixel
        shares = ", ".join(f"{100 * r['job'] / r['ceiling']:.1f}" for r in runs)
        rows.append([name, f"{middle['window']} px, overlap {middle['overlap']} px, batch {middle['batch']}",
                     middle["windows"], f"{per_pixel:.2f}", middle["detections"], f"{middle['engine']:.2f}",
                     f"{middle['job']:.2f}", f"{middle['ceiling']:.2f}",
                     f"{100 * middle['job'] / middle['ceiling']:.1f} % (runs: {shares})",
                     f"{100 * middle['job'] * per_pixel / middle['ceiling']:.1f} %"])
    print()
    print_table(["configuration", "window", "windows", "model px per px", "detections", "engine Mpx/s",
                 "job Mpx/s", "model-only Mpx/s", "job/ceiling", "model busy"], rows)
    print("\njob = the whole detect job (opening the detector and the raster, reading, normalising, inference, "
          "decoding, per-window and cross-window NMS, writing the GeoPackage); engine = the threaded run alone; "
          "model-only = session.run on windows of the run's size and batch (mean of before and after the job); "
          "model px per px = window pixels run per raster pixel (what overlap costs); model busy = job/ceiling x "
          "model px per px, the share of the job the model computes. Median of the runs by job/ceiling.")


if __name__ == "__main__":
    main()
