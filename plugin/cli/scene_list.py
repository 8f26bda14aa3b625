"""The scenes of a ``classify`` command: their requests (one input, or many into an output folder), running them
here one after another or on a Dask cluster, and what became of each."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..adapters.classify.finishing import VectorOptions
from ..adapters.classify.job import ClassifyRequest, classify
from ..adapters.classify.report import class_areas, report_run
from ..adapters.inputs.raster_area import parse_bands
from ..adapters.outputs.qml_style import write_qml_style
from ..core.engine.nodata import NodataPolicy
from ..core.engine.plan import RunOptions
from ..core.errors import CancelledError, InputError
from ..distributed.cluster import ClusterSpec
from ..distributed.run import DistributedOptions, SceneOutcome, classify_distributed
from .exit_status import error_message
from .progress_bar import CliProgress


def read_input_list(path: str) -> list[str]:
    """Paths listed in a text file, one per line; blank lines and ``#`` comments are skipped, relative paths
    are relative to the list's folder."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"Cannot read the input list '{path}': {getattr(error, 'strerror', None) or error}.") \
            from None
    folder = Path(path).resolve().parent
    entries = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return [str(folder / entry) if not Path(entry).is_absolute() else entry for entry in entries]


def _many(args: argparse.Namespace) -> tuple[list[str], str]:
    """(inputs, model) of a several-scene command."""
    if not args.output_dir:
        raise InputError("--input-list needs --output-dir DIR: the folder each scene's NAME.tif is written to.")
    *inputs, model = args.paths
    inputs += read_input_list(args.input_list) if args.input_list else []
    if not inputs:
        raise InputError("No input raster given: list them before the model (INPUT... MODEL --output-dir DIR) or in "
                         "--input-list FILE.")
    for option, name in (("probabilities", "NAME_probabilities.tif"), ("confidence", "NAME_confidence.tif"),
                         ("output_vector", "NAME.gpkg")):
        if getattr(args, option):
            raise InputError(f"With --output-dir give --{option.replace('_', '-')} without a path: each scene gets "
                             f"{name} in the output folder.")
    return inputs, model


def scene_requests(args: argparse.Namespace, options: RunOptions) -> list[ClassifyRequest]:
    """One request per scene, with the outputs named as the command says."""
    common: dict[str, Any] = {"contract_path": args.contract or None, "bands": parse_bands(args.bands),
              "extent": tuple(args.extent) if args.extent else None, "device": args.device, "options": options,
              "additional_inputs": tuple(args.additional_input), "mask_path": args.mask or None,
              "mask_layer": args.mask_layer or None, "nodata": NodataPolicy(args.nodata_rule, args.input_nodata),
              "vector": VectorOptions(args.min_area, args.simplify, args.sieve, args.vector_confidence),
              "clip_to_range": args.clip_to_range}
    if not (args.output_dir or args.input_list):
        if len(args.paths) != 3:
            raise InputError(f"classify takes INPUT MODEL OUTPUT (got {len(args.paths)} path(s)); for several "
                             "rasters give INPUT... MODEL --output-dir DIR.")
        source, model, output = args.paths
        for option, kind in (("probabilities", ".tif"), ("confidence", ".tif"), ("output_vector", ".gpkg")):
            if getattr(args, option) == "":
                raise InputError(f"--{option.replace('_', '-')} needs a PATH (a {kind} file) for a single scene.")
        return [ClassifyRequest(source, model, output, probabilities_path=args.probabilities or None,
                                confidence_path=args.confidence or None, vector_path=args.output_vector or None,
                                **common)]
    inputs, model = _many(args)
    folder, requests, names = Path(args.output_dir), [], dict[str, str]()
    for source in inputs:
        stem = Path(source).stem
        if stem in names:
            raise InputError(f"'{source}' and '{names[stem]}' would both be written to {folder / (stem + '.tif')}; "
                             "give inputs with different names or run them into different folders.")
        names[stem] = source
        extra: dict[str, Any] = {f"{option}_path": str(folder / f"{stem}_{option}.tif")
                 for option in ("probabilities", "confidence") if getattr(args, option) is not None}
        if args.output_vector is not None:
            extra["vector_path"] = str(folder / f"{stem}.gpkg")
        requests.append(ClassifyRequest(source, model, str(folder / f"{stem}.tif"), **common, **extra))
    return requests


def outcome_json(outcome: SceneOutcome) -> dict[str, Any]:
    """A scene's results under the Processing algorithm's output names, or its error."""
    data: dict[str, Any] = {"INPUT": outcome.request.input_path}
    if outcome.error is not None:
        data["ERROR"] = error_message(outcome.error)
        return data
    assert outcome.result is not None
    data.update({"OUTPUT": outcome.request.output_path, "OUTPUT_PROBABILITIES": outcome.request.probabilities_path,
                 "OUTPUT_CONFIDENCE": outcome.request.confidence_path, "OUTPUT_VECTOR": outcome.request.vector_path,
                 "PROVIDER": outcome.result.provider,
                 "CLASS_AREAS": class_areas(outcome.result), "SECONDS": round(outcome.result.seconds, 3)})
    if outcome.result.values is not None:
        data["VALUE_STATISTICS"] = outcome.result.values.to_dict()
    if outcome.tasks:
        data.update({"TASKS": outcome.tasks, "TASKS_REUSED": outcome.tasks_reused, "PARTS_BYTES": outcome.parts_bytes})
    return data


class SceneRun:
    """Runs the scenes and reports each (a failed scene is reported, the others go on)."""

    def __init__(self, requests: list[ClassifyRequest], progress: CliProgress) -> None:
        self.requests, self.progress = requests, progress
        self.many = len(requests) > 1

    def run_here(self) -> list[SceneOutcome]:
        """One scene after another in this process: exactly the Processing algorithm's job."""
        outcomes = []
        for request in self.requests:
            name = Path(request.input_path).name
            self.progress.begin(name if self.many else "")
            try:
                result = classify(request, self.progress, style_writer=write_qml_style)
            except (KeyboardInterrupt, CancelledError):
                raise
            except Exception as error:  # noqa: BLE001 - reported for this scene; the others go on
                outcomes.append(SceneOutcome(request, None, error))
                self._report_error(name, error)
                continue
            finally:
                self.progress.end()
            report_run(result, self.progress)
            outcomes.append(SceneOutcome(request, result, None))
        return outcomes

    def run_distributed(self, args: argparse.Namespace) -> list[SceneOutcome]:
        """Every scene on a Dask cluster (large ones in blocks); then each is reported."""
        workers, devices = ClusterSpec.parse_workers(args.workers) if args.workers else (0, ())
        spec = ClusterSpec(workers, devices, args.scheduler, args.connect_timeout)
        self.progress.begin("all scenes" if self.many else "")
        found = classify_distributed(self.requests, DistributedOptions(spec, args.block_size, args.resume),
                                     self.progress)
        self.progress.end()
        outcomes = found
        for outcome in outcomes:
            name = Path(outcome.request.input_path).name
            if outcome.error is not None:
                self._report_error(name, outcome.error)
                continue
            assert outcome.result is not None
            reused = f", {outcome.tasks_reused} done before (--resume)" if outcome.tasks_reused else ""
            self.progress.info(f"{name}: {outcome.tasks} task(s){reused}; the blocks took "
                               f"{outcome.parts_bytes / 1e6:.1f} MB on disk until the output was assembled.")
            report_run(outcome.result, self.progress)
        return outcomes

    def _report_error(self, name: str, error: BaseException) -> None:
        if self.many:  # a single scene's error is the command's, printed once by main
            self.progress.error(f"{name}: {error_message(error)}")
