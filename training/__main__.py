"""Command line: ``python -m training train|export|evaluate``.

    python -m training train --config training/configs/s2_osm_unet.yaml
    python -m training train --image image.tif --labels labels.gpkg --label-field class --epochs 20
    torchrun --nproc_per_node 2 -m training train --config CONFIG      (several processes / GPUs)
    python -m training export --checkpoint OUT/best.pt --output model.onnx
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
    "chips": ("data", "chips"), "chip_size": ("data", "chip_size"), "stride": ("data", "stride"),
    "architecture": ("model", "architecture"), "epochs": ("training", "epochs"),
    "batch_size": ("training", "batch_size"), "lr": ("training", "learning_rate"),
    "validation": ("validation", "fraction"), "validation_layer": ("validation", "layer"),
    "device": ("training", "device"), "seed": ("training", "seed"), "resume": ("training", "resume"),
    "workers": ("training", "workers"), "output": ("output", "folder"), "model": ("output", "model"),
    "report": ("output", "report"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description="Train, export and evaluate "
                                     "segmentation models for the Seamless Segmentation QGIS plugin.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model and export it to ONNX with its contract")
    _data_arguments(train)
    train.add_argument("--architecture", choices=training_choices.ARCHITECTURES)
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
    export = commands.add_parser("export", help="export the best.pt of a finished run to ONNX again")
    export.add_argument("--checkpoint", required=True)
    export.add_argument("--output", required=True, help="the .onnx file to write")
    evaluate = commands.add_parser("evaluate", help="score an ONNX model on labelled data")
    evaluate.add_argument("--model", required=True, help="the .onnx model (with its contract)")
    _data_arguments(evaluate)
    evaluate.add_argument("--all", action="store_true", help="score every labelled pixel, not just the "
                          "validation area")
    evaluate.add_argument("--json", help="write the figures to this JSON file")
    for sub in (train, evaluate, export):
        sub.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")
    return parser


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML or JSON configuration (see docs/training.md)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override any configuration key, e.g. --set training.patience=5")
    for flag, text in (("image", "the raster to train on"), ("labels", "vector labels (polygons)"),
                       ("label-field", "the class field of the vector labels"),
                       ("label-layer", "layer name in a multi-layer vector file"),
                       ("label-raster", "or a raster of class values"),
                       ("chips", "or a chips folder written by Export training chips"),
                       ("validation-layer", "polygons of the validation area (overrides --validation)")):
        parser.add_argument(f"--{flag}", help=text)
    parser.add_argument("--additional-image", action="append", dest="additional_images", metavar="RASTER",
                        help="a raster whose bands follow the image's (another date, bands in separate files), read "
                        "on the image's grid; repeat for several (as Classify raster's ADDITIONAL_INPUTS)")
    parser.add_argument("--chip-size", type=int, help="chip side in pixels")
    parser.add_argument("--stride", type=int, help="pixels between training chips (default half a chip)")
    parser.add_argument("--validation", type=float, help="share of labelled pixels held out (spatial blocks)")
    parser.add_argument("--ignore-value", type=_ignore_value,
                        help="label raster value meaning unlabelled: a number or 'none' (default: the raster's nodata "
                        "value; 0 is a class unless given here)")


def _ignore_value(text: str) -> int | str:
    if text.lower() == "none":
        return "none"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a whole number nor 'none'") from None


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
    outcome = api.train(config, progress)
    if outcome.model_path is not None:
        metrics = outcome.metrics
        progress.close()
        print(f"model: {outcome.model_path}\nreport: {outcome.report_path}\nvalidation: OA "
              f"{metrics['overall_accuracy']:.4f}  kappa {metrics['kappa']:.4f}  mIoU {metrics['mean_iou']:.4f}  "
              f"(best epoch {outcome.fit.best_epoch}; {outcome.fit.chips_per_second:.1f} chips/s)")
    return 0


def _export(arguments: argparse.Namespace, progress: ConsoleProgress) -> int:
    from . import api

    check = api.export_checkpoint(arguments.checkpoint, arguments.output)
    print(f"model: {arguments.output} ({check.bytes / 1e6:.1f} MB), onnxruntime matches torch within "
          f"{check.max_abs_difference:.2g} on {check.checked_shape}")
    return 0


def _evaluate(arguments: argparse.Namespace, progress: ConsoleProgress) -> int:
    from . import evaluate

    if arguments.json:
        from ._plugin import output_paths

        inputs = {"--model": arguments.model, "--config": arguments.config, "--image": arguments.image,
                  "--labels": arguments.labels, "--label-raster": arguments.label_raster}
        output_paths.check_outputs({"--json": arguments.json}, inputs)
    config = build_config(arguments, skip=("model", "report", "output"))
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
    commands = {"train": _train, "export": _export, "evaluate": _evaluate}
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
