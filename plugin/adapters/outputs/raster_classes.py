"""Class names and colours inside class rasters, so any tool can read them back.

Written three ways: a GDAL colour table (QGIS styles the layer as paletted from it), GDAL category
names (a raster attribute table QGIS and ArcGIS read, kept in the ``.aux.xml`` sidecar for GeoTIFF)
and one JSON metadata item, ``SEAMLESS_CLASSES``, stored inside the GeoTIFF itself.
"""
from __future__ import annotations

import json
from typing import Sequence

from osgeo import gdal

from ...core.model.contract import ClassInfo

CLASSES_METADATA_KEY = "SEAMLESS_CLASSES"


def write_classes(dataset: gdal.Dataset, band_index: int, classes: Sequence[ClassInfo]) -> None:
    """Attach colour table, category names and the JSON item for ``classes`` to one band.

    GeoTIFF holds a colour table on its first band only: the classes of further bands (models with
    several outputs) are kept as category names and the JSON item, which carry the colours too.
    """
    band = dataset.GetRasterBand(band_index)
    if band_index == 1 or dataset.GetDriver().ShortName != "GTiff":
        table = gdal.ColorTable()
        for info in classes:
            table.SetColorEntry(info.value, (*info.rgb(), 255))
        band.SetRasterColorTable(table)
        band.SetRasterColorInterpretation(gdal.GCI_PaletteIndex)
    if max(c.value for c in classes) < 1024:
        names = [""] * (max(c.value for c in classes) + 1)
        for info in classes:
            names[info.value] = info.name
        band.SetCategoryNames(names)
    payload = json.dumps([{"value": c.value, "name": c.name, "color": c.color} for c in classes])
    band.SetMetadataItem(CLASSES_METADATA_KEY, payload)
    if band_index == 1:
        dataset.SetMetadataItem(CLASSES_METADATA_KEY, payload)


def read_classes(dataset: gdal.Dataset, band_index: int = 1) -> list[ClassInfo] | None:
    """Classes of a class raster: the JSON item if present, else category names and colour table."""
    band = dataset.GetRasterBand(band_index)
    payload = band.GetMetadataItem(CLASSES_METADATA_KEY) or dataset.GetMetadataItem(CLASSES_METADATA_KEY)
    if payload:
        try:
            return [ClassInfo(int(c["value"]), str(c["name"]), str(c["color"])) for c in json.loads(payload)]
        except (ValueError, KeyError, TypeError):
            pass
    names = band.GetCategoryNames()
    if not names:
        return None
    table = band.GetRasterColorTable()
    classes = []
    for value, name in enumerate(names):
        if not name:
            continue
        color = "#808080"
        if table is not None and value < table.GetCount():
            r, g, b = table.GetColorEntry(value)[:3]
            color = f"#{r:02x}{g:02x}{b:02x}"
        classes.append(ClassInfo(value, name, color))
    return classes
