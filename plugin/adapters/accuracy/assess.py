"""Accuracy assessment of a classified raster against reference data, block by block (GDAL/OGR only).

The classified raster is read in tiles (1024 x 1024 by default) over the assessed area, so memory
does not depend on the raster's size. In each tile: pixels that are nodata in the classification
(its GDAL mask: nodata value, alpha band or mask file) or outside the EXTENT / MASK are left out;
the reference sampler (:mod:`.accuracy_reference`) adds the pairs it labels to the confusion counts,
and every valid classified pixel of the area adds to the mapped class areas. Counts are exact
integers; the scores come from :mod:`plugin.core.accuracy.metrics`.
"""
from __future__ import annotations

import numpy as np
from osgeo import gdal

from ...core.accuracy.class_mapping import class_values
from ...core.accuracy.metrics import ConfusionAccumulator, ConfusionMatrix, ValueCounter
from ...core.accuracy.summary import AccuracySummary
from ...core.areas.window import PixelWindow
from ...core.errors import CancelledError, InputError
from ...core.progress import LoggingProgress, Progress
from ..inputs.area_of_interest import AreaOfInterest, AreaSpec, require_north_up
from ..inputs.gdal_grid import RasterGrid, area_unit
from ..outputs.raster_classes import read_classes
from .reference import PointSampler, ReferenceSpec, open_reference

gdal.UseExceptions()

TILE_SIZE = 1024

class ClassifiedRaster:
    """Band 1 of a class raster, read block by block with its validity (GDAL mask band)."""

    def __init__(self, path: str) -> None:
        try:
            self._dataset = gdal.Open(str(path))
        except RuntimeError as error:
            raise InputError(f"Cannot open the classified raster '{path}': {error}.") from error
        self.path = str(path)
        self.grid = RasterGrid.of(self._dataset)
        require_north_up(self.grid, self.path)
        self._band = self._dataset.GetRasterBand(1)
        all_valid = self._band.GetMaskFlags() == gdal.GMF_ALL_VALID
        self._mask = None if all_valid else self._band.GetMaskBand()
        self.classes = read_classes(self._dataset, 1) or []
        if self._dataset.RasterCount > 1:
            self.note = f"The classified raster has {self._dataset.RasterCount} bands; band 1 is assessed."
        else:
            self.note = ""

    def read(self, window: PixelWindow) -> tuple[np.ndarray, np.ndarray]:
        """Class values (int64) and validity of ``window``."""
        args = (window.col, window.row, window.width, window.height)
        raw = self._band.ReadAsArray(*args)
        valid = np.ones(raw.shape, bool) if self._mask is None else self._mask.ReadAsArray(*args) > 0
        if raw.dtype.kind == "f":
            valid &= ~np.isnan(raw)
        return class_values(raw, valid, "classified raster (INPUT)"), valid


def class_names_of(raster: ClassifiedRaster, overrides: dict[int, str] | None) -> dict[int, str]:
    """The classification's class names: embedded in the raster, then the user's CLASS_NAMES on top."""
    names = {c.value: c.name for c in raster.classes}
    names.update(overrides or {})
    return names


def assess(classified_path: str, reference: ReferenceSpec, area: AreaSpec | None = None,
           class_names: dict[int, str] | None = None, progress: Progress | None = None,
           tile_size: int = TILE_SIZE) -> AccuracySummary:
    """Count every assessed pixel (or point) of ``classified_path`` against ``reference``."""
    area, progress = area or AreaSpec(), progress or LoggingProgress()
    raster = ClassifiedRaster(classified_path)
    names = class_names_of(raster, class_names)
    region = AreaOfInterest(raster.grid, area.extent, area.mask_path, area.mask_layer)
    sampler = open_reference(reference, raster.grid, names)
    pixel_area, unit, unit_note = area_unit(raster.grid)
    notes = [n for n in (raster.note, *sampler.notes, unit_note) if n]
    for note in notes:
        progress.info(note)
    if isinstance(sampler, PointSampler):
        sampler.group_by_tile(region.window, tile_size)
    counts, mapped = ConfusionAccumulator(), ValueCounter()
    tiles = region.window.tiles(tile_size)
    for done, window in enumerate(tiles, start=1):
        if progress.is_cancelled():
            raise CancelledError("the accuracy assessment was cancelled; nothing was written.")
        classes, valid = raster.read(window)
        inside = region.read(window)
        mapped.update(classes, valid & inside)
        sampler.add(window, classes, valid, inside, counts)
        progress.set_fraction(done / len(tiles))
    declared = set(names) | set(mapped.counts)
    matrix = _with_classes(counts, declared)
    if matrix.total == 0:
        raise InputError(f"No {sampler.sample_unit} could be assessed: the reference labels nothing where the "
                         f"classification has data inside the assessed area ({_describe(sampler.excluded)}). Check "
                         "that the reference overlaps the classified raster, its nodata value (REFERENCE_NODATA) "
                         "and the EXTENT / MASK.")
    sources = {"classification": raster.path, "reference": reference.raster or reference.vector,
               "reference_field": reference.field, "reference_nodata": reference.nodata,
               "reference_classes": reference.classes,
               "extent": list(area.extent) if area.extent else None, "mask": area.mask_path}
    summary = AccuracySummary(matrix, {**sampler.names, **names}, tuple(sorted(declared)), mapped.counts,
                              pixel_area, unit, sampler.sample_unit, tuple(notes), dict(sampler.excluded), sources,
                              sampler.matching)
    warning = summary.permutation_warning()
    if warning:
        progress.warning(warning)
    if summary.excluded.get("reference_code_not_named"):
        progress.warning(f"{summary.excluded['reference_code_not_named']} reference {sampler.sample_unit}(s) hold "
                         "codes REFERENCE_CLASSES does not name; they are left out.")
    return summary


def _with_classes(counts: ConfusionAccumulator, declared: set[int]) -> ConfusionMatrix:
    """The matrix over the counted values and every class of the classification (zero rows included)."""
    complete = ConfusionAccumulator(declared)
    complete.merge(counts)
    return complete.result()


def _describe(excluded: dict[str, int]) -> str:
    return ", ".join(f"{key.replace('_', ' ')}: {n}" for key, n in excluded.items()) or "nothing counted"

