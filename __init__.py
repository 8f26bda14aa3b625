"""Seamless Segmentation QGIS plugin: entry point.

QGIS imports this package by its folder name ``seamless_segmentation`` and calls ``classFactory``.
Everything heavy (onnxruntime, torch, the algorithms) is imported lazily so the plugin loads fast
and still loads when those packages are missing.
"""


def classFactory(iface):  # noqa: N802 - the name QGIS looks for
    """Create the plugin for QGIS; ``iface`` is the QgisInterface (None in qgis_process)."""
    from .plugin.qgis_plugin import SeamlessSegmentationPlugin

    return SeamlessSegmentationPlugin(iface)
