"""``seamless:evaluate`` through Processing: processing.run, checkParameterValues, qgis_process, outputs."""
from __future__ import annotations

import base64
import csv
import json
import re

import numpy as np
import pytest
from osgeo import gdal

from tests.accuracy.helpers import NODATA, S2_LABELS, S2_POLYGONS, point_layer, utm33, write_class_raster

gdal.UseExceptions()

ALGORITHM = "seamless:evaluate"


@pytest.fixture()
def run(provider):
    import processing
    from qgis.core import QgsProcessingFeedback

    class RecordingFeedback(QgsProcessingFeedback):
        def __init__(self) -> None:
            super().__init__()
            self.warnings: list[str] = []
            self.infos: list[str] = []

        def pushWarning(self, warning: str) -> None:  # noqa: N802 - QGIS API name
            self.warnings.append(warning)
            super().pushWarning(warning)

        def pushInfo(self, info: str) -> None:  # noqa: N802 - QGIS API name
            self.infos.append(info)
            super().pushInfo(info)

    def _run(parameters: dict):
        feedback = RecordingFeedback()
        results = processing.run(ALGORITHM, parameters, feedback=feedback)
        return results, feedback

    return _run


def check(provider, parameters: dict) -> tuple[bool, str]:
    from qgis.core import QgsApplication, QgsProcessingContext

    algorithm = QgsApplication.processingRegistry().createAlgorithmById(ALGORITHM)
    return algorithm.checkParameterValues(parameters, QgsProcessingContext())


def test_hand_made_rasters_give_the_scores_worked_out_by_hand(run, classified, tmp_path):
    # 5 x 5 pixels: 20 hand-made pairs (matrix [[4,1,0],[1,3,1],[0,2,8]]), 2 nodata in the classification
    # and 3 unlabelled (0) in the reference; po = 0.75, pe = 145/400, kappa = 31/51, IoU 4/6, 3/8, 8/11.
    reference = [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 2, 0, 0, 0]
    predicted = [1, 1, 1, 1, 2, 1, 2, 2, 2, 3, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 255, 255, 1, 2, 3]
    geotransform = (500000.0, 2.0, 0.0, 5800000.0, 0.0, -2.0)
    wkt = gdal.Open(str(classified.path)).GetProjection()
    ref_path = write_class_raster(tmp_path / "reference.tif", np.array(reference, np.uint8).reshape(5, 5),
                                  geotransform, wkt, nodata=None, infos=())
    cls_path = write_class_raster(tmp_path / "classified.tif", np.array(predicted, np.uint8).reshape(5, 5),
                                  geotransform, wkt, infos=())
    results, _ = run({"INPUT": str(cls_path), "REFERENCE": str(ref_path), "REFERENCE_NODATA": 0,
                      "OUTPUT_JSON": str(tmp_path / "hand.json")})
    assert results["OVERALL_ACCURACY"] == pytest.approx(0.75)
    assert results["KAPPA"] == pytest.approx(31 / 51)
    assert results["MEAN_IOU"] == pytest.approx((4 / 6 + 3 / 8 + 8 / 11) / 3)
    document = json.loads((tmp_path / "hand.json").read_text())
    assert document["confusion_matrix"]["rows"] == [[4, 1, 0], [1, 3, 1], [0, 2, 8]]
    assert document["pixel_area"] == 4.0 and document["area_unit"] == "m²"
    assert [c["reference_area"] for c in document["classes"]] == [20.0, 20.0, 40.0]


def test_class_names_reach_the_report_the_json_and_the_table(run, classified, tmp_path):
    results, feedback = run({"INPUT": str(classified.path), "REFERENCE_LAYER": str(S2_POLYGONS),
                             "REFERENCE_FIELD": "fclass", "OUTPUT_REPORT": str(tmp_path / "report.html"),
                             "OUTPUT_JSON": str(tmp_path / "report.json"), "OUTPUT_TABLE": "TEMPORARY_OUTPUT"})
    document = json.loads((tmp_path / "report.json").read_text())
    names = [c["name"] for c in document["classes"]]
    assert names == ["farm", "meadow", "forest", "water", "grass", "residential", "scrub", "wetland"]
    assert document["overall_accuracy"] == pytest.approx(results["OVERALL_ACCURACY"])
    assert [c["name"] for c in document["reference_only_classes"]] == ["grass", "residential", "scrub", "wetland"]
    table = results["OUTPUT_TABLE"]
    rows = {f["name"]: f for f in table.getFeatures()}
    assert list(rows) == names and table.wkbType() == 100  # QgsWkbTypes.NoGeometry
    assert rows["water"]["users_accuracy"] == pytest.approx(document["classes"][3]["users_accuracy"])
    assert rows["water"]["mapped_area"] == pytest.approx(100.0 * int((classified.classes == 8).sum()))
    page = (tmp_path / "report.html").read_text()
    assert all(f">{name} <span" in page for name in names)  # matrix row headers
    image = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert image and base64.b64decode(image.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Reference classes the classification does not have" in page
    assert any("wetland" in warning for warning in feedback.warnings)


def test_point_reference_through_processing_counts_points(run, classified, tmp_path):
    point_layer(tmp_path / "points.gpkg", utm33(), duplicates=0)
    results, feedback = run({"INPUT": str(classified.path), "REFERENCE_LAYER": str(tmp_path / "points.gpkg"),
                             "REFERENCE_FIELD": "fclass", "OUTPUT_JSON": str(tmp_path / "points.json")})
    document = json.loads((tmp_path / "points.json").read_text())
    assert document["sample_unit"] == "point" and 500 < document["samples"] <= 604
    assert document["classes"][0]["reference_area"] is None
    assert any("points" in message for message in feedback.infos)


def test_extent_and_mask_through_processing(run, classified, labels, tmp_path):
    results, _ = run({"INPUT": str(classified.path), "REFERENCE": str(S2_LABELS), "REFERENCE_NODATA": 0,
                      "EXTENT": "331003,340004,5815007,5821009 [EPSG:32633]",
                      "MASK": str(S2_POLYGONS.parent / "s2l1c_ref.gpkg"), "OUTPUT_JSON": str(tmp_path / "a.json")})
    whole, _ = run({"INPUT": str(classified.path), "REFERENCE": str(S2_LABELS), "REFERENCE_NODATA": 0})
    document = json.loads((tmp_path / "a.json").read_text())
    assert 0 < document["samples"] < 0.1 * int(((labels != 0) & (classified.classes != NODATA)).sum())
    assert results["OVERALL_ACCURACY"] != whole["OVERALL_ACCURACY"]


@pytest.mark.parametrize("parameters, message", [
    ({}, "Give a reference"),
    ({"REFERENCE": str(S2_LABELS), "REFERENCE_LAYER": str(S2_POLYGONS), "REFERENCE_FIELD": "fclass"},
     "not both"),
    ({"REFERENCE_LAYER": str(S2_POLYGONS)}, "REFERENCE_FIELD is missing"),
    ({"REFERENCE_LAYER": str(S2_POLYGONS), "REFERENCE_FIELD": "landuse"}, "has no field 'landuse'.*fclass"),
    ({"REFERENCE": str(S2_LABELS), "REFERENCE_FIELD": "fclass"}, "without REFERENCE_LAYER"),
    ({"REFERENCE": str(S2_LABELS), "CLASS_NAMES": "1=farm;forest"}, "cannot read 'forest'"),
])
def test_check_parameter_values_names_the_problem(provider, classified, parameters, message):
    ok, text = check(provider, {"INPUT": str(classified.path), **parameters})
    assert not ok
    assert re.search(message, text), text


def test_check_parameter_values_accepts_a_good_combination(provider, classified):
    assert check(provider, {"INPUT": str(classified.path), "REFERENCE_LAYER": str(S2_POLYGONS),
                            "REFERENCE_FIELD": "fclass"}) == (True, "")


def test_field_that_does_not_exist_fails_in_processing_run_and_writes_nothing(run, classified, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="has no field 'nope'"):
        run({"INPUT": str(classified.path), "REFERENCE_LAYER": str(S2_POLYGONS), "REFERENCE_FIELD": "nope",
             "OUTPUT_JSON": str(tmp_path / "a.json"), "OUTPUT_REPORT": str(tmp_path / "a.html")})
    assert list(tmp_path.iterdir()) == []


def test_reference_without_overlap_fails_and_writes_nothing(run, classified, tmp_path):
    from qgis.core import QgsProcessingException

    moved = tmp_path / "moved.tif"
    copy = gdal.Translate(str(moved), str(S2_LABELS))
    x0, dx, rx, y0, ry, dy = copy.GetGeoTransform()
    copy.SetGeoTransform((x0, dx, rx, y0 + 50_000, ry, dy))
    del copy  # close it so GDAL writes it
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match="does not overlap"):
        run({"INPUT": str(classified.path), "REFERENCE": str(moved), "OUTPUT_JSON": str(out / "a.json"),
             "OUTPUT_REPORT": str(out / "a.html")})
    assert not out.exists() or list(out.iterdir()) == []


def test_unwritable_report_path_fails_clearly_and_leaves_nothing(run, classified, tmp_path):
    from qgis.core import QgsProcessingException

    blocker = tmp_path / "file.txt"
    blocker.write_text("a file where a folder would have to be")
    with pytest.raises(QgsProcessingException, match="Cannot write the output"):
        run({"INPUT": str(classified.path), "REFERENCE": str(S2_LABELS), "REFERENCE_NODATA": 0,
             "OUTPUT_JSON": str(tmp_path / "ok.json"), "OUTPUT_REPORT": str(blocker / "out" / "report.html")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@pytest.mark.slow
def test_qgis_process_runs_the_assessment(qgis_process, classified, tmp_path):
    result = qgis_process(ALGORITHM, {"INPUT": classified.path, "REFERENCE": S2_LABELS, "REFERENCE_NODATA": 0,
                                      "OUTPUT_REPORT": tmp_path / "report.html", "OUTPUT_JSON": tmp_path / "a.json",
                                      "OUTPUT_TABLE": tmp_path / "table.csv"})
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((tmp_path / "a.json").read_text())
    assert float(result.results["OVERALL_ACCURACY"]) == pytest.approx(document["overall_accuracy"])
    assert float(result.results["KAPPA"]) == pytest.approx(document["kappa"])
    assert (tmp_path / "report.html").stat().st_size > 10_000
    with open(tmp_path / "table.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["name"] for row in rows] == ["farm", "meadow", "forest", "class 4", "class 5", "class 6", "class 7",
                                             "water"]  # classes 4 to 7 are reference classes the map does not have
    assert [int(row["reference_count"]) for row in rows] == [c["reference_count"] for c in document["classes"]]
    warnings = result.json["log"]["warning"]  # qgis_process 3.22 --json: log = {"info": [...], "warning": [...]}
    assert sum("not a class of the classification" in w for w in warnings) == 4


def test_selected_features_of_a_project_layer_are_the_reference(run, classified, tmp_path):
    from qgis.core import QgsProcessingFeatureSourceDefinition, QgsProject, QgsVectorLayer

    layer = QgsVectorLayer(str(S2_POLYGONS), "osm", "ogr")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    try:
        layer.selectByExpression("\"fclass\" IN ('forest', 'water')")
        selected = layer.selectedFeatureCount()
        assert 0 < selected < layer.featureCount()
        source = QgsProcessingFeatureSourceDefinition(layer.id(), selectedFeaturesOnly=True)
        run({"INPUT": str(classified.path), "REFERENCE_LAYER": source, "REFERENCE_FIELD": "fclass",
             "OUTPUT_JSON": str(tmp_path / "selected.json")})
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    document = json.loads((tmp_path / "selected.json").read_text())
    with_samples = [c["name"] for c in document["classes"] if c["reference_count"] > 0]
    assert with_samples == ["forest", "water"]


def test_one_algorithm_instance_runs_twice_without_state(provider, classified, tmp_path):
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback

    algorithm = QgsApplication.processingRegistry().createAlgorithmById(ALGORITHM)
    first, ok = algorithm.run({"INPUT": str(classified.path), "REFERENCE": str(S2_LABELS), "REFERENCE_NODATA": 0},
                              QgsProcessingContext(), QgsProcessingFeedback())
    assert ok
    second, ok = algorithm.run({"INPUT": str(classified.path), "REFERENCE_LAYER": str(S2_POLYGONS),
                                "REFERENCE_FIELD": "fclass", "EXTENT": "331003,340004,5815007,5821009 [EPSG:32633]"},
                               QgsProcessingContext(), QgsProcessingFeedback())
    assert ok and second["OVERALL_ACCURACY"] != first["OVERALL_ACCURACY"]
    again, ok = algorithm.run({"INPUT": str(classified.path), "REFERENCE": str(S2_LABELS), "REFERENCE_NODATA": 0},
                              QgsProcessingContext(), QgsProcessingFeedback())
    assert again["KAPPA"] == first["KAPPA"]
