"""Planning a detection run: the window, an overlap that holds the largest object, and the window grid.

The plan is a :class:`..plan.RunPlan`, so the engine's reader (:func:`..reading.generate_batches`) serves
detectors unchanged. What differs from segmentation:

- overlap: at least ``max_object_size_px + 2 * EDGE_TOLERANCE + 1`` pixels (rounded up to the size
  multiple), so that every object no larger than that lies whole, and clear of the edge tolerance, in some
  window (the cross-window merge drops the cut copies: :mod:`.pool`). Without ``max_object_size_px`` in the
  contract, a quarter of the window is assumed (and logged);
- the flush grid (:func:`..engine.grid.plan_grid`) with no context beyond the area (reach 0): the first window
  starts at the area's corner and the last ends at its far edge, so the model sees real pixels of the area
  rather than a mirror image (whose reflected objects would be detected), and an object cut by the area's edge
  (an EXTENT) is reported as cut. Only an area smaller than a window, or a window rounded up to the size
  multiple, reaches past the raster's edge, which the reader mirrors; detections centred there are dropped by
  the merge;
- no blending, margin or footprint offset.
"""
from __future__ import annotations

from ..engine.grid import AxisLayout, aligned_up, plan_grid
from ..engine.plan import RunPlan, default_batch_size
from ..engine.tta import TTA_MODES, transforms_for
from ..errors import InputError, ModelError
from ..model.contract import ModelContract
from ..progress import Progress
from .merger import EDGE_TOLERANCE

DEFAULT_DETECTION_WINDOW = 640  # dynamic detectors without a tile size (the size most YOLO models are trained at)
UNKNOWN_OBJECT_SHARE = 0.25  # largest object assumed, as a share of the window, when the contract gives none


def required_overlap(max_object_px: int, multiple: int) -> int:
    """The smallest overlap (pixels, a multiple of ``multiple``) that shows every object of up to
    ``max_object_px`` pixels whole and clear of the edge tolerance in some window."""
    return aligned_up(max_object_px + 2 * int(EDGE_TOLERANCE) + 1, multiple)


def detection_window(contract: ModelContract, fixed_size: int | None, requested: int) -> int:
    """The window: the model's fixed size, else the requested one, else the contract's tile size (or 640)."""
    multiple = contract.size_multiple
    if fixed_size is not None:
        if requested and requested != fixed_size:
            raise ModelError(f"WINDOW_SIZE {requested} is not accepted by the detector: its input is fixed at "
                             f"{fixed_size} x {fixed_size} pixels. Set WINDOW_SIZE to {fixed_size} or leave it at 0.")
        return fixed_size
    window = requested or contract.tile_size or DEFAULT_DETECTION_WINDOW
    if window % multiple:
        raise InputError(f"WINDOW_SIZE {window} is not a multiple of the detector's size multiple {multiple}; use "
                         f"{aligned_up(window, multiple)}.")
    return window


def plan_detection(contract: ModelContract, fixed_size: int | None, width: int, height: int, progress: Progress,
                   window_size: int = 0, overlap_px: int | None = None, tta: str = "none", batch_size: int = 0,
                   provider: str | None = None, max_panel_width: int = 4096) -> RunPlan:
    """The plan for detecting over a ``width`` x ``height`` area (``overlap_px`` None: from the largest object)."""
    if width < 1 or height < 1:
        raise InputError(f"The processing area is empty ({width} x {height} pixels): the EXTENT does not overlap "
                         "the raster. Choose an extent inside the layer or leave EXTENT empty.")
    if tta not in TTA_MODES:
        raise InputError(f"TTA '{tta}' is not known; use one of {', '.join(TTA_MODES)}.")
    if batch_size < 0:
        raise InputError(f"BATCH_SIZE must be 0 (by device) or more, got {batch_size}.")
    window = detection_window(contract, fixed_size, window_size)
    largest = contract.detection.max_object_size_px if contract.detection else None
    if largest is None:
        largest = int(window * UNKNOWN_OBJECT_SHARE)
        progress.info(f"The detector's contract gives no max_object_size_px; objects up to {largest} px (a quarter "
                      "of the window) are assumed.")
    needed = required_overlap(largest, contract.size_multiple)
    overlap = needed if overlap_px is None else aligned_up(overlap_px, contract.size_multiple)
    if overlap < needed:
        progress.warning(f"An overlap of {overlap} px is less than the {needed} px objects of up to {largest} px need: "
                         "objects on window edges may be reported in parts.")
    if overlap >= window:
        raise InputError(f"Objects of up to {largest} px need windows overlapping by {overlap} px, which leaves no "
                         f"stride in a {window} px window; enlarge WINDOW_SIZE or lower the overlap.")
    # Boxes need no context beyond the area's edges (reach 0): an object cut there is cut by the user's extent.
    layout = AxisLayout(window, overlap, contract.size_multiple)
    grid = plan_grid(width, height, layout, max_panel_width=max_panel_width)
    return RunPlan(window=window, overlap=overlap, margin=0, margin_source="not used by detectors", reach=0, offset=0,
                   grid=grid, transforms=transforms_for(tta), blending="none", batch_size=batch_size or
                   default_batch_size(provider), single_prediction=False, raw_channels=())
