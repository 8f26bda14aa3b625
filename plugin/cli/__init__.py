"""The command line without QGIS: ``seamless-segmentation classify | classify-tiles | similarity | detect |
modelinfo | evaluate | evaluate-detections | diagnostics``.

It needs GDAL's Python bindings, numpy and onnxruntime (tqdm for a progress bar, Dask for ``--workers`` and
``--scheduler``, both optional) and runs the same job functions as the Processing algorithms.

- :mod:`.main`              the ``seamless-segmentation`` command: parse, run, turn errors into messages
- :mod:`.classify_command`  ``classify``: one scene or many, in one process or distributed
- :mod:`.tiles_command`     ``classify-tiles``: a classifier or regressor over cells, in one process or on Dask
- :mod:`.similarity_command`  ``similarity``: an embedding model's vectors per cell compared with examples
- :mod:`.detect_command`    ``detect``: detections into a GeoPackage, in one process or distributed in blocks;
  ``evaluate-detections``: detections scored against reference objects
- :mod:`.scene_list`        the scenes of a ``classify`` command, run one by one or on Dask, and their report
- :mod:`.tool_commands`     ``modelinfo``, ``evaluate`` and ``diagnostics``
- :mod:`.values`            option values checked with the Processing algorithms' messages
- :mod:`.progress_bar`      a tqdm bar on a terminal, plain lines in a log; Ctrl+C as a polite cancel
- :mod:`.exit_status`       exit statuses and error messages
"""
