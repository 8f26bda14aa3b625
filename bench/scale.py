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
load average is printed before and after, since a busy machine makes wall times meaningless. CPU seconds (this
process's, plus every worker's for a distributed run) depend much less on other programs: they give the cost of
the halo and of the blocks when the machine is shared. The windows are counted, not timed.

    .venv/bin/python bench/scale.py [--size 4096] [--block 2048] [--block-sizes 768 1536 ...] [--repeats 2]
"""
from __future__ import annotations

import argparse
import logging
import os
import resource
import time
from dataclasses import replace
from pathlib import Path

from common import DEFAULT_MODEL, S2_IMAGE, cpu_description, mosaic_geotiff, output_folder, print_table, require_model

from plugin.adapters.classify.job import ClassifyRequest, ClassifyResult, classify
from plugin.core.engine.blocks import halo_share, plan_blocks
from plugin.core.engine.plan import RunOptions, plan_run
from plugin.core.model.loading import load_model
from plugin.core.model.runtime import available_providers
from plugin.core.progress import LoggingProgress
from plugin.distributed.cluster import ClusterSpec, available_cores
from plugin.distributed.run import DistributedOptions, classify_distributed

REPEATS = 2


def cpu_seconds() -> float:
    """CPU time of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Timing:
    """The fastest of REPEATS runs: wall seconds, CPU seconds, and the run's result."""

    def __init__(self) -> None:
        self.wall, self.cpu = float("inf"), float("inf")
        self.result: ClassifyResult | None = None

    def add(self, wall: float, cpu: float, result: ClassifyResult) -> None:
        if wall < self.wall:
            self.wall, self.result = wall, result
        self.cpu = min(self.cpu, cpu)


def single(request: ClassifyRequest) -> Timing:
    timing = Timing()
    for _ in range(REPEATS):
        started, cpu = time.perf_counter(), cpu_seconds()
        result = classify(request, LoggingProgress())
        timing.add(time.perf_counter() - started, cpu_seconds() - cpu, result)
    return timing


def distributed_run(request: ClassifyRequest, cluster: "Cluster", workers: int, block: int) -> Timing:
    threads = max(1, available_cores() // workers)  # as --workers N gives each worker
    options = DistributedOptions(ClusterSpec(scheduler=cluster.cluster.scheduler_address), block)
    timing = Timing()
    for _ in range(REPEATS):
        started, cpu = time.perf_counter(), cpu_seconds() + cluster.cpu()
        outcome = classify_distributed([replace(request, threads=threads)], options, LoggingProgress())[0]
        if outcome.error is not None:
            raise outcome.error
        assert outcome.result is not None
        timing.add(time.perf_counter() - started, cpu_seconds() + cluster.cpu() - cpu, outcome.result)
    return timing


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

    def cpu(self) -> float:
        """CPU seconds of every worker process so far."""
        return sum(self.client.run(cpu_seconds).values())

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
    base = single(request)
    assert base.result is not None
    mpx = size * size / 1e6
    rows = [["single process (engine)", "-", f"{base.wall:.1f}", f"{mpx / base.wall:.2f}", "1.00", f"{base.cpu:.1f}",
             base.result.summary.windows_run, "-", "-", "-"]]
    for workers in (1, 2):
        cluster = Cluster(workers)
        try:
            run = distributed_run(request, cluster, workers, block)
        finally:
            cluster.close()
        assert run.result is not None
        blocks, _, _ = layout_share(request.model_path, size, block)
        ratio = run.result.summary.windows_run / base.result.summary.windows_run
        wall_overhead = (run.wall - base.wall * ratio) / blocks if workers == 1 else None
        rows.append([f"{workers} worker(s), cluster up in {cluster.start_seconds:.1f} s", blocks, f"{run.wall:.1f}",
                     f"{mpx / run.wall:.2f}", f"{base.wall / run.wall:.2f}", f"{run.cpu:.1f}",
                     run.result.summary.windows_run, f"{100 * (ratio - 1):.1f} %",
                     f"{(run.cpu - base.cpu * ratio) / blocks:.2f} s",
                     "-" if wall_overhead is None else f"{wall_overhead:.2f} s"])
    print_table(["run", "blocks", "wall s", "Mpx/s", "speed-up", "CPU s", "windows", "halo (measured)",
                 "CPU overhead/block", "wall overhead/block"], rows)


def trade_off(request: ClassifyRequest, size: int, blocks: list[int]) -> None:
    print(f"\nBlock size trade-off, {size} x {size} px, 1 worker ({cpu_description()}):")
    base = single(request)
    assert base.result is not None
    cluster = Cluster(1)
    rows = []
    try:
        for block in blocks:
            count, computed, interior = layout_share(request.model_path, size, block)
            run = distributed_run(request, cluster, 1, block)
            assert run.result is not None
            measured = run.result.summary.windows_run / base.result.summary.windows_run - 1
            rows.append([block, count, f"{100 * interior:.1f} %", f"{100 * computed:.1f} %", f"{100 * measured:.1f} %",
                         f"{run.wall:.1f}", f"{100 * (run.wall / base.wall - 1):.1f} %",
                         f"{100 * (run.cpu / base.cpu - 1):.1f} %"])
    finally:
        cluster.close()
    print(f"single process: {base.wall:.1f} s, {base.cpu:.1f} CPU s, {base.result.summary.windows_run} windows")
    print_table(["block px", "blocks", "halo, interior block", "halo, computed", "halo, measured", "wall s",
                 "wall over single", "CPU over single"], rows)


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
