"""``modelinfo`` (seamless:modelinfo), ``evaluate`` (seamless:evaluate) and ``diagnostics``: the same job
functions as the Processing algorithms, with their checks and messages."""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from typing import Any

from ..adapters.accuracy.assess import assess
from ..adapters.accuracy.legend_file import reference_classes
from ..adapters.accuracy.reference import ReferenceSpec, reference_choice_problem
from ..adapters.accuracy.report import write_outputs
from ..adapters.accuracy.value_report import summary_line, write_value_outputs
from ..adapters.accuracy.values import assess_values, is_value_raster
from ..adapters.classify.model_description import describe_model, write_description
from ..adapters.inputs.area_of_interest import AreaSpec
from ..adapters.outputs.paths import check_outputs, require_extension
from ..core.accuracy.class_mapping import parse_class_names
from ..core.errors import InputError
from ..core.model.runtime import available_providers
from .exit_status import EXIT_OK
from .progress_bar import CliProgress


def add_parsers(commands: Any) -> None:
    info = commands.add_parser("modelinfo", help="the resolved contract, inputs, outputs and providers of a model "
                               "(seamless:modelinfo)")
    info.add_argument("model", metavar="MODEL", help="the ONNX model")
    info.add_argument("--contract", metavar="JSON", help="sidecar JSON whose fields override the model's metadata")
    info.add_argument("--output", metavar="FILE.json", help="also write the description to this JSON file")
    info.add_argument("--json", action="store_true", help="print the description as JSON on standard output")
    info.set_defaults(run=run_modelinfo)

    evaluate = commands.add_parser("evaluate", help="accuracy of a class raster against reference labels "
                                   "(seamless:evaluate)")
    evaluate.add_argument("classified", metavar="CLASSIFIED", help="the class raster to assess (band 1)")
    evaluate.add_argument("--reference", metavar="RASTER", help="reference label raster (REFERENCE)")
    evaluate.add_argument("--reference-layer", metavar="VECTOR", help="reference polygons or points (REFERENCE_LAYER)")
    evaluate.add_argument("--reference-field", metavar="FIELD", help="class field of the layer (REFERENCE_FIELD)")
    evaluate.add_argument("--reference-nodata", type=int, metavar="VALUE", help="reference value meaning 'not "
                          "labelled' (REFERENCE_NODATA)")
    evaluate.add_argument("--extent", nargs=4, type=float, metavar=("XMIN", "YMIN", "XMAX", "YMAX"),
                          help="assess only inside this extent, in the raster's CRS (EXTENT)")
    evaluate.add_argument("--mask", metavar="VECTOR", help="assess only inside these polygons (MASK)")
    evaluate.add_argument("--class-names", metavar="'1=farm;2=forest'", help="class names (CLASS_NAMES)")
    evaluate.add_argument("--reference-classes", metavar="'1=farm;2=meadow'|FILE.csv",
                          help="names of the reference's codes, matched by name to the classification's "
                          "(REFERENCE_CLASSES); default: codes compared by value")
    evaluate.add_argument("--report", metavar="FILE.html", help="the HTML report (OUTPUT_REPORT)")
    evaluate.add_argument("--json-output", metavar="FILE.json", help="everything as JSON (OUTPUT_JSON)")
    evaluate.add_argument("--table", metavar="FILE.csv", help="the per-class table as CSV (OUTPUT_TABLE)")
    evaluate.add_argument("--kind", choices=("auto", "classes", "values"), default="auto", help="what CLASSIFIED "
                          "holds (KIND): auto (values for a regression model's value raster), classes, values")
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON on standard output")
    evaluate.set_defaults(run=run_evaluate)

    diagnostics = commands.add_parser("diagnostics", help="versions, execution providers and optional packages")
    diagnostics.add_argument("--json", action="store_true", help="print them as JSON")
    diagnostics.set_defaults(run=run_diagnostics)


def run_modelinfo(args: argparse.Namespace) -> int:
    inputs = {"MODEL": args.model, "CONTRACT": args.contract}
    if args.output:
        require_extension("OUTPUT", args.output, (".json",), "the model description")
        check_outputs({"OUTPUT": args.output}, inputs)
    description = describe_model(args.model, args.contract)
    if args.output:
        write_description(description, args.output)
    if args.json:
        print(json.dumps(description, indent=2))
        return EXIT_OK
    for key in ("sources", "inputs", "outputs", "providers"):
        print(f"{key}: {json.dumps(description[key])}")
    print("contract:\n" + json.dumps(description["contract"], indent=2))
    return EXIT_OK


def run_evaluate(args: argparse.Namespace) -> int:
    problem = reference_choice_problem(bool(args.reference), bool(args.reference_layer), bool(args.reference_field))
    if problem:
        raise InputError(problem)
    outputs = {"OUTPUT_REPORT": args.report, "OUTPUT_JSON": args.json_output, "OUTPUT_TABLE": args.table}
    for name, extensions, what in (("OUTPUT_REPORT", (".html", ".htm"), "the report"),
                                   ("OUTPUT_JSON", (".json",), "the accuracy JSON"),
                                   ("OUTPUT_TABLE", (".csv",), "the per-class table")):
        if outputs[name]:
            require_extension(name, outputs[name], extensions, what)
    check_outputs(outputs, {"INPUT": args.classified, "REFERENCE": args.reference,
                            "REFERENCE_LAYER": args.reference_layer, "MASK": args.mask,
                            "REFERENCE_CLASSES": args.reference_classes if args.reference_classes
                            and "=" not in args.reference_classes else None})
    if args.kind == "values" or (args.kind == "auto" and is_value_raster(args.classified)):
        return _evaluate_values(args)
    names = parse_class_names(args.class_names or "")
    reference = ReferenceSpec(args.reference, args.reference_layer, None, args.reference_field, args.reference_nodata,
                              reference_classes(args.reference_classes, "--reference-classes"))
    progress = CliProgress()
    progress.begin()
    summary = assess(args.classified, reference, AreaSpec(tuple(args.extent) if args.extent else None, args.mask),
                     names, progress)
    progress.end()
    write_outputs(summary, args.report, args.json_output, args.table)
    for value in summary.reference_only_values:
        progress.warning(f"Reference class {value} ({summary.name_of(value)}) is not a class of the classification: "
                         "all its samples are omission errors.")
    scores = summary.scores
    progress.info(f"Overall accuracy {scores.overall_accuracy:.4f}, kappa {scores.kappa:.4f}, mean IoU "
                  f"{scores.mean_iou:.4f} over {summary.matrix.total} {summary.sample_unit}s.")
    if args.json:
        print(json.dumps({"OVERALL_ACCURACY": scores.overall_accuracy, "KAPPA": scores.kappa,
                          "MEAN_IOU": scores.mean_iou, "OUTPUT_REPORT": args.report, "OUTPUT_JSON": args.json_output,
                          "OUTPUT_TABLE": args.table}, indent=2))
    return EXIT_OK


def _evaluate_values(args: argparse.Namespace) -> int:
    """A value raster against a raster of reference values (MAE, RMSE, R², bias)."""
    if args.reference_layer or args.class_names or args.reference_classes:
        raise InputError("CLASSIFIED holds continuous values (a regression model's value raster), assessed against a "
                         "raster of reference values (--reference); --reference-layer, --class-names and "
                         "--reference-classes belong to class rasters. Leave them out, or give --kind classes.")
    progress = CliProgress()
    progress.begin()
    assessment = assess_values(args.classified, args.reference, AreaSpec(tuple(args.extent) if args.extent else None,
                                                                          args.mask), args.reference_nodata, progress)
    progress.end()
    write_value_outputs(assessment, args.report, args.json_output, args.table)
    progress.info(f"{assessment.band_name}: {summary_line(assessment)}.")
    if args.json:
        scores = assessment.scores
        print(json.dumps({"MAE": scores.mae, "RMSE": scores.rmse, "R2": scores.r2, "BIAS": scores.bias,
                          "OUTPUT_REPORT": args.report, "OUTPUT_JSON": args.json_output, "OUTPUT_TABLE": args.table},
                         indent=2))
    return EXIT_OK


def _version(module: str) -> str | None:
    try:
        return str(getattr(importlib.import_module(module), "__version__", "installed"))
    except ImportError:
        return None


def diagnostics() -> dict[str, Any]:
    """What this installation has: Python, numpy, GDAL, onnxruntime and its providers, optional packages.
    (Kept simple; the QGIS side has its own diagnostics.)"""
    from osgeo import gdal

    from ..distributed.cluster import available_cores

    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpu_cores": available_cores(),
            "numpy": _version("numpy"), "gdal": gdal.__version__, "onnxruntime": _version("onnxruntime"),
            "providers": available_providers(), "tqdm": _version("tqdm"), "dask": _version("dask"),
            "distributed": _version("distributed")}


def run_diagnostics(args: argparse.Namespace) -> int:
    found = diagnostics()
    if args.json:
        print(json.dumps(found, indent=2))
        return EXIT_OK
    for key, value in found.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{key:12s} {shown if shown not in (None, '') else 'not installed'}")
    if not found["onnxruntime"]:
        print("onnxruntime is needed to classify: pip install onnxruntime (NVIDIA GPU: onnxruntime-gpu), in the "
              "environment that runs this command")
    return EXIT_OK
