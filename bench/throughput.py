"""Throughput: megapixels per second end to end (read, normalise, infer, blend, write a compressed
GeoTIFF) against the model-only ceiling: the same model's ``session.run`` on batches of the same
window size, in the same process, measured before and after the end-to-end run.

The raster is a mosaic of the real Sentinel-2 subset repeated (pixels repeated, not new data), written
as one tiled, DEFLATE-compressed GeoTIFF.

    .venv/bin/python bench/throughput.py [--model M] [--size 4096] [--device cpu] [--batch 4]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import (
    DEFAULT_MODEL,
    S2_IMAGE,
    cpu_description,
    gdal,
    mosaic_geotiff,
    output_folder,
    print_table,
    require_model,
)

from plugin.adapters.classify_job import ClassifyRequest, classify
from plugin.core.model import load_model
from plugin.core.plan import RunOptions, choose_window
from plugin.core.preprocess import normalise
from plugin.core.progress import LoggingProgress
from plugin.core.runtime import available_providers


def ceiling(model_path: str, device: str, window: int, batch: int, seconds: float = 6.0) -> float:
    """Model-only megapixels per second on real windows."""
    model = load_model(model_path, device)
    dataset = gdal.Open(str(S2_IMAGE))
    image = dataset.ReadAsArray(0, 0, min(window, dataset.RasterXSize), min(window, dataset.RasterYSize))
    image = np.pad(image, ((0, 0), (0, window - image.shape[1]), (0, window - image.shape[2])), mode="reflect")
    tensor = np.stack([normalise(image, model.contract.input)] * batch)
    model.runtime.predict(tensor)  # warm-up
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        model.runtime.predict(tensor)
        runs += 1
    return runs * batch * window * window / 1e6 / (time.perf_counter() - started)


FINISHING: list[float] = []  # seconds of each job's finishing (the cloud-optimised copy of the class raster)


def end_to_end(model_path: str, source: Path, device: str, options: RunOptions, folder: Path) -> tuple[float, float]:
    """(engine Mpx/s, whole job Mpx/s including model loading and the cloud-optimised copy)."""
    request = ClassifyRequest(input_path=str(source), model_path=model_path, output_path=str(folder / "classes.tif"),
                              device=device, options=options)
    result = classify(request, LoggingProgress())
    FINISHING.append(result.stage_seconds.get("finish", 0.0))
    pixels = result.summary.pixels_written / 1e6
    return pixels / result.summary.seconds, pixels / result.seconds


def bracketed(model_path: str, source: Path, device: str, options: RunOptions, window: int, batch: int,
              folder: Path) -> tuple[float, float, float]:
    """(engine Mpx/s, job Mpx/s, model-only Mpx/s): the ceiling measured just before and just after."""
    before = ceiling(model_path, device, window, batch)
    engine_rate, job_rate = end_to_end(model_path, source, device, options, folder)
    after = ceiling(model_path, device, window, batch)
    return engine_rate, job_rate, (before + after) / 2


def measure(model_path: str, source: Path, device: str, window: int, batch: int, folder: Path,
            repeats: int) -> list[list[object]]:
    rows = []
    plain = RunOptions(window, 0.0, "smooth", "none", batch)
    runs = [bracketed(model_path, source, device, plain, window, batch, folder) for _ in range(repeats)]
    ratios = sorted(engine_rate / model_only for engine_rate, _, model_only in runs)
    median = runs[[engine_rate / model_only for engine_rate, _, model_only in runs].index(ratios[len(ratios) // 2])]
    rows.append([device, "overlap 0, no TTA", f"{median[0]:.2f}", f"{median[1]:.2f}", f"{median[2]:.2f}",
                 f"{100 * ratios[len(ratios) // 2]:.1f} % (runs: " + ", ".join(f"{100 * r:.1f}" for r in ratios) + ")"])
    for name, options in (("overlap 25 %, smooth", RunOptions(window, 25.0, "smooth", "none", batch)),
                          ("overlap 25 %, smooth, flips TTA", RunOptions(window, 25.0, "smooth", "flips", batch))):
        engine_rate, job_rate, model_only = bracketed(model_path, source, device, options, window, batch, folder)
        rows.append([device, name, f"{engine_rate:.2f}", f"{job_rate:.2f}", f"{model_only:.2f}",
                     f"{100 * engine_rate / model_only:.1f} %"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--size", type=int, default=4096, help="mosaic side in pixels")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--window", type=int, default=0, help="0: the model's default window")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the overlap-0 configuration (median shown)")
    args = parser.parse_args()
    model_path = str(require_model(Path(args.model)))
    folder = output_folder("throughput")
    source = mosaic_geotiff(S2_IMAGE, args.size, args.size, folder)
    contract_model = load_model(model_path, "cpu")
    window = args.window or choose_window(contract_model.contract, contract_model.shape, 0)
    print(f"Throughput: {args.size} x {args.size} px GeoTIFF mosaic of {S2_IMAGE.name} (repeated real pixels), window "
          f"{window}, batch {args.batch}, {cpu_description()}.")
    rows = measure(model_path, source, "cpu", window, args.batch, folder, args.repeats)
    if "CUDAExecutionProvider" in available_providers():
        rows += measure(model_path, source, "cuda", window, args.batch, folder, args.repeats)
        gpu_note = ""
    else:
        gpu_note = "No CUDA execution provider here: GPU throughput not measured."
    print()
    print_table(["device", "configuration", "engine Mpx/s", "job Mpx/s", "model-only Mpx/s", "engine/ceiling"], rows)
    print("\nengine = read + normalise + infer + blend + write; job adds opening the model and the files and the "
          "cloud-optimised copy with overviews (after the engine; "
          f"{min(FINISHING):.2f} to {max(FINISHING):.2f} s per job here). "
          "Target: overlap 0, no TTA >= 90 % of the model-only ceiling on CPU.")
    if gpu_note:
        print(gpu_note)


if __name__ == "__main__":
    main()
