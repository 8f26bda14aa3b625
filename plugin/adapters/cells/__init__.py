"""The cell jobs on the GDAL side (never QGIS): models that give one result per window, run over a grid of cells.

- :mod:`.cell_run`    the model, inputs, cell size, the grid cells are read on (resampled when needed), the plan
- :mod:`.tables`      the columns of a classifier's or regressor's results, and the rasters they make
- :mod:`.writers`     cell rows into rasters of one pixel per cell and a GeoPackage of cell polygons
- :mod:`.outputs`     a cell run's outputs written atomically: filled, copied as COGs, styled, committed
- :mod:`.job`         Classify tiles: open, run the engine with the cell merger, write, style, commit
- :mod:`.examples`    a similarity search's example points and polygons as cells of the run's grid
- :mod:`.similarity`  Similarity search: cosine similarity per class, k-NN classes, vectors written out
- :mod:`.qml_styles`  the cell rasters' QGIS styles written without QGIS (the command line)
"""
