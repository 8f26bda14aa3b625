"""The plugin's own Python packages (onnxruntime, optionally torch): installed from inside QGIS into a folder
of the user's QGIS profile, found and put on ``sys.path`` when the plugin loads, and described for bug reports.

Standard library only, and no QGIS: the same code runs inside QGIS, in ``qgis_process`` and in tests with any
Python interpreter.
"""
