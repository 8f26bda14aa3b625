"""A model trained from a text class field can follow a dataset's own codes (``--classes 1=farm; 2=meadow...``)."""
from __future__ import annotations

import numpy as np
from osgeo import gdal

from plugin.core.progress import LoggingProgress
from tests.training.helpers import OSM_CLASSES, S2_IMAGE, S2_LABELS, S2_POLYGONS
from training.__main__ import _parser, build_config
from training.config import from_mapping
from training.data.prepare import prepare_data
from training.data.sources import open_scene
from training.plan import resolve

# The codes of the dataset's own label raster (osm_landuse_labels_10m.tif): not alphabetical.
DATASET_CODES = "1=farm; 2=meadow; 3=forest; 4=residential; 5=scrub; 6=wetland; 7=grass; 8=water"


def _labels(classes: str | None) -> np.ndarray:
    settings = {"data": {"image": str(S2_IMAGE), "labels": str(S2_POLYGONS), "label_field": "fclass",
                         **({"classes": classes} if classes else {})}}
    scene = open_scene(from_mapping(settings).data)
    (ref,) = scene.scan_refs(4096)  # the whole 1536 x 768 scene in one window
    return scene.read_labels(ref)


def test_text_classes_take_the_given_codes_and_match_the_datasets_raster():
    dataset = gdal.Open(str(S2_LABELS))
    raster = dataset.GetRasterBand(1).ReadAsArray()
    followed, alphabetical = _labels(DATASET_CODES), _labels(None)
    both = (raster > 0) & (followed > 0)
    assert both.sum() > 300_000 and (followed[both] == raster[both]).mean() > 0.99
    assert (alphabetical[both] == raster[both]).mean() < 0.5  # numbered alphabetically they would not
    alphabet = {name: code for code, name in enumerate(sorted(OSM_CLASSES), start=1)}
    assert alphabetical[raster == 2].max() == alphabet["meadow"]  # the dataset's meadow is 2, alphabetically 4


def test_the_classes_flag_gives_the_codes_and_names_to_the_model(tmp_path):
    arguments = _parser().parse_args(["train", "--image", str(S2_IMAGE), "--labels", str(S2_POLYGONS),
                                      "--label-field", "fclass", "--classes", DATASET_CODES,
                                      "--output", str(tmp_path)])
    config = build_config(arguments)
    assert [(c["value"], c["name"]) for c in config.data.classes][:3] == [(1, "farm"), (2, "meadow"), (3, "forest")]
    resolved = resolve(config, LoggingProgress())
    data = prepare_data(resolved.config, LoggingProgress(), resolved.census)
    assert data.classes.names == {1: "farm", 2: "meadow", 3: "forest", 4: "residential", 5: "scrub", 6: "wetland",
                                  7: "grass", 8: "water"}
