"""Object detection, the box model kind, pure (standard library and numpy): from a detector's raw outputs to
final detections over a raster, and their accuracy. Modules, in the order a run uses them:

- :mod:`.loading`     ``load_detector``: session, contract, input size, a predictor for models without a batch axis
- :mod:`.plan`        ``plan_detection``: the window, an overlap holding the largest object, no padding
- :mod:`.decode`      ``Decoder``: every output layout of the detector contract, checked, to candidates
- :mod:`.windows`     test-time variants turned back and voted on; per-window NMS and cap
- :mod:`.pool`        the cross-window merge (cut detections dropped, class-wise NMS), decided while streaming
- :mod:`.merger`      ``DetectionMerger`` (the engine's ``take``/``finish``) and ``DetectionSettings``
- :mod:`.run`         ``detect``: the shared engine with the detection merger, and its sinks
- :mod:`.blocks`      a run cut into blocks (distributed): each block's window candidates, replayed into one result
- :mod:`.detections`  ``Detections``: boxes, scores, classes, optional angles, reporting windows
- :mod:`.boxes`       geometry: box formats, IoU, oriented boxes as polygons, NMS
- :mod:`.metrics`     matching, precision, recall, F1, AP, mAP@0.5 and mAP@0.5:0.95, precision-recall curves
- :mod:`.assessment`  a map's detections scored against reference boxes or points, in groups of objects that touch
"""
from __future__ import annotations

from .decode import Decoder
from .detections import Detections
from .loading import LoadedDetector, load_detector
from .merger import DetectionMerger, DetectionSettings, FinishedDetections
from .metrics import DetectionAccumulator, DetectionScores
from .plan import plan_detection, required_overlap
from .run import CollectingSink, DetectionSink, DetectionSummary, detect
from .windows import finish_window, inverse_detections

__all__ = ["CollectingSink", "Decoder", "DetectionAccumulator", "DetectionMerger", "DetectionScores",
           "DetectionSettings", "DetectionSink", "DetectionSummary", "Detections", "FinishedDetections",
           "LoadedDetector", "detect", "finish_window", "inverse_detections", "load_detector", "plan_detection",
           "required_overlap"]
