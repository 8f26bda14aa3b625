"""ADDITIONAL_INPUTS with much finer pixels in another CRS are averaged onto INPUT's grid, as in the same CRS: the
pixel sizes are compared in INPUT's units (the footprint of the additional raster's pixels carried into INPUT's
CRS), not in each raster's own units.

Real pixels: a 768 x 640 px part of the Sentinel-2 subset (UTM 33N). INPUT is its bands 1-2 at 20 m; the
additional raster is its bands 3-4 at 10 m, warped into Web Mercator on 4 m cells (about 2.4 m on the ground
there, in UTM metres); the one-file run reads all four bands at 20 m."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.adapters.inputs.gdal_grid import RasterGrid
from plugin.adapters.inputs.stacked_source import footprint_in, resampling_for
from plugin.core.engine.plan import RunOptions
from plugin.core.progress import LoggingProgress
from tests.support.data import S2_IMAGE
from tests.support.onnx_factory import box_filter_model, contract_dict, identity_model


@pytest.fixture(scope="module")
def rasters(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fine_other_crs")
    crop = folder / "crop.tif"
    gdal.Translate(str(crop), str(S2_IMAGE), srcWin=[300, 64, 768, 640]).FlushCache()
    files = {"one_file": folder / "s2_20m.tif", "input": folder / "bands_12_20m.tif",
             "fine": folder / "bands_34_3857.tif"}
    gdal.Warp(str(files["one_file"]), str(crop), xRes=20, yRes=20, resampleAlg="average").FlushCache()
    gdal.Translate(str(files["input"]), str(files["one_file"]), bandList=[1, 2]).FlushCache()
    gdal.Warp(str(folder / "mercator.tif"), str(crop), dstSRS="EPSG:3857", xRes=4, yRes=4,
              resampleAlg="near").FlushCache()
    gdal.Translate(str(files["fine"]), str(folder / "mercator.tif"), bandList=[3, 4]).FlushCache()
    contract = contract_dict(4, 4, kind="probabilities", tile=128, multiple=16, scale=1e-4)
    files["identity"] = identity_model(folder / "identity.onnx", 4, None, contract)
    files["box"] = box_filter_model(folder / "box.onnx", 4, 5, contract)
    return files


def _run(folder: Path, model: Path, source: Path, additional: list[str]) -> tuple[LoggingProgress, np.ndarray,
                                                                                   np.ndarray]:
    folder.mkdir()
    progress = LoggingProgress()
    classify(ClassifyRequest(str(source), str(model), str(folder / "classes.tif"), additional_inputs=additional,
                             probabilities_path=str(folder / "p.tif"), options=RunOptions(overlap=25)), progress)
    return (progress, gdal.Open(str(folder / "classes.tif")).ReadAsArray(),
            gdal.Open(str(folder / "p.tif")).ReadAsArray())


def _warped(source: Path, like: Path, resampling: str) -> np.ndarray:
    """``source`` warped by GDAL onto ``like``'s grid (what the stack should read)."""
    grid = gdal.Open(str(like))
    x0, dx, _, y0, _, dy = grid.GetGeoTransform()
    bounds = (x0, y0 + grid.RasterYSize * dy, x0 + grid.RasterXSize * dx, y0)
    return gdal.Warp("", str(source), format="MEM", outputBounds=bounds, width=grid.RasterXSize,
                     height=grid.RasterYSize, dstSRS=grid.GetProjection(), resampleAlg=resampling).ReadAsArray()


def test_the_footprint_of_a_pixel_is_measured_in_the_target_crs(rasters):
    fine, target = (RasterGrid.of(gdal.Open(str(rasters[k]))) for k in ("fine", "input"))
    across, down = footprint_in(fine, target)
    assert 2.3 < across < 2.6 and 2.3 < down < 2.6  # 4 Web Mercator units at 52.5° N are about 2.4 m
    assert footprint_in(target, target) == pytest.approx(target.pixel_size)
    assert resampling_for((across, down), target) == "average"
    assert resampling_for((15.0, 15.0), target) == "bilinear" and resampling_for(None, target) == "bilinear"


def test_a_much_finer_raster_in_another_crs_is_averaged_like_the_one_file_run(rasters, tmp_path):
    progress, classes, probabilities = _run(tmp_path / "split", rasters["identity"], rasters["input"],
                                            [str(rasters["fine"])])
    line = next(m for m in progress.messages if m.startswith("ADDITIONAL_INPUTS"))
    assert "another CRS: 2.4" in line and "in INPUT's CRS units" in line
    assert "resampled on the fly (average) onto INPUT's grid" in line
    averaged = _warped(rasters["fine"], rasters["input"], "average") * 1e-4
    bilinear = _warped(rasters["fine"], rasters["input"], "bilinear") * 1e-4
    np.testing.assert_allclose(probabilities[2:], averaged, atol=1e-6)  # bands 3-4 of the stack, as GDAL averages
    one_file = gdal.Open(str(rasters["one_file"])).ReadAsArray()[2:] * 1e-4
    to_average, to_bilinear = np.abs(averaged - one_file).mean(), np.abs(bilinear - one_file).mean()
    print(f"\nbands 3-4 against the one-file run: {to_average * 1e4:.2f} DN averaged, {to_bilinear * 1e4:.2f} DN "
          "bilinear")
    assert to_average < to_bilinear / 2


def test_classes_of_the_split_run_agree_with_the_one_file_run(rasters, tmp_path):
    _, one_file, _ = _run(tmp_path / "one", rasters["box"], rasters["one_file"], [])
    _, split, _ = _run(tmp_path / "split", rasters["box"], rasters["input"], [str(rasters["fine"])])
    agreement = float((one_file == split).mean())
    print(f"\nclasses of the split run (finer bands in Web Mercator) against the one-file run: {100 * agreement:.2f} %")
    assert agreement > 0.998  # 99.95 % measured averaging; 99.70 % with bilinear sampling
