"""``seamless:exportchips``, "Export training chips".

- :mod:`.algorithm`  the algorithm: image chips, label masks, classes.json and an index
"""
