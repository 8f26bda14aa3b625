"""Similarity search: an embedding model's vector per cell compared with example points and polygons (cosine
similarity to each class's prototype, k-nearest-neighbour classes), the vectors written out; refusals; the
algorithm through processing.run, checkParameterValues and qgis_process."""
from __future__ import annotations

import re

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsRasterLayer,
    QgsSingleBandPseudoColorRenderer,
    QgsVectorLayer,
)

from plugin.adapters.cells.similarity import SimilarityRequest, similarity
from plugin.core.cells.neighbours import NearestNeighbours, cosine_similarity, prototypes
from plugin.core.errors import CancelledError, InputError, ModelError
from plugin.core.progress import LoggingProgress
from tests.cells.helpers import (
    AREA,
    POINTS,
    area_extent,
    cell_centre,
    classifier,
    embedder,
    expected_means,
    read_features,
    write_examples,
)
from tests.qgis.helpers import RecordingFeedback
from tests.support.cell_models import embedding_matrix
from tests.support.data import S2_IMAGE, leftover_files


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embedders")
    return {"embedder": embedder(folder), "wide": embedder(folder, dimensions=1030), "classifier": classifier(folder),
            "bordered": embedder(folder, 24, border=4)}


def vectors_of(cells: list[tuple[int, int]], dimensions: int = 8, border: int = 0) -> np.ndarray:
    """What the embedder gives for cells of the area's grid (rows and columns may lie outside the area), their
    windows reaching ``border`` pixels around them."""
    rows = [r for r, _ in cells]
    top, left = min(rows), min(c for _, c in cells)
    height, width = max(rows) - top + 1, max(c for _, c in cells) - left + 1
    means = expected_means(AREA[0] + left * 16, AREA[1] + top * 16, width * 16, height * 16, 16, border)
    return np.array([means[r - top, c - left] for r, c in cells]) @ embedding_matrix(4, dimensions)


def _request(tmp_path, model, **changes) -> SimilarityRequest:
    base = {"extent": area_extent(*AREA), "examples_path": write_examples(tmp_path / "ex.gpkg"),
            "examples_field": "kind", "k": 3}
    return SimilarityRequest(str(S2_IMAGE), str(model), **{**base, **changes})


def test_similarity_and_knn_are_those_of_each_cell_s_vector(tmp_path, models):
    request = _request(tmp_path, models["embedder"], similarity_path=str(tmp_path / "s.tif"),
                       knn_path=str(tmp_path / "k.tif"), knn_score_path=str(tmp_path / "ks.tif"),
                       vector_path=str(tmp_path / "cells.gpkg"), embeddings_path=str(tmp_path / "vectors.gpkg"))
    result = similarity(request, LoggingProgress())
    cells = [(r, c) for r in range(8) for c in range(10)]
    vectors = vectors_of(cells)
    examples = vectors_of([p for p, _ in POINTS])
    labels = np.array([{"field": 0, "town": 1, "water": 2}[k] for _, k in POINTS])  # alphabetical, numbered from 1
    expected = cosine_similarity(vectors, prototypes(examples, labels, 3)).reshape(8, 10, 3)
    written = gdal.Open(request.similarity_path)
    assert written.GetRasterBand(2).GetDescription() == "similarity to town"
    assert np.allclose(np.moveaxis(written.ReadAsArray(), 0, 2), expected, atol=1e-4)
    knn, score = NearestNeighbours(examples, labels, 3, 3).predict(vectors)
    assert (gdal.Open(request.knn_path).ReadAsArray() == knn.reshape(8, 10) + 1).all()
    assert np.allclose(gdal.Open(request.knn_score_path).ReadAsArray(), score.reshape(8, 10))
    assert result.examples == 6 and sum(result.knn_counts.values()) == 80
    features = read_features(request.vector_path)
    assert len(features) == 80 and {"knn_name", "sim_water", "sim_town", "sim_field"} <= set(features[0])
    stored = sorted(read_features(request.embeddings_path), key=lambda f: (f["cell_row"], f["cell_col"]))
    assert np.allclose([[f[f"e_{i:03d}"] for i in range(8)] for f in stored], vectors, atol=1e-4)


def test_examples_in_another_crs_and_polygons(tmp_path, models):
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    x0, y0 = cell_centre(6, 6)
    square = f"POLYGON(({x0 - 90} {y0 + 90},{x0 + 250} {y0 + 90},{x0 + 250} {y0 - 90},{x0 - 90} {y0 - 90},{x0 - 90} " \
             f"{y0 + 90}))"  # holds the centres of cells (6, 6) and (6, 7)
    plain = write_examples(tmp_path / "plain.gpkg", POINTS[:2], polygon=square)
    moved = write_examples(tmp_path / "moved.gpkg", POINTS[:2], crs=wgs84)
    request = _request(tmp_path, models["embedder"], examples_path=plain, examples_field=None, k=1,
                       similarity_path=str(tmp_path / "a.tif"))
    assert similarity(request, LoggingProgress()).examples == 4  # two points, two cells of the polygon
    request = _request(tmp_path, models["embedder"], examples_path=moved, examples_field=None,
                       similarity_path=str(tmp_path / "b.tif"))
    similarity(request, LoggingProgress())
    expected = cosine_similarity(vectors_of([(r, c) for r in range(8) for c in range(10)]),
                                 prototypes(vectors_of([p for p, _ in POINTS[:2]]), np.zeros(2, int), 1))
    assert np.allclose(gdal.Open(request.similarity_path).ReadAsArray(), expected.reshape(8, 10), atol=1e-4)


def test_examples_read_their_cell_with_its_border_as_the_run_does(tmp_path, models):
    request = _request(tmp_path, models["bordered"], similarity_path=str(tmp_path / "s.tif"),
                       embeddings_path=str(tmp_path / "v.gpkg"))
    similarity(request, LoggingProgress())
    cells = [(r, c) for r in range(8) for c in range(10)]
    vectors = vectors_of(cells, border=4)
    stored = sorted(read_features(request.embeddings_path), key=lambda f: (f["cell_row"], f["cell_col"]))
    assert np.allclose([[f[f"e_{i:03d}"] for i in range(8)] for f in stored], vectors, atol=1e-4)
    examples = vectors_of([p for p, _ in POINTS], border=4)  # one above the area: real pixels, not the run's
    labels = np.array([{"field": 0, "town": 1, "water": 2}[k] for _, k in POINTS])
    expected = cosine_similarity(vectors, prototypes(examples, labels, 3)).reshape(8, 10, 3)
    assert np.allclose(np.moveaxis(gdal.Open(request.similarity_path).ReadAsArray(), 0, 2), expected, atol=1e-4)
    assert not np.allclose(vectors_of([(2, 3)], border=4), vectors_of([(2, 3)]), atol=1e-3)  # the border counts


def test_long_vectors_are_written_in_one_binary_field(tmp_path, models):
    request = SimilarityRequest(str(S2_IMAGE), str(models["wide"]), extent=area_extent(*AREA),
                                embeddings_path=str(tmp_path / "v.gpkg"))
    similarity(request, LoggingProgress())
    feature = next(f for f in read_features(request.embeddings_path) if f["cell_row"] == 2 and f["cell_col"] == 5)
    assert np.allclose(np.frombuffer(feature["embedding"], "<f4"), vectors_of([(2, 5)], 1030)[0], rtol=1e-4)


@pytest.mark.parametrize("changes, error, message", [
    ({"k": 7}, InputError, "K is 7 but there are only 6 labelled example cells"),
    ({"examples_field": None}, InputError, "k-nearest-neighbour classes need labelled examples"),
    ({"distance": "manhattan"}, InputError, "DISTANCE 'manhattan' is not known"),
    ({"knn_path": None}, InputError, "No output is given"),
])
def test_impossible_requests_are_refused(tmp_path, models, changes, error, message):
    request = _request(tmp_path, models["embedder"], knn_path=str(tmp_path / "k.tif"))
    for key, value in changes.items():
        setattr(request, key, value)
    with pytest.raises(error, match=message):
        similarity(request, LoggingProgress())
    assert leftover_files(tmp_path) == ["ex.gpkg"]


def test_examples_outside_the_raster_and_the_wrong_model_are_refused(tmp_path, models):
    far = write_examples(tmp_path / "far.gpkg", [((-2000, 5), "x")])
    with pytest.raises(InputError, match=r"none of the 1 feature\(s\) of .* lies over the raster"):
        similarity(_request(tmp_path, models["embedder"], examples_path=far, examples_field=None,
                            similarity_path=str(tmp_path / "s.tif")), LoggingProgress())
    with pytest.raises(ModelError, match=r"is a classification model .*Classify tiles \(seamless:classifytiles\)"):
        similarity(_request(tmp_path, models["classifier"], similarity_path=str(tmp_path / "s.tif")),
                   LoggingProgress())
    assert leftover_files(tmp_path) == ["ex.gpkg", "far.gpkg"]


def test_a_cancelled_search_writes_nothing(tmp_path, models):
    progress = LoggingProgress()
    progress.cancel()  # before the examples' windows are run
    with pytest.raises(CancelledError):
        similarity(_request(tmp_path, models["embedder"], similarity_path=str(tmp_path / "s.tif"),
                            embeddings_path=str(tmp_path / "v.gpkg")), progress)
    assert leftover_files(tmp_path) == ["ex.gpkg"]


# ---- the algorithm -------------------------------------------------------------------------------------------
def _check(parameters: dict) -> tuple[bool, str]:
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("seamless:similarity")
    return algorithm.checkParameterValues(parameters, QgsProcessingContext())


def test_similarity_through_processing(provider, models, tmp_path):
    import processing

    xmin, ymin, xmax, ymax = area_extent(*AREA)
    result = processing.run("seamless:similarity", {
        "INPUT": str(S2_IMAGE), "MODEL": str(models["embedder"]), "EXTENT": f"{xmin},{xmax},{ymin},{ymax} [EPSG:32633]",
        "EXAMPLES": write_examples(tmp_path / "ex.gpkg"), "EXAMPLES_FIELD": "kind", "K": 3,
        "OUTPUT_SIMILARITY": str(tmp_path / "s.tif"), "OUTPUT_KNN": str(tmp_path / "k.tif")},
        feedback=RecordingFeedback())
    assert result["CELLS"] == 80 and result["EXAMPLE_CELLS"] == 6
    assert isinstance(QgsRasterLayer(result["OUTPUT_SIMILARITY"], "s").renderer(), QgsSingleBandPseudoColorRenderer)
    layer = QgsRasterLayer(result["OUTPUT_KNN"], "k")  # kept: the renderer lives as long as its layer
    assert [c.label for c in layer.renderer().classes()] == ["field", "town", "water"]


@pytest.mark.parametrize("change, message", [
    ({"EXAMPLES_FIELD": "colour"}, "EXAMPLES has no field 'colour'"),
    ({"MODEL": "classifier"}, r"is a classification model .*seamless:classifytiles"),
    ({"OUTPUT_SIMILARITY": None}, "No output is given"),
    ({"K": 0}, "K must be at least 1"),
])
def test_similarity_parameter_checks(provider, models, tmp_path, change, message):
    parameters = {"INPUT": str(S2_IMAGE), "MODEL": str(models["embedder"]), "EXAMPLES_FIELD": "kind",
                  "EXAMPLES": write_examples(tmp_path / "ex.gpkg"), "OUTPUT_SIMILARITY": str(tmp_path / "s.tif")}
    assert _check(parameters) == (True, "")
    if "MODEL" in change:
        change = {"MODEL": str(models[change["MODEL"]])}
    ok, text = _check({k: v for k, v in {**parameters, **change}.items() if v is not None})
    assert not ok and re.search(message, text), text


@pytest.mark.slow
def test_similarity_from_qgis_process(qgis_process, models, tmp_path):
    result = qgis_process("seamless:similarity", {"INPUT": S2_IMAGE, "MODEL": models["embedder"],
                                                  "EXAMPLES": write_examples(tmp_path / "ex.gpkg"),
                                                  "EXAMPLES_FIELD": "kind", "K": 2, "DISTANCE": "euclidean",
                                                  "OUTPUT_KNN": tmp_path / "k.tif"})
    assert result.returncode == 0, result.log
    assert int(result.results["EXAMPLE_CELLS"]) == 6 and (tmp_path / "k.qml").exists()
    refused = qgis_process("seamless:similarity", {"INPUT": S2_IMAGE, "MODEL": models["embedder"],
                                                   "EXAMPLES": write_examples(tmp_path / "ex2.gpkg"),
                                                   "EXAMPLES_FIELD": "kind", "K": 50, "OUTPUT_KNN": tmp_path / "x.tif"})
    assert refused.returncode != 0 and "K is 50 but there are only 6 labelled example cells" in refused.log
    assert not (tmp_path / "x.tif").exists()


def test_a_geopackage_s_other_layers_are_kept(provider, models, tmp_path):
    import processing

    project = tmp_path / "project.gpkg"
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(project))
    roads = source.CreateLayer("roads", None, ogr.wkbLineString)
    feature = ogr.Feature(roads.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt("LINESTRING (0 0, 1 1)"))
    roads.CreateFeature(feature)
    feature, roads, source = None, None, None
    xmin, ymin, xmax, ymax = area_extent(*AREA)
    processing.run("seamless:similarity", {
        "INPUT": str(S2_IMAGE), "MODEL": str(models["embedder"]), "EXTENT": f"{xmin},{xmax},{ymin},{ymax} [EPSG:32633]",
        "EXAMPLES": write_examples(tmp_path / "ex.gpkg"), "EXAMPLES_FIELD": "kind", "K": 3,
        "OUTPUT_VECTOR": str(project)}, feedback=RecordingFeedback())
    written = ogr.Open(str(project))
    layers = {written.GetLayerByIndex(i).GetName(): written.GetLayerByIndex(i).GetFeatureCount()
              for i in range(written.GetLayerCount())}
    styled = written.ExecuteSQL("SELECT f_table_name FROM layer_styles")
    tables = [f.GetField(0) for f in styled]
    written.ReleaseResultSet(styled)
    written = None
    assert layers == {"roads": 1, "project": 80, "layer_styles": 1} and tables == ["project"]
    layer = QgsVectorLayer(f"{project}|layername=project", "p")
    assert layer.renderer().type() == "categorizedSymbol"
