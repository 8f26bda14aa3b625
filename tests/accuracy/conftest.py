"""Fixtures for accuracy assessment and chip export tests: a classification of the real Sentinel-2 subset."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from tests.accuracy.helpers import (
    NODATA,
    NODATA_ROWS,
    S2_IMAGE,
    S2_LABELS,
    Classified,
    spectral_rule,
    write_class_raster,
)


@pytest.fixture(scope="session")
def classified(tmp_path_factory) -> Classified:
    source = gdal.Open(str(S2_IMAGE))
    classes = spectral_rule(source.ReadAsArray())
    classes[:NODATA_ROWS] = NODATA
    path = tmp_path_factory.mktemp("classified") / "s2_classes.tif"
    write_class_raster(path, classes, source.GetGeoTransform(), source.GetProjection())
    assert len(np.unique(classes)) == 5, "the rule must give every class and nodata"
    return Classified(path, classes, source.GetGeoTransform(), source.GetProjection())


@pytest.fixture(scope="session")
def labels() -> np.ndarray:
    dataset = gdal.Open(str(S2_LABELS))
    return dataset.ReadAsArray()
