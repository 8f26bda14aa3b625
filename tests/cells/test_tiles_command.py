"""``seamless-segmentation classify-tiles``: the job from a shell, its styles without QGIS, its refusals, and a run on
a real 2-worker Dask cluster in blocks that equals one process cell for cell."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from tests.cells.helpers import area_extent, classifier, expected_means, read_features, regressor
from tests.cli.helpers import cli
from tests.support.data import S2_IMAGE, leftover_files

AREA = (100, 60, 352, 288)  # 22 x 18 cells of 16 px


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_models")
    return {"classifier": classifier(folder, 24, 4), "regressor": regressor(folder)}


def _extent() -> list[str]:
    return [str(v) for v in area_extent(*AREA)]


def test_classify_tiles_from_a_shell(capsys, models, tmp_path):
    output = tmp_path / "cells.tif"
    result = cli(capsys, "classify-tiles", S2_IMAGE, models["classifier"], output, "--extent", *_extent(),
                 "--probabilities", tmp_path / "p.tif", "--output-vector", tmp_path / "cells.gpkg", "--json")
    assert result.returncode == 0, result.log
    classes = gdal.Open(str(output)).ReadAsArray()
    assert (classes == expected_means(*AREA, 16, border=4).argmax(axis=2) + 1).all()
    assert result.json["CELLS"] == 22 * 18 == len(read_features(tmp_path / "cells.gpkg"))
    assert 'type="paletted"' in (tmp_path / "cells.qml").read_text()


def test_values_get_a_pseudocolour_style_qgis_reads(capsys, models, tmp_path, qgis_app):
    from qgis.core import QgsRasterLayer, QgsSingleBandPseudoColorRenderer

    result = cli(capsys, "classify-tiles", S2_IMAGE, models["regressor"], tmp_path / "v.tif", "--extent", *_extent())
    assert result.returncode == 0, result.log
    layer = QgsRasterLayer(str(tmp_path / "v.tif"), "v")
    assert isinstance(layer.renderer(), QgsSingleBandPseudoColorRenderer)
    assert layer.renderer().classificationMax() == 1.0


@pytest.mark.parametrize("arguments, message", [
    (["--cell-size", "3"], "smaller than a pixel"),
    (["--cell-size", "-3"], "CELL_SIZE must be at least 0"),
    (["--block-size", "64"], "--block-size is for distributed runs"),
    (["--tta", "sideways"], "TTA 'sideways' is not one of its options"),
])
def test_bad_options_get_the_algorithm_s_messages(capsys, models, tmp_path, arguments, message):
    result = cli(capsys, "classify-tiles", S2_IMAGE, models["classifier"], tmp_path / "c.tif", *arguments)
    assert result.returncode != 0 and message in result.log
    assert leftover_files(tmp_path) == []


@pytest.mark.slow
def test_distributed_in_blocks_equals_one_process(capsys, models, tmp_path):
    pytest.importorskip("distributed")
    single, spread = tmp_path / "single", tmp_path / "spread"
    for folder, more in ((single, []), (spread, ["--workers", "2", "--block-size", "112"])):
        result = cli(capsys, "classify-tiles", S2_IMAGE, models["classifier"], folder / "c.tif", "--extent",
                     *_extent(), "--probabilities", folder / "p.tif", "--output-vector", folder / "c.gpkg", *more)
        assert result.returncode == 0, result.log
    assert "block(s)" in result.log  # 7 cells a block: 4 x 3 blocks
    for name in ("c.tif", "p.tif"):
        a, b = (gdal.Open(str(folder / name)).ReadAsArray() for folder in (single, spread))
        assert np.array_equal(a, b), name
    features = [sorted((f["cell_row"], f["cell_col"], f["class_value"], f["score"]) for f in read_features(
        folder / "c.gpkg")) for folder in (single, spread)]
    assert features[0] == features[1]
