"""Tile classifier training on the real Sentinel-2 scene and its OpenStreetMap land use: cells labelled from
polygons, points or a label raster, split in whole spatial blocks, a tiny MobileNetV2 and ResNet-18 trained for a
few steps, exported with a classification contract, and the exported model run by the plugin's Classify tiles job
giving the classes torch gives on the same cells; bad settings refused with messages."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from osgeo import gdal, ogr

from plugin.adapters.cells.job import TilesRequest, classify_tiles
from plugin.core.cells.loading import load_cell_model
from plugin.core.errors import InputError, OutputError
from plugin.core.progress import LoggingProgress
from tests.cells.helpers import area_extent, read_raster
from tests.training.helpers import OSM_CLASSES, S2_IMAGE, S2_LABELS, S2_POLYGONS
from training.__main__ import main
from training.api import train
from training.cells.data import TEST, TRAIN, VALIDATION, prepare_cells
from training.cells.labels import UNLABELLED, read_cell_labels
from training.config import from_mapping
from training.tune import tune

CELL, BORDER = 16, 4
AREA_CELLS = (6, 10, 20, 12)  # first cell row, first cell col, rows, cols of the Classify tiles check


def settings(tmp_path, architecture="mobilenetv2_classifier", labels=None, **sections) -> dict:
    """A seconds-long run: tiny network, 16 px cells with a 4 px border, two short epochs."""
    merged = {"data": {"image": str(S2_IMAGE), "labels": str(labels or S2_POLYGONS), "label_field": "fclass"},
              "validation": {"fraction": 0.25},
              "model": {"architecture": architecture, "width": 8},
              "cells": {"cell_size": CELL, "border": BORDER},
              "training": {"epochs": 2, "batch_size": 16, "steps_per_epoch": 4, "learning_rate": 0.005, "seed": 1},
              "output": {"folder": str(tmp_path / "run")}}
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    return merged


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classifier")
    return train(from_mapping(settings(folder)), LoggingProgress())


@pytest.mark.slow
def test_the_trained_classifier_reports_cell_scores_from_a_spatial_split(trained):
    data, model_contract = trained.data, trained.contract
    assert model_contract.task == "classification" and model_contract.tile_size == CELL + 2 * BORDER
    assert model_contract.cells.border_px == BORDER and not model_contract.dynamic_size
    assert [c.name for c in model_contract.outputs[0].classes] == OSM_CLASSES
    report = json.loads(trained.report_path.with_suffix(".json").read_text(encoding="utf-8"))
    validation = report["validation"]
    matrix = np.array(validation["confusion_matrix"]["matrix"])
    assert matrix.sum() == validation["total"] == len(data.cells_of(VALIDATION)) > 50
    assert validation["overall_accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum(), abs=1e-6)
    assert {c["name"] for c in validation["classes"]} <= set(OSM_CLASSES) and "kappa" in validation
    assert all(c["f1"] is None or 0 <= c["f1"] <= 1 for c in validation["classes"])
    assert trained.report_path.read_text(encoding="utf-8").count("<table>") >= 4
    # no training window (cell and border) reads a pixel of a validation cell
    validation_pixels = np.kron(data.roles == VALIDATION, np.ones((CELL, CELL), bool))
    for row, col in data.cells_of(TRAIN):
        top, left = row * CELL - BORDER, col * CELL - BORDER
        assert not validation_pixels[max(top, 0):top + CELL + 2 * BORDER, max(left, 0):left + CELL + 2 * BORDER].any()


@pytest.mark.slow
def test_classify_tiles_runs_the_exported_classifier_as_torch_runs_it(trained, tmp_path):
    first_row, first_col, rows, cols = AREA_CELLS
    request = TilesRequest(str(S2_IMAGE), str(trained.model_path), str(tmp_path / "classes.tif"),
                           probabilities_path=str(tmp_path / "p.tif"),
                           extent=area_extent(first_col * CELL, first_row * CELL, cols * CELL, rows * CELL))
    result = classify_tiles(request, LoggingProgress())
    assert result.summary.cells == rows * cols
    classes, _, _ = read_raster(request.output_path)
    probabilities, _, _ = read_raster(request.probabilities_path)
    data, model = trained.data, trained.model.eval()
    windows = np.stack([data.normalised(first_row + r, first_col + c) for r in range(rows) for c in range(cols)])
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(windows)), dim=1).numpy().reshape(rows, cols, -1)
    assert np.allclose(np.moveaxis(probabilities, 0, 2), expected, atol=1e-4)
    values = np.array([c.value for c in data.classes])
    ordered = np.sort(expected, axis=2)
    clear = ordered[..., -1] - ordered[..., -2] > 1e-4  # a near tie may go either way in float arithmetic
    assert clear.mean() > 0.9
    assert (classes[clear] == values[expected.argmax(axis=2)][clear]).all()


def _points_layer(path) -> tuple[str, list[tuple[float, float, str]]]:
    """One point on the surface of each land-use polygon, with its class (the scene's CRS)."""
    source = ogr.Open(str(S2_POLYGONS))
    layer = source.GetLayer(0)
    points = [(*feature.GetGeometryRef().PointOnSurface().GetPoint_2D(), feature.GetField("fclass"))
              for feature in layer]
    target = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    out = target.CreateLayer("points", layer.GetSpatialRef(), ogr.wkbPoint)
    out.CreateField(ogr.FieldDefn("fclass", ogr.OFTString))
    for x, y, name in points:
        feature = ogr.Feature(out.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x} {y})"))
        feature.SetField("fclass", name)
        out.CreateFeature(feature)
    out, target, layer, source = None, None, None, None  # layers before their data sources (GDAL's rule)
    return str(path), points


def test_a_point_gives_its_cell_its_class(tmp_path):
    path, points = _points_layer(tmp_path / "points.gpkg")
    labels = read_cell_labels(from_mapping(settings(tmp_path, labels=path)), _grid())
    x0, dx, _, y0, _, dy = gdal.Open(str(S2_IMAGE)).GetGeoTransform()
    rows, cols = labels.index.shape
    cells: dict[tuple[int, int], set[str]] = {}
    for x, y, name in points:
        row, col = int((y - y0) / dy) // CELL, int((x - x0) / dx) // CELL
        if 0 <= row < rows and 0 <= col < cols:
            cells.setdefault((row, col), set()).add(name)
    names = [c.name for c in labels.classes]
    inside = sum(1 for x, y, _ in points if 0 <= (y - y0) / dy < rows * CELL and 0 <= (x - x0) / dx < cols * CELL)
    assert labels.description["points"] == inside
    assert int((labels.index != UNLABELLED).sum()) == len(cells) > 100
    for (row, col), found in cells.items():
        if len(found) == 1:
            assert names[labels.index[row, col]] == next(iter(found))


def test_a_cell_takes_the_class_covering_most_of_it(tmp_path):
    config = from_mapping(settings(tmp_path, data={"labels": None, "label_field": None, "label_raster": str(S2_LABELS),
                                                   "ignore_value": 0},
                                   cells={"cell_size": 32, "border": 0, "min_cover": 0.6}))
    labels = read_cell_labels(config, _grid())
    raw = gdal.Open(str(S2_LABELS)).ReadAsArray().astype(np.int64)  # 0: unlabelled
    values = [c.value for c in labels.classes]
    rows, cols = labels.index.shape
    assert (rows, cols) == (24, 48) and 0 < (labels.index != UNLABELLED).sum() < rows * cols
    for row in range(rows):
        for col in range(cols):
            block = raw[row * 32:(row + 1) * 32, col * 32:(col + 1) * 32].ravel()
            known = block[block != 0]
            if len(known) < 0.6 * block.size:
                assert labels.index[row, col] == UNLABELLED
            else:
                counts = np.bincount(known)
                assert values[labels.index[row, col]] == int(np.argmax(counts))


def _grid():
    from training.data.raster import RasterSource

    return RasterSource(str(S2_IMAGE)).grid


@pytest.mark.slow
def test_a_resnet_classifier_trains_from_points_on_the_command_line(tmp_path, capsys):
    path, _ = _points_layer(tmp_path / "points.gpkg")
    config = tmp_path / "tiles.json"
    config.write_text(json.dumps(settings(tmp_path, labels=path, training={"epochs": 1, "steps_per_epoch": 3})))
    code = main(["train", "--config", str(config), "--architecture", "resnet18_classifier", "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0 and "validation: OA " in printed and "mean F1 " in printed
    model = load_cell_model(tmp_path / "run" / "model.onnx", "classification", "cpu")
    assert model.contract.provenance["architecture"]["architecture"] == "resnet18_classifier"
    assert model.contract.provenance["training_data"]["cell_label"] == "the class most of the cell's points have"
    assert (tmp_path / "run" / "report.html").exists() and (tmp_path / "run" / "best.pt").exists()
    code = main(["export", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--output", str(tmp_path / "again.onnx")])
    assert code == 0 and "onnxruntime matches torch" in capsys.readouterr().out
    again = load_cell_model(tmp_path / "again.onnx", "classification", "cpu")
    assert again.contract == model.contract
    code = main(["export", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--output", str(tmp_path / "q.onnx"),
                 "--quantize", "int8"])
    assert code == 2 and "INT8 quantization is offered for segmentation models only" in capsys.readouterr().err


def test_test_cells_are_kept_out_of_training_and_validation(tmp_path):
    x0, _, _, y0, _, _ = gdal.Open(str(S2_IMAGE)).GetGeoTransform()
    test_extent = [x0, y0 - 768 * 10, x0 + 320 * 10, y0]  # the left 320 px: 20 columns of cells
    data = prepare_cells(from_mapping(settings(tmp_path, test={"extent": test_extent})), LoggingProgress())
    tested = data.roles == TEST
    assert tested[:, :20].all() and not tested[:, 20:].any() and len(data.cells_of(TEST)) > 50
    reach = (20 * CELL + BORDER + CELL - 1) // CELL  # a cell whose window (with the border) reaches the test area
    assert not np.isin(data.roles[:, :reach], [TRAIN, VALIDATION]).any()
    assert len(data.cells_of(TRAIN)) and len(data.cells_of(VALIDATION))


def test_tune_refuses_a_tile_classifier_with_a_message(tmp_path):
    with pytest.raises(InputError, match="does not search tile classifiers"):
        tune(from_mapping(settings(tmp_path)), LoggingProgress())


@pytest.mark.parametrize("change, message", [
    ({"model": {"depth": 3}}, "model.depth is set"),
    ({"model": {"upsampling": "bilinear"}}, "model.upsampling is set"),
    ({"data": {"chip_size": 64}}, "cells.cell_size plus cells.border"),
    ({"data": {"min_labelled": 0.5}}, "cells.min_cover sets the labelled share"),
    ({"model": {"architecture": "mobilenetv3_classifier"}}, "mobilenetv2_classifier, resnet18_classifier"),
    ({"cells": {"size": 16}}, "unknown key(s) ['size']"),
    ({"cells": {"cell_size": 0}}, "cells.cell_size must be from 1 to 4096"),
    ({"cells": {"min_cover": 1.5}}, "cells.min_cover must be from 0 to 1"),
    ({"cells": {"cell_size": 8, "border": 20}}, "more than twice cells.cell_size"),
    ({"data": {"labels": None}}, "give exactly one of them"),
    ({"data": {"label_field": None}}, "data.label_field is missing"),
])
def test_bad_classifier_settings_are_refused_with_a_message(tmp_path, change, message):
    with pytest.raises(InputError) as caught:
        from_mapping(settings(tmp_path, **change))
    assert message in str(caught.value)


@pytest.mark.parametrize("cells, message", [({"cell_size": 400}, "do not fit the image (1536 x 768 px)"),
                                            ({"cell_size": 300, "border": 300}, "windows of 900 px")])
def test_cells_that_do_not_fit_the_image_are_refused_before_training(tmp_path, cells, message):
    with pytest.raises(InputError) as caught:
        train(from_mapping(settings(tmp_path, cells=cells)), LoggingProgress())
    assert message in str(caught.value) and "cells.cell_size of at most 384" in str(caught.value)
    assert not (tmp_path / "run").exists()


def test_outputs_are_checked_before_any_work(tmp_path):
    with pytest.raises(OutputError) as caught:
        train(from_mapping(settings(tmp_path, output={"model": str(tmp_path / "m.tif")})), LoggingProgress())
    assert "the trained classifier is written as .onnx" in str(caught.value)
    with pytest.raises(OutputError) as caught:
        train(from_mapping(settings(tmp_path, output={"report": str(S2_POLYGONS.with_suffix(".html"))},
                                    data={"labels": str(S2_POLYGONS.with_suffix(".html"))})), LoggingProgress())
    assert "the report" in str(caught.value)
    assert not (tmp_path / "run").exists()


def test_windows_read_from_the_file_equal_those_cut_from_memory(tmp_path):
    """With data.cache_mb 0 the windows are read from the raster; edge cells are mirrored alike (as Classify tiles
    reads them)."""
    cached = prepare_cells(from_mapping(settings(tmp_path)), LoggingProgress())
    direct = prepare_cells(from_mapping(settings(tmp_path, data={"cache_mb": 0})), LoggingProgress())
    assert cached.cache is not None and direct.cache is None
    rows, cols = cached.roles.shape
    for row, col in [(0, 0), (0, cols - 1), (rows - 1, 0), (rows - 1, cols - 1), (5, 7)]:
        assert np.array_equal(cached.normalised(row, col), direct.normalised(row, col))
    raw, _ = cached.read(0, 0)
    pixels = gdal.Open(str(S2_IMAGE)).ReadAsArray(0, 0, CELL + BORDER + 1, CELL + BORDER + 1)
    assert np.array_equal(raw, np.pad(pixels, ((0, 0), (BORDER, 0), (BORDER, 0)), mode="reflect")[:, :24, :24])
