"""The size of a cell: pixels of the cell and of its context border, and the grid resolution they are read at.

A cell model's input is a window of ``N`` pixels: the cell plus a context border all round (``cells.border_px``
in the contract, or the BORDER a user gives). Two ways to size the cells:

- CELL_SIZE not given (0): a cell is the model's window less its border, read at the raster's own resolution
  (or the model's ground resolution, when its contract states one);
- CELL_SIZE in map units: the raster is read at the resolution that makes a cell of that size ``N - 2 x border``
  pixels, so the model sees windows of its own size (a 100 m cell with 20 m of context is ``N`` pixels of
  140 / N m). Models without a fixed input or tile size read cells at the raster's resolution instead.

Cells are square in map units. Cells smaller than a pixel of the raster are refused: they would be read from
interpolated pixels that hold nothing the raster does not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputError

SAME_RESOLUTION = 1e-6  # relative difference below which the raster is read on its own grid


@dataclass(frozen=True)
class CellGeometry:
    """Cells of ``cell_px`` pixels with ``border_px`` of context, read at ``resolution`` (x, y) map units per pixel
    (``resampled``: not the raster's own resolution)."""

    cell_px: int
    border_px: int
    resolution: tuple[float, float]
    resampled: bool

    @property
    def window(self) -> int:
        return self.cell_px + 2 * self.border_px

    @property
    def cell_size(self) -> tuple[float, float]:
        """The cell's size in map units (x, y)."""
        return self.cell_px * self.resolution[0], self.cell_px * self.resolution[1]

    def describe(self, units: str = "map units") -> str:
        x, y = self.cell_size
        size = f"{x:.6g}" if math.isclose(x, y, rel_tol=1e-9) else f"{x:.6g} x {y:.6g}"
        return (f"cells of {self.cell_px} px ({size} {units}) with {self.border_px} px of context on each side: "
                f"windows of {self.window} px read at {self.resolution[0]:.6g} {units} per pixel"
                f"{' (resampled)' if self.resampled else ''}")


def _border_units(border: float | None, contract_border_px: int, window: int | None, cell_size: float) -> float:
    """The border in map units: the one given, else the contract's border in proportion to the cell."""
    if border is not None:
        return border
    if not contract_border_px or window is None:
        return 0.0
    return cell_size * contract_border_px / (window - 2 * contract_border_px)


def cell_geometry(pixel: tuple[float, float], window: int | None, contract_border_px: int, cell_size: float = 0.0,
                  border: float | None = None, model_resolution: tuple[float, float] | None = None) -> CellGeometry:
    """The cells for a raster of ``pixel`` (x, y) map units per pixel and a model of input ``window`` pixels (None:
    dynamic without a tile size). ``cell_size`` and ``border`` in map units (0 and None: from the model);
    ``model_resolution``: the model's ground resolution in map units when it differs from the raster's."""
    if border is not None and (not math.isfinite(border) or border < 0):
        raise InputError(f"BORDER must be zero or a positive number of map units, got {border:g}.")
    if cell_size < 0 or not math.isfinite(cell_size):
        raise InputError(f"CELL_SIZE must be zero (the model's window) or a positive number of map units, got "
                         f"{cell_size:g}.")
    if contract_border_px and window is not None and 2 * contract_border_px >= window:
        raise InputError(f"The model's contract gives a border of {contract_border_px} px, which leaves no cell in "
                         f"its {window} px window; fix cells.border_px in a CONTRACT sidecar.")
    if not cell_size:
        return _model_cells(pixel, window, contract_border_px, border, model_resolution)
    if cell_size < max(pixel) * (1 - SAME_RESOLUTION):
        raise InputError(f"CELL_SIZE {cell_size:g} is smaller than a pixel of the raster ({max(pixel):g} map units): a "
                         "cell must hold at least one pixel. Give a CELL_SIZE of at least one pixel (or 0 for the "
                         "model's window).")
    wanted = _border_units(border, contract_border_px, window, cell_size)
    if window is None:
        cell_px = max(1, round(cell_size / min(pixel)))
        resolution = cell_size / cell_px
        border_px = round(wanted / resolution)
    else:
        border_px = round(wanted * window / (cell_size + 2 * wanted))
        cell_px = window - 2 * border_px
        if cell_px < 1:
            raise InputError(f"A border of {wanted:g} map units leaves no cell in the model's {window} px window; "
                             "lower BORDER.")
        resolution = cell_size / cell_px
    same = all(abs(resolution / p - 1) <= SAME_RESOLUTION for p in pixel)
    grid = pixel if same else (resolution, resolution)
    return CellGeometry(cell_px, border_px, grid, not same)


def _model_cells(pixel: tuple[float, float], window: int | None, contract_border_px: int, border: float | None,
                 model_resolution: tuple[float, float] | None) -> CellGeometry:
    """CELL_SIZE 0: the model's window less its border, at the raster's (or the model's) resolution."""
    if window is None:
        raise InputError("The model's input size is dynamic and its contract gives no tile size, so the cells cannot "
                         "be sized from it: give CELL_SIZE (map units), or a tile_size in a CONTRACT sidecar.")
    resolution = model_resolution or pixel
    border_px = contract_border_px if border is None else round(border / min(resolution))
    cell_px = window - 2 * border_px
    if cell_px < 1:
        raise InputError(f"A border of {border_px} px leaves no cell in the model's {window} px window; lower BORDER.")
    return CellGeometry(cell_px, border_px, resolution, model_resolution is not None)
