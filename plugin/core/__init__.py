"""Pure core: standard library and numpy only at import time (a test proves it).

Never imports qgis, osgeo or torch; onnxruntime is imported lazily in :mod:`.runtime` only.
"""
