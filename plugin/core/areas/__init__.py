"""Where a run works, in whole pixels: rectangles, the extent rule, training chip positions.

- :mod:`.window`       :class:`~.window.PixelWindow` and the rule turning an extent into pixels
- :mod:`.chip_layout`  where training chips are cut (integer maths only)
"""
