"""Detections scored against reference objects: the boxes the detection job wrote for a raster of squares, against
reference polygons (by class name) or points in another CRS (by class value) built from the same squares with some
left out and some added, give the counts these changes make; seamless:evaluatedetections writes them as HTML,
JSON and CSV, and so does the command evaluate-detections; bad input is named and writes nothing."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from osgeo import ogr, osr

from plugin.adapters.accuracy.detection_layers import assess_detections
from plugin.adapters.detect.job import DetectRequest, detect_objects
from plugin.core.detection.metrics import average_precision
from plugin.core.errors import InputError
from plugin.core.progress import LoggingProgress
from tests.cli.helpers import cli
from tests.detect.helpers import EPSG, ORIGIN, PIXEL, WINDOW, square_detector, write_raster
from tests.qgis.helpers import RecordingFeedback
from tests.support.detectors import SIZES, edge_squares, paint_squares

HEIGHT, WIDTH = 130, 150
NAMES = ("small", "large")
EXTRA = [(20, 60, 1), (100, 30, 0), (70, 120, 1)]  # (row, col, class) of reference objects with no square painted


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    squares = edge_squares(HEIGHT, WIDTH, WINDOW, 17, seed=4)
    raster = write_raster(folder / "squares.tif", paint_squares(HEIGHT, WIDTH, squares))
    detect_objects(DetectRequest(str(raster), str(square_detector(folder)), str(folder / "boxes.gpkg"),
                                 centroids_path=str(folder / "centres.gpkg")), LoggingProgress())
    reference = [s[:3] for s in squares[4:]] + EXTRA  # the first four squares are not in the reference: FP
    return {"folder": folder, "squares": squares, "reference": reference, "boxes": str(folder / "boxes.gpkg"),
            "centres": str(folder / "centres.gpkg")}


def _expected_map50(squares) -> float:
    """mAP@0.5 by hand: per class, the detections best score first, a hit unless its square was left out of the
    reference (the first four), recall over the reference's objects of the class."""
    aps = []
    for klass in (0, 1):
        mine = sorted((s for s in squares if s[2] == klass), key=lambda s: -s[3])
        hits = np.array([s not in squares[:4] for s in mine])
        references = int(hits.sum()) + sum(1 for e in EXTRA if e[2] == klass)
        tp = np.cumsum(hits)
        aps.append(average_precision(tp / references, tp / np.arange(1, len(tp) + 1)))
    return float(np.mean(aps))


def _layer(path, objects, points: bool = False, epsg: int = EPSG, named: bool = True) -> str:
    """Reference objects (row, col, class) as squares (or their centres) in EPSG ``epsg``, class in 'kind'."""
    source, target = osr.SpatialReference(), osr.SpatialReference()
    source.ImportFromEPSG(EPSG)
    target.ImportFromEPSG(epsg)
    for srs in (source, target):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    transform = osr.CoordinateTransformation(source, target)
    data = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = data.CreateLayer("reference", target, ogr.wkbPoint if points else ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("kind", ogr.OFTString if named else ogr.OFTInteger))
    for row, col, klass in objects:
        side = SIZES[klass]
        x0, y0, x1, y1 = (ORIGIN[0] + col * PIXEL, ORIGIN[1] - (row + side) * PIXEL,
                          ORIGIN[0] + (col + side) * PIXEL, ORIGIN[1] - row * PIXEL)
        wkt = f"POINT ({(x0 + x1) / 2} {(y0 + y1) / 2})" if points else \
            f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
        geometry = ogr.CreateGeometryFromWkt(wkt)
        geometry.Transform(transform)
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("kind", NAMES[klass] if named else klass + 1)
        feature.SetGeometry(geometry)
        layer.CreateFeature(feature)
    data = None
    return str(path)


def test_reference_polygons_by_name_give_the_counts_of_what_was_left_out_and_added(scene, tmp_path):
    reference = _layer(tmp_path / "reference.gpkg", scene["reference"])
    result = assess_detections(scene["boxes"], None, reference, None, "kind")
    scores, found = result.scores, len(scene["squares"])
    assert (scores.tp, scores.fp, scores.fn) == (found - 4, 4, len(EXTRA))
    assert scores.precision == pytest.approx((found - 4) / found)
    assert scores.recall == pytest.approx((found - 4) / (found - 4 + len(EXTRA)))
    assert result.classes.names == ["small", "large"]
    assert scores.map50 == pytest.approx(_expected_map50(scene["squares"])) and scores.map50 < 0.95
    assert scores.map50_95 == pytest.approx(scores.map50)  # the boxes are exact: IoU 1
    assert sum(c.references for c in scores.classes.values()) == len(scene["reference"]) and not result.notes
    by_score = assess_detections(scene["boxes"], None, reference, None, "kind", score_threshold=0.6)
    kept = [s for s in scene["squares"][4:] if s[3] >= 0.6]
    assert by_score.scores.tp == len(kept) and by_score.scores.map50 == scores.map50  # AP uses every detection


def test_reference_points_in_another_crs_by_class_value(scene, tmp_path):
    reference = _layer(tmp_path / "points.gpkg", scene["reference"], points=True, epsg=4326, named=False)
    result = assess_detections(scene["boxes"], None, reference, None, "kind", max_distance=1.0)
    found = len(scene["squares"])
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (found - 4, 4, len(EXTRA))
    assert result.scores.map50_95 is None and result.scores.matched_by == "distance"
    with pytest.raises(InputError, match="point layer: give MAX_DISTANCE"):
        assess_detections(scene["boxes"], None, reference, None, "kind")


def test_a_reference_class_no_detection_has_is_scored_as_missed_and_named(scene, tmp_path):
    objects = scene["reference"] + [(5, 5, 0)]
    reference = _layer(tmp_path / "reference.gpkg", objects)
    data = ogr.Open(str(reference), 1)
    feature = data.GetLayer(0).GetFeature(len(objects))  # the last one: a class the detector does not know
    feature.SetField("kind", "tree")
    data.GetLayer(0).SetFeature(feature)
    data = None
    result = assess_detections(scene["boxes"], None, reference, None, "kind")
    assert result.classes.names == ["small", "large", "tree"] and result.scores.classes[2].fn == 1
    assert result.notes == ["1 reference object(s) of class 'tree', which no detection has: all are counted as "
                            "missed (filter the reference layer if the detector has no such class)."]


def test_bad_inputs_are_named(scene, tmp_path):
    empty = _layer(tmp_path / "empty.gpkg", [])
    with pytest.raises(InputError, match="has no features: there is nothing to score"):
        assess_detections(scene["boxes"], None, empty, None, "kind")
    reference = _layer(tmp_path / "reference.gpkg", scene["reference"])
    with pytest.raises(InputError, match="holds points, not boxes: give the polygon layer"):
        assess_detections(scene["centres"], None, reference, None, "kind")
    with pytest.raises(InputError, match="is not a layer of detections: it has no field class_value, class_name"):
        assess_detections(reference, None, reference, None, "kind")
    with pytest.raises(InputError, match="REFERENCE_FIELD 'class' is not a field"):
        assess_detections(scene["boxes"], None, reference, None, "class")


def test_processing_run_writes_the_report_json_and_table(provider, scene, tmp_path):
    import processing

    reference = _layer(tmp_path / "reference.gpkg", scene["reference"])
    feedback = RecordingFeedback()
    outputs = {"OUTPUT_REPORT": str(tmp_path / "report.html"), "OUTPUT_JSON": str(tmp_path / "scores.json"),
               "OUTPUT_TABLE": str(tmp_path / "classes.csv")}
    result = processing.run("seamless:evaluatedetections", {"INPUT": scene["boxes"], "REFERENCE_LAYER": reference,
                                                            "REFERENCE_FIELD": "kind", **outputs}, feedback=feedback)
    found = len(scene["squares"])
    assert result["PRECISION"] == pytest.approx((found - 4) / found)
    assert result["MAP50"] == pytest.approx(_expected_map50(scene["squares"]))
    data = json.loads((tmp_path / "scores.json").read_text())
    assert (data["tp"], data["fp"], data["fn"]) == (found - 4, 4, len(EXTRA))
    assert [c["name"] for c in data["classes"]] == ["small", "large"] and data["classes"][0]["curve"]["recall"]
    with open(tmp_path / "classes.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["value"], r["name"]) for r in rows] == [("1", "small"), ("2", "large")]
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") == 2 and "mAP@0.5:0.95" in page
    assert any("TP" in line and "mAP@0.5" in line for line in feedback.lines)


def test_the_command_line_writes_the_same_figures_and_refuses_an_output_over_an_input(capsys, scene, tmp_path):
    reference = _layer(tmp_path / "points.gpkg", scene["reference"], points=True)
    result = cli(capsys, "evaluate-detections", f"{scene['boxes']}|layername=detections", "--reference-layer",
                 reference, "--reference-field", "kind", "--max-distance", "1", "--table", tmp_path / "classes.csv",
                 "--json")
    assert result.returncode == 0, result.log
    found = len(scene["squares"])
    assert (result.json["tp"], result.json["fp"], result.json["fn"]) == (found - 4, 4, len(EXTRA))
    assert result.json["matched_by"] == "distance" and "curve" not in result.json["classes"][0]
    assert (tmp_path / "classes.csv").read_text().count("\n") == 3
    refused = cli(capsys, "evaluate-detections", scene["boxes"], "--reference-layer", reference,
                  "--reference-field", "kind", "--max-distance", "1", "--json-output", tmp_path / "points.gpkg")
    assert refused.returncode == 2 and "OUTPUT_JSON" in refused.stderr
    missing = cli(capsys, "evaluate-detections", scene["boxes"], "--reference-layer", reference,
                  "--reference-field", "kind")
    assert missing.returncode == 2 and "give MAX_DISTANCE" in missing.stderr
