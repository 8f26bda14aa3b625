"""``seamless-segmentation detect``: the detection job (``seamless:detect``) from a shell, in this process or on a
Dask cluster in blocks (``--workers``, ``--scheduler``), with the same detections either way; and
``evaluate-detections`` (``seamless:evaluatedetections``): detections scored against reference objects."""
from __future__ import annotations

import argparse
import json
from typing import Any

from ..adapters.accuracy.detection_layers import assess_detections
from ..adapters.accuracy.detection_report import write_detection_outputs
from ..adapters.detect.geopackage import parse_destination
from ..adapters.detect.job import DetectRequest, detect_objects
from ..adapters.detect.report import report_detection
from ..adapters.inputs.raster_area import parse_bands
from ..adapters.outputs.paths import check_outputs, require_extension
from ..core.engine.grid import OVERLAP_PERCENT_RANGE
from ..core.engine.nodata import NodataPolicy
from ..core.engine.tta import TTA_MODES
from . import values
from .classify_command import add_distributed_arguments, add_input_arguments, check_distributed_arguments
from .exit_status import EXIT_OK
from .progress_bar import CliProgress, interrupt_cancels


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "detect", help="detect objects with an ONNX detector into a GeoPackage (seamless:detect)",
        description="Detect objects in a raster with an ONNX object detector: INPUT MODEL OUTPUT.gpkg (a layer of box "
                    "polygons with class_value, class_name, score). The options and their defaults are those of the "
                    "QGIS algorithm seamless:detect.")
    parser.add_argument("input", metavar="INPUT", help="the raster to search")
    parser.add_argument("model", metavar="MODEL", help="the ONNX detector")
    parser.add_argument("output", metavar="OUTPUT", help="the GeoPackage of boxes (file.gpkg, or "
                        "'file.gpkg|layername=NAME')")
    options = parser.add_argument_group("detection (as in seamless:detect)")
    options.add_argument("--centroids", metavar="PATH", help="also write the box centres to this GeoPackage "
                         "(OUTPUT_CENTROIDS)")
    options.add_argument("--contract", metavar="JSON", help="sidecar contract whose fields override the model's")
    options.add_argument("--bands", help="1-based band numbers in the model's input order, e.g. 3,2,1 (BANDS)")
    options.add_argument("--extent", nargs=4, type=float, metavar=("XMIN", "YMIN", "XMAX", "YMAX"),
                         help="only search this part, in the raster's CRS (EXTENT)")
    options.add_argument("--min-score", type=values.number("MIN_SCORE", 0, 1), metavar="SCORE",
                         help="drop detections scoring less (default: the model's score_threshold)")
    options.add_argument("--iou", type=values.number("IOU", 0.01, 1), metavar="IOU",
                         help="IoU above which two boxes of a class are one object (default: the model's, 0.5)")
    options.add_argument("--max-detections", type=values.number("MAX_DETECTIONS", 1, integer=True), metavar="N",
                         help="at most N detections per window (default: the model's, 300)")
    options.add_argument("--window-size", type=values.number("WINDOW_SIZE", 0, integer=True), metavar="PX",
                         default=0, help="window side in pixels; 0 (default): the model's size")
    options.add_argument("--overlap", type=values.number("OVERLAP", *OVERLAP_PERCENT_RANGE), metavar="PERCENT",
                         help="overlap in percent of the window (default: the largest object the contract declares)")
    options.add_argument("--tta", type=values.choice("TTA", TTA_MODES), default="none", metavar="|".join(TTA_MODES),
                         help="test-time augmentation (default none)")
    options.add_argument("--batch-size", type=values.number("BATCH_SIZE", 0, integer=True), metavar="N", default=0,
                         help="windows per model run; 0 (default): 1 on the CPU, 4 on other devices")
    options.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, tensorrt, directml, coreml, "
                         "rocm, openvino or a provider name (default auto)")
    add_input_arguments(parser.add_argument_group("more inputs and nodata (as in seamless:detect)"),
                        "searched (detections centred there are kept)")
    add_distributed_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the results as JSON on standard output")
    parser.set_defaults(run=run)
    add_evaluate_parser(commands)


def add_evaluate_parser(commands: Any) -> None:
    evaluate = commands.add_parser(
        "evaluate-detections", help="accuracy of detections against reference objects (seamless:evaluatedetections)",
        description="Score the boxes of 'detect' against reference polygons (IoU of bounding boxes) or points "
                    "(distance): TP, FP, FN, precision, recall, F1, AP per class, mAP@0.5 and @0.5:0.95.")
    evaluate.add_argument("detections", metavar="DETECTIONS", help="the boxes layer of 'detect' (file.gpkg or "
                          "'file.gpkg|layername=NAME')")
    evaluate.add_argument("--reference-layer", required=True, metavar="VECTOR", help="reference polygons or points "
                          "(REFERENCE_LAYER; 'file|layername=NAME' for one layer of several)")
    evaluate.add_argument("--reference-field", required=True, metavar="FIELD", help="class field: names or values "
                          "(REFERENCE_FIELD)")
    evaluate.add_argument("--min-score", type=values.number("MIN_SCORE", 0, 1), default=0.0, metavar="SCORE",
                          help="precision, recall and F1 count detections scoring at least this (default 0)")
    evaluate.add_argument("--max-distance", type=values.number("MAX_DISTANCE", 0), metavar="UNITS",
                          help="for reference points: how far, in map units, a detection's centre may lie")
    evaluate.add_argument("--report", metavar="FILE.html", help="the HTML report (OUTPUT_REPORT)")
    evaluate.add_argument("--json-output", metavar="FILE.json", help="everything as JSON (OUTPUT_JSON)")
    evaluate.add_argument("--table", metavar="FILE.csv", help="the per-class table as CSV (OUTPUT_TABLE)")
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON on standard output")
    evaluate.set_defaults(run=run_evaluate)


def request_of(args: argparse.Namespace) -> DetectRequest:
    """The job's request from the command's arguments."""
    return DetectRequest(args.input, args.model, args.output, contract_path=args.contract or None,
                         bands=parse_bands(args.bands), extent=tuple(args.extent) if args.extent else None,
                         device=args.device, window_size=args.window_size, overlap=args.overlap, tta=args.tta,
                         batch_size=args.batch_size, min_score=args.min_score, iou=args.iou,
                         max_detections=args.max_detections, centroids_path=args.centroids or None,
                         additional_inputs=tuple(args.additional_input), mask_path=args.mask or None,
                         mask_layer=args.mask_layer or None, nodata=NodataPolicy(args.nodata_rule, args.input_nodata))


def run(args: argparse.Namespace) -> int:
    distributed = check_distributed_arguments(args)
    request = request_of(args)
    progress = CliProgress()
    tasks: dict[str, Any] = {}
    with interrupt_cancels(progress):
        progress.begin()
        if distributed:
            result, tasks = _run_distributed(request, args, progress)
        else:
            result = detect_objects(request, progress)
        progress.end()
    report_detection(result, progress)
    if args.json:
        print(json.dumps({"INPUT": request.input_path, "OUTPUT": request.output_path,
                          "OUTPUT_CENTROIDS": request.centroids_path, "DETECTIONS": result.summary.detections,
                          "CLASS_COUNTS": result.class_counts(), "PROVIDER": result.provider,
                          "SECONDS": round(result.seconds, 3), **tasks}, indent=2))
    return EXIT_OK


def _run_distributed(request: DetectRequest, args: argparse.Namespace, progress: CliProgress) -> tuple[Any, dict]:
    from ..distributed.cluster import ClusterSpec
    from ..distributed.detect_scene import detect_distributed
    from ..distributed.run import DistributedOptions

    workers, devices = ClusterSpec.parse_workers(args.workers) if args.workers else (0, ())
    spec = ClusterSpec(workers, devices, args.scheduler, args.connect_timeout)
    outcome = detect_distributed([request], DistributedOptions(spec, args.block_size, args.resume), progress)[0]
    if outcome.error is not None:
        raise outcome.error
    reused = f", {outcome.tasks_reused} done before (--resume)" if outcome.tasks_reused else ""
    progress.info(f"{outcome.tasks} task(s){reused}; the blocks' candidates took {outcome.parts_bytes / 1e6:.2f} MB "
                  "on disk until the layers were assembled.")
    return outcome.result, {"TASKS": outcome.tasks, "TASKS_REUSED": outcome.tasks_reused,
                            "PARTS_BYTES": outcome.parts_bytes}


def run_evaluate(args: argparse.Namespace) -> int:
    outputs = {"OUTPUT_REPORT": args.report, "OUTPUT_JSON": args.json_output, "OUTPUT_TABLE": args.table}
    for name, extensions, what in (("OUTPUT_REPORT", (".html", ".htm"), "the report"),
                                   ("OUTPUT_JSON", (".json",), "the accuracy JSON"),
                                   ("OUTPUT_TABLE", (".csv",), "the per-class table")):
        if outputs[name]:
            require_extension(name, outputs[name], extensions, what)
    detections, reference = parse_destination(args.detections, ""), parse_destination(args.reference_layer, "")
    check_outputs(outputs, {"INPUT": detections.path, "REFERENCE_LAYER": reference.path})
    assessment = assess_detections(detections.path, detections.layer or None, reference.path,
                                   reference.layer or None, args.reference_field, args.min_score, args.max_distance)
    write_detection_outputs(assessment, args.report, args.json_output, args.table)
    progress = CliProgress()
    for note in assessment.notes:
        progress.warning(note)
    scores = assessment.scores
    if args.json:
        print(json.dumps(assessment.to_dict(curves=False), indent=2, allow_nan=False))
    else:
        print(f"{assessment.detections} detections, {assessment.references} reference objects: TP {scores.tp}, "
              f"FP {scores.fp}, FN {scores.fn}; precision {scores.precision:.4f}, recall {scores.recall:.4f}, "
              f"F1 {scores.f1:.4f}, mAP@0.5 {scores.map50:.4f}")
    return EXIT_OK
