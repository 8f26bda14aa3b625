"""Side by side with the nearest peer, the Deepness QGIS plugin: each tool at its defaults, on the same raster
and model, in one invocation, interleaved round by round (each configuration goes first in turn), each run in
a fresh process (for its peak resident memory).

Two suites:

- ``trained`` (the default): a 4-band U-Net trained on the Sentinel-2 subset with the project's own training
  package, exported with a fixed 512 px input (as most exported models are) and with dynamic height and width
  (the same weights; ``peer_models.py`` builds both once into ``bench-output/``), over GeoTIFF mosaics of
  ``tests/data/s2`` (the real 1536 x 768 px Sentinel-2 subset repeated: the pixels are repeated, not new
  data) of ``--sizes`` pixels. The training data is ``../shared/data/s2-osm-landuse``.
- ``random``: the peer's own benchmark model (``../shared/peers/export_unet.py``: random weights plus a colour
  prior, fixed 512 px input, RGB) on a 4096 x 4096 px orthophoto mirrored from
  ``../shared/data/deepness/dummy_fotomap_small.tif``; its context margin measures 0 px.

The peer's code and its headless harness live outside this repository, in ``../shared/peers`` (relative to
the repository root). Deepness needs OpenCV: give ``--peer-python``, an interpreter that has it (a venv made
with ``/usr/bin/python3 -m venv --system-site-packages`` holding ``opencv-python-headless==4.9.0.80`` and
onnxruntime, never the project's). Without them this benchmark says so and stops.

Figures: megapixels of the raster per second of each tool's run (Deepness: ``run()``, with its median filter
and polygon output, model loading excluded; ours: the whole job, model loading and the cloud-optimised copy
included), the ratio to Deepness on the same model in the same round, peak resident memory (our runs start
QGIS too, as inside QGIS), windows and predictions per pixel, and agreement with ONE pass of the dynamic export
over the whole raster at once (the model sees the raster's edges as its own, which a grid flush with them
reproduces). Deepness post-processes its map (probabilities below 0.5 dropped, a 9 px median filter): its
agreement is given against the whole-raster pass post-processed the same way, and with ``--tiling-alone`` for
its tiling alone (a run with ``--dilate-erode 0 --threshold 0``) against the plain pass. Our defaults measure
the model's context margin on first use (then cached): that first run is made before the rounds, with an empty
cache, and reported.
``--baseline PATH`` adds our defaults from another checkout (e.g. the main branch) to every round.

    .venv/bin/python bench/compare_peer.py --peer-python PEER_VENV/bin/python [--rounds 3] [--sizes 2048 4096]
        [--models fixed dynamic] [--baseline ../main] [--suite trained|random] [--source training|bundled]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from common import REPO, S2_IMAGE, mosaic_geotiff, output_folder, print_table
from peer_models import bundled_models, missing_data, trained_models
from peer_runs import (
    PEERS,
    agreement_ours,
    agreement_peer,
    child,
    compute_reference,
    deepness_postprocessed,
    reference,
    run_ours,
    run_peer,
)

FOTOMAP = REPO.parent / "shared" / "data" / "deepness" / "dummy_fotomap_small.tif"
DEEPNESS = "Deepness 0.6.5, defaults (15 %, crop, batch 1)"


def missing_requirements(peer_python: str) -> str | None:
    if not (PEERS / "deepness_bench.py").exists():
        return f"The peer harness is not here ({PEERS} is needed): nothing to compare with. Skipped."
    if subprocess.run([peer_python, "-c", "import cv2, onnxruntime"], capture_output=True).returncode != 0:
        return (f"Deepness needs OpenCV and onnxruntime, which {peer_python} lacks: make a throwaway venv with "
                "/usr/bin/python3 -m venv --system-site-packages, install opencv-python-headless==4.9.0.80 and "
                "onnxruntime into it (numpy below 2), and give it as --peer-python. Skipped.")
    return None


def random_inputs(folder: Path, size: int) -> tuple[Path, Path]:
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


class Comparison:
    """The configurations of one raster and model, run in interleaved rounds."""

    def __init__(self, args: argparse.Namespace, folder: Path, model: Path, raster: Path, peer_extra: list[str]):
        self.args, self.folder, self.model, self.raster, self.peer_extra = args, folder, model, raster, peer_extra
        self.cache = folder / "margin-cache"
        self.checkouts = {"ours, defaults": REPO}
        if args.baseline:
            self.checkouts[f"ours at {args.baseline}, defaults"] = Path(args.baseline).resolve()
        self.names = [DEEPNESS, *self.checkouts]

    def run(self, name: str, output: Path | None = None) -> dict:
        if name == DEEPNESS:
            extra = self.peer_extra + (["--save-classes", str(output)] if output else [])
            return run_peer(self.args.peer_python, self.model, self.raster, extra)
        target = output or self.folder / "classes.tif"
        figures = run_ours(self.model, self.raster, target, {}, self.checkouts[name], self.cache)
        if output is None:
            target.unlink(missing_ok=True)
        return figures

    def first_runs(self) -> dict[str, dict]:
        """Our first run of each checkout, measuring the model's context margin (an empty cache)."""
        shutil.rmtree(self.cache, ignore_errors=True)
        first = {}
        for name in self.checkouts:
            figures = self.run(name, self.folder / f"first_{len(first)}.tif")
            first[name] = figures
            probe = f"{figures['probe_s']:.1f} s" if figures["probe_s"] is not None else "not measured"
            print(f"  first run, {name}: {figures['seconds']:.1f} s, of which the context margin probe {probe}; "
                  f"plan: {figures['plan']}", flush=True)
        return first

    def rounds(self) -> dict[str, list[dict]]:
        runs: dict[str, list[dict]] = {name: [] for name in self.names}
        for index in range(self.args.rounds):
            shift = index % len(self.names)
            for name in self.names[shift:] + self.names[:shift]:  # each configuration goes first in turn
                figures = self.run(name)
                runs[name].append(figures)
                print(f"  round {index + 1}: {name}: {figures['seconds']:.1f} s (model {figures['model_s']:.1f} s), "
                      f"{figures['mpix_s']:.3f} MPix/s, peak {figures['peak_mb']:.0f} MB", flush=True)
        return runs


def trained_suite(args: argparse.Namespace, folder: Path) -> None:
    models = bundled_models(folder) if args.source == "bundled" else trained_models(folder)
    for size in args.sizes:
        raster = mosaic_geotiff(S2_IMAGE, size, size, folder)
        reference_file = reference(models["dynamic"], raster, folder / f"reference_{size}.npz")
        for kind in args.models:
            print(f"\n{raster.name}: {size} x {size} px (the Sentinel-2 subset repeated), model {models[kind].name}, "
                  f"{os.cpu_count()} CPU core(s), {args.rounds} round(s).", flush=True)
            comparison = Comparison(args, folder, models[kind], raster, ["--bands", "4", "--res-cm", "1000"])
            agreements = _agreements(comparison, reference_file)
            report(comparison.rounds(), agreements)


def _agreements(comparison: Comparison, reference_file: Path) -> dict[str, str]:
    """Each configuration's agreement with the whole-raster pass (its first run's output)."""
    import numpy as np

    folder, python = comparison.folder, comparison.args.peer_python
    results = {}
    for name, figures in comparison.first_runs().items():
        output = folder / f"first_{list(comparison.checkouts).index(name)}.tif"
        results[name] = f"{100 * agreement_ours(output, figures['class_values'], reference_file):.3f} %"
        output.unlink()
    peer = folder / "deepness_classes.tif"
    comparison.run(DEEPNESS, peer)
    defaults = agreement_peer(peer, deepness_postprocessed(reference_file, python, 0.5, 9))
    results[DEEPNESS] = f"{100 * defaults:.3f} % (post-processed alike)"
    if comparison.args.tiling_alone:
        plain = comparison.peer_extra + ["--dilate-erode", "0", "--threshold", "0", "--save-classes", str(peer)]
        run_peer(python, comparison.model, comparison.raster, plain)
        tiling = agreement_peer(peer, np.load(reference_file)["index"])
        results[DEEPNESS] += f"; its tiling alone {100 * tiling:.3f} %"
    peer.unlink()
    return results


def random_suite(args: argparse.Namespace, folder: Path) -> None:
    model, raster = random_inputs(folder, args.sizes[-1])
    print(f"\n{raster.name} ({args.sizes[-1]} px RGB, 2 cm), {model.name} (the peer's random-weights U-Net, fixed "
          f"512 px input), {os.cpu_count()} CPU core(s), {args.rounds} round(s).", flush=True)
    comparison = Comparison(args, folder, model, raster, [])
    comparison.first_runs()
    report(comparison.rounds(), {})


def report(runs: dict[str, list[dict]], agreements: dict[str, str]) -> None:
    rows = []
    for name, figures in runs.items():
        rates = [f["mpix_s"] for f in figures]
        ratios = [f["mpix_s"] / p["mpix_s"] for f, p in zip(figures, runs[DEEPNESS])]
        peaks = [f["peak_mb"] for f in figures]
        rows.append([name, figures[0]["windows"], figures[0]["per_pixel"], f"{statistics.median(rates):.3f}",
                     " / ".join(f"{r:.3f}" for r in rates), f"{statistics.median(ratios):.2f}",
                     f"{min(ratios):.2f}-{max(ratios):.2f}", f"{statistics.median(peaks):.0f}", f"{max(peaks):.0f}",
                     agreements.get(name, "")])
    print()
    print_table(["configuration", "windows", "pred./px (area + padding)", "MPix/s (median)", "runs",
                 "x Deepness (median)", "x Deepness (range)", "peak MB (median)", "peak MB (max)",
                 "agreement with one whole-raster pass"], rows)
    for name, figures in runs.items():
        print(f"  {name}: {figures[0]['plan']}")
    print("Targets: our defaults >= 1.25 x Deepness's MPix/s at >= 99.9 % agreement, peak memory <= Deepness's. "
          "Ratios are taken within each round (runs side by side), so a busy machine slows both sides alike.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096], help="raster sides in pixels")
    parser.add_argument("--models", nargs="+", default=["fixed", "dynamic"], choices=["fixed", "dynamic"])
    parser.add_argument("--suite", default="trained", choices=["trained", "random"])
    parser.add_argument("--source", default="training", choices=["training", "bundled"],
                        help="trained suite: train the U-Net once (training) or use the bundled trained model's "
                             "weights (bundled: no training, see peer_models.py)")
    parser.add_argument("--peer-python", default=sys.executable, help="an interpreter with OpenCV for Deepness")
    parser.add_argument("--baseline", help="another checkout of the project whose defaults run beside ours")
    parser.add_argument("--tiling-alone", action="store_true",
                        help="also run Deepness without its post-processing, for the agreement of its tiling alone "
                             "(slow: it then writes a polygon per noisy region)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--reference", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.reference:
        compute_reference(*args.reference)
        return
    problem = missing_requirements(args.peer_python) or (
        missing_data() if args.suite == "trained" and args.source == "training" else None)
    if args.suite == "random" and not FOTOMAP.exists():
        problem = f"The orthophoto {FOTOMAP} is not here. Skipped."
    if problem:
        print(problem)
        return
    folder = output_folder("compare_peer")
    (trained_suite if args.suite == "trained" else random_suite)(args, folder)


if __name__ == "__main__":
    main()
