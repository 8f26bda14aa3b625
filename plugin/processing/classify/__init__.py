"""``seamless:classify``, "Classify raster with model".

- :mod:`.algorithm`  the algorithm: parameters in, the classify job called, outputs out
- :mod:`.io`         the inputs and outputs beyond one raster (web maps, masks, additional rasters, polygons)
- :mod:`.checks`     cheap parameter checks run before anything heavy
"""
