"""The detection job (plugin/adapters/detect) on georeferenced GeoTIFFs with the square detectors: the GeoPackage
holds every square once, where one whole-raster pass puts it (objects on every window edge and corner); EXTENT
and MASK keep exactly the detections centred in them; oriented boxes become turned polygons; the layers, their
fields, their CRS and the centroids; an existing GeoPackage is replaced only when it holds nothing else; bad
detectors, cancelled runs and failed runs leave nothing behind."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from plugin.adapters.detect.job import DetectRequest, detect_objects
from plugin.adapters.detect.report import report_detection
from plugin.core.detection.plan import required_overlap
from plugin.core.errors import CancelledError, ModelError, OutputError
from plugin.core.progress import LoggingProgress
from tests.detect.helpers import (
    EPSG,
    ORIGIN,
    PIXEL,
    WINDOW,
    expected,
    pixel_boxes,
    read_features,
    square_detector,
    write_raster,
)
from tests.support.data import leftover_files
from tests.support.detectors import SIZES, build_detector, detector_contract, edge_squares, paint_squares

HEIGHT, WIDTH = 171, 203


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A raster whose squares sit across every window edge and on the corners where four windows meet."""
    folder = tmp_path_factory.mktemp("scene")
    squares = edge_squares(HEIGHT, WIDTH, WINDOW, required_overlap(max(SIZES), 1))
    assert len(squares) > 50
    return {"squares": squares, "raster": write_raster(folder / "squares.tif", paint_squares(HEIGHT, WIDTH, squares)),
            "model": square_detector(folder), "folder": folder}


def run(scene, tmp_path, **options):
    request = DetectRequest(str(scene["raster"]), str(scene["model"]), str(tmp_path / "boxes.gpkg"), **options)
    progress = LoggingProgress()
    result = detect_objects(request, progress)
    report_detection(result, progress)
    return result, progress


def test_each_object_is_written_once_where_a_whole_raster_pass_finds_it(scene, tmp_path):
    result, progress = run(scene, tmp_path, centroids_path=str(tmp_path / "centres.gpkg"))
    features = read_features(tmp_path / "boxes.gpkg", "detections")
    assert pixel_boxes(features) == expected(scene["squares"])
    assert len(features) == len(scene["squares"])
    assert {f["class_name"] for f in features} == {"small", "large"}
    assert len({(f["window_row"], f["window_col"]) for f in features}) > 6  # many windows reported them
    counts = result.class_counts()
    assert counts == {"small": sum(1 for s in scene["squares"] if s[2] == 0),
                      "large": sum(1 for s in scene["squares"] if s[2] == 1)}
    assert any(line.strip().startswith("large:") for line in progress.messages)
    centres = read_features(tmp_path / "centres.gpkg", "centroids")
    assert sorted((c["envelope"][0], c["envelope"][2]) for c in centres) == \
        sorted(((f["envelope"][0] + f["envelope"][1]) / 2, (f["envelope"][2] + f["envelope"][3]) / 2)
               for f in features)
    data = ogr.Open(str(tmp_path / "boxes.gpkg"))
    srs = data.GetLayer(0).GetSpatialRef()
    assert srs is not None and srs.GetAuthorityCode(None) == str(EPSG)
    assert leftover_files(tmp_path) == ["boxes.gpkg", "centres.gpkg"]  # no temporary file left


def _window(extent: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    xmin, ymin, xmax, ymax = extent
    return (round((xmin - ORIGIN[0]) / PIXEL), round((ORIGIN[1] - ymax) / PIXEL), round((xmax - ORIGIN[0]) / PIXEL),
            round((ORIGIN[1] - ymin) / PIXEL))


def _visible_in(squares, col0: int, row0: int, col1: int, row1: int, inside=None) -> set[tuple]:
    """Whole-pass detections a run over columns col0..col1, rows row0..row1 reports. The run reads nothing beyond
    the area (its windows are flush with the area's edges), so it sees what a whole pass over the area cut out
    would see: a square whose corner is inside the area, not on its first row or column (the detector needs the
    pixels above and left of it), its box clipped to the area (a square cut by the area's right or bottom edge is
    reported cut, as the user's extent cuts it), and with a mask its centre, as the window sees it, on ``inside``
    pixels."""
    found = set()
    for x1, y1, x2, y2, score, klass in expected(squares):
        if not (col0 < x1 < col1 and row0 < y1 < row1):
            continue
        cx, cy = min(int((x1 + x2) / 2), col1 - 1), min(int((y1 + y2) / 2), row1 - 1)
        if inside is not None and not inside[cy, cx]:
            continue
        found.add((x1, y1, min(x2, col1), min(y2, row1), score, klass))
    return found


def test_an_extent_keeps_the_detections_centred_in_it(scene, tmp_path):
    extent = (ORIGIN[0] + 31 * PIXEL, ORIGIN[1] - 140 * PIXEL, ORIGIN[0] + 170 * PIXEL, ORIGIN[1] - 23 * PIXEL)
    run(scene, tmp_path, extent=extent)
    found = pixel_boxes(read_features(tmp_path / "boxes.gpkg"))
    wanted = _visible_in(scene["squares"], *_window(extent))
    assert found == wanted and len(wanted) > 20
    assert len(wanted) < len(scene["squares"])


def _mask(path, corners_px) -> str:
    """A polygon (raster pixel corners) in WGS 84, as a user's mask in another CRS would be."""
    source = osr.SpatialReference()
    source.ImportFromEPSG(EPSG)
    target = osr.SpatialReference()
    target.ImportFromEPSG(4326)
    target.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for col, row in [*corners_px, corners_px[0]]:
        ring.AddPoint_2D(ORIGIN[0] + col * PIXEL, ORIGIN[1] - row * PIXEL)
    polygon = ogr.Geometry(ogr.wkbPolygon)
    polygon.AddGeometry(ring)
    polygon.AssignSpatialReference(source)
    polygon.TransformTo(target)
    data = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = data.CreateLayer("mask", target, ogr.wkbPolygon)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(polygon)
    layer.CreateFeature(feature)
    data = None
    return str(path)


def _burnt(mask_path: str, raster) -> np.ndarray:
    """The mask on the raster's grid, as the run burns it (pixel centres inside the polygon)."""
    grid = gdal.Open(str(raster))
    target = gdal.GetDriverByName("MEM").Create("", grid.RasterXSize, grid.RasterYSize, 1, gdal.GDT_Byte)
    target.SetGeoTransform(grid.GetGeoTransform())
    target.SetProjection(grid.GetProjection())
    gdal.Rasterize(target, mask_path, burnValues=[1])
    return target.ReadAsArray().astype(bool)


def test_a_mask_keeps_the_detections_centred_on_its_pixels(scene, tmp_path):
    mask = _mask(tmp_path / "mask.gpkg", [(20, 30), (180, 12), (150, 160), (40, 120)])
    run(scene, tmp_path, mask_path=mask)
    inside = _burnt(mask, scene["raster"])
    rows, cols = np.nonzero(inside)
    found = pixel_boxes(read_features(tmp_path / "boxes.gpkg"))
    wanted = _visible_in(scene["squares"], cols.min(), rows.min(), cols.max() + 1, rows.max() + 1, inside)
    assert found == wanted and 10 < len(wanted) < len(scene["squares"]) - 10


def test_oriented_boxes_are_written_as_turned_polygons_with_their_angle(tmp_path):
    squares = [(10, 10, 0, 0.8), (30, 40, 1, 0.6)]
    raster = write_raster(tmp_path / "two.tif", paint_squares(64, 64, squares))
    model = build_detector(tmp_path / "obb.onnx", "yolo_obb", contract=detector_contract("yolo_obb", tile=WINDOW))
    detect_objects(DetectRequest(str(raster), str(model), str(tmp_path / "obb.gpkg")), LoggingProgress())
    features = read_features(tmp_path / "obb.gpkg")
    assert pixel_boxes(features) == expected(squares)  # a square turned by a quarter turn covers itself
    assert all(abs(f["angle_deg"] - 90) < 1e-3 for f in features)
    assert all(f["geometry"].startswith("POLYGON") for f in features)


def test_a_layer_name_is_used_and_a_geopackage_holding_other_layers_is_refused(scene, tmp_path):
    target = tmp_path / "project.gpkg"
    request = DetectRequest(str(scene["raster"]), str(scene["model"]), f"{target}|layername=squares")
    detect_objects(request, LoggingProgress())
    assert len(read_features(target, "squares")) == len(scene["squares"])
    detect_objects(request, LoggingProgress())  # a file holding only that layer is replaced by the new run
    assert len(read_features(target, "squares")) == len(scene["squares"])
    other = DetectRequest(str(scene["raster"]), str(scene["model"]), f"{target}|layername=more")
    before = target.read_bytes()
    with pytest.raises(OutputError, match="already holds other layers \\(squares\\).*Choose a new file name"):
        detect_objects(other, LoggingProgress())
    assert target.read_bytes() == before
    mask = _mask(tmp_path / "mask.gpkg", [(20, 30), (180, 12), (150, 160)])
    with pytest.raises(OutputError, match="OUTPUT_CENTROIDS '.*mask.gpkg' is the same file as MASK"):
        detect_objects(DetectRequest(str(scene["raster"]), str(scene["model"]), str(tmp_path / "new.gpkg"),
                                     mask_path=mask, centroids_path=mask), LoggingProgress())
    assert not (tmp_path / "new.gpkg").exists()


def test_a_detector_whose_boxes_all_fall_outside_its_windows_is_refused(scene, tmp_path):
    model = build_detector(tmp_path / "shifted.onnx", "anchors", shift=500.0,
                           contract=detector_contract("anchors", tile=WINDOW))
    request = DetectRequest(str(scene["raster"]), str(model), str(tmp_path / "boxes.gpkg"))
    with pytest.raises(ModelError, match="all centred outside the 64 x 64 px windows.*outputs\\[\\]\\.kind"):
        detect_objects(request, LoggingProgress())
    assert leftover_files(tmp_path) == ["shifted.onnx"]


class _CancelAfter(LoggingProgress):
    def __init__(self, fractions: int) -> None:
        super().__init__()
        self.left = fractions

    def set_fraction(self, fraction: float) -> None:
        self.left -= 1

    def is_cancelled(self) -> bool:
        return self.left <= 0


def test_a_cancelled_run_writes_nothing(scene, tmp_path):
    request = DetectRequest(str(scene["raster"]), str(scene["model"]), str(tmp_path / "boxes.gpkg"),
                            centroids_path=str(tmp_path / "centres.gpkg"))
    with pytest.raises(CancelledError):
        detect_objects(request, _CancelAfter(3))
    assert leftover_files(tmp_path) == []


def test_min_score_and_a_segmentation_model_are_checked_before_anything_is_written(scene, tmp_path):
    request = DetectRequest(str(scene["raster"]), str(scene["model"]), str(tmp_path / "boxes.gpkg"), min_score=0.7)
    detect_objects(request, LoggingProgress())
    found = pixel_boxes(read_features(tmp_path / "boxes.gpkg"))
    assert found == {box for box in expected(scene["squares"]) if box[4] >= 0.7}
    with pytest.raises(Exception, match="MIN_SCORE must be from 0 to 1, got 1.5"):
        detect_objects(DetectRequest(str(scene["raster"]), str(scene["model"]), str(tmp_path / "x.gpkg"),
                                     min_score=1.5), LoggingProgress())
    assert not (tmp_path / "x.gpkg").exists()
