"""What a classify run (and every other model kind's run: cells, detect; :func:`open_inputs`) reads: INPUT (a
file, or a layer read through QGIS), on its own grid or on a grid chosen for it, the ADDITIONAL_INPUTS stacked on
that grid, the bands, the processing area (EXTENT and MASK), the nodata rule, and a first look at whether the
pixels suit the model. A request gives them as an :class:`InputChoice`; :func:`input_files` names the files an
output may not replace.

Layers without a pixel grid of their own (web maps: XYZ tiles, WMS; GDAL's WMS driver likewise) are read
on a grid made of ``EXTENT`` (default: the layer's extent), ``RESOLUTION`` (map units per pixel; default:
the model's ground resolution in those units) and ``TARGET_CRS`` (default: the layer's CRS).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from ...core.areas.window import Bounds, PixelWindow
from ...core.engine.nodata import NodataDecider, NodataPolicy, raw_fill_values
from ...core.engine.reading import RasterSource
from ...core.errors import InputError
from ...core.model.contract import ModelContract
from ...core.model.suitability import suitability_warning
from ...core.progress import Progress
from ..inputs.area_of_interest import AreaOfInterest, AreaSpec
from ..inputs.gdal_grid import RasterGrid, open_raster, srs_of
from ..inputs.raster_area import area_from_extent, grid_ground_resolution, resolve_bands
from ..inputs.raster_inputs import GdalInput, InputRaster
from ..inputs.stacked_source import RasterStack, outline_in

RasterRef = Union[str, InputRaster]  # a path (or anything GDAL opens) or a raster read another way
MAX_CHOSEN_PIXELS = 2 ** 32  # a chosen grid larger than this is refused: give an EXTENT
SAMPLE_WINDOWS, SAMPLE_SIZE = 4, 64  # the suitability check reads 4 x 4 windows of 64 px


@dataclass(frozen=True)
class GridChoice:
    """RESOLUTION and TARGET_CRS: the grid for layers that have none of their own."""

    resolution: float | None = None  # map units per pixel of the grid's CRS
    crs_wkt: str = ""  # the grid's CRS ("": the layer's)

    def __post_init__(self) -> None:
        if self.resolution is not None and not (math.isfinite(self.resolution) and self.resolution > 0):
            raise InputError(f"RESOLUTION must be a positive number of map units per pixel, got {self.resolution}.")

    @property
    def given(self) -> bool:
        return self.resolution is not None or bool(self.crs_wkt)


def open_input(reference: RasterRef, what: str) -> InputRaster:
    """A raster to read: files through GDAL, anything else as given."""
    if isinstance(reference, str):
        return GdalInput(open_raster(reference, what), reference)
    return reference


def place_input(raster: InputRaster, extent: Bounds | None, choice: GridChoice, contract: ModelContract,
                progress: Progress) -> tuple[InputRaster, Bounds | None]:
    """INPUT on the grid it is classified on, and the EXTENT still to apply on that grid (None once a
    chosen grid has used it)."""
    if getattr(raster, "native_grid", True):
        if choice.given:
            progress.info(f"RESOLUTION and TARGET_CRS apply to layers without a pixel grid of their own (web maps); "
                          f"'{raster.name}' is classified on its own grid.")
        return raster, extent
    grid = chosen_grid(raster, extent, choice, contract, progress)
    return raster.on_grid(grid, "bilinear"), None


def chosen_grid(raster: InputRaster, extent: Bounds | None, choice: GridChoice, contract: ModelContract,
                progress: Progress) -> RasterGrid:
    """The north-up grid a layer without its own is read on (see the module's description)."""
    crs = choice.crs_wkt or raster.grid.crs_wkt
    bounds = extent or outline_in(raster.grid, crs)
    if bounds is None:
        raise InputError(f"The extent of the layer '{raster.name}' cannot be expressed in TARGET_CRS; give an EXTENT.")
    xmin, ymin, xmax, ymax = bounds
    resolution = choice.resolution or model_resolution_in(crs, bounds, contract)
    if resolution is None:
        raise InputError(f"The layer '{raster.name}' has no pixel grid of its own (a web map or map service), and "
                         "the model does not state the ground resolution it was trained at: set RESOLUTION, the size "
                         f"of a pixel in {_units(crs)} (of TARGET_CRS if given, else of the layer's CRS).")
    width, height = (max(1, math.ceil((high - low) / resolution - 1e-6)) for low, high in ((xmin, xmax), (ymin, ymax)))
    if width * height > MAX_CHOSEN_PIXELS:
        raise InputError(f"Reading the layer '{raster.name}' over ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) at "
                         f"{resolution:g} {_units(crs)} per pixel would make {width} x {height} pixels; give an EXTENT "
                         "around the part to classify (or a coarser RESOLUTION).")
    progress.info(f"The layer '{raster.name}' has no pixel grid of its own: it is read at {resolution:.6g} "
                  f"{_units(crs)} per pixel in {_crs_name(crs)}, {width} x {height} pixels.")
    return RasterGrid(width, height, (xmin, resolution, 0.0, ymax, 0.0, -resolution), crs, True)


def model_resolution_in(crs_wkt: str, bounds: Bounds, contract: ModelContract) -> float | None:
    """The model's ground resolution in units of ``crs_wkt`` at the centre of ``bounds``, None without one."""
    if contract.resolution_m is None or not crs_wkt:
        return None
    xmin, ymin, xmax, ymax = bounds
    step = max(xmax - xmin, ymax - ymin) / 1000 or 1.0
    probe = RasterGrid(2, 2, ((xmin + xmax) / 2 - step, step, 0.0, (ymin + ymax) / 2 + step, 0.0, -step), crs_wkt)
    measured = grid_ground_resolution(probe)
    if measured is None:
        return None
    return contract.resolution_m * sum(measured.units_per_metre) / 2


def _units(crs_wkt: str) -> str:
    srs = srs_of(crs_wkt)
    if srs is None:
        return "map units"
    return "degrees" if srs.IsGeographic() else f"{(srs.GetLinearUnitsName() or 'map unit').lower()}s"


def _crs_name(crs_wkt: str) -> str:
    srs = srs_of(crs_wkt)
    if srs is None:
        return "no CRS"
    code = srs.GetAuthorityCode(None)
    return f"{srs.GetName()} ({srs.GetAuthorityName(None)}:{code})" if code else srs.GetName()


def processing_area(primary: InputRaster, extent: Bounds | None, area: AreaSpec,
                    progress: Progress) -> tuple[PixelWindow, AreaOfInterest | None]:
    """The pixels to classify (EXTENT, then the MASK polygons' bounding box) and the mask to burn, if any."""
    if extent is not None:
        primary.georeferencing.require_geotransform("classifying only an EXTENT", primary.name)
    window = area_from_extent(primary.grid, extent)
    if not area.mask_path:
        return window, None
    primary.georeferencing.require_geotransform("a processing MASK", primary.name)
    if primary.grid.geotransform[2] or primary.grid.geotransform[4]:
        raise InputError(f"The raster '{primary.name}' is rotated; a MASK cannot be applied. Warp it to a north-up "
                         "grid first (Raster > Projections > Warp).")
    mask = AreaOfInterest(primary.grid, None, area.mask_path, area.mask_layer, within=window)
    mask.require_pixels(area.mask_path)
    share = 100 * mask.window.pixels / max(window.pixels, 1)
    progress.info(f"MASK: only pixels inside its polygons are classified; their bounding box is {mask.window.width} x "
                  f"{mask.window.height} pixels ({share:.1f} % of the area without the mask).")
    return mask.window, mask


def warn_if_unsuitable(source: RasterSource, area: PixelWindow, contract: ModelContract, data_types: Sequence[str],
                       band_names: Sequence[str], progress: Progress) -> None:
    """Read a sample of the area and warn in plain words when it clearly does not match the contract."""
    samples = []
    for window in _sample_windows(area):
        raw, valid = source.read(window.col, window.row, window.width, window.height)
        samples.append(raw[:, valid].astype(np.float64))
    pixels = np.concatenate(samples, axis=1) if samples else np.zeros((contract.input.bands, 0))
    warning = suitability_warning(pixels, contract.input, data_types, band_names)
    if warning:
        progress.warning(warning)


def _sample_windows(area: PixelWindow) -> list[PixelWindow]:
    size_x, size_y = min(SAMPLE_SIZE, area.width), min(SAMPLE_SIZE, area.height)
    cols = {area.col + round(i * (area.width - size_x) / max(SAMPLE_WINDOWS - 1, 1)) for i in range(SAMPLE_WINDOWS)}
    rows = {area.row + round(i * (area.height - size_y) / max(SAMPLE_WINDOWS - 1, 1)) for i in range(SAMPLE_WINDOWS)}
    return [PixelWindow(c, r, size_x, size_y) for r in sorted(rows) for c in sorted(cols)]


@dataclass(frozen=True)
class InputChoice:
    """What a run reads, as its request says: INPUT (a path, or a layer read another way), ADDITIONAL_INPUTS,
    BANDS, EXTENT, the grid for layers without one, MASK and the nodata rule. Every model kind's job reads its
    inputs from these (:func:`open_inputs`)."""

    input_path: str
    input_layer: InputRaster | None = None
    additional_inputs: Sequence[RasterRef] = ()
    bands: Sequence[int] | None = None
    extent: Bounds | None = None
    grid: GridChoice = GridChoice()
    mask_path: str | None = None
    mask_layer: str | None = None
    nodata: NodataPolicy = NodataPolicy()


@dataclass
class OpenedInputs:
    """The inputs decided: the stack on INPUT's grid, the bands in the model's order, the processing area (raster
    coordinates), the MASK and the nodata rule."""

    stack: RasterStack
    bands: list[int]
    area: PixelWindow
    mask: AreaOfInterest | None
    decider: NodataDecider

    @property
    def grid(self) -> RasterGrid:
        """The outputs' grid: the processing area of INPUT's grid."""
        return self.stack.primary.grid.sub_grid(self.area)


def open_inputs(choice: InputChoice, contract: ModelContract, progress: Progress, check_suitability: bool = True,
                done: str = "classified") -> OpenedInputs:
    """INPUT on its grid, the stack, the bands, the area and mask, the nodata rule, with their warnings and errors,
    and (``check_suitability``) a look at whether the pixels suit the model. ``done`` says what the run does to the
    raster, in the messages."""
    choice.nodata.validate()
    raw = choice.input_layer or open_input(choice.input_path, "input raster")
    primary, extent = place_input(raw, choice.extent, choice.grid, contract, progress)
    if not primary.grid.crs_wkt and not primary.georeferencing.gcps:
        progress.warning(f"The raster has no CRS: it is {done} as it is, and the output has no CRS either.")
    stack = RasterStack(primary, [open_input(r, "additional raster") for r in choice.additional_inputs], progress)
    bands = resolve_bands(stack.bands, choice.bands, contract, progress)
    area, mask = processing_area(primary, extent, AreaSpec(None, choice.mask_path, choice.mask_layer), progress)
    decider = NodataDecider(choice.nodata, raw_fill_values(contract.input))
    if check_suitability:
        chosen = [stack.bands[b - 1] for b in bands]
        warn_if_unsuitable(stack.source(bands, decider), area, contract, [b.data_type for b in chosen],
                           [b.description for b in chosen], progress)
    return OpenedInputs(stack, bands, area, mask, decider)


def input_files(choice: InputChoice, model_path: str, contract_path: str | None) -> dict[str, str | None]:
    """The files a run reads, by parameter name: what no output may replace."""
    inputs: dict[str, str | None] = {"INPUT": choice.input_path if choice.input_layer is None else None,
                                     "MODEL": model_path, "CONTRACT": contract_path, "MASK": choice.mask_path}
    inputs.update({f"ADDITIONAL_INPUTS ({index})": path for index, path in enumerate(choice.additional_inputs, 1)
                   if isinstance(path, str)})
    return inputs


__all__ = ["GridChoice", "InputChoice", "OpenedInputs", "RasterRef", "input_files", "open_input", "open_inputs",
           "place_input", "processing_area", "warn_if_unsuitable"]
