"""The command line without QGIS: ``seamless-segmentation classify | modelinfo | evaluate | diagnostics``.

It needs GDAL's Python bindings, numpy and onnxruntime (tqdm for a progress bar, Dask for ``--workers`` and
``--scheduler``, both optional) and runs the same job functions as the Processing algorithms.
"""
