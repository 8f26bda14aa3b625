"""GDAL/OGR adapters between the pure core and files (never QGIS): inputs, outputs, and the jobs.

- :mod:`.inputs`    rasters and vectors read onto one grid: stacks, extents, masks, labels, warping
- :mod:`.outputs`   written atomically: GeoTIFF and cloud-optimised outputs, styles, output paths checked
- :mod:`.classify`  the classify job: open, plan, run the engine, finish, commit; its report; the inputs every job
                    reads (:mod:`.classify.inputs`)
- :mod:`.detect`    the detection job: the same inputs, the detection engine, GeoPackage layers of boxes
- :mod:`.polygons`  class polygons (OUTPUT_VECTOR), MIN_AREA on rasters, simplification
- :mod:`.accuracy`  the assessment job: reference data, block-by-block counting, HTML/JSON report
- :mod:`.chips`     the training-chip export job and its label masks
- :mod:`.cells`     the cell jobs: Classify tiles and Similarity over a grid of cells
"""
