"""What the detection tests share: the square detectors of tests/support/detectors.py written as ONNX files, their
rasters written as georeferenced GeoTIFFs, and the GeoPackage layers a run writes read back into pixel boxes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from osgeo import gdal, ogr, osr

from tests.support.detectors import build_detector, detector_contract, expected_boxes

ORIGIN, PIXEL, EPSG = (500000.0, 5000000.0), 0.5, 32633
WINDOW = 64  # the square detectors' window in these tests (contract tile size)


def square_detector(folder: Path, layout: str = "anchors", name: str | None = None, **contract: Any) -> Path:
    """A square detector with its contract embedded (classes 'small', side 8, and 'large', side 12)."""
    return build_detector(folder / (name or f"{layout}.onnx"), layout,
                          contract=detector_contract(layout, tile=WINDOW, **contract))


def write_raster(path: Path, raster: np.ndarray, origin: tuple[float, float] = ORIGIN, pixel: float = PIXEL,
                 epsg: int = EPSG, data_type: int = gdal.GDT_Float32) -> Path:
    """(bands, height, width) values as a tiled GeoTIFF, north-up, ``pixel`` metres, in EPSG ``epsg``."""
    bands, height, width = raster.shape
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), width, height, bands, data_type, ["TILED=YES"])
    dataset.SetGeoTransform((origin[0], pixel, 0.0, origin[1], 0.0, -pixel))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    dataset.SetProjection(srs.ExportToWkt())
    for band in range(bands):
        dataset.GetRasterBand(band + 1).WriteArray(raster[band])
    dataset = None
    return path


def read_features(path: Path | str, layer_name: str | None = None) -> list[dict[str, Any]]:
    """Every feature of a layer: its fields and its geometry's envelope (xmin, xmax, ymin, ymax) or point."""
    data = ogr.Open(str(path))
    layer = data.GetLayerByName(layer_name) if layer_name else data.GetLayer(0)
    assert layer is not None, f"no layer {layer_name} in {path}"
    features = []
    for feature in layer:
        item = {k: feature.GetField(k) for k in feature.keys()}
        geometry = feature.GetGeometryRef()
        item["envelope"] = geometry.GetEnvelope()
        item["geometry"] = geometry.ExportToWkt()
        features.append(item)
    data = None
    return features


def pixel_boxes(features: list[dict[str, Any]], origin: tuple[float, float] = ORIGIN, pixel: float = PIXEL,
                first_value: int = 1) -> set[tuple]:
    """The polygons' envelopes back in raster pixels: (x1, y1, x2, y2, score, class index), as
    :func:`tests.support.detectors.expected_boxes` gives them."""
    boxes = set()
    for item in features:
        xmin, xmax, ymin, ymax = item["envelope"]
        box = ((xmin - origin[0]) / pixel, (origin[1] - ymax) / pixel, (xmax - origin[0]) / pixel,
               (origin[1] - ymin) / pixel)
        boxes.add(tuple(round(v, 4) for v in box) + (round(item["score"], 6), item["class_value"] - first_value))
    return boxes


def expected(squares: list[tuple[int, int, int, float]]) -> set[tuple]:
    """What one whole-raster pass detects, rounded as :func:`pixel_boxes` rounds."""
    return {tuple(round(v, 4) for v in box[:4]) + box[4:] for box in expected_boxes(squares)}
