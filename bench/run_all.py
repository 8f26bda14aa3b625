"""Run every benchmark one after the other and print their figures (``make bench``).

    .venv/bin/python bench/run_all.py [--quick] [--only seams throughput ...]

Each benchmark is its own script (run it alone for its options); this runner only calls them with
their defaults, or with smaller inputs under ``--quick``, and reports which ones failed. The seams,
throughput and memory benchmarks build their inputs from the bundled Sentinel-2 subset; the
training comparison needs ../shared/data/s2-osm-landuse, the detection ones ../shared/data/neon-trees (for the
RetinaNet they train once) and the peer comparison ../shared/peers; each
says so when its data is absent. Figures go
to standard output; intermediate files to bench-output/. Nothing is asserted: these are measurements.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# name -> (arguments by default, arguments with --quick)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "seams": ([], ["--windows", "512"]),
    "throughput": ([], ["--size", "2048", "--repeats", "1"]),
    "memory": ([], ["--sizes", "2048", "8192", "--inputs", "geotiff", "--runs", "1"]),
    "compare_peer": ([], ["--rounds", "1", "--size", "2048"]),
    "quantization": ([], ["--repeats", "3"]),
    "accuracy": ([], ["--factors", "1", "4"]),
    "mask": ([], ["--size", "4096"]),
    "polygons": ([], ["--size", "4096"]),
    "web_map": ([], []),
    "train_vs_random_forest": ([], ["--epochs", "3", "--trial-epochs", "2", "--budget", "60", "--trees", "50"]),
    "regression_vs_random_forest": ([], ["--scenes", "naip", "--epochs", "3", "--steps", "8", "--trees", "50"]),
    "tiles_vs_random_forest": ([], ["--epochs", "3", "--width", "8", "--trees", "50"]),
    "scale": ([], ["--size", "2048", "--block", "1024", "--block-sizes", "768", "1152"]),
    "detection_throughput": ([], ["--size", "1024", "--repeats", "1"]),
    "detection_vs_baseline": ([], ["--trees", "30", "--samples", "20000"]),
}


def run_benchmark(name: str, arguments: list[str]) -> bool:
    """Run one benchmark script with the same interpreter, its output straight to ours."""
    command = [sys.executable, str(BENCH / f"{name}.py"), *arguments]
    print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=BENCH.parent)
    print(f"=== {name}: {'done' if completed.returncode == 0 else 'FAILED'} "
          f"in {time.perf_counter() - started:.0f} s", flush=True)
    return completed.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller inputs: minutes instead of about an hour")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run just these")
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    failed = [name for name in names if not run_benchmark(name, BENCHMARKS[name][1 if args.quick else 0])]
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
        return 1
    print(f"\nAll {len(names)} benchmarks ran.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
