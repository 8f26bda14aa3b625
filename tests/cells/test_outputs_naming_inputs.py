"""The cell jobs refuse, before anything is read or written, an output that names one of their inputs (the
raster, the model, the examples) or another output; every input is left byte for byte as it was."""
from __future__ import annotations

import shutil

import pytest

from plugin.adapters.cells.job import TilesRequest
from plugin.adapters.cells.similarity import SimilarityRequest
from plugin.core.errors import OutputError
from tests.support.data import S2_IMAGE, S2_POLYGONS


@pytest.fixture
def inputs(tmp_path):
    """A copy of the raster and of the examples, and a stand-in model file."""
    raster, examples, model = tmp_path / "scene.tif", tmp_path / "examples.gpkg", tmp_path / "model.onnx"
    shutil.copy(S2_IMAGE, raster)
    shutil.copy(S2_POLYGONS, examples)
    model.write_bytes(b"not read before the outputs are checked")
    return raster, examples, model


def test_classify_tiles_refuses_outputs_naming_an_input_or_each_other(inputs, tmp_path):
    raster, _, model = inputs
    before = raster.read_bytes()
    with pytest.raises(OutputError, match="OUTPUT .* is the same file as INPUT"):
        TilesRequest(str(raster), str(model), str(raster)).check_paths()
    with pytest.raises(OutputError, match="name the same file"):
        TilesRequest(str(raster), str(model), str(tmp_path / "c.tif"),
                     probabilities_path=str(tmp_path / "sub" / ".." / "c.tif")).check_paths()
    assert raster.read_bytes() == before


def test_similarity_refuses_outputs_naming_the_raster_or_the_examples(inputs):
    raster, examples, model = inputs
    before = examples.read_bytes()
    with pytest.raises(OutputError, match="OUTPUT_SIMILARITY .* is the same file as INPUT"):
        SimilarityRequest(str(raster), str(model), examples_path=str(examples), similarity_path=str(raster)).check()
    with pytest.raises(OutputError, match="OUTPUT_VECTOR .* is the same file as EXAMPLES"):
        SimilarityRequest(str(raster), str(model), examples_path=str(examples), vector_path=str(examples)).check()
    assert examples.read_bytes() == before
