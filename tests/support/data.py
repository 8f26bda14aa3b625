"""Paths to the committed real test data, as a per-session copy (tests read the copy: QGIS writes statistics
sidecars next to rasters it loads and may touch GeoPackages it opens, and the committed files must stay exactly
as they are)."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMMITTED_DATA = REPO / "tests" / "data"
_SESSION_COPY = Path(tempfile.mkdtemp(prefix="seamless-test-data-"))
DATA = _SESSION_COPY / "data"
shutil.copytree(COMMITTED_DATA, DATA)
atexit.register(shutil.rmtree, _SESSION_COPY, True)
# Measured context margins are cached here, not in the user's cache folder (qgis_process inherits it).
os.environ["SEAMLESS_SEGMENTATION_CACHE"] = str(_SESSION_COPY / "cache")

S2_IMAGE = DATA / "s2" / "s2_l1c_10m_B02_B03_B04_B08.tif"
S2_LABELS = DATA / "s2" / "osm_landuse_labels_10m.tif"
S2_POLYGONS = DATA / "s2" / "osm_landuse.gpkg"
DEEPNESS_MODELS = DATA / "deepness" / "models"
FOTOMAP = DATA / "deepness" / "dummy_fotomap_small.tif"
SPACENET = DATA / "spacenet" / "sample_geotiff.tif"
DETECTREE_TILE = DATA / "detectree" / "1091-322_00.tif"
LANDSAT_EDGE = DATA / "landsat" / "landsat7_edge.tif"
BUNDLED_MODEL = REPO / "models" / "s2_landuse_unet.onnx"
SAMPLE = REPO / "resources" / "sample" / "s2_sample.tif"


def leftover_files(folder: Path, keep: set[str] = frozenset()) -> list[str]:
    """Files in ``folder`` other than ``keep``: what a failed or cancelled run must not leave."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name not in keep)
