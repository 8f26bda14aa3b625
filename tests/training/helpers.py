"""Paths (of the test session's copy of tests/data) and small configurations for the training tests."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.support.data import DATA, REPO, S2_IMAGE, S2_LABELS, S2_POLYGONS  # noqa: F401 - the session copy of tests/data

SPACENET_LABELS = DATA / "spacenet" / "geotiff_labels.geojson"
S2_BANDS = ["B02", "B03", "B04", "B08"]
OSM_CLASSES = ["farm", "forest", "grass", "meadow", "residential", "scrub", "water", "wetland"]
CROP = [1024, 0, 512, 256]  # x, y, width, height of the test crop: all eight classes occur there


def tiny_settings(output: Path, image: Path, labels: Path = S2_LABELS, **sections: dict[str, Any]) -> dict[str, Any]:
    """A configuration dictionary for a seconds-long run; ``sections`` update it key by key."""
    settings: dict[str, Any] = {
        "data": {"image": str(image), "label_raster": str(labels), "ignore_value": 0, "chip_size": 64, "stride": 64,
                 "band_names": S2_BANDS},
        "validation": {"fraction": 0.25, "block_size": 128, "forest_trees": 0},  # the forest: its own tests
        "model": {"architecture": "unet", "depth": 2, "width": 8},
        "training": {"epochs": 2, "batch_size": 8, "steps_per_epoch": 3, "learning_rate": 0.01, "seed": 3},
        "output": {"folder": str(output)},
    }
    merged = copy.deepcopy(settings)
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    return merged
