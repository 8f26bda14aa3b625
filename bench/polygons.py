"""Class polygons (OUTPUT_VECTOR): the extra time and the peak memory they add to a classify job, on the
16k x 16k case (a tiled GeoTIFF mosaic of the real Sentinel-2 subset, pixels repeated), each job in a fresh
process: classes only; classes and polygons; classes and polygons with MIN_AREA (and SIEVE).

    .venv/bin/python bench/polygons.py [--model M] [--size 16384] [--min-area 1000]
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import DEFAULT_MODEL, S2_IMAGE, mosaic_geotiff, output_folder, print_table, require_model


def child(model: str, source: str, folder: str, min_area: float, vector: bool) -> None:
    from plugin.adapters.classify.finishing import VectorOptions
    from plugin.adapters.classify.job import ClassifyRequest, classify
    from plugin.core.progress import LoggingProgress

    output = Path(folder)
    request = ClassifyRequest(input_path=source, model_path=model, output_path=str(output / "classes.tif"),
                              device="cpu", vector_path=str(output / "regions.gpkg") if vector else None,
                              vector=VectorOptions(min_area=min_area, sieve=min_area > 0))
    progress = LoggingProgress()
    started = time.perf_counter()
    result = classify(request, progress)
    counted = [re.match(r"OUTPUT_VECTOR: (\d+) polygon", m) for m in progress.messages]
    features = next((m.group(1) for m in counted if m), "")
    print(json.dumps({"seconds": time.perf_counter() - started, "engine_seconds": result.summary.seconds,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "polygons": features,
                      "finish_seconds": result.stage_seconds.get("finish", 0.0)}))


def run_child(model: str, source: Path, folder: Path, min_area: float, vector: bool) -> dict:
    completed = subprocess.run([sys.executable, __file__, "--model", model, "--min-area", str(min_area),
                                "--child", str(source), str(folder), "1" if vector else "0"],
                               capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(completed.stderr)
    for name in ("classes.tif", "classes.tif.aux.xml", "regions.gpkg"):
        (folder / name).unlink(missing_ok=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--min-area", type=float, default=1000.0, help="MIN_AREA of the third run (m²)")
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 2, 3], help="which of the three runs (1-3)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.model, args.child[0], args.child[1], args.min_area, args.child[2] == "1")
        return
    model = str(require_model(Path(args.model)))
    folder = output_folder("polygons")
    source = mosaic_geotiff(S2_IMAGE, args.size, args.size, folder)
    print(f"Polygons: {args.size} x {args.size} px GeoTIFF mosaic of {S2_IMAGE.name} (repeated real pixels), bundled "
          "model, overlap 25 %, CPU; each job in a fresh process.")
    runs = [("classes only", 0.0, False), ("+ polygons", 0.0, True),
            (f"+ polygons, MIN_AREA {args.min_area:g} m², SIEVE", args.min_area, True)]
    rows = []
    for number, (name, min_area, vector) in enumerate(runs, start=1):
        if number not in args.runs:
            continue
        figures = run_child(model, source, folder, min_area, vector)
        rows.append([name, figures["polygons"], f"{figures['engine_seconds']:.0f}", f"{figures['finish_seconds']:.0f}",
                     f"{figures['seconds']:.0f}", f"{figures['peak_mib']:.0f}"])
    print_table(["run", "polygons", "engine s", "finishing s", "job s", "peak RSS (MiB)"], rows)
    print("\nfinishing = sieve, polygons and the cloud-optimised copies of the rasters, after the engine: the extra "
          "time of the polygons is the difference in finishing (the engine's time varies with the machine's load).")


if __name__ == "__main__":
    main()
