"""What every Processing algorithm shares (QGIS side).

- :mod:`.base`              group, icon, help, dependency checks and error handling of every algorithm
- :mod:`.feedback`          QgsProcessingFeedback as the core's progress protocol
- :mod:`.parameter_checks`  parameter values checked with messages that say what is allowed
- :mod:`.layer_inputs`      layer parameters turned into what the GDAL/OGR adapters open
- :mod:`.qgis_source`       pixels of any raster layer QGIS can display, read through its provider
- :mod:`.network_replies`   what the network answered while a layer's pixels were fetched (unreachable web maps)
- :mod:`.raster_inputs`     web maps, ADDITIONAL_INPUTS, MASK and nodata: parameters and request fields
- :mod:`.run_checks`        cheap checks of the inputs, bands, model, mask and device every raster algorithm takes
- :mod:`.styling`           class rasters styled with the model's class names and colours
- :mod:`.cell_parameters`   CELL_SIZE, BORDER, TTA, BATCH_SIZE, DEVICE of the cell algorithms
- :mod:`.cell_styles`       cell rasters and polygon grids styled: classes by colour, values by a colour ramp
- :mod:`.tables`            rows of plain values into a table sink
- :mod:`.qgis_compat`       names that differ between QGIS 3.22 (Qt 5) and QGIS 3.36+ / 4 (Qt 6)
- :mod:`.icon`              the plugin's icon
"""
