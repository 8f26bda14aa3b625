"""Bridge from QgsProcessingFeedback to the core's Progress protocol, and the feedback object every QGIS call
that takes one is given."""
from __future__ import annotations

import logging

from qgis.core import QgsProcessingContext, QgsProcessingFeedback

LOG = logging.getLogger("seamless_segmentation")


class FeedbackProgress:
    """Progress and cancellation through a Processing feedback object (None: log only)."""

    def __init__(self, feedback: QgsProcessingFeedback | None, start: float = 0.0, end: float = 100.0) -> None:
        self._feedback = feedback
        self._start, self._span = start, end - start

    def set_fraction(self, fraction: float) -> None:
        if self._feedback is not None:
            self._feedback.setProgress(self._start + self._span * min(max(fraction, 0.0), 1.0))

    def is_cancelled(self) -> bool:
        return self._feedback is not None and self._feedback.isCanceled()

    def info(self, message: str) -> None:
        LOG.info(message)
        if self._feedback is not None:
            self._feedback.pushInfo(message)

    def warning(self, message: str) -> None:
        LOG.warning(message)
        if self._feedback is not None:
            self._feedback.pushWarning(message)


def feedback_for(context: QgsProcessingContext | None,
                 feedback: QgsProcessingFeedback | None) -> QgsProcessingFeedback:
    """A feedback object for a QGIS call that requires one: ``feedback``, else the context's, else a silent one.

    Some QGIS calls dereference the feedback they are given without checking it: converting a layer QGIS
    cannot hand to OGR as it is (a filtered GeoPackage layer, a memory layer, "selected features only") with
    no feedback kills the whole process with a segmentation fault. Parameter checks run without a feedback
    (``checkParameterValues``, in the dialog too), so every such call goes through here."""
    if feedback is not None:
        return feedback
    own = context.feedback() if context is not None else None
    return own if own is not None else QgsProcessingFeedback()
