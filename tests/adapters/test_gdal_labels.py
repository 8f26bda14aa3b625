"""Vector labels onto an image grid: text classes numbered alphabetically or by given codes."""
from __future__ import annotations

import pytest
from osgeo import gdal

from plugin.adapters.inputs.gdal_grid import RasterGrid
from plugin.adapters.inputs.gdal_labels import VectorLabels, labels_from_field
from plugin.core.areas.window import PixelWindow
from plugin.core.errors import InputError
from tests.support.data import S2_IMAGE, S2_LABELS, S2_POLYGONS

DATASET_CODES = {"farm": 1, "meadow": 2, "forest": 3, "residential": 4, "scrub": 5, "wetland": 6, "grass": 7,
                 "water": 8}


def test_text_classes_are_numbered_alphabetically_by_default():
    labels = labels_from_field(str(S2_POLYGONS), "fclass")
    assert [(c.value, c.name) for c in labels.classes][:3] == [(1, "farm"), (2, "forest"), (3, "grass")]


def test_given_codes_reproduce_the_datasets_own_rasterisation():
    dataset = gdal.Open(str(S2_IMAGE))
    grid = RasterGrid.of(dataset)
    burnt = VectorLabels(str(S2_POLYGONS), "fclass", grid, codes=DATASET_CODES).read(
        PixelWindow(0, 0, grid.width, grid.height))
    official = gdal.Open(str(S2_LABELS)).ReadAsArray()
    labelled = official > 0
    assert (burnt[labelled] == official[labelled]).mean() > 0.998  # overlapping polygons may differ
    assert (burnt[~labelled] == 255).mean() > 0.999


def test_a_text_class_without_a_code_is_named():
    with pytest.raises(InputError, match="'water'.*no code"):
        labels_from_field(str(S2_POLYGONS), "fclass", codes={k: v for k, v in DATASET_CODES.items() if k != "water"})


def test_classes_named_by_a_text_field_get_their_land_cover_colours():
    """A model trained from OSM's text field: forest green and water blue, not the palette's blue and pink."""
    colours = {c.name: c.color for c in labels_from_field(str(S2_POLYGONS), "fclass").classes}
    assert colours["forest"] == "#1b7837" and colours["water"] == "#2166ac" and colours["farm"] == "#e6c364"
    assert len(set(colours.values())) == len(colours)
