"""The tool algorithms: inspecting a model, diagnostics, installing dependencies.

- :mod:`.modelinfo`           ``seamless:modelinfo``, "Inspect model"
- :mod:`.diagnostics`         ``seamless:diagnostics``: what a bug report needs to know
- :mod:`.diagnostics_dialog`  the diagnostics report in a window (plugin menu)
- :mod:`.installdependencies`  ``seamless:installdependencies``: onnxruntime (and torch) into the profile
- :mod:`.qgis_environment`    QGIS's, Qt's and GDAL's facts for the diagnostics
"""
