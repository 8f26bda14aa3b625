"""Fixtures of the distributed tests: a real local Dask cluster of two worker processes, and a real scene."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from osgeo import gdal

from tests.support.data import S2_IMAGE

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def cluster():
    """A local cluster of two worker processes, shared by the tests (each test's client connects to it)."""
    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                                     silence_logs=logging.ERROR)
    client = distributed.Client(local)
    yield local, client
    client.close()
    local.close()


@pytest.fixture(scope="session")
def scene(tmp_path_factory) -> Path:
    """Real pixels: 768 x 640 px of the Sentinel-2 subset, a tiled GeoTIFF as a user's would be."""
    path = tmp_path_factory.mktemp("scene") / "scene.tif"
    gdal.Translate(str(path), str(S2_IMAGE), srcWin=[300, 64, 768, 640], creationOptions=["TILED=YES",
                                                                                           "COMPRESS=DEFLATE"])
    return path
