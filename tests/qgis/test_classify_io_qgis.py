"""seamless:classify's new inputs and outputs from QGIS (processing.run and qgis_process): additional rasters,
a processing mask, class polygons styled with the model's colours, cloud-optimised rasters."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr
from qgis.core import QgsCategorizedSymbolRenderer, QgsVectorLayer

from tests.qgis.helpers import RecordingFeedback, classify
from tests.support.data import REPO, S2_IMAGE

BUNDLED_MODEL = REPO / "models" / "s2_landuse_unet.onnx"
MASK = S2_IMAGE.parent / "osm_landuse.gpkg"


@pytest.fixture(scope="module")
def second_date(tmp_path_factory) -> Path:
    """The Sentinel-2 subset again at 20 m, as another file on another grid."""
    path = tmp_path_factory.mktemp("stack") / "s2_20m.tif"
    gdal.Warp(str(path), str(S2_IMAGE), xRes=20, yRes=20, resampleAlg="average")
    return path


def test_polygons_from_the_toolbox_are_styled_with_the_model_classes(provider, tmp_path):
    feedback = RecordingFeedback()
    result = classify({"INPUT": str(S2_IMAGE), "MODEL": str(BUNDLED_MODEL), "OUTPUT": str(tmp_path / "c.tif"),
                       "OUTPUT_VECTOR": str(tmp_path / "regions.gpkg"), "MIN_AREA": 2000, "SIEVE": True}, feedback)
    layer = QgsVectorLayer(result["OUTPUT_VECTOR"], "regions", "ogr")
    assert layer.isValid() and layer.featureCount() > 10
    renderer = layer.renderer()  # the default style stored in the GeoPackage, applied on loading
    assert isinstance(renderer, QgsCategorizedSymbolRenderer) and renderer.classAttribute() == "class_value"
    colours = {int(c.value()): c.symbol().color().name() for c in renderer.categories()}
    assert colours[8] == "#2166ac" and len(colours) == 8  # water, as in the model's contract
    areas = json.loads(result["CLASS_AREAS"])
    total = sum(f["area_m2"] for f in layer.getFeatures())
    assert total == pytest.approx(sum(areas.values()), rel=1e-9)
    assert min(f["area_m2"] for f in layer.getFeatures()) >= 2000
    assert any("OUTPUT_VECTOR" in line for line in feedback.lines)


@pytest.mark.slow
def test_qgis_process_runs_a_stack_with_a_mask_and_writes_polygons(qgis_process, second_date, tmp_path):
    output, polygons = tmp_path / "classes.tif", tmp_path / "regions.gpkg"
    result = qgis_process("seamless:classify", {
        "INPUT": S2_IMAGE, "ADDITIONAL_INPUTS": second_date, "BANDS": "5,6,7,8", "MODEL": BUNDLED_MODEL,
        "MASK": MASK, "OUTPUT": output, "OUTPUT_VECTOR": polygons, "MIN_AREA": 1000, "SIMPLIFY": 10,
        "VECTOR_CONFIDENCE": True, "NODATA_RULE": "any"})
    assert result.returncode == 0, result.log
    assert "resampled on the fly" in result.log and "MASK: only pixels inside" in result.log
    dataset = gdal.Open(str(output))
    assert dataset.GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE") == "COG"
    classes = dataset.ReadAsArray()
    assert 0.2 < (classes == 255).mean() < 0.95  # outside the land-use polygons: nodata
    source = ogr.Open(str(polygons))
    layer = source.GetLayer(0)
    values = [(f.GetField("area_m2"), f.GetField("mean_confidence")) for f in layer]
    layer = source = None
    assert values and min(a for a, _ in values) >= 1000 and all(0 < c <= 1 for _, c in values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classes.qml", "classes.tif", "classes.tif.aux.xml",
                                                          "regions.gpkg"]
    assert np.isin(np.unique(classes), list(range(1, 9)) + [255]).all()
