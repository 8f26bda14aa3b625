"""Writing a cell run's outputs atomically: rasters of one pixel per cell (cloud-optimised copies) and GeoPackages
of cell polygons (a layer named after the file; an existing GeoPackage's other layers kept), filled from the rows
a feed sends (the engine, or a distributed run's blocks), styled, then committed together. Shared by Classify
tiles and Similarity search."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ...core.cells.run import CellSink, CellSummary
from ...core.progress import Progress
from ..inputs.gdal_grid import RasterGrid
from ..outputs.atomic import AtomicOutputs
from ..outputs.cog import write_cog
from ..outputs.geotiff import bounded_block_cache
from ..polygons.geopackage_target import destination, prepare_copy
from .tables import RasterColumns
from .writers import CellPolygons, CellRaster, CellSinkFan, Column, Table


@dataclass(frozen=True)
class RasterOutput:
    """A cell raster to write: where, which columns (bands, type, nodata, classes), its overview resampling."""

    path: str
    spec: RasterColumns
    overviews: str = "AVERAGE"


@dataclass(frozen=True)
class VectorOutput:
    """A GeoPackage of cell polygons to write: where and which columns."""

    path: str
    columns: Sequence[Column]


Feed = Callable[[CellSink], CellSummary]
Styles = Callable[[dict[str, str]], None]
Watch = Callable[[CellSink], CellSink]


def layer_name(path: str) -> str:
    return Path(path).stem or "cells"


def _polygons(vector: VectorOutput, temporary: str, grid: RasterGrid, progress: Progress) -> CellPolygons:
    """The writer of a polygon grid into ``temporary``: a new GeoPackage, or, when the output is a GeoPackage
    holding other tables, a copy of it (those kept, a layer of the same name replaced), as classify's polygons."""
    target = destination(vector.path, layer_name(vector.path))
    copied = prepare_copy(target, temporary, progress)
    return CellPolygons(temporary, grid, vector.columns, target.layer, add_to_existing=copied)


def write_cell_outputs(grid: RasterGrid, table: Table, rasters: dict[str, RasterOutput],
                       vectors: dict[str, VectorOutput], feed: Feed, progress: Progress,
                       styles: Styles | None = None, watch: Watch | None = None) -> CellSummary:
    """Create the outputs, fill them with what ``feed`` sends (through ``watch``, which may look at every row),
    copy the rasters as COGs, style them (``styles`` gets the temporary paths by output name) and commit
    everything; nothing is left on failure."""
    with AtomicOutputs() as outputs, bounded_block_cache():
        finals = {**{name: o.path for name, o in rasters.items()}, **{name: o.path for name, o in vectors.items()}}
        temporary = {name: outputs.temporary_for(path) for name, path in finals.items()}
        folder = outputs.work_folder()
        writers: list[CellRaster | CellPolygons] = []
        work = {}
        for name, raster in rasters.items():
            work[name] = str(folder / f"{name}.tif")
            spec = raster.spec
            writers.append(CellRaster(work[name], grid, spec.columns, spec.data_type, spec.nodata, spec.band_names,
                                      spec.classes))
        for name, vector in vectors.items():
            writers.append(_polygons(vector, temporary[name], grid, progress))
        sink = CellSinkFan(table, writers)
        try:
            summary = feed(watch(sink) if watch is not None else sink)
        finally:
            sink.close()
        for name, raster in rasters.items():
            write_cog(work[name], temporary[name], raster.overviews, progress.is_cancelled)
        if styles is not None:  # a polygon grid by its layer: the GeoPackage may hold others
            styles({**temporary, **{name: f"{temporary[name]}|layername={layer_name(v.path)}"
                                    for name, v in vectors.items()}})
        outputs.commit()
    return summary
