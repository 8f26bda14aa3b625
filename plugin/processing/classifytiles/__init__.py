"""``seamless:classifytiles``, "Classify tiles with model": a classifier or per-cell regressor over a grid of cells.

- :mod:`.algorithm`  parameters in, a TilesRequest out, the cells job does the work
"""
