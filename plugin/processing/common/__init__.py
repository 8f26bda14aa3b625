"""What every Processing algorithm shares (QGIS side).

- :mod:`.base`              group, icon, help, dependency checks and error handling of every algorithm
- :mod:`.feedback`          QgsProcessingFeedback as the core's progress protocol
- :mod:`.parameter_checks`  parameter values checked with messages that say what is allowed
- :mod:`.layer_inputs`      layer parameters turned into what the GDAL/OGR adapters open
- :mod:`.run_inputs`        inputs every raster job reads (web maps, ADDITIONAL_INPUTS, MASK, nodata), checked
- :mod:`.qgis_source`       pixels of any raster layer QGIS can display, read through its provider
- :mod:`.network_replies`   what the network answered while a layer's pixels were fetched (unreachable web maps)
- :mod:`.styling`           class rasters styled with the model's class names and colours
- :mod:`.tables`            rows of plain values into a table sink
- :mod:`.qgis_compat`       names that differ between QGIS 3.22 (Qt 5) and QGIS 3.36+ / 4 (Qt 6)
- :mod:`.icon`              the plugin's icon
"""
