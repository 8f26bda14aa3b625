"""The configuration checks of detection training (``model.architecture: retinanet``), called by
``TrainConfig.validate``; the ranges shared with segmentation are checked there."""
from __future__ import annotations

from typing import Any

from .._plugin import errors

InputError = errors.InputError
BACKBONES = ("resnet18", "resnet34", "resnet50", "mobilenetv2")


def check_detection_config(config: Any) -> None:
    """Refuse what detection training cannot use, saying what to give instead (``config``: a TrainConfig)."""
    data, detection = config.data, config.detection
    if data.chips or data.label_raster:
        raise InputError("A detector trains from a vector layer of objects (data.labels: polygons, boxes or points); "
                         "a chips folder or a label raster holds no objects. Give data.labels.")
    if not data.labels:
        raise InputError("data.labels is missing: give the vector layer of objects (polygons, boxes or points) to "
                         "train the detector on, and data.label_field for their class (optional: one class without).")
    if not data.image:
        raise InputError("data.image is missing: give the raster to train on.")
    if data.indices or data.additional_images:
        raise InputError("data.indices and data.additional_images are for segmentation models; a detector takes the "
                         "image's bands (data.bands chooses them).")
    if detection.backbone not in BACKBONES:
        raise InputError(f"detection.backbone is {detection.backbone!r}; use one of {', '.join(BACKBONES)}.")
    if not 8 <= detection.fpn_channels <= 1024 or not 0 <= detection.head_convs <= 8:
        raise InputError("detection.fpn_channels must be from 8 to 1024 and detection.head_convs from 0 to 8.")
    if detection.point_size is not None and not 1 <= detection.point_size <= 4096:
        raise InputError(f"detection.point_size must be from 1 to 4096 pixels, got {detection.point_size}.")
    if detection.aspect_ratios is not None and not (detection.aspect_ratios and all(
            0.05 <= r <= 20 for r in detection.aspect_ratios)):
        raise InputError("detection.aspect_ratios must list anchor height/width ratios from 0.05 to 20 (or be "
                         "left out to fit them to the training objects).")
    if not 0 <= detection.background_chips <= 10:
        raise InputError("detection.background_chips must be from 0 to 10 (chips per chip around an object).")
    if detection.score_threshold is not None and not 0 <= detection.score_threshold <= 1:
        raise InputError("detection.score_threshold must be from 0 to 1, or left out to choose it on validation.")
    if not 0 < detection.iou_threshold <= 1 or not 1 <= detection.max_detections <= 100000:
        raise InputError("detection.iou_threshold must be above 0 and at most 1, detection.max_detections from 1 "
                         "to 100000.")
    if config.training.resume:
        raise InputError("training.resume is not available for detectors yet; start the run again (its best "
                         "weights are kept in best.pt).")
    if config.data.chip_size % 32:
        raise InputError(f"data.chip_size must be a multiple of 32 for a RetinaNet (its total stride), got "
                         f"{config.data.chip_size}.")
