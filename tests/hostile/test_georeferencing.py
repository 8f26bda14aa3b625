"""Class 4: georeferencing that is not north-up. Outputs keep the input's exact grid: a rotated
geotransform (also when the model's resolution needs resampling), no geotransform at all, or ground
control points; what cannot be done without a geotransform is refused clearly."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from tests.hostile.helpers import BUNDLED_MODEL, only_outputs, refused, succeeded

pytestmark = pytest.mark.slow


def test_rotated_raster_resampled_for_the_model_comes_back_on_its_own_grid(qgis_process, hostile, tmp_path):
    rotated, north_up = tmp_path / "rotated.tif", tmp_path / "north_up.tif"
    log = succeeded(qgis_process("seamless:classify", {"INPUT": hostile["rotated"], "MODEL": BUNDLED_MODEL,
                                                       "OUTPUT": rotated}))
    assert "resampled on the fly" in log
    source, result = gdal.Open(str(hostile["rotated"])), gdal.Open(str(rotated))
    assert result.GetGeoTransform() == source.GetGeoTransform()
    assert result.GetGeoTransform()[2] != 0
    assert (result.RasterXSize, result.RasterYSize) == (source.RasterXSize, source.RasterYSize)
    assert result.GetSpatialRef().IsSame(source.GetSpatialRef())
    # The same pixels on a north-up 5 m grid: the classes, pixel for pixel, mostly agree. They cannot agree
    # exactly: the network sees the scene turned by 30 degrees in one run and not in the other. Measured:
    # 0.73; the same result flipped or shifted by 16 px (a misplaced grid) agrees 0.27 to 0.49.
    succeeded(qgis_process("seamless:classify", {"INPUT": hostile["rotated_north_up"], "MODEL": BUNDLED_MODEL,
                                                 "OUTPUT": north_up}))
    agreement = (result.ReadAsArray() == gdal.Open(str(north_up)).ReadAsArray()).mean()
    assert agreement > 0.65, agreement
    assert (result.ReadAsArray() != 255).all()


def test_raster_without_geotransform_keeps_having_none(qgis_process, hostile, tmp_path):
    output = tmp_path / "classes.tif"
    log = succeeded(qgis_process("seamless:classify", {"INPUT": hostile["no_geotransform"],
                                                       "MODEL": hostile["model_identity"], "OUTPUT": output}))
    assert "no output" not in log
    dataset = gdal.Open(str(output))
    assert dataset.GetGeoTransform(can_return_null=True) is None
    assert (dataset.RasterXSize, dataset.RasterYSize) == (256, 256)
    assert set(np.unique(dataset.ReadAsArray())) <= {1, 2, 3, 4}


def test_raster_without_geotransform_refuses_an_extent(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["no_geotransform"],
                                                "MODEL": hostile["model_identity"], "EXTENT": "0,10,0,10",
                                                "OUTPUT": tmp_path / "classes.tif"})
    refused(result, "has no georeferencing", "EXTENT")
    only_outputs(tmp_path)


def test_ground_control_points_are_kept(qgis_process, hostile, tmp_path):
    output = tmp_path / "classes.tif"
    succeeded(qgis_process("seamless:classify", {"INPUT": hostile["gcps"], "MODEL": hostile["model_identity"],
                                                 "OUTPUT": output}))
    source, result = gdal.Open(str(hostile["gcps"])), gdal.Open(str(output))
    assert result.GetGeoTransform(can_return_null=True) is None
    assert result.GetGCPCount() == source.GetGCPCount() == 4
    kept = [(g.GCPPixel, g.GCPLine, g.GCPX, g.GCPY) for g in result.GetGCPs()]
    assert kept == [(g.GCPPixel, g.GCPLine, g.GCPX, g.GCPY) for g in source.GetGCPs()]
    assert result.GetGCPSpatialRef().IsSame(source.GetGCPSpatialRef())


def test_ground_control_points_and_a_model_resolution_are_refused_clearly(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["gcps"], "MODEL": BUNDLED_MODEL,
                                                "OUTPUT": tmp_path / "classes.tif"})
    refused(result, "georeferenced by ground control points only", "Warp it onto a map grid first")
    only_outputs(tmp_path)
