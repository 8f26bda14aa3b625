"""What the cell tests share: script-built cell models for the Sentinel-2 test scene, and what they must give."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr

from tests.support.cell_models import (
    class_output,
    contract_for,
    mean_classifier,
    mean_embedder,
    mean_regressor,
    window_means,
)
from tests.support.data import S2_IMAGE

SCALE = 1e-4  # Sentinel-2 L1C reflectance x 10000 -> reflectance
S2_CLASSES = [{"value": v, "name": n, "color": c} for v, n, c in
              ((1, "blue", "#0072b2"), (2, "green", "#009e73"), (3, "red", "#d55e00"), (4, "near infrared", "#cc79a7"))]


def classifier(folder: Path, size: int = 16, border: int = 0, gain: float = 1.0) -> Path:
    """The brightest of the scene's four bands over each window, as classes 1 to 4."""
    contract = contract_for("classification", 4, [{"name": "scores", "kind": "logits", "classes": S2_CLASSES}],
                            size, border, SCALE)
    return mean_classifier(folder / f"classifier_{size}_{border}.onnx", 4, size, contract, gain)


def regressor(folder: Path, size: int = 16, border: int = 0) -> Path:
    """The mean near-infrared reflectance of each window, in [0, 1]."""
    output = {"name": "value", "kind": "regression", "units": "reflectance", "valid_range": [0.0, 1.0]}
    return mean_regressor(folder / f"regressor_{size}_{border}.onnx", 4, 3, size,
                          contract_for("classification", 4, [output], size, border, SCALE))


def embedder(folder: Path, size: int = 16, dimensions: int = 8, border: int = 0) -> Path:
    """The band means (reflectance) of each window times :func:`embedding_matrix`: a vector per window."""
    contract = contract_for("embedding", 4, [{"name": "embedding", "kind": "embedding"}], size, border, SCALE)
    return mean_embedder(folder / f"embedder_{size}_{dimensions}_{border}.onnx", 4, dimensions, size, contract)


def segmentation_classifier_contract() -> dict:
    return contract_for("classification", 4, [class_output(4)], 16)


def s2_pixels(col: int, row: int, width: int, height: int) -> np.ndarray:
    """(4, height, width) raw values of the scene."""
    dataset = gdal.Open(str(S2_IMAGE))
    return dataset.ReadAsArray(col, row, width, height).astype(np.float64)


def expected_means(col: int, row: int, width: int, height: int, cell: int, border: int = 0) -> np.ndarray:
    """(rows, cols, 4) band means (reflectance) of every cell's window over an area of the scene well inside it
    (partial cells at the area's far edges read the real pixels beyond it)."""
    rows, cols = -(-height // cell), -(-width // cell)
    raw = s2_pixels(col - border, row - border, cols * cell + 2 * border, rows * cell + 2 * border) * SCALE
    return window_means(raw, cell + 2 * border, cell, 0)[:rows, :cols]


def area_extent(col: int, row: int, width: int, height: int) -> tuple[float, float, float, float]:
    """The map extent of a pixel window of the scene (the extent rule selects exactly those pixels)."""
    x0, dx, _, y0, _, dy = gdal.Open(str(S2_IMAGE)).GetGeoTransform()
    return x0 + col * dx, y0 + (row + height) * dy, x0 + (col + width) * dx, y0 + row * dy


def read_raster(path: Path | str) -> tuple[np.ndarray, tuple, float | None]:
    dataset = gdal.Open(str(path))
    return dataset.ReadAsArray(), dataset.GetGeoTransform(), dataset.GetRasterBand(1).GetNoDataValue()


def read_features(path: Path | str) -> list[dict]:
    source = ogr.Open(str(path))
    layer = source.GetLayer(0)
    definition = layer.GetLayerDefn()
    binary = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())
              if definition.GetFieldDefn(i).GetType() == ogr.OFTBinary]
    features = [{**feature.items(), **{name: feature.GetFieldAsBinary(name) for name in binary},
                 "wkt": feature.GetGeometryRef().ExportToWkt()} for feature in layer]
    layer, source = None, None
    return features


# ---- similarity examples ---------------------------------------------------------------------------------------
AREA = (400, 300, 160, 128)  # the similarity tests' area of the scene: 10 x 8 cells of 16 px
POINTS = [((2, 3), "water"), ((5, 1), "water"), ((7, 7), "field"), ((0, 9), "field"), ((4, 4), "town"),
          ((-3, 2), "town")]  # (cell row, cell col) of the area's grid; the last lies above the area


def _srs() -> osr.SpatialReference:
    return osr.SpatialReference(wkt=gdal.Open(str(S2_IMAGE)).GetProjection())


def cell_centre(row: int, col: int) -> tuple[float, float]:
    """Map coordinates of the centre of cell (row, col) of :data:`AREA`'s grid of 16 px cells (10 m pixels)."""
    xmin, _, _, ymax = area_extent(*AREA)
    return xmin + (col + 0.5) * 160, ymax - (row + 0.5) * 160


def write_examples(path, points=POINTS, crs=None, polygon=None) -> str:
    """A GeoPackage of example points (a text field 'kind'), each inside its cell of :data:`AREA`'s grid but off
    its centre, in ``crs`` if given (else the scene's), with a polygon of class 'field' if given."""
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = _srs()
    layer = source.CreateLayer("examples", crs or srs, ogr.wkbUnknown)
    layer.CreateField(ogr.FieldDefn("kind", ogr.OFTString))
    transform = osr.CoordinateTransformation(srs, crs) if crs is not None else None
    for (row, col), kind in points:
        feature = ogr.Feature(layer.GetLayerDefn())
        x, y = cell_centre(row, col)
        point = ogr.CreateGeometryFromWkt(f"POINT ({x + 37} {y - 21})")
        if transform is not None:
            point.Transform(transform)
        feature.SetGeometry(point)
        feature.SetField("kind", kind)
        layer.CreateFeature(feature)
    if polygon is not None:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkt(polygon))
        feature.SetField("kind", "field")
        layer.CreateFeature(feature)
    feature, layer, source = None, None, None
    return str(path)
