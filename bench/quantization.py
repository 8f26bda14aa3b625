"""INT8 against float on the CPU: class agreement and speed of a model and its INT8 copy.

The INT8 copy is made as ``python -m training quantize`` makes it (QDQ, calibrated on windows of the
Sentinel-2 subset, checked on the others); here the agreement is only reported, never used to refuse, so
that the speed of a model below the 99 % bar can still be measured (the command itself would refuse to
write it). Speed: the model alone (``session.run`` on one window of the default size, the two models
alternating, ``--repeats`` pairs, median and spread) and whole classify jobs at the defaults on a mosaic.

    .venv/bin/python bench/quantization.py [--model M] [--repeats 5] [--size 2048]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from common import DEFAULT_MODEL, S2_IMAGE, cpu_description, mosaic_geotiff, output_folder, print_table, require_model

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.core.model.loading import load_model
from plugin.core.progress import LoggingProgress
from training.quantize import QUANTIZED_OPERATORS, quantize_with_raster


def model_seconds(path: Path, window: int, runs: int = 3) -> float:
    """Seconds per window of ``session.run`` (the median of ``runs`` after a warm-up)."""
    model = load_model(path, "cpu")
    batch = np.random.default_rng(0).standard_normal((1, model.contract.input.bands, window, window))
    batch = batch.astype(np.float32)
    model.runtime.predict(batch)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        model.runtime.predict(batch)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def job_rate(path: Path, source: Path, folder: Path) -> float:
    request = ClassifyRequest(input_path=str(source), model_path=str(path), output_path=str(folder / "classes.tif"),
                              device="cpu")
    result = classify(request, LoggingProgress())
    return result.summary.pixels_written / 1e6 / result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--repeats", type=int, default=5, help="float/INT8 pairs timed, alternating")
    parser.add_argument("--window", type=int, default=1024, help="window side for the model-only timing")
    parser.add_argument("--size", type=int, default=2048, help="mosaic side for the whole-job timing (0: none)")
    parser.add_argument("--operators", help="operator types to quantize, comma-separated (an experiment; default "
                        f"the command's: {','.join(QUANTIZED_OPERATORS)}), e.g. "
                        "Conv,ConvTranspose,MatMul,Gemm,Relu,MaxPool,Concat,Resize,Add,Mul")
    args = parser.parse_args()
    if args.operators:
        QUANTIZED_OPERATORS[:] = args.operators.split(",")
    model = require_model(Path(args.model))
    folder = output_folder("quantization")
    quantized = folder / f"{model.stem}.int8.onnx"
    check = quantize_with_raster(model, S2_IMAGE, quantized, min_agreement=0.0)
    print(f"INT8 copy of {model.name} ({', '.join(QUANTIZED_OPERATORS)} quantized): classes agree with the "
          f"float model on {check.agreement:.2%} of "
          f"{check.pixels} checked pixels ({check.calibration_windows} calibration windows); "
          f"{check.bytes / 1e6:.1f} MB against {check.float_bytes / 1e6:.1f} MB. {cpu_description()}.\n")
    ratios, floats, int8s = [], [], []
    for _ in range(args.repeats):
        floats.append(model_seconds(model, args.window))
        int8s.append(model_seconds(quantized, args.window))
        ratios.append(floats[-1] / int8s[-1])
    rows = [["model alone, one window", f"{args.window} px", f"{statistics.median(floats):.3f} s",
             f"{statistics.median(int8s):.3f} s", f"{statistics.median(ratios):.2f}",
             f"{min(ratios):.2f}-{max(ratios):.2f}"]]
    if args.size:
        source = mosaic_geotiff(S2_IMAGE, args.size, args.size, output_folder("throughput"))
        job_ratios, float_rates, int8_rates = [], [], []
        for _ in range(max(1, args.repeats // 2)):
            float_rates.append(job_rate(model, source, folder))
            int8_rates.append(job_rate(quantized, source, folder))
            job_ratios.append(int8_rates[-1] / float_rates[-1])
        rows.append([f"whole job at the defaults ({args.size} px mosaic)", "Mpx/s",
                     f"{statistics.median(float_rates):.2f}", f"{statistics.median(int8_rates):.2f}",
                     f"{statistics.median(job_ratios):.2f}", f"{min(job_ratios):.2f}-{max(job_ratios):.2f}"])
    print_table(["measure", "unit", "float", "INT8", "speed-up (median)", "speed-up (range)"], rows)


if __name__ == "__main__":
    main()
