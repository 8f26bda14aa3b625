"""What a run reads, brought onto one pixel grid (GDAL/OGR only).

- :mod:`.gdal_grid`         a raster's pixel grid and CRS, opening rasters, pixel area and its unit
- :mod:`.georeferencing`    how a raster is placed on the ground, carried over to the outputs
- :mod:`.raster_inputs`     the rasters a run reads, whatever they come from, seen the same way
- :mod:`.stacked_source`    INPUT and ADDITIONAL_INPUTS as one raster on INPUT's grid
- :mod:`.raster_area`       band mapping, the processing area from an extent, ground resolution
- :mod:`.area_of_interest`  an optional extent and an optional polygon mask
- :mod:`.warp_block`        reprojecting one block of pixels in memory onto another grid
- :mod:`.gdal_vectors`      opening vector layers safely; in-memory copies in a raster's CRS
- :mod:`.gdal_labels`       labels (vector or raster) onto an image grid
"""
