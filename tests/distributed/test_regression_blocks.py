"""A regression model's value raster from a distributed run (blocks on a local Dask cluster of two worker
processes) is bit-identical to the single-process run: the same float32 values, metadata, statistics and
style, with blocks smaller than a window so that every block's halo spans its neighbours."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from plugin.adapters.classify.job import ClassifyRequest, classify
from plugin.adapters.outputs.qml_style import write_qml_style
from plugin.core.engine.plan import RunOptions
from plugin.core.progress import LoggingProgress
from tests.cli.helpers import cli, same_raster
from tests.support.data import S2_IMAGE
from tests.support.onnx_factory import linear_model, regression_contract_dict

pytestmark = pytest.mark.slow
pytest.importorskip("distributed")


def test_blocks_on_two_workers_give_the_single_process_values(capsys, tmp_path):
    scene = tmp_path / "scene.tif"
    gdal.Translate(str(scene), str(S2_IMAGE), srcWin=[211, 97, 333, 251])
    contract = regression_contract_dict(3, tile=64, multiple=16, valid_range=[0, 2500])
    contract["input"].update({"mean": [1400, 1140, 1120], "std": [150, 180, 260]})
    model = linear_model(tmp_path / "nir.onnx", np.array([[-300.0, 250.0, 400.0]]), np.array([1500.0]), kernel=7,
                         contract=contract)
    single = tmp_path / "single"
    single.mkdir()
    classify(ClassifyRequest(str(scene), str(model), str(single / "values.tif"), bands=[1, 2, 3], clip_to_range=True,
                             options=RunOptions(window_size=64, overlap=50)), LoggingProgress(),
             style_writer=write_qml_style)
    blocks = tmp_path / "blocks"
    result = cli(capsys, "classify", scene, model, blocks / "values.tif", "--bands", "1,2,3", "--window-size", "64",
                 "--overlap", "50", "--clip-to-range", "--workers", "2", "--block-size", "48", "--json")
    assert result.returncode == 0, result.log
    assert result.json["TASKS"] > 4  # really cut into blocks
    same_raster(blocks / "values.tif", single / "values.tif")  # float32 values exactly equal, metadata too
    assert (blocks / "values.qml").read_text() == (single / "values.qml").read_text()
    statistics = result.json["VALUE_STATISTICS"]["estimate [reflectance x 10000]"]
    assert statistics["clipped"] and statistics["above_valid_range"] > 0
    assert sorted(p.name for p in blocks.iterdir()) == ["values.qml", "values.tif"]  # the blocks are gone
