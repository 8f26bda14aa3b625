"""Classify tiles on the GDAL side: cells of the real Sentinel-2 scene through script-built classifiers and
regressors, each cell's result what the model gives on its window alone; nodata, MASK, resampled cells, refusals."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from plugin.adapters.cells.cell_run import CellChoice
from plugin.adapters.cells.job import TilesRequest, classify_tiles
from plugin.core.errors import InputError, ModelError
from plugin.core.progress import LoggingProgress
from tests.cells.helpers import (
    area_extent,
    classifier,
    expected_means,
    read_features,
    read_raster,
    regressor,
)
from tests.support.data import S2_IMAGE, leftover_files
from tests.support.onnx_factory import contract_dict, identity_model

AREA = (200, 120, 150, 100)  # col, row, width, height: 10 x 7 cells of 16 px, the last row partial


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cell_models")
    return {"classifier": classifier(folder), "bordered": classifier(folder, 24, 4), "regressor": regressor(folder),
            "segmentation": identity_model(folder / "segmentation.onnx", 4, 16,
                                           {**contract_dict(4, 4, tile=16), "task": "segmentation"}),
            "unlabelled map": identity_model(folder / "map.onnx", 4, 16)}


def _run(tmp_path, model, **changes) -> tuple[TilesRequest, object]:
    request = TilesRequest(str(S2_IMAGE), str(model), str(tmp_path / "cells.tif"), extent=area_extent(*AREA),
                           **changes)
    return request, classify_tiles(request, LoggingProgress())


def test_each_cell_gets_the_class_its_window_alone_gives(tmp_path, models):
    request, result = _run(tmp_path, models["classifier"], probabilities_path=str(tmp_path / "p.tif"),
                           vector_path=str(tmp_path / "cells.gpkg"))
    classes, transform, nodata = read_raster(request.output_path)
    means = expected_means(*AREA, 16)
    assert classes.shape == (7, 10) and nodata == 255
    assert (classes == means.argmax(axis=2) + 1).all()
    x0, dx, _, y0, _, dy = gdal.Open(str(S2_IMAGE)).GetGeoTransform()
    assert transform == (x0 + AREA[0] * dx, 16 * dx, 0.0, y0 + AREA[1] * dy, 0.0, 16 * dy)
    probabilities, _, _ = read_raster(request.probabilities_path)
    softmax = np.exp(means) / np.exp(means).sum(axis=2, keepdims=True)
    assert np.allclose(np.moveaxis(probabilities, 0, 2), softmax, atol=1e-5)
    features = read_features(request.vector_path)
    assert len(features) == 70 == result.summary.cells
    first = next(f for f in features if f["cell_row"] == 6 and f["cell_col"] == 9)
    assert first["class_value"] == classes[6, 9] and first["coverage"] == pytest.approx(4 * 6 / 256)
    assert first["class_name"] in {"blue", "green", "red", "near infrared"}
    assert first["p_near_infrared"] == pytest.approx(probabilities[3, 6, 9], abs=1e-6)
    assert sum(result.class_counts.values()) == 70
    assert (tmp_path / "cells.qml").exists() is False  # no styler given: no style written
    assert leftover_files(tmp_path) == ["cells.gpkg", "cells.tif", "cells.tif.aux.xml", "p.tif"]  # class names


def test_a_context_border_is_read_around_each_cell(tmp_path, models):
    request, _ = _run(tmp_path, models["bordered"])
    classes, _, _ = read_raster(request.output_path)
    assert (classes == expected_means(*AREA, 16, border=4).argmax(axis=2) + 1).all()


def test_regression_values_per_cell(tmp_path, models):
    request, result = _run(tmp_path, models["regressor"], vector_path=str(tmp_path / "v.gpkg"))
    values, _, nodata = read_raster(request.output_path)
    assert values.dtype == np.float32 and nodata < -1e38
    assert np.allclose(values, expected_means(*AREA, 16)[:, :, 3], atol=1e-6)
    features = read_features(request.vector_path)
    assert sorted(f["value"] for f in features) == pytest.approx(sorted(values.ravel().tolist()))
    assert result.value_range == (pytest.approx(values.min()), pytest.approx(values.max()))


def test_cells_outside_the_mask_or_without_valid_pixels_are_left_out(tmp_path, models):
    x0, y0, x1, y1 = area_extent(*AREA)
    mask = tmp_path / "mask.gpkg"
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(mask))
    srs = osr.SpatialReference(wkt=gdal.Open(str(S2_IMAGE)).GetProjection())
    layer = source.CreateLayer("mask", srs, ogr.wkbPolygon)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POLYGON(({x0} {y1},{x0 + 500} {y1},{x0 + 500} {y1 - 330},"
                                                  f"{x0} {y1 - 330},{x0} {y1}))"))
    layer.CreateFeature(feature)
    feature, layer, source = None, None, None
    request = TilesRequest(str(S2_IMAGE), str(models["classifier"]), str(tmp_path / "c.tif"), mask_path=str(mask),
                           vector_path=str(tmp_path / "c.gpkg"))
    result = classify_tiles(request, LoggingProgress())
    classes, _, nodata = read_raster(request.output_path)
    assert classes.shape == (3, 4)  # the mask's 50 x 33 px bounding box: 4 x 3 cells of 16 px
    assert (classes != nodata).sum() == result.summary.cells == len(read_features(request.vector_path))
    assert (classes != nodata).all()


def test_a_cell_size_in_map_units_reads_the_raster_at_the_resolution_that_fits(tmp_path, models):
    request, result = _run(tmp_path, models["regressor"], cells=CellChoice(cell_size=320.0))
    values, transform, _ = read_raster(request.output_path)
    assert transform[1] == 320.0 and values.shape == (4, 5)
    raw = expected_means(*AREA[:2], 160, 96, 32)[:, :, 3]  # 32 px of 10 m averaged 2 x 2 into 16 px of 20 m
    assert np.allclose(values[:3], raw, atol=1e-4)
    assert result.summary.cells == 20


@pytest.mark.parametrize("model, message", [
    ("segmentation", r"is a segmentation model .*Classify raster \(seamless:classify\)"),
    ("unlabelled map", r"segmentation map: run such a model with Classify raster \(seamless:classify\)"),
])
def test_a_segmentation_model_is_refused_with_the_algorithm_that_runs_it(tmp_path, models, model, message):
    with pytest.raises(ModelError, match=message):
        _run(tmp_path, models[model])
    assert leftover_files(tmp_path) == []


def test_a_cell_smaller_than_a_pixel_is_refused(tmp_path, models):
    with pytest.raises(InputError, match="smaller than a pixel of the raster"):
        _run(tmp_path, models["regressor"], cells=CellChoice(cell_size=5.0))
    assert leftover_files(tmp_path) == []


def test_probabilities_of_a_regressor_are_refused(tmp_path, models):
    with pytest.raises(InputError, match="OUTPUT_PROBABILITIES is for classifiers"):
        _run(tmp_path, models["regressor"], probabilities_path=str(tmp_path / "p.tif"))
    assert leftover_files(tmp_path) == []
