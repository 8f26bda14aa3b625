"""Fixtures for the training tests: small real inputs cut from the bundled Sentinel-2 scene.

Networks here are tiny (U-Net depth 2, width 8; chips of 64 pixels) so the whole folder runs in a
few minutes on two cores; the architectures themselves are trained at full size for a few steps.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from osgeo import gdal

from tests.training.helpers import CROP, S2_IMAGE, S2_LABELS

gdal.UseExceptions()


@pytest.fixture(scope="session")
def s2_crop(tmp_path_factory) -> dict[str, Path]:
    """A 512 x 256 crop of the scene and of its label raster (same grid)."""
    folder = tmp_path_factory.mktemp("s2_crop")
    image, labels = folder / "image.tif", folder / "labels.tif"
    gdal.Translate(str(image), str(S2_IMAGE), srcWin=CROP)
    gdal.Translate(str(labels), str(S2_LABELS), srcWin=CROP)
    return {"image": image, "labels": labels}
