"""Object detection, pure (standard library and numpy): from a detector's raw outputs to final detections
over a raster, and their accuracy.

Modules, in the order a run uses them:

- :mod:`.model`: ``load_detector`` (session, contract, input size, predictor for models without a batch axis)
- :mod:`.plan`: ``plan_detection`` (window, an overlap holding the largest object, no padding)
- :mod:`.decode`: ``Decoder`` (every output layout of :mod:`..contract_detection`, checked, to candidates)
- :mod:`.windows`: test-time variants turned back (``inverse_detections``), per-window NMS and cap
- :mod:`.pool`: the cross-window merge (cut detections dropped, class-wise NMS), decided while streaming
- :mod:`.merger`: ``DetectionMerger`` (``take(batch, outputs)`` / ``finish()``, as the segmentation merger)
  and ``DetectionSettings`` (MIN_SCORE, IOU, MAX_DETECTIONS)
- :mod:`.engine`: ``detect`` (reader, model and merge threads, as the segmentation engine) and its sinks
- :mod:`.detections`: ``Detections`` (boxes, scores, classes, optional angles, windows)
- :mod:`.boxes`: geometry (box formats, IoU, oriented boxes as polygons, NMS)
- :mod:`.metrics`: matching, precision, recall, F1, AP, mAP@0.5 and mAP@0.5:0.95, precision-recall curves
"""
from __future__ import annotations

from .decode import Decoder
from .detections import Detections
from .engine import CollectingSink, DetectionSink, DetectionSummary, detect
from .merger import DetectionMerger, DetectionSettings
from .metrics import DetectionAccumulator, DetectionScores
from .model import LoadedDetector, load_detector
from .plan import plan_detection, required_overlap
from .windows import finish_window, inverse_detections

__all__ = ["CollectingSink", "Decoder", "DetectionAccumulator", "DetectionMerger", "DetectionScores",
           "DetectionSettings", "DetectionSink", "DetectionSummary", "Detections", "LoadedDetector", "detect",
           "finish_window", "inverse_detections", "load_detector", "plan_detection", "required_overlap"]
