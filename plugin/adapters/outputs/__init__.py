"""What a run writes, and the rules every output follows (GDAL only).

- :mod:`.paths`           outputs never replace inputs; extensions checked
- :mod:`.atomic`          temporary names beside the targets, renamed into place only on success
- :mod:`.geotiff`         creating tiled GeoTIFFs; GDAL's block cache during a run
- :mod:`.class_rasters`   the class, probability and confidence rasters and the engine's sink filling them
- :mod:`.cog`             cloud-optimised copies with overviews
- :mod:`.raster_classes`  class names and colours inside class rasters
- :mod:`.qml_style`       the class raster's QGIS style file, written without QGIS
- :mod:`.value_rasters`   the value raster of a regression run, its sink, units and stored statistics
- :mod:`.value_style`     the value raster's QGIS style (a continuous colour ramp), written without QGIS
- :mod:`.process_memory`  keeping a long run's memory flat (glibc)
"""
