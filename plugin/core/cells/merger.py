"""The cell kind's merger: each batch's outputs decoded into one result per cell, handed on row by row.

Windows and cells are one to one (:mod:`.plan`), so nothing is blended: a cell's result is its window's. The
merger collects the cells of the current cell row of a panel and hands on every row once no later window can
reach it, whole (cells without a result, left out as nodata or outside the MASK, are marked absent), so a sink
writes rows in order. Where the grid is cut into column panels, a window column that straddles a panel boundary
is run in both panels; its cell belongs to the panel holding the cell's first column, and is handed on once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ..engine.grid import Panel
from ..engine.plan import RunPlan
from ..engine.reading import WindowBatch
from .decode import CellDecoder, CellValues

_FIELDS = ("classes", "scores", "probabilities", "values", "embeddings")


@dataclass
class FinishedCells:
    """One cell row of a panel, columns ``col`` to ``col + len(present)``: which cells have a result, the share of
    each cell's pixels that are valid and inside the area, and the results (zeros where absent)."""

    row: int
    col: int
    present: np.ndarray  # (w,) bool
    coverage: np.ndarray  # (w,) float32
    area_pixels: int  # area pixels of the cells with a result
    classes: np.ndarray | None = None  # (w,) channel index
    scores: np.ndarray | None = None  # (w,)
    probabilities: np.ndarray | None = None  # (w, K)
    values: np.ndarray | None = None  # (w, V)
    embeddings: np.ndarray | None = None  # (w, D)

    @property
    def pixels(self) -> int:
        return self.area_pixels

    @property
    def width(self) -> int:
        return len(self.present)


@dataclass
class _Row:
    """A cell row being filled."""

    present: np.ndarray
    coverage: np.ndarray
    area_pixels: int = 0
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def put(self, at: int, found: CellValues, index: int) -> None:
        for name in _FIELDS:
            value = getattr(found, name)
            if value is None:
                continue
            if name not in self.arrays:
                self.arrays[name] = np.zeros((len(self.present), *value.shape[1:]), value.dtype)
            self.arrays[name][at] = value[index]


class CellMerger:
    """The engine's ``WindowMerger`` for cell models: batches in, :class:`FinishedCells` rows out."""

    def __init__(self, plan: RunPlan, decoder: CellDecoder, width: int, height: int) -> None:
        self.plan, self.decoder, self.width, self.height = plan, decoder, width, height
        self.cell = plan.footprint
        self.panel: Panel | None = None
        self.first, self.last = 0, 0  # the panel's cell columns [first, last)
        self.next_row = 0
        self.rows: dict[int, _Row] = {}

    def _open(self, panel: Panel) -> None:
        self.panel, self.next_row, self.rows = panel, 0, {}
        self.first = math.ceil(panel.out_start / self.cell)
        self.last = math.ceil(panel.out_end / self.cell)

    def _empty(self) -> _Row:
        span = self.last - self.first
        return _Row(np.zeros(span, bool), np.zeros(span, np.float32))

    def _row(self, row: int) -> _Row:
        if row not in self.rows:
            self.rows[row] = self._empty()
        return self.rows[row]

    def _emit_until(self, row: int) -> list[FinishedCells]:
        """Every row of the panel before ``row`` (which no later window can reach)."""
        parts = []
        while self.next_row < row:
            filled = self.rows.pop(self.next_row, None) or self._empty()
            parts.append(FinishedCells(self.next_row, self.first, filled.present, filled.coverage,
                                       filled.area_pixels, **filled.arrays))
            self.next_row += 1
        return parts

    def _coverage(self, valid: np.ndarray | None, row: int, col: int) -> tuple[float, int]:
        """(share of the cell's pixels valid and inside the area, area pixels of the cell)."""
        rows = min(self.cell, self.height - row * self.cell)
        cols = min(self.cell, self.width - col * self.cell)
        inside = rows * cols if valid is None else int(valid[:rows, :cols].sum())
        return inside / self.cell ** 2, rows * cols

    def take(self, batch: WindowBatch, outputs: list[np.ndarray] | None) -> Iterable[FinishedCells]:
        parts: list[FinishedCells] = []
        if batch.panel is not self.panel:
            parts += self.finish()
            self._open(batch.panel)
        if outputs is None or not batch.windows:
            return parts
        found = self.decoder.decode(outputs, len(batch.windows))
        for index, (ref, valid) in enumerate(zip(batch.windows, batch.valid)):
            if not self.first <= ref.col_index < self.last:
                continue  # a window straddling a panel boundary: its cell is the other panel's
            parts += self._emit_until(ref.row_index)
            row = self._row(ref.row_index)
            at = ref.col_index - self.first
            row.present[at] = True
            row.coverage[at], pixels = self._coverage(valid, ref.row_index, ref.col_index)
            row.area_pixels += pixels
            row.put(at, found, index)
        return parts

    def finish(self) -> Iterable[FinishedCells]:
        """The rest of the current panel (the engine calls it at the end; a new panel calls it too)."""
        if self.panel is None:
            return []
        parts = self._emit_until(self.plan.grid.rows.count)
        self.panel = None
        return parts
