"""The classify job's inputs on real rasters (GDAL side, no QGIS): several rasters on different grids with
bands numbered across them, the processing mask in another CRS and with an extent, bad masks and rasters
refused before anything is written, and the suitability warning on 8-bit aerial imagery."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.core.errors import InputError
from plugin.core.progress import LoggingProgress
from tests.hostile import make_hostile_inputs
from tests.support.data import REPO, S2_IMAGE
from tests.support.onnx_factory import box_filter_model, contract_dict, identity_model

NAIP = REPO / "tests" / "data" / "naip" / "naip_rgbn_5m.tif"
BUNDLED_MODEL = REPO / "models" / "s2_landuse_unet.onnx"
REFERENCE_POLYGONS = S2_IMAGE.parent / "s2l1c_ref.gpkg"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("io_models")
    pair = contract_dict(2, 2, kind="probabilities", tile=128, multiple=16, scale=1e-4)
    s2 = contract_dict(4, 4, kind="probabilities", tile=128, multiple=16, scale=1e-4, values=[1, 2, 3, 4])
    return {"pair": identity_model(folder / "pair.onnx", 2, None, pair),
            "s2_box": box_filter_model(folder / "s2_box.onnx", 4, 5, s2)}


@pytest.fixture(scope="module")
def s2_20m(tmp_path_factory) -> Path:
    """The real Sentinel-2 subset at 20 m: the same place on another grid (half the pixels each way)."""
    path = tmp_path_factory.mktemp("grids") / "s2_20m.tif"
    gdal.Warp(str(path), str(S2_IMAGE), xRes=20, yRes=20, resampleAlg="average")
    return path


def _run(tmp_path: Path, **fields) -> tuple[LoggingProgress, Path]:
    progress = LoggingProgress()
    output = tmp_path / "classes.tif"
    classify(ClassifyRequest(output_path=str(output), device="cpu", **fields), progress)
    return progress, output


def test_bands_of_a_second_raster_on_another_grid_are_appended_and_resampled_onto_the_input(models, s2_20m, tmp_path):
    progress, output = _run(tmp_path, input_path=str(S2_IMAGE), model_path=str(models["pair"]), bands=[3, 8],
                            additional_inputs=[str(s2_20m)], probabilities_path=str(tmp_path / "p.tif"))
    probabilities = gdal.Open(str(tmp_path / "p.tif")).ReadAsArray()
    red = gdal.Open(str(S2_IMAGE)).ReadAsArray()[2] * 1e-4  # band 3 of INPUT
    source = gdal.Open(str(S2_IMAGE))
    bounds = (source.GetGeoTransform()[0], source.GetGeoTransform()[3] - 768 * 10, source.GetGeoTransform()[0] +
              1536 * 10, source.GetGeoTransform()[3])
    warped = gdal.Warp("", str(s2_20m), format="MEM", outputBounds=bounds, width=1536, height=768,
                       resampleAlg="bilinear").ReadAsArray()[3] * 1e-4  # band 4 of the 20 m raster = stack band 8
    np.testing.assert_allclose(probabilities[0], red, atol=1e-6)
    np.testing.assert_allclose(probabilities[1], warped, atol=1e-6)
    assert any("is resampled on the fly (bilinear) onto INPUT's grid" in m for m in progress.messages)
    assert gdal.Open(str(output)).RasterXSize == 1536


def test_bands_beyond_the_stack_and_rasters_elsewhere_are_refused_before_anything_is_written(models, s2_20m,
                                                                                              tmp_path):
    with pytest.raises(InputError, match="BANDS names band 9, but the raster has 8 band"):
        _run(tmp_path, input_path=str(S2_IMAGE), model_path=str(models["pair"]), bands=[1, 9],
             additional_inputs=[str(s2_20m)])
    elsewhere = tmp_path / "elsewhere.tif"
    copy = gdal.Translate(str(elsewhere), str(s2_20m))
    x0, dx, rx, y0, ry, dy = copy.GetGeoTransform()
    copy.SetGeoTransform((x0 + 500_000, dx, rx, y0, ry, dy))
    copy = None
    with pytest.raises(InputError, match="does not overlap INPUT"):
        _run(tmp_path, input_path=str(S2_IMAGE), model_path=str(models["pair"]), bands=[1, 5],
             additional_inputs=[str(elsewhere)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.tif"]


def _reprojected(source: Path, target: Path, epsg: int) -> Path:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    gdal.VectorTranslate(str(target), str(source), dstSRS=srs, reproject=True, format="GPKG")
    return target


def test_the_mask_in_another_crs_selects_the_same_pixels_and_windows_outside_are_not_run(models, tmp_path):
    mask_4326 = _reprojected(REFERENCE_POLYGONS, tmp_path / "mask_4326.gpkg", 4326)
    (tmp_path / "full").mkdir()
    _, whole_output = _run(tmp_path / "full", input_path=str(S2_IMAGE), model_path=str(models["s2_box"]))
    progress, masked = _run(tmp_path, input_path=str(S2_IMAGE), model_path=str(models["s2_box"]),
                            mask_path=str(mask_4326))
    native = tmp_path / "native"
    native.mkdir()
    _, native_output = _run(native, input_path=str(S2_IMAGE), model_path=str(models["s2_box"]),
                            mask_path=str(REFERENCE_POLYGONS))
    a, b = gdal.Open(str(masked)).ReadAsArray(), gdal.Open(str(native_output)).ReadAsArray()
    assert a.shape == b.shape and (a == b).mean() > 0.999  # the same polygons, burnt after a round trip
    whole = gdal.Open(str(whole_output)).ReadAsArray()
    output = gdal.Open(str(masked))
    x0 = output.GetGeoTransform()[0]
    col = round((x0 - gdal.Open(str(S2_IMAGE)).GetGeoTransform()[0]) / 10)
    row = round((gdal.Open(str(S2_IMAGE)).GetGeoTransform()[3] - output.GetGeoTransform()[3]) / 10)
    inside = a != 255
    assert 0 < inside.mean() < 0.2
    window = whole[row:row + a.shape[0], col:col + a.shape[1]]
    assert np.array_equal(a[inside], window[inside])  # the same classes where classified
    skipped = next(m for m in progress.messages if "MASK: only pixels inside" in m)
    assert "bounding box" in skipped


def test_mask_and_extent_together_classify_their_intersection(models, tmp_path):
    source = gdal.Open(str(S2_IMAGE))
    x0, _, _, y0, _, _ = source.GetGeoTransform()
    extent = (x0, y0 - 768 * 10, x0 + 700 * 10, y0)  # the western part
    _, output = _run(tmp_path, input_path=str(S2_IMAGE), model_path=str(models["s2_box"]), extent=extent,
                     mask_path=str(REFERENCE_POLYGONS))
    dataset = gdal.Open(str(output))
    assert dataset.GetGeoTransform()[0] + dataset.RasterXSize * 10 <= extent[2] + 1e-6
    assert (dataset.ReadAsArray() != 255).any()


def _layer_with(path: Path, geometry_type: int, geometries: list[str], epsg: int = 32633) -> Path:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return make_hostile_inputs.shapes_layer(path, geometry_type, geometries, srs.ExportToWkt())


@pytest.mark.parametrize("geometry_type, shapes, message", [
    (ogr.wkbPoint, ["POINT (340000 5740000)"], "holds point geometries, not polygons"),
    (ogr.wkbPolygon, ["POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))"], "does not overlap the raster"),
    (ogr.wkbPolygon, ["POLYGON ((330002 5745002, 330004 5745002, 330004 5745004, 330002 5745004, 330002 5745002))"],
     "covers no pixel of the raster"),
], ids=["points", "elsewhere", "between pixel centres"])
def test_masks_that_cannot_select_pixels_are_refused_and_nothing_is_written(models, tmp_path, geometry_type, shapes,
                                                                             message):
    image = gdal.Open(str(S2_IMAGE))
    x0, _, _, y0, _, _ = image.GetGeoTransform()
    shapes = [s.replace("330002", f"{x0 + 2}").replace("330004", f"{x0 + 4}").replace("5745002", f"{y0 - 8}")
              .replace("5745004", f"{y0 - 6}") for s in shapes]
    mask = _layer_with(tmp_path / "mask.gpkg", geometry_type, shapes)
    with pytest.raises(InputError, match=message):
        _run(tmp_path, input_path=str(S2_IMAGE), model_path=str(models["s2_box"]), mask_path=str(mask))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.gpkg"]


def test_eight_bit_aerial_imagery_with_the_sentinel_2_model_gets_a_plain_warning(tmp_path):
    progress, _ = _run(tmp_path, input_path=str(NAIP), model_path=str(BUNDLED_MODEL))
    warning = " ".join(progress.warnings)
    assert "does not look like the data the model was trained on" in warning and "8-bit values" in warning
    quiet, _ = _run(tmp_path, input_path=str(S2_IMAGE), model_path=str(BUNDLED_MODEL))
    assert not any("does not look like" in w for w in quiet.warnings)


def test_input_nodata_declares_zero_filled_borders_nodata(models, tmp_path):
    from plugin.core.engine.nodata import NodataPolicy

    bordered = tmp_path / "bordered.tif"
    copy = gdal.Translate(str(bordered), str(S2_IMAGE))  # no nodata value declared
    zeros = np.zeros((768, 200), np.uint16)
    for index in range(1, 5):
        copy.GetRasterBand(index).WriteArray(zeros, 0, 0)  # a zero-filled western border
    copy = None
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, plain = _run(tmp_path / "a", input_path=str(bordered), model_path=str(models["s2_box"]))
    progress, declared = _run(tmp_path / "b", input_path=str(bordered), model_path=str(models["s2_box"]),
                              nodata=NodataPolicy("all", 0.0))
    assert (gdal.Open(str(plain)).ReadAsArray()[:, :200] != 255).all()  # zeros classified as if they were data
    classes = gdal.Open(str(declared)).ReadAsArray()
    assert (classes[:, :200] == 255).all() and (classes[:, 200:] != 255).all()
    assert any("13.0 % of the pixels in the processing area" in m for m in progress.messages)
