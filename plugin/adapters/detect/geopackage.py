"""The detections written as GeoPackage layers: one polygon per box (oriented boxes turned) and, optionally, one
point per box centre, each with its class value, class name, score and the window that reported it.

Boxes come in the processing area's pixels; they are placed on the ground as the raster is: by its
geotransform (rotated ones included), by its ground control points (GDAL's polynomial transformer), or, for a
raster without georeferencing, in pixel units with y pointing up (x = column, y = -row: where QGIS draws such a
raster). Features are written in one transaction per layer, in the order the run decides them.

Where the output goes (:func:`parse_destination`): a path (``boxes.gpkg``: layer ``detections``, or
``centroids``), a path with a layer name (``project.gpkg|layername=trees``) or QGIS's
``ogr:dbname='project.gpkg' table="trees"``. The file is written anew under a temporary name and renamed
when the run succeeds, so an existing GeoPackage is replaced as a whole: one that holds other layers than the
one written is refused (:func:`check_destination`) rather than losing them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from osgeo import gdal, ogr, osr

from ...core.areas.window import PixelWindow
from ...core.detection.detections import Detections
from ...core.detection.merger import FinishedDetections
from ...core.errors import OutputError
from ...core.model.contract import ClassInfo
from ..inputs.gdal_grid import RasterGrid
from ..inputs.georeferencing import Georeferencing

ogr.UseExceptions()

POLYGON_LAYER, POINT_LAYER = "detections", "centroids"
_OGR_URI = re.compile(r"^ogr:dbname='(?P<path>(?:[^']|'')*)'(?:\s+table=\"(?P<table>(?:[^\"]|\"\")*)\")?")
_BOOKKEEPING = ("gpkg_", "gpkgext_", "rtree_", "sqlite_", "layer_styles")
PixelMapper = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Destination:
    """A GeoPackage file and the layer written into it."""

    path: str
    layer: str

    @property
    def uri(self) -> str:
        """The layer as QGIS and OGR name it."""
        return f"{self.path}|layername={self.layer}"


def parse_destination(text: str, default_layer: str) -> Destination:
    """The file and layer of a destination as QGIS writes it (see the module's description)."""
    text = str(text).strip()
    match = _OGR_URI.match(text)
    if match:
        table = match["table"].replace('""', '"') if match["table"] else ""
        return Destination(match["path"].replace("''", "'"), table or default_layer)
    path, _, options = text.partition("|")
    layer = default_layer
    for option in options.split("|") if options else []:
        key, _, value = option.partition("=")
        if key.strip().lower() == "layername" and value.strip():
            layer = value.strip()
    return Destination(path, layer)


def existing_layers(path: str) -> list[str] | None:
    """The layers and tables of an existing GeoPackage other than its bookkeeping; None when ``path`` is not a
    GeoPackage OGR can open (or does not exist)."""
    if not Path(path).is_file():
        return None
    try:
        data = gdal.OpenEx(path, gdal.OF_VECTOR | gdal.OF_READONLY, allowed_drivers=["GPKG"])
    except RuntimeError:
        return None
    if data is None:
        return None
    names = [data.GetLayerByIndex(i).GetName() for i in range(data.GetLayerCount())]
    data = None
    return [n for n in names if not n.lower().startswith(_BOOKKEEPING)]


def check_destination(parameter: str, target: Destination) -> None:
    """Refuse, before anything is written, an existing GeoPackage that holds layers other than the one written:
    the new file would replace it, and them with it."""
    others = [n for n in existing_layers(target.path) or [] if n.casefold() != target.layer.casefold()]
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise OutputError(f"{parameter} '{target.path}' is a GeoPackage that already holds other layers ({shown}); "
                          "the detections are written as a new file that would replace it, and those layers with it. "
                          "Choose a new file name (or remove those layers first).")


def pixel_mapper(grid: RasterGrid, area: PixelWindow, georeferencing: Georeferencing | None) -> PixelMapper:
    """Area pixels (n, 2) -> map coordinates (n, 2), as the raster is placed (see the module's description)."""
    if grid.georeferenced:
        x0, dx, rx, y0, ry, dy = grid.geotransform

        def by_geotransform(points: np.ndarray) -> np.ndarray:
            col, row = points[:, 0] + area.col, points[:, 1] + area.row
            return np.column_stack([x0 + col * dx + row * rx, y0 + col * ry + row * dy])
        return by_geotransform
    if georeferencing is not None and georeferencing.gcps:
        return _gcp_mapper(grid, area, georeferencing)
    return lambda points: np.column_stack([points[:, 0] + area.col, -(points[:, 1] + area.row)])


def _gcp_mapper(grid: RasterGrid, area: PixelWindow, georeferencing: Georeferencing) -> PixelMapper:
    carrier = gdal.GetDriverByName("MEM").Create("", grid.width, grid.height, 1)
    carrier.SetGCPs(list(georeferencing.gcps), georeferencing.gcp_crs_wkt)
    transformer = gdal.Transformer(carrier, None, ["METHOD=GCP_POLYNOMIAL"])

    def by_gcps(points: np.ndarray) -> np.ndarray:
        if not len(points):
            return np.zeros((0, 2))
        shifted = [(float(x) + area.col, float(y) + area.row) for x, y in points]
        placed, _ = transformer.TransformPoints(0, shifted)
        return np.array([(p[0], p[1]) for p in placed], np.float64)
    by_gcps.keep = (carrier, transformer)  # type: ignore[attr-defined]  # alive as long as the mapper
    return by_gcps


@dataclass(frozen=True)
class Placement:
    """How the pixels of a run's area lie on the ground: the grid the engine ran on, the area on it, and the
    raster's georeferencing (None for a view warped to the detector's resolution, whose grid says it all)."""

    grid: RasterGrid
    area: PixelWindow
    georeferencing: Georeferencing | None

    @property
    def crs_wkt(self) -> str:
        """The CRS the detections are written in (the raster's, or its GCPs')."""
        if self.grid.georeferenced or self.georeferencing is None:
            return self.grid.crs_wkt
        return self.georeferencing.gcp_crs_wkt if self.georeferencing.gcps else ""

    def mapper(self) -> PixelMapper:
        return pixel_mapper(self.grid, self.area, self.georeferencing)


class DetectionLayers:
    """A :class:`..core.detection.run.DetectionSink` writing the detections' polygons (and centroids)."""

    def __init__(self, polygons: tuple[str, str], points: tuple[str, str] | None, crs_wkt: str,
                 classes: Sequence[ClassInfo], to_map: PixelMapper, oriented: bool) -> None:
        self.classes, self.to_map, self.oriented = list(classes), to_map, oriented
        self.counts: dict[int, int] = {}  # class index -> detections written
        srs = None
        if crs_wkt:
            srs = osr.SpatialReference()
            srs.ImportFromWkt(crs_wkt)
            srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        self._layers: list[tuple[ogr.DataSource, ogr.Layer, bool]] = []
        self.written = [(Destination(path, name).uri, is_points) for (path, name), is_points in
                        [(polygons, False)] + ([(points, True)] if points else [])]  # (layer uri, points)
        targets = [(polygons, ogr.wkbPolygon, False)] + ([(points, ogr.wkbPoint, True)] if points else [])
        for (path, name), geometry, is_points in targets:
            data = ogr.GetDriverByName("GPKG").CreateDataSource(path)
            if data is None:
                raise OutputError(f"Cannot create the GeoPackage '{path}'; check the output folder.")
            layer = data.CreateLayer(name, srs, geometry, ["FID=fid"])
            self._add_fields(layer)
            data.StartTransaction()
            self._layers.append((data, layer, is_points))

    def _add_fields(self, layer: ogr.Layer) -> None:
        fields = [("class_value", ogr.OFTInteger), ("class_name", ogr.OFTString), ("score", ogr.OFTReal),
                  ("window_row", ogr.OFTInteger), ("window_col", ogr.OFTInteger)]
        if self.oriented:
            fields.append(("angle_deg", ogr.OFTReal))
        for name, kind in fields:
            layer.CreateField(ogr.FieldDefn(name, kind))

    def write(self, part: FinishedDetections) -> None:
        found = part.detections
        if not len(found):
            return
        corners = self.to_map(found.polygons().reshape(-1, 2)).reshape(-1, 4, 2)
        centres = self.to_map(found.centres())
        for value, count in zip(*np.unique(found.classes, return_counts=True)):
            self.counts[int(value)] = self.counts.get(int(value), 0) + int(count)
        angles = np.degrees(found.rotated_or_axis()[:, 4]) if self.oriented else None
        for _, layer, is_points in self._layers:
            definition = layer.GetLayerDefn()
            for i in range(len(found)):
                feature = ogr.Feature(definition)
                self._fill(feature, found, i, angles)
                feature.SetGeometry(_point(centres[i]) if is_points else _ring(corners[i]))
                layer.CreateFeature(feature)

    def _fill(self, feature: ogr.Feature, found: Detections, i: int, angles: np.ndarray | None) -> None:
        info = self.classes[int(found.classes[i])]
        feature.SetField("class_value", int(info.value))
        feature.SetField("class_name", info.name)
        feature.SetField("score", round(float(found.scores[i]), 6))
        feature.SetField("window_row", int(found.windows[i, 0]))
        feature.SetField("window_col", int(found.windows[i, 1]))
        if angles is not None:  # clockwise on the map for a north-up raster (the raster's y axis points down)
            feature.SetField("angle_deg", round(float(angles[i]), 4))

    def close(self) -> None:
        """Commit and close every layer (also after a failure: the temporary files are removed anyway)."""
        layers, self._layers = self._layers, []
        for data, _, _ in layers:
            data.CommitTransaction()
            data.FlushCache()
        del layers


def _ring(corners: np.ndarray) -> ogr.Geometry:
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in [*corners, corners[0]]:
        ring.AddPoint_2D(float(x), float(y))
    polygon = ogr.Geometry(ogr.wkbPolygon)
    polygon.AddGeometry(ring)
    return polygon


def _point(centre: np.ndarray) -> ogr.Geometry:
    point = ogr.Geometry(ogr.wkbPoint)
    point.AddPoint_2D(float(centre[0]), float(centre[1]))
    return point
