"""The plugin's few desktop widgets (QGIS desktop only; the algorithms never need them)."""
