"""The class style the command line writes without QGIS (adapters/qml_style.py) is what QGIS shows: a paletted
renderer with the model's class values, names and colours, the same as the style QGIS itself saves."""
from __future__ import annotations

import shutil

import numpy as np
from osgeo import gdal
from qgis.core import QgsPalettedRasterRenderer, QgsRasterLayer

from plugin.adapters.outputs.qml_style import write_qml_style
from plugin.core.model.loading import load_model
from plugin.processing.common.styling import write_default_style
from tests.support.data import REPO


def _plain_class_raster(path) -> str:
    """Class values without any colour table or names: only a style can make them a paletted layer."""
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), 16, 8, 1, gdal.GDT_Byte)
    dataset.GetRasterBand(1).WriteArray(np.arange(1, 9, dtype=np.uint8).repeat(16).reshape(8, 16))
    dataset = None
    return str(path)


def _entries(path) -> list[tuple[int, str, str]]:
    layer = QgsRasterLayer(path, "classes", "gdal")  # applies name.qml, the default style
    renderer = layer.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer), type(renderer)
    return [(int(c.value), c.label, c.color.name()) for c in renderer.classes()]


def test_the_style_written_without_qgis_is_the_one_qgis_saves(qgis_app, tmp_path):
    contract = load_model(REPO / "models" / "s2_landuse_unet.onnx", "cpu").contract
    ours = _plain_class_raster(tmp_path / "ours.tif")
    write_qml_style(ours, contract)
    expected = [(c.value, c.name, c.color.lower()) for c in contract.outputs[0].classes]
    assert _entries(ours) == expected
    theirs = tmp_path / "theirs.tif"
    shutil.copy(ours, theirs)
    write_default_style(str(theirs), contract)  # QGIS's own writer, as the Processing algorithm uses
    assert _entries(str(theirs)) == _entries(ours)
