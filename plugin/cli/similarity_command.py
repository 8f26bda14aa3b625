"""``seamless-segmentation similarity``: the Similarity search job (``seamless:similarity``) from a shell: an
embedding model's vector per cell compared with example points or polygons, or just written out."""
from __future__ import annotations

import argparse
import json
from typing import Any

from ..adapters.cells.qml_styles import QmlCellStyler
from ..adapters.cells.similarity import SimilarityRequest, SimilarityResult, similarity
from ..adapters.inputs.raster_area import parse_bands
from ..core.cells.neighbours import DISTANCES
from ..core.engine.nodata import NodataPolicy
from . import values
from .classify_command import add_input_arguments
from .exit_status import EXIT_OK
from .progress_bar import CliProgress, interrupt_cancels
from .tiles_command import add_cell_arguments, cell_choice

OUTPUTS = {"similarity_path": ("--similarity", "OUTPUT_SIMILARITY", "cosine similarity to each class of examples"),
           "knn_path": ("--knn", "OUTPUT_KNN", "the k-NN class (needs --examples-field)"),
           "knn_score_path": ("--knn-score", "OUTPUT_KNN_SCORE", "the k-NN class's share of the votes"),
           "vector_path": ("--output-vector", "OUTPUT_VECTOR", "the polygon grid with every result"),
           "embeddings_path": ("--embeddings", "OUTPUT_EMBEDDINGS", "the polygon grid with each cell's vector")}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "similarity", help="an embedding model's vectors per cell compared with examples (seamless:similarity)",
        description="Run an ONNX model that gives one vector per window over a grid of cells: INPUT MODEL, then "
                    "what to write. The options and their defaults are those of the QGIS algorithm "
                    "seamless:similarity.")
    parser.add_argument("paths", nargs=2, metavar="PATH", help="INPUT MODEL")
    examples = parser.add_argument_group("examples (as in seamless:similarity)")
    examples.add_argument("--examples", metavar="PATH", help="points or polygons to look for (EXAMPLES)")
    examples.add_argument("--examples-layer", metavar="NAME", help="the examples file's layer, where it holds several")
    examples.add_argument("--examples-field", metavar="FIELD", help="each example's class (EXAMPLES_FIELD)")
    examples.add_argument("--k", type=values.number("K", 1, integer=True), default=5, metavar="N",
                          help="neighbours that vote for a cell's k-NN class (default 5) (K)")
    examples.add_argument("--distance", type=values.choice("DISTANCE", DISTANCES), default=DISTANCES[0],
                          metavar="|".join(DISTANCES), help=f"distance for k-NN (default {DISTANCES[0]}) (DISTANCE)")
    outputs = parser.add_argument_group("outputs (at least one)")
    for flag, name, text in OUTPUTS.values():
        suffix = ".gpkg" if name in ("OUTPUT_VECTOR", "OUTPUT_EMBEDDINGS") else ".tif"
        outputs.add_argument(flag, metavar=f"PATH{suffix}", help=f"{text} ({name})")
    add_cell_arguments(parser.add_argument_group("cells (as in seamless:classifytiles)"))
    add_input_arguments(parser.add_argument_group("more inputs and nodata (as in seamless:classify)"))
    parser.add_argument("--json", action="store_true", help="print the results as JSON on standard output")
    parser.set_defaults(run=run)


def similarity_request(args: argparse.Namespace) -> SimilarityRequest:
    source, model = args.paths
    paths: dict[str, Any] = {key: getattr(args, flag[2:].replace("-", "_")) or None
                             for key, (flag, _, _) in OUTPUTS.items()}
    return SimilarityRequest(source, model, contract_path=args.contract or None, bands=parse_bands(args.bands),
                             extent=tuple(args.extent) if args.extent else None, device=args.device,
                             cells=cell_choice(args), examples_path=args.examples or None,
                             examples_layer=args.examples_layer or None, examples_field=args.examples_field or None,
                             k=int(args.k), distance=args.distance, additional_inputs=tuple(args.additional_input),
                             mask_path=args.mask or None, mask_layer=args.mask_layer or None,
                             nodata=NodataPolicy(args.nodata_rule, args.input_nodata), **paths)


def result_json(request: SimilarityRequest, result: SimilarityResult) -> dict[str, Any]:
    names = {c.value: c.name for c in result.classes}
    return {**{name: getattr(request, key) for key, (_, name, _) in OUTPUTS.items()}, "PROVIDER": result.provider,
            "CELLS": result.summary.cells, "EXAMPLE_CELLS": result.examples, "DIMENSIONS": result.dimensions,
            "KNN_COUNTS": {names.get(v, str(v)): n for v, n in result.knn_counts.items()},
            "SECONDS": round(result.seconds, 3)}


def run(args: argparse.Namespace) -> int:
    request = similarity_request(args)
    progress = CliProgress()
    with interrupt_cancels(progress):
        progress.begin("")
        try:
            result = similarity(request, progress, QmlCellStyler())
        finally:
            progress.end()
    progress.info(f"{result.summary.cells} cell(s) compared with {result.examples} example cell(s) in "
                  f"{result.seconds:.1f} s on {result.provider}.")
    if args.json:
        print(json.dumps(result_json(request, result), indent=2))
    return EXIT_OK
