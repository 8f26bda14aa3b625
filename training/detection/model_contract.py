"""The contract a trained detector is exported with: the ``anchors`` layout (boxes and class scores per anchor,
non-maximum suppression by the plugin), the detection defaults chosen in training, and the provenance."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from .._plugin import contract
from ..config import TrainConfig
from ..model_contract import plain, software_versions
from .data import DetectionData

OBJECT_SIZE_MARGIN = 1.1  # the largest training object, plus a tenth, is the contract's max_object_size_px
NORMALISATION_NOTE = ("per band: winsorised (0.5-99.5 percentile) mean and standard deviation of raw values "
                      "over a sample of valid pixels of the training chips")


def detector_contract(config: TrainConfig, data: DetectionData, score_threshold: float,
                      provenance: dict[str, Any] | None = None) -> contract.ModelContract:
    """The detector's contract, made of the contract's own types and read back through its one reader."""
    detection = config.detection
    built = contract.ModelContract(
        input=replace(data.input, name="image"),
        outputs=(contract.OutputSpec(name="boxes", kind="boxes", classes=()),
                 contract.OutputSpec(name="scores", kind="scores", classes=tuple(data.classes))),
        name=config.output.name or f"RetinaNet ({detection.backbone}) trained on {data.provenance()['image']}",
        description=config.output.description or "",
        tile_size=data.chip_size, dynamic_size=True, size_multiple=32, resolution_m=data.resolution_m,
        provenance=json.loads(json.dumps(plain({
            **(provenance or {}), "normalisation": NORMALISATION_NOTE,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "software": software_versions()}))),
        task="detection",
        detection=contract.DetectionSpec(round(float(score_threshold), 4), detection.iou_threshold,
                                         detection.max_detections,
                                         int(math.ceil(data.max_object_px * OBJECT_SIZE_MARGIN))))
    return contract.ModelContract.from_dict(built.to_dict(), "trained detector contract")
