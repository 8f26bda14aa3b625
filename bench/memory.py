"""Memory: peak resident memory of a whole "Classify raster" job on a 4k x 4k and a 16k x 16k raster
(mosaics of the real Sentinel-2 subset, pixels repeated), each in a fresh process. Streaming means
the two peaks should be within 10 % of each other although the second raster is 16 times larger.

Two kinds of input are measured: one tiled GeoTIFF per size (as large imagery usually comes), and a VRT
mosaic that references the sample file once per copy (242 files for 16k x 16k), where GDAL keeps up to
100 source datasets open (GDAL_MAX_DATASET_POOL_SIZE) on top of what the engine needs.

    .venv/bin/python bench/memory.py [--model M] [--sizes 4096 16384] [--overlap 25] [--inputs geotiff vrt]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import DEFAULT_MODEL, S2_IMAGE, mosaic, mosaic_geotiff, output_folder, print_table, require_model


def child(model: str, source: str, output: str, overlap: float) -> None:
    """Run one job and print its figures as JSON (runs in its own process)."""
    from plugin.adapters.classify_job import ClassifyRequest, classify
    from plugin.core.plan import RunOptions
    from plugin.core.progress import LoggingProgress

    request = ClassifyRequest(input_path=source, model_path=model, output_path=output, device="cpu",
                              options=RunOptions(overlap=overlap))
    started = time.perf_counter()
    result = classify(request, LoggingProgress())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mib": peak_mib, "seconds": time.perf_counter() - started,
                      "megapixels": result.summary.pixels_written / 1e6}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 16384])
    parser.add_argument("--overlap", type=float, default=25.0)
    parser.add_argument("--inputs", nargs="+", default=["geotiff", "vrt"], choices=["geotiff", "vrt"])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.model, args.child[0], args.child[1], args.overlap)
        return
    model = str(require_model(Path(args.model)))
    folder = output_folder("memory")
    print(f"Memory: whole classify jobs in fresh processes, model {model}, overlap {args.overlap:g} %.")
    rows = []
    for kind in args.inputs:
        peaks = []
        for size in args.sizes:
            source = (mosaic_geotiff if kind == "geotiff" else mosaic)(S2_IMAGE, size, size, folder)
            figures = run_child(model, source, folder / f"classes_{size}.tif", args.overlap)
            peaks.append(figures["peak_mib"])
            rows.append([kind, f"{size} x {size}", f"{figures['megapixels']:.0f}", f"{figures['peak_mib']:.0f}",
                         f"{figures['seconds']:.0f}", f"{figures['megapixels'] / figures['seconds']:.2f}"])
        rows[-1].append(f"{max(peaks) / min(peaks):.3f}")
    print_table(["input", "raster", "Mpx", "peak RSS (MiB)", "seconds", "Mpx/s", "largest/smallest"],
                [row + [""] * (7 - len(row)) for row in rows])
    print("\nTarget: the 16k x 16k peak within 1.10 of the 4k x 4k peak.")


def run_child(model: str, source: Path, output: Path, overlap: float) -> dict:
    completed = subprocess.run([sys.executable, __file__, "--model", model, "--overlap", str(overlap),
                                "--child", str(source), str(output)], capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(completed.stderr)
    output.unlink(missing_ok=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
