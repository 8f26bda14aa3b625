"""Issue 11's new inputs and outputs under hostile and unlucky input, through qgis_process: each is refused
with a message that says what is wrong and how to fix it, nothing is written, and no input changes (the
suite's fixture compares every input file byte for byte)."""
from __future__ import annotations

import pytest

from tests.hostile.helpers import BUNDLED_MODEL, only_outputs, refused

pytestmark = pytest.mark.slow


def _web_map(hostile) -> str:
    return f"type=xyz&url=file://{hostile['tiles'].as_posix()}/{{z}}/{{x}}/{{y}}.png&zmax=14&zmin=0"


def test_a_web_map_without_resolution_for_a_model_without_one_is_refused(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {
        "INPUT": _web_map(hostile), "MODEL": hostile["model_identity"], "BANDS": "1,2,3,3",
        "EXTENT": "340000,341000,5740000,5741000 [EPSG:32633]", "OUTPUT": tmp_path / "classes.tif"})
    refused(result, "has no pixel grid of its own", "set RESOLUTION")
    only_outputs(tmp_path)


def test_an_additional_raster_that_does_not_overlap_the_input_is_refused(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "ADDITIONAL_INPUTS": hostile["elsewhere"],
                                                "MODEL": BUNDLED_MODEL, "BANDS": "1,2,3,8",
                                                "OUTPUT": tmp_path / "classes.tif"})
    refused(result, "ADDITIONAL_INPUTS", "does not overlap INPUT", "Give rasters that cover the same place")
    only_outputs(tmp_path)


@pytest.mark.parametrize("mask, message", [
    ("mask_points", "holds point geometries, not polygons: a mask must be a polygon layer"),
    ("mask_far", "does not overlap the raster"),
    ("mask_tiny", "covers no pixel of the raster"),
], ids=["points", "elsewhere", "smaller than a pixel"])
def test_a_mask_that_selects_no_pixel_is_refused(qgis_process, hostile, tmp_path, mask, message):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL, "MASK": hostile[mask],
                                                "OUTPUT": tmp_path / "classes.tif"})
    refused(result, message)
    only_outputs(tmp_path)


def test_polygons_that_would_replace_the_mask_or_are_not_a_geopackage_are_refused(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                "MASK": hostile["labels_gpkg"], "OUTPUT": tmp_path / "classes.tif",
                                                "OUTPUT_VECTOR": hostile["labels_gpkg"]})
    refused(result, "OUTPUT_VECTOR", "is the same file as MASK")
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": tmp_path / "classes.tif",
                                                "OUTPUT_VECTOR": tmp_path / "regions.shp"})
    refused(result, "ends in '.shp'", ".gpkg")
    only_outputs(tmp_path)


def test_unknown_nodata_rule_and_negative_min_area_say_what_is_allowed(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL, "NODATA_RULE": "some",
                                                "OUTPUT": tmp_path / "classes.tif"})
    refused(result, "NODATA_RULE 'some' is not one of its options: all, any.")
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL, "MIN_AREA": -5,
                                                "OUTPUT": tmp_path / "classes.tif"})
    refused(result, "MIN_AREA must be at least 0, got -5.")
    only_outputs(tmp_path)
