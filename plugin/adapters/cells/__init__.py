"""The cell jobs on the GDAL side (never QGIS): models that give one result per window, run over a grid of cells.

- :mod:`.cell_run`    the model, inputs, cell size, the grid cells are read on (resampled when needed), the plan
- :mod:`.tables`      the columns of a classifier's or regressor's results, and the rasters they make
- :mod:`.writers`     cell rows into rasters of one pixel per cell and a GeoPackage of cell polygons
- :mod:`.job`         Classify tiles: open, run the engine with the cell merger, write, style, commit
- :mod:`.qml_styles`  the cell rasters' QGIS styles written without QGIS (the command line)
"""
