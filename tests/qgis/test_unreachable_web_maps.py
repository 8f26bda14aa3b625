"""A web map that cannot be reached is an error naming the URL and the cause, never a nodata-only output: real XYZ
layers as QGIS reads them, on real local HTTP servers started by the test (one that refuses connections, one that
answers 404 to every tile, one that accepts and never answers), and the same tiles served for real, also over an
extent larger than the tiles cover (tiles missing at the edge are normal)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsNetworkAccessManager, QgsProcessingException, QgsRasterLayer

from tests.hostile import make_hostile_inputs
from tests.qgis.helpers import RecordingFeedback, classify
from tests.support.http_servers import not_found_server, refusing_port, silent_server, tile_server, xyz_uri
from tests.support.onnx_factory import contract_dict, identity_model

pytestmark = pytest.mark.slow

INSIDE = "335400,337400,5817200,5819200 [EPSG:32633]"  # inside the tiles' coverage (the crop, 2.56 km wide)
BEYOND = "333000,339000,5815000,5821500 [EPSG:32633]"  # twice as wide: tiles at the edges are missing (404)
TIMEOUT_MS = 2000


@pytest.fixture(scope="module")
def tiles(tmp_path_factory) -> dict[str, Path]:
    """XYZ tiles (zoom 12 to 14) of an 8-bit copy of a real Sentinel-2 crop, and a model that reads RGB values."""
    folder = tmp_path_factory.mktemp("xyz")
    source = make_hostile_inputs._crop(folder / "rgb.tif", gdal.GDT_Byte, scaleParams=[[]], bandList=[1, 2, 3])
    model = identity_model(folder / "rgb.onnx", 3, None, contract_dict(3, 3, tile=64, multiple=16, scale=1 / 255))
    return {"tiles": make_hostile_inputs._tiles(folder / "tiles", source), "model": model}


@pytest.fixture
def short_timeout():
    """QGIS's network timeout (Settings > Options > Network) at 2 s for the test, then as it was."""
    before = QgsNetworkAccessManager.timeout()
    QgsNetworkAccessManager.setTimeout(TIMEOUT_MS)
    yield
    QgsNetworkAccessManager.setTimeout(before)


def _run(url: str, model: Path, output: Path, extent: str = INSIDE) -> tuple[dict, RecordingFeedback]:
    layer = QgsRasterLayer(xyz_uri(url, 14), "tiles", "wms")
    assert layer.isValid()
    feedback = RecordingFeedback()
    result = classify({"INPUT": layer, "MODEL": str(model), "RESOLUTION": 10, "TARGET_CRS": "EPSG:32633",
                       "EXTENT": extent, "OUTPUT": str(output)}, feedback)
    return result, feedback


@pytest.mark.parametrize("server, message", [
    (refusing_port, "cannot be reached: http://127.0.0.1:{port}/14/"),
    (not_found_server, "returned no pixels: "),
    (silent_server, "cannot be reached: http://127.0.0.1:{port}/14/"),
], ids=["connection refused", "404 on every tile", "never answers"])
def test_a_web_map_that_cannot_be_reached_fails_with_its_url_and_cause(provider, tiles, tmp_path, short_timeout,
                                                                      server, message):
    with server() as url:
        port = url.split(":")[2].split("/")[0]
        with pytest.raises(QgsProcessingException) as failure:
            _run(url, tiles["model"], tmp_path / "classes.tif")
    text = str(failure.value)
    assert message.format(port=port) in text, text
    cause = {"connection refused": "Connection refused", "404 on every tile": "HTTP 404 no such tile",
             "never answers": f"no answer within {TIMEOUT_MS / 1000:g} s (the network timeout set in QGIS)"}
    assert any(cause[kind] in text for kind in cause), text
    assert "Settings > Options > Network" in text
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_tiles_served_over_http_are_classified_and_missing_edge_tiles_are_no_error(provider, tiles, tmp_path):
    with tile_server(tiles["tiles"]) as url:
        inside, _ = _run(url, tiles["model"], tmp_path / "inside.tif")
        beyond, feedback = _run(url, tiles["model"], tmp_path / "beyond.tif", BEYOND)
    files, _ = _run(f"file://{tiles['tiles'].as_posix()}/{{z}}/{{x}}/{{y}}.png", tiles["model"],
                    tmp_path / "files.tif")
    over_http, from_files = (gdal.Open(p).ReadAsArray() for p in (inside["OUTPUT"], files["OUTPUT"]))
    assert np.array_equal(over_http, from_files) and (over_http != 255).all()
    wide = gdal.Open(beyond["OUTPUT"]).ReadAsArray()
    assert 0.05 < (wide == 255).mean() < 0.95  # nodata where no tile exists, classes where tiles came
    assert not any("ERROR" in line for line in feedback.lines)
