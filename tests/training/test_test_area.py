"""The test area is never touched before the end: no training chip and no validation window reads it, its
labels count for nothing, and afterwards it alone is scored."""
from __future__ import annotations

import json

import numpy as np
import pytest

from plugin.core.errors import InputError
from plugin.core.progress import LoggingProgress
from tests.training.helpers import tiny_settings
from training.config import from_mapping
from training.data.prepare import prepare_data, prepare_test

X0, Y_TOP, PIXEL = 340240, 5822040, 10  # the test crop's origin and pixel size
BOUNDARY = 400  # the test area starts at this column of the 512 x 256 crop (not on the 64-pixel chip grid)


def east_polygon(folder):
    xmin, xmax, ymin = X0 + BOUNDARY * PIXEL, X0 + 512 * PIXEL, Y_TOP - 256 * PIXEL
    ring = [[xmin, ymin], [xmax, ymin], [xmax, Y_TOP], [xmin, Y_TOP], [xmin, ymin]]
    path = folder / "test_area.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection",
                                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
                                "features": [{"type": "Feature", "properties": {},
                                              "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    return path


@pytest.fixture(params=["extent", "layer"])
def test_area(request, tmp_path):
    if request.param == "extent":
        return {"extent": [X0 + BOUNDARY * PIXEL, Y_TOP - 256 * PIXEL, X0 + 512 * PIXEL, Y_TOP]}
    return {"layer": str(east_polygon(tmp_path))}


def last_column(window) -> int:
    return window.col + window.width  # one past the window's last column


def test_no_chip_or_validation_window_reads_the_test_area(s2_crop, tmp_path, test_area):
    settings = tiny_settings(tmp_path, s2_crop["image"], s2_crop["labels"], test=test_area,
                             data={"stride": 32}, validation={"block_size": 64, "fraction": 0.3})
    data = prepare_data(from_mapping(settings), LoggingProgress())
    assert data.train.refs and data.validation.windows
    assert max(last_column(ref.window) for ref in data.train.refs) <= BOUNDARY
    reads = [item.read.window for item in data.validation.windows]
    assert max(last_column(w) for w in reads) == BOUNDARY  # context shrunk to end at the test area, not dropped
    assert data.split["test_area_excluded"]["method"] == next(iter(test_area))
    for item, labels in zip(data.validation.windows, data.validation.labels):
        scored = np.argwhere(labels >= 0)
        assert (item.read.window.col + scored[:, 1] < BOUNDARY).all()
    everything = prepare_data(from_mapping(tiny_settings(tmp_path, s2_crop["image"], s2_crop["labels"],
                                                         validation={"block_size": 64, "fraction": 0.3})),
                              LoggingProgress())
    counted = data.train_counts.sum() + data.validation_counts.sum()
    assert counted < everything.train_counts.sum() + everything.validation_counts.sum()


def test_the_test_area_alone_is_scored_at_the_end(s2_crop, tmp_path, test_area):
    settings = from_mapping(tiny_settings(tmp_path, s2_crop["image"], s2_crop["labels"], test=test_area))
    data = prepare_data(settings, LoggingProgress())
    test = prepare_test(settings, LoggingProgress(), data.classes, data.input)
    scored = 0
    for item, labels in zip(test.validation.windows, test.validation.labels):
        columns = item.read.window.col + np.argwhere(labels >= 0)[:, 1]
        assert (columns >= BOUNDARY).all()
        scored += columns.size
    assert scored == test.validation_counts.sum() > 0
    assert test.input == data.input  # normalised exactly like the training data


def test_a_test_area_without_labels_or_with_an_empty_extent_is_refused(s2_crop, tmp_path):
    far_away = {"extent": [0, 0, 100, 100]}
    settings = from_mapping(tiny_settings(tmp_path, s2_crop["image"], s2_crop["labels"], test=far_away))
    data = prepare_data(settings, LoggingProgress())
    with pytest.raises(InputError, match="test area holds no labelled pixel"):
        prepare_test(settings, LoggingProgress(), data.classes, data.input)
    empty = tiny_settings(tmp_path, s2_crop["image"], s2_crop["labels"], test={"extent": [5, 0, 1, 1]})
    with pytest.raises(InputError, match="test.extent .* is empty"):
        prepare_data(from_mapping(empty), LoggingProgress())
