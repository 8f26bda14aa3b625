"""QGIS's and Qt's own facts for the diagnostics report, and the profile folder the plugin's packages go to."""
from __future__ import annotations

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import PYQT_VERSION_STR, QT_VERSION_STR

from .qgis_compat import qgis_version


def profile_dir() -> str:
    """The active QGIS profile's folder (``QGIS_CUSTOM_CONFIG_PATH`` moves it)."""
    return QgsApplication.qgisSettingsDirPath()


def qgis_rows() -> list[tuple[str, str]]:
    return [("QGIS", qgis_version()), ("Qt", QT_VERSION_STR), ("PyQt", PYQT_VERSION_STR),
            ("QGIS prefix", QgsApplication.prefixPath()), ("profile", profile_dir())]
