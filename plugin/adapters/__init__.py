"""Thin adapters between the pure core and GDAL/QGIS: raster I/O, feedback, styling."""
