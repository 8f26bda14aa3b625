"""Distributed runs (Dask) against the single-process engine: throughput with 1 and 2 local workers, the
overhead per block, and the block-size trade-off (the halo's recomputed windows, computed and measured).

The raster is a mosaic of the real Sentinel-2 subset repeated (pixels repeated, not new data), written as one
tiled, DEFLATE-compressed GeoTIFF; the bundled model, its default plan (512 px windows, 25 % overlap, smooth).
Each local cluster is started before its runs (its start-up time is printed on its own), and each worker gets
the machine's cores divided by the number of workers, as ``--workers N`` does.

- *windows*: windows the runs computed, against the single-process run's; the excess is the halo.
- *overhead per block*: (1-worker wall time - single-process time x windows ratio) / blocks: what a block costs
  beyond its windows (the task, opening the raster, writing its part, its share of the assembly).

Each time is the fastest of ``--repeats`` runs (other programs on the machine only ever slow a run down); the
load average is printed before and after, since a busy machine makes the times meaningless (the windows are
counted, not timed, and do not depend on it).

    .venv/bin/python bench/scale.py [--size 4096] [--block 2048] [--block-sizes 768 1536 ...] [--repeats 2]
"""
from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

from common import DEFAULT_MODEL, S2_IMAGE, cpu_description, mosaic_geotiff, output_folder, print_table, require_model

from plugin.adapters.classify_job import ClassifyRequest, ClassifyResult, classify
from plugin.core.blocks import halo_share, plan_blocks
from plugin.core.model import load_model
from plugin.core.plan import RunOptions, plan_run
from plugin.core.progress import LoggingProgress
from plugin.core.runtime import available_providers
from plugin.distributed.cluster import ClusterSpec, available_cores
from plugin.distributed.run import DistributedOptions, classify_distributed

REPEATS = 2


def single(request: ClassifyRequest) -> tuple[float, ClassifyResult]:
    """The fastest of REPEATS single-process runs."""
    best: tuple[float, ClassifyResult] | None = None
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = classify(request, LoggingProgress())
        seconds = time.perf_counter() - started
        best = (seconds, result) if best is None or seconds < best[0] else best
    assert best is not None
    return best


def distributed_run(request: ClassifyRequest, address: str, workers: int, block: int) -> tuple[float, ClassifyResult]:
    """The fastest of REPEATS distributed runs on the cluster at ``address``."""
    threads = max(1, available_cores() // workers)  # as --workers N gives each worker
    best: tuple[float, ClassifyResult] | None = None
    for _ in range(REPEATS):
        started = time.perf_counter()
        outcome = classify_distributed([replace(request, threads=threads)],
                                       DistributedOptions(ClusterSpec(scheduler=address), block), LoggingProgress())[0]
        if outcome.error is not None:
            raise outcome.error
        assert outcome.result is not None
        seconds = time.perf_counter() - started
        best = (seconds, outcome.result) if best is None or seconds < best[0] else best
    assert best is not None
    return best


def load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


class Cluster:
    """A local cluster of ``workers`` processes, started and timed."""

    def __init__(self, workers: int) -> None:
        import distributed

        started = time.perf_counter()
        self.cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
        self.client = distributed.Client(self.cluster)
        self.start_seconds = time.perf_counter() - started

    def close(self) -> None:
        self.client.close()
        self.cluster.close()


def layout_share(model_path: str, size: int, block: int) -> tuple[int, float, float]:
    """(blocks, recompute share of the layout, halo share of an interior block) for a size x size raster."""
    model = load_model(model_path, "cpu", threads=1)
    plan = plan_run(model.contract, model.shape, size, size, RunOptions(), LoggingProgress())
    layout = plan_blocks(plan, block)
    return len(layout.blocks), layout.recompute_share, halo_share(plan.window, plan.grid.columns.stride, block)


def throughput(request: ClassifyRequest, size: int, block: int) -> None:
    print(f"\nThroughput, {size} x {size} px, blocks of {block} px ({cpu_description()}):")
    base_seconds, base = single(request)
    rows = [["single process (engine)", "-", f"{base_seconds:.1f}", f"{size * size / 1e6 / base_seconds:.2f}", "1.00",
             base.summary.windows_run, "-", "-"]]
    for workers in (1, 2):
        cluster = Cluster(workers)
        try:
            seconds, result = distributed_run(request, cluster.cluster.scheduler_address, workers, block)
        finally:
            cluster.close()
        blocks, _, _ = layout_share(request.model_path, size, block)
        ratio = result.summary.windows_run / base.summary.windows_run
        overhead = (seconds - base_seconds * ratio) / blocks if workers == 1 else None
        rows.append([f"{workers} worker(s), cluster up in {cluster.start_seconds:.1f} s", blocks, f"{seconds:.1f}",
                     f"{size * size / 1e6 / seconds:.2f}", f"{base_seconds / seconds:.2f}", result.summary.windows_run,
                     f"{100 * (ratio - 1):.1f} %", "-" if overhead is None else f"{overhead:.2f} s"])
    print_table(["run", "blocks", "wall s", "Mpx/s", "speed-up", "windows", "halo (measured)", "overhead/block"],
                rows)


def trade_off(request: ClassifyRequest, size: int, blocks: list[int]) -> None:
    print(f"\nBlock size trade-off, {size} x {size} px, 1 worker ({cpu_description()}):")
    base_seconds, base = single(request)
    cluster = Cluster(1)
    rows = []
    try:
        for block in blocks:
            count, computed, interior = layout_share(request.model_path, size, block)
            seconds, result = distributed_run(request, cluster.cluster.scheduler_address, 1, block)
            measured = result.summary.windows_run / base.summary.windows_run - 1
            rows.append([block, count, f"{100 * interior:.1f} %", f"{100 * computed:.1f} %", f"{100 * measured:.1f} %",
                         f"{seconds:.1f}", f"{100 * (seconds / base_seconds - 1):.1f} %"])
    finally:
        cluster.close()
    print(f"single process: {base_seconds:.1f} s, {base.summary.windows_run} windows")
    print_table(["block px", "blocks", "halo, interior block", "halo, computed", "halo, measured", "wall s",
                 "time over single"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--block", type=int, default=2048, help="block size of the throughput runs")
    parser.add_argument("--block-sizes", type=int, nargs="+", default=[768, 1152, 1536, 2304, 3072, 3840])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="runs per configuration; the fastest counts")
    args = parser.parse_args()
    globals()["REPEATS"] = max(1, args.repeats)
    model = str(require_model(args.model))
    folder = output_folder("scale")
    source = mosaic_geotiff(S2_IMAGE, args.size, args.size, folder)
    request = ClassifyRequest(str(source), model, str(folder / "classes.tif"), device=args.device)
    if not any(p in available_providers() for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider")):
        print("No GPU provider here (onnxruntime has none): CPU figures only. On a GPU machine run with --device cuda "
              "(and one worker per GPU: seamless-segmentation classify ... --workers cuda:0,cuda:1).")
    print(f"Before: {load()}")
    throughput(request, args.size, args.block)
    trade_off(request, args.size, args.block_sizes)
    print(f"After: {load()}")


if __name__ == "__main__":
    main()
