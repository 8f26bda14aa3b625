"""The accuracy assessment jobs (``seamless:evaluate``, ``seamless:evaluatedetections``), on the GDAL side.

- :mod:`.assess`          counting a classified raster against reference data, block by block
- :mod:`.reference`       reference rasters, polygons or points on the classified raster's grid
- :mod:`.legend_file`     REFERENCE_CLASSES: the names of the reference's codes, typed or from a CSV file
- :mod:`.report`          the assessment as one HTML page and JSON, written atomically
- :mod:`.confusion_plot`  the confusion matrix as a PNG heat map (shared with the training report)
- :mod:`.detection_layers`  a layer of detections scored against reference polygons or points
- :mod:`.detection_report`  that assessment as HTML (precision-recall curves), JSON and CSV, written atomically
- :mod:`.values`          a value raster against reference values (MAE, RMSE, R², bias), block by block
- :mod:`.value_report`    that assessment as one HTML page, JSON and a one-row table, written atomically
- :mod:`.value_plots`     density scatter plot and residual map (shared with the regression training report)
"""
