"""Ground resolution in metres whatever the CRS's units (projected, Web Mercator, geographic)."""
from __future__ import annotations

import math

import pytest
from osgeo import gdal

from plugin.adapters.inputs.raster_area import ground_resolution
from tests.support.data import LANDSAT_EDGE, S2_IMAGE


def test_utm_pixels_are_their_nominal_size():
    resolution = ground_resolution(gdal.Open(str(S2_IMAGE)))
    assert resolution.metres == pytest.approx((10.0, 10.0), rel=1e-2)


def test_web_mercator_metres_are_shrunk_by_the_cosine_of_the_latitude():
    dataset = gdal.Open(str(LANDSAT_EDGE))
    resolution = ground_resolution(dataset)
    x0, _, _, y0, _, dy = dataset.GetGeoTransform()
    y = y0 + dy * dataset.RasterYSize / 2
    latitude = math.degrees(2 * math.atan(math.exp(y / 6378137.0)) - math.pi / 2)
    expected = 30.0 * math.cos(math.radians(latitude))
    assert resolution.metres == pytest.approx((expected, expected), rel=1e-2)
    assert resolution.units_per_metre[0] == pytest.approx(30.0 / expected, rel=1e-2)


def test_geographic_degrees_become_metres(tmp_path):
    warped = gdal.Warp(str(tmp_path / "wgs84.tif"), str(S2_IMAGE), dstSRS="EPSG:4326")
    resolution = ground_resolution(warped)
    _, dx, _, y0, _, dy = warped.GetGeoTransform()
    latitude = y0 + dy * warped.RasterYSize / 2
    warped = None  # close before GDAL shuts down
    metres_per_degree = math.pi * 6_371_008.8 / 180
    expected = (dx * metres_per_degree * math.cos(math.radians(latitude)), -dy * metres_per_degree)
    assert resolution.metres == pytest.approx(expected, rel=1e-3)


def test_no_crs_means_unknown_resolution():
    dataset = gdal.GetDriverByName("MEM").Create("", 4, 4)
    assert ground_resolution(dataset) is None
