"""QGIS's, Qt's and GDAL's facts for the diagnostics report, and the profile folder the plugin's packages go to."""
from __future__ import annotations

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import PYQT_VERSION_STR, QT_VERSION_STR

from ..common.qgis_compat import qgis_version


def profile_dir() -> str:
    """The active QGIS profile's folder (``QGIS_CUSTOM_CONFIG_PATH`` moves it)."""
    return QgsApplication.qgisSettingsDirPath()


def qgis_rows() -> list[tuple[str, str]]:
    """QGIS, Qt, GDAL (and whether GDAL's numpy bindings import with this numpy), the profile."""
    return [("QGIS", qgis_version()), ("Qt", QT_VERSION_STR), ("PyQt", PYQT_VERSION_STR),
            ("GDAL", _gdal()), ("QGIS prefix", QgsApplication.prefixPath()), ("profile", profile_dir())]


def _gdal() -> str:
    from osgeo import gdal

    try:
        from osgeo import gdal_array  # noqa: F401 - fails when numpy is not the one GDAL was built for
    except ImportError as error:
        return f"{gdal.__version__} (osgeo.gdal_array does not import: {error})"
    return f"{gdal.__version__} (osgeo.gdal_array imports with this numpy)"
