"""A model trained on a stack of two rasters (bands in separate files, on different grids) is applied to the
same stack by Classify raster: its ADDITIONAL_INPUTS read exactly what training's additional_images read."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.core.model.contract import ModelContract
from plugin.core.model.loading import load_model
from plugin.core.progress import LoggingProgress
from tests.training.helpers import S2_BANDS, tiny_settings
from training import api
from training.config import from_mapping

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(s2_crop, tmp_path_factory) -> dict:
    """Blue and green at 10 m in one file, red and near-infrared at 20 m in another."""
    folder = tmp_path_factory.mktemp("stack")
    visible, infrared = folder / "b02_b03_10m.tif", folder / "b04_b08_20m.tif"
    gdal.Translate(str(visible), str(s2_crop["image"]), bandList=[1, 2])
    gdal.Warp(str(infrared), gdal.Translate("", str(s2_crop["image"]), format="VRT", bandList=[3, 4]),
              xRes=20, yRes=20, resampleAlg="average")
    settings = tiny_settings(folder / "run", visible, s2_crop["labels"],
                             data={"additional_images": [str(infrared)]})
    outcome = api.train(from_mapping(settings), LoggingProgress())
    return {"visible": visible, "infrared": infrared, "model": outcome.model_path, "folder": folder}


def test_a_model_trained_on_two_rasters_takes_their_four_bands_and_says_so(stack):
    contract: ModelContract = load_model(str(stack["model"]), "cpu").contract
    assert contract.input.bands == 4 and list(contract.input.band_names) == S2_BANDS
    assert contract.provenance["training_data"]["additional_images"] == ["b04_b08_20m.tif"]


def test_classify_applies_it_to_the_same_stack_as_to_the_stack_written_out(stack, tmp_path):
    classify(ClassifyRequest(input_path=str(stack["visible"]), additional_inputs=[str(stack["infrared"])],
                             model_path=str(stack["model"]), output_path=str(tmp_path / "stacked.tif"), device="cpu"),
             LoggingProgress())
    # The same four bands written into one file on the 10 m grid (the 20 m bands warped as training warps them).
    visible = gdal.Open(str(stack["visible"]))
    x0, dx, _, y0, _, dy = visible.GetGeoTransform()
    bounds = (x0, y0 + visible.RasterYSize * dy, x0 + visible.RasterXSize * dx, y0)
    infrared = gdal.Warp("", str(stack["infrared"]), format="MEM", outputBounds=bounds, width=visible.RasterXSize,
                         height=visible.RasterYSize, resampleAlg="bilinear")
    four = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "four.tif"), visible.RasterXSize,
                                                visible.RasterYSize, 4, gdal.GDT_UInt16)
    four.SetGeoTransform(visible.GetGeoTransform())
    four.SetProjection(visible.GetProjection())
    for index, plane in enumerate([*visible.ReadAsArray(), *infrared.ReadAsArray()], start=1):
        four.GetRasterBand(index).WriteArray(plane)
    four = None
    classify(ClassifyRequest(input_path=str(tmp_path / "four.tif"), model_path=str(stack["model"]),
                             output_path=str(tmp_path / "single.tif"), device="cpu"), LoggingProgress())
    stacked, single = (gdal.Open(str(tmp_path / name)).ReadAsArray() for name in ("stacked.tif", "single.tif"))
    assert np.array_equal(stacked, single)
    assert len(np.unique(stacked)) >= 2
