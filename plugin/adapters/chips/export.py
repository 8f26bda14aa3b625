"""Exports image chips and label masks as a chips folder that the training subpackage reads (GDAL/OGR only).

The folder format (docs/accuracy.md)::

    images/<chip_id>.tif|png   labels/<chip_id>.tif|png   classes.json   index.csv   index.gpkg

Everything is written into a temporary sibling folder that is renamed to the output folder only when
the export is complete (:class:`.atomic.AtomicFolder`). Chips lie wholly inside the raster and are
never padded (:mod:`plugin.core.areas.chip_layout`). A label pixel is unlabelled (ignore value) where no
label covers it, where the image is nodata in any band, and outside the EXTENT / MASK.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from osgeo import gdal, ogr

from ...core.areas.chip_layout import chip_id, chip_offsets
from ...core.areas.window import PixelWindow
from ...core.errors import CancelledError, InputError
from ...core.progress import LoggingProgress, Progress
from ..inputs.area_of_interest import AreaOfInterest, AreaSpec, require_north_up
from ..inputs.gdal_grid import RasterGrid, srs_of
from ..outputs.atomic import AtomicFolder
from .labels import ChipLabels, LabelSpec

gdal.UseExceptions()
ogr.UseExceptions()

FORMATS = {"GTiff": ".tif", "PNG": ".png"}
INDEX_COLUMNS = ("chip_id", "image", "label", "col_off", "row_off", "width", "height", "labelled_fraction",
                 "xmin", "ymin", "xmax", "ymax")
GTIFF_OPTIONS = ["COMPRESS=DEFLATE", "TILED=NO"]


@dataclass(frozen=True)
class ChipOptions:
    """Chip size and stride in pixels, the least labelled fraction a chip needs, and the file format."""

    chip_size: int = 256
    stride: int = 256
    min_labelled: float = 0.0
    format: str = "GTiff"


@dataclass(frozen=True)
class ChipExport:
    """What an export wrote."""

    folder: str
    chip_count: int
    skipped: int
    ignore_value: int


def check_format(dataset: gdal.Dataset, format_name: str, path: str) -> None:
    """PNG chips need an 8-bit raster with at least 3 bands (the first three are written as RGB)."""
    if format_name not in FORMATS:
        raise InputError(f"Unknown chip format '{format_name}'; use one of {', '.join(FORMATS)}.")
    if format_name != "PNG":
        return
    data_type = gdal.GetDataTypeName(dataset.GetRasterBand(1).DataType)
    if data_type != "Byte" or dataset.RasterCount < 3:
        raise InputError(f"FORMAT PNG needs an 8-bit (Byte) raster with at least 3 bands, but '{path}' has "
                         f"{dataset.RasterCount} band(s) of {data_type}. Use FORMAT GeoTIFF, which keeps every band "
                         "and the data type.")


def export_chips(image_path: str, labels: LabelSpec, output_folder: str, options: ChipOptions,
                 area: AreaSpec | None = None, progress: Progress | None = None) -> ChipExport:
    """Cut chips over the area and write the chips folder atomically; returns what was written."""
    if options.chip_size < 16 or options.stride < 1 or not 0.0 <= options.min_labelled <= 1.0:
        raise InputError("CHIP_SIZE must be at least 16, STRIDE at least 1 and MIN_LABELLED from 0 to 1.")
    try:
        image = gdal.Open(str(image_path))
    except RuntimeError as error:
        raise InputError(f"Cannot open the input raster '{image_path}': {error}.") from error
    check_format(image, options.format, image_path)
    grid = RasterGrid.of(image)
    require_north_up(grid, image_path)
    area, progress = area or AreaSpec(), progress or LoggingProgress()
    region = AreaOfInterest(grid, area.extent, area.mask_path, area.mask_layer)
    mask_labels = ChipLabels(labels, grid)
    for note in mask_labels.notes:
        progress.info(note)
    with AtomicFolder(output_folder) as folder:
        writer = ChipWriter(folder.path, image, grid, options.format, mask_labels)
        skipped = _cut(image, grid, region, mask_labels, writer, options, progress)
        if not writer.rows:
            raise InputError(f"No chip was written: none of the {skipped} chips has labelled pixels where the image "
                             f"has data (at least MIN_LABELLED = {options.min_labelled:g} of them). Check that the "
                             "labels cover the raster inside the EXTENT / MASK and that the image is not nodata "
                             "there (its nodata value, alpha band or mask), or lower MIN_LABELLED.")
        writer.finish(_classes_document(image, grid, labels, mask_labels, options, image_path, len(writer.rows)))
        folder.commit()
    return ChipExport(str(output_folder), len(writer.rows), skipped, mask_labels.ignore_value)


def _cut(image: gdal.Dataset, grid: RasterGrid, region: AreaOfInterest, labels: ChipLabels, writer: "ChipWriter",
         options: ChipOptions, progress: Progress) -> int:
    window, size = region.window, options.chip_size
    offsets = list(chip_offsets(window.col, window.row, window.width, window.height, size, options.stride,
                                grid.width, grid.height))
    skipped = 0
    for done, (col, row) in enumerate(offsets, start=1):
        if progress.is_cancelled():
            raise CancelledError("the chip export was cancelled; the output folder was not created.")
        chip = PixelWindow(col, row, size, size)
        mask = labels.read(chip)
        mask[~(region.read(chip) & image_valid(image, chip))] = labels.ignore_value
        fraction = float(np.count_nonzero(mask != labels.ignore_value)) / mask.size
        if fraction == 0.0 or fraction < options.min_labelled:
            skipped += 1
        else:
            writer.write(chip, mask, fraction)
        progress.set_fraction(done / len(offsets))
    return skipped


def image_valid(image: gdal.Dataset, window: PixelWindow) -> np.ndarray:
    """True where every band of ``image`` has data (GDAL masks: nodata values, alpha band, mask files)."""
    valid = np.ones((window.height, window.width), bool)
    per_dataset_read = False
    for index in range(1, image.RasterCount + 1):
        band = image.GetRasterBand(index)
        flags = band.GetMaskFlags()
        if flags == gdal.GMF_ALL_VALID or (flags & gdal.GMF_PER_DATASET and per_dataset_read):
            continue
        per_dataset_read = per_dataset_read or bool(flags & gdal.GMF_PER_DATASET)
        valid &= band.GetMaskBand().ReadAsArray(window.col, window.row, window.width, window.height) > 0
    return valid


class ChipWriter:
    """Writes image and label chips, and at the end the index (CSV and GeoPackage) and classes.json."""

    def __init__(self, folder: Path, image: gdal.Dataset, grid: RasterGrid, format_name: str,
                 labels: ChipLabels) -> None:
        self.folder, self.image, self.grid, self.format, self.labels = folder, image, grid, format_name, labels
        self.rows: list[dict[str, Any]] = []
        (folder / "images").mkdir()
        (folder / "labels").mkdir()

    def write(self, window: PixelWindow, mask: np.ndarray, fraction: float) -> None:
        name = chip_id(window.col, window.row) + FORMATS[self.format]
        image_file, label_file = self.folder / "images" / name, self.folder / "labels" / name
        if self.format == "PNG":
            bands = self.image.ReadAsArray(window.col, window.row, window.width, window.height, band_list=[1, 2, 3])
            _write_png(image_file, bands, self.grid.window_geotransform(window))
            _write_png(label_file, mask[np.newaxis], self.grid.window_geotransform(window))
        else:
            gdal.Translate(str(image_file), self.image, format="GTiff", creationOptions=GTIFF_OPTIONS,
                           srcWin=[window.col, window.row, window.width, window.height])
            self._write_label_tiff(label_file, mask, window)
        xmin, ymin, xmax, ymax = self.grid.bounds(window)
        self.rows.append({"chip_id": chip_id(window.col, window.row), "image": f"images/{name}",
                          "label": f"labels/{name}", "col_off": window.col, "row_off": window.row,
                          "width": window.width, "height": window.height, "labelled_fraction": round(fraction, 6),
                          "xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax})

    def _write_label_tiff(self, path: Path, mask: np.ndarray, window: PixelWindow) -> None:
        data_type = gdal.GDT_Byte if mask.dtype == np.uint8 else gdal.GDT_UInt16
        target = gdal.GetDriverByName("GTiff").Create(str(path), window.width, window.height, 1, data_type,
                                                      options=GTIFF_OPTIONS)
        target.SetGeoTransform(self.grid.window_geotransform(window))
        if self.grid.crs_wkt:
            target.SetProjection(self.grid.crs_wkt)
        band = target.GetRasterBand(1)
        band.SetNoDataValue(self.labels.ignore_value)
        table = gdal.ColorTable()
        for info in self.labels.classes:
            table.SetColorEntry(info.value, (*info.rgb(), 255))
        band.SetRasterColorTable(table)
        band.WriteArray(mask)
        target.FlushCache()
        target = None

    def finish(self, classes_document: dict[str, Any]) -> None:
        with open(self.folder / "index.csv", "w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=INDEX_COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
        _write_footprints(self.folder / "index.gpkg", self.rows, self.grid.crs_wkt)
        text = json.dumps(classes_document, indent=2)
        (self.folder / "classes.json").write_text(text, encoding="utf-8")


def _write_png(path: Path, bands: np.ndarray, geotransform: tuple[float, ...]) -> None:
    """A PNG (8 or 16 bit) without GDAL sidecars, and its world file (.pgw: pixel-centre based)."""
    data_type = gdal.GDT_Byte if bands.dtype == np.uint8 else gdal.GDT_UInt16
    memory = gdal.GetDriverByName("MEM").Create("", bands.shape[2], bands.shape[1], bands.shape[0], data_type)
    for index, band in enumerate(bands, start=1):
        memory.GetRasterBand(index).WriteArray(band)
    gdal.GetDriverByName("PNG").CreateCopy(str(path), memory)
    x0, dx, rx, y0, ry, dy = geotransform
    centre_x, centre_y = x0 + dx / 2 + rx / 2, y0 + ry / 2 + dy / 2
    lines = [dx, ry, rx, dy, centre_x, centre_y]
    path.with_suffix(".pgw").write_text("".join(f"{v:.12f}\n" for v in lines), encoding="ascii")


def _write_footprints(path: Path, rows: list[dict[str, Any]], crs_wkt: str) -> None:
    """index.gpkg: one polygon per chip with the index columns."""
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = source.CreateLayer("chips", srs_of(crs_wkt), ogr.wkbPolygon)
    kinds = {"chip_id": ogr.OFTString, "image": ogr.OFTString, "label": ogr.OFTString,
             "labelled_fraction": ogr.OFTReal, "xmin": ogr.OFTReal, "ymin": ogr.OFTReal, "xmax": ogr.OFTReal,
             "ymax": ogr.OFTReal}
    for column in INDEX_COLUMNS:
        layer.CreateField(ogr.FieldDefn(column, kinds.get(column, ogr.OFTInteger)))
    layer.StartTransaction()
    for row in rows:
        feature = ogr.Feature(layer.GetLayerDefn())
        for column in INDEX_COLUMNS:
            feature.SetField(column, row[column])
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for x, y in ((row["xmin"], row["ymin"]), (row["xmax"], row["ymin"]), (row["xmax"], row["ymax"]),
                     (row["xmin"], row["ymax"]), (row["xmin"], row["ymin"])):
            ring.AddPoint_2D(x, y)
        polygon = ogr.Geometry(ogr.wkbPolygon)
        polygon.AddGeometry(ring)
        feature.SetGeometry(polygon)
        layer.CreateFeature(feature)
    layer.CommitTransaction()
    source = None


def _classes_document(image: gdal.Dataset, grid: RasterGrid, spec: LabelSpec, labels: ChipLabels,
                      options: ChipOptions, image_path: str, chip_count: int) -> dict[str, Any]:
    """classes.json of the chips folder format (schema_version 1)."""
    band_count = 3 if options.format == "PNG" else image.RasterCount
    band_names = [image.GetRasterBand(i).GetDescription() or f"band {i}" for i in range(1, band_count + 1)]
    return {
        "schema_version": 1, "ignore_value": labels.ignore_value,
        "classes": [{"value": c.value, "name": c.name, "color": c.color} for c in labels.classes],
        "band_names": band_names, "chip_size": options.chip_size, "stride": options.stride,
        "format": options.format, "crs": grid.crs_wkt, "pixel_size": list(grid.pixel_size),
        "source": {"image": str(image_path), "labels": spec.describe(), "label_field": spec.field},
        "chip_count": chip_count,
    }
