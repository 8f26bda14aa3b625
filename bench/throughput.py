"""Throughput: megapixels per second end to end (read, normalise, infer, blend, write a compressed
GeoTIFF) against the model-only ceiling: the same model's ``session.run`` on batches of the same
window size, in the same process, measured before and after the end-to-end run.

The raster is a mosaic of the real Sentinel-2 subset repeated (pixels repeated, not new data), written
as one tiled, DEFLATE-compressed GeoTIFF. ``BENCH_PLUGIN_CHECKOUT=PATH`` measures another checkout of the
plugin (a baseline) with this same script.

    .venv/bin/python bench/throughput.py [--model M] [--size 4096] [--repeats 3] [--only defaults overlap0 ...]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import (
    DEFAULT_MODEL,
    S2_IMAGE,
    checkout_description,
    cpu_description,
    gdal,
    mosaic_geotiff,
    output_folder,
    plan_figures,
    print_table,
    require_model,
)

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.core.engine.plan import RunOptions
from plugin.core.model.loading import load_model
from plugin.core.model.preprocess import normalise
from plugin.core.model.runtime import available_providers
from plugin.core.progress import LoggingProgress


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


def end_to_end(model_path: str, source: Path, device: str, options: RunOptions,
               folder: Path) -> tuple[float, float, str]:
    """(engine Mpx/s, whole job Mpx/s including model loading and the cloud-optimised copy, the plan as logged)."""
    request = ClassifyRequest(input_path=str(source), model_path=model_path, output_path=str(folder / "classes.tif"),
                              device=device, options=options)
    progress = LoggingProgress()
    result = classify(request, progress)
    FINISHING.append(result.stage_seconds.get("finish", 0.0))
    pixels = result.summary.pixels_written / 1e6
    plan = next(m for m in progress.messages if m.startswith("Plan: "))[6:]
    return pixels / result.summary.seconds, pixels / result.seconds, plan


def bracketed(model_path: str, source: Path, device: str, options: RunOptions, folder: Path) -> dict:
    """Engine and job Mpx/s, and the model-only Mpx/s for the run's window and batch, measured just before and
    just after."""
    _, _, plan = end_to_end(model_path, source, device, options, folder)  # the plan (and a warm file cache)
    window = int(plan.split("window ")[1].split(" px")[0])
    batch = int(plan.split(", batch ")[1].split(",")[0])
    before = ceiling(model_path, device, window, batch)
    engine_rate, job_rate, plan = end_to_end(model_path, source, device, options, folder)
    after = ceiling(model_path, device, window, batch)
    windows, per_pixel = plan_figures(plan)
    return {"engine": engine_rate, "job": job_rate, "ceiling": (before + after) / 2, "plan": plan,
            "window": window, "batch": batch, "per_pixel": per_pixel, "windows": windows}


CONFIGURATIONS = {  # --only key: (label, options)
    "defaults": ("defaults", RunOptions()),
    "overlap0": ("512 px, overlap 0, batch 1 (windows tile the area exactly)",
                 RunOptions(512, 0.0, "smooth", "none", 1)),
    "tta": ("defaults, flips TTA", RunOptions(tta="flips")),
    "former": ("former defaults: 512 px, 25 %, batch 4", RunOptions(512, 25.0, "smooth", "none", 4)),
}


def measure(model_path: str, source: Path, device: str, folder: Path, repeats: int,
            keys: list[str]) -> list[list[object]]:
    rows = []
    for key in keys:
        name, options = CONFIGURATIONS[key]
        runs = [bracketed(model_path, source, device, options, folder)
                for _ in range(repeats if key in ("defaults", "overlap0") else 1)]
        shares = sorted(r["engine"] / r["ceiling"] for r in runs)
        middle = next(r for r in runs if r["engine"] / r["ceiling"] == shares[len(shares) // 2])
        spread = f" (runs: {', '.join(f'{100 * x:.1f}' for x in shares)})" if len(shares) > 1 else ""
        engine_rates = sorted(r["engine"] for r in runs)
        rates = f" (runs: {', '.join(f'{x:.2f}' for x in engine_rates)})" if len(runs) > 1 else ""
        predicted = sum(float(x) for x in middle["per_pixel"].split(" (")[0].split(" + "))  # area and padding
        rows.append([device, name, f"{middle['window']} px, batch {middle['batch']}", middle["windows"],
                     middle["per_pixel"], f"{engine_rates[len(engine_rates) // 2]:.2f}{rates}", f"{middle['job']:.2f}",
                     f"{middle['ceiling']:.2f}", f"{100 * shares[len(shares) // 2]:.1f} %{spread}",
                     f"{100 * middle['engine'] * predicted / middle['ceiling']:.1f} %"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--size", type=int, default=4096, help="mosaic side in pixels")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the default configurations (median shown)")
    parser.add_argument("--only", nargs="+", choices=list(CONFIGURATIONS), default=list(CONFIGURATIONS),
                        help="the configurations to run")
    args = parser.parse_args()
    model_path = str(require_model(Path(args.model)))
    folder = output_folder("throughput")
    source = mosaic_geotiff(S2_IMAGE, args.size, args.size, folder)
    print(f"Throughput: {args.size} x {args.size} px GeoTIFF mosaic of {S2_IMAGE.name} (repeated real pixels), "
          f"model {Path(model_path).name}, {cpu_description()}; {checkout_description()}.")
    rows = measure(model_path, source, "cpu", folder, args.repeats, args.only)
    if "CUDAExecutionProvider" in available_providers():
        rows += measure(model_path, source, "cuda", folder, args.repeats, args.only)
        gpu_note = ""
    else:
        gpu_note = "No CUDA execution provider here: GPU throughput not measured."
    print()
    print_table(["device", "configuration", "window", "windows", "predictions/px (area + padding)", "engine Mpx/s",
                 "job Mpx/s",
                 "model-only Mpx/s", "engine/ceiling", "model busy"], rows)
    print("\nengine = read + normalise + infer + blend + write; job adds opening the model and the files and the "
          "cloud-optimised copy with overviews (after the engine; "
          f"{min(FINISHING):.2f} to {max(FINISHING):.2f} s per job here); model-only = session.run on windows of "
          "the run's size and batch; model busy = engine/ceiling x predictions per pixel (the share of the run the "
          "model computes). Target: windows that tile the area, overlap 0, no TTA >= 90 % of the ceiling on CPU.")
    if gpu_note:
        print(gpu_note)


if __name__ == "__main__":
    main()
