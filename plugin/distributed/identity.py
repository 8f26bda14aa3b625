"""What the pixels of a distributed run depend on, as data: every file its inputs read, and the resolved plan.

``--resume`` reuses the blocks of an earlier run only when these are the same (:mod:`.scenes` fingerprints
them), and every block task checks, before it writes, that its inputs are still those its run was planned on.
A raster is not one file: a VRT reads its sources (and a VRT among them reads its own), a GeoTIFF may bring an
``.ovr`` or a ``.msk``, a shapefile mask is four files. Each file GDAL lists for a dataset is recorded by absolute
path, size and modification time (nanoseconds), so a source file of a mosaic replaced or edited since the
earlier run makes it another run. GDAL's ``.aux.xml`` files are left out of that list (QGIS writes statistics
into them whenever it displays a raster): what they can change that matters to the pixels read, each band's
nodata value, mask and data type, and the grid, is recorded as GDAL reads it instead. Names GDAL reads
without the file system (``/vsicurl/...``, a URL, a database connection) are recorded as they are written.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from osgeo import gdal

from ..adapters.classify.job import ClassifyRequest
from ..adapters.detect.job import DetectRequest
from ..adapters.outputs.paths import dataset_files
from ..core.engine.plan import RunPlan

MAX_NESTING = 8  # VRTs of VRTs: deeper than this is a loop or a mistake, and is not followed further
_VRT_START = b"<VRTDataset"

gdal.UseExceptions()


def file_identity(path: str | os.PathLike) -> list[Any]:
    """``[absolute path, size, modification time in ns]``; ``[name, None, None]`` for what is not a local file."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return [str(path), None, None]
    return [os.path.abspath(path), info.st_size, info.st_mtime_ns]


def _is_vrt(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(256).lstrip().startswith(_VRT_START)
    except OSError:
        return False


def files_read(path: str | os.PathLike) -> list[str]:
    """Every local file reading the dataset at ``path`` touches: GDAL's file list, followed into the VRTs it
    names (a VRT lists its sources but not its sources' sources), each file once, in the order found."""
    found: dict[str, None] = {}
    pending = [(Path(path), 0)]
    while pending:
        current, depth = pending.pop(0)
        for name in dataset_files(current):
            absolute = os.path.abspath(name)
            if absolute in found:
                continue
            found[absolute] = None
            if depth < MAX_NESTING and Path(absolute) != Path(os.path.abspath(current)) and _is_vrt(Path(absolute)):
                pending.append((Path(absolute), depth + 1))
    return list(found)


def raster_properties(path: str) -> list[Any] | None:
    """The grid and, per band, what GDAL decides a raw pixel's value and validity with (None: not a raster). Scale
    and offset are left out: raw values are read, and GDAL reports 1 and 0 once statistics were computed."""
    try:
        dataset = gdal.OpenEx(path, gdal.OF_READONLY | gdal.OF_RASTER)
    except RuntimeError:
        return None
    if dataset is None:
        return None
    bands = []
    for index in range(1, dataset.RasterCount + 1):
        band = dataset.GetRasterBand(index)
        bands.append([band.DataType, _json_number(band.GetNoDataValue()), band.GetMaskFlags()])
        band = None
    found = [dataset.RasterXSize, dataset.RasterYSize, list(dataset.GetGeoTransform(can_return_null=True) or []),
             dataset.GetProjection(), bands]
    dataset = None
    return found


def _json_number(value: float | None) -> float | str | None:
    return value if value is None or math.isfinite(value) else str(value)  # NaN nodata: JSON has no NaN


def dataset_identity(path: str | None) -> dict[str, Any] | None:
    """The identity of every file the dataset at ``path`` reads, and its raster properties (None when no dataset
    is given)."""
    if not path:
        return None
    if not Path(path).exists():  # a URL, a /vsi path or a connection string: only its name
        return {"files": [[str(path), None, None]], "raster": None}
    files = [file_identity(name) for name in files_read(path) if not name.lower().endswith(".aux.xml")]
    return {"files": files, "raster": raster_properties(str(path))}


def inputs_identity(request: ClassifyRequest | DetectRequest) -> dict[str, Any]:
    """Every file the request reads: INPUT, ADDITIONAL_INPUTS, MASK, the model and its CONTRACT sidecar."""
    additional = [dataset_identity(p) if isinstance(p, str) else repr(p) for p in request.additional_inputs]
    return {"input": dataset_identity(request.input_path), "additional": additional,
            "mask": [dataset_identity(request.mask_path), request.mask_layer],
            "model": file_identity(request.model_path),
            "contract": file_identity(request.contract_path) if request.contract_path else None}


def plan_identity(plan: RunPlan | None) -> dict[str, Any] | None:
    """The resolved plan (window, overlap, context margin, blending, TTA, batch, the window grid): an automatic
    overlap depends on a measured margin, which may differ from an earlier run's."""
    if plan is None:
        return None
    data = asdict(plan)
    data.pop("margin_source", None)  # words for the log; the margin itself is kept
    return data
