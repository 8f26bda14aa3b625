"""A small progress protocol: fraction done, cancellation, messages.

The QGIS adapter wraps ``QgsProcessingFeedback``; the command line wraps a progress bar. The core
and training only see this protocol, so they run the same everywhere.
"""
from __future__ import annotations

import logging
from typing import Protocol

LOG = logging.getLogger("seamless_segmentation")


class Progress(Protocol):
    """What long-running code reports to and asks of its caller."""

    def set_fraction(self, fraction: float) -> None:
        """Report progress from 0.0 to 1.0."""

    def is_cancelled(self) -> bool:
        """True once the user asked to stop; checked at least once per batch."""

    def info(self, message: str) -> None:
        """A line for the log."""

    def warning(self, message: str) -> None:
        """Something the user should notice; the run goes on."""


class LoggingProgress:
    """Progress to the ``logging`` module; never cancelled unless :meth:`cancel` is called."""

    def __init__(self, logger: logging.Logger = LOG) -> None:
        self._logger = logger
        self._cancelled = False
        self.fraction = 0.0
        self.messages: list[str] = []
        self.warnings: list[str] = []

    def cancel(self) -> None:
        self._cancelled = True

    def set_fraction(self, fraction: float) -> None:
        self.fraction = fraction

    def is_cancelled(self) -> bool:
        return self._cancelled

    def info(self, message: str) -> None:
        self.messages.append(message)
        self._logger.info(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        self._logger.warning(message)
