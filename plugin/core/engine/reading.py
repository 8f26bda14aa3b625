"""From raster to model input: strips of rows, mirror padding at the raster's edges, normalisation,
and batches of windows (windows entirely over nodata are skipped, never run).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np

from ..areas.window import PixelWindow
from ..model.contract import InputSpec
from ..model.preprocess import normalise
from . import tta
from .grid import AreaEdges, Panel
from .plan import RunPlan


class RasterSource(Protocol):
    """Raw pixels of the model's bands, in model band order."""

    width: int
    height: int

    def read(self, col: int, row: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """(bands, height, width) raw values and a (height, width) bool mask of valid pixels; the
        requested rectangle always lies inside the raster."""
        ...


@dataclass(frozen=True)
class WindowRef:
    """A window of the grid: its panel, window row and window column."""

    panel: Panel
    row_index: int
    col_index: int


@dataclass
class WindowBatch:
    """Normalised windows ready for the model, their valid masks (footprint) and progress bookkeeping."""

    panel: Panel
    windows: list[WindowRef]
    tensor: np.ndarray  # (len(windows) * TTA variants, bands, window, window) float32, transform-major
    valid: list[np.ndarray | None]  # per window (footprint, footprint) float32 0/1; None: all valid
    windows_done: int  # grid windows accounted for by this batch, run or skipped


def area_edges(source: RasterSource, area: PixelWindow) -> AreaEdges:
    """The raster's real pixels beyond each side of ``area`` (0 where the side is the raster's edge)."""
    return AreaEdges(area.col, area.row, source.width - area.col_end, source.height - area.row_end)


def _pad_mode(length: int) -> str:
    return "reflect" if length > 1 else "edge"


def read_padded(source: RasterSource, top: int, left: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Read a rectangle in source coordinates; parts beyond the raster are mirrored from inside it."""
    r0, r1 = max(top, 0), min(top + height, source.height)
    c0, c1 = max(left, 0), min(left + width, source.width)
    raw, valid = source.read(c0, r0, c1 - c0, r1 - r0)
    pads = ((r0 - top, top + height - r1), (c0 - left, left + width - c1))
    if any(p for pair in pads for p in pair):
        raw = np.stack([_mirror(band, pads) for band in raw])
        valid = _mirror(valid, pads)
    return raw, valid


def _mirror(plane: np.ndarray, pads: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """Mirror one 2-D plane outwards, reflecting repeatedly when a pad exceeds the plane."""
    for axis, (before, after) in enumerate(pads):
        while before or after:
            size = plane.shape[axis]
            step_before, step_after = min(before, size - 1) or before, min(after, size - 1) or after
            widths: list[tuple[int, int]] = [(0, 0), (0, 0)]
            widths[axis] = (step_before, step_after)
            plane = np.pad(plane, widths, mode=_pad_mode(size))  # type: ignore[call-overload]
            before, after = before - step_before, after - step_after
    return plane


def _area_mask(plan: RunPlan, area: PixelWindow, y: int, x: int) -> tuple[slice, slice]:
    """The part of a window's footprint that lies inside the area, as slices of the footprint."""
    lo = plan.offset
    rows = slice(max(0, -(y + lo)), max(0, min(plan.footprint, area.height - (y + lo))))
    cols = slice(max(0, -(x + lo)), max(0, min(plan.footprint, area.width - (x + lo))))
    return rows, cols


class AreaMask(Protocol):
    """Which pixels of the raster are to be classified (a polygon mask, burnt as it is needed)."""

    def read(self, window: PixelWindow) -> np.ndarray:
        """(height, width) bool for ``window`` in raster coordinates (it may reach beyond the raster):
        True where a pixel is to be classified, False elsewhere."""
        ...


@dataclass
class _Strip:
    """One window row of a panel as read: raw values and validity from column ``left`` of the area, and the
    area mask over the same pixels (None without a mask)."""

    left: int
    raw: np.ndarray
    valid: np.ndarray
    inside: np.ndarray | None


def _windows_inside(mask: np.ndarray, plan: RunPlan, left: int, starts: list[int]) -> list[bool]:
    """For each window start, whether its footprint holds a pixel of the mask (read from column ``left``)."""
    lo, hi = plan.offset, plan.window - plan.offset
    return [bool(mask[lo:hi, x - left + lo:x - left + hi].any()) for x in starts]


def _read_strip(source: RasterSource, area: PixelWindow, plan: RunPlan, panel: Panel, y: int,
                mask: AreaMask | None) -> _Strip | None:
    """The pixels the panel's windows at area row ``y`` need; None when no window there touches the mask.

    With a mask, only the columns from the first to the last window that holds a masked pixel are read:
    windows entirely outside the mask are never read and never run."""
    columns, size = plan.grid.columns, plan.window
    starts = [columns.start(i) for i in range(panel.first_window, panel.last_window + 1)]
    left, span = starts[0], starts[-1] + size - starts[0]
    inside = None
    if mask is not None:
        inside = mask.read(PixelWindow(area.col + left, area.row + y, span, size))
        needed = [x for x, hit in zip(starts, _windows_inside(inside, plan, left, starts)) if hit]
        if not needed:
            return None
        first, last = needed[0], needed[-1] + size
        inside = inside[:, first - left:last - left]
        left, span = first, last - first
    raw, valid = read_padded(source, area.row + y, area.col + left, size, span)
    return _Strip(left, raw, valid, inside)


def generate_batches(source: RasterSource, spec: InputSpec, area: PixelWindow, plan: RunPlan,
                     stop: threading.Event, mask: AreaMask | None = None) -> Iterator[WindowBatch]:
    """Every panel's windows, row by row, in batches; each panel ends with a (possibly empty) batch.

    Windows with no valid pixel (or, with ``mask``, no pixel inside it) in the area are never run; pixels
    outside the mask get no weight, so they are written as nodata, but still serve as context."""
    size, end = plan.window, plan.window - plan.offset
    columns, rows = plan.grid.columns, plan.grid.rows
    for panel in plan.grid.panels:
        batch = _new_batch(panel, plan, spec.bands)
        for row_index in range(rows.count):
            if stop.is_set():
                return
            y = rows.start(row_index)
            strip = _read_strip(source, area, plan, panel, y, mask)
            for col_index in range(panel.first_window, panel.last_window + 1):
                batch.windows_done += 1
                x = columns.start(col_index)
                if strip is None or not strip.left <= x <= strip.left + strip.raw.shape[2] - size:
                    continue  # outside the mask: never read, never run
                at = x - strip.left
                weights = strip.valid[plan.offset:end, at + plan.offset:at + end]
                if strip.inside is not None:
                    weights = weights & strip.inside[plan.offset:end, at + plan.offset:at + end]
                inside = weights[_area_mask(plan, area, y, x)]
                if not inside.any():
                    continue  # nothing valid to classify here: never run the model on it
                slot = len(batch.windows)
                normalise(strip.raw[:, :, at:at + size], spec, strip.valid[:, at:at + size], out=batch.tensor[slot])
                batch.windows.append(WindowRef(panel, row_index, col_index))
                batch.valid.append(None if inside.all() and weights.all() else weights.astype(np.float32))
                if len(batch.windows) == plan.batch_size:
                    yield _with_variants(batch, plan)
                    batch = _new_batch(panel, plan, spec.bands)
        yield _with_variants(_trimmed(batch), plan)


def _new_batch(panel: Panel, plan: RunPlan, bands: int) -> WindowBatch:
    tensor = np.empty((plan.batch_size, bands, plan.window, plan.window), np.float32)
    return WindowBatch(panel, [], tensor, [], 0)


def _with_variants(batch: WindowBatch, plan: RunPlan) -> WindowBatch:
    """Add the TTA variants of every window here, in the reading thread, so the model thread only runs."""
    if batch.windows:
        batch.tensor = tta.expand(batch.tensor, plan.transforms)
    return batch


def _trimmed(batch: WindowBatch) -> WindowBatch:
    batch.tensor = batch.tensor[:len(batch.windows)]
    return batch
