"""Command line: ``python -m training train|tune|export|evaluate|quantize``.

    python -m training train --config training/configs/s2_osm_unet.yaml
    python -m training train --image image.tif --labels labels.gpkg --label-field class --epochs 20
    torchrun --nproc_per_node 2 -m training train --config CONFIG      (several processes / GPUs)
    python -m training tune --config CONFIG --trials 30 [--timeout S] [--storage sqlite:///tune.db] [--folds K]
    python -m training export --checkpoint OUT/best.pt --output model.onnx [--quantize int8]  (or OUT/last.pt)
    python -m training quantize --model model.onnx --calibration scene.tif [--output model.int8.onnx]
    python -m training evaluate --model model.onnx --config CONFIG [--all]

Flags override the configuration file; ``--set section.key=value`` overrides any key. The first
Ctrl+C stops training after the current batch and still exports the best model so far.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from ._plugin import errors, training_choices
from .progress import ConsoleProgress

# flag (argparse attribute) -> (section, key)
_TRAIN_FLAGS: dict[str, tuple[str, str]] = {
    "image": ("data", "image"), "additional_images": ("data", "additional_images"), "labels": ("data", "labels"),
    "label_field": ("data", "label_field"),
    "label_layer": ("data", "label_layer"), "label_raster": ("data", "label_raster"),
    "chips": ("data", "chips"), "classes": ("data", "classes"), "chip_size": ("data", "chip_size"),
    "stride": ("data", "stride"),
    "architecture": ("model", "architecture"), "epochs": ("training", "epochs"),
    "batch_size": ("training", "batch_size"), "lr": ("training", "learning_rate"),
    "validation": ("validation", "fraction"), "validation_layer": ("validation", "layer"),
    "device": ("training", "device"), "seed": ("training", "seed"), "resume": ("training", "resume"),
    "workers": ("training", "workers"), "output": ("output", "folder"), "model": ("output", "model"),
    "report": ("output", "report"), "test_layer": ("test", "layer"), "test_extent": ("test", "extent"),
    "trials": ("tune", "trials"), "timeout": ("tune", "timeout"), "storage": ("tune", "storage"),
    "study": ("tune", "study"), "folds": ("tune", "folds"), "trial_epochs": ("tune", "epochs"),
    "final_epochs": ("tune", "final_epochs"), "sampler_seed": ("tune", "seed"), "retrain": ("tune", "retrain"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description="Train, export and evaluate "
                                     "segmentation models for the Seamless Segmentation QGIS plugin.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model and export it to ONNX with its contract")
    _data_arguments(train)
    train.add_argument("--architecture", choices=training_choices.ARCHITECTURES
                       + training_choices.DETECTION_ARCHITECTURES + training_choices.CLASSIFIER_ARCHITECTURES)
    for flag, kind, text in (("epochs", int, "passes over the training chips"),
                             ("batch-size", int, "chips per step (per process under torchrun)"),
                             ("lr", float, "peak learning rate"), ("seed", int, "random seed"),
                             ("workers", int, "DataLoader worker processes")):
        train.add_argument(f"--{flag}", type=kind, help=text)
    train.add_argument("--device", choices=training_choices.DEVICES)
    train.add_argument("--resume", help="last.pt of an earlier run to continue from")
    train.add_argument("--output", help="folder for checkpoints, model.onnx and report.html")
    train.add_argument("--model", help="path of the ONNX model (default OUTPUT/model.onnx)")
    train.add_argument("--report", help="path of the HTML report (default OUTPUT/report.html)")
    _tune_parser(commands)
    export = commands.add_parser("export", help="export a run's best.pt or last.pt to ONNX")
    export.add_argument("--checkpoint", required=True, help="best.pt (the kept weights) or last.pt (the last epoch)")
    export.add_argument("--output", required=True, help="the .onnx file to write")
    export.add_argument("--quantize", choices=["int8"], help="also write NAME.int8.onnx for the CPU, calibrated on "
                        "the run's training chips, kept only if its classes agree with the float model's")
    quantize = commands.add_parser("quantize", help="write an INT8 copy of any ONNX segmentation model, calibrated "
                                   "on a raster, kept only if its classes agree with the float model's")
    quantize.add_argument("--model", required=True, help="the float .onnx model (with a contract)")
    quantize.add_argument("--calibration", required=True, help="a raster like those the model will classify")
    quantize.add_argument("--output", help="the INT8 .onnx to write (default MODEL.int8.onnx)")
    quantize.add_argument("--bands", type=_band_list, help="raster bands in the model's order, e.g. 4,3,2 "
                          "(default: every band but an alpha band)")
    quantize.add_argument("--windows", type=int, default=48, help="windows to calibrate on (as many again check)")
    for sub in (export, quantize):
        sub.add_argument("--min-agreement", type=float, default=0.99, help="share of checked pixels whose class "
                         "must equal the float model's (default 0.99); below it nothing is written")
    evaluate = commands.add_parser("evaluate", help="score an ONNX model on labelled data")
    evaluate.add_argument("--model", required=True, help="the .onnx model (with its contract)")
    _data_arguments(evaluate)
    evaluate.add_argument("--all", action="store_true", help="score every labelled pixel, not just the "
                          "validation area")
    evaluate.add_argument("--json", help="write the figures to this JSON file")
    for sub in (train, evaluate, export, quantize):
        sub.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")
    return parser


def _tune_parser(commands: Any) -> None:
    tune = commands.add_parser("tune", help="search the training settings (Optuna), then retrain and export the best")
    _data_arguments(tune)
    for flag, kind, text in (
            ("trials", int, "finished trials the study should hold (a resumed study runs the missing ones)"),
            ("timeout", float, "seconds this process searches at most"),
            ("folds", int, "score each trial on K spatial folds of the training ground"),
            ("trial-epochs", int, "epochs per trial (default training.epochs)"),
            ("final-epochs", int, "epochs of the final retraining (default training.epochs)"),
            ("sampler-seed", int, "seed of the TPE sampler (give each process of a shared study its own)"),
            ("seed", int, "random seed of the training runs (also draws the validation blocks)"),
            ("workers", int, "DataLoader worker processes")):
        tune.add_argument(f"--{flag}", type=kind, help=text)
    tune.add_argument("--storage", help="Optuna storage URL (default sqlite:///OUTPUT/tune.db; 'memory': none)")
    tune.add_argument("--study", help="study name inside the storage (default seamless-tune)")
    tune.add_argument("--no-retrain", dest="retrain", action="store_const", const=False,
                      help="only search; do not retrain and export the best settings")
    tune.add_argument("--device", choices=("auto", "cpu", "cuda"))
    tune.add_argument("--output", help="folder for the study, tune_report.html, best_config.yaml and the model")
    tune.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML or JSON configuration (see docs/training.md)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override any configuration key, e.g. --set training.patience=5")
    for flag, text in (("image", "the raster to train on"), ("labels", "vector labels (polygons)"),
                       ("label-field", "the class field of the vector labels"),
                       ("label-layer", "layer name in a multi-layer vector file"),
                       ("label-raster", "or a raster of class values"),
                       ("chips", "or a chips folder written by Export training chips"),
                       ("validation-layer", "polygons of the validation area (overrides --validation)"),
                       ("test-layer", "polygons of a test area: never trained or validated on, scored at the end")):
        parser.add_argument(f"--{flag}", help=text)
    parser.add_argument("--additional-image", action="append", dest="additional_images", metavar="RASTER",
                        help="a raster whose bands follow the image's (another date, bands in separate files), read "
                        "on the image's grid; repeat for several (as Classify raster's ADDITIONAL_INPUTS)")
    parser.add_argument("--classes", metavar="VALUE=NAME;...", help="class codes and names, e.g. '1=farm; 2=meadow; "
                        "3=forest': with a text class field the names take these codes (default: numbered from 1 "
                        "in alphabetical order), so the model follows a dataset's own legend")
    parser.add_argument("--chip-size", type=int, help="chip side in pixels (default: chosen from the data)")
    parser.add_argument("--stride", type=int, help="pixels between training chips (default half a chip)")
    parser.add_argument("--validation", type=float, help="share of labelled pixels held out (spatial blocks)")
    parser.add_argument("--test-extent", type=_extent, metavar="XMIN,YMIN,XMAX,YMAX",
                        help="or a test area as a bounding box in the image CRS")
    parser.add_argument("--ignore-value", type=_ignore_value,
                        help="label raster value meaning unlabelled: a number or 'none' (default: the raster's nodata "
                        "value; 0 is a class unless given here)")


def _band_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of band numbers") from None


def _ignore_value(text: str) -> int | str:
    if text.lower() == "none":
        return "none"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a whole number nor 'none'") from None


def _extent(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"{text!r} is not XMIN,YMIN,XMAX,YMAX (four numbers, image CRS)")
    return values


def build_config(arguments: argparse.Namespace, skip: tuple[str, ...] = ()):
    """The configuration file, then ``--set`` overrides, then the explicit flags (except ``skip``)."""
    from . import config as config_module

    data: dict[str, Any] = {}
    if arguments.config:
        path = Path(arguments.config)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise errors.InputError(f"Cannot read the configuration '{path}': {error.strerror or error}.") from error
        data = config_module.parse_text(text, path.suffix.lower(), str(path))
    data = config_module.apply_overrides(data, arguments.set)
    for flag, (section, key) in _TRAIN_FLAGS.items():
        value = None if flag in skip else getattr(arguments, flag, None)
        if value is not None:
            data.setdefault(section, {})[key] = value
    ignore = getattr(arguments, "ignore_value", None)
    if ignore is not None:
        data.setdefault("data", {})["ignore_value"] = ignore
    return config_module.from_mapping(data, arguments.config or "command line")


def _train(arguments: argparse.Namespace, progress: ConsoleProgress) -> int:
    from . import api

    config = build_config(arguments)
    outcome: Any = api.train(config, progress)  # its kind follows the architecture
    if config.is_classifier:
        from .cells.api import classifier_summary

        progress.close()
        print(classifier_summary(outcome))
        return 0
    if config.is_detection:
        progress.close()
        print(detection_summary(outcome))
        return 0
    if config.is_regression:
        progress.close()
        print(regression_summary(outcome))
        return 0
    if outcome.model_path is not None:
        metrics = outcome.metrics
        progress.close()
        print(f"model: {outcome.model_path}\nreport: {outcome.report_path}\nvalidation: OA "
              f"{metrics['overall_accuracy']:.4f}  kappa {metrics['kappa']:.4f}  mIoU {metrics['mean_iou']:.4f}  "
              f"(best epoch {outcome.fit.best_epoch}; {outcome.fit.chips_per_second:.1f} chips/s)")
        _print_test(outcome)
    return 0


def _tune(arguments: argparse.Namespace, progress: ConsoleProgress) -> int:
    from .tune import tune

    config = build_config(arguments)
    outcome = tune(config, progress)
    progress.close()
    record = outcome.record
    print(f"study: {record['study']} ({record['complete']} complete, {record['pruned']} pruned, {record['failed']} "
          f"failed)\nbest trial: {record['best_trial']}, score {record['best_value']:.4f} ({record['objective']})\n"
          f"best settings: {outcome.best_config_path}\nsearch report: {outcome.report_path}")
    training = outcome.training
    if training is not None and config.is_detection:
        print(detection_summary(training))
    elif training is not None and training.model_path is not None:
        metrics = training.metrics
        print(f"model: {training.model_path}\nreport: {training.report_path}\nvalidation: OA "
              f"{metrics['overall_accuracy']:.4f}  kappa {metrics['kappa']:.4f}  mIoU {metrics['mean_iou']:.4f}")
        _print_test(training)
    return 0


def regression_summary(outcome: Any) -> str:
    """The lines a regression model's training prints: paths, validation figures per band in their units."""
    lines = [f"model: {outcome.model_path}", f"report: {outcome.report_path}"]
    units = outcome.contract.outputs[0].regression.units if outcome.contract.outputs[0].regression else ""
    for title, evaluation in (("validation", outcome.fit.best_evaluation), ("test", outcome.test_evaluation)):
        if evaluation is None:
            continue
        names = outcome.contract.outputs[0].regression.band_names if outcome.contract.outputs[0].regression else ()
        for name, scores in zip(names, evaluation.scores):
            figures = "  ".join(f"{label} {value:.4g}" if value is not None else f"{label} n/a" for label, value in
                                (("MAE", scores.mae), ("RMSE", scores.rmse), ("R²", scores.r2), ("bias", scores.bias)))
            lines.append(f"{title} {name}: {figures}{f' ({units})' if units else ''}  over {scores.count} pixels")
    lines.append(f"best epoch {outcome.fit.best_epoch}; {outcome.fit.chips_per_second:.1f} chips/s")
    return "\n".join(lines)


def detection_summary(outcome: Any) -> str:
    """The lines a detector's training prints: paths, validation figures, the test area's when scored."""
    metrics = outcome.metrics
    lines = [f"model: {outcome.model_path}", f"report: {outcome.report_path}",
             f"validation: mAP@0.5 {metrics['map50']:.4f}  mAP@0.5:0.95 {metrics['map50_95']:.4f}  "
             f"F1 {metrics['f1']:.4f}  (precision {metrics['precision']:.4f}, recall {metrics['recall']:.4f} at score "
             f"{metrics['score_threshold']:.2f}; best epoch {outcome.fit.best_epoch}; "
             f"{outcome.fit.chips_per_second:.1f} chips/s)"]
    if outcome.test_evaluation is not None:
        test = outcome.test_evaluation
        lines.append(f"test area: mAP@0.5 {test.map50:.4f}  F1 {test.scores.f1:.4f}  (scored once, never used for "
                     "selection)")
    return "\n".join(lines)


def _print_test(training: Any) -> None:
    if training.test_evaluation is not None:
        scores = training.test_evaluation.scores
        print(f"test area: OA {scores.overall_accuracy:.4f}  kappa {scores.kappa:.4f}  mIoU {scores.mean_iou:.4f}  "
              f"({scores.total} pixels, scored once, never used for selection)")


def _export(arguments: argparse.Namespace, progress: ConsoleProgress) -> int:
    from . import api
    from .quantize import check_options

    check_options(None, arguments.min_agreement)
    check = api.export_checkpoint(arguments.checkpoint, arguments.output)
    print(f"model: {arguments.output} ({check.bytes / 1e6:.1f} MB), onnxruntime matches torch within "
          f"{check.max_abs_difference:.2g} on {check.checked_shape}")
    if arguments.quantize:
        _print_quantized(api.quantize_export(arguments.checkpoint, arguments.output, progress,
                                             arguments.min_agreement))
    return 0


def _quantize(arguments: argparse.Namespace, progress: ConsoleProgress) -> int:
    from .quantize import check_options, quantize_with_raster

    check_options(arguments.windows, arguments.min_agreement)
    _print_quantized(quantize_with_raster(arguments.model, arguments.calibration, arguments.output, arguments.bands,
                                          arguments.windows, arguments.min_agreement))
    return 0


def _print_quantized(check) -> None:
    print(f"int8 model: {check.path} ({check.bytes / 1e6:.1f} MB, float {check.float_bytes / 1e6:.1f} MB); classes "
          f"agree with the float model on {check.agreement:.2%} of {check.pixels} checked pixels "
          f"({check.calibration_windows} calibration windows)")


def _evaluate(arguments: argparse.Namespace, progress: ConsoleProgress) -> int:
    from . import evaluate

    if arguments.json:
        from ._plugin import output_paths

        inputs = {"--model": arguments.model, "--config": arguments.config, "--image": arguments.image,
                  "--labels": arguments.labels, "--label-raster": arguments.label_raster}
        output_paths.check_outputs({"--json": arguments.json}, inputs)
    config = build_config(arguments, skip=("model", "report", "output"))
    if config.is_regression:
        raise errors.InputError("python -m training evaluate scores segmentation models. Classify the scene with the "
                                "regression model, then assess its value raster against the target raster with "
                                "seamless:evaluate (KIND=values) or seamless-segmentation evaluate --kind values.")
    evaluation, data, _ = evaluate.evaluate_model(arguments.model, config, progress, arguments.all)
    progress.close()
    print("\n".join(evaluate.summary_lines(evaluation, data.classes.names)))
    if arguments.json:
        document = evaluate.evaluation_document(evaluation, data, arguments.model)
        Path(arguments.json).write_text(json.dumps(_finite(document), indent=2), encoding="utf-8")
    return 0


def _finite(value: Any) -> Any:
    from .model_contract import plain

    return plain(value)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code (2: bad input, 130: cancelled)."""
    arguments = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    progress = ConsoleProgress(quiet=arguments.quiet)
    signal.signal(signal.SIGINT, progress.interrupt)
    commands = {"train": _train, "tune": _tune, "export": _export, "evaluate": _evaluate, "quantize": _quantize}
    try:
        return commands[arguments.command](arguments, progress)
    except errors.CancelledError as error:
        print(f"cancelled: {error}", file=sys.stderr)
        return 130
    except errors.SeamlessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: not enough memory for this run; lower --batch-size or --chip-size.", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - a message, not a traceback (set SEAMLESS_DEBUG=1 to see it)
        if os.environ.get("SEAMLESS_DEBUG"):
            raise
        if "allocate" in str(error) and "memory" in str(error):  # torch's allocator failing
            print("error: not enough memory for this run; lower --batch-size or --chip-size.", file=sys.stderr)
            return 2
        detail = (str(error).splitlines() or [""])[0][:300]
        print(f"error: unexpected {type(error).__name__}: {detail}. Nothing was written. This is a bug; please "
              "report it (run again with SEAMLESS_DEBUG=1 for the traceback).", file=sys.stderr)
        return 1
    finally:
        progress.close()


if __name__ == "__main__":
    sys.exit(main())
