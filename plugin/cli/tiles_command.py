"""``seamless-segmentation classify-tiles``: the Classify tiles job (``seamless:classifytiles``) from a shell, in
this process or on a Dask cluster (``--workers``, ``--scheduler``)."""
from __future__ import annotations

import argparse
import json
from typing import Any

from ..adapters.cells.cell_run import CellChoice
from ..adapters.cells.job import TilesRequest, TilesResult, classify_tiles
from ..adapters.cells.qml_styles import QmlCellStyler
from ..adapters.inputs.raster_area import parse_bands
from ..core.engine.nodata import NodataPolicy
from ..core.engine.tta import TTA_MODES
from ..core.errors import InputError
from . import values
from .classify_command import add_input_arguments
from .exit_status import EXIT_OK
from .progress_bar import CliProgress, interrupt_cancels

DEFAULTS = CellChoice()


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "classify-tiles", help="a classifier or per-cell regressor over a grid of cells (seamless:classifytiles)",
        description="Run an ONNX model that gives one class or value per window over a grid of cells: INPUT MODEL "
                    "OUTPUT (a raster of one pixel per cell). The options and their defaults are those of the QGIS "
                    "algorithm seamless:classifytiles.")
    parser.add_argument("paths", nargs=3, metavar="PATH", help="INPUT MODEL OUTPUT")
    options = parser.add_argument_group("cells (as in seamless:classifytiles)")
    add_cell_arguments(options)
    options.add_argument("--probabilities", metavar="PATH", help="also write class probabilities "
                         "(OUTPUT_PROBABILITIES)")
    options.add_argument("--output-vector", metavar="PATH", help="also write the polygon grid to a GeoPackage "
                         "(OUTPUT_VECTOR)")
    add_input_arguments(parser.add_argument_group("more inputs and nodata (as in seamless:classify)"))
    dask = parser.add_argument_group("distributed runs (Dask)")
    dask.add_argument("--workers", metavar="N", help="a local Dask cluster of N processes")
    dask.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, e.g. tcp://HOST:8786")
    dask.add_argument("--block-size", type=values.number("--block-size", 1, integer=True), default=0, metavar="PX",
                      help="block side in pixels, whole cells (default 4096)")
    dask.add_argument("--connect-timeout", type=values.number("--connect-timeout", 1), default=20.0,
                      metavar="SECONDS", help="seconds to reach the scheduler (default 20)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on standard output")
    parser.set_defaults(run=run)


def add_cell_arguments(options: Any) -> None:
    """The model and cell options Classify tiles and Similarity search share."""
    options.add_argument("--contract", metavar="JSON", help="sidecar contract whose fields override the model's")
    options.add_argument("--bands", help="1-based band numbers in the model's input order, e.g. 4,3,2 (BANDS)")
    options.add_argument("--extent", nargs=4, type=float, metavar=("XMIN", "YMIN", "XMAX", "YMAX"),
                         help="only this part, in the raster's CRS; cells start at its top-left corner (EXTENT)")
    options.add_argument("--cell-size", type=values.number("CELL_SIZE", 0), default=DEFAULTS.cell_size,
                         metavar="UNITS", help="cell side in map units; 0 (default): the model's window less its "
                         "border, at the raster's resolution (CELL_SIZE)")
    options.add_argument("--border", type=values.number("BORDER", 0), metavar="UNITS",
                         help="context around each cell in map units (default: the model's) (BORDER)")
    options.add_argument("--tta", type=values.choice("TTA", TTA_MODES), default=DEFAULTS.tta,
                         metavar="|".join(TTA_MODES), help=f"test-time augmentation (default {DEFAULTS.tta})")
    options.add_argument("--batch-size", type=values.number("BATCH_SIZE", 0, integer=True), metavar="N",
                         default=DEFAULTS.batch_size, help="windows per model run; 0 (default): by device")
    options.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, ... (default auto)")


def cell_choice(args: argparse.Namespace) -> CellChoice:
    return CellChoice(args.cell_size, args.border, args.tta, args.batch_size)


def tiles_request(args: argparse.Namespace) -> TilesRequest:
    source, model, output = args.paths
    return TilesRequest(source, model, output, contract_path=args.contract or None, bands=parse_bands(args.bands),
                        extent=tuple(args.extent) if args.extent else None, device=args.device,
                        cells=cell_choice(args),
                        probabilities_path=args.probabilities or None, vector_path=args.output_vector or None,
                        additional_inputs=tuple(args.additional_input), mask_path=args.mask or None,
                        mask_layer=args.mask_layer or None, nodata=NodataPolicy(args.nodata_rule, args.input_nodata))


def result_json(request: TilesRequest, result: TilesResult) -> dict[str, Any]:
    names = {c.value: c.name for c in result.contract.outputs[0].classes}
    return {"OUTPUT": request.output_path, "OUTPUT_PROBABILITIES": request.probabilities_path,
            "OUTPUT_VECTOR": request.vector_path, "PROVIDER": result.provider, "CELLS": result.summary.cells,
            "CLASS_COUNTS": {names.get(v, str(v)): n for v, n in sorted(result.class_counts.items())},
            "VALUE_RANGE": list(result.value_range) if result.value_range else None,
            "SECONDS": round(result.seconds, 3)}


def run(args: argparse.Namespace) -> int:
    if args.workers and args.scheduler:
        raise InputError("Give --workers (a cluster on this machine) or --scheduler (an existing cluster), not both.")
    distributed = bool(args.workers or args.scheduler)
    if args.block_size and not distributed:
        raise InputError("--block-size is for distributed runs: add --workers N or --scheduler ADDRESS.")
    request = tiles_request(args)
    progress = CliProgress()
    with interrupt_cancels(progress):
        progress.begin("")
        try:
            if distributed:
                from ..distributed.cells import classify_tiles_distributed
                from ..distributed.cluster import ClusterSpec

                workers, devices = ClusterSpec.parse_workers(args.workers) if args.workers else (0, ())
                spec = ClusterSpec(workers, devices, args.scheduler, args.connect_timeout)
                result = classify_tiles_distributed(request, spec, args.block_size, progress, QmlCellStyler())
            else:
                result = classify_tiles(request, progress, QmlCellStyler())
        finally:
            progress.end()
    progress.info(f"{result.summary.cells} cell(s) in {result.seconds:.1f} s on {result.provider}.")
    if args.json:
        print(json.dumps(result_json(request, result), indent=2))
    return EXIT_OK
