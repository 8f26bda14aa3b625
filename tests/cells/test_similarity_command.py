"""``seamless-segmentation similarity``: the Similarity search job from a shell gives what the job gives, with
its styles written without QGIS, and the algorithm's refusals."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from plugin.adapters.cells.similarity import SimilarityRequest, similarity
from plugin.core.progress import LoggingProgress
from tests.cells.helpers import AREA, area_extent, embedder, read_features, write_examples
from tests.cli.helpers import cli
from tests.support.data import S2_IMAGE, leftover_files


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return embedder(tmp_path_factory.mktemp("cli_embedder"))


def _extent() -> list[str]:
    return [str(v) for v in area_extent(*AREA)]


def test_similarity_from_a_shell_is_the_job_s(capsys, model, tmp_path):
    examples = write_examples(tmp_path / "ex.gpkg")
    result = cli(capsys, "similarity", S2_IMAGE, model, "--extent", *_extent(), "--examples", examples,
                 "--examples-field", "kind", "--k", "3", "--distance", "euclidean", "--similarity", tmp_path / "s.tif",
                 "--knn", tmp_path / "k.tif", "--embeddings", tmp_path / "v.gpkg", "--json")
    assert result.returncode == 0, result.log
    assert result.json["CELLS"] == 80 and result.json["EXAMPLE_CELLS"] == 6 and result.json["DIMENSIONS"] == 8
    counts = result.json["KNN_COUNTS"]
    assert sum(counts.values()) == 80 and set(counts) <= {"field", "town", "water"}
    job = tmp_path / "job"
    job.mkdir()
    request = SimilarityRequest(str(S2_IMAGE), str(model), extent=area_extent(*AREA), examples_path=examples,
                                examples_field="kind", k=3, distance="euclidean", similarity_path=str(job / "s.tif"),
                                knn_path=str(job / "k.tif"))
    similarity(request, LoggingProgress())
    for name in ("s.tif", "k.tif"):
        shell, direct = (gdal.Open(str(folder / name)).ReadAsArray() for folder in (tmp_path, job))
        assert np.array_equal(shell, direct), name
    assert 'type="paletted"' in (tmp_path / "k.qml").read_text() and (tmp_path / "s.qml").exists()
    assert len(read_features(tmp_path / "v.gpkg")) == 80


@pytest.mark.parametrize("arguments, message", [
    (["--knn", "k.tif", "--examples", "EX"], "k-nearest-neighbour classes need labelled examples"),
    (["--similarity", "s.tif"], "EXAMPLES is missing"),
    ([], "No output is given"),
    (["--embeddings", "v.gpkg", "--k", "0"], "K must be at least 1"),
    (["--embeddings", "v.gpkg", "--distance", "manhattan"], "DISTANCE 'manhattan' is not one of its options"),
])
def test_bad_options_get_the_algorithm_s_messages(capsys, model, tmp_path, arguments, message):
    examples = write_examples(tmp_path / "ex.gpkg")
    arguments = [examples if a == "EX" else tmp_path / a if a.endswith((".tif", ".gpkg")) else a for a in arguments]
    result = cli(capsys, "similarity", S2_IMAGE, model, "--extent", *_extent(), *arguments)
    assert result.returncode != 0 and message in result.log, result.log
    assert leftover_files(tmp_path) == ["ex.gpkg"]
