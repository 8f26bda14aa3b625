"""Layers QGIS reads through its data providers, without a network: an XYZ tile pyramid built with GDAL's
gdal2tiles from the real UAV orthophoto and loaded with a file:// URL template, classified at the
orthophoto's resolution and compared with classifying the GeoTIFF itself; RESOLUTION's default and its
refusal; the tile cache; cancellation while fetching."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsRasterLayer

from plugin.adapters.inputs.gdal_grid import RasterGrid
from plugin.core.progress import LoggingProgress
from plugin.processing.common.qgis_source import QgisLayerInput
from tests.qgis.helpers import RecordingFeedback, classify
from tests.support.data import FOTOMAP
from tests.support.onnx_factory import box_filter_model, contract_dict

PIXEL = 0.02  # the orthophoto's pixel size (m)
TILE_ZOOM = 23  # the first zoom level finer than the orthophoto in Web Mercator at this latitude
WEB_MERCATOR_HALF = 20037508.342789244


def gdal2tiles(source: Path, folder: Path, zooms: str) -> None:
    """GDAL's gdal2tiles (the module, so it works whatever the script is called: gdal2tiles.py or gdal2tiles)."""
    completed = subprocess.run([sys.executable, "-m", "osgeo_utils.gdal2tiles", "--xyz", "-z", zooms, "-r", "near",
                                "--processes=1", "-w", "none", str(source), str(folder)],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr


@pytest.fixture(scope="module")
def web_map(tmp_path_factory) -> dict:
    """The orthophoto on square 2 cm pixels (its pixels unchanged, the 0.005 % difference between its x and y
    sizes dropped), and XYZ tiles of it: warped to Web Mercator on the tile grid of zoom 23, then cut by
    gdal2tiles (which cuts an aligned image without resampling it again)."""
    folder = tmp_path_factory.mktemp("web_map")
    ortho = folder / "ortho.tif"
    copy = gdal.Translate(str(ortho), str(FOTOMAP))
    x0, _, _, y0, _, _ = copy.GetGeoTransform()
    copy.SetGeoTransform((x0, PIXEL, 0.0, y0, 0.0, -PIXEL))
    copy = None
    resolution = 2 * WEB_MERCATOR_HALF / 256 / 2 ** TILE_ZOOM
    mercator = folder / "ortho_3857.tif"
    gdal.Warp(str(mercator), str(ortho), dstSRS="EPSG:3857", xRes=resolution, yRes=resolution,
              targetAlignedPixels=True, resampleAlg="bilinear")
    gdal2tiles(mercator, folder / "tiles", f"{TILE_ZOOM - 3}-{TILE_ZOOM}")
    dataset = gdal.Open(str(ortho))
    bounds = (x0, y0 - dataset.RasterYSize * PIXEL, x0 + dataset.RasterXSize * PIXEL, y0)
    uri = f"type=xyz&url=file://{(folder / 'tiles').as_posix()}/{{z}}/{{x}}/{{y}}.png&zmax={TILE_ZOOM}&zmin=0"
    model = box_filter_model(folder / "colours.onnx", 3, 9, contract_dict(3, 3, tile=256, multiple=16, scale=1 / 255))
    return {"ortho": ortho, "uri": uri, "bounds": bounds, "model": model, "folder": folder,
            "extent": f"{bounds[0]},{bounds[2]},{bounds[1]},{bounds[3]} [EPSG:32633]"}


def _layer(uri: str) -> QgsRasterLayer:
    layer = QgsRasterLayer(uri, "orthophoto tiles", "wms")
    assert layer.isValid()
    return layer


def test_xyz_tiles_classified_at_the_source_resolution_agree_with_the_geotiff(provider, web_map, tmp_path):
    reference = classify({"INPUT": str(web_map["ortho"]), "MODEL": str(web_map["model"]),
                          "OUTPUT": str(tmp_path / "geotiff.tif")})
    feedback = RecordingFeedback()
    result = classify({"INPUT": _layer(web_map["uri"]), "MODEL": str(web_map["model"]), "RESOLUTION": PIXEL,
                       "TARGET_CRS": "EPSG:32633", "EXTENT": web_map["extent"], "OUTPUT": str(tmp_path / "xyz.tif")},
                      feedback)
    expected, found = gdal.Open(reference["OUTPUT"]), gdal.Open(result["OUTPUT"])
    assert found.GetGeoTransform() == pytest.approx(expected.GetGeoTransform())
    agreement = float((expected.ReadAsArray() == found.ReadAsArray()).mean())
    print(f"\nXYZ tiles against the GeoTIFF: {100 * agreement:.2f} % of pixels in the same class")
    assert agreement >= 0.99
    assert any("has no pixel grid of its own" in line for line in feedback.lines)


def test_without_resolution_a_model_without_one_is_refused_and_one_with_it_sets_the_grid(provider, web_map,
                                                                                        tmp_path):
    with pytest.raises(QgsProcessingException, match="set RESOLUTION"):
        classify({"INPUT": _layer(web_map["uri"]), "MODEL": str(web_map["model"]), "EXTENT": web_map["extent"],
                  "OUTPUT": str(tmp_path / "refused.tif")})
    assert list(tmp_path.iterdir()) == []
    contract = contract_dict(3, 3, tile=256, multiple=16, scale=1 / 255)
    contract["resolution_m"] = 0.05
    model = box_filter_model(tmp_path / "five_cm.onnx", 3, 9, contract)
    result = classify({"INPUT": _layer(web_map["uri"]), "MODEL": str(model), "TARGET_CRS": "EPSG:32633",
                       "EXTENT": web_map["extent"], "OUTPUT": str(tmp_path / "five_cm.tif")})
    five_cm = gdal.Open(result["OUTPUT"])  # 5 cm on the ground, measured geodesically at the extent's centre
    assert five_cm.GetGeoTransform()[1] == pytest.approx(0.05, rel=5e-3)
    assert (five_cm.ReadAsArray() != 255).mean() > 0.95


def test_overlapping_reads_fetch_each_block_once(qgis_app, web_map):
    x0, ymin, xmax, y0 = web_map["bounds"]
    grid = RasterGrid(round((xmax - x0) / PIXEL), round((y0 - ymin) / PIXEL), (x0, PIXEL, 0.0, y0, 0.0, -PIXEL),
                      gdal.Open(str(web_map["ortho"])).GetProjection())
    reader = QgisLayerInput(_layer(web_map["uri"]), LoggingProgress(), None, grid).reader([1, 2, 3])
    for row in range(0, grid.height - 256, 192):  # strips overlapping by 64 rows, as windows do
        values, valid = reader.read(0, row, grid.width, 256)
        assert values.shape == (3, 256, grid.width) and valid.mean() > 0.9
    assert reader.fetches == len({(c, r) for c in range(3) for r in range(2)})  # 3 x 2 blocks of 512 px, once
    assert reader.hits > 0


class CancelWhenPlanned(RecordingFeedback):
    """Cancels the run as soon as the plan is logged: the next fetch must stop it."""

    def pushInfo(self, info: str) -> None:  # noqa: N802
        super().pushInfo(info)
        if info.startswith("Plan:"):
            self.cancel()


def test_cancelling_while_fetching_stops_the_run_and_writes_nothing(provider, web_map, tmp_path):
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        classify({"INPUT": _layer(web_map["uri"]), "MODEL": str(web_map["model"]), "RESOLUTION": PIXEL,
                  "TARGET_CRS": "EPSG:32633", "EXTENT": web_map["extent"], "OUTPUT": str(tmp_path / "c.tif")},
                 CancelWhenPlanned())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_qgis_process_classifies_an_xyz_layer_given_by_its_source(qgis_process, web_map, tmp_path):
    output = tmp_path / "xyz.tif"
    result = qgis_process("seamless:classify", {"INPUT": web_map["uri"], "MODEL": web_map["model"], "RESOLUTION": PIXEL,
                                                "TARGET_CRS": "EPSG:32633", "EXTENT": web_map["extent"],
                                                "OUTPUT": output})
    assert result.returncode == 0, result.log
    dataset = gdal.Open(str(output))
    assert (dataset.RasterXSize, dataset.RasterYSize) == (1243, 841)

