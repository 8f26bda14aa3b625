"""Class 3: rasters with nothing to classify. An all-nodata raster, or one whose first panel is all nodata,
gives a valid nodata-only output (or nodata where nothing was) with a warning; where no output makes
sense (assessment, chips, training) the run is refused with the real cause."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from tests.hostile.helpers import BUNDLED_MODEL, only_outputs, refused, succeeded, training_cli
from tests.hostile.make_hostile_inputs import WIDE_NODATA_COLUMNS

pytestmark = pytest.mark.slow


def test_all_nodata_raster_gives_a_valid_nodata_output_with_a_warning(qgis_process, hostile, tmp_path):
    output = tmp_path / "classes.tif"
    log = succeeded(qgis_process("seamless:classify", {"INPUT": hostile["all_nodata"], "MODEL": BUNDLED_MODEL,
                                                       "OUTPUT": output,
                                                       "OUTPUT_PROBABILITIES": tmp_path / "p.tif"}))
    assert "Every pixel in the processing area is nodata" in log
    dataset = gdal.Open(str(output))
    assert (dataset.RasterXSize, dataset.RasterYSize) == (256, 256)
    assert dataset.GetRasterBand(1).GetNoDataValue() == 255
    assert (dataset.ReadAsArray() == 255).all()
    assert (gdal.Open(str(tmp_path / "p.tif")).ReadAsArray() == -1).all()
    only_outputs(tmp_path, "classes.tif", "classes.qml", "classes.tif.aux.xml", "p.tif")


def test_raster_whose_first_panel_is_all_nodata_is_classified_after_it(qgis_process, hostile, tmp_path):
    output = tmp_path / "classes.tif"
    succeeded(qgis_process("seamless:classify", {"INPUT": hostile["wide"], "MODEL": BUNDLED_MODEL,
                                                 "OUTPUT": output}))
    classes = gdal.Open(str(output)).ReadAsArray()
    assert (classes[:, :WIDE_NODATA_COLUMNS] == 255).all()
    assert (classes[:, WIDE_NODATA_COLUMNS:] != 255).all()
    assert len(np.unique(classes[:, WIDE_NODATA_COLUMNS:])) > 1


def test_assessing_an_all_nodata_classification_is_refused_with_the_cause(qgis_process, hostile, tmp_path):
    # KIND classes: the all-nodata raster stands for a class raster (a floating-point raster is taken for values)
    result = qgis_process("seamless:evaluate", {"INPUT": hostile["all_nodata"], "KIND": "classes",
                                                "REFERENCE": hostile["labels_without_nodata"],
                                                "OUTPUT_REPORT": tmp_path / "r.html",
                                                "OUTPUT_JSON": tmp_path / "r.json"})
    refused(result, "No pixel could be assessed", "reference on classification nodata: 65536")
    only_outputs(tmp_path)


def test_chips_of_an_all_nodata_image_are_refused_with_the_cause(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:exportchips", {"INPUT": hostile["all_nodata"],
                                                   "LABEL_RASTER": hostile["labels_without_nodata"], "CHIP_SIZE": 64,
                                                   "STRIDE": 64, "OUTPUT_FOLDER": tmp_path / "chips"})
    refused(result, "No chip was written", "where the image has data")
    only_outputs(tmp_path)


def test_training_on_an_all_nodata_image_is_refused_with_the_cause(hostile, tmp_path):
    result = training_cli("train", "--image", str(hostile["all_nodata"]), "--label-raster",
                          str(hostile["labels_without_nodata"]), "--chip-size", "64", "--output", str(tmp_path / "run"))
    assert result.returncode == 2
    refused(result, "The image is nodata wherever the labels are")
    only_outputs(tmp_path)
