"""The QGIS plugin: pure core, thin GDAL/QGIS adapters and the Processing algorithms."""
