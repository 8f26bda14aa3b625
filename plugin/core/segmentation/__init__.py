"""The pixel model kind (segmentation, and per-pixel outputs in general): window outputs weighted and
blended into finished class rows. A model kind plugs into the engine with a merger and a sink
(``docs/architecture.md``); this is the first one.

- :mod:`.run`      :func:`~.run.segment`: the engine with this kind's merger
- :mod:`.merging`  the merger: window weights, the row accumulator, finished rows
- :mod:`.outputs`  what the outputs become: classes, probabilities, confidence; clipping rows to a block
- :mod:`.blended_values`  regression outputs finished as blended values (weighted means), not classes
- :mod:`.value_statistics`  what a value raster holds per band (range, mean, percentiles, values out of range)
"""
