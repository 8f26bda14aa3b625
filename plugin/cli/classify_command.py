"""``seamless-segmentation classify``: the classify job (``seamless:classify``) from a shell, for one scene or
many, in this process or on a Dask cluster (``--workers``, ``--scheduler``)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..core.engine.blending import BLENDINGS
from ..core.engine.grid import OVERLAP_PERCENT_RANGE
from ..core.engine.nodata import NODATA_RULES
from ..core.engine.plan import RunOptions
from ..core.engine.tta import TTA_MODES
from ..core.errors import InputError
from . import values
from .exit_status import EXIT_OK, exit_status
from .progress_bar import CliProgress, interrupt_cancels
from .scene_list import SceneRun, outcome_json, scene_requests

DEFAULTS = RunOptions()  # the defaults of seamless:classify, from the one place they are set


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "classify", help="classify rasters with an ONNX model (seamless:classify)",
        description="Classify a raster with an ONNX segmentation model: INPUT MODEL OUTPUT. Several rasters: "
                    "INPUT [INPUT ...] MODEL --output-dir DIR (or --input-list FILE), one NAME.tif per input. The "
                    "options and their defaults are those of the QGIS algorithm seamless:classify.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="INPUT MODEL OUTPUT, or INPUT... MODEL with "
                        "--output-dir")
    scenes = parser.add_argument_group("several scenes")
    scenes.add_argument("--output-dir", metavar="DIR", help="write one NAME.tif per input into DIR")
    scenes.add_argument("--input-list", metavar="FILE", help="a text file of input paths, one per line (# comments; "
                        "relative paths are relative to the file); needs --output-dir")
    options = parser.add_argument_group("classification (as in seamless:classify)")
    options.add_argument("--contract", metavar="JSON", help="sidecar contract whose fields override the model's")
    options.add_argument("--bands", help="1-based band numbers in the model's input order, e.g. 4,3,2 (BANDS)")
    options.add_argument("--extent", nargs=4, type=float, metavar=("XMIN", "YMIN", "XMAX", "YMAX"),
                         help="only classify this part, in the raster's CRS (EXTENT)")
    options.add_argument("--window-size", type=values.number("WINDOW_SIZE", 0, integer=True), metavar="PX",
                         default=DEFAULTS.window_size, help="window side in pixels; 0 (default): the model's fixed "
                         "size, else the size from 512 to 1024 px that predicts the fewest pixels")
    options.add_argument("--overlap", type=values.number("OVERLAP", *OVERLAP_PERCENT_RANGE), default=DEFAULTS.overlap,
                         metavar="PERCENT", help="overlap of neighbouring windows in percent of the window (default: "
                         "from the model's context margin)")
    options.add_argument("--blending", type=values.choice("BLENDING", BLENDINGS), default=DEFAULTS.blending,
                         metavar="|".join(BLENDINGS), help=f"how overlaps are merged (default {DEFAULTS.blending})")
    options.add_argument("--tta", type=values.choice("TTA", TTA_MODES), default=DEFAULTS.tta,
                         metavar="|".join(TTA_MODES), help=f"test-time augmentation (default {DEFAULTS.tta})")
    options.add_argument("--batch-size", type=values.number("BATCH_SIZE", 0, integer=True), metavar="N",
                         default=DEFAULTS.batch_size,
                         help="windows per model run; 0 (default): 1 on the CPU, 4 on other devices")
    options.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, tensorrt, directml, coreml, "
                         "rocm, openvino or a provider name (default auto)")
    options.add_argument("--probabilities", nargs="?", const="", metavar="PATH",
                         help="also write class probabilities (with --output-dir: no PATH, NAME_probabilities.tif)")
    options.add_argument("--confidence", nargs="?", const="", metavar="PATH",
                         help="also write the confidence (with --output-dir: no PATH, NAME_confidence.tif)")
    options.add_argument("--clip-to-range", action="store_true", help="regression models: clip values outside the "
                         "model's valid range to it (CLIP_TO_RANGE)")
    add_io_arguments(parser)
    add_distributed_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the results as JSON on standard output")
    parser.set_defaults(run=run)


def add_distributed_arguments(parser: argparse.ArgumentParser) -> None:
    """--workers, --scheduler, --block-size, --resume, --connect-timeout (classify and detect)."""
    dask = parser.add_argument_group("distributed runs (Dask)")
    dask.add_argument("--workers", metavar="N|DEVICES", help="a local Dask cluster of N processes, or one worker per "
                      "device of a list such as cuda:0,cuda:1")
    dask.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, e.g. tcp://HOST:8786")
    dask.add_argument("--block-size", type=values.number("--block-size", 1, integer=True), default=0, metavar="PX",
                      help="block side in pixels, rounded to whole window strides (default: the largest whose run "
                      "streams as one panel: 3840 px with 512 px windows at 25 %% overlap)")
    dask.add_argument("--resume", action="store_true", help="keep the blocks an interrupted run of the same "
                      "settings finished")
    dask.add_argument("--connect-timeout", type=values.number("--connect-timeout", 1), default=20.0, metavar="SECONDS",
                      help="seconds to reach the scheduler (default 20)")


def check_distributed_arguments(args: argparse.Namespace) -> bool:
    """Whether the run is distributed; refuses distributed options without a cluster, and both cluster kinds."""
    distributed = bool(args.workers or args.scheduler)
    if (args.resume or args.block_size) and not distributed:
        raise InputError("--resume and --block-size are for distributed runs: add --workers N (--workers 1 runs "
                         "in resumable blocks in one worker process) or --scheduler ADDRESS.")
    if args.workers and args.scheduler:
        raise InputError("Give --workers (a cluster on this machine) or --scheduler (an existing cluster), not both.")
    return distributed


def add_input_arguments(io: Any, done: str = "classified") -> None:
    """Inputs beyond one raster and the nodata rule (ADDITIONAL_INPUTS, MASK, INPUT_NODATA, NODATA_RULE): every
    command that runs a model over a raster takes them (``done`` says what happens inside the mask)."""
    io.add_argument("--additional-input", action="append", default=[], metavar="PATH",
                    help="a raster whose bands follow INPUT's, read on its grid; repeat for more (ADDITIONAL_INPUTS)")
    io.add_argument("--mask", metavar="PATH", help=f"only pixels inside these polygons are {done} (MASK)")
    io.add_argument("--mask-layer", metavar="NAME", help="the MASK file's layer, where it holds several")
    io.add_argument("--input-nodata", type=values.number("INPUT_NODATA"), metavar="VALUE",
                    help="a value that means nodata in every band, for rasters that declare none (INPUT_NODATA)")
    io.add_argument("--nodata-rule", type=values.choice("NODATA_RULE", NODATA_RULES), default="all",
                    metavar="|".join(NODATA_RULES), help="a pixel is nodata when all (default) or any of the bands "
                    "used are (NODATA_RULE)")


def add_io_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs beyond one raster, the nodata rule and the class polygons, as in seamless:classify."""
    io = parser.add_argument_group("more inputs, nodata and polygons (as in seamless:classify)")
    add_input_arguments(io)
    io.add_argument("--output-vector", nargs="?", const="", metavar="PATH", help="also write class polygons to a "
                    "GeoPackage (OUTPUT_VECTOR; with --output-dir: no PATH, NAME.gpkg)")
    io.add_argument("--min-area", type=values.number("MIN_AREA", 0), default=0.0, metavar="M2",
                    help="regions smaller than this, in square metres, join their largest neighbour (MIN_AREA)")
    io.add_argument("--simplify", type=values.number("SIMPLIFY", 0), default=0.0, metavar="UNITS",
                    help="simplification tolerance of the polygons, in map units (SIMPLIFY)")
    io.add_argument("--sieve", action="store_true", help="apply --min-area to the class raster too (SIEVE)")
    io.add_argument("--vector-confidence", action="store_true", help="add each polygon's mean confidence")


def run_options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(window_size=args.window_size, overlap=args.overlap, blending=args.blending, tta=args.tta,
                      batch_size=args.batch_size)


def run(args: argparse.Namespace) -> int:
    distributed = check_distributed_arguments(args)
    requests = scene_requests(args, run_options(args))
    progress = CliProgress()
    with interrupt_cancels(progress, keeps_blocks=distributed):
        scenes = SceneRun(requests, progress)
        outcomes = scenes.run_distributed(args) if distributed else scenes.run_here()
    progress.end()
    if args.json:
        results = [outcome_json(outcome) for outcome in outcomes]
        print(json.dumps(results[0] if len(results) == 1 and not (args.output_dir or args.input_list) else
                         {"scenes": results, "failed": sum(1 for o in outcomes if o.error is not None)}, indent=2))
    failed = [o for o in outcomes if o.error is not None]
    if len(outcomes) > 1:
        progress.info(f"{len(outcomes) - len(failed)} of {len(outcomes)} scene(s) classified"
                      f"{'; failed: ' + ', '.join(Path(o.request.input_path).name for o in failed) if failed else ''}.")
    if not failed:
        return EXIT_OK
    if len(outcomes) == 1:  # one scene: its error is the command's (printed once, by main)
        raise failed[0].error  # type: ignore[misc]
    return max(exit_status(o.error) for o in failed)
