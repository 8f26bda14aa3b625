"""Bridge from QgsProcessingFeedback to the core's Progress protocol."""
from __future__ import annotations

import logging

from qgis.core import QgsProcessingFeedback

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
