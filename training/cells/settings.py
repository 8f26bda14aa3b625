"""The configuration checks of tile-classifier training (``model.architecture: mobilenetv2_classifier`` or
``resnet18/34/50_classifier``), called by ``TrainConfig.validate``: settings that only segmentation or
detection use are refused rather than ignored, so a configuration never promises what the run does not do (the
``detection`` and ``tune`` sections are read by their own kinds of run only, as for segmentation)."""
from __future__ import annotations

import dataclasses
from typing import Any

from .._plugin import errors
from ..config_ranges import check_ranges

InputError = errors.InputError
CLASSIFIER_DEFAULTS = {"epochs": 30, "batch_size": 32}  # fixed defaults (segmentation's come from the data)

# settings of other model kinds: (section, key, the default that means "not set", what to say)
_NOT_FOR_CLASSIFIERS: tuple[tuple[str, str, Any, str], ...] = (
    ("model", "depth", None, "the number of U-Net levels"),
    ("model", "upsampling", "transpose", "the U-Net decoder's upsampling"),
    ("data", "chips", None, "a chips folder (it holds pixel labels of segmentation chips)"),
    ("data", "chip_size", None, "segmentation chips (a classifier's input is cells.cell_size plus cells.border)"),
    ("data", "stride", None, "the step between segmentation chips (cells tile the image)"),
    ("data", "indices", None, "spectral-index channels"),
    ("data", "additional_images", [], "additional rasters"),
    ("training", "region_loss", "none", "the Dice or Jaccard term of segmentation"),
    ("training", "resume", None, "resuming (start the run again; best.pt keeps its best weights)"),
    ("validation", "window", None, "segmentation's validation windows"),
    ("validation", "context", None, "segmentation's validation context"),
    ("validation", "forest_trees", 100, "segmentation's pixel random forest (bench/tiles_vs_random_forest.py "
     "compares a classifier with a forest on cell statistics)"),
    ("validation", "bootstrap", 200, "segmentation's bootstrap intervals"),
    ("data", "min_labelled", 0.05, "segmentation chips (cells.min_cover sets the labelled share of a cell)"),
)


def check_classifier_config(config: Any) -> None:
    """Refuse what a tile classifier cannot use, saying what to give instead (``config``: a TrainConfig)."""
    check_ranges({f.name: getattr(config, f.name) for f in dataclasses.fields(config)})
    for key, value in CLASSIFIER_DEFAULTS.items():
        if getattr(config.training, key) is None:
            setattr(config.training, key, value)
    data, cells = config.data, config.cells
    architecture = config.model.architecture
    for section, key, unset, what in _NOT_FOR_CLASSIFIERS:
        value = getattr(getattr(config, section), key)
        if value != unset:
            raise InputError(f"{section}.{key} is set ({value!r}), but it is for {what}, which a tile classifier "
                             f"({architecture}) does not use. Remove it; a classifier's cells are set in the cells "
                             "section (cell_size, border, min_cover).")
    if architecture.startswith("mobilenetv2") and config.model.batch_norm is False:
        raise InputError("model.batch_norm false is for the U-Net; MobileNetV2 and ResNet classifiers always use "
                         "batch normalisation. Remove it.")
    sources = [bool(data.labels), bool(data.label_raster)]
    if sum(sources) != 1:
        raise InputError("A tile classifier learns from data.labels (polygons or points with data.label_field: a "
                         "cell's class is the class covering most of it, or its points' class) or from "
                         "data.label_raster (the class covering most of each cell); give exactly one of them.")
    if not data.image:
        raise InputError("data.image is missing: give the raster to train on.")
    if data.labels and not data.label_field:
        raise InputError("data.label_field is missing: name the field of the label layer that holds each feature's "
                         "class.")
    if cells.border > 0 and 2 * cells.border > 4 * cells.cell_size:
        raise InputError(f"cells.border ({cells.border} px) is more than twice cells.cell_size ({cells.cell_size} "
                         "px): the model would mostly see the neighbours of the cell it classifies. Use a border of "
                         f"at most {2 * cells.cell_size} px, or larger cells.")
    if config.validation.folds > 1 and not config.validation.holdout:
        raise InputError("validation.folds needs a validation area; remove validation.holdout: false.")
