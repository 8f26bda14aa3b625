"""The QGIS plugin and the command line: a pure core, GDAL adapters, QGIS Processing algorithms.

Layers point one way (``tests/unit/test_import_layers.py`` checks it; ``docs/architecture.md`` draws it):

- :mod:`.core`          pure numpy: the engine, model contracts, blending, accuracy, regions
- :mod:`.adapters`      GDAL/OGR only: reading inputs, writing outputs, the jobs (classify, assess, chips)
- :mod:`.processing`    the QGIS Processing provider and its algorithms (parse parameters, call a job)
- :mod:`.cli`           ``seamless-segmentation``: the same jobs from a shell, without QGIS
- :mod:`.distributed`   the classify job over many processes or machines with Dask
- :mod:`.dependencies`  installing onnxruntime (and torch) into the QGIS profile; the diagnostics report
- :mod:`.qgis_plugin`   the plugin object QGIS creates: provider, menu entries
"""
