"""The "Detect objects" job on the GDAL side: open the detector and the inputs, plan, run the engine with the
detection merger into GeoPackage layers, commit.

The inputs are read exactly as classify reads them (:func:`..classify.inputs.open_inputs`: INPUT or a QGIS
layer on its grid or a chosen one, ADDITIONAL_INPUTS, BANDS, EXTENT, MASK, the nodata rule). A detector that
states its ground resolution runs on a view of the raster warped to it (nothing is copied) and its boxes are
placed on the ground through that view's grid. The layers are written under temporary names and renamed only
when everything succeeded, so a failed or cancelled run leaves nothing behind and never touches the inputs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from ...core.areas.window import PixelWindow
from ...core.detection.decode import Decoder
from ...core.detection.loading import LoadedDetector, load_detector
from ...core.detection.merger import DetectionSettings, FinishedDetections
from ...core.detection.plan import detection_window, plan_detection
from ...core.detection.run import DetectionSummary, detect
from ...core.engine.grid import overlap_pixels
from ...core.engine.nodata import NodataPolicy
from ...core.engine.plan import RunPlan
from ...core.errors import ModelError
from ...core.model.contract import ModelContract
from ...core.progress import Progress
from ..classify.inputs import GridChoice, InputChoice, OpenedInputs, RasterRef, input_files, open_inputs
from ..classify.resample import ResampledRun
from ..inputs.area_of_interest import AreaOfInterest
from ..inputs.raster_area import needs_resampling
from ..inputs.raster_inputs import InputRaster
from ..inputs.stacked_source import RasterStack
from ..outputs.atomic import AtomicOutputs
from ..outputs.paths import VECTOR_EXTENSIONS, check_outputs, require_extension
from .geopackage import (
    POINT_LAYER,
    POLYGON_LAYER,
    Destination,
    DetectionLayers,
    Placement,
    check_destination,
    parse_destination,
)

StyleWriter = Callable[[str, ModelContract, bool], object]  # (layer uri, contract, points) -> anything


@dataclass
class DetectRequest:
    """Everything the Detect objects algorithm passes on, already parsed (output paths may name a layer:
    ``file.gpkg|layername=trees``)."""

    input_path: str
    model_path: str
    output_path: str
    contract_path: str | None = None
    bands: Sequence[int] | None = None
    extent: tuple[float, float, float, float] | None = None
    device: str = "auto"
    window_size: int = 0
    overlap: float | None = None  # percent of the window; None: enough for the largest object
    tta: str = "none"
    batch_size: int = 0
    min_score: float | None = None  # None: the contract's (its score_threshold)
    iou: float | None = None
    max_detections: int | None = None  # per window
    centroids_path: str | None = None  # OUTPUT_CENTROIDS: a GeoPackage of box centres
    additional_inputs: Sequence[RasterRef] = ()
    input_layer: InputRaster | None = None
    grid: GridChoice = field(default_factory=GridChoice)
    mask_path: str | None = None
    mask_layer: str | None = None
    nodata: NodataPolicy = field(default_factory=NodataPolicy)
    threads: int = 0

    @property
    def output(self) -> Destination:
        return parse_destination(self.output_path, POLYGON_LAYER)

    def input_choice(self) -> InputChoice:
        """What the request says about the inputs (what :func:`..classify.inputs.open_inputs` reads)."""
        return InputChoice(self.input_path, self.input_layer, self.additional_inputs, self.bands, self.extent,
                           self.grid, self.mask_path, self.mask_layer, self.nodata)

    @property
    def centroids(self) -> Destination | None:
        return parse_destination(self.centroids_path, POINT_LAYER) if self.centroids_path else None

    def check_paths(self) -> None:
        """Refuse, before anything is read or written, outputs that name inputs, are not GeoPackages, or would
        replace a GeoPackage holding other layers."""
        outputs = {"OUTPUT": self.output}
        if self.centroids is not None:
            outputs["OUTPUT_CENTROIDS"] = self.centroids
        for name, target in outputs.items():
            what = "the detection layer" if name == "OUTPUT" else "the centroid layer"
            require_extension(name, target.path, VECTOR_EXTENSIONS, what)
        check_outputs({name: target.path for name, target in outputs.items()},
                      input_files(self.input_choice(), self.model_path, self.contract_path))
        for name, target in outputs.items():
            check_destination(name, target)

    def settings(self, contract: ModelContract) -> DetectionSettings:
        """MIN_SCORE, IOU and MAX_DETECTIONS, the contract's where not given."""
        return DetectionSettings.for_contract(contract, self.min_score, self.iou, self.max_detections)


@dataclass
class RunTarget:
    """What the engine runs over: the stack (the raster's, or its view at the detector's resolution), the area
    and mask on it, and how its pixels are placed on the ground."""

    stack: RasterStack
    area: PixelWindow
    mask: AreaOfInterest | None
    placement: Placement

    @property
    def resampled(self) -> bool:
        """Whether the engine runs on a view warped to the detector's resolution."""
        return self.placement.georeferencing is None


@dataclass
class OpenedDetection:
    """The detector loaded and the inputs decided: what every run of a request needs."""

    detector: LoadedDetector
    inputs: OpenedInputs
    target: RunTarget


@dataclass
class DetectResult:
    """What the run produced, for the algorithm's outputs and the log."""

    provider: str
    summary: DetectionSummary
    contract: ModelContract
    seconds: float
    plan: str  # the plan, described
    counts: dict[int, int]  # class index -> detections written

    def class_counts(self) -> dict[str, int]:
        """Detections per class name, every class of the detector listed."""
        return {info.name: self.counts.get(index, 0) for index, info in enumerate(self.contract.all_classes)}


def open_detection(request: DetectRequest, progress: Progress, detector: LoadedDetector | None = None,
                   check_suitability: bool = True) -> OpenedDetection:
    """Load the detector (unless given) and decide the inputs and what the engine runs over."""
    request.nodata.validate()
    detector = detector or load_detector(request.model_path, request.device, request.contract_path, request.threads)
    request.settings(detector.contract)  # MIN_SCORE, IOU, MAX_DETECTIONS checked before anything is read
    progress.info(f"Detector '{detector.contract.name or request.model_path}': contract from "
                  f"{detector.origin.describe()}; running on {detector.runtime.provider}.")
    for warning in detector.runtime.warnings:
        progress.warning(warning)
    inputs = open_inputs(request.input_choice(), detector.contract, progress, check_suitability,
                         done="searched for objects")
    return OpenedDetection(detector, inputs, _run_target(request, inputs, detector.contract, progress))


def _run_target(request: DetectRequest, inputs: OpenedInputs, contract: ModelContract,
                progress: Progress) -> RunTarget:
    """The raster's own grid, or a view of it at the detector's ground resolution."""
    primary = inputs.stack.primary
    resolution = needs_resampling(primary.grid, bool(primary.georeferencing.gcps), contract, progress)
    if resolution is None:
        return RunTarget(inputs.stack, inputs.area, inputs.mask,
                         Placement(primary.grid, inputs.area, primary.georeferencing))
    view, area = ResampledRun(primary, inputs.area, resolution, progress).model_view()
    mask = None
    if inputs.mask is not None:
        mask = AreaOfInterest(view.grid, None, request.mask_path, request.mask_layer, within=area)
    return RunTarget(inputs.stack.on_view(view, progress), area, mask, Placement(view.grid, area, None))


def plan_job(opened: OpenedDetection, request: DetectRequest, progress: Progress, provider: str | None) -> RunPlan:
    """The run's plan over the target area (a distributed run's client plans with it too)."""
    detector, area = opened.detector, opened.target.area
    overlap = None
    if request.overlap is not None:
        window = detection_window(detector.contract, detector.fixed_size, request.window_size)
        overlap = overlap_pixels(window, request.overlap, detector.contract.size_multiple)
    return plan_detection(detector.contract, detector.fixed_size, area.width, area.height, progress,
                          request.window_size, overlap, request.tta, request.batch_size, provider)


def describe_plan(plan: RunPlan) -> str:
    grid = plan.grid
    return (f"window {plan.window} px, overlap {plan.overlap} px, {grid.columns.count} x {grid.rows.count} windows "
            f"in {len(grid.panels)} panel(s), batch {plan.batch_size}, {len(plan.transforms)} TTA transform(s) "
            "per window")


def open_layers(request: DetectRequest, placement: Placement, contract: ModelContract, outputs: AtomicOutputs,
                oriented: bool) -> DetectionLayers:
    """The output layers, created under temporary names."""
    output, centroids = request.output, request.centroids
    points = (outputs.temporary_for(centroids.path), centroids.layer) if centroids is not None else None
    return DetectionLayers((outputs.temporary_for(output.path), output.layer), points, placement.crs_wkt,
                           contract.all_classes, placement.mapper(), oriented)


def style_layers(layers: DetectionLayers, contract: ModelContract, style_writer: StyleWriter | None) -> None:
    """Store the layers' default styles in their (temporary) GeoPackages, before the commit."""
    if style_writer is not None:
        for uri, points in layers.written:
            style_writer(uri, contract, points)


def write_parts(request: DetectRequest, placement: Placement, contract: ModelContract, oriented: bool,
                parts: Iterable[FinishedDetections], style_writer: StyleWriter | None) -> dict[int, int]:
    """Write already decided detections (a distributed run's assembly) as the single-process run writes them,
    and commit; the detections per class index."""
    with AtomicOutputs() as outputs:
        layers = open_layers(request, placement, contract, outputs, oriented)
        try:
            for part in parts:
                layers.write(part)
        finally:
            layers.close()
        style_layers(layers, contract, style_writer)
        outputs.commit()
    return layers.counts


def detect_objects(request: DetectRequest, progress: Progress, style_writer: StyleWriter | None = None) -> DetectResult:
    """Run the whole job; on any error or cancellation the outputs are removed, old ones kept."""
    started = time.perf_counter()
    request.check_paths()
    opened = open_detection(request, progress)
    detector, target = opened.detector, opened.target
    plan = plan_job(opened, request, progress, detector.runtime.provider)
    progress.info(f"Plan: {describe_plan(plan)}.")
    settings = request.settings(detector.contract)
    with AtomicOutputs() as outputs:
        layers = open_layers(request, target.placement, detector.contract, outputs, oriented(detector.contract))
        try:
            source = target.stack.source(opened.inputs.bands, opened.inputs.decider)
            summary = detect(source, detector.predictor, layers, detector.contract, target.area, plan, settings,
                             progress, target.mask)
        finally:
            layers.close()
        check_detections(summary, plan)
        style_layers(layers, detector.contract, style_writer)
        outputs.commit()
    return DetectResult(detector.runtime.provider, summary, detector.contract, time.perf_counter() - started,
                        describe_plan(plan), layers.counts)


def oriented(contract: ModelContract) -> bool:
    """Whether the detector gives oriented boxes (an angle per box)."""
    return Decoder(contract).oriented


def check_detections(summary: DetectionSummary, plan: RunPlan) -> None:
    """Refuse a run whose detector placed every box outside the window it was given."""
    if summary.detector_misplaced:
        raise ModelError(f"The detector gave {summary.window_detections} box(es), all centred outside the "
                         f"{plan.window} x {plan.window} px windows it was given: its box coordinates are not pixels "
                         "of its input window (normalised 0-1 coordinates, or another input size?). Check the "
                         "output layout in the contract (outputs[].kind, see docs/detection.md) or the model's "
                         "export; nothing was written.")
