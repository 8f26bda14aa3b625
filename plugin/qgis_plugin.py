"""The plugin object QGIS creates: it puts the plugin's own packages on the path, registers the Processing
provider and, in the desktop, adds *Install dependencies* and *Diagnostics* to the Plugins menu."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from qgis.core import QgsApplication

if TYPE_CHECKING:
    from .processing.provider import SeamlessProvider

LOG = logging.getLogger("seamless_segmentation")
MENU = "&Seamless Segmentation"


def activate_dependencies() -> None:
    """Put the packages installed by *Install dependencies* on ``sys.path``; never stops the plugin loading."""
    from .dependencies.layout import activate, profile_folder

    try:
        folder = profile_folder(QgsApplication.qgisSettingsDirPath())
        activate(folder)
        folder.remove_stale()  # folders of earlier installations, once nothing uses them any more
    except OSError as error:
        LOG.warning("The plugin's package folder could not be read: %s", error)


class SeamlessSegmentationPlugin:
    """Registers the ``seamless`` Processing provider for the desktop and for qgis_process."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: SeamlessProvider | None = None
        self.actions: list[Any] = []
        self.dialogs: list[Any] = []  # non-modal windows must outlive the menu call that opened them
        activate_dependencies()

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API name
        """Called by QGIS (desktop and qgis_process) to register Processing providers."""
        from .processing.provider import SeamlessProvider

        if self.provider is None:
            self.provider = SeamlessProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS API name
        from .processing.common.qgis_compat import QAction

        self.initProcessing()
        for name, title, slot in (("seamless_install", "Install dependencies…", self.install_dependencies),
                                  ("seamless_diagnostics", "Diagnostics…", self.diagnostics)):
            action = QAction(title, self.iface.mainWindow())
            action.setObjectName(name)
            action.triggered.connect(slot)
            self.iface.addPluginToMenu(MENU, action)
            self.actions.append(action)
        self._offer_installation()

    def unload(self) -> None:
        for action in self.actions:
            self.iface.removePluginMenu(MENU, action)
        self.actions = []
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

    def install_dependencies(self) -> None:
        """The *Install dependencies* algorithm's dialog: variant, progress, pip's log, cancel."""
        import processing

        dialog = processing.createAlgorithmDialog("seamless:installdependencies", {})
        dialog.show()
        self.dialogs.append(dialog)

    def diagnostics(self) -> None:
        from .processing.tools.diagnostics_dialog import show_diagnostics

        self.dialogs.append(show_diagnostics(self.iface.mainWindow()))

    def _offer_installation(self) -> None:
        """Without onnxruntime, a message bar with the one button that installs it."""
        from qgis.PyQt.QtWidgets import QPushButton

        from .processing.common.base import missing_package_message

        if missing_package_message("onnxruntime") is None:
            return
        bar = self.iface.messageBar()
        item = bar.createMessage("Seamless Segmentation", "needs onnxruntime, which QGIS's Python does not have.")
        button = QPushButton("Install dependencies…", item)
        button.clicked.connect(self.install_dependencies)
        item.layout().addWidget(button)
        bar.pushWidget(item)
