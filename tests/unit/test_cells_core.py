"""The cell kind's pure core: contracts, cell sizes, the plan as a grid of cells, the merger (panels, nodata,
partial cells, test-time variants), similarity and k-nearest neighbours, regression scores."""
from __future__ import annotations

import numpy as np
import pytest

from plugin.core.areas.window import PixelWindow
from plugin.core.cells.geometry import cell_geometry
from plugin.core.cells.neighbours import NearestNeighbours, cosine_similarity, prototypes, unit_rows
from plugin.core.cells.plan import cell_counts, plan_cells
from plugin.core.cells.run import CollectingSink, run_cells
from plugin.core.cells.scores import regression_scores
from plugin.core.errors import ContractError, InputError, ModelError
from plugin.core.model.contract import ModelContract
from plugin.core.model.contract_cells import ValueSpec
from plugin.core.model.contract_sources import ModelIO, TensorInfo, resolve_contract
from plugin.core.progress import LoggingProgress
from tests.support.cell_models import class_output, contract_for, window_means
from tests.support.engine import ArraySource


def io(outputs, size=16, bands=3) -> ModelIO:
    return ModelIO((TensorInfo("image", ("batch", bands, size, size)),), tuple(TensorInfo(n, s) for n, s in outputs))


class MeanPredictor:
    """Band means of each window, as the test models compute them (logits of a classifier)."""

    def __init__(self, dimensions: np.ndarray | None = None) -> None:
        self.dimensions, self.sizes = dimensions, []

    def predict(self, batch: np.ndarray) -> list[np.ndarray]:
        self.sizes.append(len(batch))
        means = batch.mean(axis=(2, 3))
        return [means if self.dimensions is None else means @ self.dimensions]


# ---- contracts -------------------------------------------------------------------------------------------------
def test_cell_contracts_round_trip():
    regression = contract_for("classification", 4, [{"name": "ndvi", "kind": "regression", "units": "NDVI",
                                                      "valid_range": [-1, 1]}], border=4)
    for data in (contract_for("classification", 3, [class_output(3)]), regression,
                 contract_for("embedding", 3, [{"name": "embedding", "kind": "embedding"}])):
        contract = ModelContract.from_dict(data)
        assert ModelContract.from_json(contract.to_json()) == contract
    contract = ModelContract.from_dict(regression)
    assert contract.cells.border_px == 4 and contract.cells.values == (ValueSpec("NDVI", (-1.0, 1.0)),)
    assert contract.to_dict()["outputs"][0]["valid_range"] == [-1.0, 1.0]


@pytest.mark.parametrize("task, outputs, message", [
    ("classification", [{"kind": "regression", "classes": [{"value": 1}]}], "only classification outputs"),
    ("classification", [{"kind": "logits", "units": "m"}], "describe regression outputs"),
    ("classification", [{"kind": "logits"}], "without classes"),
    ("classification", [class_output(2), {"kind": "regression"}], "one class output, or regression outputs only"),
    ("classification", [{"kind": "regression", "valid_range": [1, 0]}], "low < high"),
    ("classification", [{"kind": "embedding"}], "belong to task \"embedding\""),
    ("embedding", [{"kind": "logits", "classes": [{"value": 1}]}], "outputs are of kind embedding"),
    ("embedding", [{"kind": "embedding"}, {"kind": "embedding"}], "exactly one output"),
])
def test_invalid_cell_contracts_say_what_to_fix(task, outputs, message):
    with pytest.raises(ContractError, match=message):
        ModelContract.from_dict(contract_for(task, 3, outputs))


def test_a_cells_section_belongs_to_cell_models_only():
    data = {"input": {"bands": 1}, "outputs": [{"kind": "logits", "classes": [{"value": 0}, {"value": 1}]}],
            "tile_size": 16, "cells": {"border_px": 2}}
    with pytest.raises(ContractError, match="'cells' section belongs"):
        ModelContract.from_dict(data)
    with pytest.raises(ContractError, match="Did you mean 'border_px'"):
        ModelContract.from_dict({**contract_for("classification", 3, [class_output(3)]), "cells": {"border": 2}})


def test_shapes_say_what_a_cell_model_gives():
    contract, _ = resolve_contract(io([("probs", ("batch", 5))]), {}, default_task="classification")
    assert contract.task == "classification" and contract.outputs[0].class_count == 5
    contract, _ = resolve_contract(io([("vec", ("batch", 64, 1, 1))]), {}, default_task="embedding")
    assert contract.outputs[0].kind == "embedding" and not contract.outputs[0].classes
    with pytest.raises(ModelError, match="segmentation map: run such a model with Classify raster"):
        resolve_contract(io([("map", ("batch", 5, 16, 16))]), {}, default_task="classification")
    sidecar = '{"task": "classification", "outputs": [{"kind": "regression", "units": "m"}]}'
    contract, _ = resolve_contract(io([("height", ("batch", 1))]), {}, sidecar)
    assert contract.outputs[0].kind == "regression" and contract.cells.values[0].units == "m"


# ---- cell sizes ------------------------------------------------------------------------------------------------
def test_cells_from_the_model_window_and_its_border():
    geometry = cell_geometry((10.0, 10.0), 32, 8)
    assert (geometry.cell_px, geometry.border_px, geometry.resolution, geometry.resampled) == (16, 8, (10.0, 10.0),
                                                                                               False)
    assert cell_geometry((10.0, 10.0), 32, 0, border=40.0).border_px == 4


def test_a_cell_size_in_map_units_is_read_at_the_resolution_that_fits_the_model():
    same = cell_geometry((10.0, 10.0), 32, 8, cell_size=160.0)
    assert (same.cell_px, same.border_px, same.resampled) == (16, 8, False)
    other = cell_geometry((10.0, 10.0), 32, 8, cell_size=320.0)  # the contract's border in proportion: 160 m
    assert (other.cell_px, other.border_px, other.resolution, other.resampled) == (16, 8, (20.0, 20.0), True)
    assert other.cell_size == (320.0, 320.0)
    given = cell_geometry((10.0, 10.0), 224, 0, cell_size=100.0, border=20.0)
    assert given.window == 224 and given.cell_size == (100.0, 100.0) and given.border_px == 32
    dynamic = cell_geometry((10.0, 10.0), None, 0, cell_size=250.0)
    assert (dynamic.cell_px, dynamic.resolution, dynamic.resampled) == (25, (10.0, 10.0), False)


@pytest.mark.parametrize("arguments, message", [
    ({"cell_size": 5.0}, "smaller than a pixel"),
    ({"cell_size": -1.0}, "CELL_SIZE must be zero"),
    ({"border": 200.0}, "leaves no cell"),
    ({"border": -1.0}, "BORDER must be zero or"),
])
def test_impossible_cell_sizes_are_refused(arguments, message):
    with pytest.raises(InputError, match=message):
        cell_geometry((10.0, 10.0), 16, 0, **arguments)


def test_a_dynamic_model_without_a_tile_size_needs_a_cell_size():
    with pytest.raises(InputError, match="give CELL_SIZE"):
        cell_geometry((10.0, 10.0), None, 0)


# ---- the run -------------------------------------------------------------------------------------------------
def _contract(bands: int, border: int = 0) -> ModelContract:
    return ModelContract.from_dict(contract_for("classification", bands, [class_output(bands)], border=border))


def _run(data, cell, border, valid=None, panel=4096, tta="none", batch=0, dimensions=None, task="classification"):
    bands, height, width = data.shape
    outputs = [class_output(bands)] if task == "classification" else [{"kind": "embedding"}]
    contract = ModelContract.from_dict(contract_for(task, bands, outputs, border=border))
    plan = plan_cells(cell, border, width, height, tta=tta, batch_size=batch, max_panel_width=panel)
    columns, rows = cell_counts(plan)
    sink = CollectingSink(columns, rows)
    summary = run_cells(ArraySource(data, valid), MeanPredictor(dimensions), sink, contract,
                        PixelWindow(0, 0, width, height), plan, LoggingProgress())
    return sink, summary, plan


@pytest.mark.parametrize("cell, border, panel", [(8, 0, 4096), (8, 4, 4096), (7, 3, 24), (8, 2, 20), (16, 5, 40)])
def test_every_cell_gets_its_own_window_once_whatever_the_panels(cell, border, panel):
    """Cells that tile the area give what the model gives on each cell's window alone (mirrored past the raster's
    edges, as the engine reads)."""
    data = np.random.default_rng(1).random((3, 6 * cell, 8 * cell)).astype(np.float32)
    sink, summary, plan = _run(data, cell, border, panel=panel)
    expected = window_means(data, cell + 2 * border, cell, border)
    assert sink.grid("present").all() and summary.cells == expected.shape[0] * expected.shape[1]
    assert (sink.grid("classes") == expected.argmax(axis=2)).all()
    logits = expected - expected.max(axis=2, keepdims=True)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    assert np.allclose(sink.grid("probabilities"), softmax, atol=1e-6)
    assert len({(p.row, p.col) for p in sink.parts}) == len(sink.parts)  # every row segment handed on once
    if panel < 8 * cell:
        assert len(plan.grid.panels) > 1


def test_cells_without_valid_pixels_are_left_out_and_partial_cells_say_how_much_they_cover():
    data = np.random.default_rng(2).random((3, 20, 20)).astype(np.float32)
    valid = np.ones((20, 20), bool)
    valid[:8, :8] = False  # the first cell entirely nodata
    valid[8:12, :8] = False  # half of the cell below
    sink, summary, _ = _run(data, 8, 2, valid=valid)
    present, coverage = sink.grid("present"), sink.grid("coverage")
    assert not present[0, 0] and present.sum() == 8 and summary.windows_run == 8
    assert coverage[1, 0] == pytest.approx(0.5)
    assert coverage[0, 2] == pytest.approx(4 * 8 / 64)  # columns 16-19 of the 20: a partial cell
    assert coverage[2, 2] == pytest.approx(16 / 64)


def test_test_time_variants_are_averaged_per_cell():
    data = np.random.default_rng(3).random((3, 24, 24)).astype(np.float32)
    plain, _, _ = _run(data, 8, 0)
    variants, _, plan = _run(data, 8, 0, tta="d4", batch=3)
    assert len(plan.transforms) == 8
    assert np.allclose(plain.grid("probabilities"), variants.grid("probabilities"), atol=1e-6)  # means are D4-invariant


def test_embeddings_come_out_per_cell():
    data = np.random.default_rng(4).random((3, 16, 24)).astype(np.float32)
    matrix = np.random.default_rng(5).standard_normal((3, 6)).astype(np.float32)
    sink, _, _ = _run(data, 8, 0, dimensions=matrix, task="embedding")
    expected = window_means(data, 8, 8, 0) @ matrix
    assert np.allclose(sink.grid("embeddings"), expected, atol=1e-5)


# ---- neighbours, scores ----------------------------------------------------------------------------------------
def test_similarity_is_the_cosine_to_each_class_prototype():
    examples = np.array([[1.0, 0.0], [2.0, 0.2], [0.0, 3.0]])
    rows = prototypes(examples, np.array([0, 0, 1]), 2)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    similarity = cosine_similarity(np.array([[5.0, 0.0], [0.0, -1.0]]), rows)
    assert similarity[0, 0] > 0.99 and similarity[0, 1] == pytest.approx(0.0, abs=1e-6)
    assert similarity[1, 1] == pytest.approx(-1.0)
    assert np.allclose(unit_rows(np.zeros((1, 2))), 0.0)


def test_nearest_neighbours_vote_and_break_ties_by_distance():
    examples = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    labels = np.array([0, 0, 1, 1, 1])
    knn = NearestNeighbours(examples, labels, 2, 3, "euclidean")
    classes, scores = knn.predict(np.array([[0.5], [11.5], [6.0]]))
    assert classes.tolist() == [0, 1, 1] and scores.tolist() == pytest.approx([2 / 3, 1.0, 2 / 3])
    tie = NearestNeighbours(examples, labels, 2, 2, "euclidean")
    assert tie.predict(np.array([[5.4]]))[0].tolist() == [0]  # one vote each; class 0's voter (1.0) is nearer
    with pytest.raises(InputError, match="K is 6 but there are only 5 labelled example cells"):
        NearestNeighbours(examples, labels, 2, 6)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_nearest_neighbours_agree_with_scikit_learn_in_chunks_of_any_size(distance, monkeypatch):
    from sklearn.neighbors import KNeighborsClassifier

    from plugin.core.cells import neighbours

    rng = np.random.default_rng(3)
    examples, vectors = rng.standard_normal((40, 6)), rng.standard_normal((25, 6))
    labels = (examples[:, 0] + 0.3 * rng.standard_normal(40) > 0).astype(int)  # two classes, k odd: no tied vote
    reference = KNeighborsClassifier(5, metric=distance, algorithm="brute").fit(examples, labels)
    whole = NearestNeighbours(examples, labels, 2, 5, distance).predict(vectors)
    assert whole[0].tolist() == reference.predict(vectors).tolist()
    assert np.allclose(whole[1], reference.predict_proba(vectors).max(axis=1))
    monkeypatch.setattr(neighbours, "DISTANCE_ELEMENTS", 7 * 40)  # rows of 7, then a row of 4
    chunked = NearestNeighbours(examples, labels, 2, 5, distance).predict(vectors)
    assert chunked[0].tolist() == whole[0].tolist() and np.array_equal(chunked[1], whole[1])


def test_regression_scores():
    reference, predicted = np.array([1.0, 2.0, 3.0, np.nan]), np.array([1.5, 2.0, 2.5, 7.0])
    scores = regression_scores(reference, predicted)
    assert scores.count == 3 and scores.mae == pytest.approx(1 / 3) and scores.bias == pytest.approx(0.0)
    assert scores.rmse == pytest.approx(np.sqrt(0.5 / 3)) and scores.r2 == pytest.approx(1 - 0.5 / 2)
