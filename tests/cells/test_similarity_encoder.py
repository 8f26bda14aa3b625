"""Similarity search with an encoder made elsewhere: a small convolutional network with no metadata (no contract,
a dynamic vector length), run as an embedding model by Similarity search alone. Every vector written is the one
onnxruntime gives for the same window of the Sentinel-2 scene, fed directly; the similarity follows from them."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from osgeo import gdal

from plugin.adapters.cells.similarity import SimilarityRequest, similarity
from plugin.core.cells.neighbours import cosine_similarity, prototypes
from plugin.core.progress import LoggingProgress
from tests.cells.helpers import AREA, POINTS, area_extent, cell_centre, read_features, s2_pixels, write_examples
from tests.qgis.helpers import RecordingFeedback
from tests.support.cell_models import conv_encoder
from tests.support.data import S2_IMAGE

CELL = 16


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return conv_encoder(tmp_path_factory.mktemp("encoder") / "encoder.onnx", 4)


def direct_vectors(model, top: int, left: int, rows: int, cols: int) -> np.ndarray:
    """(rows * cols, D): onnxruntime on the scene's 16 px windows from cell (top, left) of the area's grid, with
    the normalisation of a model that states none (pixel / 255, Deepness's convention)."""
    pixels = s2_pixels(AREA[0] + left * CELL, AREA[1] + top * CELL, cols * CELL, rows * CELL) / 255.0
    windows = pixels.reshape(4, rows, CELL, cols, CELL).transpose(1, 3, 0, 2, 4).reshape(-1, 4, CELL, CELL)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": windows.astype(np.float32)})[0]


def test_the_vectors_of_an_encoder_without_metadata(tmp_path, encoder):
    request = SimilarityRequest(str(S2_IMAGE), str(encoder), extent=area_extent(*AREA),
                                embeddings_path=str(tmp_path / "vectors.gpkg"))
    result = similarity(request, LoggingProgress())
    assert result.dimensions == 6 and result.summary.cells == 80 and result.examples == 0
    stored = sorted(read_features(request.embeddings_path), key=lambda f: (f["cell_row"], f["cell_col"]))
    expected = direct_vectors(encoder, 0, 0, 8, 10)
    assert np.allclose([[f[f"e_{i:03d}"] for i in range(6)] for f in stored], expected, rtol=1e-4, atol=1e-4)
    assert stored[13]["cell_row"] == 1 and stored[13]["cell_col"] == 3
    assert "POLYGON" in stored[0]["wkt"]


def test_similarity_with_that_encoder_through_processing(provider, tmp_path, encoder):
    import processing

    x0, y0 = cell_centre(6, 6)
    square = (f"POLYGON(({x0 - 90} {y0 + 90},{x0 + 250} {y0 + 90},{x0 + 250} {y0 - 90},{x0 - 90} {y0 - 90},"
              f"{x0 - 90} {y0 + 90}))")  # holds the centres of cells (6, 6) and (6, 7)
    xmin, ymin, xmax, ymax = area_extent(*AREA)
    result = processing.run("seamless:similarity", {
        "INPUT": str(S2_IMAGE), "MODEL": str(encoder), "EXTENT": f"{xmin},{xmax},{ymin},{ymax} [EPSG:32633]",
        "EXAMPLES": write_examples(tmp_path / "ex.gpkg", POINTS[:2], polygon=square),
        "OUTPUT_SIMILARITY": str(tmp_path / "s.tif"), "OUTPUT_VECTOR": str(tmp_path / "cells.gpkg")},
        feedback=RecordingFeedback())
    assert result["CELLS"] == 80 and result["EXAMPLE_CELLS"] == 4 and result["KNN_COUNTS"] == ""
    cells = direct_vectors(encoder, 0, 0, 8, 10)
    examples = np.stack([cells[2 * 10 + 3], cells[5 * 10 + 1], cells[6 * 10 + 6], cells[6 * 10 + 7]])
    expected = cosine_similarity(cells, prototypes(examples, np.zeros(4, int), 1)).reshape(8, 10)
    written = gdal.Open(result["OUTPUT_SIMILARITY"]).ReadAsArray()
    assert np.allclose(written, expected, atol=1e-4)
    assert np.isclose(written.max(), expected.max()) and written.max() < 1.0  # no cell is an example's mean
    polygons = {(f["cell_row"], f["cell_col"]): f for f in read_features(result["OUTPUT_VECTOR"])}
    assert len(polygons) == 80 and np.isclose(polygons[(6, 6)]["sim_ex"], expected[6, 6], atol=1e-4)
