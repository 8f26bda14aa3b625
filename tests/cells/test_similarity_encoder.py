"""Similarity search with an encoder made elsewhere: a small convolutional network with no metadata (no contract,
a dynamic vector length), run as an embedding model by Similarity search alone. Every vector written is the one
onnxruntime gives for the same window of the Sentinel-2 scene, fed directly; the similarity follows from them.
With the scene's OpenStreetMap land use (a layer larger than the scene) as labelled examples, the k-NN classes are
scikit-learn's on the written vectors."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from osgeo import gdal, ogr

from plugin.adapters.cells.similarity import SimilarityRequest, similarity
from plugin.core.cells.neighbours import cosine_similarity, prototypes
from plugin.core.progress import LoggingProgress
from tests.cells.helpers import AREA, POINTS, area_extent, cell_centre, read_features, s2_pixels, write_examples
from tests.qgis.helpers import RecordingFeedback
from tests.support.cell_models import conv_encoder
from tests.support.data import S2_IMAGE, S2_POLYGONS

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


def land_use_points(path) -> tuple[str, list[tuple[float, float, str]]]:
    """A point inside each OpenStreetMap land-use polygon, with its class (fclass), written to ``path``."""
    source = ogr.Open(str(S2_POLYGONS))
    layer = source.GetLayer(0)
    points = [(p.GetX(), p.GetY(), f.GetField("fclass")) for f in layer for p in [f.GetGeometryRef().PointOnSurface()]]
    target = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    out = target.CreateLayer("land_use", layer.GetSpatialRef(), ogr.wkbPoint)
    out.CreateField(ogr.FieldDefn("fclass", ogr.OFTString))
    for x, y, name in points:
        feature = ogr.Feature(out.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x} {y})"))
        feature.SetField("fclass", name)
        out.CreateFeature(feature)
    feature, out, target, layer, source = None, None, None, None, None
    return str(path), points


def test_knn_on_land_use_larger_than_the_scene_is_scikit_learn_s(tmp_path, encoder):
    from sklearn.neighbors import KNeighborsClassifier

    path, points = land_use_points(tmp_path / "land_use.gpkg")
    request = SimilarityRequest(str(S2_IMAGE), str(encoder), examples_path=path, examples_field="fclass", k=5,
                                knn_path=str(tmp_path / "k.tif"), embeddings_path=str(tmp_path / "v.gpkg"))
    progress = LoggingProgress()
    result = similarity(request, progress)
    x0, dx, _, y0, _, dy = gdal.Open(str(S2_IMAGE)).GetGeoTransform()
    cells = [(int((y0 - y) // (-dy * CELL)), int((x - x0) // (dx * CELL)), name) for x, y, name in points]
    over = [(r, c, name) for r, c, name in cells if 0 <= r < 48 and 0 <= c < 96]
    assert 0 < len(points) - len(over) and result.examples == len(over) and result.summary.cells == 96 * 48
    assert any(f"{len(points) - len(over)} example feature(s) lie beyond the raster" in m for m in progress.warnings)
    stored = {(f["cell_row"], f["cell_col"]): [f[f"e_{i:03d}"] for i in range(6)]
              for f in read_features(request.embeddings_path)}
    names = sorted({name for _, _, name in cells})
    reference = KNeighborsClassifier(5, metric="cosine", algorithm="brute").fit(
        [stored[(r, c)] for r, c, _ in over], [names.index(name) + 1 for _, _, name in over])
    grid = [(r, c) for r in range(48) for c in range(96)]
    votes = reference.predict_proba([stored[cell] for cell in grid])
    # Where scikit-learn's answer is the only one: one class has most votes, and the 5th neighbour is nearer than
    # the 6th (several points fall in one cell: examples at equal distances are picked by different rules).
    distances = reference.kneighbors([stored[cell] for cell in grid], 6)[0]
    top = votes == votes.max(axis=1, keepdims=True)
    clear = (top.sum(axis=1) == 1) & (distances[:, 4] < distances[:, 5] - 1e-9)
    written = gdal.Open(request.knn_path).ReadAsArray().ravel()
    assert clear.mean() > 0.5 and (written[clear] == reference.classes_[votes.argmax(axis=1)][clear]).all()
