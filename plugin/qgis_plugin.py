"""The plugin object QGIS creates: it registers the Processing provider and nothing else."""
from __future__ import annotations

from typing import TYPE_CHECKING

from qgis.core import QgsApplication

if TYPE_CHECKING:
    from .processing.provider import SeamlessProvider


class SeamlessSegmentationPlugin:
    """Registers the ``seamless`` Processing provider for the desktop and for qgis_process."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: SeamlessProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API name
        """Called by QGIS (desktop and qgis_process) to register Processing providers."""
        from .processing.provider import SeamlessProvider

        if self.provider is None:
            self.provider = SeamlessProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS API name
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
