"""What every run of a cell model needs, decided once: the model, the inputs, the cells' size, the grid the cells
are read on (the raster's own, or a view resampled so a cell of CELL_SIZE fills the model's window), the area and
mask on that grid, the plan, and the grid of the outputs (one pixel per cell).

The cells start at the processing area's top-left corner (EXTENT, or the MASK's bounding box); the last cells of a
row or column may reach past the area. A resampled view is a GDAL warped VRT (averaging where cells are read
coarser than the raster, bilinear where finer), computed block by block as it is read: nothing is copied.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ...core.areas.window import PixelWindow
from ...core.cells.geometry import CellGeometry, cell_geometry
from ...core.cells.plan import cell_counts, plan_cells
from ...core.engine.plan import RunPlan
from ...core.engine.reading import RasterSource
from ...core.errors import InputError
from ...core.model.loading import LoadedModel
from ...core.progress import Progress
from ..classify.inputs import InputChoice, OpenedInputs, open_inputs
from ..inputs.area_of_interest import AreaOfInterest
from ..inputs.gdal_grid import RasterGrid, srs_of
from ..inputs.raster_area import needs_resampling
from ..inputs.stacked_source import RasterStack


@dataclass(frozen=True)
class CellChoice:
    """CELL_SIZE and BORDER in map units (0 and None: from the model), TTA and BATCH_SIZE."""

    cell_size: float = 0.0
    border: float | None = None
    tta: str = "none"
    batch_size: int = 0


@dataclass
class CellRun:
    """A request's model, inputs and cells, on the grid the cells are read on."""

    model: LoadedModel
    inputs: OpenedInputs  # on the raster's own grid
    geometry: CellGeometry
    stack: RasterStack  # on the grid the cells are read on
    area: PixelWindow  # the processing area on that grid
    mask: AreaOfInterest | None
    plan: RunPlan
    output_grid: RasterGrid  # one pixel per cell
    cells: CellChoice

    @property
    def columns(self) -> int:
        return cell_counts(self.plan)[0]

    @property
    def rows(self) -> int:
        return cell_counts(self.plan)[1]

    def source(self) -> RasterSource:
        return self.stack.source(self.inputs.bands, self.inputs.decider)

    def block_area(self, first_row: int, first_col: int, rows: int, cols: int) -> PixelWindow:
        """The sub-area (on the run's grid) of a block of cells: its windows are the whole run's."""
        cell = self.geometry.cell_px
        col, row = first_col * cell, first_row * cell
        return PixelWindow(self.area.col + col, self.area.row + row, min(cols * cell, self.area.width - col),
                           min(rows * cell, self.area.height - row))

    def block_plan(self, area: PixelWindow) -> RunPlan:
        """The whole run's plan (cells, border, variants, batch) over a block's sub-area."""
        return plan_cells(self.geometry.cell_px, self.geometry.border_px, area.width, area.height,
                          self.plan.raw_channels, self.cells.tta, self.plan.batch_size)


def units_of(crs_wkt: str) -> str:
    srs = srs_of(crs_wkt)
    if srs is None:
        return "map units"
    return "degrees" if srs.IsGeographic() else f"{(srs.GetLinearUnitsName() or 'map unit').lower()}s"


def _model_window(model: LoadedModel) -> int | None:
    return model.shape.fixed_size or model.contract.tile_size


def open_cell_run(model: LoadedModel, choice: InputChoice, cells: CellChoice, progress: Progress,
                  check_suitability: bool = True) -> CellRun:
    """The inputs, the cells' size and the grid they are read on, the plan and the outputs' grid."""
    contract = model.contract
    inputs = open_inputs(choice, contract, progress, check_suitability)
    primary = inputs.stack.primary
    border_px = contract.cells.border_px if contract.cells else 0
    model_resolution = None
    if not cells.cell_size:
        model_resolution = needs_resampling(primary.grid, bool(primary.georeferencing.gcps), contract, progress)
    if (cells.cell_size or cells.border is not None) and primary.georeferencing.geotransform is None:
        primary.georeferencing.require_geotransform("sizing cells in map units (CELL_SIZE, BORDER)", primary.name)
    geometry = cell_geometry(primary.grid.pixel_size, _model_window(model), border_px, cells.cell_size,
                             cells.border, model_resolution)
    window = model.shape.fixed_size
    if window is not None and geometry.window != window:
        raise InputError(f"Cells of {geometry.cell_px} px with {geometry.border_px} px of border make windows of "
                         f"{geometry.window} px, but the model takes {window} px only.")
    stack, area, mask = inputs.stack, inputs.area, inputs.mask
    if geometry.resampled:
        stack, area, mask = _resampled(inputs, choice, geometry, progress)
    plan = plan_cells(geometry.cell_px, geometry.border_px, area.width, area.height, model.shape.raw_channels,
                      cells.tta, cells.batch_size, model.runtime.provider)
    run = CellRun(model, inputs, geometry, stack, area, mask, plan, RasterGrid(0, 0, (0, 1, 0, 0, 0, 1)), cells)
    run.output_grid = _output_grid(stack.primary.grid, area, geometry.cell_px, run.columns, run.rows)
    progress.info(f"Cells: {geometry.describe(units_of(primary.grid.crs_wkt))}; {run.columns} x {run.rows} cells, "
                  f"batch {plan.batch_size}, {len(plan.transforms)} TTA transform(s) per cell.")
    return run


def _output_grid(grid: RasterGrid, area: PixelWindow, cell: int, columns: int, rows: int) -> RasterGrid:
    x0, dx, rx, y0, ry, dy = grid.window_geotransform(area)
    return RasterGrid(columns, rows, (x0, dx * cell, rx * cell, y0, ry * cell, dy * cell), grid.crs_wkt,
                      grid.georeferenced)


def _resampled(inputs: OpenedInputs, choice: InputChoice, geometry: CellGeometry,
               progress: Progress) -> tuple[RasterStack, PixelWindow, AreaOfInterest | None]:
    """The stack on a north-up grid of the cells' resolution, the area and the mask on it.

    The grid covers the whole raster, with a pixel corner at the area's top-left corner, so a cell reaching past
    the area reads the real pixels there, and past the raster's edge the engine mirrors, as on the raster's own
    grid."""
    primary = inputs.stack.primary
    if primary.grid.geotransform[2] or primary.grid.geotransform[4]:
        raise InputError(f"The raster '{primary.name}' is rotated; cells of another resolution than its own cannot "
                         "be read from it. Warp it to a north-up grid first (Raster > Projections > Warp), or set "
                         "CELL_SIZE to 0.")
    left, bottom, right, top = primary.grid.bounds(inputs.area)
    xmin, ymin, xmax, ymax = primary.grid.bounds()
    x_res, y_res = geometry.resolution
    before_x, before_y = math.floor((left - xmin) / x_res + 1e-6), math.floor((ymax - top) / y_res + 1e-6)
    origin_x, origin_y = left - before_x * x_res, top + before_y * y_res
    width = max(1, math.ceil((xmax - origin_x) / x_res - 1e-6))
    height = max(1, math.ceil((origin_y - ymin) / y_res - 1e-6))
    grid = RasterGrid(width, height, (origin_x, x_res, 0.0, origin_y, 0.0, -y_res), primary.grid.crs_wkt, True)
    area = PixelWindow(before_x, before_y, max(1, math.ceil((right - left) / x_res - 1e-6)),
                       max(1, math.ceil((top - bottom) / y_res - 1e-6)))
    coarser = min(geometry.resolution) > max(primary.grid.pixel_size)
    view = primary.on_grid(grid, "average" if coarser else "bilinear")
    progress.info(f"The raster is read at {x_res:.6g} {units_of(grid.crs_wkt)} per pixel "
                  f"({'averaged' if coarser else 'interpolated'}): the area is {area.width} x {area.height} pixels.")
    stack = inputs.stack.on_view(view, progress)
    mask = None
    if inputs.mask is not None:
        mask = AreaOfInterest(grid, None, choice.mask_path, choice.mask_layer, within=area)
    return stack, area, mask
