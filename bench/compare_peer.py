"""Side by side with the nearest peer, the Deepness QGIS plugin: its own segmentation pipeline, our defaults,
and our engine at Deepness's settings (15 % overlap, crop, batch 1), on the same raster and model, in one
invocation, interleaved round by round, each run in a fresh process (for its peak resident memory).

The peer's code and a headless harness for it live outside this repository, in ``../shared/peers``
(relative to the repository root): ``deepness_bench.py`` (runs Deepness's ``MapProcessorSegmentation`` on
the whole layer, its dock defaults), ``export_unet.py`` (the plain U-Net used: 4 levels, 32 base channels,
fixed 512 px input, 3 bands, 6 classes) and ``build_raster.py`` (a 4096 x 4096 RGB orthophoto mirrored from
``../shared/data/deepness/dummy_fotomap_small.tif``). Without them this benchmark says so and stops.
Deepness needs ``opencv-python-headless``: ``.venv/bin/pip install -c constraints.txt
opencv-python-headless==4.9.0.80``.

Figures: megapixels of the raster per second of each tool's run (Deepness: ``run()``, with its polygon
output; ours: the whole job, model loading and GeoTIFF writing included), the ratio to Deepness in the same
round, peak resident memory (our runs start QGIS too, as inside QGIS or ``qgis_process``), and how many
times each pixel is predicted. Our defaults measure the model's context margin once (cached): that first
measurement is made before the rounds and reported on its own.

    .venv/bin/python bench/compare_peer.py [--rounds 3] [--size 4096]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, output_folder, print_table

PEERS = REPO.parent / "shared" / "peers"
FOTOMAP = REPO.parent / "shared" / "data" / "deepness" / "dummy_fotomap_small.tif"
CONFIGURATIONS = {
    "Deepness 0.6.5 (15 %, crop, batch 1)": None,
    "ours, defaults": {},
    "ours at Deepness's settings (15 %, crop, batch 1)": {"overlap": 15.0, "blending": "crop", "batch_size": 1},
    # The benchmark model decides each pixel mostly from its colour (random weights plus a colour prior), so
    # its measured margin is 0 px and our defaults run it without overlap; a trained network needs more:
    "ours, defaults with the bundled trained model's 64 px context margin": {"context_margin": 64},
}


def child(model: str, raster: str, output: str, options: str) -> None:
    """One of our jobs, inside an initialised QGIS like a real run; prints its figures as JSON."""
    import resource

    from qgis.core import QgsApplication

    application = QgsApplication([], False)
    application.initQgis()
    from plugin.adapters.classify.job import ClassifyRequest, classify
    from plugin.core.engine.plan import RunOptions
    from plugin.core.progress import LoggingProgress

    progress = LoggingProgress()
    settings = json.loads(options)
    contract = None
    if "context_margin" in settings:  # a sidecar contract that gives the model a context margin
        contract = str(Path(output).with_suffix(".contract.json"))
        Path(contract).write_text(json.dumps({"context_margin": settings.pop("context_margin")}), encoding="utf-8")
    request = ClassifyRequest(input_path=raster, model_path=model, output_path=output, device="cpu",
                              contract_path=contract, options=RunOptions(**settings))
    result = classify(request, progress)
    plan = next(m for m in progress.messages if m.startswith("Plan: "))
    per_pixel = float(plan.split("each pixel predicted ")[1].split(" times")[0])
    megapixels = result.summary.pixels_written / 1e6
    print(json.dumps({"seconds": result.seconds, "mpix_s": megapixels / result.seconds, "plan": plan[6:],
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "predictions_per_pixel": per_pixel}))
    os._exit(0)  # no QGIS teardown (slow, and nothing to clean)


def run_ours(model: Path, raster: Path, folder: Path, options: dict) -> dict:
    output = folder / "classes.tif"
    completed = subprocess.run([sys.executable, __file__, "--child", str(model), str(raster), str(output),
                                json.dumps(options)], capture_output=True, text=True, cwd=REPO,
                               env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    if completed.returncode != 0:
        sys.exit(f"Our run failed:\n{completed.stderr[-3000:]}")
    output.unlink(missing_ok=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_peer(model: Path, raster: Path) -> dict:
    completed = subprocess.run([sys.executable, str(PEERS / "deepness_bench.py"), str(model), str(raster),
                                "--deepness-src", str(PEERS / "deepness-src")], capture_output=True, text=True,
                               env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    if completed.returncode != 0:
        sys.exit(f"The Deepness harness failed:\n{completed.stderr[-3000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    width, height = figures["size"]
    return {"seconds": figures["run_s"], "mpix_s": figures["mp_per_s"], "peak_mb": figures["peak_rss_mb"],
            "predictions_per_pixel": figures["processed_mp_incl_overlap"] * 1e6 / (width * height),
            "plan": f"{figures['tiles']} tiles of {figures['tile']} px, overlap {figures['overlap_px']} px"}


def inputs(folder: Path, size: int) -> tuple[Path, Path]:
    """The peer's model and raster recipe, built once into bench-output/."""
    model, raster = folder / "unet512.onnx", folder / f"ortho{size}.tif"
    for target, command in ((model, ["export_unet.py", str(model)]),
                            (raster, ["build_raster.py", str(FOTOMAP), str(raster), "--size", str(size)])):
        if not target.exists():
            completed = subprocess.run([sys.executable, str(PEERS / command[0]), *command[1:]], capture_output=True,
                                       text=True)
            if completed.returncode != 0:
                sys.exit(f"{command[0]} failed:\n{completed.stderr[-2000:]}")
    return model, raster


def missing_requirements() -> str | None:
    if not (PEERS / "deepness_bench.py").exists() or not FOTOMAP.exists():
        return (f"The peer harness is not here ({PEERS} and {FOTOMAP} are needed): nothing to compare with. "
                "Skipped.")
    probe = subprocess.run([sys.executable, "-c", "import cv2"], capture_output=True)
    if probe.returncode != 0:
        return ("Deepness needs OpenCV, which this Python lacks: install it with .venv/bin/pip install -c "
                "constraints.txt opencv-python-headless==4.9.0.80, then run again. Skipped.")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=4096, help="side of the orthophoto in pixels")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    problem = missing_requirements()
    if problem:
        print(problem)
        return
    folder = output_folder("compare_peer")
    model, raster = inputs(folder, args.size)
    print(f"Deepness against Seamless Segmentation: {raster.name} ({args.size} x {args.size} px RGB, 2 cm), "
          f"{model.name} (plain U-Net, fixed 512 px input), {os.cpu_count()} CPU core(s), {args.rounds} round(s).")
    started = time.perf_counter()
    first = run_ours(model, raster, folder, {})  # measures and caches the context margin
    print(f"First run at our defaults, measuring the model's context margin: {first['seconds']:.1f} s "
          f"({time.perf_counter() - started:.1f} s with the process). Plan: {first['plan']}\n")
    runs: dict[str, list[dict]] = {name: [] for name in CONFIGURATIONS}
    names = list(CONFIGURATIONS)
    for round_index in range(args.rounds):
        order = names[round_index % len(names):] + names[:round_index % len(names)]  # each goes first once
        for name in order:
            options = CONFIGURATIONS[name]
            figures = run_peer(model, raster) if options is None else run_ours(model, raster, folder, options)
            runs[name].append(figures)
            print(f"round {round_index + 1}: {name}: {figures['seconds']:.1f} s, {figures['mpix_s']:.3f} MPix/s, "
                  f"peak {figures['peak_mb']:.0f} MB", flush=True)
    report(runs, names[0])


def report(runs: dict[str, list[dict]], peer: str) -> None:
    rows = []
    for name, figures in runs.items():
        rates = [f["mpix_s"] for f in figures]
        ratios = [f["mpix_s"] / p["mpix_s"] for f, p in zip(figures, runs[peer])]
        peaks = [f["peak_mb"] for f in figures]
        rows.append([name, f"{figures[0]['predictions_per_pixel']:.2f}", f"{statistics.median(rates):.3f}",
                     " / ".join(f"{r:.3f}" for r in rates), f"{statistics.median(ratios):.2f}",
                     f"{min(ratios):.2f}-{max(ratios):.2f}", f"{statistics.median(peaks):.0f}", f"{max(peaks):.0f}"])
    print()
    print_table(["configuration", "pred./px", "MPix/s (median)", "runs", "x peer (median)", "x peer (range)",
                 "peak MB (median)", "peak MB (max)"], rows)
    for name, figures in runs.items():
        print(f"  {name}: {figures[0]['plan']}")
    print("\nTargets: our defaults >= 1.7 x the peer's MPix/s, peak memory <= the peer's. Ratios are taken within "
          "each round (runs side by side), so a busy machine slows both sides alike.")


if __name__ == "__main__":
    main()
